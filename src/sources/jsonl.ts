/**
 * JSON Lines reader: one object per line, streamed. The columns are the keys of the first
 * objects (up to SAMPLE_OBJECTS), in order of first appearance; a later line with another key is
 * an error rather than a silently dropped value.
 */
import { BugError, SourceError } from '../core/errors.js';
import {
  HashingFileReader,
  QueuedSource,
  assertText,
  batchSizeOf,
  checkFile,
  labelOf,
  readHead,
  requirePath,
  namingOf,
  type OpenOptions,
} from './common.js';
import { SAMPLE_BYTES, decodeSample, checkAhead, decodingError, newWatch, resolveEncoding, toUtf8, type AheadCheck, type DetectedEncoding, type ValidUtf8Watch } from './encoding.js';
import { JsonLineError, parseJsonObjectLine, type JsonMembers } from './json-line.js';
import type { Cell, CellFault, OpenedSource, SourceSpec } from './types.js';

type Repeated = ReturnType<typeof parseJsonObjectLine>['repeated'];

/** How many objects fix the columns. */
export const SAMPLE_OBJECTS = 100;
const MAX_LINE_BYTES = 64 * 1024 * 1024;

class JsonlSource extends QueuedSource {
  private readonly reader: HashingFileReader;
  private input: AsyncGenerator<Buffer> | undefined;
  private readonly watch: ValidUtf8Watch | undefined;
  private carry: Buffer[] = [];
  private carryBytes = 0;
  private lineNo = 0;
  /** Objects read while the columns are not yet known (the sample, and the rest of its last chunk). */
  private sample: { line: number; members: JsonMembers; repeated: Repeated }[] | undefined = [];
  private index = new Map<string, number>();

  constructor(
    private readonly file: string,
    label: string,
    private readonly enc: DetectedEncoding,
    batchSize: number,
  ) {
    super(label, 'line', batchSize);
    this.reader = new HashingFileReader(file, label);
    this.watch = newWatch(enc);
  }

  async start(): Promise<void> {
    this.detected = { encoding: this.enc.encoding };
    this.input = toUtf8(this.reader.chunks(), this.enc, this.watch);
    while (!this.ended && (this.sample?.length ?? 0) < SAMPLE_OBJECTS) await this.fill();
    const sample = this.sample ?? [];
    this.sample = undefined;
    const header: string[] = [];
    // A chunk may hold more lines than the sample: only the first SAMPLE_OBJECTS objects name columns.
    for (const { members } of sample.slice(0, SAMPLE_OBJECTS)) {
      for (const [key] of members) {
        if (!this.index.has(key)) {
          this.index.set(key, header.length);
          header.push(key);
        }
      }
    }
    if (header.length === 0) {
      throw new SourceError(`${this.label} has no columns: ${sample.length === 0 ? 'it holds no JSON objects' : 'its objects have no keys'}`, {
        code: 'source.empty',
        location: { file: this.label, line: 1 },
        hint: 'JSON Lines needs one object per line, e.g. {"item": "A-1", "qty": 3}',
      });
    }
    this.header = header;
    const pending = this.queue.slice(this.queueStart);
    this.queue = [];
    this.queueStart = 0;
    for (const s of sample) this.push(s.line, s.members, s.repeated);
    for (const r of pending) this.queue.push(r);
  }

  private push(line: number, members: JsonMembers, repeated: Repeated): void {
    const cells = new Array<Cell>(this.header.length).fill(null);
    const faults: CellFault[] = [];
    for (const [key, value] of members) {
      const i = this.index.get(key);
      if (i === undefined) {
        throw new SourceError(`${this.label}:${line}: key "${key}" is not among the columns taken from the first ${SAMPLE_OBJECTS} objects`, {
          code: 'source.json-key',
          location: { file: this.label, line },
          hint: `forklift takes the columns of a JSON Lines file from its first ${SAMPLE_OBJECTS} objects: make an early line carry every key (null where there is no value)`,
        });
      }
      cells[i] = value;
    }
    // The object says two things of one key: which one is meant cannot be told, as with a header
    // that names a column twice. The row is rejected if the mapping uses that column.
    for (const r of repeated) {
      const i = this.index.get(r.key);
      if (i === undefined) continue;
      const shown = r.values.map((v) => (v === null ? 'null' : JSON.stringify(v))).join(' and ');
      faults.push({ index: i, ref: `line ${line}`, rule: 'json-duplicate-key', reason: `is given twice in the object, as ${shown}: which one is meant cannot be told; keep one` });
    }
    this.queue.push(faults.length ? { line, cells, faults } : { line, cells });
  }

