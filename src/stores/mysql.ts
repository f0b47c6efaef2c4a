import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import knexFactory, { type Knex } from 'knex';
import type { Connection as RawConnection, QueryOptions, ResultSetHeader } from 'mysql2';
import { BugError, ConfigError, StoreError } from '../core/errors.js';
import type { Column, Entity } from '../model/types.js';
import { TABLES_TABLE, describeFrom, nativeColumnsFor, pooledConnections, tableRecords, type NativeColumn, type NativeTable } from './read-common.js';
import { holdsExactly, shapeError, shapeMismatches, type ShapeRule } from './table-shape.js';
import { ParkedResult, streamedRows } from './read-stream.js';
import {
  MYSQL_FOREIGN_KEYS_SQL,
  MYSQL_KEYS_SQL,
  datetimeText,
  MYSQL_TABLES_DDL,
  MYSQL_TABLES_SQL,
  MYSQL_TABLES_UPSERT,
  mysqlColumnsSql,
  MYSQL_DELETE_TRIGGERS_SQL,
  mysqlDeleteTriggers,
  mysqlForeignKeys,
  mysqlReadPlan,
  mysqlRows,
  mysqlTables,
  mysqlWideSql,
  mysqlWriteForm,
  type MysqlColumnRow,
  type MysqlForeignKeyRow,
  type MysqlKeyRow,
} from './read-mysql.js';
import { referencedClosure } from './referenced.js';
import { checkNameLengths, MYSQL_NAME_LIMIT } from './name-limits.js';
import { SCRATCH_PREFIX, loadNarrowing, scratchSchemaName, type Refusal, type SeqRange } from './rehearse.js';
import { DeleteGuard, archivedKeyMatch, keyColumns, referencedSql, referencedTables, rowPieces, withModelReferences, valueColumns, type ArchivedTable, type RefDialect, type RowSet } from './delete-common.js';
import { upsertSetNames } from './upsert-common.js';
import { stagedRows } from './staged-rows.js';
import { escapeRegExp } from '../util/regexp.js';
import { firstHeldKey, keyClashError, keysCondition } from './key-clash.js';
import type { DeleteRequest, DeleteTable, DeleteTrigger, EntityLoad, KeySets, LoadRequest, ReadRowsOptions, RehearsalRequest, RunEntry, StoreCounter, StoreForeignKey, StoreSnapshot, TargetStore } from './types.js';
import { UNCHAINED_SQL, adoptionLinks, firstChainEntry, nextLink, type ChainLink } from '../audit/chain.js';
import { activeSigner } from '../audit/signing.js';
import { TARGET_URL, checkServerUrl, decodeUrlPart, redactUrl } from './url.js';
import { collatedKeyColumns, looseKeyError } from './loose-keys.js';
import { abortReason, cancelOnAbort } from '../util/abort.js';

/**
 * MySQL and MariaDB target (`mysql://user:pass@host:3306/db`, also `mariadb://`).
 *
 * All or nothing: MySQL and MariaDB commit DDL implicitly, so a CREATE TABLE inside the data
 * transaction would commit the rows loaded before it. The tables (the run's entities, every entity
 * they reference, forklift_runs) are therefore created BEFORE the transaction opens, with CREATE
 * TABLE IF NOT EXISTS: idempotent. A run that fails drops the data tables it made (still empty:
 * its rows were rolled back); a killed one leaves them, empty, for the next run to reuse. Everything that changes rows (replace's DELETEs, the loads,
 * the run entry) then runs in ONE transaction on one connection, committed at the end or rolled
 * back (a killed process drops the connection, and the server rolls back for us).
 *
 * Bulk path, measured on this machine (MariaDB 10.11, 2 shared cores, Node 20): the store's load
 * of the 1M-row machine log from a staging file into an empty machine_events table, same run,
 * interleaved, medians:
 *   LOAD DATA LOCAL INFILE from a stream       4.6 s   (default)
 *   multi-row INSERT, 1000 rows per statement  12.5 s  (2.0-2.7x slower; 1.9x in `forklift migrate`'s load stage)
 *   mariadb CLI LOAD DATA LOCAL of the CSV     4.9 s   (the server's limit, for reference)
 * so LOAD DATA LOCAL INFILE is the default. It needs local_infile=ON on the server; where it is
 * OFF, or where the server refuses LOCAL, the load falls back to multi-row INSERTs (forklift never
 * changes the server's setting). `FORKLIFT_MYSQL_BULK=insert|load-data` forces
 * one path (benchmarks and tests).
 *
 * LOAD DATA LOCAL has the semantics of LOAD DATA IGNORE (the server cannot stop the client's
 * transfer midway): a duplicate key, a bad value or a broken foreign key becomes a warning and the
 * row is skipped or altered instead of failing the statement. So every bulk statement's warnings
 * are read, and any warning fails the load (rolled back) with the warning as the reason.
 */

const ENGINE = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin';
/** Strict for every table (also in LOAD DATA), no zero dates: a bad value is an error, never a silent change. */
const SQL_MODE = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';
/** Multi-row INSERT: rows per statement (1M rows: 500 took 12.9-15.0 s, 1000 12.2-13.0 s, 2000 12.0-12.4 s). */
const ROWS_PER_INSERT = 1000;
/** Upper bound of one INSERT statement, also kept below the server's max_allowed_packet. */
const MAX_STATEMENT_BYTES = 4 << 20;
/** LOAD DATA: characters of TSV text per chunk (one protocol packet each, well under 16 MiB). */
const CHUNK_CHARS = 256 << 10;
/** Rows per batch yielded by readColumn. */
const READ_BATCH = 5000;
/** information_schema DATA_TYPEs of text columns. */
const TEXT_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext']);

export type MysqlBulkPath = 'load-data' | 'insert';

export const qi = (name: string): string => `\`${name.replace(/`/g, '``')}\``;
const lit = (s: string): string => `'${s.replace(/[\\'\0]/g, (c) => (c === '\0' ? '\\0' : `\\${c}`))}'`;

export function mysqlColumnType(c: Column): string {
  switch (c.type) {
    case 'string':
      // Longer than a varchar holds in utf8mb4: the length is forklift's own check (coerce.ts).
      return (c.length ?? 255) > VARCHAR_MAX_CHARS ? 'mediumtext' : `varchar(${c.length ?? 255})`;
    case 'text':
      return 'longtext';
    case 'integer':
      return 'bigint';
    case 'decimal':
      return `decimal(${c.precision ?? 18},${c.scale ?? 6})`;
    case 'boolean':
      return 'tinyint(1)';
    case 'date':
      return 'date';
    case 'timestamp':
      // No zone-aware type: UTC, with the session time_zone pinned to +00:00.
      return 'datetime(3)';
    case 'enum':
      return `varchar(${Math.max(1, ...(c.values ?? []).map((v) => [...v].length))})`;
  }
}

/**
 * MySQL/MariaDB's limits on text columns, in utf8mb4 (4 bytes a character at most): a varchar holds
 * at most 16383 characters, and the varchar columns of a row add up to at most 65535 bytes (text
 * columns count a pointer only), so a model with a few long strings cannot be all varchar: "Row
 * size too large". An index key holds at most 3072 bytes (InnoDB, DYNAMIC rows), and a text column
 * is indexed only by a prefix, which a key cannot be.
 */
const UTF8MB4_BYTES = 4;
const VARCHAR_MAX_CHARS = 16383;
const ROW_BYTES = 65535;
export const MYSQL_INDEX_KEY_BYTES = 3072;
/** A text column's capacity: 65535 bytes, the longest string(n) it holds whatever its characters. */
const TEXT_MAX_CHARS = Math.floor(65535 / UTF8MB4_BYTES);

/** Bytes a value of the type takes at most in a row (and in an index key). */
function fixedBytes(c: Column): number {
  switch (c.type) {
    case 'integer':
      return 8;
    case 'boolean':
      return 1;
    case 'date':
      return 3;
    case 'timestamp':
      return 8;
    case 'decimal': {
      // 4 bytes per 9 digits on each side of the point, and up to 4 more for the rest.
      const p = c.precision ?? 18;
      const s = c.scale ?? 6;
      return 4 * Math.ceil((p - s) / 9) + 4 * Math.ceil(s / 9);
    }
    default:
      return 0;
  }
}

/** Bytes a varchar of n utf8mb4 characters takes in a row: its text and 1 or 2 length bytes. */
const varcharRowBytes = (n: number): number => n * UTF8MB4_BYTES + (n * UTF8MB4_BYTES > 255 ? 2 : 1);
/** A text or mediumtext column in a row: its length bytes and a pointer (the server's own count is 9 to 12). */
const TEXT_ROW_BYTES = 12;

/** The columns of a key, unique column or foreign key: the server indexes them, so they must stay varchar. */
function indexedColumns(e: Entity): Set<string> {
  return new Set([...e.primaryKey, ...e.columns.filter((c) => c.unique || c.references).map((c) => c.name)]);
}

/**
 * The type of each column of the entity's table: mysqlColumnType, but where the varchar columns
 * would exceed a row's 65535 bytes, the longest strings that are no key become text (mediumtext
 * when longer than text holds), the longest first, until the row fits; the others keep their
 * varchar (as earlier versions made them, so the tables they made still pass the shape check).
 */
export function mysqlColumnTypes(e: Entity): Map<string, string> {
  const types = new Map(e.columns.map((c) => [c.name, mysqlColumnType(c)]));
  const keyed = indexedColumns(e);
  const varcharOf = (name: string): number | undefined => {
    const m = /^varchar\((\d+)\)$/.exec(types.get(name) ?? '');
    return m ? Number(m[1]) : undefined;
  };
  const rowBytes = (): number =>
    Math.ceil(e.columns.filter((c) => !c.required).length / 8) +
    e.columns.reduce((sum, c) => {
      const n = varcharOf(c.name);
      return sum + (n !== undefined ? varcharRowBytes(n) : /text$/.test(types.get(c.name)!) ? TEXT_ROW_BYTES : fixedBytes(c));
    }, 0);
  const movable = e.columns
    .filter((c) => c.type === 'string' && !keyed.has(c.name) && varcharOf(c.name) !== undefined)
    .sort((a, b) => varcharOf(b.name)! - varcharOf(a.name)!);
  for (const c of movable) {
    if (rowBytes() <= ROW_BYTES) break;
    types.set(c.name, (c.length ?? 255) <= TEXT_MAX_CHARS ? 'text' : 'mediumtext');
  }
  return types;
}

/**
 * A key the server could not index, refused before any table is made (MySQL/MariaDB commits DDL
 * at once, so a refusal at CREATE TABLE would leave the tables before it): a string key, unique
 * column or foreign key longer than an index key holds (a text column cannot be a key without a
 * prefix), or a composite key whose columns add up to more. A `text` column of a key (a bundle's)
 * is left to createTables, which says so in its own words.
 */
export function checkMysqlKeyLengths(entities: readonly Entity[], display: string, modelFile?: string): void {
  const problems: string[] = [];
  const fixes = new Set<string>();
  for (const e of entities) {
    const byName = new Map(e.columns.map((c) => [c.name, c]));
    const bytes = (c: Column): number => (c.type === 'string' ? (c.length ?? 255) * UTF8MB4_BYTES : c.type === 'enum' ? Math.max(1, ...(c.values ?? []).map((v) => [...v].length)) * UTF8MB4_BYTES : fixedBytes(c));
    const keys: { what: string; cols: Column[] }[] = [];
    if (e.primaryKey.length) keys.push({ what: 'the primary key', cols: e.primaryKey.map((n) => byName.get(n)).filter((c): c is Column => c !== undefined) });
    for (const c of e.columns) {
      if (c.unique) keys.push({ what: 'unique', cols: [c] });
      if (c.references) keys.push({ what: `a reference to ${c.references.entity}.${c.references.column}`, cols: [c] });
    }
    for (const { what, cols } of keys) {
      if (cols.some((c) => c.type === 'text')) continue;
      const total = cols.reduce((sum, c) => sum + bytes(c), 0);
      if (total <= MYSQL_INDEX_KEY_BYTES) continue;
      const texts = cols.filter((c) => c.type === 'string' || c.type === 'enum');
      if (cols.length === 1) problems.push(`${e.name}.${cols[0]!.name} (${what}) ${cols[0]!.type === 'enum' ? 'has values' : 'is a string'} of ${total / UTF8MB4_BYTES} characters`);
      else problems.push(`${what} of ${e.name} (${cols.map((c) => c.name).join(', ')}) takes up to ${total} bytes`);
      for (const c of texts) fixes.add(`${e.name}.${c.name}`);
    }
  }
  if (problems.length === 0) return;
  const maxChars = MYSQL_INDEX_KEY_BYTES / UTF8MB4_BYTES;
  throw new ConfigError(`${display}: MySQL/MariaDB indexes at most ${MYSQL_INDEX_KEY_BYTES} bytes of a key (${maxChars} characters of utf8mb4 text), and ${problems.length === 1 ? 'this key is' : 'these keys are'} longer: ${problems.join('; ')}; nothing was loaded`, {
    code: 'store.key-too-long',
    hint: `Give ${[...fixes].join(', ')} a shorter length in the model${modelFile ? ` (${modelFile})` : ''}: at most ${maxChars} characters for a key of one column (length: ${maxChars}), less for a key of several; or load into PostgreSQL or SQLite.`,
    ...(modelFile ? { location: { file: modelFile } } : {}),
  });
}

