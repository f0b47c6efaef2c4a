import { addAbortSignal, type Readable } from 'node:stream';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { BugError } from '../core/errors.js';
import type { Column, Entity } from '../model/types.js';
import type { DeleteAction, DeleteTrigger, RowRange, StoreForeignKey } from './types.js';
import { q } from '../util/sql-name.js';
import {
  MAX_DECIMAL_PRECISION,
  TABLES_TABLE,
  orderColumns,
  sortBy,
  type ForeignKey,
  type NativeColumn,
  type NativeKind,
  type NativeTable,
} from './read-common.js';
import { parseCopyText, pgCopyDecoders, type Decoder } from './pg-copy-text.js';
import { streamedRows } from './read-stream.js';

/**
 * The read side of the PostgreSQL store: the catalog of the current schema, and a table's rows in
 * canonical order through `COPY (SELECT … ORDER BY …) TO STDOUT`, whose text format is parsed
 * here (the cheapest row source PostgreSQL has: PERF-NOTES). The session runs with TimeZone UTC
 * and DateStyle ISO, so an instant prints as `2025-11-03 05:00:47.123+00` and becomes ISO 8601 by
 * slicing. Strings sort by `COLLATE "C"` (the code point order of UTF-8 bytes), NULLs first.
 *
 * Years outside 0000-9999 (PostgreSQL's `BC` dates, five-digit years) are written in ISO 8601's
 * expanded form (`-000043-03-15`, `+010000-01-01`, as JavaScript's toISOString does; year 1 BC is
 * year 0000). They keep the order of their time, which is not the code point order of that text:
 * a reader checking the canonical order stops at them instead of passing them on unsorted.
 * `infinity` and `-infinity` are passed on as they print (diff compares them; an export refuses
 * them: bundle/bundle-values.ts). Microseconds are read, never cut: the
 * staging form has milliseconds, and an instant with digits below them is refused (exactInstants).
 */

export const PG_TABLES_DDL = `CREATE TABLE IF NOT EXISTS ${TABLES_TABLE} (
  name text PRIMARY KEY,
  definition text NOT NULL
)`;

export const PG_TABLES_UPSERT = `INSERT INTO ${TABLES_TABLE} (name, definition) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET definition = excluded.definition`;

/** The session settings every read runs under: values print as the decoders expect. */
export const PG_READ_SESSION = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 1; SET bytea_output = 'hex'; SET IntervalStyle = 'postgres'";

/**
 * The base type of the column `a` (a pg_attribute row) and its typmod, as `base(oid, mod)`: a
 * domain's base type, through any number of domains (a domain over a domain over date is a date),
 * with the typmod of the domain declared over it (`numeric(18,4)`); the column's own type otherwise.
 * A column is read and described by this type, never as the domain's text.
 */
export const PG_BASE_TYPE_JOIN = `JOIN LATERAL (
  WITH RECURSIVE d(oid, mod, depth) AS (
    SELECT a.atttypid, a.atttypmod, 0
    UNION ALL
    SELECT y.typbasetype, y.typtypmod, d.depth + 1 FROM d JOIN pg_type y ON y.oid = d.oid WHERE y.typtype = 'd'
  ) SELECT oid, mod FROM d ORDER BY depth DESC LIMIT 1
) base ON true`;

/** Columns of the current schema's tables (or of one table, `$1`), with their base types. */
export function pgColumnsSql(oneTable: boolean): string {
  return `SELECT current_schema()::text AS s, c.relname AS t, c.relkind::text AS rk, obj_description(c.oid, 'pg_class') AS td, a.attname AS c, a.attnotnull AS nn,
  format_type(base.oid, base.mod) AS ft,
  bt.typname AS tn, bt.typtype AS tt, col_description(c.oid, a.attnum) AS cd,
  CASE WHEN bt.typtype = 'e' THEN ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = bt.oid ORDER BY e.enumsortorder) END AS ev,
  (SELECT quote_ident(n.nspname) || '.' || quote_ident(co.collname) FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace WHERE co.oid = a.attcollation) AS co
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
${PG_BASE_TYPE_JOIN}
JOIN pg_type bt ON bt.oid = base.oid
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition${oneTable ? ' AND c.relname = $1' : ''}
ORDER BY c.relname, a.attnum`;
}

