import { isUtf8 } from 'node:buffer';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Type, type Data, type DataType, type DateDay, type Decimal, type Field, type Int64, type TimestampMillisecond } from '../vendor/apache-arrow.js';
import { BugError } from '../core/errors.js';
import type { Column, Entity } from '../model/types.js';
import { ArrowFileBlocks, daysFromCivil, decoderFor, formatDays, validDate } from './arrow.js';
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
export const fastLaneStats = { taken: 0, bailed: 0, lastBail: '', batchesRendered: 0, batchesByRecord: 0, tailRows: 0 };

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
  /**
   * The tail lane (checkTail, in the bag thread once it has hashed the bag): it takes the table's
   * record batches from the back while this lane takes them from the front, and says where its
   * verified rows start.
   */
  tail?: TailLane | undefined;
  /** Tests: the tail lane runs to its end before this lane starts (the split then lies where its maxBatches puts it). */
  tailFirst?: { maxBatches: number } | undefined;
}

export type FastLaneAnswer = { ok: true; rows: number } | { ok: false; reason: string };

class Bail extends Error {}

function bail(reason: string): never {
  throw new Bail(reason);
}

/** Why a lane stopped, for its stats and report: a Bail's reason, or the error it met. */
function stopReason(e: unknown): string {
  return e instanceof Bail ? e.message : `error: ${e instanceof Error ? e.message : String(e)}`;
}

/** The columns bound to the Arrow file's fields (each exactly the type export writes), and the primary key's column positions. */
function bindSchema(entity: Entity, cols: readonly FastCol[], fields: readonly Field[]): number[] {
  if (fields.length !== cols.length) bail(`${fields.length} Arrow columns`);
  for (let c = 0; c < cols.length; c++) cols[c]!.bindField(fields[c]!);
  const keyPos = entity.primaryKey.map((k) => entity.columns.findIndex((c) => c.name === k));
  if (keyPos.some((p) => p < 0)) bail('a primary-key column not in the table');
  return keyPos;
}

/** The columns `which` of record batch `b` bound to its data. */
function bindBatch(cols: readonly FastCol[], children: readonly Data[], b: number, which: Iterable<number> = cols.keys()): void {
  for (const c of which) {
    const data = children[c];
    if (!data) bail(`record batch ${b} without column ${c}`);
    cols[c]!.bindData(data);
  }
}

const STR = 0;
const ENUM = 1;
const INT = 2;
const DEC = 3;
const BOOL = 4;
const DATE = 5;
const TS = 6;

const TWO32 = 4294967296;
/** 0001-01-01 and 9999-12-31 as days since the epoch: the years every store holds. */
const FIRST_DAY = daysFromCivil(1, 1, 1);
const LAST_DAY = daysFromCivil(9999, 12, 31);
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
  i32: Int32Array = new Int32Array(0);
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
        this.i32 = new Int32Array(values.buffer, values.byteOffset, values.byteLength >> 2);
        break;
      case BOOL:
        this.bytes = data.values as Uint8Array;
        break;
      default:
        this.days = data.values as Int32Array;
    }
  }

  /** The number renderValue rendered last for a numeric, date, time or boolean column (key order compares it). */
  num = 0;
  /** The date render wrote last, and its days. */
  readonly renderedDate = Buffer.alloc(10);
  renderedDays = NaN;
  /** The first millisecond of the day renderTimestamp wrote last (a log's timestamps mostly stay in one day a while). */
  dayStart = NaN;
  /** The enum value renderEnum matched last (tried first). */
  lastEnum = 0;

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

/** A record batch's CSV bytes as export writes them, rendered from its Arrow values (FastCol's views), and its keys' order. */
class BatchRenderer {
  readonly n: number;
  /** The rendered bytes. */
  out = Buffer.allocUnsafe(1 << 16);
  /** Per row and primary-key column: where its value's bytes start and end in `out`. */
  keyAt = new Int32Array(0);
  /** Per row and primary-key column of a numeric, date, time or boolean type: its value as a number (exact). */
  keyNum = new Float64Array(0);

  /** Per column: its place in the primary key, or -1. */
  private readonly keyOf: Int32Array;

  constructor(readonly cols: readonly FastCol[]) {
    this.n = cols.length;
    this.keyOf = new Int32Array(this.n);
  }

