import { isUtf8 } from 'node:buffer';
import type { Column, Entity } from '../model/types.js';
import { HashedFile, type FileDigest } from './sink.js';

/**
 * The bundle's CSV files (SPEC section 6): RFC 4180 (comma, CRLF, double quotes), UTF-8 without a
 * byte-order mark, a header row, one canonical text per type. A missing value is an empty field
 * and an empty string is `""`, the convention PostgreSQL's CSV COPY reads back exactly, so the
 * difference between "no lot" ('') and "unknown" (NULL) survives the trip out and back in.
 */

const NEEDS_QUOTES = /[",\r\n]/;

export function quoteField(s: string): string {
  if (s === '') return '""';
  return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One column's staged value (mapping/coerce.ts) to its CSV field. */
export function csvEncoder(c: Column): (v: unknown) => string {
  switch (c.type) {
    case 'boolean':
      return (v) => (v === null || v === undefined ? '' : v === 1 || v === true ? 'true' : 'false');
    case 'integer':
    case 'decimal':
    case 'date':
    case 'timestamp':
      // Digits, signs, points, dashes and colons only: never needs quotes.
      return (v) => (v === null || v === undefined ? '' : String(v));
    case 'string':
    case 'text':
    case 'enum':
      return (v) => (v === null || v === undefined ? '' : quoteField(String(v)));
  }
}

export class CsvTableWriter {
  private readonly out: HashedFile;
  private readonly encoders: ((v: unknown) => string)[];
  rows = 0;

  constructor(file: string, readonly entity: Entity) {
    this.out = new HashedFile(file);
    this.encoders = entity.columns.map(csvEncoder);
  }

  async writeHeader(): Promise<void> {
    await this.out.write(this.entity.columns.map((c) => quoteField(c.name)).join(',') + '\r\n');
  }

  async write(rows: readonly (readonly unknown[])[]): Promise<void> {
    const enc = this.encoders;
    const n = enc.length;
    let buf = '';
    for (const row of rows) {
      let line = enc[0]!(row[0]);
      for (let i = 1; i < n; i++) line += ',' + enc[i]!(row[i]);
      buf += line + '\r\n';
    }
    this.rows += rows.length;
    await this.out.write(buf);
  }

  close(): Promise<FileDigest> {
    return this.out.close();
  }

  destroy(): void {
    this.out.destroy();
  }
}

/** A CSV field back to the staged value of its column (bundle verify and import). */
export function csvDecoder(c: Column): (field: string, quoted: boolean) => unknown {
  switch (c.type) {
    case 'boolean':
      return (f) => (f === '' ? null : f === 'true' ? 1 : f === 'false' ? 0 : f);
    case 'integer':
      return (f) => {
        if (f === '') return null;
        const n = Number(f);
        return Number.isSafeInteger(n) && /^-?\d+$/.test(f) ? n : f;
      };
    case 'decimal':
    case 'date':
    case 'timestamp':
      return (f) => (f === '' ? null : f);
    case 'string':
    case 'text':
    case 'enum':
      return (f, quoted) => (f === '' && !quoted ? null : f);
  }
}

/** A field of a bundle CSV as read: null where the field was empty, '' where it was `""`. */
export type CsvField = string | null;

/**
 * Reads a bundle CSV (RFC 4180 as CsvTableWriter writes it) record by record, in batches, telling an
 * empty field (null) from `""` (''). csv-parse can tell them apart only through its per-field cast
 * context, which costs about ten times the parse itself (a million-row table took minutes); this
 * reader handles exactly the dialect of SPEC section 6 (comma, double quotes doubled inside quoted
 * fields, CRLF or LF line ends) and refuses anything else with the line it is on. Batches are
 * small so they die young (see READ_ROWS_BATCH): verify and import collect far less garbage.
 */
export async function* readBundleCsv(file: string, batchRows = 1_000, chunkBytes = 1 << 16): AsyncGenerator<CsvField[][]> {
  const { open } = await import('node:fs/promises');
  let text = '';
  let line = 1;
  const out: CsvField[][] = [];
  const scan = (final: boolean): void => {
    let i = 0;
    const n = text.length;
    let recordStart = 0;
    let startLine = line;
    outer: while (i < n) {
      recordStart = i;
      startLine = line;
      const rec: CsvField[] = [];
      for (;;) {
        let value: CsvField;
        if (text.charCodeAt(i) === 34) {
          // Quoted: up to the closing quote; "" inside is one quote.
          let j = i + 1;
          let buf = '';
          for (;;) {
            const k = text.indexOf('"', j);
            if (k < 0 || (k + 1 === n && !final)) {
              if (final) throw new CsvShapeError(startLine, 'a quoted field is not closed');
              break outer;
            }
            if (text.charCodeAt(k + 1) === 34) {
              buf += text.slice(j, k + 1);
              j = k + 2;
              continue;
            }
            buf += text.slice(j, k);
            i = k + 1;
            break;
          }
          for (let p = buf.indexOf('\n'); p >= 0; p = buf.indexOf('\n', p + 1)) line++;
          value = buf;
        } else {
          let j = i;
          while (j < n) {
            const c = text.charCodeAt(j);
            if (c === 44 || c === 13 || c === 10) break;
            if (c === 34) throw new CsvShapeError(line, 'a quote inside an unquoted field');
            j++;
          }
          if (j === n && !final) break outer;
          value = j === i ? null : text.slice(i, j);
          i = j;
        }
        rec.push(value);
        const c = text.charCodeAt(i);
        if (c === 44) {
          i++;
          continue;
        }
        if (c === 13 && text.charCodeAt(i + 1) === 10) i += 2;
        else if (c === 10) i += 1;
        else if (i >= n) {
          if (!final) break outer;
        } else if (c === 13 && i + 1 >= n && !final) break outer;
        else throw new CsvShapeError(line, 'a field goes on after its closing quote');
        line++;
        out.push(rec);
        recordStart = i;
        break;
      }
    }
    text = text.slice(recordStart);
    if (recordStart < n) line = startLine;
  };
  // One buffer, read into again and again: a stream's fresh 64 KiB buffer a chunk left malloc's
  // heap more fragmented the longer the file (a 5M-row diff peaked a few MiB above a 1M-row one).
  // The bytes of a character cut by the chunk's end wait at the buffer's start for the next read.
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(chunkBytes + 3);
    let carry = 0;
    let offset = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, carry, chunkBytes, null);
      const len = carry + bytesRead;
      const end = bytesRead === 0 ? len : wholeCharacters(buf, len);
      const part = buf.subarray(0, end);
      // Each byte is checked, never replaced: a Latin-1 byte read as U+FFFD would change the value without a word.
      if (!isUtf8(part)) throw encodingError(part, offset, line + newlines(text));
      text += part.toString('utf8');
      offset += end;
      carry = buf.copy(buf, 0, end, len);
      if (bytesRead === 0) break;
      scan(false);
      while (out.length >= batchRows) {
        yield out.splice(0, batchRows);
      }
    }
  } finally {
    await fh.close();
  }
  if (text.length) scan(true);
  if (text.length) throw new CsvShapeError(line, 'the file ends inside a record');
  while (out.length) yield out.splice(0, batchRows);
}

