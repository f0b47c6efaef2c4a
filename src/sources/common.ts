/**
 * What every source reader shares: checking the file, reading its first bytes, the label used in
 * messages, recognising binary files, and the batching that turns parsed records into bounded
 * batches for `batches()`.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { BugError, ExitCode, SourceError } from '../core/errors.js';
import type { OpenedSource, SourceInfo, SourceRecord, SourceSpec } from './types.js';

export const DEFAULT_BATCH_SIZE = 1000;
/** Chunk size for reading files. */
export const READ_CHUNK = 64 * 1024;

export interface OpenOptions {
  batchSize?: number;
  /** Ends the wait for a SQL source's first answer (a query waiting for a lock, a slow plan): the query is cancelled. */
  signal?: AbortSignal | undefined;
  /** How the file was named, for the hints; a mapping's `path:` and `sheet:` unless said otherwise. */
  naming?: SourceNaming | undefined;
}

/**
 * How the person named the file and its sheet, so that a hint names what they wrote: a mapping's
 * `path:` and `sheet:`, or a command's argument and `--sheet` (no mapping exists yet to fix), or a
 * run's rejects file.
 */
export interface SourceNaming {
  /** What to check when the file does not exist. */
  missing: string;
  /** What to do when the path names a folder. */
  notAFile: string;
  /** What to check when the file is empty (or a workbook has no sheets). */
  empty: string;
  /** The setting that picks a sheet, as written: "sheet:", "--sheet". */
  sheet: string;
}

export const MAPPING_NAMING: SourceNaming = {
  missing: 'check `path:` in the mapping: it is relative to the mapping file, not to where forklift runs',
  notAFile: 'point `path:` at the data file itself, not a folder',
  empty: 'check that the export finished and that path: names the right file',
  sheet: 'sheet:',
};

/** A file named on the command line: relative to the current folder, its sheet chosen with --sheet. */
export const ARGUMENT_NAMING: SourceNaming = {
  missing: 'check the path given: it is relative to the current folder',
  notAFile: 'name the data file itself, not a folder',
  empty: 'check that the export finished and that the path given names the right file',
  sheet: '--sheet',
};

export const namingOf = (opts: OpenOptions | undefined): SourceNaming => opts?.naming ?? MAPPING_NAMING;

/** The path as people should see it: relative to the working directory. */
export function labelOf(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel === '' ? file : rel;
}

/** The path of a file source, or a SourceError when the mapping gave none. */
export function requirePath(spec: SourceSpec): string {
  if (spec.path === undefined || spec.path.trim() === '') {
    throw new SourceError(`a ${spec.format} source needs a path`, {
      code: 'source.no-path',
      location: { file: '(mapping)' },
      hint: 'add `path:` to the `source:` block of the mapping, relative to the mapping file',
    });
  }
  return spec.path;
}

export function batchSizeOf(opts: OpenOptions | undefined): number {
  const n = opts?.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(n) || n < 1) throw new BugError(`batchSize must be a positive integer, got ${n}`);
  return n;
}

/** `header_row` as a positive integer (default 1). */
export function headerRowOf(spec: SourceSpec, file: string): number {
  const h = spec.header_row ?? 1;
  if (!Number.isInteger(h) || h < 1) {
    throw new SourceError(`header_row must be a whole number from 1, got ${String(h)}`, {
      code: 'source.header-row',
      location: { file },
      hint: 'set header_row: to the 1-based line (CSV) or row (Excel) that holds the column names',
    });
  }
  return h;
}

/** Size of the file, with SourceErrors for a missing path, a folder or no permission. */
export async function checkFile(file: string, label: string, naming: SourceNaming = MAPPING_NAMING): Promise<number> {
  try {
    const st = await stat(file);
    if (!st.isFile() && !st.isDirectory()) {
      // A named pipe (`<(zcat items.csv.gz)`), a socket or a device: a source is read more than
      // once (its SHA-256 for the ledger, its encoding and delimiter, then its rows), which a pipe
      // cannot give, and a read of one may wait for ever.
      const what = st.isFIFO() ? 'a named pipe (FIFO)' : st.isSocket() ? 'a socket' : 'a device';
      throw new SourceError(`${label} is ${what}, not a file`, {
        code: 'source.not-a-file',
        location: { file: label },
        hint: 'forklift reads a source more than once (its SHA-256 for the ledger, its encoding, then its rows): save what it gives to a file and name that file instead',
      });
    }
    if (!st.isFile()) {
      throw new SourceError(`${label} is not a file`, {
        code: 'source.not-a-file',
        location: { file: label },
        hint: naming.notAFile,
      });
    }
    return st.size;
  } catch (e) {
    if (e instanceof SourceError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new SourceError(`source file ${label} does not exist`, {
        code: 'source.missing',
        location: { file: label },
        hint: naming.missing,
        cause: e,
      });
    }
    throw new SourceError(`cannot read ${label}: ${(e as Error).message}`, {
      code: 'source.unreadable',
      location: { file: label },
      hint: 'check that the file exists and you may read it',
      cause: e,
    });
  }
}

