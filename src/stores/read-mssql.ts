import sql from 'mssql';
import type { Column, Entity } from '../model/types.js';
import {
  TABLES_TABLE,
  describeFrom,
  nativeColumnsFor,
  orderColumns,
  sortBy,
  tableDefinition,
  toInteger,
  type NativeColumn,
  type NativeKind,
  type NativeTable,
  RowBatcher,
  columnDecoders,
} from './read-common.js';
import { BugError } from '../core/errors.js';
import { hexText, mssqlVariantText, tediousInstantText } from './mssql-text.js';
import type { DeleteAction, StoreForeignKey } from './types.js';

/**
 * The read side of the SQL Server store (dbo schema only): the catalog from sys.*, and a table's
 * rows in canonical order from one streamed SELECT (mssql's request stream, rows as arrays).
 * Everything sent is built by the pure functions here; mssql.ts runs them on a session, and the
 * unit tests check them statement by statement.
 *
 * Order: text sorts with `(expr + NCHAR(0)) COLLATE Latin1_General_100_BIN2`. A BIN2 collation
 * compares code units, not the database collation's linguistic (mostly case-insensitive) order.
 * SQL Server pads the shorter string with spaces before comparing (ANSI padding, in every
 * collation, BIN2 included), so 'a' and 'a ' would tie and 'a' would sort after 'a\t'; the NCHAR(0)
 * appended ends every string with the lowest character, which makes the comparison stop there.
 * What remains different from code point order:
 * - nvarchar is UTF-16: a character above U+FFFF (an emoji) is two surrogates, U+D800-U+DFFF,
 *   which BIN2 sorts before U+E000-U+FFFF (private use, CJK compatibility, U+FFFD), where code point
 *   order puts them after. Only keys that differ first at such a pair are affected;
 * - a string holding U+0000 itself can tie with its prefix.
 * The reader's order check catches either; SQL Server 2019's UTF-8 collations would fix the first,
 * but forklift does not require 2019.
 */

export const SCHEMA = 'dbo';
/** Compares UTF-16 code units, not by language (and not without regard to case). */
export const BIN2 = 'Latin1_General_100_BIN2';

const qi = (name: string): string => `[${name.replace(/]/g, ']]')}]`;
const tableRef = (name: string): string => `${qi(SCHEMA)}.${qi(name)}`;

export const MSSQL_TABLES_DDL = `IF OBJECT_ID(N'[dbo].[${TABLES_TABLE}]', N'U') IS NULL
CREATE TABLE [dbo].[${TABLES_TABLE}] (
  [name] nvarchar(128) NOT NULL CONSTRAINT [pk_${TABLES_TABLE}] PRIMARY KEY,
  [definition] nvarchar(max) NOT NULL
)`;

/** Upsert of one definition (HOLDLOCK, as the store's MERGE: no other session slips in between). */
export const MSSQL_TABLES_MERGE = `MERGE INTO [dbo].[${TABLES_TABLE}] WITH (HOLDLOCK) AS t
USING (SELECT @name AS [name], @definition AS [definition]) AS s
ON t.[name] = s.[name]
WHEN MATCHED THEN UPDATE SET t.[definition] = s.[definition]
WHEN NOT MATCHED THEN INSERT ([name], [definition]) VALUES (s.[name], s.[definition]);`;

export interface ReadParam {
  name: string;
  type: sql.ISqlType;
  value: unknown;
}

/** The parameters of MSSQL_TABLES_MERGE for one entity. */
export function mssqlTableRecordParams(e: Entity): ReadParam[] {
  return [
    { name: 'name', type: sql.NVarChar(128), value: e.name },
    { name: 'definition', type: sql.NVarChar(sql.MAX), value: tableDefinition(e) },
  ];
}

const USER_TABLES = `t.schema_id = SCHEMA_ID(N'${SCHEMA}') AND t.is_ms_shipped = 0`;

/**
 * Columns of the dbo tables, or of one (`@t`), with their base types and MS_Description. The base
 * type of an alias type is its system type's name; the CLR types (geometry, geography,
 * hierarchyid) all have system_type_id 240, which names no type: their own id names them.
 */