export class CsvShapeError extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
  ) {
    super(`line ${line}: ${reason}`);
  }

  /** What is wrong, for a message that names the file and line before it. */
  problem(): string {
    return `not valid CSV (${this.reason})`;
  }
}

/** Bytes that are not UTF-8 (SPEC section 6: a bundle's CSV is UTF-8), with the line and where in the file. */
export class CsvEncodingError extends CsvShapeError {
  constructor(
    line: number,
    readonly offset: number,
    readonly bytes: string,
  ) {
    super(line, `not valid UTF-8: the byte${bytes.includes(' ') ? 's' : ''} ${bytes} at byte offset ${offset}`);
  }

  override problem(): string {
    return `not valid UTF-8 (the byte${this.bytes.includes(' ') ? 's' : ''} ${this.bytes} at byte offset ${this.offset}; a file saved as Latin-1 or Windows-1252 holds such bytes)`;
  }
}

/** How many of the first `len` bytes end on a character boundary: a character cut by the end waits for the next read. */
function wholeCharacters(b: Buffer, len: number): number {
  // Back over up to three continuation bytes to the lead byte of the last character.
  let i = len - 1;
  while (i >= 0 && i > len - 4 && (b[i]! & 0xc0) === 0x80) i--;
  if (i < 0) return len;
  const lead = b[i]!;
  const size = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return lead >= 0xc0 && lead < 0xf8 && i + size > len ? i : len;
}

function newlines(s: string): number {
  let n = 0;
  for (let p = s.indexOf('\n'); p >= 0; p = s.indexOf('\n', p + 1)) n++;
  return n;
}

/** The first sequence of `part` that is not UTF-8, as hex, with its line and offset in the file; only on the rare failure. */
function encodingError(part: Uint8Array, offset: number, line: number): CsvEncodingError {
  let i = 0;
  let bad = 1;
  while (i < part.length) {
    const c = part[i]!;
    if (c < 0x80) {
      if (c === 10) line++;
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
    // The second byte's range excludes overlong forms, surrogates and code points beyond U+10FFFF.
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    let k = 1;
    while (k <= n) {
      const x = part[i + k];
      if (x === undefined || x < (k === 1 ? lo : 0x80) || x > (k === 1 ? hi : 0xbf)) break;
      k++;
    }
    if (n === 0 || k <= n) {
      bad = Math.max(k, 1);
      break;
    }
    i += n + 1;
  }
  const bytes = [...part.subarray(i, Math.min(i + bad, part.length))].map((x) => x.toString(16).padStart(2, '0')).join(' ');
  return new CsvEncodingError(line, offset + i, bytes || 'at the end of the file');
}
