/**
 * `data/arrow/<table>.arrow`: an Arrow IPC *file* (random access, footer with the schema) with the
 * model's exact types, written one record batch per `write()` so memory stays one batch wide.
 *
 *   string, text, enum -> Utf8          integer   -> Int64
 *   decimal(p,s)       -> Decimal128(p,s)        boolean -> Bool
 *   date               -> Date32 (DateDay)       timestamp -> Timestamp(MILLISECOND, 'UTC')
 *
 * Rows arrive in the staging form of src/mapping/coerce.ts and come back in it from
 * readArrowFile(), so `write -> read` is the identity. Vectors are built straight into typed
 * arrays (no per-value Builder calls, no Date objects; a decimal never passes through a binary
 * fraction). The output has no clock or random input: the same rows in the same batches give the
 * same bytes.
 */

import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import {
  Bool,
  DateDay,
  Decimal,
  Field,
  Int64,
  Message,
  MessageHeader,
  RecordBatch,
  RecordBatchFileWriter,
  Schema,
  Struct,
  TimestampMillisecond,
  Type,
  Utf8,
  makeData,
  type Data,
  type DataType,
  Footer,
  VectorLoader,
  type FileBlock,
} from '../vendor/apache-arrow.js';
import { BugError, BundleError } from '../core/errors.js';
import type { Column, Entity } from '../model/types.js';
import { modelTypeText } from './model-type.js';
import { HashedFile, type FileDigest } from './sink.js';

export interface TableFileWriter {
  /** Appends one batch of staged rows (arrays in `entity.columns` order); resolves once its bytes are written to the file. */
  write(rows: unknown[][]): Promise<void>;
  /** Writes the footer and closes the file. */
  close(): Promise<unknown>;
  /** Stops after a failure elsewhere: the file is left without a footer (Arrow) or empty (Parquet); the caller discards it. */
  abort(): Promise<void>;
}

/** An Arrow file writer: closing it gives the file's SHA-256 and size, hashed as it was written. */
export interface ArrowFileWriter extends TableFileWriter {
  close(): Promise<FileDigest>;
}

/** Metadata keys: on each field, and on the schema. */
export const META = {
  type: 'forklift.type',
  description: 'forklift.description',
  values: 'forklift.values',
  table: 'forklift.table',
  primaryKey: 'forklift.primary_key',
} as const;

/** The model type as written in a model file: `decimal(18,4)`, `string(64)`, `enum`. */

function arrowType(entity: Entity, col: Column): DataType {
  switch (col.type) {
    case 'string':
    case 'text':
    case 'enum':
      return new Utf8();
    case 'integer':
      return new Int64();
    case 'decimal': {
      const { precision, scale } = col;
      if (precision === undefined || scale === undefined || precision < 1 || precision > 38 || scale < 0 || scale > precision) {
        throw new BugError(`${entity.name}.${col.name}: decimal needs 1 <= precision <= 38 and 0 <= scale <= precision (got precision ${String(col.precision)}, scale ${String(col.scale)})`);
      }
      return new Decimal(scale, precision, 128);
    }
    case 'boolean':
      return new Bool();
    case 'date':
      return new DateDay();
    case 'timestamp':
      return new TimestampMillisecond('UTC');
    default: {
      const never: never = col.type;
      throw new BugError(`unknown column type ${String(never)}`);
    }
  }
}

/** The Arrow schema of a table: exact types, nullability, the model type and description as metadata. */
export function arrowSchema(entity: Entity): Schema {
  const pk = new Set(entity.primaryKey);
  const fields = entity.columns.map((col) => {
    const meta = new Map<string, string>([[META.type, modelTypeText(col)]]);
    if (col.description !== undefined) meta.set(META.description, col.description);
    if (col.type === 'enum' && col.values !== undefined) meta.set(META.values, JSON.stringify(col.values));
    return new Field(col.name, arrowType(entity, col), !(col.required || pk.has(col.name)), meta);
  });
  const meta = new Map<string, string>([
    [META.table, entity.name],
    [META.primaryKey, JSON.stringify(entity.primaryKey)],
  ]);
  if (entity.description !== undefined) meta.set(META.description, entity.description);
  return new Schema(fields, meta);
}

// ---------------------------------------------------------------------------------------------
// Staging form -> column data

/** Where a value sits, for messages that name the place but never the customer's value. */
interface Place {
  table: string;
  column: string;
  nullable: boolean;
  /** Row number (0-based, in the whole table) of the batch's first row. */
  firstRow: number;
}

function notStaged(p: Place, i: number, expected: string, v: unknown): never {
  const got = typeof v === 'string' ? `a string of ${v.length} characters` : v === null ? 'null' : typeof v;
  throw new BugError(`${p.table}.${p.column} row ${p.firstRow + i + 1}: expected ${expected} (the staging form), got ${got}`);
}

function nullInRequired(p: Place, i: number): never {
  throw new BugError(`${p.table}.${p.column} row ${p.firstRow + i + 1}: null in a required column`);
}

type ColumnEncoder = (rows: readonly unknown[][], c: number, p: Place) => Data;