  /**
   * The CSV bytes export writes for the current record batch (CRLF after each row) into `out`, and
   * the key fields' extents into `keyAt`; their length, or -1 where a value is not certainly valid
   * by itself (a missing required value, text that needs quotes or may be too long, a value not in
   * the enum, a number beyond 2^53 or out of range, a date outside 0001–9999, a decimal with more
   * digits than its precision): the batch then goes record by record, which asks the slow lane.
   * Equal bytes are then every check of the record path at once: the CSV value is valid (the
   * rendering is canonical and the value was checked here) and equal to the Arrow value.
   */
  render(alen: number, keyPos: readonly number[]): number {
    const { n, cols } = this;
    let bound = 0;
    for (const col of cols) {
      if (col.kind === STR || col.kind === ENUM) bound += 2 * (col.offsets[col.off + alen]! - col.offsets[col.off]!) + 3 * alen;
      else bound += 48 * alen;
    }
    bound += 2 * alen;
    if (this.out.length < bound) this.out = Buffer.allocUnsafe(Math.max(bound, this.out.length * 2));
    const nk = keyPos.length;
    if (this.keyAt.length < 2 * nk * alen) {
      this.keyAt = new Int32Array(2 * nk * alen);
      this.keyNum = new Float64Array(nk * alen);
    }
    const out = this.out;
    const keyAt = this.keyAt;
    const keyNum = this.keyNum;
    const keyOf = this.keyOf;
    keyOf.fill(-1);
    for (let k = 0; k < nk; k++) keyOf[keyPos[k]!] = k;
    let p = 0;
    for (let i = 0; i < alen; i++) {
      for (let c = 0; c < n; c++) {
        if (c > 0) out[p++] = 44;
        const col = cols[c]!;
        const start = p;
        // One small function a type, called from here: V8 inlines them, where one function for all took a call per value.
        if (col.bitmap !== null && col.isNull(i)) {
          if (col.required) return -1;
        } else {
          switch (col.kind) {
            case STR:
              p = renderText(col, i, out, p);
              break;
            case ENUM:
              p = renderEnum(col, i, out, p);
              break;
            case INT:
              p = renderInteger(col, i, out, p);
              break;
            case DEC:
              p = renderDecimal(col, i, out, p);
              break;
            case BOOL:
              p = renderBoolean(col, i, out, p);
              break;
            case DATE:
              col.num = col.days[col.off + i]!;
              p = writeDate(col, out, p, col.num);
              break;
            default:
              p = renderTimestamp(col, i, out, p);
          }
          if (p < 0) return -1;
        }
        const k = keyOf[c]!;
        if (k >= 0) {
          // A key in quotes is left to the record path, but for the empty text `""` (its value lies between the quotes).
          const quotedEmpty = p - start === 2 && out[start] === 34;
          if (p === start || (out[start] === 34 && !quotedEmpty)) return -1;
          keyAt[2 * (i * nk + k)] = quotedEmpty ? start + 1 : start;
          keyAt[2 * (i * nk + k) + 1] = quotedEmpty ? start + 1 : p;
          keyNum[i * nk + k] = col.num;
        }
      }
      out[p++] = 13;
      out[p++] = 10;
    }
    return p;
  }

  /** The rendered batch's primary keys in strictly ascending order, its first after the previous row's; then the last one kept. */
  keysInOrder(alen: number, keyPos: readonly number[], slots: readonly KeySlot[], line: number): boolean {
    const nk = keyPos.length;
    if (nk === 0) return true;
    const { out, keyAt, cols } = this;
    for (let i = 0; i < alen; i++) {
      if (i === 0 && line === 1) continue;
      let r = 0;
      for (let k = 0; k < nk && r === 0; k++) {
        const col = cols[keyPos[k]!]!;
        const s = keyAt[2 * (i * nk + k)]!;
        const e = keyAt[2 * (i * nk + k) + 1]!;
        if (i === 0) {
          const prev = slots[k]!;
          if (prev.isNull) return false;
          r = compareKeyValues(col.kind, prev.buf, 0, prev.len, out, s, e);
        } else if (col.kind === STR || col.kind === ENUM) r = compareBytes(out, keyAt[2 * ((i - 1) * nk + k)]!, keyAt[2 * ((i - 1) * nk + k) + 1]!, out, s, e);
        else {
          // Numbers by value, dates, times and booleans by the number their canonical text sorts as (0001–9999 only are rendered).
          const a = this.keyNum[(i - 1) * nk + k]!;
          const b = this.keyNum[i * nk + k]!;
          r = a < b ? -1 : a > b ? 1 : 0;
        }
      }
      if (r >= 0) return false;
    }
    const last = alen - 1;
    for (let k = 0; k < nk; k++) slots[k]!.set(out, keyAt[2 * (last * nk + k)]!, keyAt[2 * (last * nk + k) + 1]!, false);
    return true;
  }
}

