import type Database from 'better-sqlite3';
import type { Column, Entity } from '../model/types.js';
import type { DeleteAction, DeleteTrigger, RowRange, StoreForeignKey } from './types.js';
import { q } from '../util/sql-name.js';
import {
  TABLES_TABLE,
  adaptValue,
  describeFrom,
  decimalSortKey,
  orderColumns,
  sortBy,
  toInteger,
  utcInstantText,
  type NativeColumn,
  type NativeKind,
  type NativeTable,
  RowBatcher,
  READ_ROWS_BATCH,
} from './read-common.js';

/**
 * The read side of the SQLite store (describeTables, readRows) over a better-sqlite3 handle of its
 * own, so a read never holds the store's knex connection and never blocks the store's writes
 * longer than one table's SELECT.
 *
 * Types: SQLite's catalog holds declared types only, and forklift's STRICT tables keep decimals,
 * dates and instants as TEXT, so a table forklift did not record is described by affinity:
 * INTEGER affinity (a declared type containing INT) is `integer`; everything else is `text`.
 * A REAL (or NUMERIC, or untyped) column is described as `text`, not `decimal`: a binary double is
 * not an exact decimal and has no scale to give it, so claiming decimal(p, s) would invent digits
 * or drop them. Its values read as the shortest text that gives back the same double (JavaScript's
 * `String(n)`: 0.1 is "0.1", 1e21 is "1e+21"), a BLOB as `\x` and lowercase hex, like PostgreSQL's
 * bytea. VARCHAR(n) is `text` too: SQLite does not enforce the length, so it promises nothing.
 */

export const SQLITE_TABLES_DDL = `CREATE TABLE IF NOT EXISTS ${TABLES_TABLE} (
  name TEXT PRIMARY KEY NOT NULL,
  definition TEXT NOT NULL
) STRICT`;

export const SQLITE_TABLES_UPSERT = `INSERT INTO ${TABLES_TABLE} (name, definition) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET definition = excluded.definition`;

/** Native kind of a declared type, by SQLite's affinity rules (section 3.1 of its datatype page). */
export function sqliteKind(declared: string): NativeKind {
  const t = declared.toUpperCase();
  if (t.includes('INT')) return 'integer';
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'text';
  return 'other';
}

interface PragmaColumn {
  name: string;
  type: string;
  nn: number;
  pk: number;
}

/** Every table of the database (not sqlite_* internals), from the catalog. */
export function sqliteCatalog(db: Database.Database): NativeTable[] {
  const names = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name").pluck().all() as string[];
  const colStmt = db.prepare('SELECT name, type, "notnull" AS nn, pk FROM pragma_table_info(?) ORDER BY cid');
  const fkStmt = db.prepare('SELECT id, "table" AS rt, "from" AS c, "to" AS rc FROM pragma_foreign_key_list(?) ORDER BY id, seq');
  const idxStmt = db.prepare('SELECT name, "unique" AS u, origin FROM pragma_index_list(?)');
  const idxCols = db.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').pluck();
  const tables = names.map((name): NativeTable => {
    const cols = colStmt.all(name) as PragmaColumn[];
    const primaryKey = cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    const columns = cols.map((c): NativeColumn => {
      const kind = sqliteKind(c.type);
      const column: Column = { name: c.name, type: kind === 'integer' ? 'integer' : 'text', required: c.nn === 1 || c.pk > 0 };
      return { name: c.name, nativeType: c.type, kind, column };
    });
    const fks = new Map<number, { table: string; columns: string[]; refColumns: (string | null)[] }>();
    for (const r of fkStmt.all(name) as { id: number; rt: string; c: string; rc: string | null }[]) {
      const fk = fks.get(r.id) ?? { table: r.rt, columns: [], refColumns: [] };
      fk.columns.push(r.c);
      fk.refColumns.push(r.rc);
      fks.set(r.id, fk);
    }
    const uniques = (idxStmt.all(name) as { name: string; u: number; origin: string }[]).filter((i) => i.u === 1 && i.origin !== 'pk').map((i) => idxCols.all(i.name) as string[]);
    return { name, columns, primaryKey, foreignKeys: [...fks.values()].map((f) => ({ ...f, refColumns: f.refColumns as string[] })), uniques };
  });
  const byName = new Map(tables.map((t) => [t.name, t]));
  for (const t of tables) {
    for (const fk of t.foreignKeys) {
      // SQLite matches a foreign key's names ignoring ASCII case (`REFERENCES P (ID)` is into p (id)):
      // they are given as the tables spell them, so export's Data Package names a real resource and field.
      const parent = byName.get(fk.table) ?? tables.find((x) => sameName(x.name, fk.table));
      if (parent) fk.table = parent.name;
      fk.columns = fk.columns.map((c) => columnName(t, c));
      // A foreign key without its parent columns (`REFERENCES items`) points at the parent's primary key.
      if (fk.refColumns.some((c) => c === null)) fk.refColumns = parent?.primaryKey ?? [];
      else if (parent) fk.refColumns = fk.refColumns.map((c) => columnName(parent, c));
    }
  }
  return tables;
}