/** The first `max` bytes of a file (fewer for a smaller file). */
export async function readHead(file: string, max: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(max);
    let got = 0;
    while (got < max) {
      const { bytesRead } = await fh.read(buf, got, max - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/** What a file is by its magic number, for files that are not text. */
export function binaryKind(head: Uint8Array): string | undefined {
  const starts = (...bytes: number[]): boolean => bytes.every((b, i) => head[i] === b);
  if (starts(0x50, 0x4b, 0x03, 0x04) || starts(0x50, 0x4b, 0x05, 0x06)) return 'a zip archive (an .xlsx workbook is one)';
  if (starts(0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1)) return 'an old Excel .xls or a password-protected workbook';
  if (starts(0x89, 0x50, 0x4e, 0x47)) return 'a PNG image';
  if (starts(0xff, 0xd8, 0xff)) return 'a JPEG image';
  if (starts(0x47, 0x49, 0x46, 0x38)) return 'a GIF image';
  if (starts(0x25, 0x50, 0x44, 0x46)) return 'a PDF document';
  if (starts(0x1f, 0x8b)) return 'a gzip archive';
  if (starts(0x53, 0x51, 0x4c, 0x69, 0x74, 0x65)) return 'an SQLite database';
  return undefined;
}

/** 1-based line of the character at `index` of `text` (CRLF, LF and CR each end a line). */
export function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index && i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) line++;
    else if (c === 13) {
      if (text.charCodeAt(i + 1) !== 10) line++;
    }
  }
  return line;
}

/**
 * Reject a text source that is not text: a known binary signature, or many NUL characters early
 * on. A stray NUL or two is a broken export, not a binary file: its row is rejected (rule `type`)
 * wherever it is, as later in the file. UTF-16 without a BOM that detection missed, or a binary
 * file, has NULs in a large share of its characters (ASCII-heavy UTF-16: every other one).
 */
export function assertText(head: Uint8Array, decodedHead: string, label: string, format: string): void {
  const kind = binaryKind(head);
  if (kind !== undefined) {
    throw new SourceError(`${label} is ${kind}, not a ${format} text file`, {
      code: 'source.binary',
      location: { file: label },
      hint: 'is this an Excel file? use format: xlsx (an old .xls must be saved as .xlsx first)',
    });
  }
  const start = decodedHead.slice(0, 8192);
  const nul = start.indexOf('\0');
  if (nul !== -1 && manyNuls(start)) {
    throw new SourceError(`${label} contains NUL bytes: it looks like a binary file, not ${format} text`, {
      code: 'source.binary',
      location: { file: label, line: lineAt(decodedHead, nul) },
      hint:
        'is this an Excel file? use format: xlsx. If it is a text export with stray NUL bytes, ' +
        "remove them first (e.g. tr -d '\\000' < in > out) or give the right encoding: (utf-16le?)",
    });
  }
}

/** At least 4 NULs, and at least 1 in 100 characters. */
function manyNuls(text: string): boolean {
  let n = 0;
  for (let i = text.indexOf('\0'); i !== -1; i = text.indexOf('\0', i + 1)) n++;
  return n >= 4 && n * 100 >= text.length;
}

/** What tells that a file was written to, or replaced: its size, when it was last changed, its inode. */
export type FileStamp = { size: number; mtimeMs: number; ino: number };

export async function fileStamp(file: string): Promise<FileStamp> {
  const st = await stat(file);
  return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

/**
 * Fails when the file is not, now, the file that was read: a legacy export still being written,
 * or copied over, while forklift read it would otherwise load the part read so far as if it were
 * the whole file, and say it succeeded.
 */
export async function checkUnchanged(file: string, label: string, before: FileStamp, bytesRead?: number): Promise<void> {
  const after = await fileStamp(file).catch(() => undefined);
  const same = after !== undefined && after.size === before.size && after.mtimeMs === before.mtimeMs && after.ino === before.ino && (bytesRead === undefined || bytesRead === before.size);
  if (same) return;
  const now = after === undefined ? 'it is gone now' : after.ino !== before.ino ? 'it was replaced by another file' : `${after.size} bytes now, ${before.size} when reading began`;
  throw new SourceError(`${label} changed while it was read (${now})`, {
    code: 'source.changed',
    exitCode: ExitCode.runtime,
    location: { file: label },
    hint: 'Another program writes it (an export or a copy not finished yet?): wait until it is complete, then run again. Nothing was loaded.',
  });
}

/** Reads a file in chunks and hashes every byte that passes; `digest` is set at the end. */
export class HashingFileReader {
  digest: string | undefined;
  /** Bytes read so far. */
  bytesRead = 0;
  constructor(
    private readonly file: string,
    private readonly label: string = file,
  ) {}

  async *chunks(signal?: AbortSignal): AsyncGenerator<Buffer> {
    const hash = createHash('sha256');
    const before = await fileStamp(this.file);
    const stream = createReadStream(this.file, { highWaterMark: READ_CHUNK });
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        hash.update(chunk);
        this.bytesRead += chunk.length;
        yield chunk;
        signal?.throwIfAborted();
      }
      await checkUnchanged(this.file, this.label, before, this.bytesRead);
      this.digest = hash.digest('hex');
    } finally {
      stream.destroy();
    }
  }
}

