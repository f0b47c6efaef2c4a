import { BugError } from '../core/errors.js';
import type { Entity } from '../model/types.js';
import { READ_ROWS_BATCH, columnDecoders, isoFraction, toInteger, type NativeColumn } from './read-common.js';

/**
 * PostgreSQL's COPY text format, read: the values of its fields and its lines as rows, apart from
 * the catalog and the connection (read-postgres.ts) and needing neither pg nor knex.
 */

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/**
 * A field of COPY's text format with its backslash escapes undone (`\\`, `\t`, `\n`, `\r`, `\b`,
 * `\f`, `\v`; `\NNN` octal and `\xHH` hex give bytes, decoded as UTF-8; any other escaped
 * character stands for itself). `\N` (NULL) is handled before.
 */
export function unescapeCopyText(s: string): string {
  if (!/\\[0-7x]/.test(s)) return s.replace(/\\(.)/gs, (_, c: string) => ESCAPES[c] ?? c);
  // Byte escapes: build the bytes, then decode them as UTF-8 (a character may span several).
  const parts: Buffer[] = [];
  let text = '';
  const flush = (): void => {
    if (text) parts.push(Buffer.from(text, 'utf8'));
    text = '';
  };
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch !== '\\' || i === s.length - 1) {
      text += ch;
      continue;
    }
    const next = s[i + 1]!;
    let m: RegExpExecArray | null;
    if ((m = /^[0-7]{1,3}/.exec(s.slice(i + 1, i + 4)))) {
      flush();
      parts.push(Buffer.from([parseInt(m[0], 8) & 0xff]));
      i += m[0].length;
    } else if (next === 'x' && (m = /^[0-9a-fA-F]{1,2}/.exec(s.slice(i + 2, i + 4)))) {
      flush();
      parts.push(Buffer.from([parseInt(m[0], 16)]));
      i += 1 + m[0].length;
    } else {
      text += ESCAPES[next] ?? next;
      i++;
    }
  }
  flush();
  return Buffer.concat(parts).toString('utf8');
}

const SLOW = /^(\d{4,})-(\d\d)-(\d\d)(?: (\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:([+-])(\d\d)(?::?(\d\d))?(?::?(\d\d))?)?)?( BC)?$/;

/** The slow path of dates and instants: BC, five-digit years, an offset other than +00. */
function slowDateTime(s: string, date: boolean): string {
  const m = SLOW.exec(s);
  if (!m) return s; // infinity, -infinity: as they print
  let year = Number(m[1]);
  let frac = '';
  if (m[12]) year = 1 - year; // 1 BC is year 0 (ISO 8601, astronomical numbering)
  const d = new Date(0);
  d.setUTCFullYear(year, Number(m[2]) - 1, Number(m[3]));
  if (!date) {
    frac = isoFraction(m[7] ?? '');
    d.setUTCHours(Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0), Number(frac.slice(0, 3)));
    if (m[8]) {
      const off = (Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60 + Number(m[11] ?? 0)) * 1000;
      d.setTime(d.getTime() - (m[8] === '-' ? -off : off));
    }
  }
  if (Number.isNaN(d.getTime())) return s;
  const iso = d.toISOString();
  if (date) return iso.slice(0, iso.indexOf('T'));
  // Digits below the millisecond are kept (Date has none), for the reader to refuse.
  return frac.length > 3 ? `${iso.slice(0, -1)}${frac.slice(3)}Z` : iso;
}

/** A date as PostgreSQL prints it under DateStyle ISO, as `YYYY-MM-DD`. */
export function pgDate(s: string): string {
  return s.length === 10 && s.charCodeAt(4) === 45 ? s : slowDateTime(s, true);
}

/**
 * An instant as PostgreSQL prints it with TimeZone UTC (`2025-11-03 05:00:47.123+00`, no fraction
 * when it is .000, up to six digits), or a timestamp without time zone (taken as UTC), as ISO 8601
 * with milliseconds and Z; an instant with digits below the millisecond keeps them
 * (`2025-11-03T05:00:47.123456Z`), and the reader refuses it (read-common.ts: exactInstants).
 */
