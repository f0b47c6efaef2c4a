import type { Knex } from 'knex';
import { compareText } from '../bundle/order.js';
import { StoreError } from '../core/errors.js';
import type { Column, ColumnType, Entity } from '../model/types.js';
import type { SchemaTables } from './types.js';

/**
 * The read side shared by every store (`describeTables`, `readRows`): the forklift_tables record
 * of what forklift created, the choice between that record and the catalog, and the turning of a
 * value as the store holds it into the staging form of the column asked for (mapping/coerce.ts).
 *
 * Each store reads its catalog into NativeTables (the native type of every column, classified as a
 * NativeKind, and the model Column that type stands for), and builds its own SELECT and ORDER BY;
 * what a kind means for the value and for the order is decided here, once, for all of them:
 *
 * - A column's value is first read in the staging form of its native kind (text; an integer as a
 *   number, or a digit string beyond 2^53; a decimal as exact fixed-scale text; a boolean 1/0; a
 *   date `YYYY-MM-DD`; an instant `YYYY-MM-DDTHH:mm:ss.SSSZ`; anything else as the server's text of
 *   it), then adapted to the model column asked for (adaptValue): a decimal gets the column's
 *   scale, an integer read into a string column becomes its text, and so on.
 * - The ORDER BY must give the order of src/bundle/order.ts over the values returned, so it
 *   follows the model column's comparison (sortBy): integers, booleans and decimals by value in
 *   the native type; strings, enums, dates and timestamps by the code points of the text returned,
 *   which for a native date or instant is its time order (ISO text of years 0000-9999 sorts by
 *   time), and for anything else the binary order of that very text.
 */

/** The bookkeeping table of the definitions forklift loaded (SPEC section 3 types, verbatim). */
export const TABLES_TABLE = 'forklift_tables';

/**
 * Rows per batch yielded by readRows. Small on purpose: a batch is built across several reads of
 * the connection, and a 10,000-row batch outlived the young generation, so every row was copied to
 * the old one and collected there (export from PostgreSQL: 1.6x the peak memory, 25% more CPU).
 */
export const READ_ROWS_BATCH = 1_000;

/** How a store's native type reads: the staging form it gives before adaptation to the model. */
export type NativeKind = 'text' | 'integer' | 'decimal' | 'boolean' | 'date' | 'timestamp' | 'other';

export interface NativeColumn {
  name: string;
  /** The store's type as its catalog names it (messages and store-specific reads). */
  nativeType: string;
  kind: NativeKind;
  /** decimal: the scale the store prints. */
  scale?: number | undefined;
  /** timestamp: the digits of a second's fraction it keeps (3: milliseconds). */
  fraction?: number | undefined;
  /** timestamp: false for a type without a time zone where the store has both (PostgreSQL). */
  zoned?: boolean | undefined;
  /** The column as the catalog describes it (references are filled in from the foreign keys). */
  column: Column;
}

export interface ForeignKey {
  columns: string[];
  table: string;
  refColumns: string[];
}

export interface NativeTable {
  name: string;
  description?: string | undefined;
  columns: NativeColumn[];
  primaryKey: string[];
  foreignKeys: ForeignKey[];
  /** Unique constraints and unique indexes (not the primary key), each a list of columns. */
  uniques: string[][];
}

const COLUMN_TYPES = new Set<ColumnType>(['string', 'text', 'integer', 'decimal', 'boolean', 'date', 'timestamp', 'enum']);

// ---------------------------------------------------------------------------------------------
// forklift_tables

/**
 * The definition forklift records for a table it creates or loads: the Entity without `rules`
 * (validation's business, not the table's), keys in a fixed order, so the same model gives the
 * same text on every store.
 */
export function tableDefinition(e: Entity): string {
  return JSON.stringify({
    name: e.name,
    ...(e.description !== undefined ? { description: e.description } : {}),
    columns: e.columns,
    primaryKey: e.primaryKey,
  });
}