/** Primary keys, unique constraints and foreign keys of the current schema's tables. */
export const PG_CONSTRAINTS_SQL = `SELECT c.relname AS t, k.contype AS kind,
  ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, i) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i) AS cols,
  f.relname::text AS rt, f.relnamespace = c.relnamespace AS same,
  ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, i) JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i) AS rcols
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
LEFT JOIN pg_class f ON f.oid = k.confrelid
WHERE c.relnamespace = current_schema()::regnamespace AND k.contype IN ('p', 'u', 'f')
ORDER BY c.relname, k.conname`;

/**
 * Every foreign key that references a table of the current schema, from whatever schema, with the
 * relkind of the referencing table. A partition's clone of its table's key (conparentid) is the
 * same key, left out.
 */
export const PG_FOREIGN_KEYS_SQL = `SELECT k.conname::text AS name, CASE WHEN c.relnamespace = f.relnamespace THEN NULL ELSE n.nspname::text END AS s, c.relname::text AS t, c.relkind::text AS rk,
  ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(x, i) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.x ORDER BY u.i) AS cols,
  f.relname::text AS rt,
  ARRAY(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(x, i) JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.x ORDER BY u.i) AS rcols,
  k.confdeltype::text AS del
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class f ON f.oid = k.confrelid
WHERE k.contype = 'f' AND f.relnamespace = current_schema()::regnamespace AND k.conparentid = 0
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C", k.conname COLLATE "C"`;

/**
 * The enabled triggers and rules that act on a DELETE of a table of the store's schema: not the
 * internal triggers of foreign keys (the purge checks those itself), not a disabled one, nor one
 * that fires only in replica mode (tgenabled 'R'); tgtype bit 8 is DELETE, 2 BEFORE, 64 INSTEAD OF.
 * A DELETE of a partitioned table fires the row triggers of its partitions too: a trigger made on a
 * partition counts for the table (`on`: the partition), the clones of the table's own (tgparentid) not again.
 */
export const PG_DELETE_TRIGGERS_SQL = `SELECT * FROM (SELECT root.relname::text AS t, g.tgname::text AS name, 'trigger' AS kind,
  CASE WHEN g.tgtype & 64 <> 0 THEN 'INSTEAD OF DELETE' WHEN g.tgtype & 2 <> 0 THEN 'BEFORE DELETE' ELSE 'AFTER DELETE' END AS "when",
  CASE WHEN c.oid = root.oid THEN NULL WHEN c.relnamespace = root.relnamespace THEN c.relname::text ELSE n.nspname::text || '.' || c.relname::text END AS "on"
FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_class root ON root.oid = COALESCE(pg_partition_root(c.oid), c.oid)
WHERE NOT g.tgisinternal AND g.tgparentid = 0 AND g.tgenabled IN ('O', 'A') AND g.tgtype & 8 <> 0 AND root.relnamespace = current_schema()::regnamespace
UNION ALL
SELECT c.relname::text, r.rulename::text, 'rule', 'ON DELETE', NULL
FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
WHERE r.ev_type = '4' AND r.ev_enabled IN ('O', 'A') AND c.relnamespace = current_schema()::regnamespace) x
ORDER BY t COLLATE "C", name COLLATE "C"`;

export interface PgForeignKeyRow {
  name: string;
  s: string | null;
  t: string;
  rk: string;
  cols: string[];
  rt: string;
  rcols: string[];
  del: string;
}

const PG_ACTIONS: Record<string, DeleteAction> = { a: 'no action', r: 'restrict', c: 'cascade', n: 'set null', d: 'set default' };