/** The recorded definitions, by table name (none where forklift_tables does not exist). */
export function sqliteRecorded(db: Database.Database): Map<string, unknown> {
  const has = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").pluck().get(TABLES_TABLE);
  if (!has) return new Map();
  const rows = db.prepare(`SELECT name, definition FROM ${TABLES_TABLE}`).raw().all() as [string, unknown][];
  return new Map(rows);
}

export function sqliteDescribe(db: Database.Database): Entity[] {
  return describeFrom(sqliteCatalog(db), sqliteRecorded(db), { loose: true });
}

/** Any SQLite value as text: numbers as JavaScript prints them, BLOBs as `\x` hex. */
export function sqliteText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return String(v);
  if (Buffer.isBuffer(v)) return `\\x${v.toString('hex')}`;
  return String(v);
}

const TEXT_FN = 'forklift_text';
const DECIMAL_KEY_FN = 'forklift_decimal_key';
const INSTANT_FN = 'forklift_utc_instant';

/**
 * The SELECT that reads an entity's table in canonical order, and how each value is decoded.
 * `where`: only the rows before a cut-off (forklift keeps dates and instants as canonical ISO
 * text, whose code point order is their time order), the bound value in `params`.
 */
export function sqliteReadPlan(e: Entity, native: readonly NativeColumn[], where?: RowRange, zonedKeys = false): { sql: string; params: unknown[]; decode: ((v: unknown) => unknown)[]; functions: Set<string> } {
  const functions = new Set<string>();
  const select = e.columns.map((c, i) => {
    const n = native[i]!;
    if (n.kind === 'other') {
      functions.add(TEXT_FN);
      return `${TEXT_FN}(${q(c.name)})`;
    }
    return q(c.name);
  });
  const pos = new Map(e.columns.map((c, i) => [c.name, i]));
  const order = orderColumns(e).map((c) => {
    const i = pos.get(c.name)!;
    const n = native[i]!;
    switch (sortBy(c, n)) {
      case 'native':
        return q(c.name);
      case 'decimal-text':
        functions.add(DECIMAL_KEY_FN);
        return `${DECIMAL_KEY_FN}(${q(c.name)})`;
      case 'text':
        if (zonedKeys && isTextInstant(c, n)) {
          functions.add(INSTANT_FN);
          return `${INSTANT_FN}(${q(c.name)})`;
        }
        if (n.kind === 'text') return `${q(c.name)} COLLATE BINARY`;
        functions.add(TEXT_FN);
        return `${TEXT_FN}(${q(c.name)})`;
    }
  });
  const decode = e.columns.map((c, i) => {
    const n = native[i]!;
    const base: (v: unknown) => unknown = isTextInstant(c, n) ? (v) => (typeof v === 'string' ? utcInstantText(v) : sqliteText(v)) : n.kind === 'integer' ? toInteger : n.kind === 'text' ? (v) => (typeof v === 'string' ? v : sqliteText(v)) : (v) => v;
    const adapt = adaptValue(c, n);
    return adapt ? (v: unknown) => adapt(base(v)) : base;
  });
  const filter = where ? ` WHERE ${q(where.column)} < ?` : '';
  const sql = `SELECT ${select.join(', ')} FROM ${q(e.name)}${filter}${order.length ? ` ORDER BY ${order.join(', ')}` : ''}`;
  return { sql, params: where ? [where.before] : [], decode, functions };
}

