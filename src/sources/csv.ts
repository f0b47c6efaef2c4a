/**
 * CSV (and TSV, semicolon, pipe) reader. The file is read once, in chunks: raw bytes are hashed,
 * decoded to UTF-8, the lines above `header_row` dropped, and the rest fed to csv-parse's parser
 * core one chunk at a time. Records stay the arrays csv-parse builds; we only add the start line.
 */
import { CsvError, Parser } from 'csv-parse';
import { BugError, SourceError } from '../core/errors.js';
import {
  HashingFileReader,
  QueuedSource,
  assertText,
  batchSizeOf,
  checkFile,
  headerRowOf,
  isBlankRecord,
  labelOf,
  readHead,
  requirePath,
  namingOf,
  type OpenOptions,
  type SourceNaming,
} from './common.js';
import { SAMPLE_BYTES, decodeSample, checkAhead, decodingError, newWatch, resolveEncoding, toUtf8, type AheadCheck, type DetectedEncoding, type ValidUtf8Watch } from './encoding.js';
import type { OpenedSource, SourceRecord, SourceSpec } from './types.js';

/** Delimiters `delimiter: auto` chooses from, in order of preference on a tie. */
export const DELIMITER_CANDIDATES = [',', ';', '\t', '|'] as const;
/** How much text after the skipped lines the delimiter sniffer looks at. */
const SNIFF_BYTES = 64 * 1024;
/** A record larger than this is almost always a quote that is never closed. */
const MAX_RECORD_BYTES = 16 * 1024 * 1024;

/** The csv-parse core the Parser stream wraps: synchronous, chunk by chunk, no stream overhead. */
interface ParserCore {
  parse(
    buf: Buffer | undefined,
    end: boolean,
    push: (record: string[]) => void,
    close: () => void,
  ): Error | undefined;
}

/** `delimiter:` from the mapping as a single character, or undefined for auto. */
export function delimiterOption(value: string | undefined, file: string): string | undefined {
  if (value === undefined) return undefined;
  const v = value.toLowerCase() === 'tab' || value === '\\t' ? '\t' : value;
  if (v.toLowerCase() === 'auto') return undefined;
  if (v.length !== 1 || v === '"' || v === '\r' || v === '\n') {
    throw new SourceError(`delimiter must be one character or auto, got ${JSON.stringify(value)}`, {
      code: 'source.delimiter',
      location: { file },
      hint: 'use delimiter: auto, ",", ";", "\\t" (tab) or "|"',
    });
  }
  return v;
}

/**
 * Choose the delimiter of `text` (the lines from the header on). Counts each candidate outside
 * quotes per record; the candidate whose count is the same (and > 0) on at least 90% of records
 * wins, the one the header line has as often first, then the larger count; otherwise the most
 * consistent one; `,` when none occurs. A tie goes to the candidate the header line has as often
 * as the rows (then to the first in order).
 */
