import type { Column, Entity } from '../model/types.js';
import type { DeleteAction, DeleteTrigger, RowRange, StoreForeignKey } from './types.js';
import {
  MAX_DECIMAL_PRECISION,
  TABLES_TABLE,
  orderColumns,
  sortBy,
  toInteger,
  type NativeColumn,
  type NativeKind,
  type NativeTable,
  RowBatcher,
  columnDecoders,
  isoFraction,
} from './read-common.js';

/**
 * The read side of the MySQL/MariaDB store: the catalog of the URL's database
 * (information_schema), and a table's rows in canonical order from one streamed SELECT.
 *
 * Order: text sorts by its bytes, `ORDER BY CAST(col AS BINARY)`, never by the column's collation.
 * utf8mb4_bin is a PAD SPACE collation: under it 'a' and 'a ' are equal (their order undefined)
 * and 'a' sorts after 'a\t' (compared as 'a ' with 'a\t'), where code point order puts 'a' first.
 * The binary string of a utf8mb4 column is its UTF-8, whose byte order is code point order; a
 * column in another character set (latin1, the default of many servers) is converted to utf8mb4
 * first. An ENUM column sorts by its label, not its position in the type. NULLs sort first, as the
 * canonical order wants. Instants are read in UTC (the session's time_zone is +00:00) with every
 * digit of their datetime(0..6) or timestamp(0..6); those below the millisecond are refused.
 */

/** Created with the other tables, outside the load's transaction (DDL commits in MySQL). */
export const MYSQL_TABLES_DDL = `CREATE TABLE IF NOT EXISTS ${TABLES_TABLE} (
  name varchar(64) NOT NULL PRIMARY KEY,
  definition longtext NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;

/** Inside the load's transaction: the definitions commit with the rows. */
export const MYSQL_TABLES_UPSERT = `INSERT INTO ${TABLES_TABLE} (name, definition) VALUES (?, ?) ON DUPLICATE KEY UPDATE definition = VALUES(definition)`;

const qi = (name: string): string => `\`${name.replace(/`/g, '``')}\``;

export const MYSQL_TABLES_SQL = "SELECT TABLE_NAME AS t, TABLE_COMMENT AS d FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME";

/** Columns of every table of the database, or of one (`?`). */
export function mysqlColumnsSql(oneTable: boolean): string {
  return (
    'SELECT TABLE_NAME AS t, COLUMN_NAME AS c, DATA_TYPE AS dt, COLUMN_TYPE AS ct, CHARACTER_MAXIMUM_LENGTH AS len, NUMERIC_PRECISION AS p, NUMERIC_SCALE AS s, ' +
    'IS_NULLABLE AS nl, CHARACTER_SET_NAME AS cs, COLUMN_COMMENT AS cm FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()' +
    (oneTable ? ' AND TABLE_NAME = ?' : '') +
    ' ORDER BY TABLE_NAME, ORDINAL_POSITION'
  );
}

export const MYSQL_KEYS_SQL =
  'SELECT k.TABLE_NAME AS t, k.CONSTRAINT_NAME AS k, tc.CONSTRAINT_TYPE AS kind, k.COLUMN_NAME AS c, k.REFERENCED_TABLE_SCHEMA AS rs, k.REFERENCED_TABLE_NAME AS rt, k.REFERENCED_COLUMN_NAME AS rc ' +
  'FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.TABLE_CONSTRAINTS tc ON tc.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND tc.TABLE_NAME = k.TABLE_NAME AND tc.CONSTRAINT_NAME = k.CONSTRAINT_NAME ' +
  'WHERE k.TABLE_SCHEMA = DATABASE() ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION';

/** Every foreign key that references a table of the database, from whatever database; DATABASE() alongside. */
export const MYSQL_FOREIGN_KEYS_SQL =
  'SELECT DATABASE() AS db, k.CONSTRAINT_NAME AS name, k.TABLE_SCHEMA AS s, k.TABLE_NAME AS t, k.COLUMN_NAME AS c, k.REFERENCED_TABLE_NAME AS rt, k.REFERENCED_COLUMN_NAME AS rc, r.DELETE_RULE AS del ' +
  'FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME ' +
  'WHERE k.REFERENCED_TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION';