export function mssqlColumnsSql(oneTable: boolean): string {
  return `SELECT t.name AS t, c.name AS c, COALESCE(TYPE_NAME(c.system_type_id), TYPE_NAME(c.user_type_id)) AS ty, c.max_length AS len, c.precision AS p, c.scale AS s, c.is_nullable AS nl, CAST(ep.value AS nvarchar(max)) AS d, c.collation_name AS co
FROM sys.tables t
JOIN sys.columns c ON c.object_id = t.object_id
LEFT JOIN sys.extended_properties ep ON ep.class = 1 AND ep.major_id = c.object_id AND ep.minor_id = c.column_id AND ep.name = N'MS_Description'
WHERE ${USER_TABLES}${oneTable ? ' AND t.name = @t' : ''}
ORDER BY t.name, c.column_id`;
}

/**
 * The whole catalog in one batch, five result sets: tables, columns, unique indexes (the primary
 * key among them), foreign keys, and the recorded definitions (none where forklift_tables is missing).
 */
export const MSSQL_DESCRIBE_SQL = [
  `SELECT t.name AS t, CAST(ep.value AS nvarchar(max)) AS d
FROM sys.tables t
LEFT JOIN sys.extended_properties ep ON ep.class = 1 AND ep.major_id = t.object_id AND ep.minor_id = 0 AND ep.name = N'MS_Description'
WHERE ${USER_TABLES}
ORDER BY t.name;`,
  `${mssqlColumnsSql(false)};`,
  `SELECT t.name AS t, i.name AS k, i.is_primary_key AS pk, COL_NAME(ic.object_id, ic.column_id) AS c
FROM sys.tables t
JOIN sys.indexes i ON i.object_id = t.object_id AND i.is_unique = 1
JOIN sys.index_columns ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id AND ic.key_ordinal > 0
WHERE ${USER_TABLES}
ORDER BY t.name, i.name, ic.key_ordinal;`,
  `SELECT t.name AS t, fk.name AS k, COL_NAME(fkc.parent_object_id, fkc.parent_column_id) AS c, r.name AS rt, COL_NAME(fkc.referenced_object_id, fkc.referenced_column_id) AS rc
FROM sys.tables t
JOIN sys.foreign_keys fk ON fk.parent_object_id = t.object_id
JOIN sys.foreign_key_columns fkc ON fkc.constraint_object_id = fk.object_id
JOIN sys.tables r ON r.object_id = fk.referenced_object_id AND r.schema_id = t.schema_id
WHERE ${USER_TABLES}
ORDER BY t.name, fk.name, fkc.constraint_column_id;`,
  `IF OBJECT_ID(N'[dbo].[${TABLES_TABLE}]', N'U') IS NOT NULL SELECT [name], [definition] FROM [dbo].[${TABLES_TABLE}];
ELSE SELECT CAST(NULL AS nvarchar(128)) AS [name], CAST(NULL AS nvarchar(max)) AS [definition] WHERE 1 = 0;`,
].join('\n');

/** The user tables of other schemas than dbo, which forklift does not read: what an export leaves out. */
export const MSSQL_TABLES_ELSEWHERE_SQL = `SELECT s.name AS s, t.name AS t
FROM sys.tables t
JOIN sys.schemas s ON s.schema_id = t.schema_id
WHERE t.schema_id <> SCHEMA_ID(N'${SCHEMA}') AND t.is_ms_shipped = 0
ORDER BY s.name COLLATE ${BIN2}, t.name COLLATE ${BIN2}`;

/** Whether the database lets a transaction read at SNAPSHOT isolation: ALLOW_SNAPSHOT_ISOLATION ON is state 1. */
export const MSSQL_SNAPSHOT_STATE_SQL = 'SELECT snapshot_isolation_state AS s FROM sys.databases WHERE database_id = DB_ID()';

/** The dbo tables, which a snapshot without SNAPSHOT isolation locks. */
export const MSSQL_DBO_TABLES_SQL = `SELECT t.name AS t FROM sys.tables t WHERE ${USER_TABLES} ORDER BY t.name COLLATE ${BIN2}`;