/** Validity bitmap and null count, shared by every encoder. */
class Validity {
  readonly bitmap: Uint8Array;
  nulls = 0;
  constructor(n: number) {
    this.bitmap = new Uint8Array((n + 7) >> 3);
  }
  valid(i: number): void {
    this.bitmap[i >> 3]! |= 1 << (i & 7);
  }
  props(): { nullCount: number; nullBitmap?: Uint8Array } {
    return this.nulls === 0 ? { nullCount: 0 } : { nullCount: this.nulls, nullBitmap: this.bitmap };
  }
}

const TWO32 = 4294967296;

const encodeUtf8 =
  (type: Utf8): ColumnEncoder =>
  (rows, c, p) => {
    const n = rows.length;
    const offsets = new Int32Array(n + 1);
    const v8 = new Validity(n);
    let chars = 0;
    for (let i = 0; i < n; i++) {
      const v = rows[i]![c];
      if (typeof v === 'string') chars += v.length;
    }
    let buf = Buffer.alloc(Math.max(64, chars + (chars >> 1)));
    let pos = 0;
    for (let i = 0; i < n; i++) {
      const v = rows[i]![c];
      if (typeof v === 'string') {
        // A UTF-16 code unit takes at most 3 UTF-8 bytes.
        if (pos + 3 * v.length > buf.length) {
          const need = pos + Buffer.byteLength(v);
          if (need > buf.length) {
            const grown = Buffer.alloc(Math.max(need, buf.length * 2));
            buf.copy(grown, 0, 0, pos);
            buf = grown;
          }
        }
        pos = v.length <= 24 ? putShort(buf, pos, v) : pos + buf.write(v, pos);
        if (pos > 0x7fffffff) throw new BugError(`${p.table}.${p.column}: more than 2 GiB of text in one batch; write smaller batches`);
        v8.valid(i);
      } else if (v === null) {
        if (!p.nullable) nullInRequired(p, i);
        v8.nulls++;
      } else notStaged(p, i, 'a string', v);
      offsets[i + 1] = pos;
    }
    return makeData({ type, length: n, valueOffsets: offsets, data: buf.subarray(0, pos), ...v8.props() });
  };

/** Short text: ASCII copied by hand (a native call costs more than the copy), the rest by Buffer#write. */
function putShort(buf: Buffer, pos: number, v: string): number {
  const n = v.length;
  for (let k = 0; k < n; k++) {
    const ch = v.charCodeAt(k);
    if (ch >= 0x80) return pos + k + buf.write(v.slice(k), pos + k);
    buf[pos + k] = ch;
  }
  return pos + n;
}

const encodeInt64 =
  (type: Int64): ColumnEncoder =>
  (rows, c, p) => {
    const n = rows.length;
    const words = new Int32Array(2 * n);
    let big: BigInt64Array | undefined;
    const v8 = new Validity(n);
    for (let i = 0; i < n; i++) {
      const v = rows[i]![c];
      if (typeof v === 'number') {
        if (!Number.isSafeInteger(v)) notStaged(p, i, 'a whole number', v);
        // Exact: the low word modulo 2^32, the high word by floor division; both integers below 2^53.
        words[2 * i] = v >>> 0;
        words[2 * i + 1] = Math.floor(v / TWO32);
        v8.valid(i);
      } else if (typeof v === 'string') {
        if (!/^-?\d{1,19}$/.test(v)) notStaged(p, i, 'a whole number', v);
        const b = BigInt(v);
        if (b !== BigInt.asIntN(64, b)) notStaged(p, i, 'a whole number within 64 bits', v);
        big ??= new BigInt64Array(words.buffer);
        big[i] = b;
        v8.valid(i);
      } else if (v === null) {
        if (!p.nullable) nullInRequired(p, i);
        v8.nulls++;
      } else notStaged(p, i, 'a whole number', v);
    }
    return makeData({ type, length: n, data: new BigInt64Array(words.buffer), ...v8.props() });
  };

/**
 * Decimal128: the fixed-scale text's digits, read as one integer (the unscaled value), in
 * 128-bit two's complement, four little-endian 32-bit words per value. Up to 15 digits the
 * integer is assembled digit by digit in a JS number, where every integer below 2^53 is exact
 * (no fraction is ever formed); longer values go through BigInt. Both paths give the same words.
 */
const encodeDecimal =
  (type: Decimal): ColumnEncoder =>
  (rows, c, p) => {
    const n = rows.length;
    const { scale, precision } = type;
    const words = new Int32Array(4 * n);
    let big: BigInt64Array | undefined;
    const v8 = new Validity(n);
    const expected = `decimal text with ${scale} decimal places and at most ${precision} digits`;
    for (let i = 0; i < n; i++) {
      const v = rows[i]![c];
      if (typeof v === 'string') {
        const u = unscaledDigits(v, scale, precision);
        if (u === undefined) notStaged(p, i, expected, v);
        const neg = v.charCodeAt(0) === 45;
        if (u.digits <= 15) {
          let m = 0;
          for (let k = u.start; k < v.length; k++) if (k !== u.point) m = m * 10 + (v.charCodeAt(k) - 48);
          setWords(words, i, neg ? -m : m);
        } else {
          let b = BigInt(u.point < 0 ? v.slice(u.start) : v.slice(u.start, u.point) + v.slice(u.point + 1));
          if (neg) b = -b;
          big ??= new BigInt64Array(words.buffer);
          // BigInt64Array stores modulo 2^64: the low half, then the high half (sign included).
          big[2 * i] = b;
          big[2 * i + 1] = b >> 64n;
        }
        v8.valid(i);
      } else if (v === null) {
        if (!p.nullable) nullInRequired(p, i);
        v8.nulls++;
      } else notStaged(p, i, expected, v);
    }
    return makeData({ type, length: n, data: new Uint32Array(words.buffer), ...v8.props() });
  };