/** The column's CHECK: enums take their values only, booleans 0 and 1. */
function mysqlCheck(c: Column): string {
  if (c.type === 'boolean') return ` CHECK (${qi(c.name)} IN (0, 1))`;
  if (c.type === 'enum') return ` CHECK (${qi(c.name)} IN (${(c.values ?? []).map(lit).join(', ')}))`;
  return '';
}

/** The existing tables a load writes into must hold the model's values exactly (table-shape.ts): MariaDB rounds fractional seconds silently. */
async function checkTableShapes(conn: RawConnection, entities: readonly EntityLoad[], display: string): Promise<void> {
  for (const { entity } of entities) {
    const cols = await query<MysqlColumnRow[]>(conn, mysqlColumnsSql(true), [entity.name]);
    if (cols.length === 0) continue;
    const types = mysqlColumnTypes(entity);
    const mismatches = shapeMismatches(entity, mysqlTables([{ t: entity.name, d: null }], cols, [])[0]!, (c) => types.get(c.name)!, mysqlHoldsExactly(cols));
    if (mismatches.length) throw shapeError(display, entity.name, mismatches);
  }
}

/** Most bytes a character takes in a character set (information_schema gives a text type's length in bytes). */
const CHARSET_BYTES: Record<string, number> = { utf8mb4: 4, utf16: 4, utf16le: 4, utf32: 4, utf8mb3: 3, utf8: 3, ucs2: 2, latin1: 1, ascii: 1 };

/**
 * holdsExactly, and a tinytext or text column (which the catalog describes without a length: its
 * limit is in bytes) must hold the model string's length in characters of its character set: a
 * string(n) forklift makes as text fits, a longer one needs mediumtext. varchar(n) and mediumtext
 * (the forms earlier and current versions make) pass as before.
 */
export function mysqlHoldsExactly(cols: readonly MysqlColumnRow[]): ShapeRule {
  const bytesOf = new Map(cols.filter((r) => /^(tinytext|text)$/i.test(r.dt)).map((r) => [r.c, Number(r.len)]));
  return (model, native) => {
    if (!holdsExactly(model, native)) return false;
    const bytes = bytesOf.get(native.name);
    if (bytes === undefined || model.type !== 'string' || model.length === undefined) return true;
    const cs = cols.find((r) => r.c === native.name)?.cs?.toLowerCase() ?? 'utf8mb4';
    return Math.floor(bytes / (CHARSET_BYTES[cs] ?? UTF8MB4_BYTES)) >= model.length;
  };
}

/**
 * The tables, parents first. A key of a text column (a bundle from PostgreSQL or SQLite, whose
 * `text` keys have no length) is one MySQL/MariaDB cannot make: said as such, naming the columns,
 * instead of the server's "BLOB/TEXT column used in key specification without a key length".
 */
async function createTables(conn: RawConnection, entities: readonly Entity[], display: string): Promise<void> {
  for (const entity of entities) {
    try {
      await query(conn, mysqlCreateTable(entity));
    } catch (e) {
      if ((e as ServerError)?.errno !== 1170) throw e;
      const keyed = new Set([...entity.primaryKey, ...entity.columns.filter((c) => c.unique || c.references).map((c) => c.name)]);
      for (const other of entities) for (const c of other.columns) if (c.references?.entity === entity.name) keyed.add(c.references.column);
      const text = entity.columns.filter((c) => c.type === 'text' && keyed.has(c.name)).map((c) => c.name);
      throw new StoreError(`${display}: the table ${entity.name} cannot be created in MySQL/MariaDB: ${text.length ? `${text.join(', ')} ${text.length === 1 ? 'is a text column' : 'are text columns'} without a length, and` : 'a key column is text without a length, and'} MySQL/MariaDB keys (primary, unique, foreign) need one; nothing was loaded`, {
        code: 'store.text-key',
        hint: `Give ${text.length === 1 ? 'the column' : 'the columns'} a length in the source (varchar(n), string(n) in the bundle) and export again, or load into PostgreSQL or SQLite, which key text of any length.`,
        cause: Object.assign(new Error('BLOB/TEXT column used in key specification without a key length'), { errno: 1170 }),
      });
    }
  }
}

/** Which of `names` are tables of the current database. */
async function existingTables(conn: RawConnection, names: readonly string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const rows = await query<{ t: string }[]>(conn, `SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (${names.map(() => '?').join(', ')})`, [...names]);
  return new Set(rows.map((r) => r.t));
}

/**
 * Drops the tables a failed load made, children first, each only while it is still empty (another
 * session may have begun to use it meanwhile). Best effort: the load's own error is what the user
 * sees, and a table left behind is empty and reused by the next run.
 */
async function dropEmptyTables(conn: RawConnection, made: readonly string[]): Promise<void> {
  for (const name of [...made].reverse()) {
    try {
      const held = await query<unknown[]>(conn, `SELECT 1 FROM ${qi(name)} LIMIT 1`);
      if (held.length === 0) await query(conn, `DROP TABLE IF EXISTS ${qi(name)}`);
    } catch {
      // Left as it is (a foreign key from another table, a lost privilege): empty, and reused by the next run.
    }
  }
}

export function mysqlCreateTable(e: Entity): string {
  const types = mysqlColumnTypes(e);
  const cols = e.columns.map((c) => `${qi(c.name)} ${types.get(c.name)!}${c.required ? ' NOT NULL' : ' NULL'}${mysqlCheck(c)}`);
  // A table without a key gets no PRIMARY KEY clause.
  const pk = e.primaryKey.length ? [`PRIMARY KEY (${e.primaryKey.map(qi).join(', ')})`] : [];
  const uniques = e.columns.filter((c) => c.unique).map((c) => `UNIQUE KEY (${qi(c.name)})`);
  const fks = e.columns
    .filter((c) => c.references && c.references.entity !== e.name)
    .map((c) => `FOREIGN KEY (${qi(c.name)}) REFERENCES ${qi(c.references!.entity)} (${qi(c.references!.column)})`);
  return `CREATE TABLE IF NOT EXISTS ${qi(e.name)} (\n  ${[...cols, ...pk, ...uniques, ...fks].join(',\n  ')}\n) ${ENGINE}`;
}

/**
 * The run ledger. started/finished stay the exact ISO text of the entry and files/counts the exact
 * JSON text (not the JSON type, which MySQL re-serializes): the audit chain hashes these bytes.
 */
const RUNS_DDL = `CREATE TABLE IF NOT EXISTS forklift_runs (
  id varchar(64) NOT NULL PRIMARY KEY,
  command varchar(32) NOT NULL,
  status varchar(16) NOT NULL,
  started varchar(32) NOT NULL,
  finished varchar(32) NOT NULL,
  operator varchar(255) NULL,
  host varchar(255) NULL,
  tool_version varchar(64) NULL,
  plan_sha256 varchar(64) NULL,
  files longtext NULL,
  counts longtext NULL,
  message longtext NULL,
  seq bigint NULL,
  prev_hash varchar(64) NULL,
  entry_hash varchar(64) NULL,
  signature varchar(255) NULL
) ${ENGINE}`;

const CHAIN_COLUMNS_DDL = [['seq', 'bigint NULL'], ['prev_hash', 'varchar(64) NULL'], ['entry_hash', 'varchar(64) NULL'], ['signature', 'varchar(255) NULL']] as const;

/**
 * The runs table, with the audit chain's columns added to a ledger from before the chain (or signing). DDL
 * commits implicitly, so this runs before any transaction opens.
 */
async function ensureRunsTable(conn: RawConnection): Promise<void> {
  await query(conn, RUNS_DDL);
  const rows = await query<{ column_name: string }[]>(conn, "SELECT column_name AS column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'forklift_runs' AND column_name IN ('seq', 'prev_hash', 'entry_hash', 'signature')");
  const has = new Set(rows.map((r) => String(r.column_name).toLowerCase()));
  const add = CHAIN_COLUMNS_DDL.filter(([c]) => !has.has(c)).map(([c, t]) => `ADD COLUMN ${c} ${t}`);
  if (add.length) await query(conn, `ALTER TABLE forklift_runs ${add.join(', ')}`);
}

/** Serialises appends to the chain across connections (released by releaseRunsLock or on disconnect). */
async function takeRunsLock(conn: RawConnection): Promise<void> {
  const rows = await query<{ got: number | string | null }[]>(conn, "SELECT GET_LOCK('forklift_runs', 600) AS got");
  if (Number(rows[0]?.got ?? 0) !== 1) throw new StoreError('forklift_runs: another run held the ledger lock for 10 minutes', { code: 'store.load', hint: 'Wait for the other run to finish, then run again.' });
}

async function releaseRunsLock(conn: RawConnection): Promise<void> {
  await query(conn, "SELECT RELEASE_LOCK('forklift_runs')").catch(() => {});
}

/** Holds the scratch schema's named lock for the life of the dry run (released on disconnect, so on a kill too). */
async function takeScratchLock(conn: RawConnection, scratch: string): Promise<void> {
  const rows = await query<{ got: number | string | null }[]>(conn, 'SELECT GET_LOCK(?, 0) AS got', [scratch]);
  if (Number(rows[0]?.got ?? 0) !== 1) throw new StoreError(`another dry run uses the scratch schema ${scratch}`, { code: 'store.load', hint: 'Run the dry run again.' });
}

/** Drops the scratch schemas of dry runs that are no longer alive (killed before their finally ran). */
export async function sweepScratchSchemas(conn: RawConnection): Promise<string[]> {
  const rows = await query<{ s: string }[]>(conn, 'SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?', [`${SCRATCH_PREFIX.replace(/_/g, '\\_')}%`]);
  const dropped: string[] = [];
  for (const { s } of rows) {
    const free = await query<{ f: number | string | null }[]>(conn, 'SELECT IS_FREE_LOCK(?) AS f', [s]);
    if (Number(free[0]?.f ?? 0) !== 1) continue;
    await query(conn, `DROP DATABASE IF EXISTS ${qi(s)}`);
    dropped.push(s);
  }
  return dropped;
}

interface ForeignKeyRow {
  name: string;
  t: string;
  ref: string;
  col: string;
  refCol: string;
  upd: string;
  del: string;
}

/**
 * Copies into the scratch schema the target's tables among `names`, and every table of the target
 * that references one of them (whose foreign keys a replace's DELETE must answer to): structure
 * with indexes and CHECKs (LIKE), rows, foreign keys (LIKE copies none: re-added, to the copy where
 * there is one, else to the target's own table) and triggers. The rows of a `replaced` table are
 * left out where only replaced tables reference it: the load deletes them first anyway.
 */