export function sniffDelimiter(text: string, complete: boolean): string {
  const k = DELIMITER_CANDIDATES.length;
  const perRecord: number[][] = DELIMITER_CANDIDATES.map(() => []);
  const cur = new Array<number>(k).fill(0);
  let inQuotes = false;
  let fieldStart = true;
  let content = false;
  let records = 0;
  const endRecord = (): void => {
    if (content) {
      for (let j = 0; j < k; j++) (perRecord[j] as number[]).push(cur[j] as number);
      records++;
    }
    cur.fill(0);
    content = false;
    fieldStart = true;
  };
  for (let i = 0; i < text.length && records < 200; i++) {
    const ch = text.charCodeAt(i);
    if (inQuotes) {
      if (ch === 34) {
        if (text.charCodeAt(i + 1) === 34) i++;
        else inQuotes = false;
      }
      continue;
    }
    if (ch === 10 || ch === 13) {
      if (ch === 13 && text.charCodeAt(i + 1) === 10) i++;
      endRecord();
      continue;
    }
    if (ch === 34 && fieldStart) {
      inQuotes = true;
      fieldStart = false;
      content = true;
      continue;
    }
    const j = ch === 44 ? 0 : ch === 59 ? 1 : ch === 9 ? 2 : ch === 124 ? 3 : -1;
    if (j >= 0) {
      cur[j] = (cur[j] as number) + 1;
      fieldStart = true;
      content = true;
      continue;
    }
    fieldStart = false;
    if (ch !== 32) content = true;
  }
  // The last record of a partial sample may be cut off: count it only when the text is complete.
  if (complete && !inQuotes) endRecord();
  if (records === 0) return ',';

  let best = -1;
  let bestConsistent = false;
  let bestFits = false;
  let bestMode = 0;
  let bestShare = 0;
  for (let j = 0; j < k; j++) {
    const counts = perRecord[j] as number[];
    const freq = new Map<number, number>();
    for (const c of counts) freq.set(c, (freq.get(c) ?? 0) + 1);
    let mode = 0;
    let modeFreq = 0;
    for (const [c, f] of freq) {
      if (f > modeFreq || (f === modeFreq && c > mode)) {
        mode = c;
        modeFreq = f;
      }
    }
    if (mode === 0) continue;
    const share = modeFreq / counts.length;
    const consistent = share >= 0.9;
    // A tie (a German export with as many decimal commas as ';' in every row) goes to the
    // candidate the header line has as often as the rows: a header holds no decimal commas.
    const headerFits = (jj: number): boolean => perRecord[jj]![0] === (jj === j ? mode : bestMode);
    const tie = best !== -1 && consistent === bestConsistent && (consistent ? mode === bestMode : share === bestShare);
    // Of two candidates consistent in the rows, the one the header has as often wins over a larger
    // count: a tab-separated file whose descriptions hold commas ("Screw, hex, M3") has none in its
    // header.
    const fits = perRecord[j]![0] === mode;
    const fitsBetter = consistent && bestConsistent && fits !== bestFits;
    const better =
      best === -1 ||
      (consistent && !bestConsistent) ||
      (fitsBetter && fits) ||
      (consistent && bestConsistent && !fitsBetter && mode > bestMode) ||
      (!consistent && !bestConsistent && share > bestShare) ||
      (tie && headerFits(j) && !headerFits(best));
    if (better) {
      best = j;
      bestConsistent = consistent;
      bestFits = fits;
      bestMode = mode;
      bestShare = share;
    }
  }
  return best === -1 ? ',' : (DELIMITER_CANDIDATES[best] as string);
}

/**
 * Drops the first `count` physical lines (CRLF, LF or CR each end one) from a stream of UTF-8
 * chunks, ignoring quotes: a preamble is not CSV. `remaining` tells how many could not be dropped.
 */
class LineSkipper {
  remaining: number;
  /** Physical lines seen while skipping (for the message when the file is too short). */
  linesSeen = 0;
  /** Whether any text followed the skipped lines. */
  yielded = false;
  constructor(count: number) {
    this.remaining = count;
  }

  async *skip(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let afterCR = false;
    let partial = false; // text after the last line break seen while skipping
    for await (let chunk of chunks) {
      if (this.remaining > 0 || afterCR) {
        let i = 0;
        if (afterCR && chunk.length > 0) {
          if (chunk[0] === 0x0a) i = 1; // the LF of a CRLF split between chunks
          afterCR = false;
        }
        while (this.remaining > 0 && i < chunk.length) {
          const lf = chunk.indexOf(0x0a, i);
          const cr = chunk.indexOf(0x0d, i);
          if (lf === -1 && cr === -1) {
            partial = true;
            i = chunk.length;
            break;
          }
          this.remaining--;
          this.linesSeen++;
          partial = false;
          if (cr !== -1 && (lf === -1 || cr < lf)) {
            i = cr + 1;
            if (i === chunk.length) afterCR = true;
            else if (chunk[i] === 0x0a) i++;
          } else {
            i = lf + 1;
          }
        }
        chunk = chunk.subarray(i);
        if (chunk.length === 0) continue;
      }
      this.yielded = true;
      yield chunk;
    }
    if (this.remaining > 0 && partial) this.linesSeen++;
  }
}

/** Line breaks inside the cells of a record (CRLF counts once). */
export function breaksIn(cells: readonly string[]): number {
  let n = 0;
  for (const cell of cells) {
    if (cell.indexOf('\n') === -1 && cell.indexOf('\r') === -1) continue;
    for (let i = 0; i < cell.length; i++) {
      const c = cell.charCodeAt(i);
      if (c === 10) n++;
      else if (c === 13 && cell.charCodeAt(i + 1) !== 10) n++;
    }
  }
  return n;
}