export function pgTimestamp(s: string): string {
  const n = s.length;
  // The common case: a four-digit year AD, offset +00 (or none), by slicing.
  if (n >= 19 && s.charCodeAt(4) === 45 && s.charCodeAt(10) === 32 && s.charCodeAt(n - 1) <= 57) {
    let end = n;
    if (s.charCodeAt(n - 3) === 43 && s.charCodeAt(n - 2) === 48 && s.charCodeAt(n - 1) === 48) end = n - 3;
    else if (s.charCodeAt(n - 3) === 43 || s.charCodeAt(n - 3) === 45) return slowDateTime(s, false);
    if (end === 19) return `${s.slice(0, 10)}T${s.slice(11, 19)}.000Z`;
    if (s.charCodeAt(19) === 46 && end > 20) {
      if (end === 23) return `${s.slice(0, 10)}T${s.slice(11, 23)}Z`;
      return `${s.slice(0, 10)}T${s.slice(11, 19)}.${isoFraction(s.slice(20, end))}Z`;
    }
  }
  return slowDateTime(s, false);
}

export type Decoder = (field: string) => unknown;

const text: Decoder = (f) => (f.indexOf('\\') === -1 ? f : unescapeCopyText(f));

function nativeDecoder(n: NativeColumn): Decoder {
  switch (n.kind) {
    case 'text':
    case 'other':
      return text;
    case 'integer':
      return (f) => (f.length <= 15 ? Number(f) : toInteger(f));
    case 'decimal':
      return (f) => f;
    case 'boolean':
      return (f) => (f === 't' ? 1 : 0);
    case 'date':
      return pgDate;
    case 'timestamp':
      return pgTimestamp;
  }
}

/** Each field's decoder for a table read with pgReadPlan (`\\N` is handled by the caller). */
export function pgCopyDecoders(e: Entity, native: readonly NativeColumn[]): Decoder[] {
  return columnDecoders(e, native, nativeDecoder);
}

/**
 * Rows of COPY text made of whole lines (each ends in `\n`; a newline inside a value is escaped,
 * fields are separated by tabs), from position `p` into `out` until `out` holds `limit` rows or the
 * text ends; returns the position reached. Fields are cut straight out of the text with indexOf:
 * twice as fast as slicing lines and splitting them.
 */
export function copyLines(text: string, p: number, decode: readonly Decoder[], out: unknown[][], limit: number): number {
  const width = decode.length;
  const last = width - 1;
  const n = text.length;
  while (p < n && out.length < limit) {
    const nl = text.indexOf('\n', p);
    const row = new Array<unknown>(width);
    for (let i = 0; i < last; i++) {
      const t = text.indexOf('\t', p);
      if (t === -1 || t > nl) throw new BugError(`COPY gave a row of ${i + 1} fields, expected ${width}`);
      const v = text.slice(p, t);
      row[i] = v === '\\N' ? null : decode[i]!(v);
      p = t + 1;
    }
    if (width > 0) {
      const v = text.slice(p, nl);
      if (v.indexOf('\t') !== -1) throw new BugError(`COPY gave a row of more than ${width} fields`);
      row[last] = v === '\\N' ? null : decode[last]!(v);
    }
    p = nl + 1;
    out.push(row);
  }
  return p;
}

/**
 * Parses COPY text from a stream of bytes into rows, in batches of `batchSize`; bytes are decoded
 * as UTF-8 a run of whole lines at a time (a line break never falls inside a UTF-8 sequence).
 */
export async function* parseCopyText(source: AsyncIterable<Buffer>, decode: readonly Decoder[], batchSize = READ_ROWS_BATCH): AsyncGenerator<unknown[][]> {
  let pending: Buffer | undefined;
  let batch: unknown[][] = [];
  for await (const chunk of source) {
    const buf: Buffer = pending ? Buffer.concat([pending, chunk]) : chunk;
    const end = buf.lastIndexOf(10);
    if (end === -1) {
      pending = Buffer.from(buf);
      continue;
    }
    pending = end + 1 < buf.length ? Buffer.from(buf.subarray(end + 1)) : undefined;
    // Every line of this text ends in \n, the last one included.
    const text = buf.toString('utf8', 0, end + 1);
    let p = 0;
    while (p < text.length) {
      p = copyLines(text, p, decode, batch, batchSize);
      if (batch.length === batchSize) {
        yield batch;
        batch = [];
      }
    }
  }
  if (pending && pending.length) throw new BugError('COPY ended inside a row');
  if (batch.length) yield batch;
}