/** SHA-256 (hex) of a file, streamed; fails when the file changes while it is read. */
export async function sha256OfFile(file: string, signal?: AbortSignal, label: string = file): Promise<string> {
  const reader = new HashingFileReader(file, label);
  for await (const chunk of reader.chunks(signal)) void chunk;
  if (reader.digest === undefined) throw new BugError('hash not finished');
  return reader.digest;
}

/** A record is blank when every cell is empty or only whitespace. Cheap for normal records. */
export function isBlankRecord(cells: readonly (string | null)[]): boolean {
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i];
    if (c === null || c === undefined || c.length === 0) continue;
    const first = c.charCodeAt(0);
    // Fast exit: a first character that is not whitespace means data.
    if (first > 32 && first !== 160 && first < 0x1680) return false;
    if (c.trim().length > 0) return false;
  }
  return true;
}

/**
 * Base of every reader: a queue of parsed records that `fill()` tops up one input chunk at a time,
 * drained into batches of at most `batchSize`. Memory stays at one chunk's records plus one batch.
 */
export abstract class QueuedSource implements OpenedSource {
  header: string[] = [];
  detected: SourceInfo['detected'] = {};
  label: string;
  positionKind: SourceInfo['positionKind'];

  protected queue: SourceRecord[] = [];
  protected queueStart = 0;
  protected ended = false;
  protected blank = 0;
  protected digest: string | undefined;
  private started = false;
  private closed = false;

  constructor(
    label: string,
    positionKind: SourceInfo['positionKind'],
    protected readonly batchSize: number,
  ) {
    this.label = label;
    this.positionKind = positionKind;
  }

  get skippedBlank(): number {
    return this.blank;
  }

  get sha256(): string | undefined {
    return this.digest;
  }

  /** Parse the next input chunk into `queue`; set `ended` when the input is exhausted. */
  protected abstract fill(signal?: AbortSignal): Promise<void>;
  /** Called once iteration has consumed all input, e.g. to finish the hash. */
  protected abstract finish(signal?: AbortSignal): Promise<void>;
  /** Release files and parsers; called on close and when iteration stops early. */
  protected abstract dispose(): Promise<void>;

  /** Take the next queued record, filling as needed (used while looking for the header). */
  protected async nextRecord(signal?: AbortSignal): Promise<SourceRecord | undefined> {
    while (this.queueStart >= this.queue.length) {
      if (this.ended) return undefined;
      this.queue = [];
      this.queueStart = 0;
      await this.fill(signal);
    }
    const r = this.queue[this.queueStart++];
    return r;
  }

  batches(signal?: AbortSignal): AsyncIterable<SourceRecord[]> {
    if (this.started) throw new BugError(`batches() of ${this.label} may be iterated only once`);
    if (this.closed) throw new BugError(`${this.label} is closed`);
    this.started = true;
    return this.iterate(signal);
  }

  private async *iterate(signal?: AbortSignal): AsyncGenerator<SourceRecord[]> {
    try {
      let out: SourceRecord[] = [];
      for (;;) {
        const available = this.queue.length - this.queueStart;
        if (available > 0) {
          const need = this.batchSize - out.length;
          if (out.length === 0 && this.queueStart === 0 && available <= this.batchSize) {
            out = this.queue; // hand the whole queue over without copying
          } else {
            const take = Math.min(need, available);
            for (let i = 0; i < take; i++) out.push(this.queue[this.queueStart + i] as SourceRecord);
            this.queueStart += take;
            if (this.queueStart < this.queue.length) {
              yield out;
              out = [];
              continue;
            }
          }
          this.queue = [];
          this.queueStart = 0;
          if (out.length >= this.batchSize) {
            yield out;
            out = [];
          }
          continue;
        }
        if (this.ended) break;
        signal?.throwIfAborted();
        try {
          await this.fill(signal);
        } catch (e) {
          // Records read before a broken one are still delivered, then the error.
          if (out.length > 0 && !(signal?.aborted ?? false)) yield out;
          throw e;
        }
      }
      if (out.length > 0) yield out;
      await this.finish(signal);
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.dispose();
  }
}