/** The triggers that act on a DELETE of a table of the store's database. */
export const MYSQL_DELETE_TRIGGERS_SQL =
  "SELECT EVENT_OBJECT_TABLE AS t, TRIGGER_NAME AS name, CONCAT(ACTION_TIMING, ' DELETE') AS `when` FROM information_schema.TRIGGERS " +
  "WHERE EVENT_OBJECT_SCHEMA = DATABASE() AND EVENT_MANIPULATION = 'DELETE' ORDER BY EVENT_OBJECT_TABLE, ACTION_ORDER, TRIGGER_NAME";

export interface MysqlForeignKeyRow {
  db: string;
  name: string;
  s: string;
  t: string;
  c: string;
  rt: string;
  rc: string;
  del: string;
}

const MYSQL_ACTIONS: Record<string, DeleteAction> = { CASCADE: 'cascade', 'SET NULL': 'set null', 'SET DEFAULT': 'set default', RESTRICT: 'restrict', 'NO ACTION': 'no action' };

/** The catalog's rows (one per column, in order) as foreign keys; a referencing table of another database keeps its name. */
export function mysqlForeignKeys(rows: readonly MysqlForeignKeyRow[]): StoreForeignKey[] {
  const byKey = new Map<string, StoreForeignKey>();
  for (const r of rows) {
    const id = `${r.s}\u0000${r.t}\u0000${r.name}`;
    let fk = byKey.get(id);
    if (!fk) {
      fk = { name: r.name, schema: r.s === r.db ? null : r.s, table: r.t, columns: [], refTable: r.rt, refColumns: [], onDelete: MYSQL_ACTIONS[r.del.toUpperCase()] ?? 'no action' };
      byKey.set(id, fk);
    }
    fk.columns.push(r.c);
    fk.refColumns.push(r.rc);
  }
  return [...byKey.values()];
}

/** How a value of the column is written back as it was read: the bytes of a binary string's `\x` hex, the shape of a geometry's text. */
export function mysqlWriteForm(n: NativeColumn): 'binary' | 'geometry' | 'text' {
  if (n.kind !== 'other') return 'text';
  const dt = n.nativeType.replace(/[( ].*$/s, '');
  return BINARY_TYPES.has(dt) ? 'binary' : GEOMETRY_TYPES.has(dt) ? 'geometry' : 'text';
}

export interface MysqlColumnRow {
  t: string;
  c: string;
  dt: string;
  ct: string;
  len: number | string | null;
  p: number | string | null;
  s: number | string | null;
  nl: string;
  cs: string | null;
  cm: string | null;
}

export interface MysqlKeyRow {
  t: string;
  k: string;
  kind: string;
  c: string;
  rs: string | null;
  rt: string | null;
  rc: string | null;
}

/** The values of an ENUM type: `enum('a','b''c')`. */
export function enumValues(columnType: string): string[] {
  const m = /^enum\((.*)\)$/is.exec(columnType);
  if (!m) return [];
  const out: string[] = [];
  const re = /'((?:[^'\\]|''|\\.)*)'/g;
  let v: RegExpExecArray | null;
  while ((v = re.exec(m[1]!))) out.push(v[1]!.replace(/''/g, "'").replace(/\\(.)/g, '$1'));
  return out;
}

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'year']);
const TEXT_TYPES = new Set(['tinytext', 'text', 'mediumtext', 'longtext']);
const BINARY_TYPES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob']);
const GEOMETRY_TYPES = new Set(['geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection', 'geomcollection']);
/** Character sets whose bytes are UTF-8 (ascii is a subset). */
const UTF8_SETS = new Set(['utf8mb4', 'utf8mb3', 'utf8', 'ascii']);

/**
 * A column whose values its type's usual reading cannot hold: a tinyint(1) (read as a boolean by
 * convention) that holds values other than 0 and 1, a bigint unsigned beyond 2^63 - 1.
 */
function widenable(r: Pick<MysqlColumnRow, 'dt' | 'ct'>): 'boolean' | 'unsigned' | undefined {
  const dt = r.dt.toLowerCase();
  const ct = r.ct.toLowerCase();
  if (dt === 'tinyint' && /^tinyint\(1\)/.test(ct)) return 'boolean';
  if (dt === 'bigint' && / unsigned/.test(ct)) return 'unsigned';
  return undefined;
}

/**
 * The query that says which of a table's widenable columns hold such values (one scan of the
 * table, none where it has no such column): a row with one column `w<i>` per column, 1 where the
 * i-th column holds one. undefined where the table has none.
 */