/** A timestamp of the model kept as text: read as its UTC instant (utcInstantText). */
function isTextInstant(c: Column, n: NativeColumn): boolean {
  return c.type === 'timestamp' && (n.kind === 'text' || n.kind === 'other');
}

/**
 * Whether a key instant of the table is written otherwise than in the staging form (with an
 * offset, by another tool): its text then does not sort in time order, and the rows must be
 * ordered by the UTC instant instead (no keyset pages). One scan, and only for such a key;
 * forklift's own tables never have one, and keep their fast read.
 */
function zonedKeyInstants(db: Database.Database, e: Entity, native: readonly NativeColumn[]): boolean {
  const pos = new Map(e.columns.map((c, i) => [c.name, i]));
  return orderColumns(e).some((c) => {
    const n = native[pos.get(c.name)!]!;
    if (!isTextInstant(c, n)) return false;
    const col = q(c.name);
    return db.prepare(`SELECT 1 FROM ${q(e.name)} WHERE ${col} IS NOT NULL AND (length(${col}) <> 24 OR substr(${col}, 24) <> 'Z') LIMIT 1`).get() !== undefined;
  });
}

/**
 * The table's rows in canonical order, in batches, from one SELECT (one consistent read; the
 * statement is finalized, and its read lock released, as soon as the consumer stops).
 */
export function* sqliteReadRows(db: Database.Database, e: Entity, native: readonly NativeColumn[], signal?: AbortSignal, where?: RowRange): Generator<unknown[][]> {
  const plan = sqliteReadPlan(e, native, where, zonedKeyInstants(db, e, native));
  registerFunctions(db, plan.functions);
  const pages = keysetPages(db, e, native, plan);
  if (pages) {
    for (const rows of pages) if (rows.length) yield decodePage(rows, plan.decode, signal);
    return;
  }
  const rows = db.prepare(plan.sql).raw(true).safeIntegers(true).iterate(...plan.params) as IterableIterator<unknown[]>;
  const b = new RowBatcher(plan.decode, signal);
  for (const r of rows) {
    const full = b.push(r);
    if (full) yield full;
  }
  const last = b.rest();
  if (last) yield last;
}

/**
 * The same rows a page at a time: each page one `.all()` of the rows after the last key read
 * (`WHERE (k1, k2) > (?, ?) … LIMIT`), inside one read transaction so the pages are one
 * consistent snapshot (the caller's where it has one: a store snapshot reading many tables). better-sqlite3 builds a page's rows in one call instead of one call per
 * row: 1M rows of the machine log read in 1.0 s instead of 1.6 s. Only where the primary key is
 * plain NOT NULL columns whose order the table's own key index gives, the page's start a range
 * on that index (a plan that scans or sorts would read the rest of the table for every page):
 * undefined otherwise.
 */