/** A whole number below 2^53 in magnitude as 4 words of 128-bit two's complement. */
function setWords(words: Int32Array, i: number, m: number): void {
  const hi = Math.floor(m / TWO32);
  words[4 * i] = m >>> 0;
  words[4 * i + 1] = hi;
  const ext = hi < 0 ? -1 : 0;
  words[4 * i + 2] = ext;
  words[4 * i + 3] = ext;
}

/**
 * Checks canonical fixed-scale text (`-?\d+`, then `.` and exactly `scale` digits when scale > 0,
 * at most `precision - scale` integer digits) and says where the unscaled integer's digits are:
 * from `start` to the end of the text, skipping the point at `point` (-1: none), `digits` of them.
 * Leading zeros are skipped, so "0.0012" is the digits "0012".
 */
function unscaledDigits(v: string, scale: number, precision: number): { start: number; point: number; digits: number } | undefined {
  const len = v.length;
  const intStart = v.charCodeAt(0) === 45 ? 1 : 0;
  let k = intStart;
  while (k < len && isDigit(v.charCodeAt(k))) k++;
  const intEnd = k;
  if (intEnd === intStart) return undefined;
  if (scale > 0) {
    if (intEnd !== len - scale - 1 || v.charCodeAt(intEnd) !== 46) return undefined;
    for (k = intEnd + 1; k < len; k++) if (!isDigit(v.charCodeAt(k))) return undefined;
  } else if (intEnd !== len) return undefined;
  let start = intStart;
  while (start < intEnd - 1 && v.charCodeAt(start) === 48) start++;
  if (start === intEnd - 1 && v.charCodeAt(start) === 48) {
    // A zero integer part adds no digits.
    return scale > 0 ? { start: intEnd + 1, point: -1, digits: scale } : { start, point: -1, digits: 1 };
  }
  const intDigits = intEnd - start;
  if (intDigits > precision - scale) return undefined;
  return { start, point: scale > 0 ? intEnd : -1, digits: intDigits + scale };
}

function isDigit(ch: number): boolean {
  return ch >= 48 && ch <= 57;
}

const encodeBool =
  (type: Bool): ColumnEncoder =>
  (rows, c, p) => {
    const n = rows.length;
    const bits = new Uint8Array((n + 7) >> 3);
    const v8 = new Validity(n);
    for (let i = 0; i < n; i++) {
      const v = rows[i]![c];
      if (v === 1 || v === true) {
        bits[i >> 3]! |= 1 << (i & 7);
        v8.valid(i);
      } else if (v === 0 || v === false) v8.valid(i);
      else if (v === null) {
        if (!p.nullable) nullInRequired(p, i);
        v8.nulls++;
      } else notStaged(p, i, '1 or 0', v);
    }
    return makeData({ type, length: n, data: bits, ...v8.props() });
  };

/** Digits of `s` from `at`, `len` of them, as a number; -1 when one is not a digit. */
function num(s: string, at: number, len: number): number {
  let x = 0;
  for (let k = at; k < at + len; k++) {
    const d = s.charCodeAt(k) - 48;
    if (d < 0 || d > 9) return -1;
    x = x * 10 + d;
  }
  return x;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days since 1970-01-01 of `YYYY-MM-DD` at `s[0..10]`, or NaN. Proleptic Gregorian (H. Hinnant's days_from_civil). */
export function parseDays(s: string): number {
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45) return NaN;
  const y = num(s, 0, 4);
  const m = num(s, 5, 2);
  const d = num(s, 8, 2);
  if (y < 1 || !validDate(y, m, d)) return NaN;
  return daysFromCivil(y, m, d);
}

/** Whether `y-m-d` is a day of the proleptic Gregorian calendar: one rule for export and both verify lanes (which years to allow stays with each caller). */
export function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  return d <= (m === 2 && leap ? 29 : MONTH_DAYS[m - 1]!);
}