export function mysqlWideSql(table: string, cols: readonly MysqlColumnRow[]): { sql: string; columns: string[] } | undefined {
  const probes: string[] = [];
  const columns: string[] = [];
  for (const r of cols) {
    const w = widenable(r);
    if (!w) continue;
    const c = qi(r.c);
    probes.push(`COALESCE(MAX(${w === 'boolean' ? `${c} NOT IN (0, 1)` : `${c} > 9223372036854775807`}), 0) AS w${columns.length}`);
    columns.push(r.c);
  }
  return columns.length ? { sql: `SELECT ${probes.join(', ')} FROM ${qi(table)}`, columns } : undefined;
}

/**
 * `wide`: the column holds values its type's usual reading cannot hold (mysqlWideSql), so it is
 * described by what it holds: a tinyint(1) as an integer, a bigint unsigned as decimal(20,0).
 */
export function mysqlNativeColumn(r: MysqlColumnRow, wide = false): NativeColumn {
  const dt = r.dt.toLowerCase();
  const ct = r.ct.toLowerCase();
  const base = { name: r.c, required: r.nl === 'NO', ...(r.cm ? { description: r.cm } : {}) };
  const make = (kind: NativeKind, column: Omit<Column, 'name' | 'required'>, scale?: number): NativeColumn => ({
    name: r.c,
    nativeType: `${ct}${r.cs && !UTF8_SETS.has(r.cs) ? ` charset ${r.cs}` : ''}`,
    kind,
    ...(scale !== undefined ? { scale } : {}),
    column: { ...base, ...column },
  });
  if (wide && widenable(r) === 'unsigned') return make('decimal', { type: 'decimal', precision: 20, scale: 0 }, 0);
  if ((dt === 'tinyint' && /^tinyint\(1\)/.test(ct) && !wide) || ct === 'bit(1)') return make('boolean', { type: 'boolean' });
  if (INTEGER_TYPES.has(dt) || dt === 'bit') return make('integer', { type: 'integer' });
  if ((dt === 'decimal' || dt === 'numeric') && Number(r.p) <= MAX_DECIMAL_PRECISION) return make('decimal', { type: 'decimal', precision: Number(r.p), scale: Number(r.s) }, Number(r.s));
  if (dt === 'date') return make('date', { type: 'date' });
  if (dt === 'datetime' || dt === 'timestamp') return { ...make('timestamp', { type: 'timestamp' }), fraction: Number(/\((\d)\)/.exec(ct)?.[1] ?? 0) };
  if (dt === 'char' || dt === 'varchar') return make('text', { type: 'string', length: Number(r.len) });
  if (TEXT_TYPES.has(dt) || dt === 'set') return make('text', { type: 'text' });
  if (dt === 'enum') return make('text', { type: 'enum', values: enumValues(r.ct) });
  // float, double, time, json, binary strings, geometry, decimals wider than MAX_DECIMAL_PRECISION…: their text.
  return make('other', { type: 'text' });
}

/** `wide`: `table\u0000column` of the columns mysqlWideSql found holding wider values. */
export function mysqlTables(tables: readonly { t: string; d: string | null }[], cols: readonly MysqlColumnRow[], keys: readonly MysqlKeyRow[], wide: ReadonlySet<string> = new Set()): NativeTable[] {
  const byName = new Map<string, NativeTable>(tables.map((t) => [t.t, { name: t.t, ...(t.d ? { description: t.d } : {}), columns: [], primaryKey: [], foreignKeys: [], uniques: [] }]));
  for (const c of cols) byName.get(c.t)?.columns.push(mysqlNativeColumn(c, wide.has(`${c.t}\u0000${c.c}`)));
  const groups = new Map<string, MysqlKeyRow[]>();
  for (const k of keys) {
    const id = `${k.t}\u0000${k.k}`;
    const g = groups.get(id) ?? [];
    g.push(k);
    groups.set(id, g);
  }
  for (const g of groups.values()) {
    const first = g[0]!;
    const t = byName.get(first.t);
    if (!t) continue;
    const cols = g.map((k) => k.c);
    if (first.kind === 'PRIMARY KEY') t.primaryKey = cols;
    else if (first.kind === 'UNIQUE') t.uniques.push(cols);
    else if (first.kind === 'FOREIGN KEY' && first.rt !== null && (first.rs === null || g.every((k) => k.rs === first.rs)) && byName.has(first.rt)) {
      t.foreignKeys.push({ columns: cols, table: first.rt, refColumns: g.map((k) => k.rc ?? '') });
    }
  }
  return [...byName.values()];
}