/**
 * The record batches of one table, shared by the fast lane (which claims them from the front) and
 * the tail lane (from the back, in another thread): each batch is claimed once, by one of them.
 * Both ends live in one 64-bit word (front << 32 | back), changed by compare-and-swap.
 */
export class BatchClaims {
  private readonly ends: BigInt64Array;
  private readonly flags: Int32Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.ends = new BigInt64Array(buffer, 0, 1);
    this.flags = new Int32Array(buffer, 8, 2);
  }

  static create(count: number): BatchClaims {
    const claims = new BatchClaims(new SharedArrayBuffer(16));
    Atomics.store(claims.ends, 0, BigInt(count));
    Atomics.store(claims.flags, 1, count);
    return claims;
  }

  /** The number of record batches. */
  get count(): number {
    return Atomics.load(this.flags, 1);
  }

  /** The next batch from the front, or -1 when every batch is claimed. */
  front(): number {
    return this.claim(true);
  }

  /** The next batch from the back, or -1 when every batch is claimed. */
  back(): number {
    return this.claim(false);
  }

  private claim(fromFront: boolean): number {
    for (;;) {
      const v = Atomics.load(this.ends, 0);
      const lo = Number(v >> 32n);
      const hi = Number(v & 0xffffffffn);
      if (lo >= hi) return -1;
      const next = fromFront ? (BigInt(lo + 1) << 32n) | BigInt(hi) : (BigInt(lo) << 32n) | BigInt(hi - 1);
      if (Atomics.compareExchange(this.ends, 0, v, next) === v) return fromFront ? lo : hi - 1;
    }
  }

  /** The fast lane has its answer (or bailed): the tail lane stops at its next batch. */
  cancel(): void {
    Atomics.store(this.flags, 0, 1);
  }

  get cancelled(): boolean {
    return Atomics.load(this.flags, 0) === 1;
  }
}

/** What the fast lane hands the tail lane: the table, and the claims it shares. */
export interface TailJob {
  csv: string;
  arrow: string;
  entity: Entity;
  claims: SharedArrayBuffer;
  /** Tests: at most this many batches. */
  maxBatches?: number | undefined;
}

/** The batches the tail lane verified: from `from` to the last, whose CSV bytes are the file's last ones from `startByte`. */
export interface TailReport {
  /** The first batch of the verified tail (the batch count when it verified none). */
  from: number;
  /** Where the tail's rows start in the CSV (with `from` the batch count: the file's size, or -1). */
  startByte: number;
  rows: number;
  /** The canonical bytes of the tail's first row's primary key, column by column (null: no row). */
  firstKey: Uint8Array[] | null;
  /** Why it stopped before meeting the front lane, when it did. */
  stopped?: string | undefined;
}

export type TailLane = (job: TailJob) => Promise<TailReport>;

/**
 * The tail lane: record batches taken from the back of the table, each rendered as export writes it
 * and compared with the CSV's bytes that end where the previous (later) batch's start, its keys in
 * order and below the later batch's first key, its bytes valid UTF-8 without NUL. It stops at the
 * first batch that is not exactly so, or when the fast lane has claimed the rest, and reports what
 * it verified; the fast lane checks everything else, and that its own rows end where the tail's
 * start, below its first key. Never a problem message: a batch it cannot vouch for is the fast
 * lane's (which bails to the slow lane, the authority for every message).
 */