async function copyIntoScratch(conn: RawConnection, target: string, scratch: string, names: readonly string[], replaced: ReadonlySet<string>): Promise<ScratchNames> {
  const existing = new Set((await query<{ t: string }[]>(conn, "SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", [target])).map((r) => r.t));
  // Every foreign key of the target's tables: to its own tables, and to other databases' tables
  // (items.category → erp.categories), which a copy keeps, to those tables themselves, or a row
  // they refuse would pass the rehearsal.
  const allFks = await query<(ForeignKeyRow & { refSchema: string; own: number | string })[]>(
    conn,
    `SELECT k.CONSTRAINT_NAME AS name, k.TABLE_NAME AS t, k.REFERENCED_TABLE_SCHEMA AS refSchema, k.REFERENCED_TABLE_SCHEMA = ? AS own, k.REFERENCED_TABLE_NAME AS ref, k.COLUMN_NAME AS col, k.REFERENCED_COLUMN_NAME AS refCol, r.UPDATE_RULE AS upd, r.DELETE_RULE AS del
     FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
     WHERE k.TABLE_SCHEMA = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
    [target, target],
  );
  // `own` as the server compares database names (its collation), not as JavaScript would.
  const fks = allFks.filter((f) => Number(f.own) === 1);
  const outward = allFks.filter((f) => Number(f.own) !== 1 && !f.refSchema.startsWith(SCRATCH_PREFIX));
  const copied = new Set(names.filter((n) => existing.has(n)));
  for (const f of fks) if (copied.has(f.ref)) copied.add(f.t);
  const { routines, views } = await addTriggerTables(conn, target, existing, copied);
  // Tables of other databases on the server whose foreign keys reference a copied table (an ERP's
  // orders referencing items): a replace's DELETE answers to them as much as to the target's own.
  // They are copied too, under a name of their own (forklift_x1, …), their rows and those keys with them.
  const external = (
    await query<(ForeignKeyRow & { s: string })[]>(
      conn,
      `SELECT k.TABLE_SCHEMA AS s, k.CONSTRAINT_NAME AS name, k.TABLE_NAME AS t, k.REFERENCED_TABLE_NAME AS ref, k.COLUMN_NAME AS col, k.REFERENCED_COLUMN_NAME AS refCol, r.UPDATE_RULE AS upd, r.DELETE_RULE AS del
       FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
       WHERE k.REFERENCED_TABLE_SCHEMA = ? AND k.TABLE_SCHEMA <> ? AND k.TABLE_SCHEMA <> ? ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
      [target, target, scratch],
    )
  ).filter((f) => copied.has(f.ref) && !f.s.startsWith(SCRATCH_PREFIX));
  const outside = new Map<string, string>();
  for (const f of external) if (!outside.has(`${f.s}\0${f.t}`)) outside.set(`${f.s}\0${f.t}`, `forklift_x${outside.size + 1}`);
  const renamed: ScratchNames = { tables: new Map([...outside].map(([key, copy]) => [copy, key.split('\0') as [string, string]])), constraints: new Map() };
  const t = (name: string): string => `${qi(target)}.${qi(name)}`;
  const x = (name: string): string => `${qi(scratch)}.${qi(name)}`;
  for (const name of copied) await query(conn, `CREATE TABLE ${x(name)} LIKE ${t(name)}`);
  for (const [key, copy] of outside) {
    const [schema, table] = key.split('\0') as [string, string];
    await query(conn, `CREATE TABLE ${x(copy)} LIKE ${qi(schema)}.${qi(table)}`);
  }
  await query(conn, 'SET FOREIGN_KEY_CHECKS = 0');
  try {
    const rowsNeeded = (name: string): boolean => !replaced.has(name) || external.some((f) => f.ref === name) || fks.some((f) => f.ref === name && f.t !== name && copied.has(f.t) && !replaced.has(f.t));
    for (const name of copied) if (rowsNeeded(name)) await query(conn, `INSERT INTO ${x(name)} SELECT * FROM ${t(name)}`);
    for (const [key, copy] of outside) {
      const [schema, table] = key.split('\0') as [string, string];
      await query(conn, `INSERT INTO ${x(copy)} SELECT * FROM ${qi(schema)}.${qi(table)}`);
    }
    const byExternal = new Map<string, (ForeignKeyRow & { s: string })[]>();
    for (const f of external) byExternal.set(`${f.s}\0${f.t}\0${f.name}`, [...(byExternal.get(`${f.s}\0${f.t}\0${f.name}`) ?? []), f]);
    for (const cols of byExternal.values()) {
      const f = cols[0]!;
      // Constraint names are unique per database: the copy's get one of their own, named back in messages.
      const fk = `forklift_xfk${renamed.constraints.size + 1}`;
      renamed.constraints.set(fk, f.name);
      await query(
        conn,
        `ALTER TABLE ${x(outside.get(`${f.s}\0${f.t}`)!)} ADD CONSTRAINT ${qi(fk)} FOREIGN KEY (${cols.map((c) => qi(c.col)).join(', ')}) REFERENCES ${x(f.ref)} (${cols.map((c) => qi(c.refCol)).join(', ')}) ON DELETE ${f.del} ON UPDATE ${f.upd}`,
      );
    }
    const byConstraint = new Map<string, (ForeignKeyRow & { refSchema: string; own: number | string })[]>();
    for (const f of [...fks, ...outward]) if (copied.has(f.t)) byConstraint.set(`${f.t}\0${f.name}`, [...(byConstraint.get(`${f.t}\0${f.name}`) ?? []), f]);
    for (const cols of byConstraint.values()) {
      const f = cols[0]!;
      const ref = Number(f.own) !== 1 ? `${qi(f.refSchema)}.${qi(f.ref)}` : copied.has(f.ref) ? x(f.ref) : t(f.ref);
      await query(
        conn,
        `ALTER TABLE ${x(f.t)} ADD CONSTRAINT ${qi(f.name)} FOREIGN KEY (${cols.map((c) => qi(c.col)).join(', ')}) REFERENCES ${ref} (${cols.map((c) => qi(c.refCol)).join(', ')}) ON DELETE ${f.del} ON UPDATE ${f.upd}`,
      );
    }
  } finally {
    await query(conn, 'SET FOREIGN_KEY_CHECKS = 1');
  }
  if (copied.size === 0) return renamed;
  const triggers = await query<{ n: string }[]>(conn, `SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? AND EVENT_OBJECT_TABLE IN (${[...copied].map(() => '?').join(', ')}) ORDER BY ACTION_ORDER`, [target, ...copied]);
  if (triggers.length === 0) return renamed;
  // A trigger's statement names its table unqualified: created from within the scratch schema, it binds to the copy.
  await query(conn, `USE ${qi(scratch)}`);
  // SHOW CREATE VIEW names the view without its database: made here, from within the scratch schema.
  await copyViews(conn, target, scratch, views, copied);
  // So do the functions and procedures it calls: created there too, from the target's definitions.
  for (const r of routines) {
    const kind = r.type === 'PROCEDURE' ? 'PROCEDURE' : 'FUNCTION';
    const [def] = await query<Record<string, string>[]>(conn, `SHOW CREATE ${kind} ${t(r.name)}`);
    // SHOW CREATE writes a routine's name without its database.
    const statement = def?.[`Create ${kind === 'PROCEDURE' ? 'Procedure' : 'Function'}`];
    if (statement) await createUnderItsMode(conn, statement, def['sql_mode']);
  }
  for (const { n } of triggers) {
    const [def] = await query<Record<string, string>[]>(conn, `SHOW CREATE TRIGGER ${t(n)}`);
    const statement = def?.['SQL Original Statement'];
    if (statement) await createUnderItsMode(conn, unqualifiedTrigger(statement), def['sql_mode']);
  }
  return renamed;
}

/**
 * The target's views that the triggers (and the routines they call) name, made again in the
 * scratch schema under their own names, so that a trigger's `SELECT … FROM v_groups` finds one
 * there (before: every row refused with "Table 'target.v_groups' doesn't exist"). The server keeps
 * a view's text with every table named with its database: those of the copied tables (and views)
 * are pointed at the copies, so the trigger sees the rehearsal's rows; any other reads the
 * target's own, which the rehearsal does not write. A view that reads another is made after it:
 * each round makes those whose tables are there, until none is left.
 */
async function copyViews(conn: RawConnection, target: string, scratch: string, views: readonly string[], copied: ReadonlySet<string>): Promise<void> {
  const inScratch = new Set([...copied, ...views]);
  const qualified = new RegExp(`${escapeRegExp(qi(target))}\\s*\\.\\s*\`((?:[^\`]|\`\`)*)\``, 'g');
  const statements: string[] = [];
  for (const v of views) {
    const [def] = await query<Record<string, string>[]>(conn, `SHOW CREATE VIEW ${qi(target)}.${qi(v)}`);
    const statement = def?.['Create View'];
    if (statement) statements.push(statement.replace(qualified, (all, name: string) => (inScratch.has(name.replace(/``/g, '`')) ? `${qi(scratch)}.\`${name}\`` : all)));
  }
  let pending = statements;
  while (pending.length) {
    const failed: string[] = [];
    let last: unknown;
    for (const statement of pending) {
      try {
        await query(conn, statement);
      } catch (e) {
        // ER_NO_SUCH_TABLE: a view it reads is made later in this round, or in the next.
        if ((e as { errno?: number }).errno !== ER_NO_SUCH_TABLE) throw e;
        failed.push(statement);
        last = e;
      }
    }
    if (failed.length === pending.length) throw last;
    pending = failed;
  }
}

const ER_NO_SUCH_TABLE = 1146;

/** A routine's or trigger's copy made under the sql_mode the original was made with, which it keeps and runs under (strict or not, ANSI_QUOTES). */
async function createUnderItsMode(conn: RawConnection, statement: string, mode: string | undefined): Promise<void> {
  if (mode === undefined) return void (await query(conn, statement));
  await query(conn, 'SET @forklift_sql_mode = @@SESSION.sql_mode, SESSION sql_mode = ?', [mode]);
  try {
    await query(conn, statement);
  } finally {
    await query(conn, 'SET SESSION sql_mode = @forklift_sql_mode');
  }
}

const ER_UNKNOWN_SYSTEM_VARIABLE = 1193;

/** TargetStore.counters: the tables with an AUTO_INCREMENT of `schemas` databases (bound), as `schema.table`, the next value as text. */
export const mysqlCountersSql = (schemas: number): string =>
  `SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) AS name, CAST(AUTO_INCREMENT AS CHAR) AS value FROM information_schema.TABLES
  WHERE AUTO_INCREMENT IS NOT NULL AND TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA IN (${Array<string>(schemas).fill('?').join(', ')}) ORDER BY TABLE_SCHEMA, TABLE_NAME`;