/**
 * A shared lock on each table, held until the transaction ends (TABLOCK, HOLDLOCK: a writer waits
 * for the snapshot to end), or a failed statement at once where another session holds a lock
 * that conflicts (NOWAIT, Msg 1222). Each scan opens its table, which takes the lock; TOP (1)
 * reads no more than a row.
 */
export function mssqlLockTablesSql(tables: readonly string[]): string {
  return tables.map((t) => `SELECT TOP (1) 1 AS [x] FROM ${tableRef(t)} WITH (TABLOCK, HOLDLOCK, NOWAIT);`).join('\n');
}

export interface MssqlColumnRow {
  t: string;
  c: string;
  /** Null where the login may not see the type (TYPE_NAME follows metadata visibility). */
  ty: string | null;
  len: number;
  p: number;
  s: number;
  nl: boolean;
  d: string | null;
  /** A text column's collation (null for other types). */
  co?: string | null;
}

const INTEGER_TYPES = new Set(['bigint', 'int', 'smallint', 'tinyint']);
const TIMESTAMP_TYPES = new Set(['datetimeoffset', 'datetime2', 'datetime', 'smalldatetime']);
const UNICODE = new Set(['nvarchar', 'nchar']);
const STRING_TYPES = new Set(['nvarchar', 'varchar', 'nchar', 'char']);

export function mssqlNativeColumn(r: MssqlColumnRow): NativeColumn {
  const ty = (r.ty ?? '').toLowerCase();
  const base = { name: r.c, required: !r.nl, ...(r.d ? { description: r.d } : {}) };
  const make = (kind: NativeKind, column: Omit<Column, 'name' | 'required'>, scale?: number): NativeColumn => ({ name: r.c, nativeType: ty, kind, ...(scale !== undefined ? { scale } : {}), column: { ...base, ...column } });
  if (INTEGER_TYPES.has(ty)) return make('integer', { type: 'integer' });
  if (ty === 'bit') return make('boolean', { type: 'boolean' });
  if (ty === 'decimal' || ty === 'numeric') return make('decimal', { type: 'decimal', precision: Number(r.p), scale: Number(r.s) }, Number(r.s));
  if (ty === 'money') return make('decimal', { type: 'decimal', precision: 19, scale: 4 }, 4);
  if (ty === 'smallmoney') return make('decimal', { type: 'decimal', precision: 10, scale: 4 }, 4);
  if (ty === 'date') return make('date', { type: 'date' });
  // The digits of a second it keeps exactly: datetime rounds to 1/300 s (.003, .007), smalldatetime to the minute.
  if (TIMESTAMP_TYPES.has(ty)) return { ...make('timestamp', { type: 'timestamp' }), fraction: ty === 'datetime' ? 2 : ty === 'smalldatetime' ? 0 : Number(r.s) };
  if (STRING_TYPES.has(ty)) {
    if (r.len === -1) return make('text', { type: 'text' });
    return make('text', { type: 'string', length: UNICODE.has(ty) ? r.len / 2 : r.len });
  }
  if (ty === 'ntext' || ty === 'text') return make('text', { type: 'text' });
  return make('other', { type: 'text' });
}

export function mssqlTables(
  tables: readonly { t: string; d: string | null }[],
  cols: readonly MssqlColumnRow[],
  keys: readonly { t: string; k: string; pk: boolean; c: string }[],
  fks: readonly { t: string; k: string; c: string; rt: string; rc: string }[],
): NativeTable[] {
  const byName = new Map<string, NativeTable>(tables.map((t) => [t.t, { name: t.t, ...(t.d ? { description: t.d } : {}), columns: [], primaryKey: [], foreignKeys: [], uniques: [] }]));
  for (const c of cols) byName.get(c.t)?.columns.push(mssqlNativeColumn(c));
  const group = <T extends { t: string; k: string }>(rows: readonly T[]): T[][] => {
    const m = new Map<string, T[]>();
    for (const r of rows) {
      const id = `${r.t}\u0000${r.k}`;
      const g = m.get(id) ?? [];
      g.push(r);
      m.set(id, g);
    }
    return [...m.values()];
  };
  for (const g of group(keys)) {
    const t = byName.get(g[0]!.t);
    if (!t) continue;
    if (g[0]!.pk) t.primaryKey = g.map((r) => r.c);
    else t.uniques.push(g.map((r) => r.c));
  }
  for (const g of group(fks)) {
    const t = byName.get(g[0]!.t);
    if (t) t.foreignKeys.push({ columns: g.map((r) => r.c), table: g[0]!.rt, refColumns: g.map((r) => r.rc) });
  }
  return [...byName.values()];
}