  private onLine(bytes: Buffer): void {
    const line = ++this.lineNo;
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
    const text = bytes.toString('utf8', 0, end);
    if (text.trim().length === 0) {
      this.blank++;
      return;
    }
    let members: JsonMembers;
    let repeated: Repeated;
    try {
      ({ members, repeated } = parseJsonObjectLine(text));
    } catch (e) {
      if (!(e instanceof JsonLineError)) throw e;
      const column = e.index === undefined ? undefined : e.index + 1;
      const at = column === undefined ? `${line}` : `${line}:${column}`;
      throw new SourceError(`${this.label}:${at}: bad JSON Lines record: ${e.message}`, {
        code: 'source.json',
        location: column === undefined ? { file: this.label, line } : { file: this.label, line, column },
        hint: 'each line of a JSON Lines file must be one complete JSON object; fix or remove this line',
        cause: e,
      });
    }
    if (this.sample !== undefined) this.sample.push({ line, members, repeated });
    else this.push(line, members, repeated);
  }

  protected async fill(signal?: AbortSignal): Promise<void> {
    const input = this.input;
    if (input === undefined) throw new BugError('jsonl source not started');
    signal?.throwIfAborted();
    let r: IteratorResult<Buffer>;
    try {
      r = await input.next();
    } catch (e) {
      this.ended = true;
      throw await decodingError(e, this.file, this.label, this.enc);
    }
    if (r.done === true) {
      this.ended = true;
      if (this.carryBytes > 0) {
        const last = Buffer.concat(this.carry);
        this.carry = [];
        this.carryBytes = 0;
        this.onLine(last);
      }
      return;
    }
    const chunk = r.value;
    let from = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, from);
      if (nl === -1) break;
      let bytes = chunk.subarray(from, nl);
      if (this.carryBytes > 0) {
        this.carry.push(bytes);
        bytes = Buffer.concat(this.carry);
        this.carry = [];
        this.carryBytes = 0;
      }
      this.onLine(bytes);
      from = nl + 1;
    }
    if (from < chunk.length) {
      this.carry.push(chunk.subarray(from));
      this.carryBytes += chunk.length - from;
      if (this.carryBytes > MAX_LINE_BYTES) {
        const line = this.lineNo + 1;
        throw new SourceError(`${this.label}:${line}: line is longer than ${MAX_LINE_BYTES / 1048576} MiB`, {
          code: 'source.json',
          location: { file: this.label, line },
          hint: 'is this really JSON Lines (one object per line)? A single JSON document must be converted first',
        });
      }
    }
  }

  async checkAhead(maxBytes: number): Promise<AheadCheck> {
    if (this.input === undefined) throw new BugError('jsonl source not started');
    this.ended = true;
    return checkAhead(this.input, () => this.reader.bytesRead, maxBytes, { file: this.file, label: this.label, enc: this.enc, watch: this.watch });
  }

  protected async finish(): Promise<void> {
    this.digest = this.reader.digest;
  }

  protected async dispose(): Promise<void> {
    this.carry = [];
    this.carryBytes = 0;
    if (this.input !== undefined) await this.input.return(undefined);
  }
}

export async function openJsonl(spec: SourceSpec, opts?: OpenOptions): Promise<OpenedSource> {
  const file = requirePath(spec);
  const label = labelOf(file);
  const batchSize = batchSizeOf(opts);
  const naming = namingOf(opts);
  const size = await checkFile(file, label, naming);
  if (size === 0) {
    throw new SourceError(`${label} has no columns: the file is empty`, {
      code: 'source.empty',
      location: { file: label, line: 1 },
      hint: naming.empty,
    });
  }
  const head = await readHead(file, SAMPLE_BYTES);
  const enc = resolveEncoding(spec.encoding, head, head.length >= size, label, { allowValidUtf8: spec.allow_valid_utf8 === true });
  assertText(head, decodeSample(head.subarray(0, 8192 + enc.bomLength), enc), label, 'JSON Lines');
  const source = new JsonlSource(file, label, enc, batchSize);
  try {
    await source.start();
  } catch (e) {
    await source.close();
    throw e;
  }
  return source;
}