class CsvSource extends QueuedSource {
  private readonly reader: HashingFileReader;
  private readonly skipper: LineSkipper;
  private input: AsyncGenerator<Buffer> | undefined;
  private readonly watch: ValidUtf8Watch | undefined;
  private pending: Buffer[] = [];
  private core: ParserCore | undefined;
  private parserInfo: { lines: number } | undefined;
  /** Start line of the next record; the previous record's end line as csv-parse counts it. */
  private nextLine: number;
  private lastEnd = 0;
  /** Whether the header is known; before it, blank records are queued too (the header search skips them). */
  private headerKnown = false;
  headerLine: number | undefined;
  private readonly onRecord = (rec: string[]): void => {
    const line = this.nextLine;
    const end = (this.parserInfo as { lines: number }).lines;
    // csv-parse's line count is off for CRLF inside quotes, so it only tells us *whether* the
    // record spans lines; how many we count ourselves.
    this.nextLine += end - this.lastEnd > 1 ? 1 + breaksIn(rec) : 1;
    this.lastEnd = end;
    if (this.headerKnown && isBlankRecord(rec)) {
      this.blank++;
      return;
    }
    // Short and long records stay as they are: the mapping judges their shape (an absent cell reads as null).
    this.queue.push({ line, cells: rec });
  };

  constructor(
    private readonly file: string,
    label: string,
    private readonly enc: DetectedEncoding,
    private readonly headerRow: number,
    private readonly delimiter: string | undefined,
    batchSize: number,
    private readonly naming: SourceNaming,
  ) {
    super(label, 'line', batchSize);
    this.reader = new HashingFileReader(file, label);
    this.watch = newWatch(enc);
    this.skipper = new LineSkipper(headerRow - 1);
    this.nextLine = headerRow;
  }

  async start(): Promise<void> {
    this.input = this.skipper.skip(toUtf8(this.reader.chunks(), this.enc, this.watch));
    let delimiter = this.delimiter;
    if (delimiter === undefined) {
      let size = 0;
      let complete = false;
      while (size < SNIFF_BYTES) {
        const r = await this.pull();
        if (r.done === true) {
          complete = true;
          break;
        }
        this.pending.push(r.value);
        size += r.value.length;
      }
      delimiter = sniffDelimiter(Buffer.concat(this.pending).toString('utf8'), complete);
    }
    this.detected = { encoding: this.enc.encoding, delimiter };
    const parser = new Parser({
      delimiter,
      bom: false,
      relax_column_count: true,
      // A stray quote inside an unquoted field (5" pipe) is kept as text, not an error.
      relax_quotes: true,
      record_delimiter: ['\r\n', '\n', '\r'],
      skip_empty_lines: false,
      max_record_size: MAX_RECORD_BYTES,
    });
    this.core = (parser as unknown as { api: ParserCore }).api;
    this.parserInfo = parser.info as unknown as { lines: number };
    if (typeof this.core?.parse !== 'function') throw new BugError('csv-parse has no parser core (api)');

    let header: SourceRecord | undefined;
    for (;;) {
      const r = await this.nextRecord();
      if (r === undefined) break;
      if (!isBlankRecord(r.cells)) {
        header = r;
        break;
      }
    }
    if (header === undefined) {
      if (this.skipper.remaining > 0 || (this.headerRow > 1 && !this.skipper.yielded)) {
        const lines = this.skipper.linesSeen;
        throw new SourceError(`header_row is ${this.headerRow} but ${this.label} has only ${lines} line${lines === 1 ? '' : 's'}`, {
          code: 'source.header-row',
          location: { file: this.label },
          hint: 'set header_row: to the line that holds the column names (1 = the first line)',
        });
      }
      throw new SourceError(`${this.label} has no header row: it is empty${this.headerRow > 1 ? ` from line ${this.headerRow} on` : ''}`, {
        code: 'source.empty',
        location: { file: this.label, line: this.headerRow },
        hint: this.naming.empty,
      });
    }
    this.header = header.cells.map((c) => (c ?? '').trim());
    this.headerLine = header.line;
    this.headerKnown = true;
    // Records parsed together with the header were queued before it was known: drop the blank ones now.
    const rest = this.queue.slice(this.queueStart);
    this.queue = [];
    this.queueStart = 0;
    for (const r of rest) {
      if (isBlankRecord(r.cells)) this.blank++;
      else this.queue.push(r);
    }
  }