/** The expression a column is read with. */
function selectExpr(n: NativeColumn): string {
  const c = qi(n.name);
  const t = n.nativeType;
  if (n.kind === 'boolean' || n.kind === 'integer') return /^bit\(/.test(t) ? `(${c} + 0)` : c;
  if (n.kind !== 'other') return c;
  const dt = t.replace(/[( ].*$/s, '');
  if (BINARY_TYPES.has(dt)) return `CONCAT('\\\\x', LOWER(HEX(${c})))`;
  if (GEOMETRY_TYPES.has(dt)) return `ST_AsText(${c})`;
  return `CAST(${c} AS CHAR)`;
}

/** The bytes of a column's text in UTF-8, for the ORDER BY. */
function binaryText(n: NativeColumn): string {
  const e = selectExpr(n);
  if (n.kind === 'text' && / charset /.test(n.nativeType)) return `CAST(CONVERT(${e} USING utf8mb4) AS BINARY)`;
  return `CAST(${e} AS BINARY)`;
}

function nativeDecoder(n: NativeColumn): (v: unknown) => unknown {
  switch (n.kind) {
    case 'integer':
    case 'boolean':
      return toInteger;
    case 'timestamp':
      return (v) => (typeof v === 'string' ? datetimeText(v) : v);
    case 'text':
    case 'other':
      return (v) => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('utf8') : String(v));
    case 'decimal':
    case 'date':
      return (v) => v;
  }
}

/**
 * `2025-11-03 05:00:47.123` (datetime(0..6), UTC) as `2025-11-03T05:00:47.123Z`. Digits below the
 * millisecond are kept where they are not zeros (`…:47.123456Z`), for the reader to refuse
 * (read-common.ts: exactInstants); never cut.
 */
export function datetimeText(v: string): string {
  const n = v.length;
  if (n === 23 && v.charCodeAt(10) === 32) return `${v.slice(0, 10)}T${v.slice(11)}Z`;
  if (n === 19 && v.charCodeAt(10) === 32) return `${v.slice(0, 10)}T${v.slice(11)}.000Z`;
  // datetime(6) of a whole millisecond: `… 05:00:47.123000`.
  if (n === 26 && v.charCodeAt(10) === 32 && v.endsWith('000')) return `${v.slice(0, 10)}T${v.slice(11, 23)}Z`;
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?$/.exec(v);
  return m ? `${m[1]}T${m[2]}.${isoFraction(m[3] ?? '')}Z` : v;
}

/** The SELECT that reads an entity's table in canonical order, and the decoder of each value. */
export function mysqlReadPlan(e: Entity, native: readonly NativeColumn[], where?: RowRange): { sql: string; values: unknown[]; decode: ((v: unknown) => unknown)[] } {
  const select = native.map(selectExpr);
  const pos = new Map(e.columns.map((c, i) => [c.name, i]));
  const order = orderColumns(e).map((c) => {
    const n = native[pos.get(c.name)!]!;
    return sortBy(c, n) === 'text' ? binaryText(n) : selectExpr(n);
  });
  const decode = columnDecoders(e, native, nativeDecoder);
  // Instants are datetime(3) in UTC: the cut-off as that text (`2024-01-01 00:00:00.000`).
  const before = where ? where.before.replace(/^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d(?:\.\d+)?)Z$/, '$1 $2') : undefined;
  const filter = where ? ` WHERE ${qi(where.column)} < ?` : '';
  return { sql: `SELECT ${select.join(', ')} FROM ${qi(e.name)}${filter}${order.length ? ` ORDER BY ${order.join(', ')}` : ''}`, values: before === undefined ? [] : [before], decode };
}

/** Rows of a streamed rowsAsArray query, decoded, in batches. */
export async function* mysqlRows(stream: AsyncIterable<unknown>, decode: readonly ((v: unknown) => unknown)[], signal?: AbortSignal): AsyncGenerator<unknown[][]> {
  const b = new RowBatcher(decode, signal);
  for await (const r of stream as AsyncIterable<unknown[]>) {
    const full = b.push(r);
    if (full) yield full;
  }
  const last = b.rest();
  if (last) yield last;
}

export function mysqlDeleteTriggers(rows: readonly { t: string; name: string; when: string }[]): DeleteTrigger[] {
  return rows.map((r) => ({ table: r.t, name: r.name, kind: 'trigger', when: r.when }));
}
