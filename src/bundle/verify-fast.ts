import { isUtf8 } from 'node:buffer';
import { readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Type, type Data, type DataType, type DateDay, type Decimal, type Field, type Int64, type TimestampMillisecond } from 'apache-arrow';
import type { Column, Entity } from '../model/types.js';
import { ArrowFileBlocks, daysFromCivil, decoderFor, validDate } from './arrow.js';
import { compareDecimalText } from './order.js';

/**
 * The fast lane of `bundle verify` for a table that has an Arrow file beside its CSV: the CSV read
 * as bytes (no string per field), the Arrow record batches read through their typed buffers, both
 * walked together column by column. It checks what the slow lane (verify.ts `checkCsv`) checks (the
 * header, the field count, each value against its type, required values, each CSV value equal to
 * the Arrow value, the primary-key order, unique values (through addKeys), the row counts, valid
 * UTF-8 without NUL) and never reports a problem: it answers "valid, N rows", or "bail" at the first thing it
 * does not accept, and the caller then runs the slow lane, which is the authority for every message.
 *
 * A field the byte path is not sure of (quoted, more digits than a double holds exactly, a value
 * at a bound, a mismatch) goes through the slow lane's own checker, decoder and comparison for
 * that one field; it bails only when those find a problem.
 */

/** How often the fast lane answered, for tests and profiling. */
export const fastLaneStats = { taken: 0, bailed: 0, lastBail: '' };

export interface FastLaneInput {
  csv: string;
  arrow: string;
  entity: Entity;
  /** The slow lane's per-column checker, decoder and Arrow = CSV comparison, used for the fields the byte path leaves to them. */
  checkers: readonly ((text: string, quoted: boolean) => string | null)[];
  decoders: readonly ((field: string, quoted: boolean) => unknown)[];
  same: (a: unknown, b: unknown) => boolean;
  /** Columns whose decoded values `addKeys` needs (foreign keys, unique columns); none: addKeys is never called. */
  keyColumns: readonly number[];
  /** False: a unique column's value repeats (the lane bails, and the slow lane says where). */
  addKeys: (row: unknown[], line: number) => boolean;
  signal?: AbortSignal | undefined;
  progress?: ((rows: number) => void) | undefined;
  /** Bytes read at a time (tests read in tiny chunks so records straddle them). */
  chunkBytes?: number | undefined;
}

export type FastLaneAnswer = { ok: true; rows: number } | { ok: false; reason: string };

class Bail extends Error {}

function bail(reason: string): never {
  throw new Bail(reason);
}

const STR = 0;
const ENUM = 1;
const INT = 2;
const DEC = 3;
const BOOL = 4;
const DATE = 5;
const TS = 6;

const TWO32 = 4294967296;
const CHUNK = 1 << 20;

function kindOf(c: Column): number {
  switch (c.type) {
    case 'string':
    case 'text':
      return STR;
    case 'enum':
      return ENUM;
    case 'integer':
      return INT;
    case 'decimal':
      return DEC;
    case 'boolean':
      return BOOL;
    case 'date':
      return DATE;
    case 'timestamp':
      return TS;
  }
}

/** A bound as a number when comparing with it through numbers is what compareDecimalText does (both texts at most 15 characters). */
function bound(t: string | undefined): number | undefined {
  if (t === undefined) return undefined;
  return t.length <= 15 ? Number(t) : NaN;
}

/** Two ASCII digits at `at`, or -1. */
function d2(b: Buffer, at: number): number {
  const x = b[at]! - 48;
  const y = b[at + 1]! - 48;
  return x >= 0 && x <= 9 && y >= 0 && y <= 9 ? x * 10 + y : -1;
}

/** `YYYY-MM-DD` at `s` as days since the epoch, or NaN (not canonical, not a valid date, year 0). */
function dateDays(b: Buffer, s: number): number {
  if (b[s + 4] !== 45 || b[s + 7] !== 45) return NaN;
  const yh = d2(b, s);
  const yl = d2(b, s + 2);
  const m = d2(b, s + 5);
  const d = d2(b, s + 8);
  if (yh < 0 || yl < 0 || m < 0 || d < 0) return NaN;
  const y = yh * 100 + yl;
  if (y < 1 || !validDate(y, m, d)) return NaN;
  return daysFromCivil(y, m, d);
}