export function pgForeignKey(r: PgForeignKeyRow): StoreForeignKey {
  return { name: r.name, schema: r.s, table: r.t, columns: [...r.cols], refTable: r.rt, refColumns: [...r.rcols], onDelete: PG_ACTIONS[r.del] ?? 'no action' };
}

/** The relkind of every table of the current schema (what a FROM of its own rows needs: postgres.ts ownRowsOf). */
export const PG_RELKINDS_SQL = "SELECT relname::text AS t, relkind::text AS rk FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p')";

/**
 * Tables (ordinary and partitioned, partitions aside) of every schema but the current one, the
 * system schemas (pg_catalog, information_schema, pg_toast*, pg_temp*) and forklift's scratch
 * schemas (forklift_dryrun_*): what an export of the current schema leaves out.
 */
export const PG_TABLES_ELSEWHERE_SQL = `SELECT n.nspname::text AS s, c.relname::text AS t
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.oid IS DISTINCT FROM to_regnamespace(current_schema())
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
  AND n.nspname NOT LIKE 'forklift\\_dryrun\\_%'
ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C"`;

export interface PgColumnRow {
  /** The current schema (the tables' own). */
  s: string;
  t: string;
  /** relkind: 'r' an ordinary table, 'p' a partitioned one (its rows are its partitions'). */
  rk?: string;
  td: string | null;
  c: string;
  nn: boolean;
  /** format_type of the base type: `character varying(64)`, `numeric(18,4)`, `timestamp with time zone`. */
  ft: string;
  tn: string;
  tt: string;
  cd: string | null;
  ev: string[] | null;
  /** The column's collation as a COLLATE operand (`pg_catalog."default"`), null for types without one. */
  co?: string | null;
}

export interface PgConstraintRow {
  t: string;
  kind: 'p' | 'u' | 'f';
  cols: string[];
  rt: string | null;
  same: boolean | null;
  rcols: string[];
}

/** A native column: its kind and the model column it stands for. */
export function pgNativeColumn(r: Pick<PgColumnRow, 'c' | 'nn' | 'ft' | 'tn' | 'tt' | 'cd' | 'ev'>): NativeColumn {
  const base = { name: r.c, required: r.nn, ...(r.cd ? { description: r.cd } : {}) };
  const make = (kind: NativeKind, column: Omit<Column, 'name' | 'required'>, scale?: number): NativeColumn => ({ name: r.c, nativeType: r.ft, kind, ...(scale !== undefined ? { scale } : {}), column: { ...base, ...column } });
  if (r.tt === 'e') return make('text', { type: 'enum', values: r.ev ?? [] });
  const ft = r.ft;
  let m: RegExpExecArray | null;
  if (ft === 'bigint' || ft === 'integer' || ft === 'smallint') return make('integer', { type: 'integer' });
  if ((m = /^numeric\((\d+),(\d+)\)$/.exec(ft)) && Number(m[1]) <= MAX_DECIMAL_PRECISION) return make('decimal', { type: 'decimal', precision: Number(m[1]), scale: Number(m[2]) }, Number(m[2]));
  if (ft === 'boolean') return make('boolean', { type: 'boolean' });
  if (ft === 'date') return make('date', { type: 'date' });
  if ((m = /^timestamp(?:\((\d)\))? with(out)? time zone$/.exec(ft))) return { ...make('timestamp', { type: 'timestamp' }), fraction: m[1] === undefined ? 6 : Number(m[1]), zoned: m[2] === undefined };
  if (ft === 'text') return make('text', { type: 'text' });
  if ((m = /^(?:character varying|character)\((\d+)\)$/.exec(ft))) return make('text', { type: 'string', length: Number(m[1]) });
  if (ft === 'character varying' || r.tn === 'citext') return make('text', { type: 'text' });
  // numeric without a scale or wider than MAX_DECIMAL_PRECISION, floats, json, uuid, bytea, intervals, arrays…: their text, exactly.
  return make('other', { type: 'text' });
}