/** Days since 1970-01-01 of a valid civil date (H. Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  if (m <= 2) y -= 1;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const encodeDate =
  (type: DateDay): ColumnEncoder =>
  (rows, c, p) => {
    const n = rows.length;
    const days = new Int32Array(n);
    const v8 = new Validity(n);
    for (let i = 0; i < n; i++) {
      const v = rows[i]![c];
      if (typeof v === 'string') {
        const d = v.length === 10 ? parseDays(v) : NaN;
        if (Number.isNaN(d)) notStaged(p, i, 'a date YYYY-MM-DD', v);
        days[i] = d;
        v8.valid(i);
      } else if (v === null) {
        if (!p.nullable) nullInRequired(p, i);
        v8.nulls++;
      } else notStaged(p, i, 'a date YYYY-MM-DD', v);
    }
    return makeData({ type, length: n, data: days, ...v8.props() });
  };

const lastDay = { text: '\u0000', days: NaN };

/** Milliseconds since the epoch of `YYYY-MM-DDTHH:mm:ss.SSSZ`, or NaN. */
export function parseMillis(s: string): number {
  if (s.length !== 24 || s.charCodeAt(10) !== 84 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58 || s.charCodeAt(19) !== 46 || s.charCodeAt(23) !== 90) return NaN;
  // The day read last, while it repeats (consecutive instants of a log mostly share it).
  let days: number;
  if (s.startsWith(lastDay.text)) days = lastDay.days;
  else {
    days = parseDays(s);
    lastDay.text = Number.isNaN(days) ? '\u0000' : s.slice(0, 10);
    lastDay.days = days;
  }
  const h = num(s, 11, 2);
  const mi = num(s, 14, 2);
  const sec = num(s, 17, 2);
  const ms = num(s, 20, 3);
  if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 || ms < 0) return NaN;
  return days * 86400000 + h * 3600000 + mi * 60000 + sec * 1000 + ms;
}

const encodeTimestamp =
  (type: TimestampMillisecond): ColumnEncoder =>
  (rows, c, p) => {
    const n = rows.length;
    const words = new Int32Array(2 * n);
    const v8 = new Validity(n);
    for (let i = 0; i < n; i++) {
      const v = rows[i]![c];
      if (typeof v === 'string') {
        const t = parseMillis(v);
        if (Number.isNaN(t)) notStaged(p, i, 'a UTC timestamp YYYY-MM-DDTHH:mm:ss.SSSZ', v);
        words[2 * i] = t >>> 0;
        words[2 * i + 1] = Math.floor(t / TWO32);
        v8.valid(i);
      } else if (v === null) {
        if (!p.nullable) nullInRequired(p, i);
        v8.nulls++;
      } else notStaged(p, i, 'a UTC timestamp YYYY-MM-DDTHH:mm:ss.SSSZ', v);
    }
    return makeData({ type, length: n, data: new BigInt64Array(words.buffer), ...v8.props() });
  };

function encoderFor(type: DataType): ColumnEncoder {
  if (type instanceof Utf8) return encodeUtf8(type);
  if (type instanceof Int64) return encodeInt64(type);
  if (type instanceof Decimal) return encodeDecimal(type);
  if (type instanceof Bool) return encodeBool(type);
  if (type instanceof DateDay) return encodeDate(type);
  if (type instanceof TimestampMillisecond) return encodeTimestamp(type);
  throw new BugError(`no encoder for Arrow type ${String(type)}`);
}

/** Turns batches of staged rows into record batches of one schema. */
export class BatchEncoder {
  readonly schema: Schema;
  private readonly encoders: ColumnEncoder[];
  private readonly places: Place[];
  /** Rows encoded so far. */
  rows = 0;

  constructor(readonly entity: Entity) {
    this.schema = arrowSchema(entity);
    this.encoders = this.schema.fields.map((f) => encoderFor(f.type));
    this.places = this.schema.fields.map((f) => ({ table: entity.name, column: f.name, nullable: f.nullable, firstRow: 0 }));
  }

  encode(rows: readonly unknown[][]): RecordBatch {
    const width = this.encoders.length;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (!Array.isArray(row) || row.length !== width) {
        throw new BugError(`${this.entity.name} row ${this.rows + i + 1}: expected an array of ${width} values, got ${Array.isArray(row) ? row.length : typeof row}`);
      }
    }
    const children = this.encoders.map((enc, c) => {
      const place = this.places[c]!;
      place.firstRow = this.rows;
      return enc(rows, c, place);
    });
    this.rows += rows.length;
    return new RecordBatch(this.schema, makeData({ type: new Struct(this.schema.fields), length: rows.length, nullCount: 0, children }));
  }
}

// ---------------------------------------------------------------------------------------------
// Writer

/**
 * apache-arrow's file writer, with three changes made through its protected hooks:
 * - its bytes are collected here instead of queued for an async reader, so each write() puts its
 *   batch on disk before it resolves (backpressure, flat memory);
 * - the schema message follows the leading magic, as Arrow C++ and the format's "file = magic +
 *   stream + footer" layout have it; apache-arrow 21 puts the schema only in the footer, which
 *   footer readers accept but a reader that streams the file from its start does not;
 * - a batch that the writer did not write is an error: apache-arrow closes the file and drops
 *   the batch without a word when a batch's schema differs (apache/arrow-js#388).
 */
class ForkliftFileWriter extends RecordBatchFileWriter {
  private chunks: Uint8Array[] = [];
  private bytes = 0;