  /** The next UTF-8 chunk of the text after the skipped lines. */
  private async pull(): Promise<IteratorResult<Buffer>> {
    if (this.input === undefined) throw new BugError('csv source not started');
    try {
      return await this.input.next();
    } catch (e) {
      throw await decodingError(e, this.file, this.label, this.enc);
    }
  }

  protected async fill(signal?: AbortSignal): Promise<void> {
    const core = this.core;
    const input = this.input;
    if (core === undefined || input === undefined) throw new BugError('csv source not started');
    let chunk = this.pending.shift();
    if (chunk === undefined) {
      signal?.throwIfAborted();
      let r: IteratorResult<Buffer>;
      try {
        r = await this.pull();
      } catch (e) {
        this.ended = true;
        throw e;
      }
      if (r.done !== true) chunk = r.value;
    }
    const err = chunk === undefined ? core.parse(undefined, true, this.onRecord, noop) : core.parse(chunk, false, this.onRecord, noop);
    if (chunk === undefined) this.ended = true;
    if (err !== undefined) {
      this.ended = true;
      throw this.translate(err);
    }
  }

  private translate(err: Error): Error {
    if (!(err instanceof CsvError)) return err;
    const line = this.nextLine;
    switch (err.code) {
      case 'CSV_QUOTE_NOT_CLOSED':
        return new SourceError(`${this.label}: the record starting at line ${line} opens a quote that is never closed`, {
          code: 'source.quote',
          location: { file: this.label, line },
          hint: `close the quote on line ${line} (a field that starts with " must end with "); write a quote inside a quoted field as ""`,
          cause: err,
        });
      case 'CSV_MAX_RECORD_SIZE':
        return new SourceError(`${this.label}: the record starting at line ${line} is over ${MAX_RECORD_BYTES / 1048576} MiB`, {
          code: 'source.quote',
          location: { file: this.label, line },
          hint: `if line ${line} opens a quote, it is most likely never closed (write a quote inside a quoted field as ""); if not, the line itself is that long, more than a field of a legacy export holds: check that this is the file the mapping means, or cut the value in the source`,
          cause: err,
        });
      default:
        return new SourceError(`${this.label}: ${err.message}`, {
          code: 'source.csv',
          location: { file: this.label, line },
          hint: 'fix the quoting of this record in the file',
          cause: err,
        });
    }
  }

  async checkAhead(maxBytes: number): Promise<AheadCheck> {
    if (this.input === undefined) throw new BugError('csv source not started');
    this.ended = true;
    return checkAhead(this.input, () => this.reader.bytesRead, maxBytes, { file: this.file, label: this.label, enc: this.enc, watch: this.watch });
  }

  protected async finish(): Promise<void> {
    // The parser has seen the end of the input, so the reader read and hashed every byte.
    this.digest = this.reader.digest;
  }

  protected async dispose(): Promise<void> {
    this.pending = [];
    if (this.input !== undefined) await this.input.return(undefined);
  }
}

function noop(): void {}

export async function openCsv(spec: SourceSpec, opts?: OpenOptions): Promise<OpenedSource> {
  const file = requirePath(spec);
  const label = labelOf(file);
  const batchSize = batchSizeOf(opts);
  const headerRow = headerRowOf(spec, label);
  const delimiter = delimiterOption(spec.delimiter, label);
  const naming = namingOf(opts);
  const size = await checkFile(file, label, naming);
  const emptyError = (): SourceError =>
    new SourceError(`${label} has no header row: the file is empty`, {
      code: 'source.empty',
      location: { file: label, line: 1 },
      hint: naming.empty,
    });
  if (size === 0) throw emptyError();
  const head = await readHead(file, SAMPLE_BYTES);
  const enc = resolveEncoding(spec.encoding, head, head.length >= size, label, { allowValidUtf8: spec.allow_valid_utf8 === true });
  assertText(head, decodeSample(head.subarray(0, 8192 + enc.bomLength), enc), label, 'CSV');
  const source = new CsvSource(file, label, enc, headerRow, delimiter, batchSize, naming);
  try {
    await source.start();
  } catch (e) {
    await source.close();
    throw e;
  }
  return source;
}