/** The catalog rows as tables. */
export function pgTables(cols: readonly PgColumnRow[], cons: readonly PgConstraintRow[]): NativeTable[] {
  const tables = new Map<string, NativeTable>();
  for (const r of cols) {
    let t = tables.get(r.t);
    if (!t) {
      t = { name: r.t, ...(r.td ? { description: r.td } : {}), columns: [], primaryKey: [], foreignKeys: [], uniques: [] };
      tables.set(r.t, t);
    }
    t.columns.push(pgNativeColumn(r));
  }
  for (const k of cons) {
    const t = tables.get(k.t);
    if (!t) continue;
    if (k.kind === 'p') t.primaryKey = [...k.cols];
    else if (k.kind === 'u') t.uniques.push([...k.cols]);
    else if (k.rt !== null && k.same) t.foreignKeys.push({ columns: [...k.cols], table: k.rt, refColumns: [...k.rcols] } satisfies ForeignKey);
  }
  return [...tables.values()];
}


/** Whether the column reads as itself (text and varchar) or through its text (`::text`). */
function needsCast(n: NativeColumn): boolean {
  if (n.kind === 'other') return true;
  if (n.kind !== 'text') return false;
  return !/^(text|character varying(\(\d+\))?)$/.test(n.nativeType);
}

/**
 * The COPY statement that reads an entity's table in canonical order and the decoder of each
 * field (COPY text, `\N` handled by the caller).
 */
export function pgReadPlan(
  e: Entity,
  native: readonly NativeColumn[],
  schema: string,
  where?: RowRange,
  byteOrdered: ReadonlySet<string> = new Set(),
  /** An ordinary table: read ONLY its own rows, not those of tables that INHERIT from it (which are tables of their own). */
  only = false,
): { sql: string; decode: Decoder[] } {
  const expr = (c: Column, n: NativeColumn): string => (needsCast(n) ? `${q(c.name)}::text` : q(c.name));
  const select = e.columns.map((c, i) => expr(c, native[i]!));
  const pos = new Map(e.columns.map((c, i) => [c.name, i]));
  // Sort terms name the table's column (`t.col`), never the output column of the same name, and
  // add nothing a primary-key index does not have: then PostgreSQL can walk that index and send
  // the first row at once instead of sorting the whole table first (an export waited ~0.4 s of
  // 1M rows for that sort). PostgreSQL sorts NULL last by default; the canonical order puts it first.
  const order = orderColumns(e).map((c) => {
    const n = native[pos.get(c.name)!]!;
    const col = `t.${q(c.name)}`;
    const nulls = n.column.required ? '' : ' NULLS FIRST';
    switch (sortBy(c, n)) {
      case 'text':
        if (needsCast(n) || n.kind !== 'text') return `(${col}::text) COLLATE "C"${nulls}`;
        return byteOrdered.has(c.name) ? `${col}${nulls}` : `${col} COLLATE "C"${nulls}`;
      case 'native':
      case 'decimal-text':
        return `${col}${nulls}`;
    }
  });
  const decode = pgCopyDecoders(e, native);
  const from = `${only ? 'ONLY ' : ''}${q(schema)}.${q(e.name)} t`;
  const filter = where ? ` WHERE ${rangeCondition(e, native, where)}` : '';
  return { sql: `COPY (SELECT ${select.join(', ')} FROM ${from}${filter}${order.length ? ` ORDER BY ${order.join(', ')}` : ''}) TO STDOUT`, decode };
}

/**
 * Strings whose code point order differs from every linguistic order (case, accents, punctuation,
 * spacing, ligatures, expansions, planes beyond the BMP): a collation that sorts all of them as
 * `COLLATE "C"` does is taken to sort by code point (C, POSIX, C.UTF-8, ucs_basic, musl's locales).
 */