export async function checkTail(job: TailJob): Promise<TailReport> {
  const claims = new BatchClaims(job.claims);
  const report: TailReport = { from: claims.count, startByte: -1, rows: 0, firstKey: null };
  if (claims.cancelled) return { ...report, stopped: 'cancelled' };
  const blocks = new ArrowFileBlocks(job.arrow, { reuse: true });
  let fd = -1;
  try {
    const { entity } = job;
    const schema = await blocks.open();
    if (blocks.count !== claims.count) bail('not the file the fast lane opened');
    const cols = entity.columns.map((c) => new FastCol(c));
    const keyPos = bindSchema(entity, cols, schema.fields);
    const render = new BatchRenderer(cols);
    const last = keyPos.map(() => new KeySlot());
    fd = openSync(job.csv, 'r');
    let end = fstatSync(fd).size;
    report.startByte = end;
    let buf = Buffer.allocUnsafe(1 << 16);
    let taken = 0;
    for (;;) {
      if (claims.cancelled) bail('cancelled');
      if (job.maxBatches !== undefined && taken >= job.maxBatches) break;
      const j = claims.back();
      if (j < 0) break;
      taken++;
      const d = blocks.dataAt(j);
      if (d.length > 0) {
        bindBatch(cols, d.children, j);
        const L = render.render(d.length, keyPos);
        if (L < 0) bail(`record batch ${j} is not certainly valid by itself`);
        if (L > end) bail(`record batch ${j} is longer than the CSV before the batches after it`);
        if (buf.length < L) buf = Buffer.allocUnsafe(Math.max(L, buf.length * 2));
        if (readSync(fd, buf, 0, L, end - L) !== L || render.out.compare(buf, 0, L, 0, L) !== 0) bail(`record batch ${j} differs from the CSV`);
        const bytes = buf.subarray(0, L);
        if (!isUtf8(bytes) || bytes.includes(0)) bail(`record batch ${j}: not UTF-8, or a NUL byte`);
        // Its keys in order (`last` is then its last row's), and below the first key of the batch after it.
        if (!render.keysInOrder(d.length, keyPos, last, 1)) bail(`record batch ${j}: key order`);
        if (report.firstKey !== null && compareKeyTo(cols, keyPos, last, report.firstKey) >= 0) bail(`record batch ${j}: key order with the batch after it`);
        report.firstKey = keyPos.map((_, k) => Buffer.from(render.out.subarray(render.keyAt[2 * k]!, render.keyAt[2 * k + 1]!)));
        end -= L;
        report.rows += d.length;
        report.startByte = end;
      }
      report.from = j;
      // Between batches the thread's other messages (and, in one thread, the fast lane) get a turn.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  } catch (e) {
    report.stopped = stopReason(e);
  } finally {
    if (fd >= 0) closeSync(fd);
    await blocks.close().catch(() => undefined);
  }
  return report;
}

/** A key held in `slots` against one given as bytes per column (both canonical), as keysInOrder compares keys across batches. */
function compareKeyTo(cols: readonly FastCol[], keyPos: readonly number[], slots: readonly KeySlot[], key: readonly Uint8Array[]): number {
  for (let k = 0; k < keyPos.length; k++) {
    const b = key[k]!;
    const r = compareKeyValues(cols[keyPos[k]!]!.kind, slots[k]!.buf, 0, slots[k]!.len, Buffer.from(b.buffer, b.byteOffset, b.byteLength), 0, b.byteLength);
    if (r !== 0) return r;
  }
  return 0;
}

export async function fastCheckTable(input: FastLaneInput): Promise<FastLaneAnswer> {
  const batches = new ArrowFileBlocks(input.arrow, { reuse: true });
  const lane = new Lane(input, batches);
  try {
    const rows = await lane.run();
    fastLaneStats.taken++;
    return { ok: true, rows };
  } catch (e) {
    if (input.signal?.aborted) input.signal.throwIfAborted();
    fastLaneStats.bailed++;
    fastLaneStats.lastBail = stopReason(e);
    return { ok: false, reason: fastLaneStats.lastBail };
  } finally {
    lane.stop();
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
  /** Record batches read so far, and the one the batch path last tried (it tries each once). */
  private batchNo = 0;
  private tried = -1;
  /** The current batch's CSV bytes, rendered from its Arrow values. */
  private readonly render: BatchRenderer;
  /** With a tail lane: the batches shared with it, its answer, and (once asked for) what it verified. */
  private claims: BatchClaims | undefined;
  private tailReport: Promise<TailReport> | undefined;
  private tail: TailReport | undefined;
  /** The batches this lane reads (all, until the tail lane says where its own start), and the CSV bytes. */
  private until = Infinity;
  private limit = Infinity;

  constructor(
    private readonly input: FastLaneInput,
    private readonly batches: ArrowFileBlocks,
  ) {
    this.n = input.entity.columns.length;
    this.buf = Buffer.allocUnsafe(Math.max(1, input.chunkBytes ?? CHUNK));
    this.cols = input.entity.columns.map((c) => new FastCol(c));
    this.render = new BatchRenderer(this.cols);
    this.starts = new Int32Array(this.n + 1);
    this.ends = new Int32Array(this.n + 1);
    this.quoted = new Uint8Array(this.n + 1);
  }

  /** On to the next record batch that has rows (as the slow lane's cursor skips empty ones); false at the end. */
  private async nextBatch(): Promise<boolean> {
    let b: { length: number; children: Data[] } | undefined;
    do b = await this.nextData();
    while (b !== undefined && b.length === 0);
    this.ar = 0;
    this.alen = b?.length ?? 0;
    this.more = b !== undefined;
    this.batchNo++;
    if (b) bindBatch(this.cols, b.children, this.batches.position - 1);
    return b !== undefined;
  }

  /** The next record batch this lane reads: claimed from the front, until the tail lane has the rest (then up to the first it verified). */
  private async nextData(): Promise<{ length: number; children: Data[] } | undefined> {
    const at = this.batches.position;
    if (this.claims && !this.tail) {
      const claimed = this.claims.front();
      if (claimed < 0) {
        this.tail = await this.tailReport!;
        if (this.tail.from < this.claims.count) {
          this.until = this.tail.from;
          this.limit = this.tail.startByte;
        }
      } else if (claimed !== at) throw new BugError(`the fast lane claimed record batch ${claimed}, reading ${at}`);
    }
    return at < this.until ? this.batches.nextData() : undefined;
  }

  /** Stops the tail lane (it may still be at work when this lane has its answer). */
  stop(): void {
    this.claims?.cancel();
  }

  async run(): Promise<number> {
    const { input, n, cols } = this;
    const entity = input.entity;
    const schema = await this.batches.open();
    const keyPos = bindSchema(entity, cols, schema.fields);
    if (input.tail && this.batches.count > 1) {
      this.claims = BatchClaims.create(this.batches.count);
      this.tailReport = input.tail({ csv: input.csv, arrow: input.arrow, entity, claims: this.claims.buffer, maxBatches: input.tailFirst?.maxBatches });
      // Its failure reaches this lane when it asks for the answer, and only then.
      this.tailReport.catch(() => undefined);
      if (input.tailFirst) await this.tailReport;
    }
    await this.nextBatch();

    const slots = keyPos.map(() => new KeySlot());
    const fk = input.keyColumns;
    const names = entity.columns.map((c) => c.name);

    const fh = await open(input.csv, 'r');
    try {
      let len = 0;
      let pos = 0;
      let eof = false;
      // Bytes of the CSV read so far; once the tail lane has said where its rows start, none past that.
      let read = 0;
      const clip = (): void => {
        if (read > this.limit) {
          const over = read - this.limit;
          if (len - over < pos) bail('the CSV rows of the front record batches go past where the tail lane found its rows');
          len -= over;
          read = this.limit;
        }
        if (read === this.limit) eof = true;
      };
      clip();
      let line = 0;
      let rows = 0;
      let reads = 0;
      const starts = this.starts;
      const ends = this.ends;
      const quoted = this.quoted;
      // Bytes the batch path wants in the buffer before it compares (0: none).
      let want = 0;
      for (;;) {
        if (line >= 1) {
          // The batch path: a whole record batch at once, when the CSV holds exactly the bytes export
          // writes for its Arrow values and those values are certainly valid (renderBatch);
          // otherwise, or on any difference, the batch goes record by record below.
          if (this.ar >= this.alen && this.more && !(eof && pos === len)) {
            await this.nextBatch();
            clip();
          }
          if (want === 0 && this.ar === 0 && this.alen > 0 && this.tried !== this.batchNo) {
            this.tried = this.batchNo;
            want = Math.max(this.render.render(this.alen, keyPos), 0);
            if (want === 0) fastLaneStats.batchesByRecord++;
          }
          if (want > 0 && (len - pos >= want || eof)) {
            const L = want;
            want = 0;
            if (len - pos >= L && this.render.out.compare(this.buf, pos, pos + L, 0, L) === 0 && this.render.keysInOrder(this.alen, keyPos, slots, line)) {
              if (fk.length > 0) {
                const row = new Array<unknown>(n);
                for (let i = 0; i < this.alen; i++) {
                  for (const c of fk) row[c] = cols[c]!.value(i);
                  if (!input.addKeys(row, line + 1 + i)) bail(`line ${line + 1 + i}: a unique value repeats`);
                }
              }
              fastLaneStats.batchesRendered++;
              line += this.alen;
              rows += this.alen;
              this.ar = this.alen;
              pos += L;
              continue;
            }
            fastLaneStats.batchesByRecord++;
          }
        }
        const next = want > 0 ? -1 : eof && pos === len ? -2 : this.scan(pos, len, eof);
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
          const room = Math.min(this.buf.length - len, this.limit - read);
          const bytesRead = room > 0 ? readSync(fh.fd, this.buf, len, room, null) : 0;
          if (bytesRead === 0) eof = true;
          len += bytesRead;
          read += bytesRead;
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
        if (this.ar >= this.alen) {
          if (!(await this.nextBatch())) bail('the Arrow file has fewer rows');
          clip();
        }
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
      const tail = this.tail;
      if (tail && tail.from < this.claims!.count) {
        // This lane's rows end where the tail lane's start, their keys below its first.
        if (read - len + pos !== tail.startByte) bail('the CSV rows of the front record batches do not end where the tail lane found its rows');
        if (rows > 0 && tail.rows > 0 && compareKeyTo(cols, keyPos, slots, tail.firstKey!) >= 0) bail('key order where the tail lane starts');
        // The key scratch gets the tail's values too, in line order: decoding a few columns costs little beside rendering every one.
        if (fk.length > 0) {
          const row = new Array<unknown>(n);
          for (let b = tail.from; b < this.claims!.count; b++) {
            const d = this.batches.dataAt(b);
            bindBatch(cols, d.children, b, fk);
            for (let i = 0; i < d.length; i++) {
              for (const c of fk) row[c] = cols[c]!.value(i);
              if (!input.addKeys(row, line + 1 + i)) bail(`line ${line + 1 + i}: a unique value repeats`);
            }
            line += d.length;
          }
        }
        rows += tail.rows;
        fastLaneStats.tailRows += tail.rows;
      }
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
    return compareKeyValues(col.kind, prev.buf, 0, prev.len, b, s, e);
  }
}

/** Two non-null key values by their canonical bytes: text, dates, timestamps and booleans bytewise, numbers by value. */
function compareKeyValues(kind: number, a: Buffer, as: number, ae: number, b: Buffer, bs: number, be: number): number {
  if (kind !== INT && kind !== DEC) return compareBytes(a, as, ae, b, bs, be);
  const am = magnitude(a, as, ae);
  const bm = magnitude(b, bs, be);
  if (!Number.isNaN(am) && !Number.isNaN(bm)) {
    const av = a[as] === 45 ? -am : am;
    const bv = b[bs] === 45 ? -bm : bm;
    return av < bv ? -1 : av > bv ? 1 : 0;
  }
  return compareDecimalText(a.toString('latin1', as, ae), b.toString('latin1', bs, be));
}

/** ASCII digit pairs: 00 to 99. */
const PAIRS = (() => {
  const t = new Uint8Array(200);
  for (let v = 0; v < 100; v++) {
    t[2 * v] = 48 + Math.floor(v / 10);
    t[2 * v + 1] = 48 + (v % 10);
  }
  return t;
})();

/** How many digits a whole number below 2^53 has (1 for 0). */
function digitCount(m: number): number {
  if (m < 100000) return m < 10 ? 1 : m < 100 ? 2 : m < 1000 ? 3 : m < 10000 ? 4 : 5;
  let len = 6;
  for (let t = 1000000; m >= t && len < 16; t *= 10) len++;
  return len;
}

/** The digits of a whole number below 2^53, ending just before `q` (written backwards); where they start. */
function writeBackwards(out: Buffer, q: number, m: number): number {
  let v = m;
  // Beyond 31 bits the arithmetic is on doubles (slower, still exact below 2^53).
  while (v >= 2147483648) {
    const t = Math.floor(v / 10);
    out[--q] = 48 + (v - t * 10);
    v = t;
  }
  // Small integers: V8 keeps them as integers, where division by a constant is a multiplication.
  let w = v | 0;
  while (w >= 100) {
    const t = (w / 100) | 0;
    const r = 2 * (w - t * 100);
    out[--q] = PAIRS[r + 1]!;
    out[--q] = PAIRS[r]!;
    w = t;
  }
  if (w >= 10) {
    out[--q] = PAIRS[2 * w + 1]!;
    out[--q] = PAIRS[2 * w]!;
  } else out[--q] = 48 + w;
  return q;
}

/** The digits of a whole number below 2^53 at `p`; the position after them. */
function writeDigits(out: Buffer, p: number, m: number): number {
  const end = p + digitCount(m);
  writeBackwards(out, end, m);
  return end;
}

/** Two digits (00 to 99) at `p`. */
function write2(out: Buffer, p: number, v: number): void {
  out[p] = PAIRS[2 * v]!;
  out[p + 1] = PAIRS[2 * v + 1]!;
}

/** The characters (code points) of valid UTF-8 bytes, as the slow lane's length check counts them: every byte but a continuation byte. */
function codePoints(bytes: Uint8Array, o0: number, o1: number): number {
  let n = 0;
  for (let k = o0; k < o1; k++) if ((bytes[k]! & 0xc0) !== 0x80) n++;
  return n;
}

/** Text that holds a comma, quote or line break as export writes it: in quotes, a quote doubled. */
function quoted(bytes: Uint8Array, o0: number, o1: number, out: Buffer, p: number): number {
  out[p++] = 34;
  for (let k = o0; k < o1; k++) {
    const ch = bytes[k]!;
    if (ch === 34) out[p++] = 34;
    out[p++] = ch;
  }
  out[p++] = 34;
  return p;
}

/** Whether a number whose canonical text has `len` characters certainly passes the column's bounds, as verify-data's `range` decides (false: not sure, or not). */
function inRange(col: FastCol, v: number, len: number): boolean {
  if (len > 15) return false;
  if (col.min !== undefined) {
    const r = v - col.min;
    if (Number.isNaN(r) || (col.exclusiveMin ? r <= 0 : r < 0)) return false;
  }
  return !(col.max !== undefined && !(v - col.max <= 0));
}

/** `YYYY-MM-DD` of days since the epoch at `p` (the last answer reused while the day repeats); -1 outside the years 0001–9999. */
function writeDate(col: FastCol, out: Buffer, p: number, days: number): number {
  const last = col.renderedDate;
  if (days !== col.renderedDays) {
    if (!(days >= FIRST_DAY && days <= LAST_DAY)) return -1;
    last.write(formatDays(days), 0, 'latin1');
    col.renderedDays = days;
  }
  for (let k = 0; k < 10; k++) out[p + k] = last[k]!;
  return p + 10;
}

// The canonical CSV field of Arrow row `i` (not null) at `p`, one function a type: the position
// after it, or -1 where the value is not certainly valid by itself (see render).

function renderText(col: FastCol, i: number, out: Buffer, p: number): number {
  const j = col.off + i;
  const o0 = col.offsets[j]!;
  const o1 = col.offsets[j + 1]!;
  if (o1 - o0 > col.maxBytes && codePoints(col.bytes, o0, o1) > col.maxBytes) return -1;
  if (o1 === o0) {
    out[p] = 34;
    out[p + 1] = 34;
    return p + 2;
  }
  const bytes = col.bytes;
  const start = p;
  for (let k = o0; k < o1; k++) {
    const ch = bytes[k]!;
    if (ch === 44 || ch === 34 || ch === 13 || ch === 10) return quoted(bytes, o0, o1, out, start);
    out[p++] = ch;
  }
  return p;
}

function renderEnum(col: FastCol, i: number, out: Buffer, p: number): number {
  const j = col.off + i;
  const o0 = col.offsets[j]!;
  const len = col.offsets[j + 1]! - o0;
  const bytes = col.bytes;
  const values = col.enumValues;
  for (let e = 0; e < values.length; e++) {
    // The value matched last first: a column's values repeat.
    const x = e === 0 ? col.lastEnum : e === col.lastEnum ? 0 : e;
    const v = values[x]!;
    if (v.length !== len) continue;
    let k = 0;
    while (k < len && v[k] === bytes[o0 + k]) k++;
    if (k < len) continue;
    if (len === 0) return -1;
    col.lastEnum = x;
    const start = p;
    for (k = 0; k < len; k++) {
      const ch = v[k]!;
      if (ch === 44 || ch === 34 || ch === 13 || ch === 10) return quoted(v, 0, len, out, start);
      out[p++] = ch;
    }
    return p;
  }
  return -1;
}

function renderInteger(col: FastCol, i: number, out: Buffer, p: number): number {
  const j = col.off + i;
  const w = col.words;
  const hi = w[2 * j + 1]!;
  const lo = w[2 * j]!;
  if (hi === lo >> 31 && lo !== -2147483648) {
    // Within 32 bits (the high word only the sign of the low one): integer arithmetic throughout.
    if (col.ranged && !inRange(col, lo, 0)) return -1;
    col.num = lo;
    if (lo < 0) {
      out[p++] = 45;
      return writeDigits(out, p, -lo);
    }
    return writeDigits(out, p, lo);
  }
  return renderIntegerWide(col, j, out, p);
}

function renderIntegerWide(col: FastCol, j: number, out: Buffer, p: number): number {
  const w = col.words;
  const hi = w[2 * j + 1]!;
  if (hi < -2097152 || hi >= 2097152) return -1;
  const v = hi * TWO32 + (w[2 * j]! >>> 0);
  if (!Number.isSafeInteger(v)) return -1;
  col.num = v;
  if (v < 0) out[p++] = 45;
  p = writeDigits(out, p, v < 0 ? -v : v);
  // A whole number below 2^53 is exact as a number: its bounds compare exactly at any length.
  return col.ranged && !inRange(col, v, 0) ? -1 : p;
}

function renderDecimal(col: FastCol, i: number, out: Buffer, p: number): number {
  const j = col.off + i;
  const a = col.i32;
  const lo = a[4 * j]!;
  const sign = lo >> 31;
  const scale = col.scale;
  if (a[4 * j + 1] === sign && a[4 * j + 2] === sign && a[4 * j + 3] === sign && lo !== -2147483648 && scale <= 9) {
    // Within 32 bits (the high words only the sign of the low one): read without float arithmetic.
    col.num = lo;
    if (lo < 0) out[p++] = 45;
    const end = writeUnscaled(col, out, p, lo < 0 ? -lo : lo);
    return end < 0 || (col.ranged && !inRange(col, lo / col.pow, end - (lo < 0 ? p - 1 : p))) ? -1 : end;
  }
  return renderDecimalWide(col, j, out, p);
}

function renderDecimalWide(col: FastCol, j: number, out: Buffer, p: number): number {
  const u = col.u32;
  const w0 = u[4 * j]!;
  const w1 = u[4 * j + 1]!;
  const w2 = u[4 * j + 2]!;
  const w3 = u[4 * j + 3]!;
  let m: number;
  let neg: boolean;
  if (w2 === 0 && w3 === 0 && w1 < 0x200000) {
    m = w1 * TWO32 + w0;
    neg = false;
  } else if (w2 === 0xffffffff && w3 === 0xffffffff && w1 >= 0xffe00000) {
    m = (0xffffffff - w1) * TWO32 + (TWO32 - w0);
    neg = true;
  } else return -1;
  const scale = col.scale;
  if (scale > 9) return -1;
  col.num = neg ? -m : m;
  const start = p;
  if (neg && m !== 0) out[p++] = 45;
  const end = writeUnscaled(col, out, p, m);
  return end < 0 || (col.ranged && !inRange(col, (neg ? -m : m) / col.pow, end - start)) ? -1 : end;
}

/**
 * A decimal's unscaled magnitude `m` (below 2^53) at `p`, at least one digit before the point and
 * the point before the last `scale` (no division by 10^scale), zero-padded to it (0.001, not
 * .001); the position after it, or -1 with more whole digits than the column's precision allows.
 */
function writeUnscaled(col: FastCol, out: Buffer, p: number, m: number): number {
  const scale = col.scale;
  const len = Math.max(digitCount(m), scale + 1);
  if (len - scale > col.maxIntDigits) return -1;
  const end = p + len + (scale > 0 ? 1 : 0);
  let q = end;
  let v = m;
  if (scale > 0) {
    for (let k = 0; k < scale; k++) {
      const t = v < 2147483648 ? ((v | 0) / 10) | 0 : Math.floor(v / 10);
      out[--q] = 48 + (v - t * 10);
      v = t;
    }
    out[--q] = 46;
  }
  const first = writeBackwards(out, q, v);
  for (let k = p; k < first; k++) out[k] = 48;
  return end;
}

function renderBoolean(col: FastCol, i: number, out: Buffer, p: number): number {
  const j = col.off + i;
  col.num = (col.bytes[j >> 3]! >> (j & 7)) & 1;
  if (col.num === 1) {
    out[p] = 116;
    out[p + 1] = 114;
    out[p + 2] = 117;
    out[p + 3] = 101;
    return p + 4;
  }
  out[p] = 102;
  out[p + 1] = 97;
  out[p + 2] = 108;
  out[p + 3] = 115;
  out[p + 4] = 101;
  return p + 5;
}

function renderTimestamp(col: FastCol, i: number, out: Buffer, p: number): number {
  const j = col.off + i;
  const w = col.words;
  const hi = w[2 * j + 1]!;
  if (hi < -2097152 || hi >= 2097152) return -1;
  const t = hi * TWO32 + (w[2 * j]! >>> 0);
  col.num = t;
  let r = t - col.dayStart;
  if (r >= 0 && r < 86400000) {
    // The day written last (writeDate's copy of it).
    const last = col.renderedDate;
    for (let k = 0; k < 10; k++) out[p + k] = last[k]!;
    p += 10;
  } else {
    const days = Math.floor(t / 86400000);
    r = t - days * 86400000;
    if (r < 0 || r >= 86400000) return -1;
    p = writeDate(col, out, p, days);
    if (p < 0) return -1;
    col.dayStart = days * 86400000;
  }
  r |= 0;
  const h = (r / 3600000) | 0;
  r -= h * 3600000;
  const mi = (r / 60000) | 0;
  r -= mi * 60000;
  const sec = (r / 1000) | 0;
  const ms = r - sec * 1000;
  const hundreds = (ms / 100) | 0;
  out[p] = 84;
  write2(out, p + 1, h);
  out[p + 3] = 58;
  write2(out, p + 4, mi);
  out[p + 6] = 58;
  write2(out, p + 7, sec);
  out[p + 9] = 46;
  out[p + 10] = 48 + hundreds;
  write2(out, p + 11, ms - hundreds * 100);
  out[p + 13] = 90;
  return p + 14;
}