function keysetPages(db: Database.Database, e: Entity, native: readonly NativeColumn[], plan: ReturnType<typeof sqliteReadPlan>): Generator<unknown[][]> | undefined {
  const ks = keysetStatements(db, e, native, plan);
  if (!ks) return undefined;
  const own = !db.inTransaction;
  return (function* pages(): Generator<unknown[][]> {
    if (own) db.exec('BEGIN');
    try {
      let rows = ks.first.all(...plan.params) as unknown[][];
      while (rows.length > 0) {
        const last = rows[rows.length - 1]!;
        const after = ks.keyPos.map((i) => last[i]);
        yield rows;
        rows = rows.length < READ_ROWS_BATCH ? [] : (ks.next.all(...plan.params, ...after) as unknown[][]);
      }
    } finally {
      if (own && db.inTransaction) db.exec('COMMIT');
    }
  })();
}

/** A page's raw rows decoded in place; a page is READ_ROWS_BATCH rows at most, so it is one batch. */
function decodePage(rows: unknown[][], decode: readonly ((v: unknown) => unknown)[], signal: AbortSignal | undefined): unknown[][] {
  const b = new RowBatcher(decode, signal);
  let full: unknown[][] | null = null;
  for (const r of rows) full = b.push(r) ?? full;
  return full ?? b.rest()!;
}

/**
 * The two statements of a keyset read: the first page, and the page after a key (the plan's
 * parameters, then the key's values). Undefined where the key cannot serve pages (see keysetPages).
 */