/** The rows that record the definitions of a load's tables: [name, definition]. */
export function tableRecords(entities: readonly Entity[]): [string, string][] {
  return entities.map((e) => [e.name, tableDefinition(e)]);
}

/** A recorded definition back as an entity (rules empty), or undefined where it is not one. */
export function parseTableDefinition(text: unknown): Entity | undefined {
  if (typeof text !== 'string') return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as { name?: unknown; description?: unknown; columns?: unknown; primaryKey?: unknown };
  if (typeof o.name !== 'string' || !Array.isArray(o.columns) || !Array.isArray(o.primaryKey)) return undefined;
  if (!o.primaryKey.every((k) => typeof k === 'string')) return undefined;
  const columns: Column[] = [];
  for (const c of o.columns as unknown[]) {
    if (typeof c !== 'object' || c === null) return undefined;
    const col = c as Partial<Column>;
    if (typeof col.name !== 'string' || !COLUMN_TYPES.has(col.type as ColumnType)) return undefined;
    columns.push({ ...(col as Column), required: col.required === true });
  }
  return {
    name: o.name,
    ...(typeof o.description === 'string' ? { description: o.description } : {}),
    columns,
    primaryKey: o.primaryKey as string[],
    rules: [],
  };
}

// ---------------------------------------------------------------------------------------------
// describeTables

/** The catalog's description of a table as an entity (single-column foreign keys as references). */
export function catalogEntity(t: NativeTable): Entity {
  const refs = new Map<string, { entity: string; column: string }>();
  // The model's references are single-column: a composite foreign key is left out (it cannot be
  // said column by column without claiming each column alone references something).
  for (const fk of t.foreignKeys) {
    if (fk.columns.length !== 1 || fk.refColumns.length !== 1) continue;
    const col = fk.columns[0]!;
    if (!refs.has(col)) refs.set(col, { entity: fk.table, column: fk.refColumns[0]! });
  }
  const unique = new Set(t.uniques.filter((u) => u.length === 1).map((u) => u[0]!));
  // A single-column primary key is unique already; the model says so with primaryKey alone.
  const columns = t.columns.map((n): Column => {
    const c: Column = { ...n.column };
    if (t.primaryKey.includes(c.name)) c.required = true;
    if (unique.has(c.name) && !(t.primaryKey.length === 1 && t.primaryKey[0] === c.name)) c.unique = true;
    const r = refs.get(c.name);
    if (r) c.references = r;
    return c;
  });
  return { name: t.name, ...(t.description ? { description: t.description } : {}), columns, primaryKey: [...t.primaryKey], rules: [] };
}

/**
 * Whether a recorded column can still be read as recorded from the native column: the same family
 * of types (any text for string, text and enum; the same scale for a decimal). `loose` for SQLite,
 * whose catalog knows only INTEGER and TEXT (forklift keeps decimals, dates and instants as text).
 */
export function compatible(recorded: Column, native: NativeColumn, loose: boolean): boolean {
  const k = native.kind;
  if (loose) {
    const intLike = recorded.type === 'integer' || recorded.type === 'boolean';
    return intLike ? k === 'integer' : k === 'text' || k === 'other';
  }
  switch (recorded.type) {
    case 'string':
    case 'text':
    case 'enum':
      return k === 'text';
    case 'integer':
      return k === 'integer';
    case 'boolean':
      return k === 'boolean';
    case 'decimal':
      return k === 'decimal' && (recorded.scale ?? native.scale) === native.scale;
    case 'date':
      return k === 'date';
    case 'timestamp':
      return k === 'timestamp';
  }
}

/**
 * Every table of a store described: the recorded definition for each column that still has it
 * (by name, of a compatible type), the catalog's description for the others, and for a table
 * without a record. Sorted by name (code point order). forklift_tables itself is left out.
 */