/** Whether SQL text names a database before a dot (`erp`.`audit`, erp.audit), in any letter case. */
export function namesSchema(sql: string, name: string): boolean {
  const escaped = escapeRegExp(name).replace(/`/g, '``');
  return new RegExp(`(^|[^\\p{L}\\p{N}_$\`])(\`${escaped}\`|${escaped})\\s*\\.`, 'iu').test(sql);
}

const IDENT = '(?:`(?:[^`]|``)*`|"(?:[^"]|"")*"|[\\p{L}\\p{N}_$]+)';
const QUOTED = "(?:`(?:[^`]|``)*`|'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\")";
/** `root`@`localhost`, 'my user'@'%', CURRENT_USER, a role. */
const DEFINER = `(?:${QUOTED}|[^\\s@\`'"]+)(?:\\s*@\\s*(?:${QUOTED}|[^\\s\`'"]+))?`;
const TRIGGER_HEAD = new RegExp(
  `^(\\s*CREATE\\s+(?:OR\\s+REPLACE\\s+)?(?:DEFINER\\s*=\\s*${DEFINER}\\s+)?TRIGGER\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?)(?:${IDENT}\\s*\\.\\s*)?(${IDENT}\\s+(?:BEFORE|AFTER)\\s+(?:INSERT|UPDATE|DELETE)\\s+ON\\s+)(?:${IDENT}\\s*\\.\\s*)?(?=${IDENT})`,
  'iu',
);

/**
 * A trigger's statement as its maker wrote it (SHOW CREATE TRIGGER), with the database taken off
 * the trigger's name and its table's: MySQL Workbench and many scripts write `mydb`.`items_audit`
 * … ON `mydb`.`items`, which run from within the scratch schema would make the trigger in the
 * target again ("Trigger … already exists"), not on the copy. The body is left as written.
 */
export function unqualifiedTrigger(statement: string): string {
  return statement.replace(TRIGGER_HEAD, '$1$2');
}

/** The copies of other databases' tables in a scratch schema (forklift_x1: [schema, table]) and their foreign keys' names (forklift_xfk1: the original's). */
interface ScratchNames {
  tables: Map<string, [string, string]>;
  constraints: Map<string, string>;
}

/** A server message about the scratch schema, naming the target's (and other databases') own tables and constraints. */
export function scratchMessage(message: string, scratch: string, target: string, names: ScratchNames): string {
  let m = message;
  for (const [copy, [schema, table]] of names.tables) m = m.split(`\`${scratch}\`.\`${copy}\``).join(`\`${schema}\`.\`${table}\``).split(`${scratch}.${copy}`).join(`${schema}.${table}`);
  m = m.replace(/\bforklift_xfk(\d+)\b/g, (all) => names.constraints.get(all) ?? all);
  return m.split(scratch).join(target);
}

/**
 * The target's tables the triggers of the copied tables name (an audit trigger writing to
 * audit_log, a lookup in a table outside the plan), added to `copied`, and the target's stored
 * functions and procedures they name (returned), and so on through what those name: a trigger
 * created from within the scratch schema binds its unqualified names there, where without a copy
 * every row would be refused with "Table … doesn't exist" or "FUNCTION … does not exist", which
 * the target has. A name that only looks like one (a column, a word in a string) copies a table or
 * routine too many, which costs time and changes nothing.
 */
async function addTriggerTables(conn: RawConnection, target: string, existing: ReadonlySet<string>, copied: Set<string>): Promise<{ routines: { name: string; type: string }[]; views: string[] }> {
  const routines = await query<{ name: string; type: string; body: string | null }[]>(conn, 'SELECT ROUTINE_NAME AS name, ROUTINE_TYPE AS type, ROUTINE_DEFINITION AS body FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_NAME', [target]);
  const allViews = await query<{ name: string; body: string | null }[]>(conn, 'SELECT TABLE_NAME AS name, VIEW_DEFINITION AS body FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME', [target]);
  const views: string[] = [];
  const needed: { name: string; type: string; body: string | null }[] = [];
  const scanned = new Set<string>();
  let texts: string[] = [];
  for (;;) {
    const pending = [...copied].filter((n) => !scanned.has(n));
    for (const n of pending) scanned.add(n);
    if (pending.length) {
      const bodies = await query<{ b: string }[]>(conn, `SELECT ACTION_STATEMENT AS b FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? AND EVENT_OBJECT_TABLE IN (${pending.map(() => '?').join(', ')})`, [target, ...pending]);
      texts.push(...bodies.map((x) => x.b));
    }
    if (texts.length === 0) return { routines: needed.map(({ name, type }) => ({ name, type })), views };
    const scan = texts;
    texts = [];
    for (const b of scan) {
      for (const name of existing) if (!copied.has(name) && namesTable(b, name)) copied.add(name);
      for (const r of routines) {
        if (needed.includes(r) || !namesTable(b, r.name)) continue;
        needed.push(r);
        if (r.body) texts.push(r.body);
      }
      // A view, and through its text the tables and views it reads.
      for (const v of allViews) {
        if (views.includes(v.name) || !namesTable(b, v.name)) continue;
        views.push(v.name);
        if (v.body) texts.push(v.body);
      }
    }
  }
}

/** Whether SQL text names a table, as a whole identifier (`audit_log`, \`audit_log\`), in any letter case. */
export function namesTable(sql: string, name: string): boolean {
  const escaped = escapeRegExp(name);
  return new RegExp(`(^|[^\\p{L}\\p{N}_$])\`?${escaped}\`?($|[^\\p{L}\\p{N}_$])`, 'iu').test(sql);
}

/** Staged ISO timestamp `2025-11-03T05:00:47.000Z` to the datetime(3) literal `2025-11-03 05:00:47.000` (UTC). */
export function isoToDatetime(iso: string): string {
  return iso.length === 24 && iso[10] === 'T' && iso[23] === 'Z' ? `${iso.slice(0, 10)} ${iso.slice(11, 23)}` : iso;
}

/** A value as mysql2 returns it here (dates and numbers as text), in the staging form. */
export function fromMysqlValue(dataType: string, v: unknown, instant: 'exact' | 'floor' = 'exact'): unknown {
  if (v === null || typeof v !== 'string') return v;
  if (dataType === 'datetime' || dataType === 'timestamp') return instant === 'floor' ? datetimeToIso(v) : datetimeText(v);
  if (dataType === 'bigint' || dataType === 'int' || dataType === 'smallint' || dataType === 'mediumint') {
    const n = Number(v);
    return Number.isSafeInteger(n) ? n : v;
  }
  return v;
}

/**
 * datetime(3) text read back to the canonical ISO form, cut to milliseconds: for a maximum compared
 * with staged instants (a watermark), where the cut is exact (see pgReadExpression); other reads
 * keep every digit (datetimeText).
 */
export function datetimeToIso(v: string): string {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?$/.exec(v);
  return m ? `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(3, '0').slice(0, 3)}Z` : v;
}

const TSV_ESC: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' };
const TSV_SPECIAL = /[\\\t\n\r\0]/;
const tsvEscape = (s: string): string => (TSV_SPECIAL.test(s) ? s.replace(/[\\\t\n\r\0]/g, (c) => TSV_ESC[c]!) : s);

type Encoder = (v: unknown) => string;

/** One field of LOAD DATA's TSV: `\N` is NULL, an empty field is '' (FIELDS ESCAPED BY '\\'). */
function tsvEncoder(c: Column): Encoder {
  if (c.type === 'timestamp') return (v) => (v === null || v === undefined ? '\\N' : tsvEscape(isoToDatetime(String(v))));
  return (v) => (v === null || v === undefined ? '\\N' : typeof v === 'number' ? String(v) : tsvEscape(String(v)));
}

/** One value of a multi-row INSERT (session sql_mode has no NO_BACKSLASH_ESCAPES). */
function sqlEncoder(c: Column): Encoder {
  if (c.type === 'timestamp') return (v) => (v === null || v === undefined ? 'NULL' : lit(isoToDatetime(String(v))));
  return (v) => (v === null || v === undefined ? 'NULL' : typeof v === 'number' ? String(v) : lit(String(v)));
}

/**
 * One value read from the table (staging form) written back into a column of the same native type,
 * as the same value: a binary string is read as `\x` and hex (read-mysql.ts), so its bytes are
 * written back, not that text; a geometry is read as its text.
 */
function rowValueEncoder(c: Column, n: NativeColumn | undefined): Encoder {
  switch (n ? mysqlWriteForm(n) : 'text') {
    case 'binary':
      return (v) => (v === null || v === undefined ? 'NULL' : typeof v === 'string' && /^\\x(?:[0-9a-f]{2})*$/i.test(v) ? `X'${v.slice(2)}'` : lit(String(v)));
    case 'geometry':
      return (v) => (v === null || v === undefined ? 'NULL' : `ST_GeomFromText(${lit(String(v))})`);
    case 'text':
      return sqlEncoder(c);
  }
}

interface Target {
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  database: string;
  socketPath?: string;
  ssl?: Record<string, unknown>;
}

function parseUrl(url: string): Target {
  checkServerUrl(url);
  const shown = redactUrl(url);
  let u: URL;
  try {
    u = new URL(url.replace(/^mariadb:/, 'mysql:'));
  } catch {
    // URL's own error repeats the input, password included: never pass it on.
    throw new ConfigError(`'${shown}' is not a valid MySQL URL`, { code: 'store.url', hint: 'Use mysql://USER:PASSWORD@HOST:3306/DATABASE (percent-encode special characters).' });
  }
  const database = decodeUrlPart(u.pathname.replace(/^\//, ''));
  if (!database || database.includes('/')) {
    throw new ConfigError(`${shown}: the URL names no database`, { code: 'store.url', hint: 'Add the database after the host: mysql://USER:PASSWORD@HOST:3306/DATABASE.' });
  }
  const t: Target = {
    host: u.hostname.replace(/^\[|\]$/g, '') || 'localhost',
    port: u.port ? Number(u.port) : 3306,
    user: decodeUrlPart(u.username) || 'root',
    password: u.password ? decodeUrlPart(u.password) : undefined,
    database,
  };
  const socket = u.searchParams.get('socket') ?? u.searchParams.get('socketPath');
  if (socket) t.socketPath = socket;
  const ssl = u.searchParams.get('ssl');
  if (ssl && ssl !== 'false' && ssl !== '0') t.ssl = { rejectUnauthorized: ssl !== 'insecure' };
  return t;
}

/** A server error on the raw connection: message, code and number, never the statement (it holds row values). */
interface ServerError extends Error {
  code?: string;
  errno?: number;
  sqlMessage?: string;
  fatal?: boolean;
}

function query<T = unknown>(conn: RawConnection, sql: string, values?: unknown[], infile?: () => Readable): Promise<T> {
  return new Promise((resolve, reject) => {
    const run = conn.query.bind(conn) as unknown as (opts: QueryOptions, cb: (err: ServerError | null, result: unknown) => void) => void;
    run({ sql, ...(values ? { values } : {}), ...(infile ? { infileStreamFactory: infile } : {}) }, (err, result) => {
      if (err) reject(err);
      else resolve(result as T);
    });
  });
}

/**
 * mysql2's jsonStrings (not in knex's connection type; knex hands the settings to mysql2 as they
 * are): a JSON column reads as the text the server holds. Otherwise mysql2 parses it (MariaDB's
 * JSON is longtext marked json), and the reader would print `[object Object]`, `1,2,3` or `12.5`.
 * The sql source reads it the same way (sources/sql.ts: mysqlConnection).
 */
const MYSQL2_JSON_AS_TEXT: object = { jsonStrings: true };

/**
 * What a read that failed throws: the abort, where the read's signal stopped it (the KILL QUERY
 * and the dropped connection are its doing, not the server's trouble), else the store's error.
 */
function readFailure(e: unknown, signal: AbortSignal | undefined, fail: (e: unknown) => Error): Error {
  if (signal?.aborted === true) return abortReason(signal);
  if (e instanceof Error && e.name === 'AbortError') return e;
  return fail(e);
}

export class MysqlStore implements TargetStore {
  readonly kind = 'mysql' as const;
  readonly keysIgnoreTrailingSpaces = true;
  ledgerHead: string | null = null;
  readonly display: string;
  private readonly k: Knex;
  private readonly target: Target;
  private bulk: MysqlBulkPath | undefined;

  constructor(
    url: string,
    /** How hints name the URL (TARGET_URL, or a source's). */
    private readonly urlName = TARGET_URL,
  ) {
    this.display = redactUrl(url);
    this.target = parseUrl(url);
    const t = this.target;
    this.k = knexFactory({
      client: 'mysql2',
      connection: {
        host: t.host,
        port: t.port,
        user: t.user,
        ...(t.password !== undefined ? { password: t.password } : {}),
        database: t.database,
        ...(t.socketPath ? { socketPath: t.socketPath } : {}),
        ...(t.ssl ? { ssl: t.ssl } : {}),
        charset: 'utf8mb4',
        // Values come back exact: dates and datetimes as text, bigint and decimal as strings, JSON
        // as the text the server holds (MYSQL2_JSON_AS_TEXT).
        dateStrings: true,
        supportBigNumbers: true,
        bigNumberStrings: true,
        decimalNumbers: false,
        ...MYSQL2_JSON_AS_TEXT,
        timezone: 'Z',
        connectTimeout: 10_000,
      },
      // knex would otherwise put bound row values into error messages (customer data).
      compileSqlOnError: false,
      // knex logs connection failures to stdout (breaking --json); the error reaches the user as a StoreError.
      log: { warn: () => {}, error: () => {}, deprecate: () => {}, debug: () => {} },
      pool: {
        min: 0,
        max: 2,
        afterCreate: (conn: RawConnection, done: (err: Error | null, conn: RawConnection) => void) => {
          conn.query(`SET time_zone = '+00:00', sql_mode = '${SQL_MODE}', NAMES utf8mb4 COLLATE utf8mb4_bin`, (err: Error | null) => done(err, conn));
        },
      },
      acquireConnectionTimeout: 20_000,
    });
  }

  get knex(): Knex {
    return this.k;
  }

  async hasTable(name: string): Promise<boolean> {
    try {
      return await this.k.schema.hasTable(name);
    } catch (e) {
      throw this.storeError(e);
    }
  }

  /**
   * The next AUTO_INCREMENT of the tables a rehearsal can move: it writes only to copies of the
   * target's tables, but a trigger (or a routine it calls) may write to a table by its database's
   * name (`erp`.`audit`), and InnoDB keeps the numbers a rolled-back insert took. So: every table
   * of each database the target's triggers and routines name so (the target's own included).
   * Other databases' counters, moved by other sessions' work, are left out.
   */
  async counters(): Promise<StoreCounter[]> {
    let conn: RawConnection | undefined;
    try {
      conn = (await this.k.client.acquireConnection()) as RawConnection;
      const db = this.target.database;
      const texts = (await query<{ b: string | null }[]>(conn, 'SELECT ACTION_STATEMENT AS b FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? UNION ALL SELECT ROUTINE_DEFINITION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?', [db, db])).flatMap((r) => (r.b ? [r.b] : []));
      if (texts.length === 0) return [];
      const schemas = (await query<{ s: string }[]>(conn, "SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')")).map((r) => r.s);
      const named = schemas.filter((s) => !s.startsWith(SCRATCH_PREFIX) && texts.some((t) => namesSchema(t, s)));
      if (named.length === 0) return [];
      // MySQL 8 answers information_schema from statistics up to a day old unless told not to; MariaDB has no such cache (nor the variable).
      await query(conn, 'SET SESSION information_schema_stats_expiry = 0').catch((e: unknown) => {
        if ((e as { errno?: number }).errno !== ER_UNKNOWN_SYSTEM_VARIABLE) throw e;
      });
      const rows = await query<{ name: string; value: string | null }[]>(conn, mysqlCountersSql(named.length), named);
      return rows.map((r) => ({ name: r.name, value: r.value === null ? null : String(r.value) }));
    } catch (e) {
      throw this.storeError(e);
    } finally {
      if (conn) await this.k.client.releaseConnection(conn);
    }
  }

  /** Streams the distinct values of a column (never all in memory), as the staging file holds them. */
  async *readColumn(table: string, column: string): AsyncIterable<unknown[]> {
    let type: string;
    let stream: Readable & AsyncIterable<{ v: unknown }>;
    try {
      const rows = (await this.k.raw('SELECT DATA_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?', [table, column])) as [{ t: string }[]];
      type = String(rows[0][0]?.t ?? '').toLowerCase();
      // Text is DISTINCT by its bytes: utf8mb4_bin is a PAD SPACE collation, under which 'A' and
      // 'A  ' (and '' and '   ') are one value, so a plain DISTINCT would drop all but one of them.
      const v = TEXT_TYPES.has(type) ? `CAST(${qi(column)} AS BINARY)` : qi(column);
      stream = this.k.raw(`SELECT DISTINCT ${v} AS v FROM ${qi(table)}`).stream() as Readable & AsyncIterable<{ v: unknown }>;
    } catch (e) {
      throw this.storeError(e);
    }
    const conv = (v: unknown): unknown => fromMysqlValue(type, Buffer.isBuffer(v) ? v.toString('utf8') : v);
    let batch: unknown[] = [];
    try {
      for await (const row of stream) {
        batch.push(conv(row.v));
        if (batch.length >= READ_BATCH) {
          yield batch;
          batch = [];
        }
      }
    } catch (e) {
      throw this.storeError(e);
    } finally {
      stream.destroy();
    }
    if (batch.length) yield batch;
  }

  async maxPerGroup(table: string, groupBy: readonly string[], column: string): Promise<unknown[][]> {
    const names = [...groupBy, column];
    try {
      const [cols] = (await this.k.raw('SELECT COLUMN_NAME AS c, DATA_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [table])) as [{ c: string; t: string }[]];
      const types = new Map(cols.map((r) => [r.c, String(r.t).toLowerCase()]));
      const missing = names.find((n) => !types.has(n));
      if (missing !== undefined) throw new StoreError(`${this.display}: table ${table} has no column ${missing}`, { code: 'store.read', hint: 'The target table does not match the model: compare it with the model.' });
      const g = groupBy.map(qi);
      const select = [...g.map((c, i) => `${c} AS g${i}`), `MAX(${qi(column)}) AS m`].join(', ');
      const [rows] = (await this.k.raw(`SELECT ${select} FROM ${qi(table)}${g.length ? ` GROUP BY ${g.join(', ')}` : ''}`)) as [Record<string, unknown>[]];
      return rows.filter((r) => r.m !== null).map((r) => [...groupBy.map((n, i) => fromMysqlValue(types.get(n)!, r[`g${i}`])), fromMysqlValue(types.get(column)!, r.m, 'floor')]);
    } catch (e) {
      throw this.storeError(e);
    }
  }

  async load(req: LoadRequest): Promise<Map<string, number>> {
    const loaded = new Map<string, number>();
    let conn: RawConnection | undefined;
    let staging: Database.Database | undefined;
    const state = { broken: false };
    let onServerEnd: (() => void) | undefined;
    // Whether the table being loaded held rows before (undefined: not known, or no load running).
    let heldBefore: boolean | undefined;
    // The entity whose load met a key its table already held (append, incremental): named after the rollback.
    let clashed: EntityLoad | undefined;
    // The data tables this run created (DDL commits at once): dropped again if the load fails.
    let made: string[] = [];
    try {
      // Before anything is written: DDL commits at once here.
      checkNameLengths(this.display, referencedClosure(req), MYSQL_NAME_LIMIT);
      checkMysqlKeyLengths(referencedClosure(req), this.display, req.model.file?.file);
      conn = (await this.k.client.acquireConnection()) as RawConnection;
      // The server closed its side (a KILL, a restart, a timeout): mysql2 fails the running
      // statement only when the socket has closed, and a socket whose send buffer the server no
      // longer reads (LOAD DATA's stream, a large INSERT) does not close until TCP gives up, many
      // seconds later. Destroying it fails the statement now, as a lost connection.
      const socket = (conn as unknown as { stream?: { destroy(err?: Error): void } }).stream;
      onServerEnd = () => socket?.destroy(Object.assign(new Error('Connection lost: the server closed the connection'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true }));
      conn.once('end', onServerEnd);
      // Ctrl-C: KILL QUERY stops the statement the server runs for this connection (one waiting
      // for another session's lock included), which fails the load. Never around the COMMIT.
      const c = conn;
      const killable = <T>(fn: () => Promise<T>): Promise<T> => cancelOnAbort(req.signal, () => this.k.client.cancelQuery(c) as Promise<void>, fn);
      await killable(async () => {
        // A dry run killed outright left its scratch schema: the next run on the server drops it
        // (best effort: a user who may not drop it loads all the same).
        await sweepScratchSchemas(c).catch(() => []);
        // DDL first, outside the transaction (each statement commits implicitly): idempotent, and a
        // failed run drops the tables it made. Parents before children, for the foreign keys.
        await checkTableShapes(c, req.entities, this.display);
        await ensureRunsTable(c);
        const closure = referencedClosure(req);
        const names = [...closure.map((e) => e.name), 'forklift_tables'];
        const before = await existingTables(c, names);
        made = names.filter((n) => !before.has(n));
        await createTables(c, closure, this.display);
        await query(c, MYSQL_TABLES_DDL);
      });
      const bulk = await this.bulkPath(conn);
      staging = new Database(req.stagingFile, { readonly: true });

      const db = staging;
      const work = async (): Promise<void> => {
        // What each table is, in the model's own words, for describeTables (export, diff).
        for (const rec of tableRecords(referencedClosure(req))) await query(c, MYSQL_TABLES_UPSERT, rec);
        // Replace empties the run's tables children first, so foreign keys hold at every step.
        // DELETE, not TRUNCATE: TRUNCATE commits (and cannot be rolled back).
        for (const { entity, mode } of [...req.entities].reverse()) {
          if (mode === 'replace') await query(c, `DELETE FROM ${qi(entity.name)}`);
        }
        for (const l of req.entities) {
          req.signal?.throwIfAborted();
          // A duplicate key's hint depends on it: a table the load found empty held none of the keys.
          const held = l.mode === 'replace' ? false : l.mode === 'upsert' ? undefined : (await query<unknown[]>(c, `SELECT 1 FROM ${qi(l.entity.name)} LIMIT 1`)).length > 0;
          heldBefore = held;
          const n = await this.loadEntity(c, db, l, bulk, req.signal).catch((e: unknown) => {
            if (DUPLICATE_KEY.has((e as ServerError | null)?.errno ?? 0) && held === true) clashed = l;
            throw e;
          });
          heldBefore = undefined;
          if (n !== l.expected) throw new BugError(`${l.entity.name}: inserted ${n} rows, expected ${l.expected}`);
          loaded.set(l.entity.name, n);
        }
      };
      const link = await inRunTransaction(c, req.entry, state, work, killable);
      this.ledgerHead = link.entry_hash;
    } catch (e) {
      if ((e as ServerError)?.fatal) state.broken = true;
      const err = this.storeError(req.signal?.aborted ? abortReason(req.signal) : e, heldBefore);
      // The rows were rolled back; the tables this run made were not (DDL commits): gone again, so a
      // failed run leaves the target as it was (a killed one leaves them empty, for the next run to use).
      if (conn && !state.broken && made.length) await dropEmptyTables(conn, made);
      if (clashed && staging && conn && !state.broken && !req.signal?.aborted) throw await namedKeyClash(conn, staging, clashed, err, this.display);
      throw err;
    } finally {
      staging?.close();
      if (conn) {
        if (onServerEnd) conn.off('end', onServerEnd);
        if (state.broken) conn.destroy();
        await this.k.client.releaseConnection(conn);
      }
    }
    return loaded;
  }

  /**
   * A dry run in a scratch schema (SPEC section 12): MySQL and MariaDB commit DDL at once, so the
   * run's tables cannot be created inside a transaction that is rolled back. The schema
   * `forklift_dryrun_<run id>` gets a copy of every table the load touches (CREATE TABLE … LIKE:
   * columns, indexes and CHECKs), of the tables that reference them, the rows the load needs, their
   * foreign keys (to the copies, or to the target's own tables outside the copy) and their
   * triggers; the load then runs there, on this connection (USE), in a transaction rolled back at
   * the end. The schema is dropped in a finally; a run killed before that leaves it behind, and the
   * next migrate or dry run on the server drops it (a named lock, held while a run is alive, tells
   * them apart).
   */
  async rehearse(req: RehearsalRequest): Promise<Refusal[]> {
    let conn: RawConnection | undefined;
    let staging: Database.Database | undefined;
    const scratch = scratchSchemaName(req.runId);
    let created = false;
    // The server names the scratch copy (`forklift_dryrun_…`.`items`): a user acts on the target's own table.
    let renamed: ScratchNames = { tables: new Map(), constraints: new Map() };
    const asTarget = (message: string): string => scratchMessage(message, scratch, this.target.database, renamed);
    try {
      checkNameLengths(this.display, referencedClosure(req), MYSQL_NAME_LIMIT);
      checkMysqlKeyLengths(referencedClosure(req), this.display, req.model.file?.file);
      conn = (await this.k.client.acquireConnection()) as RawConnection;
      await sweepScratchSchemas(conn);
      await takeScratchLock(conn, scratch);
      try {
        await query(conn, `CREATE DATABASE ${qi(scratch)} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
        created = true;
        await checkTableShapes(conn, req.entities, this.display);
        const replaced = new Set(req.entities.filter((l) => l.mode === 'replace').map((l) => l.entity.name));
        renamed = await copyIntoScratch(conn, this.target.database, scratch, referencedClosure(req).map((e) => e.name), replaced);
        await query(conn, `USE ${qi(scratch)}`);
        await createTables(conn, referencedClosure(req), this.display);
        await query(conn, MYSQL_TABLES_DDL);
        staging = new Database(req.stagingFile, { readonly: true });
        const db = staging;
        const c = conn;
        await query(c, 'START TRANSACTION');
        try {
          for (const rec of tableRecords(referencedClosure(req))) await query(c, MYSQL_TABLES_UPSERT, rec);
          for (const { entity, mode } of [...req.entities].reverse()) {
            if (mode === 'replace') await query(c, `DELETE FROM ${qi(entity.name)}`);
          }
          // The load's own bulk path: LOAD DATA turns a refusal into a warning, and any warning
          // fails the statement (failOnWarnings), so the savepoint undoes it all the same.
          const bulk = await this.bulkPath(c);
          return await loadNarrowing(
            {
              savepoint: async (name) => void (await query(c, `SAVEPOINT ${name}`)),
              rollbackTo: async (name) => void (await query(c, `ROLLBACK TO SAVEPOINT ${name}`)),
              release: async (name) => void (await query(c, `RELEASE SAVEPOINT ${name}`)),
              loadRange: async (l, range) => void (await this.loadEntity(c, db, l, bulk, req.signal, range)),
              describe: (e) => asTarget(redactValues((e as ServerError).sqlMessage ?? (e instanceof Error ? e.message : String(e)))),
            },
            db,
            req.entities,
            req.signal,
          );
        } finally {
          await query(c, 'ROLLBACK').catch(() => {});
        }
      } finally {
        if (created) await query(conn, `DROP DATABASE IF EXISTS ${qi(scratch)}`).catch(() => {});
        await query(conn, 'SELECT RELEASE_LOCK(?)', [scratch]).catch(() => {});
      }
    } catch (e) {
      const err = this.storeError(e);
      err.message = asTarget(err.message);
      throw err;
    } finally {
      staging?.close();
      if (conn) {
        // USE changed its database: never hand it back to the pool.
        conn.destroy();
        await this.k.client.releaseConnection(conn);
      }
    }
  }

  /** The bulk path for this server: LOAD DATA LOCAL where the server allows it, else INSERTs. */
  private async bulkPath(conn: RawConnection): Promise<MysqlBulkPath> {
    const forced = process.env.FORKLIFT_MYSQL_BULK;
    if (forced === 'insert' || forced === 'load-data') return forced;
    if (this.bulk) return this.bulk;
    const [row] = await query<{ v: unknown }[]>(conn, 'SELECT @@local_infile AS v');
    // A migration tool does not change a server's security settings: where the DBA left
    // local_infile off, forklift loads with INSERTs instead (about 2x slower).
    const on = Number(row?.v) === 1;
    this.bulk = on ? 'load-data' : 'insert';
    return this.bulk;
  }

  /** Loads one entity's staged rows (`_st = 0`) with its load mode; returns rows taken. */
  private async loadEntity(conn: RawConnection, staging: Database.Database, l: EntityLoad, bulk: MysqlBulkPath, signal: AbortSignal | undefined, range?: SeqRange): Promise<number> {
    const e = l.entity;
    const cols = e.columns.map((c) => qi(c.name)).join(', ');
    if (l.mode !== 'upsert') return this.bulkInto(conn, staging, l, qi(e.name), bulk, signal, range);
    // Upsert: bulk into a temporary copy (CREATE TEMPORARY TABLE does not commit), then one
    // INSERT … SELECT … ON DUPLICATE KEY UPDATE. (LOAD DATA … REPLACE would delete and re-insert,
    // which children's foreign keys forbid.)
    const tmp = qi('_forklift_upsert'); // per session, one at a time; names stay under 64 characters
    await query(conn, `DROP TEMPORARY TABLE IF EXISTS ${tmp}`);
    await query(conn, `CREATE TEMPORARY TABLE ${tmp} LIKE ${qi(e.name)}`);
    try {
      const n = await this.bulkInto(conn, staging, l, tmp, bulk, signal, range);
      await this.refuseLooseKeyMatch(conn, e, tmp);
      const set = upsertSetNames(l)
        .map((n) => `${qi(n)} = s.${qi(n)}`)
        .join(', ');
      const sel = e.columns.map((c) => `s.${qi(c.name)}`).join(', ');
      const res = await query<ResultSetHeader>(conn, `INSERT INTO ${qi(e.name)} (${cols}) SELECT ${sel} FROM ${tmp} AS s ON DUPLICATE KEY UPDATE ${set}`);
      await failOnWarnings(conn, res, e.name);
      return n;
    } finally {
      await query(conn, `DROP TEMPORARY TABLE IF EXISTS ${tmp}`).catch(() => {});
    }
  }

  /** A file key the target's collation matches to a different key fails the load (loose-keys.ts). */
  private async refuseLooseKeyMatch(conn: RawConnection, e: Entity, tmp: string): Promise<void> {
    const keys = collatedKeyColumns(e);
    if (keys.length === 0) return;
    const on = keys.map((c) => `s.${qi(c.name)} = t.${qi(c.name)}`).join(' AND ');
    const same = keys.map((c) => `CAST(s.${qi(c.name)} AS BINARY) <=> CAST(t.${qi(c.name)} AS BINARY)`).join(' AND ');
    const shown = keys.flatMap((c, i) => [`CAST(s.${qi(c.name)} AS BINARY) AS s${i}`, `CAST(t.${qi(c.name)} AS BINARY) AS t${i}`]).join(', ');
    const rows = await query<Record<string, unknown>[]>(conn, `SELECT ${shown} FROM ${tmp} AS s JOIN ${qi(e.name)} AS t ON ${on} WHERE NOT (${same}) LIMIT 1`);
    if (rows[0]) throw looseKeyError(`${this.display}: `, e, keys, rows[0], (v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
  }

  private async bulkInto(conn: RawConnection, staging: Database.Database, l: EntityLoad, table: string, bulk: MysqlBulkPath, signal: AbortSignal | undefined, range?: SeqRange): Promise<number> {
    if (bulk === 'load-data' && this.bulk !== 'insert') {
      try {
        return await loadData(conn, staging, l, table, signal, range);
      } catch (e) {
        // The server or client refuses LOCAL INFILE before any row moved: fall back for good.
        const errno = (e as ServerError).errno;
        if (errno !== 1148 && errno !== 3948 && errno !== 2068) throw e;
        this.bulk = 'insert';
      }
    }
    return insertRows(conn, staging, l, table, signal, range);
  }

  cancelStatements(): void {
    for (const conn of pooledConnections<RawConnection>(this.k)) void (this.k.client.cancelQuery(conn) as Promise<void>).catch(() => {});
  }

  async recordRun(entry: RunEntry): Promise<void> {
    const link = await this.underLedgerLock((conn) => insertRun(conn, entry));
    this.ledgerHead = link.entry_hash;
  }

  async initLedger(entryFor: (adopted: number) => RunEntry): Promise<{ adopted: number }> {
    const { adopted, link } = await this.underLedgerLock(async (conn) => {
      const old = await query<Record<string, unknown>[]>(conn, `${UNCHAINED_SQL} FOR UPDATE`);
      const head = await query<{ seq: number | string; entry_hash: string }[]>(conn, 'SELECT seq, entry_hash FROM forklift_runs WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1');
      const links = adoptionLinks(old, head[0], activeSigner());
      for (const { id, link: l } of links) {
        await query(conn, 'UPDATE forklift_runs SET seq = ?, prev_hash = ?, entry_hash = ?, signature = ? WHERE id = ?', [l.seq, l.prev_hash, l.entry_hash, l.signature, id]);
      }
      return { adopted: links.length, link: await insertRun(conn, entryFor(links.length)) };
    });
    this.ledgerHead = link.entry_hash;
    return { adopted };
  }

  /** Runs `fn` in a transaction holding the ledger lock, on a runs table with the chain's columns (DDL first: it commits). */
  private async underLedgerLock<T>(fn: (conn: RawConnection) => Promise<T>): Promise<T> {
    let conn: RawConnection | undefined;
    try {
      conn = (await this.k.client.acquireConnection()) as RawConnection;
      await ensureRunsTable(conn);
      await takeRunsLock(conn);
      try {
        await query(conn, 'START TRANSACTION');
        try {
          const out = await fn(conn);
          await query(conn, 'COMMIT');
          return out;
        } catch (e) {
          await query(conn, 'ROLLBACK').catch(() => {});
          throw e;
        }
      } finally {
        await releaseRunsLock(conn);
      }
    } catch (e) {
      throw this.storeError(e);
    } finally {
      if (conn) await this.k.client.releaseConnection(conn);
    }
  }

  async deleteRows(req: DeleteRequest): Promise<Map<string, number>> {
    const deleted = new Map<string, number>();
    let conn: RawConnection | undefined;
    const state = { broken: false };
    try {
      conn = (await this.k.client.acquireConnection()) as RawConnection;
      const c = conn;
      // DDL commits in MySQL: the ledger table first, outside the transaction.
      await ensureRunsTable(c);
      // Read committed (this transaction only): each check sees every row committed before it,
      // not the snapshot of the transaction's first read.
      await query(c, 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
      const link = await inRunTransaction(c, req.entry, state, async () => {
        const fks = withModelReferences(mysqlForeignKeys(await query<MysqlForeignKeyRow[]>(c, MYSQL_FOREIGN_KEYS_SQL)), req.references);
        req.checkTriggers?.(mysqlDeleteTriggers(await query<{ t: string; name: string; when: string }[]>(c, MYSQL_DELETE_TRIGGERS_SQL)));
        const natives = await mysqlNatives(c);
        const tables: ArchivedTable[] = [];
        for (const [i, t] of req.tables.entries()) {
          req.signal?.throwIfAborted();
          tables.push(await loadArchive(c, t, i, natives.get(t.entity.name), fks, req.signal));
        }
        // Locked before anything is counted or checked: a row that comes to reference one of them
        // now waits for this commit (its foreign key check reads the row with a lock), then fails.
        for (const t of referencedTables(tables, fks)) await query(c, `SELECT COUNT(*) AS n FROM ${qi(t.entity.name)} t JOIN ${t.archive} a ON ${archivedKeyMatch(MYSQL_DIALECT, t.entity, 't', 'a')} FOR UPDATE`);
        const count = async (sql: string): Promise<number> => Number(Object.values((await query<Record<string, unknown>[]>(c, sql))[0]!)[0]);
        const guard = await DeleteGuard.start(MYSQL_DIALECT, count, tables, fks);
        await guard.checkReferences();
        // The guard has checked every foreign key: with InnoDB's own checks off no ON DELETE acts
        // on any row, and the rows of a self reference go in one DELETE (InnoDB checks row by row,
        // so a parent deleted before its child would be refused).
        await query(c, 'SET FOREIGN_KEY_CHECKS = 0');
        try {
          for (const t of tables) {
            req.signal?.throwIfAborted();
            deleted.set(t.entity.name, await deleteArchived(c, t));
          }
        } finally {
          await query(c, 'SET FOREIGN_KEY_CHECKS = 1');
        }
        await guard.checkCounts(deleted);
        for (const t of tables) await query(c, `DROP TEMPORARY TABLE IF EXISTS ${[...new Set([t.archive, t.again])].join(', ')}`);
      });
      this.ledgerHead = link.entry_hash;
    } catch (e) {
      if ((e as ServerError)?.fatal) state.broken = true;
      throw this.storeError(e);
    } finally {
      if (conn) {
        if (state.broken) conn.destroy();
        await this.k.client.releaseConnection(conn);
      }
    }
    return deleted;
  }

  async foreignKeys(): Promise<StoreForeignKey[]> {
    try {
      const [rows] = (await this.k.raw(MYSQL_FOREIGN_KEYS_SQL)) as [MysqlForeignKeyRow[]];
      return mysqlForeignKeys(rows);
    } catch (e) {
      throw this.storeError(e);
    }
  }

  async deleteTriggers(): Promise<DeleteTrigger[]> {
    try {
      const [rows] = (await this.k.raw(MYSQL_DELETE_TRIGGERS_SQL)) as [{ t: string; name: string; when: string }[]];
      return mysqlDeleteTriggers(rows);
    } catch (e) {
      throw this.storeError(e);
    }
  }

  async openKeySets(): Promise<KeySets> {
    const conn = (await this.k.client.acquireConnection()) as RawConnection;
    try {
      return new MysqlKeySets(conn, await mysqlNatives(conn), async (broken) => {
        if (broken) conn.destroy();
        await this.k.client.releaseConnection(conn);
      }, (e) => this.storeError(e));
    } catch (e) {
      await this.k.client.releaseConnection(conn);
      throw this.storeError(e);
    }
  }

  async describeTables(): Promise<Entity[]> {
    try {
      return await mysqlDescribe(async (sql) => ((await this.k.raw(sql)) as [Record<string, unknown>[]])[0]);
    } catch (e) {
      throw this.storeError(e);
    }
  }

  /**
   * The rows of a table from one SELECT streamed on a pooled connection (rows as arrays, with
   * backpressure: one consistent snapshot, never the table in memory). A read stopped early leaves
   * the connection mid-result: it is destroyed, not reused.
   */
  async *readRows(table: Entity, opts: ReadRowsOptions = {}): AsyncIterable<unknown[][]> {
    let conn: RawConnection | undefined;
    let unwatch = (): void => {};
    try {
      conn = (await this.k.client.acquireConnection()) as RawConnection;
      unwatch = this.killOnAbort(conn, opts.signal);
      yield* readTable(conn, table, opts, this.display);
    } catch (e) {
      throw readFailure(e, opts.signal, (x) => this.storeError(x));
    } finally {
      unwatch();
      if (conn) await this.k.client.releaseConnection(conn);
    }
  }

  /**
   * Ctrl-C while a statement of a read waits for an answer (a table another session has locked,
   * a long sort): the server would go on waiting until the lock is gone (MariaDB's
   * lock_wait_timeout is a year) and this side with it. KILL QUERY stops the statement on the
   * server, from a connection of its own; the connection is dropped so that the wait ends here at
   * once. Returns what stops watching.
   */
  private killOnAbort(conn: RawConnection, signal: AbortSignal | undefined): () => void {
    if (!signal) return () => {};
    const onAbort = (): void => {
      void (this.k.client.cancelQuery(conn) as Promise<unknown>).catch(() => {});
      conn.destroy();
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    return () => signal.removeEventListener('abort', onAbort);
  }

  /**
   * One transaction WITH CONSISTENT SNAPSHOT, READ ONLY on a pooled connection held until close:
   * InnoDB reads every table as of its start. A table emptied or altered by DDL since (TRUNCATE)
   * fails its read (1412) instead of reading empty; forklift's own loads empty with DELETE.
   */
  async snapshot(opts: { signal?: AbortSignal | undefined } = {}): Promise<StoreSnapshot> {
    const { signal } = opts;
    let conn: RawConnection | undefined;
    let unwatch = (): void => {};
    try {
      conn = (await this.k.client.acquireConnection()) as RawConnection;
      unwatch = this.killOnAbort(conn, signal);
      await query(conn, 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      await query(conn, 'START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
    } catch (e) {
      unwatch();
      if (conn) {
        conn.destroy();
        await this.k.client.releaseConnection(conn);
      }
      if (signal?.aborted === true) throw abortReason(signal);
      throw this.storeError(e);
    }
    const c = conn;
    const display = this.display;
    const fail = (e: unknown): Error => (signal?.aborted === true ? abortReason(signal) : this.storeError(e));
    // A read may have a signal of its own (diff gives each read the command's).
    const watchRead = (readSignal: AbortSignal | undefined): (() => void) => (readSignal === signal ? () => {} : this.killOnAbort(c, readSignal));
    const parked = new ParkedResult();
    return {
      describeTables: async () => {
        try {
          await parked.settle();
          return await mysqlDescribe((sql) => query<Record<string, unknown>[]>(c, sql));
        } catch (e) {
          throw fail(e);
        }
      },
      async *readRows(table: Entity, opts: ReadRowsOptions = {}): AsyncIterable<unknown[][]> {
        const unwatchRead = watchRead(opts.signal);
        try {
          await parked.settle();
          yield* readTable(c, table, opts, display, parked.park);
        } catch (e) {
          throw readFailure(e, opts.signal, fail);
        } finally {
          unwatchRead();
        }
      },
      close: async () => {
        unwatch();
        // Mid-result, the connection cannot go back to the pool; otherwise the transaction (which changed nothing) ends.
        if (parked.pending) c.destroy();
        else await query(c, 'ROLLBACK').catch(() => c.destroy());
        await this.k.client.releaseConnection(c);
      },
    };
  }

  async close(): Promise<void> {
    await this.k.destroy();
  }

  /** Any failure as a StoreError whose hints name the URL as the user gave it (urlName). */
  private storeError(e: unknown, heldBefore?: boolean): Error {
    return asMysqlStoreError(e, this.display, this.target, heldBefore, this.urlName);
  }
}

/** describeTables' catalog reads (and probes), through knex or a snapshot's connection. */
async function mysqlDescribe(run: (sql: string) => Promise<Record<string, unknown>[]>): Promise<Entity[]> {
  const tables = (await run(MYSQL_TABLES_SQL)) as { t: string; d: string | null }[];
  const cols = (await run(mysqlColumnsSql(false))) as unknown as MysqlColumnRow[];
  const keys = (await run(MYSQL_KEYS_SQL)) as unknown as MysqlKeyRow[];
  const recorded = new Map<string, unknown>();
  if (tables.some((t) => t.t === TABLES_TABLE)) {
    for (const r of (await run(`SELECT name, definition FROM ${qi(TABLES_TABLE)}`)) as { name: string; definition: string }[]) recorded.set(r.name, r.definition);
  }
  // tinyint(1) and bigint unsigned columns of tables made by hand are described by the values
  // they hold (one scan of the table); a table forklift made says what it is in forklift_tables.
  const wide = new Set<string>();
  for (const t of tables) {
    if (recorded.has(t.t)) continue;
    const probe = mysqlWideSql(t.t, cols.filter((c) => c.t === t.t));
    if (!probe) continue;
    const [row] = await run(probe.sql);
    probe.columns.forEach((c, i) => {
      if (Number(row?.[`w${i}`]) === 1) wide.add(`${t.t}\u0000${c}`);
    });
  }
  return describeFrom(mysqlTables(tables, cols, keys, wide), recorded);
}

/** A table's rows on `conn`, one SELECT streamed; stopped early, parked with `park` or the connection destroyed (read-stream.ts). */
async function* readTable(conn: RawConnection, table: Entity, opts: ReadRowsOptions, display: string, park?: (rest: Readable) => void): AsyncGenerator<unknown[][]> {
  const cols = await query<MysqlColumnRow[]>(conn, mysqlColumnsSql(true), [table.name]);
  if (cols.length === 0) throw new StoreError(`${display}: there is no table ${table.name}`, { code: 'store.read', hint: 'Check the store URL and the table name.' });
  const native = nativeColumnsFor(table, mysqlTables([{ t: table.name, d: null }], cols, [])[0]!);
  if (!Array.isArray(native)) throw new StoreError(`${display}: table ${table.name} has no column ${native.missing}`, { code: 'store.read', hint: 'The table does not match the description asked for: describe the store again.' });
  const plan = mysqlReadPlan(table, native, opts.where);
  const stream: Readable = conn.query({ sql: plan.sql, values: plan.values, rowsAsArray: true }).stream({ highWaterMark: 1000 });
  // Mid-result, abandoned: the protocol cannot go on on this connection.
  yield* streamedRows(stream, (rows) => mysqlRows(rows, plan.decode, opts.signal), { park, abandon: () => conn.destroy() });
}

/**
 * LOAD DATA LOCAL INFILE from a stream: TSV made from the staged rows, a chunk at a time, paced
 * by the socket (a chunk is made only when the socket has drained), so memory stays flat. The
 * file name is ours and the factory ignores whatever path the server asks for: a server can
 * never make the client read a local file.
 */
async function loadData(conn: RawConnection, staging: Database.Database, l: EntityLoad, table: string, signal: AbortSignal | undefined, range?: SeqRange): Promise<number> {
  const enc = l.entity.columns.map(tsvEncoder);
  const width = enc.length;
  const rows = stagedRows(staging, l, { range });
  const socket = (conn as unknown as { stream?: NodeJS.WritableStream & { writableNeedDrain?: boolean; once: (ev: string, f: () => void) => void } }).stream;
  let sent = 0;
  let waiting = false;
  const stream = new Readable({
    highWaterMark: 1 << 20,
    read() {
      produce();
    },
  });
  const produce = (): void => {
    if (waiting) return;
    try {
      if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
      if (socket?.writableNeedDrain) {
        waiting = true;
        socket.once('drain', () => {
          waiting = false;
          produce();
        });
        return;
      }
      let text = '';
      for (;;) {
        const r = rows.next();
        if (r.done) {
          if (text) stream.push(Buffer.from(text, 'utf8'));
          stream.push(null);
          return;
        }
        const v = r.value;
        let line = enc[0]!(v[0]);
        for (let i = 1; i < width; i++) line += '\t' + enc[i]!(v[i]);
        text += line + '\n';
        sent++;
        if (text.length >= CHUNK_CHARS) break;
      }
      stream.push(Buffer.from(text, 'utf8'));
    } catch (err) {
      stream.destroy(err as Error);
    }
  };
  const cols = l.entity.columns.map((c) => qi(c.name)).join(', ');
  const name = `forklift-${l.entity.name}.tsv`;
  const sql =
    `LOAD DATA LOCAL INFILE ${lit(name)} INTO TABLE ${table} CHARACTER SET utf8mb4 ` +
    `FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' (${cols})`;
  const res = await query<ResultSetHeader>(conn, sql, undefined, () => stream);
  await failOnWarnings(conn, res, l.entity.name);
  if (res.affectedRows !== sent) throw new BugError(`${l.entity.name}: the server took ${res.affectedRows} of ${sent} rows sent`);
  return res.affectedRows;
}

/**
 * Multi-row INSERTs of up to ROWS_PER_INSERT rows (and MAX_STATEMENT_BYTES, below the server's
 * max_allowed_packet). The next statement is built while the server runs the current one.
 */
async function insertRows(conn: RawConnection, staging: Database.Database, l: EntityLoad, table: string, signal: AbortSignal | undefined, range?: SeqRange): Promise<number> {
  const enc = l.entity.columns.map(sqlEncoder);
  const width = enc.length;
  const [pkt] = await query<{ v: unknown }[]>(conn, 'SELECT @@max_allowed_packet AS v');
  const maxBytes = Math.min(MAX_STATEMENT_BYTES, Math.max(64 << 10, Number(pkt?.v ?? 0) - (64 << 10)));
  const head = `INSERT INTO ${table} (${l.entity.columns.map((c) => qi(c.name)).join(', ')}) VALUES `;
  const rows = stagedRows(staging, l, { range });
  const next = (): { sql: string; n: number } | null => {
    let sql = head;
    let n = 0;
    for (;;) {
      const r = rows.next();
      if (r.done) break;
      const v = r.value;
      let tuple = '(' + enc[0]!(v[0]);
      for (let i = 1; i < width; i++) tuple += ',' + enc[i]!(v[i]);
      sql += (n ? ',' : '') + tuple + ')';
      n++;
      // Characters bound the bytes from below; a UTF-8 character is at most 3 bytes per UTF-16 unit.
      if (n >= ROWS_PER_INSERT || sql.length * 3 >= maxBytes) break;
    }
    return n ? { sql, n } : null;
  };
  let total = 0;
  let batch = next();
  while (batch) {
    signal?.throwIfAborted();
    const pending = query<ResultSetHeader>(conn, batch.sql);
    pending.catch(() => {}); // awaited below; this only keeps a failure during next() from going unhandled
    const n = batch.n;
    batch = next();
    const res = await pending;
    await failOnWarnings(conn, res, l.entity.name);
    if (res.affectedRows !== n) throw new BugError(`${l.entity.name}: a statement inserted ${res.affectedRows} of ${n} rows`);
    total += n;
  }
  return total;
}

/** Any warning on a data statement means a row was skipped or changed: fail the load with it. */
async function failOnWarnings(conn: RawConnection, res: ResultSetHeader, entity: string): Promise<void> {
  if (!res.warningStatus) return;
  const warnings = await query<{ Level: string; Code: number; Message: string }[]>(conn, 'SHOW WARNINGS LIMIT 5');
  const real = warnings.filter((w) => w.Code !== 1287); // 1287: a deprecated syntax, not a data problem
  if (!real.length) return;
  const w = real[0]!;
  const err: ServerError = new Error(`${entity}: ${w.Message}${res.warningStatus > 1 ? ` (and ${res.warningStatus - 1} more)` : ''}`);
  err.errno = Number(w.Code);
  err.code = 'WARNING';
  throw err;
}

/** ER_DUP_ENTRY, and ER_DUP_ENTRY_WITH_KEY_NAME (a duplicate met by an INSERT … SELECT). */
const DUPLICATE_KEY = new Set([1062, 1586]);

/** Whether the table holds any of `keys` (staged values, in key order), as literals: the encoders of the load's INSERTs. */
export function mysqlHeldKeysSql(e: Entity, keys: readonly (readonly unknown[])[]): string {
  const enc = e.primaryKey.map((n) => sqlEncoder(e.columns.find((c) => c.name === n)!));
  return `SELECT 1 FROM ${qi(e.name)} WHERE ${keysCondition(e.primaryKey, keys.length, qi, (r, i) => enc[i]!(keys[r]![i]))} LIMIT 1`;
}

/**
 * MariaDB's duplicate key message runs a composite key's values together ('A-2-5'), and LOAD
 * DATA's warnings give no line: the staged keys are looked up in the table (key-clash.ts), on the
 * load's own connection once its transaction is rolled back. The error as it was where the lookup
 * finds nothing (two loaded keys the collation takes for one) or fails.
 */
async function namedKeyClash(conn: RawConnection, staging: Database.Database, l: EntityLoad, err: Error, display: string): Promise<Error> {
  try {
    const hit = await firstHeldKey(staging, l, async (keys) => (await query<unknown[]>(conn, mysqlHeldKeysSql(l.entity, keys))).length > 0);
    return hit ? keyClashError(display, l, hit, err) : err;
  } catch {
    return err;
  }
}

/** How the purge's reference checks are written for MySQL/MariaDB. */
const MYSQL_DIALECT: RefDialect = { id: qi, rows: (schema, table) => (schema === null ? qi(table) : `${qi(schema)}.${qi(table)}`) };

/** The native columns of every table of the database, by table. */
async function mysqlNatives(conn: RawConnection): Promise<Map<string, NativeTable>> {
  const cols = await query<MysqlColumnRow[]>(conn, mysqlColumnsSql(false));
  const names = [...new Set(cols.map((c) => c.t))].map((t) => ({ t, d: null }));
  return new Map(mysqlTables(names, cols, []).map((t) => [t.name, t]));
}

function rowEncoders(columns: readonly Column[], native: NativeTable | undefined): Encoder[] {
  return columns.map((c) => rowValueEncoder(c, native?.columns.find((n) => n.name === c.name)));
}

/**
 * One table's archived rows into a temporary table (CREATE TEMPORARY does not commit the
 * transaction) of the table's own column types; where a foreign key of the table references it
 * (a self reference), their keys into a second one, for the statements that name them twice.
 */
async function loadArchive(conn: RawConnection, t: DeleteTable, i: number, native: NativeTable | undefined, fks: readonly StoreForeignKey[], signal: AbortSignal | undefined): Promise<ArchivedTable> {
  const keys = keyColumns(t.entity).map((c) => qi(c.name)).join(', ');
  const cols = t.entity.columns.map((c) => qi(c.name)).join(', ');
  const archive = qi(`_forklift_purge_rows_${i}`);
  await query(conn, `DROP TEMPORARY TABLE IF EXISTS ${archive}`);
  await query(conn, `CREATE TEMPORARY TABLE ${archive} (PRIMARY KEY (${keys})) ENGINE=InnoDB SELECT ${cols} FROM ${qi(t.entity.name)} WHERE 1 = 0`);
  const enc = rowEncoders(t.entity.columns, native);
  for await (const piece of rowPieces(t.rows(), signal)) {
    const tuples = piece.map((r) => `(${enc.map((f, k) => f(r[k])).join(', ')})`).join(', ');
    const res = await query<ResultSetHeader>(conn, `INSERT INTO ${archive} (${cols}) VALUES ${tuples}`);
    await failOnWarnings(conn, res, t.entity.name);
  }
  let again = archive;
  if (fks.some((fk) => fk.schema === null && fk.table === t.entity.name && fk.refTable === t.entity.name)) {
    again = qi(`_forklift_purge_keys_${i}`);
    await query(conn, `DROP TEMPORARY TABLE IF EXISTS ${again}`);
    await query(conn, `CREATE TEMPORARY TABLE ${again} (PRIMARY KEY (${keys})) ENGINE=InnoDB SELECT ${keys} FROM ${archive}`);
  }
  return { entity: t.entity, archive, again, expected: t.expected };
}

/**
 * One DELETE joined on the key that requires every other value unchanged. Values are compared as
 * binary strings: a PAD SPACE collation would take 'a ' for 'a', and two values of one column type
 * are equal exactly when their texts are. Returns the rows it deleted.
 */
async function deleteArchived(conn: RawConnection, t: ArchivedTable): Promise<number> {
  const same = [
    archivedKeyMatch(MYSQL_DIALECT, t.entity, 't', 'a'),
    ...valueColumns(t.entity).map((c) => `CAST(t.${qi(c.name)} AS BINARY) <=> CAST(a.${qi(c.name)} AS BINARY)`),
  ].join(' AND ');
  const res = await query<ResultSetHeader>(conn, `DELETE t FROM ${qi(t.entity.name)} AS t JOIN ${t.archive} AS a ON ${same}`);
  return res.affectedRows;
}

/**
 * Key sets (a purge's selection) in temporary tables of a connection of their own. Each set is
 * kept twice, in the same rows: MySQL cannot open one temporary table twice in a statement, and a
 * self reference asks about the set of its table on both sides.
 */
class MysqlKeySets implements KeySets {
  private readonly sets = new Map<string, { parent: RowSet; child: RowSet; enc: Encoder[] }>();
  private broken = false;

  constructor(
    private readonly conn: RawConnection,
    private readonly natives: ReadonlyMap<string, NativeTable>,
    private readonly release: (broken: boolean) => Promise<void>,
    private readonly fail: (e: unknown) => Error,
  ) {}

  private async run<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      if ((e as ServerError)?.fatal) this.broken = true;
      throw this.fail(e);
    }
  }

  async add(table: Entity, keys: readonly (readonly unknown[])[], first: number): Promise<void> {
    await this.run(async () => {
      const cols = table.primaryKey.map(qi).join(', ');
      let s = this.sets.get(table.name);
      if (!s) {
        const i = this.sets.size;
        const parent = qi(`_forklift_keys_${i}`);
        const child = qi(`_forklift_keyc_${i}`);
        for (const name of [parent, child]) {
          await query(this.conn, `DROP TEMPORARY TABLE IF EXISTS ${name}`);
          await query(this.conn, `CREATE TEMPORARY TABLE ${name} (forklift_n BIGINT, PRIMARY KEY (${cols}), KEY (forklift_n)) ENGINE=InnoDB SELECT ${cols} FROM ${qi(table.name)} WHERE 1 = 0`);
        }
        const keyColumns = table.primaryKey.map((k) => table.columns.find((c) => c.name === k)!);
        s = { parent: { table: parent, key: table.primaryKey }, child: { table: child, key: table.primaryKey }, enc: rowEncoders(keyColumns, this.natives.get(table.name)) };
        this.sets.set(table.name, s);
      }
      const { enc } = s;
      for (let at = 0; at < keys.length; at += ROWS_PER_INSERT) {
        const tuples = keys
          .slice(at, at + ROWS_PER_INSERT)
          .map((k, j) => `(${first + at + j}, ${enc.map((f, x) => f(k[x])).join(', ')})`)
          .join(', ');
        for (const name of [s.parent.table, s.child.table]) {
          const res = await query<ResultSetHeader>(this.conn, `INSERT INTO ${name} (forklift_n, ${cols}) VALUES ${tuples}`);
          await failOnWarnings(this.conn, res, table.name);
        }
      }
    });
  }

  async referenced(fk: StoreForeignKey): Promise<number[]> {
    const parent = this.sets.get(fk.refTable);
    if (!parent) return [];
    const child = fk.schema === null ? this.sets.get(fk.table) : undefined;
    const rows = await this.run(() => query<{ forklift_n: number | string }[]>(this.conn, referencedSql(MYSQL_DIALECT, fk, parent.parent, child?.child ?? null)));
    return rows.map((r) => Number(r.forklift_n));
  }

  async remove(table: string, numbers: readonly number[]): Promise<void> {
    const s = this.sets.get(table);
    if (!s) return;
    await this.run(async () => {
      for (let at = 0; at < numbers.length; at += ROWS_PER_INSERT) {
        const list = numbers.slice(at, at + ROWS_PER_INSERT).join(', ');
        for (const name of [s.parent.table, s.child.table]) await query(this.conn, `DELETE FROM ${name} WHERE forklift_n IN (${list})`);
      }
    });
  }

  async close(): Promise<void> {
    try {
      if (!this.broken && this.sets.size) await query(this.conn, `DROP TEMPORARY TABLE IF EXISTS ${[...this.sets.values()].flatMap((s) => [s.parent.table, s.child.table]).join(', ')}`);
    } catch {
      this.broken = true;
    } finally {
      await this.release(this.broken);
    }
  }
}

/**
 * `work` and the run entry in ONE transaction on `conn`: committed at the end, or rolled back (a
 * killed process drops the connection, and the server rolls back for us). `state.broken` tells
 * the caller that the connection is gone and must not be reused. `guard` runs everything before
 * the COMMIT (the load's: Ctrl-C may stop it there, the wait for the ledger lock included); the
 * COMMIT itself is never stopped.
 */
async function inRunTransaction(conn: RawConnection, entry: RunEntry, state: { broken: boolean }, work: () => Promise<void>, guard: (fn: () => Promise<ChainLink>) => Promise<ChainLink> = (fn) => fn()): Promise<ChainLink> {
  await query(conn, 'START TRANSACTION');
  let locked = false;
  try {
    const link = await guard(async () => {
      await work();
      await takeRunsLock(conn);
      locked = true;
      return insertRun(conn, entry);
    });
    await query(conn, 'COMMIT');
    return link;
  } catch (e) {
    try {
      await query(conn, 'ROLLBACK');
    } catch {
      state.broken = true; // the server rolls back when the connection goes
    }
    throw e;
  } finally {
    if (locked && !state.broken) await releaseRunsLock(conn);
  }
}

/** Appends the entry to the audit chain; the caller holds the ledger lock (takeRunsLock) and a transaction. */
async function insertRun(conn: RawConnection, e: RunEntry): Promise<ChainLink> {
  const head = await query<{ seq: number | string; entry_hash: string }[]>(conn, 'SELECT seq, entry_hash FROM forklift_runs WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1 FOR UPDATE');
  const entry = head[0] ? e : firstChainEntry(e, await query<Record<string, unknown>[]>(conn, `${UNCHAINED_SQL} FOR UPDATE`));
  const link = nextLink(entry, head[0]);
  await query(
    conn,
    'INSERT INTO forklift_runs (id, command, status, started, finished, operator, host, tool_version, plan_sha256, files, counts, message, seq, prev_hash, entry_hash, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    [entry.id, entry.command, entry.status, entry.started, entry.finished, entry.operator, entry.host, entry.tool_version, entry.plan_sha256, JSON.stringify(entry.files), JSON.stringify(entry.counts), entry.message, link.seq, link.prev_hash, link.entry_hash, link.signature],
  );
  return link;
}

/**
 * Row values out of a server message: MySQL quotes the offending value (`Duplicate entry 'A-1'
 * for key …`, `Incorrect decimal value: '1,5' for column …`), unescaped, so a value may hold
 * quotes itself. Everything between the value's opening quote and the last quote before
 * ` for key` / ` for column` goes; names of columns, keys, tables and users stay, since they are
 * what a user needs to act. Any other quoted literal goes too.
 */
export function redactValues(msg: string): string {
  return msg
    .replace(/\b(entry|value:?|string) '[\s\S]*'(?= for (?:key|column)\b)/gi, "$1 '\u2026'")
    .replace(/(\b(?:column|field|key|table|database|schema|constraint|user)\s+)?'((?:[^'\\]|\\.)*)'/gi, (m, pre: string | undefined) => (pre || m === "'\u2026'" ? m : "'\u2026'"));
}

/**
 * A duplicate key where the table held no rows before the load (load: replace, or a table found
 * empty) is two of the loaded rows taken for one key: the column's collation compares them so
 * (PAD SPACE: trailing spaces; a case-insensitive one: letter case too).
 */
const KEYS_EQUAL_HERE = "the table's collation compares them as one key (MySQL/MariaDB ignores trailing spaces; a case-insensitive collation, of a table not made by forklift, also letter case)";

/** `heldBefore`: whether the table a load was writing when it failed held rows before (undefined: not known, as for an upsert). */
export function asMysqlStoreError(e: unknown, display: string, t?: Pick<Target, 'host' | 'port' | 'database'>, heldBefore?: boolean, urlName = TARGET_URL): Error {
  if (e instanceof BugError || e instanceof StoreError || e instanceof ConfigError) return e;
  const err = (e ?? {}) as ServerError;
  const code = err.code ?? '';
  const errno = err.errno ?? 0;
  const raw = err.sqlMessage ?? (e instanceof Error ? e.message : String(e));
  let msg = redactValues(raw);
  const where = t ? `${t.host}:${t.port}` : 'the server';
  let hint = 'Check that the target is reachable and writable.';
  if (DUPLICATE_KEY.has(errno) && heldBefore === false) hint = `The table held no rows before the load: the rows loaded have keys that differ, but ${KEYS_EQUAL_HERE}. Make those keys distinct in the source (a mapping can trim them: clean: [trim]). Nothing was committed.`;
  else if (DUPLICATE_KEY.has(errno)) hint = `Either the target already holds rows with these keys (use load: replace or upsert; bundle import: --load replace or upsert; or remove them), or rows loaded have keys that differ, but ${KEYS_EQUAL_HERE}: make those distinct. Nothing was committed.`;
  else if (errno === 1451) hint = 'Rows in the target that this run does not load still reference rows it replaces: load those entities too, or use load: append.';
  else if (errno === 1452) hint = 'A row references a key that is not in the target: load the referenced entity in the same run, or load it first.';
  else if (errno === 1045 || errno === 1698) hint = `Check the user name and password in ${urlName}, or in the variable it comes from.`;
  else if (errno === 1049) hint = `Create the database first: CREATE DATABASE ${qi(t?.database ?? 'name')} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin.`;
  else if (errno === 1044 || errno === 1142 || errno === 1227) hint = 'The user lacks a privilege: it needs CREATE, SELECT, INSERT, UPDATE, DELETE and REFERENCES on the database.';
  else if (errno === 1205 || errno === 1213) hint = 'Another session holds locks on these tables: wait for it to finish, then run again. Nothing was committed.';
  else if (errno === 1412) hint = 'A table was emptied or changed by DDL (TRUNCATE, ALTER) while it was being read: run again once that is done.';
  else if (errno === 1153 || errno === 1301) hint = "A statement exceeded the server's max_allowed_packet: raise it, or set FORKLIFT_MYSQL_BULK=load-data.";
  else if (errno === 3819 || errno === 4025) hint = 'A value breaks a CHECK constraint of the target table (an enum or boolean column): check that the table was created by forklift for this model.';
  // ER_NO_DEFAULT_FOR_FIELD, ER_BAD_NULL_ERROR, ER_BAD_FIELD_ERROR: a column the model does not fill, or lacks.
  else if (errno === 1364 || errno === 1048 || errno === 1054) hint = 'The target table does not match the model (made by hand or by another model version): the column named has no counterpart in the model, or the model one here; compare the table with the model, or load into a fresh database.';
  else if (errno === 1264 || errno === 1265 || errno === 1292 || errno === 1366 || errno === 1406) hint = 'The target column cannot hold a value as loaded: check that the table was created by forklift for this model.';
  else if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|EAI_AGAIN/.test(code)) hint = `Check that the MySQL/MariaDB server is running and reachable at ${where}.`;
  else if (code === 'PROTOCOL_CONNECTION_LOST' || errno === 2006 || errno === 2013 || errno === 1927 || code === 'ECONNRESET' || code === 'EPIPE') {
    hint = 'The connection to the server was lost during the load: nothing was committed. Run the same command again.';
    // A bare socket error ('write EPIPE') does not say what happened: say it.
    if (!/connection/i.test(msg)) msg = `the connection to the server was lost (${msg})`;
  } else if (err.name === 'AbortError') hint = 'The run was interrupted: nothing was committed. Run the same command again.';
  // The cause keeps the code and number only: the driver's error carries the SQL text (row values).
  const cause = Object.assign(new Error(msg), { code, errno });
  return new StoreError(`${display}: ${msg}`, { code: 'store.load', hint, cause });
}
