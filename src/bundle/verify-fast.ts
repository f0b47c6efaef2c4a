import { isUtf8 } from 'node:buffer';
import { readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Type, type Data, type DataType, type DateDay, type Decimal, type Field, type Int64, type TimestampMillisecond } from 'apache-arrow';
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
export const fastLaneStats = { taken: 0, bailed: 0, lastBail: '', batchesRendered: 0, batchesByRecord: 0 };

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

  /** The number renderValue rendered last for a numeric, date, time or boolean column (key order compares it). */
  num = 0;
  /** The date renderBatch wrote last, and its days. */
  readonly renderedDate = Buffer.alloc(10);
  renderedDays = NaN;

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
  const batches = new ArrowFileBlocks(input.arrow, { reuse: true });
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
  /** Record batches read so far, and the one the batch path last tried (it tries each once). */
  private batchNo = 0;
  private tried = -1;
  /** The current batch's CSV bytes as export writes them, rendered from its Arrow values. */
  private out = Buffer.allocUnsafe(1 << 16);
  /** Per row and primary-key column: where its value's bytes start and end in `out`. */
  private keyAt = new Int32Array(0);
  /** Per row and primary-key column of a numeric, date, time or boolean type: its value as a number (exact). */
  private keyNum = new Float64Array(0);

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
    this.batchNo++;
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
      // Bytes the batch path wants in the buffer before it compares (0: none).
      let want = 0;
      for (;;) {
        if (line >= 1) {
          // The batch path: a whole record batch at once, when the CSV holds exactly the bytes export
          // writes for its Arrow values and those values are certainly valid (renderBatch);
          // otherwise, or on any difference, the batch goes record by record below.
          if (this.ar >= this.alen && this.more && !(eof && pos === len)) await this.nextBatch();
          if (want === 0 && this.ar === 0 && this.alen > 0 && this.tried !== this.batchNo) {
            this.tried = this.batchNo;
            want = Math.max(this.renderBatch(keyPos), 0);
            if (want === 0) fastLaneStats.batchesByRecord++;
          }
          if (want > 0 && (len - pos >= want || eof)) {
            const L = want;
            want = 0;
            if (len - pos >= L && this.out.compare(this.buf, pos, pos + L, 0, L) === 0 && this.batchKeys(keyPos, slots, line)) {
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
   * The CSV bytes export writes for the current record batch (CRLF after each row) into `out`, and
   * the key fields' extents into `keyAt`; their length, or -1 where a value is not certainly valid
   * by itself (a missing required value, text that needs quotes or may be too long, a value not in
   * the enum, a number beyond 2^53 or out of range, a date outside 0001–9999, a decimal with more
   * digits than its precision): the batch then goes record by record, which asks the slow lane.
   * Equal bytes are then every check of the record path at once: the CSV value is valid (the
   * rendering is canonical and the value was checked here) and equal to the Arrow value.
   */
  private renderBatch(keyPos: readonly number[]): number {
    const { n, cols, alen } = this;
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
    let p = 0;
    for (let i = 0; i < alen; i++) {
      for (let c = 0; c < n; c++) {
        if (c > 0) out[p++] = 44;
        const col = cols[c]!;
        const start = p;
        p = col.isNull(i) ? (col.required ? -1 : p) : renderValue(col, i, out, p);
        if (p < 0) return -1;
        for (let k = 0; k < nk; k++) {
          if (keyPos[k] !== c) continue;
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
  private batchKeys(keyPos: readonly number[], slots: readonly KeySlot[], line: number): boolean {
    const nk = keyPos.length;
    if (nk === 0) return true;
    const { out, keyAt, cols, alen } = this;
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

/** The digits of a whole number below 2^53 at `p`; the position after them. */
function writeDigits(out: Buffer, p: number, m: number): number {
  if (m < 10) {
    out[p] = 48 + m;
    return p + 1;
  }
  if (m >= 2147483648) {
    // Beyond 31 bits the arithmetic is on doubles (slower, still exact below 2^53).
    const low = m % 1000000000;
    return writePadded(out, writeDigits(out, p, (m - low) / 1000000000), low, 9);
  }
  // Small integers: V8 keeps them as integers, where % and | 0 are cheap.
  let v = m | 0;
  let len = 1;
  for (let t = v; t >= 10; t = (t / 10) | 0) len++;
  let q = p + len;
  while (v >= 10) {
    const t = (v / 10) | 0;
    out[--q] = 48 + v - t * 10;
    v = t;
  }
  out[--q] = 48 + v;
  return p + len;
}

/** Exactly `width` digits (at most 9) of `m` (zero-padded) at `p`. */
function writePadded(out: Buffer, p: number, m: number, width: number): number {
  let v = m | 0;
  for (let q = p + width - 1; q >= p; q--) {
    const t = (v / 10) | 0;
    out[q] = 48 + v - t * 10;
    v = t;
  }
  return p + width;
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

/** The canonical CSV field of Arrow row `i` (not null) at `p`; the position after it, or -1 (see renderBatch). */
function renderValue(col: FastCol, i: number, out: Buffer, p: number): number {
  const j = col.off + i;
  switch (col.kind) {
    case STR: {
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
    case ENUM: {
      const o0 = col.offsets[j]!;
      const len = col.offsets[j + 1]! - o0;
      const bytes = col.bytes;
      for (const v of col.enumValues) {
        if (v.length !== len) continue;
        let k = 0;
        while (k < len && v[k] === bytes[o0 + k]) k++;
        if (k < len) continue;
        if (len === 0) return -1;
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
    case INT: {
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
    case DEC: {
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
      const pow = col.pow;
      let frac = 0;
      let whole = m;
      if (scale > 0) {
        if (m < 2147483648 && pow < 2147483648) {
          whole = ((m | 0) / pow) | 0;
          frac = (m | 0) - whole * pow;
        } else {
          frac = m % pow;
          whole = (m - frac) / pow;
        }
        if (scale > 9) return -1;
      }
      col.num = neg ? -m : m;
      const start = p;
      if (neg && m !== 0) out[p++] = 45;
      const digitsAt = p;
      p = writeDigits(out, p, whole);
      if (p - digitsAt > col.maxIntDigits) return -1;
      if (scale > 0) {
        out[p++] = 46;
        p = writePadded(out, p, frac, scale);
      }
      return col.ranged && !inRange(col, (neg ? -m : m) / col.pow, p - start) ? -1 : p;
    }
    case BOOL: {
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
    case DATE:
      col.num = col.days[j]!;
      return writeDate(col, out, p, col.num);
    default: {
      const w = col.words;
      const hi = w[2 * j + 1]!;
      if (hi < -2097152 || hi >= 2097152) return -1;
      const t = hi * TWO32 + (w[2 * j]! >>> 0);
      col.num = t;
      const days = Math.floor(t / 86400000);
      let r = t - days * 86400000;
      if (r < 0 || r >= 86400000) return -1;
      p = writeDate(col, out, p, days);
      if (p < 0) return -1;
      r |= 0;
      const h = (r / 3600000) | 0;
      r -= h * 3600000;
      const mi = (r / 60000) | 0;
      r -= mi * 60000;
      const sec = (r / 1000) | 0;
      out[p] = 84;
      writePadded(out, p + 1, h, 2);
      out[p + 3] = 58;
      writePadded(out, p + 4, mi, 2);
      out[p + 6] = 58;
      writePadded(out, p + 7, sec, 2);
      out[p + 9] = 46;
      writePadded(out, p + 10, r - sec * 1000, 3);
      out[p + 13] = 90;
      return p + 14;
    }
  }
}