export function describeFrom(tables: readonly NativeTable[], recorded: ReadonlyMap<string, unknown>, opts: { loose?: boolean } = {}): Entity[] {
  const out: Entity[] = [];
  for (const t of tables) {
    if (t.name === TABLES_TABLE) continue;
    const rec = parseTableDefinition(recorded.get(t.name));
    out.push(rec && rec.name === t.name ? fromRecord(rec, t, opts.loose === true) : catalogEntity(t));
  }
  return out.sort((a, b) => compareText(a.name, b.name));
}

/**
 * A recorded table as it stands. One column added or changed by hand must not cost the others
 * their types (a boolean read back as an integer, a decimal as text: every column a false type
 * change in a diff). A recorded column whose native type is no longer compatible is the catalog's,
 * since its values may no longer be what the record says; one no longer in the table is gone. The
 * recorded columns keep the record's order, the others follow in the table's.
 */
function fromRecord(rec: Entity, t: NativeTable, loose: boolean): Entity {
  const native = new Map(t.columns.map((c) => [c.name, c]));
  const kept = new Set<string>();
  for (const c of rec.columns) {
    const n = native.get(c.name);
    if (n !== undefined && compatible(c, n, loose)) kept.add(c.name);
  }
  if (kept.size === rec.columns.length && kept.size === t.columns.length) return rec;
  const catalog = new Map(catalogEntity(t).columns.map((c) => [c.name, c]));
  const inRecord = new Set(rec.columns.map((c) => c.name));
  const columns: Column[] = [];
  for (const c of rec.columns) {
    if (kept.has(c.name)) columns.push(c);
    else if (catalog.has(c.name)) columns.push(catalog.get(c.name)!);
  }
  for (const n of t.columns) if (!inRecord.has(n.name)) columns.push(catalog.get(n.name)!);
  // The recorded key where the table still keys on those very columns as recorded; else the catalog's.
  const key = rec.primaryKey.length > 0 && rec.primaryKey.every((k) => kept.has(k)) ? rec.primaryKey : [...t.primaryKey];
  return { name: t.name, ...(rec.description !== undefined ? { description: rec.description } : {}), columns, primaryKey: key, rules: [] };
}

// ---------------------------------------------------------------------------------------------
// readRows: values and order

/** An integer in the staging form: a number, or its digit string beyond 2^53. */
export function toInteger(v: unknown): unknown {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v.toString();
  if (typeof v === 'string') {
    // Up to 15 digits always fits; otherwise check.
    if (v.length <= 15 && /^-?\d+$/.test(v)) return Number(v);
    const n = Number(v);
    return Number.isSafeInteger(n) && /^-?\d+$/.test(v) ? n : v;
  }
  return v;
}

const DECIMAL_TEXT = /^([+-]?)(\d*)(?:\.(\d*))?$/;

/**
 * Decimal text with exactly `scale` fraction digits: `12.5` to `12.5000` for scale 4. Never rounds:
 * digits beyond the scale are dropped only where they are zeros, so a value the column cannot hold
 * exactly keeps its digits (and fails verification) instead of silently changing. Leading zeros and
 * a negative zero are normalized. Text that is not a decimal is returned as it is.
 */
export function fixScale(text: string, scale: number | undefined): string {
  if (scale === undefined) return text;
  const dot = text.indexOf('.');
  // The common case: already canonical (what the servers print for their own decimal(p, s)).
  if ((scale === 0 ? dot === -1 : dot > 0 && text.length - dot - 1 === scale) && /^-?(0|[1-9]\d*)(\.\d+)?$/.test(text) && !/^-0(\.0*)?$/.test(text)) return text;
  const m = DECIMAL_TEXT.exec(text);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return text;
  const int = m[2]!.replace(/^0+(?=\d)/, '') || '0';
  let frac = m[3] ?? '';
  if (frac.length > scale) {
    const cut = frac.slice(scale);
    frac = /^0*$/.test(cut) ? frac.slice(0, scale) : frac.replace(/0+$/, '');
  }
  if (frac.length < scale) frac = frac.padEnd(scale, '0');
  const body = frac.length ? `${int}.${frac}` : int;
  const negative = m[1] === '-' && /[1-9]/.test(int + frac);
  return negative ? `-${body}` : body;
}