/** One column: what it is, and views over the current record batch's buffers. */
class FastCol {
  readonly kind: number;
  readonly required: boolean;
  readonly maxBytes: number;
  readonly enumValues: Buffer[];
  readonly scale: number;
  readonly maxIntDigits: number;
  readonly pow: number;
  readonly min: number | undefined;
  readonly max: number | undefined;
  readonly exclusiveMin: boolean;
  readonly ranged: boolean;
  data: Data | undefined;
  decodeRow: ((i: number) => unknown) | undefined;
  decode: ((data: Data) => (i: number) => unknown) | undefined;
  off = 0;
  bitmap: Uint8Array | null = null;
  offsets: Int32Array = new Int32Array(0);
  bytes: Uint8Array = new Uint8Array(0);
  words: Int32Array = new Int32Array(0);
  u32: Uint32Array = new Uint32Array(0);
  days: Int32Array = new Int32Array(0);

  constructor(readonly column: Column) {
    this.kind = kindOf(column);
    this.required = column.required;
    this.maxBytes = column.type === 'string' || column.type === 'text' ? (column.length ?? Infinity) : Infinity;
    // A value that is not well-formed UTF-16 has no UTF-8 bytes of its own: left to the slow check.
    this.enumValues = (column.type === 'enum' ? (column.values ?? []) : []).map((v) => Buffer.from(v, 'utf8')).filter((b, i) => b.toString('utf8') === column.values![i]);
    this.scale = column.type === 'decimal' ? (column.scale ?? 0) : 0;
    this.maxIntDigits = column.type === 'decimal' ? Math.max((column.precision ?? 38) - this.scale, 1) : 15;
    this.pow = 10 ** this.scale;
    const numeric = column.type === 'integer' || column.type === 'decimal';
    this.min = numeric ? bound(column.min) : undefined;
    this.max = numeric ? bound(column.max) : undefined;
    this.exclusiveMin = column.exclusiveMin === true;
    this.ranged = this.min !== undefined || this.max !== undefined;
  }

  /** The Arrow field must have exactly the type export writes for the column. */
  bindField(field: Field): void {
    const t = field.type as DataType;
    let ok: boolean;
    switch (this.kind) {
      case STR:
      case ENUM:
        ok = t.typeId === Type.Utf8;
        break;
      case INT:
        ok = t.typeId === Type.Int && (t as Int64).bitWidth === 64 && (t as Int64).isSigned;
        break;
      case DEC:
        ok = t.typeId === Type.Decimal && (t as Decimal).bitWidth === 128 && (t as Decimal).scale === this.scale;
        break;
      case BOOL:
        ok = t.typeId === Type.Bool;
        break;
      case DATE:
        ok = t.typeId === Type.Date && (t as DateDay).unit === 0;
        break;
      default:
        ok = t.typeId === Type.Timestamp && (t as TimestampMillisecond).unit === 1 && (t as TimestampMillisecond).timezone === 'UTC';
    }
    const decode = decoderFor(field);
    if (!ok || !decode) bail(`column ${field.name}: Arrow type ${String(t)}`);
    this.decode = decode;
  }

  bindData(data: Data): void {
    this.data = data;
    this.decodeRow = undefined;
    this.off = data.offset;
    const bitmap = data.nullBitmap;
    this.bitmap = data.nullCount === 0 || !bitmap || bitmap.length === 0 ? null : bitmap;
    const values = data.values as ArrayBufferView;
    switch (this.kind) {
      case STR:
      case ENUM:
        this.offsets = data.valueOffsets as Int32Array;
        this.bytes = data.values as Uint8Array;
        break;
      case INT:
      case TS:
        this.words = new Int32Array(values.buffer, values.byteOffset, values.byteLength >> 2);
        break;
      case DEC:
        this.u32 = new Uint32Array(values.buffer, values.byteOffset, values.byteLength >> 2);
        break;
      case BOOL:
        this.bytes = data.values as Uint8Array;
        break;
      default:
        this.days = data.values as Int32Array;
    }
  }

  private readonly lastDate = Buffer.alloc(10);
  private lastDays = NaN;

  /** dateDays of the 10 bytes at `s`, the last answer reused while the date repeats (a log's timestamps mostly do). */
  dateOf(b: Buffer, s: number): number {
    const last = this.lastDate;
    let k = 0;
    while (k < 10 && b[s + k] === last[k]) k++;
    if (k === 10 && !Number.isNaN(this.lastDays)) return this.lastDays;
    const d = dateDays(b, s);
    if (!Number.isNaN(d)) {
      for (k = 0; k < 10; k++) last[k] = b[s + k]!;
      this.lastDays = d;
    }
    return d;
  }