/** Result sets of MSSQL_DESCRIBE_SQL as entities. */
export function mssqlDescribeResult(sets: readonly Record<string, unknown>[][]): Entity[] {
  const [tables = [], cols = [], keys = [], fks = [], recorded = []] = sets;
  const native = mssqlTables(
    tables as unknown as { t: string; d: string | null }[],
    cols as unknown as MssqlColumnRow[],
    keys as unknown as { t: string; k: string; pk: boolean; c: string }[],
    fks as unknown as { t: string; k: string; c: string; rt: string; rc: string }[],
  );
  return describeFrom(native, new Map(recorded.map((r) => [String(r.name), r.definition])));
}

// ---------------------------------------------------------------------------------------------
// readRows

/**
 * Types read as their bytes: binary strings, rowversion (TYPE_NAME says `timestamp`: eight bytes,
 * which CONVERT to nvarchar would take as four UTF-16 code units), and geometry and geography in
 * SQL Server's own serialization, which keeps the SRID that their text (WKT) leaves out.
 */
const BYTES_TYPES = new Set(['binary', 'varbinary', 'image', 'timestamp', 'rowversion', 'geometry', 'geography']);

/** The expression a column is read with: decimals and odd types as their exact text. */
export function mssqlSelectExpr(n: NativeColumn): string {
  const c = qi(n.name);
  const ty = n.nativeType;
  switch (n.kind) {
    case 'text':
      // char(n) pads with spaces to its length; the padding is not the value (MySQL drops it too).
      if (ty === 'char' || ty === 'nchar') return `RTRIM(${c})`;
      if (ty === 'text' || ty === 'ntext') return `CAST(${c} AS nvarchar(max))`;
      return c;
    case 'decimal':
      return ty === 'money' || ty === 'smallmoney' ? `CONVERT(nvarchar(50), CAST(${c} AS decimal(19, 4)))` : `CONVERT(nvarchar(50), ${c})`;
    case 'other':
      if (ty === 'float' || ty === 'real') return `CONVERT(nvarchar(50), ${c}, 3)`; // 17 digits: the double exactly
      if (BYTES_TYPES.has(ty)) return hexText(c);
      // CONVERT's default style would drop digits of the value a variant holds.
      if (ty === 'sql_variant') return mssqlVariantText(c);
      // Its canonical path (/1/3/), which hierarchyid::Parse reads back as the same node.
      if (ty === 'hierarchyid') return `${c}.ToString()`;
      return `CONVERT(nvarchar(max), ${c})`;
    default:
      return c;
  }
}

/** The ORDER BY term of a column for the model column's comparison. */
function orderExpr(model: Column, n: NativeColumn): string {
  if (sortBy(model, n) !== 'text') return qi(n.name);
  const e = mssqlSelectExpr(n);
  const text = n.kind === 'text' || n.kind === 'other' || n.kind === 'decimal' ? e : `CONVERT(nvarchar(max), ${e})`;
  return `(${text} + NCHAR(0)) COLLATE ${BIN2}`;
}

function nativeDecoder(n: NativeColumn): (v: unknown) => unknown {
  switch (n.kind) {
    case 'integer':
      return toInteger;
    case 'boolean':
      return (v) => (v === true ? 1 : v === false ? 0 : toInteger(v));
    case 'date':
      return (v) => (v instanceof Date ? v.toISOString().slice(0, 10) : v);
    case 'timestamp':
      // useUTC: a datetimeoffset is its instant, a datetime2 is read as UTC.
      return (v) => (v instanceof Date ? tediousInstantText(v) : v);
    case 'text':
    case 'other':
    case 'decimal':
      return (v) => (typeof v === 'string' ? v : String(v));
  }
}