/**
 * The adaptation of a value read in its native kind's staging form to the model column asked for,
 * or undefined where none is needed (the common case: forklift's own tables). NULL never reaches it.
 */
export function adaptValue(model: Column, native: Pick<NativeColumn, 'kind' | 'scale'>): ((v: unknown) => unknown) | undefined {
  const k = native.kind;
  switch (model.type) {
    case 'string':
    case 'text':
    case 'enum':
    case 'date':
    case 'timestamp':
      if (k === 'integer' || k === 'boolean') return (v) => (typeof v === 'string' ? v : String(v));
      return undefined;
    case 'integer':
    case 'boolean':
      if (k === 'integer' || k === 'boolean') return undefined;
      return toInteger;
    case 'decimal': {
      const scale = model.scale;
      if (k === 'decimal' && (scale === undefined || scale === native.scale)) return undefined;
      if (scale === undefined) return (v) => (typeof v === 'string' ? v : String(v));
      return (v) => fixScale(typeof v === 'string' ? v : String(v), scale);
    }
  }
}

/**
 * How a column's ORDER BY must sort for the canonical order of the values readRows returns:
 * `native` by the native type's own order (values by value, dates and instants by time),
 * `text` by the binary (code point) order of the text returned, `decimal-text` by the value of
 * decimal text (SQLite, where forklift keeps decimals as text).
 */
export type SortBy = 'native' | 'text' | 'decimal-text';

export function sortBy(model: Column, native: Pick<NativeColumn, 'kind'>): SortBy {
  const k = native.kind;
  switch (model.type) {
    case 'integer':
    case 'boolean':
    case 'decimal':
      // A number kept as text is ordered by its value where the store can (SQLite); a server's
      // text column read as a number keeps its own order (a mismatch the reader's order check catches).
      return k === 'text' || k === 'other' ? (model.type === 'decimal' ? 'decimal-text' : 'native') : 'native';
    case 'string':
    case 'text':
    case 'enum':
    case 'date':
    case 'timestamp':
      return k === 'date' || k === 'timestamp' || k === 'boolean' ? 'native' : 'text';
  }
}

/** The columns the canonical order runs over: the primary key, or every column where there is none. */
export function orderColumns(e: Entity): Column[] {
  const byName = new Map(e.columns.map((c) => [c.name, c]));
  if (e.primaryKey.length === 0) return e.columns;
  return e.primaryKey.map((k) => {
    const c = byName.get(k);
    if (!c) throw new Error(`${e.name}: primary key column ${k} is not one of its columns`);
    return c;
  });
}

/**
 * A sortable text key for decimal text, for stores that keep decimals as text (SQLite): exact,
 * whatever the number of digits. Numbers sort as numbers; other text after every number.
 */
export function decimalSortKey(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const s = typeof v === 'string' ? v.trim() : String(v);
  const m = DECIMAL_TEXT.exec(s);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return `z${s}`;
  const int = m[2]!.replace(/^0+/, '');
  const frac = (m[3] ?? '').replace(/0+$/, '');
  if (int === '' && frac === '') return 'o';
  const len = String(int.length).padStart(6, '0');
  if (m[1] !== '-') return `p${len}${int}.${frac}`;
  // Negative: a larger magnitude sorts first, so the digits are complemented, and `~` (above every
  // digit) ends the fraction, so -0.5 (`4~`) sorts after -0.51 (`48~`).
  const comp = (d: string): string => d.replace(/\d/g, (c) => String(9 - Number(c)));
  return `n${comp(len)}${comp(int)}.${comp(frac)}~`;
}