function keysetStatements(db: Database.Database, e: Entity, native: readonly NativeColumn[], plan: ReturnType<typeof sqliteReadPlan>): { first: Database.Statement; next: Database.Statement; keyPos: number[] } | undefined {
  if (e.primaryKey.length === 0 || plan.functions.size > 0) return undefined;
  const pos = new Map(e.columns.map((c, i) => [c.name, i]));
  const keyPos = e.primaryKey.map((k) => pos.get(k)!);
  const terms: string[] = [];
  for (const i of keyPos) {
    const c = e.columns[i]!;
    const n = native[i]!;
    if (!n.column.required) return undefined;
    const by = sortBy(c, n);
    // The column itself, not `COLLATE BINARY`: SQLite turns only a bare row value into a range
    // on the key index. A column of another collation cannot serve the BINARY order: the plan
    // check below finds the sort and declines.
    if ((by === 'native' && n.kind !== 'text') || (by === 'text' && n.kind === 'text')) terms.push(q(c.name));
    else return undefined;
  }
  const [head, order] = plan.sql.split(' ORDER BY ');
  if (order === undefined) return undefined;
  const where = head!.includes(' WHERE ') ? `${head} AND` : `${head} WHERE`;
  const firstSql = `${head} ORDER BY ${order} LIMIT ${READ_ROWS_BATCH}`;
  const nextSql = `${where} (${terms.join(', ')}) > (${terms.map(() => '?').join(', ')}) ORDER BY ${order} LIMIT ${READ_ROWS_BATCH}`;
  const steps = (db.prepare(`EXPLAIN QUERY PLAN ${nextSql}`).all(...plan.params, ...keyPos.map(() => null)) as { detail: string }[]).map((r) => r.detail);
  // A page must start where the last one ended (a SEARCH on the key), in the key's order (no sort).
  if (steps.some((d) => /TEMP B-TREE/.test(d)) || !steps.some((d) => /^SEARCH .*>[?(]/.test(d))) return undefined;
  return { first: db.prepare(firstSql).raw(true).safeIntegers(true), next: db.prepare(nextSql).raw(true).safeIntegers(true), keyPos };
}

/** How far a table being written has come: rows committed, and whether it is complete. */
export interface WriteProgress {
  rows: number;
  done: boolean;
}

/**
 * A table's rows in canonical order while another connection is still writing it in that order
 * (exit's re-import, src/bundle/scratch-import.ts): a page at a time, each page the committed rows
 * after the last key read; when a page comes back short, `after(read)` waits until more rows are
 * committed or the table is complete. Every page is its own read, so each sees the latest commit.
 * A table whose key cannot serve pages is read whole once it is complete. In the end the rows read
 * must be the rows written.
 */
export async function* sqliteFollowRows(db: Database.Database, e: Entity, native: readonly NativeColumn[], after: (read: number) => Promise<WriteProgress>, signal?: AbortSignal): AsyncGenerator<unknown[][]> {
  const plan = sqliteReadPlan(e, native);
  registerFunctions(db, plan.functions);
  const ks = keysetStatements(db, e, native, plan);
  let read = 0;
  let state: WriteProgress = { rows: 0, done: false };
  if (!ks) {
    while (!state.done) state = await after(state.rows);
    for (const batch of sqliteReadRows(db, e, native, signal)) {
      read += batch.length;
      yield batch;
    }
  } else {
    let lastKey: unknown[] | undefined;
    for (;;) {
      signal?.throwIfAborted();
      // Complete before this page was read: then the page saw every row.
      const wasDone = state.done;
      const rows = (lastKey === undefined ? ks.first.all(...plan.params) : ks.next.all(...plan.params, ...lastKey)) as unknown[][];
      if (rows.length > 0) {
        const last = rows[rows.length - 1]!;
        lastKey = ks.keyPos.map((i) => last[i]);
        read += rows.length;
        yield decodePage(rows, plan.decode, signal);
      }
      if (rows.length === READ_ROWS_BATCH) continue;
      if (wasDone) break;
      state = await after(read);
    }
  }
  if (read !== state.rows) throw new Error(`${e.name}: the comparison read ${read} rows of the ${state.rows} written`);
}

/** `forklift_text(v)`: any value as the text readRows gives for it (sqliteText), on this handle. */
export function registerTextFunction(db: Database.Database): string {
  registerFunctions(db, new Set([TEXT_FN]));
  return TEXT_FN;
}

const ACTIONS: Record<string, DeleteAction> = { CASCADE: 'cascade', 'SET NULL': 'set null', 'SET DEFAULT': 'set default', RESTRICT: 'restrict', 'NO ACTION': 'no action' };

/**
 * Every foreign key of the database (SQLite's cannot reach into another one), composite and self
 * referencing alike; one without its parent columns (`REFERENCES items`) points at the parent's
 * primary key. SQLite keeps no constraint names: a key is named by its columns.
 */
export function sqliteForeignKeys(db: Database.Database): StoreForeignKey[] {
  const out: StoreForeignKey[] = [];
  const tables = new Map(sqliteCatalog(db).map((t) => [t.name, t]));
  const fkStmt = db.prepare('SELECT id, "table" AS rt, "from" AS c, "to" AS rc, on_delete AS del FROM pragma_foreign_key_list(?) ORDER BY id, seq');
  for (const t of tables.values()) {
    const byId = new Map<number, { rt: string; cols: string[]; rcols: (string | null)[]; del: string }>();
    for (const r of fkStmt.all(t.name) as { id: number; rt: string; c: string; rc: string | null; del: string }[]) {
      const fk = byId.get(r.id) ?? { rt: r.rt, cols: [], rcols: [], del: r.del };
      fk.cols.push(r.c);
      fk.rcols.push(r.rc);
      byId.set(r.id, fk);
    }
    for (const fk of byId.values()) {
      // SQLite matches the names of a foreign key as it matches any name, ignoring ASCII case:
      // `REFERENCES P (ID)` is a foreign key into p (id), which a purge must see.
      const parent = tables.get(fk.rt) ?? [...tables.values()].find((x) => sameName(x.name, fk.rt));
      if (!parent) continue;
      const refColumns = fk.rcols.some((c) => c === null) ? parent.primaryKey : (fk.rcols as string[]).map((c) => columnName(parent, c));
      const columns = fk.cols.map((c) => columnName(t, c));
      out.push({
        name: `${t.name} (${columns.join(', ')}) -> ${parent.name} (${refColumns.join(', ')})`,
        schema: null,
        table: t.name,
        columns,
        refTable: parent.name,
        refColumns,
        onDelete: ACTIONS[fk.del.toUpperCase()] ?? 'no action',
      });
    }
  }
  return out;
}

/** Two names SQLite takes for the same (it ignores the case of ASCII letters). */
function sameName(a: string, b: string): boolean {
  const fold = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  return fold(a) === fold(b);
}

/** A column of a table as the table names it, for a name a foreign key spells its own way. */
function columnName(t: NativeTable, name: string): string {
  return t.columns.find((c) => c.name === name)?.name ?? t.columns.find((c) => sameName(c.name, name))?.name ?? name;
}

/** The SQL functions a read plan calls, on this handle. */
function registerFunctions(db: Database.Database, functions: ReadonlySet<string>): void {
  if (functions.has(TEXT_FN)) db.function(TEXT_FN, { deterministic: true, safeIntegers: true }, (v: unknown) => sqliteText(v));
  if (functions.has(INSTANT_FN)) db.function(INSTANT_FN, { deterministic: true, safeIntegers: true }, (v: unknown) => (typeof v === 'string' ? utcInstantText(v) : v === null ? null : sqliteText(v)));
  if (functions.has(DECIMAL_KEY_FN)) db.function(DECIMAL_KEY_FN, { deterministic: true, safeIntegers: true }, (v: unknown) => decimalSortKey(typeof v === 'string' ? v : sqliteText(v)));
}

/** The table's columns, or undefined where the table does not exist. */
export function sqliteTable(db: Database.Database, name: string): NativeTable | undefined {
  const exists = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?").pluck().get(name);
  if (!exists) return undefined;
  const cols = db.prepare('SELECT name, type, "notnull" AS nn, pk FROM pragma_table_info(?) ORDER BY cid').all(name) as PragmaColumn[];
  return {
    name,
    columns: cols.map((c) => {
      const kind = sqliteKind(c.type);
      return { name: c.name, nativeType: c.type, kind, column: { name: c.name, type: kind === 'integer' ? 'integer' : 'text', required: c.nn === 1 } };
    }),
    primaryKey: [],
    foreignKeys: [],
    uniques: [],
  };
}

/** A name in SQLite's SQL: quoted ("", ``, []) or bare, with its schema or not. */
const SQLITE_NAME = '(?:"(?:[^"]|"")*"|`(?:[^`]|``)*`|\\[[^\\]]*\\]|[^\\s."`[(]+)';
/** The head of CREATE TRIGGER up to its event: `[BEFORE|AFTER|INSTEAD OF] DELETE|INSERT|UPDATE`. */
const TRIGGER_HEAD = new RegExp(String.raw`^\s*CREATE\s+(?:TEMP\s+|TEMPORARY\s+)?TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?${SQLITE_NAME}(?:\s*\.\s*${SQLITE_NAME})?\s*(BEFORE|AFTER|INSTEAD\s+OF)?\s*(DELETE|INSERT|UPDATE)\b`, 'i');

/**
 * The triggers that act on a DELETE of one of the store's tables. The catalog keeps only a
 * trigger's CREATE statement: its event is read from the head (comments taken out first); one
 * whose head cannot be read counts as a DELETE trigger (a purge then refuses, naming it).
 */
export function sqliteDeleteTriggers(db: Database.Database): DeleteTrigger[] {
  const rows = db.prepare("SELECT name, tbl_name AS t, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY tbl_name, name").all() as { name: string; t: string; sql: string | null }[];
  const out: DeleteTrigger[] = [];
  for (const r of rows) {
    const m = TRIGGER_HEAD.exec((r.sql ?? '').replace(/\/\*[\s\S]*?\*\/|--[^\n]*/g, ' '));
    if (m && m[2]!.toUpperCase() !== 'DELETE') continue;
    out.push({ table: r.t, name: r.name, kind: 'trigger', when: m ? `${(m[1] ?? 'BEFORE').toUpperCase().replace(/\s+/g, ' ')} DELETE` : 'DELETE' });
  }
  return out;
}