  protected override _write(chunk: unknown): this {
    if (this._started) {
      const b = chunk instanceof Uint8Array ? chunk : ArrayBuffer.isView(chunk) ? new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength) : undefined;
      if (b === undefined) throw new BugError('the Arrow file writer produced a chunk that is not bytes');
      if (b.byteLength > 0) {
        this.chunks.push(b);
        this.bytes += b.byteLength;
        this._position += b.byteLength;
      }
    }
    return this;
  }

  protected override _writeSchema(schema: Schema): this {
    return this._writeMagic()._writePadding(2)._writeMessage(Message.from(schema));
  }

  writeBatch(batch: RecordBatch): void {
    const before = this._recordBatchBlocks.length;
    this.write(batch);
    if (this._recordBatchBlocks.length !== before + 1) throw new BugError('the Arrow file writer did not write a record batch (schema mismatch?)');
  }

  /** The bytes produced since the last call, as one buffer. */
  take(): Buffer {
    const out = Buffer.concat(this.chunks, this.bytes);
    this.chunks = [];
    this.bytes = 0;
    return out;
  }
}

/**
 * Rows per record batch in a bundle's Arrow files. 1,000 rather than 10,000: rows gathered for a
 * bigger batch outlive the young generation, and export's peak memory was 1.6x with 10,000
 * (248 MiB against 160 MiB for the 1M-row machine log from PostgreSQL), for a file 0.6% smaller.
 */
export const ARROW_BATCH_ROWS = 1_000;

/**
 * Opens `file` (created or truncated) for one table's Arrow IPC file. Each write() is one record
 * batch, unless `batchRows` is given: then rows are gathered into record batches of exactly that
 * many (the last one shorter), whatever sizes they come in: the file's bytes do not depend on how
 * a store hands its rows over.
 */