/** The entity's columns checked against the table's: every one must exist. */
export function nativeColumnsFor(e: Entity, t: Pick<NativeTable, 'name' | 'columns'>): NativeColumn[] | { missing: string } {
  const byName = new Map(t.columns.map((c) => [c.name, c]));
  const out: NativeColumn[] = [];
  for (const c of e.columns) {
    const n = byName.get(c.name);
    if (!n) return { missing: c.name };
    out.push(n);
  }
  return out;
}

/**
 * Decodes rows in place and gathers them into batches of READ_ROWS_BATCH: `push` returns a full
 * batch to yield, `rest` the last one. Shared by every store's row reader (sync and async sources).
 */
export class RowBatcher {
  private batch: unknown[][] = [];
  private readonly n: number;

  constructor(
    private readonly decode: readonly ((v: unknown) => unknown)[],
    private readonly signal?: AbortSignal,
  ) {
    this.n = decode.length;
  }

  push(r: unknown[]): unknown[][] | null {
    const decode = this.decode;
    for (let i = 0; i < this.n; i++) {
      const v = r[i];
      r[i] = v === null || v === undefined ? null : decode[i]!(v);
    }
    this.batch.push(r);
    if (this.batch.length < READ_ROWS_BATCH) return null;
    this.signal?.throwIfAborted();
    const full = this.batch;
    this.batch = [];
    return full;
  }

  rest(): unknown[][] | null {
    this.signal?.throwIfAborted();
    return this.batch.length ? this.batch : null;
  }
}

/**
 * The fraction of a second of an instant read with every digit its store keeps (up to six), as it
 * goes after the dot of the ISO text: exactly milliseconds (`5` to `500`, `123000` to `123`) where
 * the digits below the millisecond are zeros, else every digit up to the last non-zero one
 * (`123456`, `1234`), which exactInstants then refuses. Never rounds.
 */
export function isoFraction(digits: string): string {
  const n = digits.length;
  if (n <= 3) return n === 3 ? digits : digits.padEnd(3, '0');
  let end = n;
  while (end > 3 && digits.charCodeAt(end - 1) === 48) end--;
  return end === n ? digits : digits.slice(0, end);
}

const ZONED_INSTANT = /^(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,3}))?(Z|[+-]\d\d:?\d\d)$/;

/**
 * An instant kept as text (SQLite) in the staging form `YYYY-MM-DDTHH:mm:ss.SSSZ`: text written
 * with an offset by another tool (`2025-11-03T06:00:47.000+01:00`) is the UTC instant it names,
 * exactly (the offset says which instant; nothing is lost). Other text, and an instant outside the
 * years 0001 to 9999 once in UTC, comes back as it is, for the bundle's check to refuse by name.
 * Export and diff read instants through this one function, so they agree on what a value is.
 */