/** The SELECT that reads an entity's table in canonical order, and the decoder of each value. */
export function mssqlReadPlan(e: Entity, native: readonly NativeColumn[]): { sql: string; decode: ((v: unknown) => unknown)[] } {
  const select = native.map(mssqlSelectExpr);
  const pos = new Map(e.columns.map((c, i) => [c.name, i]));
  const order = orderColumns(e).map((c) => orderExpr(c, native[pos.get(c.name)!]!));
  const decode = columnDecoders(e, native, nativeDecoder);
  return { sql: `SELECT ${select.join(', ')} FROM ${tableRef(e.name)}${order.length ? ` ORDER BY ${order.join(', ')}` : ''}`, decode };
}

/** What the read side sends: the only calls that reach the server (tests pass a fake). */
export interface MssqlReadSession {
  /** A statement; every result set, rows as objects. */
  query(text: string, params: readonly ReadParam[]): Promise<Record<string, unknown>[][]>;
  /** A statement's rows as arrays, streamed with backpressure; `cancel` stops it on the server. */
  stream(text: string): { rows: AsyncIterable<unknown[]>; cancel(): void };
}

export async function mssqlDescribeInSession(s: MssqlReadSession): Promise<Entity[]> {
  return mssqlDescribeResult(await s.query(MSSQL_DESCRIBE_SQL, []));
}

/**
 * Every foreign key that references a table of the dbo schema, from whatever schema, with its ON
 * DELETE action (delete_referential_action: 0 NO ACTION, 1 CASCADE, 2 SET NULL, 3 SET DEFAULT):
 * what a replace, which empties its tables with DELETE, would set off (replace-guard.ts). A
 * disabled key is listed too: whether SQL Server skips its action then is not worth a lost table.
 */
export const MSSQL_FOREIGN_KEYS_SQL = `SELECT fk.name AS k, CASE WHEN t.schema_id = r.schema_id THEN NULL ELSE s.name END AS s, t.name AS t,
  COL_NAME(fkc.parent_object_id, fkc.parent_column_id) AS c, r.name AS rt, COL_NAME(fkc.referenced_object_id, fkc.referenced_column_id) AS rc,
  fk.delete_referential_action AS del
FROM sys.foreign_keys fk
JOIN sys.foreign_key_columns fkc ON fkc.constraint_object_id = fk.object_id
JOIN sys.tables t ON t.object_id = fk.parent_object_id
JOIN sys.schemas s ON s.schema_id = t.schema_id
JOIN sys.tables r ON r.object_id = fk.referenced_object_id
WHERE r.schema_id = SCHEMA_ID(N'${SCHEMA}')
ORDER BY s.name COLLATE ${BIN2}, t.name COLLATE ${BIN2}, fk.name COLLATE ${BIN2}, fkc.constraint_column_id`;

const MSSQL_DELETE_ACTIONS: readonly DeleteAction[] = ['no action', 'cascade', 'set null', 'set default'];

/** The rows of MSSQL_FOREIGN_KEYS_SQL, a row a column, as one foreign key each. */
export function mssqlForeignKeys(rows: readonly Record<string, unknown>[]): StoreForeignKey[] {
  const keys = new Map<string, StoreForeignKey>();
  for (const r of rows) {
    const schema = r.s === null || r.s === undefined ? null : String(r.s);
    const id = `${schema ?? ''}\u0000${String(r.t)}\u0000${String(r.k)}`;
    let fk = keys.get(id);
    if (!fk) {
      const onDelete = MSSQL_DELETE_ACTIONS[Number(r.del)];
      if (onDelete === undefined) throw new BugError(`SQL Server foreign key ${String(r.k)} has delete_referential_action ${String(r.del)}`);
      fk = { name: String(r.k), schema, table: String(r.t), columns: [], refTable: String(r.rt), refColumns: [], onDelete };
      keys.set(id, fk);
    }
    fk.columns.push(String(r.c));
    fk.refColumns.push(String(r.rc));
  }
  return [...keys.values()];
}