export async function openArrowWriter(file: string, entity: Entity, opts: { batchRows?: number } = {}): Promise<ArrowFileWriter> {
  const encoder = new BatchEncoder(entity);
  const writer = new ForkliftFileWriter();
  // Starting with the schema makes a table without rows a valid file too.
  writer.reset(undefined, encoder.schema);
  // Hashed as it is written (the bag's manifest needs no second read of the file), and written
  // through a stream: a batch waits for the disk only when the stream's buffer is full.
  const out = new HashedFile(file);
  await out.opened();
  let state: 'open' | 'closed' | 'failed' = 'open';
  let pending: unknown[][] = [];
  const guard = async <T>(work: () => Promise<T>): Promise<T> => {
    if (state !== 'open') throw new BugError(`Arrow writer for ${entity.name} used after it was ${state}`);
    try {
      return await work();
    } catch (e) {
      state = 'failed';
      out.destroy();
      throw e;
    }
  };
  const emit = async (rows: unknown[][]): Promise<void> => {
    if (rows.length === 0) return;
    writer.writeBatch(encoder.encode(rows));
    await out.write(writer.take());
  };
  const size = opts.batchRows;
  return {
    write: (rows) =>
      guard(async () => {
        if (size === undefined) return emit(rows);
        for (const r of rows) pending.push(r);
        while (pending.length >= size) {
          const batch = pending.length === size ? pending : pending.slice(0, size);
          pending = pending.length === size ? [] : pending.slice(size);
          await emit(batch);
        }
      }),
    close: () =>
      guard(async () => {
        await emit(pending);
        pending = [];
        writer.close();
        await out.write(writer.take());
        const digest = await out.close();
        state = 'closed';
        return digest;
      }),
    abort: async () => {
      pending = [];
      if (state === 'open') {
        state = 'failed';
        // Closed at once: the file is written with synchronous writes (sink.ts).
        out.destroy();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Reader: Arrow -> staging form

const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;
const pad3 = (n: number): string => (n < 10 ? '00' : n < 100 ? '0' : '') + n;
const pad4 = (n: number): string => (n < 10 ? '000' : n < 100 ? '00' : n < 1000 ? '0' : '') + n;

/** `YYYY-MM-DD` of days since 1970-01-01 (H. Hinnant's civil_from_days). */
export function formatDays(z: number): string {
  z += 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${pad4(y)}-${pad2(m)}-${pad2(d)}`;
}

/** `YYYY-MM-DDTHH:mm:ss.SSSZ` of milliseconds since the epoch. */
export function formatMillis(t: number): string {
  const days = Math.floor(t / 86400000);
  let r = t - days * 86400000;
  const h = Math.floor(r / 3600000);
  r -= h * 3600000;
  const mi = Math.floor(r / 60000);
  r -= mi * 60000;
  const s = Math.floor(r / 1000);
  return `${formatDays(days)}T${pad2(h)}:${pad2(mi)}:${pad2(s)}.${pad3(r - s * 1000)}Z`;
}

/** Canonical fixed-scale text of an unscaled integer given as sign and magnitude digits. */
export function decimalText(negative: boolean, magnitude: string, scale: number): string {
  if (scale === 0) return negative && magnitude !== '0' ? '-' + magnitude : magnitude;
  const m = magnitude.length > scale ? magnitude : magnitude.padStart(scale + 1, '0');
  const body = `${m.slice(0, m.length - scale)}.${m.slice(m.length - scale)}`;
  return negative && magnitude !== '0' ? '-' + body : body;
}

function badFile(file: string, message: string, cause?: unknown): BundleError {
  return new BundleError(`${file}: ${message}`, {
    code: 'bundle.arrow-unreadable',
    hint: 'export the bundle again; a file that changed after export also fails its checksum in `bundle verify`',
    location: { file },
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * A column's decoder: prepared once per record batch (views over its buffers), it then gives the
 * value of row `i` of that batch (the data's offset applied here).
 */
export type ColumnDecoder = (data: Data) => (i: number) => unknown;

function validity(data: Data): (i: number) => boolean {
  const bitmap = data.nullBitmap;
  if (data.nullCount === 0 || !bitmap || bitmap.length === 0) return () => true;
  const offset = data.offset;
  return (i) => {
    const j = offset + i;
    return (bitmap[j >> 3]! & (1 << (j & 7))) !== 0;
  };
}

/** The low and high 32-bit words of 64-bit values, as a view over the same bytes. */
function words64(data: Data): Int32Array {
  const v = data.values as BigInt64Array;
  return new Int32Array(v.buffer, v.byteOffset, v.length * 2);
}

export function decoderFor(field: Field): ColumnDecoder | undefined {
  const type = field.type as DataType;
  switch (type.typeId) {
    case Type.Utf8:
      return (data) => {
        const valid = validity(data);
        const offsets = data.valueOffsets as Int32Array;
        const bytes = data.values as Uint8Array;
        const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        return (i) => {
          const j = data.offset + i;
          return valid(i) ? buf.toString('utf8', offsets[j]!, offsets[j + 1]!) : null;
        };
      };
    case Type.Int: {
      if ((type as Int64).bitWidth !== 64 || !(type as Int64).isSigned) return undefined;
      return (data) => {
        const valid = validity(data);
        const w = words64(data);
        return (i) => {
          if (!valid(i)) return null;
          const j = data.offset + i;
          const hi = w[2 * j + 1]!;
          const n = hi * TWO32 + (w[2 * j]! >>> 0);
          return hi >= -2097152 && hi < 2097152 && Number.isSafeInteger(n) ? n : String((data.values as BigInt64Array)[j]!);
        };
      };
    }
    case Type.Decimal: {
      const { scale, bitWidth } = type as Decimal;
      if (bitWidth !== 128) return undefined;
      return (data) => {
        const valid = validity(data);
        const v = data.values as Uint32Array;
        return (i) => {
          if (!valid(i)) return null;
          const j = 4 * (data.offset + i);
          const w0 = v[j]!;
          const w1 = v[j + 1]!;
          const w2 = v[j + 2]!;
          const w3 = v[j + 3]!;
          if (w2 === 0 && w3 === 0 && w1 < 0x200000) return decimalText(false, String(w1 * TWO32 + w0), scale);
          if (w2 === 0xffffffff && w3 === 0xffffffff && w1 >= 0xffe00000) {
            // Negative and at most 2^53 in magnitude: the magnitude is 2^64 - (w1:w0).
            return decimalText(true, String((0xffffffff - w1) * TWO32 + (TWO32 - w0)), scale);
          }
          const b = BigInt.asIntN(128, (BigInt(w3) << 96n) | (BigInt(w2) << 64n) | (BigInt(w1) << 32n) | BigInt(w0));
          return b < 0n ? decimalText(true, String(-b), scale) : decimalText(false, String(b), scale);
        };
      };
    }
    case Type.Bool:
      return (data) => {
        const valid = validity(data);
        const bits = data.values as Uint8Array;
        return (i) => {
          const j = data.offset + i;
          return valid(i) ? (bits[j >> 3]! >> (j & 7)) & 1 : null;
        };
      };
    case Type.Date:
      if ((type as DateDay).unit !== 0) return undefined;
      return (data) => {
        const valid = validity(data);
        const v = data.values as Int32Array;
        return (i) => (valid(i) ? formatDays(v[data.offset + i]!) : null);
      };
    case Type.Timestamp: {
      const t = type as TimestampMillisecond;
      if (t.unit !== 1 || t.timezone !== 'UTC') return undefined;
      return (data) => {
        const valid = validity(data);
        const w = words64(data);
        return (i) => {
          const j = data.offset + i;
          return valid(i) ? formatMillis(w[2 * j + 1]! * TWO32 + (w[2 * j]! >>> 0)) : null;
        };
      };
    }
    default:
      return undefined;
  }
}

/** Decodes record batches of a forklift schema back to staged rows. */
export class BatchDecoder {
  private readonly decoders: ColumnDecoder[];
  private prepared: { batch: RecordBatch; columns: ((i: number) => unknown)[] } | undefined;

  constructor(
    readonly schema: Schema,
    file: string,
  ) {
    this.decoders = schema.fields.map((f) => {
      const d = decoderFor(f);
      if (!d) throw badFile(file, `column ${f.name} has the Arrow type ${String(f.type)}, which no forklift column type writes`);
      return d;
    });
  }

  decode(batch: RecordBatch): unknown[][] {
    const out: unknown[][] = new Array<unknown[]>(batch.numRows);
    for (let i = 0; i < batch.numRows; i++) out[i] = this.row(batch, i);
    return out;
  }

  /**
   * Row `i` of a batch alone. A reader that compares row by row decodes each row as it needs it,
   * so a whole decoded batch never outlives the young generation (verify spent a third of its
   * time collecting decoded batches that had been promoted while the CSV beside them was read).
   */
  row(batch: RecordBatch, i: number): unknown[] {
    if (this.prepared?.batch !== batch) {
      this.prepared = {
        batch,
        columns: this.decoders.map((d, c) => {
          const data = batch.data.children[c];
          if (!data) throw new BugError(`record batch without column ${c}`);
          return d(data);
        }),
      };
    }
    const columns = this.prepared.columns;
    const out = new Array<unknown>(columns.length);
    for (let c = 0; c < columns.length; c++) out[c] = columns[c]!(i);
    return out;
  }
}

/** The schema of an Arrow IPC file, from its footer. */
export async function readArrowSchema(file: string): Promise<Schema> {
  const blocks = new ArrowFileBlocks(file);
  try {
    return await blocks.open();
  } finally {
    await blocks.close();
  }
}

const MAGIC = Buffer.from('ARROW1', 'latin1');

/**
 * The record batches of an Arrow IPC file, read through its footer: each block the footer lists
 * read in one call when its batch is asked for, its message decoded by
 * apache-arrow (Message) and its columns by apache-arrow's VectorLoader, so the data is what
 * apache-arrow's own file reader gives. Every length and offset is checked against the file before
 * it is used: apache-arrow's async file reader, given a file with one flipped byte in a message
 * length, could go on reading forever (a negative length moved its position backwards). Anything
 * wrong is a BundleError naming the file.
 */
export class ArrowFileBlocks {
  private fh: FileHandle | undefined;
  private blocks: FileBlock[] = [];
  private at = 0;
  schema: Schema | undefined;
  /** With `reuse`: the one read buffer every block is read into (a batch's columns are valid only until the next nextData()). */
  private buffer: Buffer | undefined;

  constructor(
    private readonly file: string,
    private readonly opts: { reuse?: boolean } = {},
  ) {}

  async open(): Promise<Schema> {
    this.fh = await open(this.file, 'r');
    const { size } = await this.fh.stat();
    const head = Buffer.alloc(8);
    const tail = Buffer.alloc(10);
    if (size >= 8) await this.readFully(head, 0);
    if (size >= 10) await this.readFully(tail, size - 10);
    if (size < 22 || !head.subarray(0, 6).equals(MAGIC) || !tail.subarray(4).equals(MAGIC)) {
      // An IPC stream starts with a continuation marker (0xFFFFFFFF) or, in the pre-0.15 format, a length.
      const stream = size >= 4 && head.readUInt32LE(0) === 0xffffffff;
      throw badFile(this.file, stream ? 'is an Arrow IPC stream, not an Arrow IPC file' : 'is not an Arrow IPC file (no ARROW1 magic at both ends)');
    }
    const length = tail.readInt32LE(0);
    if (length <= 0 || length > size - 18) throw badFile(this.file, `is not a readable Arrow IPC file (a footer of ${length} bytes in a file of ${size})`);
    const footerBytes = Buffer.alloc(length);
    await this.readFully(footerBytes, size - 10 - length);
    let footer: Footer;
    try {
      footer = Footer.decode(footerBytes);
      const n = footer.numRecordBatches;
      if (!Number.isSafeInteger(n) || n < 0 || n > size / 8) throw new Error(`${n} record batches in ${size} bytes`);
      if (footer.numDictionaries !== 0) throw new Error('dictionary-encoded columns, which no forklift column type writes');
      for (let i = 0; i < n; i++) {
        const b = footer.getRecordBatch(i);
        if (!b) throw new Error(`record batch ${i} is not in the footer`);
        const offset = Number(b.offset);
        const want = b.metaDataLength + Number(b.bodyLength);
        if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(want) || offset < 8 || want < 8 || offset + want > size - 10 - length) throw new Error(`record batch ${i} lies outside the file`);
        this.blocks.push(b);
      }
      this.schema = footer.schema;
    } catch (e) {
      throw badFile(this.file, `is not a readable Arrow IPC file (${e instanceof Error ? e.message : String(e)})`, e);
    }
    return this.schema;
  }

  private async readFully(buf: Buffer, position: number): Promise<void> {
    const { bytesRead } = await this.fh!.read(buf, 0, buf.length, position);
    if (bytesRead !== buf.length) throw badFile(this.file, 'is shorter than its footer says');
  }

  /** Read synchronously: from the page cache a block's read costs less than the event-loop turn an awaited read took. */
  private readBlock(b: FileBlock): Buffer {
    const size = b.metaDataLength + Number(b.bodyLength);
    let buf: Buffer;
    if (this.opts.reuse) {
      // A fresh block per batch cost about a tenth of a 1M-row verify in garbage collection.
      if (!this.buffer || this.buffer.length < size) this.buffer = Buffer.allocUnsafeSlow(Math.max(size, (this.buffer?.length ?? 0) * 2));
      buf = this.buffer.subarray(0, size);
    } else buf = Buffer.allocUnsafeSlow(size);
    const n = readSync(this.fh!.fd, buf, 0, size, Number(b.offset));
    if (n !== size) throw badFile(this.file, 'is shorter than its footer says');
    return buf;
  }

  /** The number of record batches the footer lists. */
  get count(): number {
    return this.blocks.length;
  }

  /** The index of the record batch nextData() reads next. */
  get position(): number {
    return this.at;
  }

  /** The row count and columns of the next record batch; undefined after the last. */
  async nextData(): Promise<{ length: number; children: Data[] } | undefined> {
    if (this.at >= this.blocks.length) return undefined;
    return this.dataAt(this.at++);
  }

  /** The row count and columns of record batch `i` (of `count`), read now. */
  dataAt(i: number): { length: number; children: Data[] } {
    const bytes = this.readBlock(this.blocks[i]!);
    try {
      let at = 4;
      let len = bytes.readInt32LE(0);
      if (len === -1) {
        len = bytes.readInt32LE(4);
        at = 8;
      }
      if (len <= 0 || at + len > bytes.length) throw new Error('its metadata length');
      const message = Message.decode(bytes.subarray(at, at + len));
      if (message.headerType !== MessageHeader.RecordBatch || !message.isRecordBatch()) throw new Error('not a record batch');
      const header = message.header();
      if (header.compression != null) throw new Error('a compressed body');
      const bodyLength = Number(message.bodyLength);
      const start = at + len;
      if (!Number.isSafeInteger(bodyLength) || bodyLength < 0 || start + bodyLength > bytes.length) throw new Error('its body length');
      let body: Uint8Array = bytes.subarray(start, start + bodyLength);
      // VectorLoader views the body's buffers as typed arrays, which need aligned offsets.
      if (body.byteOffset % 8 !== 0) body = body.slice();
      const fields = this.schema!.fields;
      if (header.nodes.length < fields.length) throw new Error('not every column');
      for (const r of header.buffers) if (r.offset < 0 || r.length < 0 || r.offset + r.length > bodyLength) throw new Error('a buffer outside its body');
      const length = Number(header.length);
      if (!Number.isSafeInteger(length) || length < 0) throw new Error(`${length} rows`);
      const children = new VectorLoader(body, header.nodes, header.buffers, new Map(), this.schema!.metadataVersion, header.variadicBufferCounts).visitMany(fields);
      return { length, children };
    } catch (e) {
      throw badFile(this.file, `has a record batch that cannot be read (batch ${i}: ${e instanceof Error ? e.message : String(e)})`, e);
    }
  }

  /** The next record batch (undefined after the last). */
  async nextBatch(): Promise<RecordBatch | undefined> {
    const d = await this.nextData();
    if (!d) return undefined;
    const schema = this.schema!;
    return new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: d.length, children: d.children, nullCount: 0 }));
  }

  async close(): Promise<void> {
    await this.fh?.close();
    this.fh = undefined;
  }
}

/** Batches of staged rows, one per record batch, read with the file's footer (random access). */
export async function* readArrowBatches(file: string): AsyncGenerator<unknown[][], void, undefined> {
  const cursor = openArrowRows(file);
  try {
    for (;;) {
      const batch = await cursor.nextBatch();
      if (!batch) return;
      yield cursor.decoder!.decode(batch);
    }
  } finally {
    await cursor.close();
  }
}

/**
 * The rows of an Arrow IPC file one at a time, each decoded when asked for: `next()` answers
 * synchronously while the current record batch lasts (no promise a row), `undefined` meaning a
 * new batch must be read first with `advance()`.
 */
export interface ArrowRowCursor {
  /** The next row, or undefined when the current batch is used up. */
  next(): unknown[] | undefined;
  /** Reads up to the next record batch that has rows; false at the end of the file. */
  advance(): Promise<boolean>;
  /** The next record batch, undecoded (undefined at the end). */
  nextBatch(): Promise<RecordBatch | undefined>;
  decoder: BatchDecoder | undefined;
  close(): Promise<void>;
}

export function openArrowRows(file: string): ArrowRowCursor {
  let blocks: ArrowFileBlocks | undefined;
  let batch: RecordBatch | undefined;
  let at = 0;
  const cursor: ArrowRowCursor = {
    decoder: undefined,
    next() {
      if (!batch || at >= batch.numRows) return undefined;
      return cursor.decoder!.row(batch, at++);
    },
    async advance() {
      // A record batch without rows (a writer may leave one) is no row: skipped, so `true` always means a row is there.
      do batch = await cursor.nextBatch();
      while (batch !== undefined && batch.numRows === 0);
      at = 0;
      return batch !== undefined;
    },
    async nextBatch() {
      if (!blocks) {
        blocks = new ArrowFileBlocks(file);
        cursor.decoder = new BatchDecoder(await blocks.open(), file);
      }
      return blocks.nextBatch();
    },
    async close() {
      await blocks?.close();
      blocks = undefined;
    },
  };
  return cursor;
}

/** Rows of an Arrow IPC file in the staging form: what was written, exactly. */
export async function* readArrowFile(file: string): AsyncGenerator<unknown[], void, undefined> {
  for await (const rows of readArrowBatches(file)) yield* rows;
}