export function utcInstantText(text: string): string {
  if (text.length === 24 && text.charCodeAt(23) === 90 && text.charCodeAt(10) === 84 && text.charCodeAt(19) === 46) return text;
  const m = ZONED_INSTANT.exec(text);
  if (!m) return text;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Number((m[7] ?? '').padEnd(3, '0'));
  const zone = m[8]!;
  let offset = 0;
  if (zone !== 'Z') {
    const digits = zone.replace(':', '');
    const oh = Number(digits.slice(1, 3));
    const om = Number(digits.slice(3, 5));
    if (oh > 23 || om > 59) return text;
    offset = (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  if (h > 23 || mi > 59 || sec > 59) return text;
  const local = new Date(0);
  local.setUTCFullYear(y, mo - 1, d);
  // A day that is not in the calendar (2025-02-31) is not taken as another one.
  if (local.getUTCFullYear() !== y || local.getUTCMonth() !== mo - 1 || local.getUTCDate() !== d) return text;
  const utc = new Date(local.getTime() + ((h * 60 + mi) * 60 + sec) * 1000 + ms - offset);
  const year = utc.getUTCFullYear();
  return year >= 1 && year <= 9999 ? utc.toISOString() : text;
}

/** Whether an instant's ISO text has digits below the millisecond (`…:00.123456Z`). */
export function belowMilliseconds(text: string): boolean {
  // The staging form ends in `.SSSZ`: its dot is fifth from the end; only other text is looked into.
  return text.charCodeAt(text.length - 5) !== 46 && /\.\d{4,}Z$/.test(text);
}

/**
 * A native instant's decoder that refuses, with a StoreError, an instant with digits below the
 * millisecond: the staging form, the bundle's CSV and its Arrow Timestamp(ms) hold milliseconds,
 * and cutting the rest would change the value without a word (and, in a key, the order of keys).
 */
export function exactInstants<V>(table: string, column: string, decode: (v: V) => unknown): (v: V) => unknown {
  return (v) => {
    const s = decode(v);
    if (typeof s === 'string' && belowMilliseconds(s)) {
      throw new StoreError(`table ${table}, column ${column}: the value ${s} has digits below the millisecond, which forklift cannot keep (its timestamps have milliseconds); it stopped rather than cut them`, {
        code: 'store.sub-millisecond',
        hint: `Where the digits below the millisecond may go, take them off in the source first (PostgreSQL: SET ${column} = date_trunc('milliseconds', ${column}); MySQL/MariaDB: make the column DATETIME(3) or TIMESTAMP(3)); forklift export can also leave ${table} out with --tables.`,
      });
    }
    return s;
  };
}

/**
 * Each column's decoder: the store's native decoder (instants checked by exactInstants), then the
 * model column's adaptation (scale, type). An instant read as text (the model says string, as the
 * ledger's `started` in RUNS_ENTITY does) is not checked: its text keeps every digit, none is cut.
 */
export function columnDecoders<N extends NativeColumn, V>(e: Entity, native: readonly N[], nativeDecoder: (n: N) => (v: V) => unknown): ((v: V) => unknown)[] {
  return e.columns.map((c, i) => {
    const n = native[i]!;
    const asText = c.type === 'string' || c.type === 'text';
    const base = n.kind === 'timestamp' && !asText ? exactInstants(e.name, n.name, nativeDecoder(n)) : nativeDecoder(n);
    const adapt = adaptValue(c, n);
    return adapt ? (v: V) => adapt(base(v)) : base;
  });
}

/**
 * The largest decimal precision forklift keeps as a decimal (the model's limit, the bundle's
 * Arrow Decimal128): a wider decimal column (MariaDB's decimal(65,30), PostgreSQL's numeric(50,10))
 * is described as text, its values the exact text the server prints.
 */
export const MAX_DECIMAL_PRECISION = 38;

/** Catalog rows (schema, table), sorted by schema, as one entry per schema. */
export function bySchema(rows: readonly { s: string; t: string }[]): SchemaTables[] {
  const out: SchemaTables[] = [];
  for (const r of rows) {
    const last = out[out.length - 1];
    if (last?.schema === r.s) last.tables.push(r.t);
    else out.push({ schema: r.s, tables: [r.t] });
  }
  return out;
}

/** The connections a knex pool has lent out now (tarn keeps them in `used`): those that may be running a statement. */
export function pooledConnections<T>(k: Knex): T[] {
  const pool = (k.client as { pool?: { used?: { resource: T }[] } }).pool;
  return (pool?.used ?? []).map((u) => u.resource);
}

/** A load stopped by its signal (Ctrl-C): the one error every store gives for it, or undefined for any other failure. */
export function interruptedLoadError(e: unknown, display: string): StoreError | undefined {
  if (!(e instanceof Error && e.name === 'AbortError')) return undefined;
  return new StoreError(`${display}: the load was interrupted; nothing was committed`, { code: 'store.interrupted', hint: 'Run the same command again to load everything.', cause: e });
}