export async function mssqlForeignKeysInSession(s: MssqlReadSession): Promise<StoreForeignKey[]> {
  const [rows = []] = await s.query(MSSQL_FOREIGN_KEYS_SQL, []);
  return mssqlForeignKeys(rows);
}

export class MssqlReadProblem extends Error {
  constructor(
    message: string,
    readonly what: 'table' | 'column',
  ) {
    super(message);
  }
}

/** A table's rows in canonical order, in batches: its columns from the catalog, then one SELECT. */
export async function* mssqlReadInSession(s: MssqlReadSession, e: Entity, signal?: AbortSignal): AsyncGenerator<unknown[][]> {
  const [cols = []] = await s.query(mssqlColumnsSql(true), [{ name: 't', type: sql.NVarChar(128), value: e.name }]);
  if (cols.length === 0) throw new MssqlReadProblem(`there is no table ${e.name} in the ${SCHEMA} schema`, 'table');
  const table = mssqlTables([{ t: e.name, d: null }], cols as unknown as MssqlColumnRow[], [], [])[0]!;
  const native = nativeColumnsFor(e, table);
  if (!Array.isArray(native)) throw new MssqlReadProblem(`table ${e.name} has no column ${native.missing}`, 'column');
  const plan = mssqlReadPlan(e, native);
  const { rows, cancel } = s.stream(plan.sql);
  const b = new RowBatcher(plan.decode, signal);
  let done = false;
  try {
    for await (const r of rows) {
      const full = b.push(r);
      if (full) yield full;
    }
    const last = b.rest();
    if (last) yield last;
    done = true;
  } finally {
    if (!done) cancel();
  }
}

/** A read session on a pool or a transaction, and what stops it. */
export interface MssqlReadSessionOn extends MssqlReadSession {
  /** Cancels a request still running and waits until it has ended. */
  settle(): Promise<void>;
}

/**
 * A read session on a connection pool or a transaction (a snapshot's): each call one request, one
 * at a time. A transaction's connection runs one request at a time (mssql refuses a second,
 * EREQINPROG), and a read the consumer stopped early is still ending (its cancel on its way to the
 * server) when the next one starts: each request waits for the one before to end.
 */
export function readSessionOf(parent: sql.ConnectionPool | sql.Transaction): MssqlReadSessionOn {
  let tail: Promise<void> = Promise.resolve();
  let running: sql.Request | undefined;
  /** Waits for the request before this one to end; returns the end of this one's turn. */
  const turn = async (): Promise<() => void> => {
    const before = tail;
    let done!: () => void;
    tail = new Promise<void>((res) => (done = res));
    await before;
    return done;
  };
  const request = (): sql.Request => (running = new sql.Request(parent as sql.ConnectionPool));
  return {
    query: async (text, params) => {
      const done = await turn();
      try {
        const r = request();
        for (const p of params) r.input(p.name, p.type, p.value);
        const res = await r.query(text);
        return (res.recordsets as unknown as Record<string, unknown>[][]) ?? [];
      } finally {
        done();
      }
    },
    stream: (text) => {
      let r: sql.Request | undefined;
      let stream: NodeJS.ReadableStream & { destroy(): void } | undefined;
      let cancelled = false;
      async function* rows(): AsyncGenerator<unknown[]> {
        const done = await turn();
        if (cancelled) return done();
        r = request();
        r.arrayRowMode = true;
        // Paused while the consumer is behind (backpressure); errors come through the stream.
        stream = r.toReadableStream({ highWaterMark: 1000 });
        // In stream mode the promise settles once the request has ended, failed or cancelled.
        void r.query(text).then(done, done);
        yield* stream as AsyncIterable<unknown[]>;
      }
      return {
        rows: rows(),
        cancel: () => {
          cancelled = true;
          r?.cancel();
          stream?.destroy();
        },
      };
    },
    settle: async () => {
      running?.cancel();
      await tail;
    },
  };
}