  /** Whether Arrow row `i` of the batch (before the data's offset) is null. */
  isNull(i: number): boolean {
    const b = this.bitmap;
    if (b === null) return false;
    const j = this.off + i;
    return (b[j >> 3]! & (1 << (j & 7))) === 0;
  }

  /** The value the slow lane's Arrow decoder gives for row `i`. */
  value(i: number): unknown {
    this.decodeRow ??= this.decode!(this.data!);
    return this.decodeRow(i);
  }
}

/** The unsigned magnitude of canonical digits (sign and point skipped), or NaN beyond 15 digits. */
function magnitude(b: Buffer, s: number, e: number): number {
  let m = 0;
  let digits = 0;
  for (let k = s; k < e; k++) {
    const ch = b[k]!;
    if (ch === 45 || ch === 46) continue;
    if (++digits > 15) return NaN;
    m = m * 10 + (ch - 48);
  }
  return m;
}

function compareBytes(a: Buffer, as: number, ae: number, b: Buffer, bs: number, be: number): number {
  const n = Math.min(ae - as, be - bs);
  for (let k = 0; k < n; k++) {
    const x = a[as + k]!;
    const y = b[bs + k]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return ae - as - (be - bs);
}

/** The previous row's value of one primary-key column: its canonical bytes (null: empty field). */
class KeySlot {
  buf = Buffer.allocUnsafe(64);
  len = 0;
  isNull = false;

  set(src: Buffer, s: number, e: number, isNull: boolean): void {
    this.isNull = isNull;
    const n = e - s;
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
    // By hand: Buffer#copy costs a native call, far more than a key's few bytes.
    const dst = this.buf;
    for (let k = 0; k < n; k++) dst[k] = src[s + k]!;
    this.len = n;
  }
}

export async function fastCheckTable(input: FastLaneInput): Promise<FastLaneAnswer> {
  const batches = new ArrowFileBlocks(input.arrow);
  try {
    const rows = await new Lane(input, batches).run();
    fastLaneStats.taken++;
    return { ok: true, rows };
  } catch (e) {
    if (input.signal?.aborted) input.signal.throwIfAborted();
    fastLaneStats.bailed++;
    fastLaneStats.lastBail = e instanceof Bail ? e.message : `error: ${e instanceof Error ? e.message : String(e)}`;
    return { ok: false, reason: fastLaneStats.lastBail };
  } finally {
    await batches.close().catch(() => undefined);
  }
}

class Lane {
  private readonly n: number;
  private readonly cols: FastCol[];
  private buf: Buffer;
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  private readonly quoted: Uint8Array;
  /** Fields of the record scanned last. */
  private nf = 0;
  private more = true;
  private ar = 0;
  private alen = 0;

  constructor(
    private readonly input: FastLaneInput,
    private readonly batches: ArrowFileBlocks,
  ) {
    this.n = input.entity.columns.length;
    this.buf = Buffer.allocUnsafe(Math.max(1, input.chunkBytes ?? CHUNK));
    this.cols = input.entity.columns.map((c) => new FastCol(c));
    this.starts = new Int32Array(this.n + 1);
    this.ends = new Int32Array(this.n + 1);
    this.quoted = new Uint8Array(this.n + 1);
  }

  /** On to the next record batch that has rows (as the slow lane's cursor skips empty ones); false at the end. */
  private async nextBatch(): Promise<boolean> {
    let b: { length: number; children: Data[] } | undefined;
    do b = await this.batches.nextData();
    while (b !== undefined && b.length === 0);
    this.ar = 0;
    this.alen = b?.length ?? 0;
    this.more = b !== undefined;
    if (b) {
      for (let c = 0; c < this.n; c++) {
        const data = b.children[c];
        if (!data) bail(`record batch without column ${c}`);
        this.cols[c]!.bindData(data);
      }
    }
    return b !== undefined;
  }

  async run(): Promise<number> {
    const { input, n, cols } = this;
    const entity = input.entity;
    const schema = await this.batches.open();
    if (schema.fields.length !== n) bail(`${schema.fields.length} Arrow columns`);
    for (let c = 0; c < n; c++) cols[c]!.bindField(schema.fields[c]!);
    await this.nextBatch();

    const keyPos = entity.primaryKey.map((k) => entity.columns.findIndex((c) => c.name === k));
    if (keyPos.some((p) => p < 0)) bail('a primary-key column not in the table');
    const slots = keyPos.map(() => new KeySlot());
    const fk = input.keyColumns;
    const names = entity.columns.map((c) => c.name);

    const fh = await open(input.csv, 'r');
    try {
      let len = 0;
      let pos = 0;
      let eof = false;
      let line = 0;
      let rows = 0;
      let reads = 0;
      const starts = this.starts;
      const ends = this.ends;
      const quoted = this.quoted;
      for (;;) {
        const next = eof && pos === len ? -2 : this.scan(pos, len, eof);
        if (next === -1) {
          // The bytes of whole records up to `pos` end on a character boundary (a line end).
          if (!isUtf8(this.buf.subarray(0, pos))) bail('not UTF-8');
          // NUL is in no valid value (no store's text holds it); the byte path would pass it on to Arrow's equal bytes.
          if (this.buf.subarray(0, pos).includes(0)) bail('a NUL byte');
          this.buf.copy(this.buf, 0, pos, len);
          len -= pos;
          pos = 0;
          if (len === this.buf.length) {
            const grown = Buffer.allocUnsafe(this.buf.length * 2);
            this.buf.copy(grown, 0, 0, len);
            this.buf = grown;
          }
          // Reads are synchronous (an awaited read left this thread idle a tenth of the time): every
          // 16 reads the event loop gets a turn, so Ctrl-C and progress are not held up.
          if (++reads % 16 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
          input.signal?.throwIfAborted();
          if (rows > 0) input.progress?.(rows);
          const bytesRead = readSync(fh.fd, this.buf, len, this.buf.length - len, null);
          if (bytesRead === 0) eof = true;
          len += bytesRead;
          continue;
        }
        if (next === -2) break;
        const buf = this.buf;
        line++;
        if (this.nf !== n) bail(`line ${line}: ${this.nf} fields`);
        if (line === 1) {
          for (let c = 0; c < n; c++) if (this.fieldString(c) !== names[c]) bail('header');
          pos = next;
          continue;
        }
        rows++;
        if (this.ar >= this.alen && !(await this.nextBatch())) bail('the Arrow file has fewer rows');
        const ar = this.ar;
        for (let c = 0; c < n; c++) {
          if (!this.fast(cols[c]!, buf, starts[c]!, ends[c]!, quoted[c]!, ar)) this.slowField(c, ar);
        }
        if (slots.length > 0) {
          if (rows > 1) {
            let r = 0;
            for (let k = 0; k < slots.length && r === 0; k++) {
              const c = keyPos[k]!;
              r = this.compareKey(cols[c]!, slots[k]!, c);
            }
            if (r >= 0) bail(`line ${line}: key order`);
          }
          for (let k = 0; k < slots.length; k++) {
            const c = keyPos[k]!;
            if (quoted[c] === 2) {
              const b = Buffer.from(this.fieldString(c)!, 'utf8');
              slots[k]!.set(b, 0, b.length, false);
            } else slots[k]!.set(buf, starts[c]!, ends[c]!, quoted[c] === 0 && starts[c] === ends[c]);
          }
        }
        if (fk.length > 0) {
          const row = new Array<unknown>(n);
          for (const c of fk) {
            const f = this.fieldString(c);
            row[c] = input.decoders[c]!(f ?? '', f === '');
          }
          if (!input.addKeys(row, line)) bail(`line ${line}: a unique value repeats`);
        }
        this.ar++;
        pos = next;
      }
      if (!isUtf8(this.buf.subarray(0, pos))) bail('not UTF-8');
      if (this.buf.subarray(0, pos).includes(0)) bail('a NUL byte');
      if (line === 0) bail('no header');
      if (this.ar < this.alen || (this.more && (await this.nextBatch()))) bail('the Arrow file has more rows');
      input.progress?.(rows);
      return rows;
    } finally {
      await fh.close();
    }
  }

  /**
   * One record from `p`: its fields' extents in starts/ends/quoted (1: quoted, 2: quoted with `""`
   * inside), the position after its CRLF; -1 when the buffer ends inside it. Anything but the
   * canonical dialect (a bare LF or CR, a quote inside an unquoted field, a file not ending in
   * CRLF) bails.
   */
  private scan(p: number, len: number, eof: boolean): number {
    const buf = this.buf;
    const n = this.n;
    let f = 0;
    for (;;) {
      if (f > n) bail('too many fields');
      if (p >= len) return eof ? bail('no line end at the end') : -1;
      if (buf[p] === 34) {
        let q = 1;
        let k = p + 1;
        for (;;) {
          k = buf.indexOf(34, k);
          if (k < 0 || k >= len) return eof ? bail('a quoted field is not closed') : -1;
          if (k + 1 >= len) return eof ? bail('no line end at the end') : -1;
          if (buf[k + 1] === 34) {
            q = 2;
            k += 2;
            continue;
          }
          break;
        }
        this.starts[f] = p + 1;
        this.ends[f] = k;
        this.quoted[f] = q;
        p = k + 1;
      } else {
        let k = p;
        while (k < len) {
          const b = buf[k]!;
          if (b === 44 || b === 13) break;
          if (b === 34 || b === 10) bail('a quote or a bare LF in an unquoted field');
          k++;
        }
        if (k >= len) return eof ? bail('no line end at the end') : -1;
        this.starts[f] = p;
        this.ends[f] = k;
        this.quoted[f] = 0;
        p = k;
      }
      f++;
      const b = buf[p];
      if (b === 44) {
        p++;
        continue;
      }
      if (b === 13) {
        if (p + 1 >= len) return eof ? bail('no line end at the end') : -1;
        if (buf[p + 1] !== 10) bail('a bare CR');
        this.nf = f;
        return p + 2;
      }
      bail('a field goes on after its closing quote');
    }
  }

  /** Field `c` of the current record as the slow lane's reader gives it: null for an empty unquoted field. */
  private fieldString(c: number): string | null {
    const s = this.starts[c]!;
    const e = this.ends[c]!;
    const q = this.quoted[c]!;
    if (q === 0) return s === e ? null : this.buf.toString('utf8', s, e);
    const t = this.buf.toString('utf8', s, e);
    return q === 2 ? t.replaceAll('""', '"') : t;
  }

  /** The slow lane's check of one field, for what the byte path is not sure of: bails on any problem. */
  private slowField(c: number, ar: number): void {
    const f = this.fieldString(c);
    const t = f ?? '';
    const q = f === '';
    if (this.input.checkers[c]!(t, q) !== null) bail(`column ${this.input.entity.columns[c]!.name}: value`);
    const v = this.input.decoders[c]!(t, q);
    if (!this.input.same(this.cols[c]!.value(ar), v)) bail('Arrow value differs');
  }

  /** True when the field is certainly valid and equal to the Arrow value; false: ask slowField. */
  private fast(col: FastCol, b: Buffer, s: number, e: number, q: number, ar: number): boolean {
    if (q === 0 && s === e) return !col.required && col.isNull(ar);
    switch (col.kind) {
      case STR: {
        if (q === 2 || e - s > col.maxBytes || col.isNull(ar)) return false;
        const j = col.off + ar;
        const o0 = col.offsets[j]!;
        if (col.offsets[j + 1]! - o0 !== e - s) return false;
        const bytes = col.bytes;
        if (e - s > 24) return b.compare(bytes, o0, o0 + (e - s), s, e) === 0;
        for (let k = s; k < e; k++) if (b[k] !== bytes[o0 + k - s]) return false;
        return true;
      }
      case ENUM: {
        if (q !== 0 || col.isNull(ar)) return false;
        const j = col.off + ar;
        const o0 = col.offsets[j]!;
        const len = e - s;
        if (col.offsets[j + 1]! - o0 !== len) return false;
        const bytes = col.bytes;
        for (let k = 0; k < len; k++) if (b[s + k] !== bytes[o0 + k]) return false;
        for (const v of col.enumValues) {
          if (v.length !== len) continue;
          let k = 0;
          while (k < len && v[k] === b[s + k]) k++;
          if (k === len) return true;
        }
        return false;
      }
      case INT:
      case DEC: {
        if (q !== 0 || col.isNull(ar)) return false;
        let p = s;
        const neg = b[p] === 45;
        if (neg) p++;
        const intStart = p;
        let m = 0;
        while (p < e) {
          const d = b[p]! - 48;
          if (d < 0 || d > 9) break;
          m = m * 10 + d;
          p++;
        }
        const intLen = p - intStart;
        const scale = col.scale;
        if (intLen === 0 || (intLen > 1 && b[intStart] === 48) || intLen > col.maxIntDigits || intLen + scale > 15) return false;
        if (scale > 0) {
          if (b[p] !== 46 || p + 1 + scale !== e) return false;
          for (let k = p + 1; k < e; k++) {
            const d = b[k]! - 48;
            if (d < 0 || d > 9) return false;
            m = m * 10 + d;
          }
        } else if (p !== e) return false;
        if (m === 0 && neg) return false;
        if (col.ranged) {
          if (e - s > 15) return false;
          const v = (neg ? -m : m) / col.pow;
          if (col.min !== undefined) {
            const r = v - col.min;
            if (Number.isNaN(r) || (col.exclusiveMin ? r <= 0 : r < 0)) return false;
          }
          if (col.max !== undefined && !(v - col.max <= 0)) return false;
        }
        const j = col.off + ar;
        if (col.kind === INT) {
          const w = col.words;
          return w[2 * j + 1]! * TWO32 + (w[2 * j]! >>> 0) === (neg ? -m : m);
        }
        const v = col.u32;
        const w0 = v[4 * j]!;
        const w1 = v[4 * j + 1]!;
        const w2 = v[4 * j + 2]!;
        const w3 = v[4 * j + 3]!;
        if (!neg) return w2 === 0 && w3 === 0 && w1 < 0x200000 && w1 * TWO32 + w0 === m;
        return w2 === 0xffffffff && w3 === 0xffffffff && w1 >= 0xffe00000 && (0xffffffff - w1) * TWO32 + (TWO32 - w0) === m;
      }
      case BOOL: {
        if (q !== 0 || col.isNull(ar)) return false;
        let bit: number;
        if (e - s === 4 && b[s] === 116 && b[s + 1] === 114 && b[s + 2] === 117 && b[s + 3] === 101) bit = 1;
        else if (e - s === 5 && b[s] === 102 && b[s + 1] === 97 && b[s + 2] === 108 && b[s + 3] === 115 && b[s + 4] === 101) bit = 0;
        else return false;
        const j = col.off + ar;
        return ((col.bytes[j >> 3]! >> (j & 7)) & 1) === bit;
      }
      case DATE: {
        if (q !== 0 || e - s !== 10 || col.isNull(ar)) return false;
        return col.dateOf(b, s) === col.days[col.off + ar];
      }
      default: {
        if (q !== 0 || e - s !== 24 || col.isNull(ar)) return false;
        if (b[s + 10] !== 84 || b[s + 13] !== 58 || b[s + 16] !== 58 || b[s + 19] !== 46 || b[s + 23] !== 90) return false;
        const days = col.dateOf(b, s);
        const h = d2(b, s + 11);
        const mi = d2(b, s + 14);
        const sec = d2(b, s + 17);
        const ms1 = d2(b, s + 20);
        const ms2 = b[s + 22]! - 48;
        if (Number.isNaN(days) || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 || ms1 < 0 || ms2 < 0 || ms2 > 9) return false;
        const t = days * 86400000 + h * 3600000 + mi * 60000 + sec * 1000 + ms1 * 10 + ms2;
        const j = col.off + ar;
        const w = col.words;
        return w[2 * j + 1]! * TWO32 + (w[2 * j]! >>> 0) === t;
      }
    }
  }

  /**
   * The current record's key field `c` against the previous row's, as order.ts `keyComparer`
   * compares their staged values: nulls first; text, dates, timestamps and booleans by their
   * canonical bytes (UTF-8 byte order is code point order); numbers by value.
   */
  private compareKey(col: FastCol, prev: KeySlot, c: number): number {
    let b = this.buf;
    let s = this.starts[c]!;
    let e = this.ends[c]!;
    const q = this.quoted[c]!;
    const isNull = q === 0 && s === e;
    if (prev.isNull || isNull) return prev.isNull === isNull ? 0 : prev.isNull ? -1 : 1;
    if (q === 2) {
      b = Buffer.from(this.fieldString(c)!, 'utf8');
      s = 0;
      e = b.length;
    }
    if (col.kind !== INT && col.kind !== DEC) return compareBytes(prev.buf, 0, prev.len, b, s, e);
    const pm = magnitude(prev.buf, 0, prev.len);
    const cm = magnitude(b, s, e);
    if (!Number.isNaN(pm) && !Number.isNaN(cm)) {
      const pv = prev.buf[0] === 45 ? -pm : pm;
      const cv = b[s] === 45 ? -cm : cm;
      return pv < cv ? -1 : pv > cv ? 1 : 0;
    }
    return compareDecimalText(prev.buf.toString('latin1', 0, prev.len), b.toString('latin1', s, e));
  }
}