const BYTE_ORDER_PROBE = ['B', 'a', 'A', 'b', '_', '-a', 'a-', 'a b', 'ab', 'a', '0', '9', ' ', '~', '\u00e9', 'f', 'E', 'e\u0301', '\u00df', 'ss', '\u00c4', 'z', '\u00ff', '\u03a9', '\u65e5', '\u00a0', '\ufffd', '\u{1f600}', '\ue000', '\u01c5', '\u01c6', 'Dz', '\ufb01', 'fi', '\u0130', 'i'];

/**
 * Which of these collations (COLLATE operands) sort text by code point on this server: a sort by
 * such a column's own collation gives the canonical order, and its index can serve it.
 */
export async function pgByteOrderedCollations(client: pg.Client, collations: Iterable<string>): Promise<Set<string>> {
  const out = new Set<string>();
  for (const co of new Set(collations)) {
    // A collation name comes from the catalog through quote_ident; anything else is not used.
    if (!/^("([^"]|"")+"|[a-z_][a-z0-9_$]*)\.("([^"]|"")+"|[a-z_][a-z0-9_$]*)$/.test(co)) continue;
    const res = await client.query<{ same: boolean }>(
      `SELECT array_agg(s ORDER BY s COLLATE ${co}, i) = array_agg(s ORDER BY s COLLATE "C", i) AS same FROM unnest($1::text[]) WITH ORDINALITY u(s, i)`,
      [BYTE_ORDER_PROBE],
    );
    if (res.rows[0]?.same === true) out.add(co);
  }
  return out;
}

/**
 * `column < 'cut-off'` in the column's own type. COPY takes no bound parameters, so the cut-off is
 * a literal: it must be an ISO date or instant (forklift computes it; anything else is refused).
 */
function rangeCondition(e: Entity, native: readonly NativeColumn[], where: RowRange): string {
  const i = e.columns.findIndex((c) => c.name === where.column);
  const n = native[i];
  if (!n || (n.kind !== 'date' && n.kind !== 'timestamp')) throw new BugError(`${e.name}.${where.column} is not a date or timestamp column`);
  if (!/^\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d(\.\d{1,6})?Z)?$/.test(where.before)) throw new BugError(`cut-off '${where.before}' is not an ISO date or instant`);
  return `t.${q(where.column)} < '${where.before}'::${n.kind === 'date' ? 'date' : 'timestamptz'}`;
}


/**
 * A table's rows through COPY on a client set up with PG_READ_SESSION. On an early stop (an
 * abort, an error) the COPY is abandoned with its connection: `end` is then called by the caller,
 * which the server takes as a cancel. Where the consumer stops reading and `park` is given (a
 * snapshot's connection, which goes on), the rest is parked instead (read-stream.ts).
 */
export async function* pgCopyRows(client: pg.Client, plan: { sql: string; decode: Decoder[] }, signal?: AbortSignal, park?: (rest: Readable) => void): AsyncGenerator<unknown[][]> {
  const stream: Readable = client.query(copyTo(plan.sql));
  if (signal) addAbortSignal(signal, stream);
  const batches = async function* (source: AsyncIterable<unknown>): AsyncGenerator<unknown[][]> {
    for await (const batch of parseCopyText(source as AsyncIterable<Buffer>, plan.decode)) {
      signal?.throwIfAborted();
      yield batch;
    }
  };
  yield* streamedRows(stream, batches, { park, abandon: () => {} });
}

export interface PgDeleteTriggerRow {
  t: string;
  name: string;
  kind: string;
  when: string;
  on: string | null;
}

export function pgDeleteTriggers(rows: readonly PgDeleteTriggerRow[]): DeleteTrigger[] {
  return rows.map((r) => ({ table: r.t, name: r.name, kind: r.kind === 'rule' ? 'rule' : 'trigger', when: r.when, ...(r.on !== null ? { on: r.on } : {}) }));
}
