import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import sql from 'mssql';
import { BugError, ConfigError, StoreError } from '../core/errors.js';
import type { Column, Entity } from '../model/types.js';
import {
  BIN2,
  MSSQL_DBO_TABLES_SQL,
  MSSQL_SNAPSHOT_STATE_SQL,
  MSSQL_TABLES_DDL,
  MSSQL_TABLES_MERGE,
  MSSQL_TABLES_ELSEWHERE_SQL,
  MssqlReadProblem,
  mssqlColumnsSql,
  mssqlDescribeInSession,
  mssqlForeignKeysInSession,
  mssqlLockTablesSql,
  mssqlReadInSession,
  mssqlTableRecordParams,
  mssqlTables,
  readSessionOf,
  type MssqlColumnRow,
  type MssqlReadSession,
} from './read-mssql.js';
import { firstHeldKey, keyClashError, keysCondition, mayMeetHeldKeys, UNIQUE_CLASH_HINT, type HeldKey } from './key-clash.js';
import { holdsExactly, shapeError, shapeMismatches, type ShapeMismatch } from './table-shape.js';
import { referencedClosure } from './referenced.js';
import { checkNameLengths, MSSQL_NAME_LIMIT } from './name-limits.js';
import { loadNarrowing, type Refusal, type SeqRange } from './rehearse.js';
import { stagedRows } from './staged-rows.js';
import type { EntityLoad, LoadRequest, ReadRowsOptions, RehearsalRequest, RunEntry, SchemaTables, StoreForeignKey, StoreSnapshot, TargetStore } from './types.js';
import { bySchema, interruptedLoadError } from './read-common.js';
import { nextLink, type ChainLink } from '../audit/chain.js';
import { TARGET_URL, checkServerUrl, decodeUrlPart, redactUrl, scrubSecrets, urlSecrets } from './url.js';
import { collatedKeyColumns, isText, looseKeyError } from './loose-keys.js';
import { upsertSetNames } from './upsert-common.js';
import { abortReason, cancelOnAbort } from '../util/abort.js';

/**
 * A SQL Server target (mssql:// or sqlserver://). One mssql Transaction per run: the tables are
 * created, replace-mode tables emptied (children first), every entity's rows loaded and the
 * forklift_runs entry written on the transaction's one connection, then committed, or rolled
 * back as a whole (XACT_ABORT ON: any error dooms the transaction on the server too).
 *
 * The rows move with the TDS bulk load of the mssql package (`request.bulk`), in chunks of
 * BULK_CHUNK rows streamed from the staging file, into a session temporary table `#fl_<entity>`,
 * and from there into the real table with one INSERT … SELECT (append, replace) or MERGE
 * (upsert). The detour through #temp is deliberate:
 *
 * - Decimals. tedious (the driver under mssql) writes a `sql.Decimal(p, s)` value by
 *   `parseFloat(value)` and `Math.round(value * 10^scale)` into a 64-bit field
 *   (node_modules/tedious/lib/data-types/decimal.js): a JavaScript double. Past 2^53 once
 *   scaled (16 digits) values come out changed: 999999999999.999999 is sent as 1000000000000,
 *   123456789012.123457 as 123456789012.123456 (the unit tests show it), and digits beyond the
 *   low 64 bits are never written at all. So decimals travel as their exact
 *   text (`sql.NVarChar`) into the #temp table and are turned into decimal(p, s) by
 *   `CAST(… AS decimal(p, s))` on the server, which parses decimal text exactly.
 * - Constraints. A bulk load straight into a table skips CHECK and FOREIGN KEY constraints unless
 *   CHECK_CONSTRAINTS is given, and marks them untrusted when it skips them; INSERT … SELECT
 *   checks them all, row by row, as any insert does.
 * - Upsert needs a source for MERGE anyway.
 *
 * Every other type is sent typed and exact: bigint as a JS bigint (read from the staging file
 * with safeIntegers), bit as a boolean, date and datetimeoffset(3) as a Date that is the instant
 * itself (UtcInstant, so the offset written is +00:00 whatever the process's time zone is).
 *
 * Everything this store sends is built by the pure functions below, which the unit tests check
 * statement by statement without a server.
 */

export const SCHEMA = 'dbo';
/** Rows per bulk load call: one sql.Table at a time holds at most this many rows. */
export const BULK_CHUNK = 10_000;
/** Distinct values per batch when reading a column back. */
const READ_BATCH = 5000;
/** Room for a decimal(38, s) as text: 38 digits, sign, point, a leading zero. */
export const DECIMAL_TEXT_LENGTH = 50;
/** nvarchar(n) holds at most 4000 byte-pairs; longer strings are nvarchar(max). */
const NVARCHAR_LIMIT = 4000;

// ---------------------------------------------------------------------------------------------
// Quoting

/** A T-SQL identifier in brackets: `]` doubled. */
export const qi = (name: string): string => `[${name.replace(/]/g, ']]')}]`;
/** A schema-qualified table: [dbo].[items]. */
export const tableRef = (name: string): string => `${qi(SCHEMA)}.${qi(name)}`;
/** A Unicode string literal: N'…' with quotes doubled. */
export const nstr = (s: string): string => `N'${s.replace(/'/g, "''")}'`;
/**
 * The session temporary table an entity's rows are bulk loaded into: `#fl_<entity>` for a plain
 * name. The bulk load names its table through mssql's sql.Table, which splits a name at `.` (so
 * `#fl_sales.orders` would be table `orders` of a schema `#fl_sales`) and refuses `]`; and a
 * temporary table's name holds at most 116 characters. Any other name is kept to its letters,
 * digits and underscores, with a hash of the whole name to keep two such names apart.
 */
export function tempTable(entity: string): string {
  if (/^[A-Za-z0-9_]{1,100}$/.test(entity)) return `#fl_${entity}`;
  const plain = entity.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 80);
  return `#fl_${plain}_${createHash('sha256').update(entity).digest('hex').slice(0, 12)}`;
}

/** A constraint name, kept within SQL Server's 128 characters. */
function constraintName(prefix: string, ...parts: string[]): string {
  const name = [prefix, ...parts].join('_');
  if (name.length <= 128) return name;
  return `${name.slice(0, 115)}_${createHash('sha256').update(name).digest('hex').slice(0, 12)}`;
}

// ---------------------------------------------------------------------------------------------
// Types and DDL

function nvarchar(length: number | undefined): string {
  return length === undefined || length > NVARCHAR_LIMIT ? 'nvarchar(max)' : `nvarchar(${length})`;
}

/** Length of an enum column: its longest value. */
function enumLength(c: Column): number {
  return Math.max(1, ...(c.values ?? []).map((v) => v.length));
}

/** decimal(p, s); a column without them gets the model loader's defaults (model/load.ts). */
function decimalType(c: Column): string {
  return `decimal(${c.precision ?? 18}, ${c.scale ?? 6})`;
}

/** The SQL Server type of a model column. */
export function mssqlColumnType(c: Column): string {
  switch (c.type) {
    case 'string':
      // nvarchar(n) counts UTF-16 code units (byte-pairs), the model counts characters: see
      // toBulkValue, which stops a value that cannot fit with a clear message.
      return nvarchar(c.length);
    case 'text':
      return 'nvarchar(max)';
    case 'enum':
      return nvarchar(enumLength(c));
    case 'integer':
      return 'bigint';
    case 'decimal':
      return decimalType(c);
    case 'boolean':
      return 'bit';
    case 'date':
      return 'date';
    case 'timestamp':
      return 'datetimeoffset(3)';
  }
}

/**
 * SQL Server indexes at most 900 bytes of a key: a clustered index (the primary key) in every
 * version, a nonclustered one (UNIQUE) before SQL Server 2016. An nvarchar(max) column cannot be
 * in an index at all (Msg 1919), so a text column of a key, a unique column or a foreign key is
 * created as nvarchar(450), the longest whose every value fits alone; so is a longer string.
 * Values that do not fit (a longer text, or a composite key whose values add up to more than 900
 * bytes) are refused by the row converter, naming the column, rather than cut or left to the
 * server's error.
 */
export const INDEX_KEY_BYTES = 900;
const KEY_TEXT_LENGTH = INDEX_KEY_BYTES / 2;

/** A text column's nvarchar length, Infinity for nvarchar(max); undefined for other types. */
function textLength(c: Column): number | undefined {
  if (c.type === 'text') return Infinity;
  if (c.type === 'enum') return enumLength(c);
  if (c.type === 'string') return c.length === undefined || c.length > NVARCHAR_LIMIT ? Infinity : c.length;
  return undefined;
}

/** A column SQL Server indexes (the primary key, a unique column) or matches to an index (a foreign key). */
const indexed = (e: Entity, c: Column): boolean => e.primaryKey.includes(c.name) || c.unique === true || c.references !== undefined;

/** The nvarchar length of an indexed text column that its model type would make longer than an index holds, else undefined. */
function keyTextCap(e: Entity, c: Column): number | undefined {
  const n = textLength(c);
  return n !== undefined && n > KEY_TEXT_LENGTH && indexed(e, c) ? KEY_TEXT_LENGTH : undefined;
}

/** The SQL Server type of a column of the entity: mssqlColumnType, but an indexed text column at most nvarchar(450). */
export function mssqlColumnTypeIn(e: Entity, c: Column): string {
  const cap = keyTextCap(e, c);
  return cap === undefined ? mssqlColumnType(c) : `nvarchar(${cap})`;
}

/**
 * The model as SQL Server holds it, for the existing-table check: an indexed string longer than an
 * index holds as the nvarchar(450) forklift creates it with (longer values are refused anyway), so
 * the tables forklift itself made pass. A `text` column stays text, which any nvarchar(n) passes,
 * as before: a longer value fails the load, it is never cut.
 */
export function mssqlStoredEntity(e: Entity): Entity {
  const stored = (c: Column): Column => {
    const cap = c.type === 'string' ? keyTextCap(e, c) : undefined;
    return cap === undefined ? c : { ...c, length: cap };
  };
  return { ...e, columns: e.columns.map(stored) };
}

/** Bytes a value of a fixed-size type takes in an index key. */
function fixedKeyBytes(c: Column): number {
  switch (c.type) {
    case 'integer':
      return 8;
    case 'boolean':
      return 1;
    case 'date':
      return 3;
    case 'timestamp':
      return 9;
    case 'decimal': {
      const p = c.precision ?? 18;
      return p <= 9 ? 5 : p <= 19 ? 9 : p <= 28 ? 13 : 17;
    }
    default:
      return 0;
  }
}

/** The collation of each text column of an entity's table, by column name. */
export type Collations = ReadonlyMap<string, string>;

/**
 * The collations of a new table's text columns. Binary (BIN2, as the MySQL store makes its tables
 * utf8mb4_bin): under the database's default collation, mostly case-insensitive, keys such as
 * `P-1` and `p-1` (which SQLite and PostgreSQL hold as two) would collide on the primary key, and
 * the watermark groups `M1` and `m1` would be one. A foreign key column takes the collation of the
 * column it references (`referenced`), since SQL Server refuses a foreign key between two (Msg
 * 1757): an existing table's keep theirs.
 */
export function mssqlNewTableCollations(e: Entity, referenced: (entity: string, column: string) => string | undefined = () => undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of e.columns) {
    if (textLength(c) === undefined) continue;
    out.set(c.name, (c.references && c.references.entity !== e.name ? referenced(c.references.entity, c.references.column) : undefined) ?? BIN2);
  }
  return out;
}

/** Columns that must hold a value: required ones and the primary key. */
const notNull = (e: Entity, c: Column): boolean => c.required || e.primaryKey.includes(c.name);

/**
 * CREATE TABLE for an entity, run only where the table does not exist yet: exact types, NOT NULL,
 * the primary key, an enum's CHECK, UNIQUE, and foreign keys (not to the table itself, as in the
 * SQLite store: a BOM line may name a parent loaded in the same run). A unique column that may be
 * empty gets a filtered unique index instead of a UNIQUE constraint, because SQL Server's UNIQUE
 * lets only one NULL in, where the model (and every other store) allows any number.
 */
export function mssqlCreateTable(e: Entity, collations: Collations = mssqlNewTableCollations(e)): string {
  const t = e.name;
  const lines = e.columns.map((c) => {
    const co = collations.get(c.name);
    let def = `${qi(c.name)} ${mssqlColumnTypeIn(e, c)}${co ? ` COLLATE ${co}` : ''} ${notNull(e, c) ? 'NOT NULL' : 'NULL'}`;
    if (c.type === 'enum' && c.values?.length) def += ` CONSTRAINT ${qi(constraintName('ck', t, c.name))} CHECK (${qi(c.name)} IN (${c.values.map(nstr).join(', ')}))`;
    return def;
  });
  // A table without a key gets no PRIMARY KEY constraint.
  if (e.primaryKey.length) lines.push(`CONSTRAINT ${qi(constraintName('pk', t))} PRIMARY KEY (${e.primaryKey.map(qi).join(', ')})`);
  const indexes: string[] = [];
  for (const c of e.columns.filter((x) => x.unique)) {
    const name = qi(constraintName('uq', t, c.name));
    if (notNull(e, c)) lines.push(`CONSTRAINT ${name} UNIQUE (${qi(c.name)})`);
    else indexes.push(`CREATE UNIQUE INDEX ${name} ON ${tableRef(t)} (${qi(c.name)}) WHERE ${qi(c.name)} IS NOT NULL;`);
  }
  for (const c of e.columns) {
    if (!c.references || c.references.entity === t) continue;
    lines.push(`CONSTRAINT ${qi(constraintName('fk', t, c.name))} FOREIGN KEY (${qi(c.name)}) REFERENCES ${tableRef(c.references.entity)} (${qi(c.references.column)})`);
  }
  return [
    `IF OBJECT_ID(${nstr(tableRef(t))}, N'U') IS NULL`,
    'BEGIN',
    `CREATE TABLE ${tableRef(t)} (\n  ${lines.join(',\n  ')}\n);`,
    ...indexes,
    'END',
  ].join('\n');
}

export const MSSQL_RUNS_DDL = `IF OBJECT_ID(N'[dbo].[forklift_runs]', N'U') IS NULL
CREATE TABLE [dbo].[forklift_runs] (
  [id] nvarchar(128) NOT NULL CONSTRAINT [pk_forklift_runs] PRIMARY KEY,
  [command] nvarchar(32) NOT NULL,
  [status] nvarchar(16) NOT NULL,
  [started] datetimeoffset(3) NOT NULL,
  [finished] datetimeoffset(3) NOT NULL,
  [operator] nvarchar(max) NULL,
  [host] nvarchar(255) NULL,
  [tool_version] nvarchar(64) NULL,
  [plan_sha256] nvarchar(64) NULL,
  [files] nvarchar(max) NULL,
  [counts] nvarchar(max) NULL,
  [message] nvarchar(max) NULL,
  [seq] bigint NULL,
  [prev_hash] nvarchar(64) NULL,
  [entry_hash] nvarchar(64) NULL,
  [signature] nvarchar(255) NULL
)`;

/** A ledger from before the audit chain (or signing) gains the chain's columns. */
export const MSSQL_RUNS_CHAIN_DDL = `IF COL_LENGTH(N'dbo.forklift_runs', N'entry_hash') IS NULL
ALTER TABLE [dbo].[forklift_runs] ADD [seq] bigint NULL, [prev_hash] nvarchar(64) NULL, [entry_hash] nvarchar(64) NULL;
IF COL_LENGTH(N'dbo.forklift_runs', N'signature') IS NULL
ALTER TABLE [dbo].[forklift_runs] ADD [signature] nvarchar(255) NULL`;

/** Serialises appends to the chain: an exclusive application lock held until the transaction ends. */
export const MSSQL_RUNS_LOCK = `DECLARE @r int; EXEC @r = sp_getapplock @Resource = N'forklift_runs', @LockMode = N'Exclusive', @LockOwner = N'Transaction', @LockTimeout = 600000;
IF @r < 0 THROW 50001, N'forklift_runs: could not take the ledger lock', 1;`;

/** Empties a replace-mode table (DELETE, not TRUNCATE: TRUNCATE refuses a referenced table). */
export function mssqlDeleteAll(e: Entity): string {
  return `DELETE FROM ${tableRef(e.name)}`;
}

// ---------------------------------------------------------------------------------------------
// The bulk path: #temp table, its sql.Table columns, row values

/** One column as the bulk load declares it: the #temp column's type and the mssql type sent. */
export interface BulkColumn {
  name: string;
  /** The #temp table's column type (T-SQL). */
  decl: string;
  /** The mssql type the bulk load declares for it. */
  type: sql.ISqlType;
}

/**
 * The bulk columns of an entity. Decimals are text (see the file comment); every other type is
 * the target's own. A fresh array each call: mssql writes into the type objects it is given.
 */
export function mssqlBulkColumns(e: Entity): BulkColumn[] {
  return e.columns.map((c): BulkColumn => {
    switch (c.type) {
      case 'string':
      case 'enum': {
        const decl = mssqlColumnType(c);
        return { name: c.name, decl, type: sql.NVarChar(decl === 'nvarchar(max)' ? sql.MAX : c.type === 'enum' ? enumLength(c) : c.length) };
      }
      case 'text':
        return { name: c.name, decl: 'nvarchar(max)', type: sql.NVarChar(sql.MAX) };
      case 'decimal':
        return { name: c.name, decl: `nvarchar(${DECIMAL_TEXT_LENGTH})`, type: sql.NVarChar(DECIMAL_TEXT_LENGTH) };
      case 'integer':
        return { name: c.name, decl: 'bigint', type: sql.BigInt() };
      case 'boolean':
        return { name: c.name, decl: 'bit', type: sql.Bit() };
      case 'date':
        return { name: c.name, decl: 'date', type: sql.Date() };
      case 'timestamp':
        return { name: c.name, decl: 'datetimeoffset(3)', type: sql.DateTimeOffset(3) };
    }
  });
}

/**
 * The #temp table for an entity: dropped if a previous load on this session left it, then
 * created with the bulk columns, all nullable (the real table checks), text columns in the
 * collations of the table's own (`collations`; the database's where one is not known), so MERGE
 * and the loose-key check compare them as the table's key does (tempdb's collation may differ
 * from the database's, and two collations cannot be compared at all, Msg 468).
 */
export function mssqlCreateTempTable(e: Entity, collations: Collations = mssqlNewTableCollations(e)): string {
  const t = tempTable(e.name);
  const cols = mssqlBulkColumns(e).map((c) => `${qi(c.name)} ${c.decl}${c.decl.startsWith('nvarchar') ? ` COLLATE ${collations.get(c.name) ?? 'DATABASE_DEFAULT'}` : ''} NULL`);
  return `IF OBJECT_ID(${nstr(`tempdb..${qi(t)}`)}) IS NOT NULL DROP TABLE ${qi(t)};\nCREATE TABLE ${qi(t)} (\n  ${cols.join(',\n  ')}\n);`;
}

export function mssqlDropTempTable(e: Entity): string {
  return `DROP TABLE ${qi(tempTable(e.name))}`;
}

/**
 * A Date that is the instant it holds in every accessor: its local fields are the UTC ones and its
 * time zone offset is 0. tedious writes a datetimeoffset's date and time from the UTC fields but
 * its offset from getTimezoneOffset() (the process's zone), and a date from the local or UTC
 * fields depending on useUTC: with this class the value sent is the same on every machine.
 */
export class UtcInstant extends Date {
  override getTimezoneOffset(): number {
    return 0;
  }
  override getFullYear(): number {
    return this.getUTCFullYear();
  }
  override getMonth(): number {
    return this.getUTCMonth();
  }
  override getDate(): number {
    return this.getUTCDate();
  }
  override getDay(): number {
    return this.getUTCDay();
  }
  override getHours(): number {
    return this.getUTCHours();
  }
  override getMinutes(): number {
    return this.getUTCMinutes();
  }
  override getSeconds(): number {
    return this.getUTCSeconds();
  }
  override getMilliseconds(): number {
    return this.getUTCMilliseconds();
  }
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A staged date (YYYY-MM-DD) as the UTC midnight of that day. */
export function dateValue(s: string): UtcInstant {
  const m = ISO_DATE.exec(s);
  if (!m) throw new BugError('a staged date is not YYYY-MM-DD');
  const d = new UtcInstant(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0-99 as 1900-1999.
  d.setUTCFullYear(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (Number.isNaN(d.getTime()) || d.getUTCDate() !== Number(m[3])) throw new BugError('a staged date is not a calendar date');
  return d;
}

/** A staged timestamp (ISO 8601 text, YYYY-MM-DDTHH:mm:ss.SSSZ) as its instant. */
export function timestampValue(s: string): UtcInstant {
  const d = new UtcInstant(Date.parse(s));
  if (Number.isNaN(d.getTime())) throw new BugError('a staged timestamp is not ISO 8601');
  return d;
}

/**
 * Turns one staged row (better-sqlite3 raw row, integers as bigint) into the values the bulk load
 * sends, column by column. NULL stays NULL and '' stays '' (bulk load with KEEP_NULLS).
 */
export function mssqlRowConverter(e: Entity): (row: readonly unknown[]) => unknown[] {
  const convert = e.columns.map((c) => valueConverter(e, c));
  const n = convert.length;
  const keyFits = keySizeCheck(e);
  return (row) => {
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) {
      const v = row[i];
      out[i] = v === null || v === undefined ? null : convert[i]!(v);
    }
    keyFits?.(out);
    return out;
  };
}

/**
 * Where the primary key's columns could add up to more than an index holds (two or more text
 * columns, or one beside fixed-size ones), the check of a converted row's key size; else null.
 */
function keySizeCheck(e: Entity): ((row: readonly unknown[]) => void) | null {
  const keys = e.primaryKey.map((k) => e.columns.findIndex((c) => c.name === k));
  const cols = keys.map((i) => e.columns[i]!);
  const fixed = cols.reduce((sum, c) => sum + fixedKeyBytes(c), 0);
  const text = keys.filter((i) => textLength(e.columns[i]!) !== undefined);
  const most = fixed + text.reduce((sum, i) => sum + 2 * (keyTextCap(e, e.columns[i]!) ?? textLength(e.columns[i]!)!), 0);
  if (most <= INDEX_KEY_BYTES) return null;
  return (row) => {
    const bytes = fixed + text.reduce((sum, i) => sum + 2 * String(row[i] ?? '').length, 0);
    if (bytes <= INDEX_KEY_BYTES) return;
    throw new StoreError(`${e.name}: a key (${e.primaryKey.join(', ')}) takes ${bytes} bytes, more than the ${INDEX_KEY_BYTES} bytes SQL Server's primary key index holds`, {
      code: 'store.value',
      hint: `SQL Server indexes at most ${INDEX_KEY_BYTES} bytes of a key (text counts 2 bytes a UTF-16 code unit): shorten the key values of ${e.name}, or load it into another store.`,
    });
  };
}

function valueConverter(e: Entity, c: Column): (v: unknown) => unknown {
  switch (c.type) {
    case 'string':
    case 'enum':
    case 'text': {
      // An enum's values fit by construction; text is nvarchar(max) unless indexed.
      const cap = keyTextCap(e, c);
      const units = cap ?? (c.type === 'string' && c.length !== undefined && c.length <= NVARCHAR_LIMIT ? c.length : undefined);
      const hint =
        cap !== undefined
          ? `${e.name}.${c.name} is in an index (a key, a unique column or a foreign key), and SQL Server indexes at most ${INDEX_KEY_BYTES} bytes, so it is nvarchar(${cap}): shorten the value, or load it into another store.`
          : `SQL Server counts nvarchar(n) in UTF-16 code units, and characters beyond U+FFFF (emoji) take two: widen ${e.name}.${c.name} in the target (nvarchar(${Math.min((units ?? 0) * 2, NVARCHAR_LIMIT)})) or shorten the value.`;
      return (v) => {
        const s = typeof v === 'string' ? v : String(v);
        // The model counts characters, nvarchar(n) counts UTF-16 code units: a character beyond
        // U+FFFF (an emoji) takes two. Stop here, plainly, rather than with a truncation error.
        if (units !== undefined && s.length > units) {
          throw new StoreError(`${e.name}.${c.name}: a value of ${[...s].length} characters takes ${s.length} UTF-16 code units, more than nvarchar(${units}) holds`, { code: 'store.value', hint });
        }
        return s;
      };
    }
    case 'decimal':
      // Exact text, as staged; a bigint (an integral decimal SQLite kept as INTEGER) prints exactly.
      return (v) => (typeof v === 'string' ? v : String(v));
    case 'integer':
      return (v) => (typeof v === 'bigint' ? v : BigInt(v as number | string));
    case 'boolean':
      return (v) => Number(v) !== 0;
    // Validation refuses such years; a bundle may still hold one (SQLite and MySQL keep a date in
    // year 0000), which SQL Server would refuse with a bare "Out of range.", naming nothing.
    case 'date':
      return (v) => inYears(e, c, dateValue(String(v)));
    case 'timestamp':
      return (v) => inYears(e, c, timestampValue(String(v)));
  }
}

/** An instant SQL Server's date and datetimeoffset hold: the years 0001 to 9999. */
function inYears(e: Entity, c: Column, d: UtcInstant): UtcInstant {
  const y = d.getUTCFullYear();
  if (y >= 1 && y <= 9999) return d;
  throw new StoreError(`${e.name}.${c.name}: a ${c.type} outside the years 0001 to 9999, which SQL Server does not hold`, {
    code: 'store.value',
    hint: `Correct the ${c.type} in the bundle's source (or make it empty), or load it into another store.`,
  });
}

/** An sql.Table for one chunk of converted rows, bound for the entity's #temp table. */
export function mssqlBulkTable(e: Entity, rows: unknown[][]): sql.Table {
  const table = new sql.Table(tempTable(e.name));
  table.create = false;
  // mssql wants the name as it stands between brackets, `]` doubled (tedious writes `[name]`).
  for (const c of mssqlBulkColumns(e)) table.columns.add(c.name.replace(/]/g, ']]'), c.type, { nullable: true });
  for (const r of rows) (table.rows as unknown[][]).push(r);
  return table;
}

/** Staged rows converted and grouped in chunks of `size`: never more than one chunk in memory. */
export function* chunks(rows: Iterable<readonly unknown[]>, convert: (row: readonly unknown[]) => unknown[], size = BULK_CHUNK): Generator<unknown[][]> {
  let chunk: unknown[][] = [];
  for (const r of rows) {
    chunk.push(convert(r));
    if (chunk.length === size) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

// ---------------------------------------------------------------------------------------------
// From #temp into the table

/** A #temp column (of the table aliased `from`, if given) as the table's type: decimals are CAST from their text, exactly. */
function fromTemp(c: Column, from = ''): string {
  return c.type === 'decimal' ? `CAST(${from}${qi(c.name)} AS ${decimalType(c)})` : `${from}${qi(c.name)}`;
}

/** append, replace (after the DELETE) and incremental: every #temp row into the table. */
export function mssqlInsertSelect(e: Entity, output?: string): string {
  const cols = e.columns.map((c) => qi(c.name)).join(', ');
  return `INSERT INTO ${tableRef(e.name)} (${cols})\n${output ? `${output}\n` : ''}SELECT ${e.columns.map((c) => fromTemp(c)).join(', ')}\nFROM ${qi(tempTable(e.name))}`;
}

/**
 * upsert: MERGE on the primary key, HOLDLOCK so no other session slips a row in between the
 * match and the insert. A row matching the key updates the columns the load provides
 * (`provided`, default every one: upsert-common.ts); a new row gets every column.
 */
export function mssqlMerge(e: Entity, provided?: readonly string[], output?: string): string {
  const cols = e.columns.map((c) => qi(c.name));
  const source = e.columns.map((c) => (c.type === 'decimal' ? `${fromTemp(c)} AS ${qi(c.name)}` : qi(c.name))).join(', ');
  const on = e.primaryKey.map((k) => `t.${qi(k)} = s.${qi(k)}`).join(' AND ');
  const set = upsertSetNames({ entity: e, provided })
    .map((n) => `t.${qi(n)} = s.${qi(n)}`)
    .join(', ');
  return [
    `MERGE INTO ${tableRef(e.name)} WITH (HOLDLOCK) AS t`,
    `USING (SELECT ${source} FROM ${qi(tempTable(e.name))}) AS s`,
    `ON ${on}`,
    `WHEN MATCHED THEN UPDATE SET ${set}`,
    `WHEN NOT MATCHED BY TARGET THEN INSERT (${cols.join(', ')}) VALUES (${cols.map((c) => `s.${c}`).join(', ')})${output ? `\n${output}` : ''};`,
  ].join('\n');
}

/**
 * upsert: the first #temp key that the table's collation matches to a different key (trailing
 * spaces, letter case), which MERGE would update (loose-keys.ts); null for keys of no text. The
 * rows are matched as MERGE matches them (a decimal by its value, CAST from the #temp's text);
 * bytes are compared for the text columns only, since only text has a collation: a decimal's
 * bytes never equal those of its text, nor an int's those of a bigint.
 */
export function mssqlLooseKeyMatch(e: Entity): string | null {
  const keys = collatedKeyColumns(e);
  if (keys.length === 0) return null;
  const on = keys.map((c) => `t.${qi(c.name)} = ${fromTemp(c, 's.')}`).join(' AND ');
  const same = keys
    .filter(isText)
    .map((c) => `CAST(t.${qi(c.name)} AS varbinary(max)) = CAST(s.${qi(c.name)} AS varbinary(max))`)
    .join(' AND ');
  // The target's decimal as its exact text, as the file's is.
  const target = (c: Column): string => (c.type === 'decimal' ? `CONVERT(nvarchar(${DECIMAL_TEXT_LENGTH}), t.${qi(c.name)})` : `t.${qi(c.name)}`);
  const shown = keys.flatMap((c, i) => [`s.${qi(c.name)} AS [s${i}]`, `${target(c)} AS [t${i}]`]).join(', ');
  return `SELECT TOP 1 ${shown} FROM ${qi(tempTable(e.name))} AS s JOIN ${tableRef(e.name)} AS t ON ${on} WHERE NOT (${same})`;
}

/** Where the load statement's OUTPUT puts a row for each row it writes. */
const WRITTEN = '@fl_written';

/**
 * The batch that moves an entity's #temp rows into its table, by load mode, and counts the rows
 * that statement wrote: its OUTPUT writes a row into a table variable for each, and the batch
 * ends with their count. The count the server reports after each statement would not do: a
 * trigger on an existing table (an audit trigger without SET NOCOUNT ON) adds the counts of its
 * own statements, and the check against the rows sent would then fail for every load.
 */
export function mssqlLoadStatement(l: Pick<EntityLoad, 'entity' | 'mode' | 'provided'>): string {
  const output = `OUTPUT 1 INTO ${WRITTEN} ([w])`;
  const statement = l.mode === 'upsert' ? mssqlMerge(l.entity, l.provided, output) : `${mssqlInsertSelect(l.entity, output)};`;
  return `DECLARE ${WRITTEN} TABLE ([w] bit NOT NULL);\n${statement}\nSELECT COUNT_BIG(*) AS [n] FROM ${WRITTEN};`;
}

// ---------------------------------------------------------------------------------------------
// forklift_runs

export interface Param {
  name: string;
  type: sql.ISqlType;
  value: unknown;
}

export function mssqlRunInsert(e: RunEntry, link?: ChainLink): { sql: string; params: Param[] } {
  const params: Param[] = [
    { name: 'id', type: sql.NVarChar(128), value: e.id },
    { name: 'command', type: sql.NVarChar(32), value: e.command },
    { name: 'status', type: sql.NVarChar(16), value: e.status },
    { name: 'started', type: sql.DateTimeOffset(3), value: timestampValue(e.started) },
    { name: 'finished', type: sql.DateTimeOffset(3), value: timestampValue(e.finished) },
    { name: 'operator', type: sql.NVarChar(sql.MAX), value: e.operator },
    { name: 'host', type: sql.NVarChar(255), value: e.host },
    { name: 'tool_version', type: sql.NVarChar(64), value: e.tool_version },
    { name: 'plan_sha256', type: sql.NVarChar(64), value: e.plan_sha256 },
    { name: 'files', type: sql.NVarChar(sql.MAX), value: JSON.stringify(e.files) },
    { name: 'counts', type: sql.NVarChar(sql.MAX), value: JSON.stringify(e.counts) },
    { name: 'message', type: sql.NVarChar(sql.MAX), value: e.message },
    ...(link
      ? [
          { name: 'seq', type: sql.BigInt(), value: link.seq },
          { name: 'prev_hash', type: sql.NVarChar(64), value: link.prev_hash },
          { name: 'entry_hash', type: sql.NVarChar(64), value: link.entry_hash },
          { name: 'signature', type: sql.NVarChar(255), value: link.signature },
        ]
      : []),
  ];
  return {
    sql: `INSERT INTO [dbo].[forklift_runs] (${params.map((p) => qi(p.name)).join(', ')}) VALUES (${params.map((p) => `@${p.name}`).join(', ')})`,
    params,
  };
}

// ---------------------------------------------------------------------------------------------
// Reading back

/** The SELECT expression for a column read back: decimals as their exact text. */
export function mssqlReadExpression(column: string, dataType: string): string {
  return /^(decimal|numeric|money|smallmoney)$/i.test(dataType) ? `CONVERT(nvarchar(${DECIMAL_TEXT_LENGTH}), ${qi(column)})` : qi(column);
}

/** A value read back in the form forklift stages it (coerce.ts): numbers, 1/0, ISO text. */
export function fromMssqlValue(dataType: string, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (dataType.toLowerCase()) {
    case 'bigint':
    case 'int':
    case 'smallint':
    case 'tinyint': {
      const n = Number(v);
      return Number.isSafeInteger(n) ? n : String(v);
    }
    case 'bit':
      return v === true || Number(v) === 1 ? 1 : 0;
    case 'date':
      return v instanceof Date ? v.toISOString().slice(0, 10) : v;
    case 'datetimeoffset':
    case 'datetime2':
    case 'datetime':
    case 'smalldatetime':
      return v instanceof Date ? v.toISOString() : v;
    default:
      return v;
  }
}

// ---------------------------------------------------------------------------------------------
// URL and errors

const BOOL = new Map([
  ['true', true],
  ['1', true],
  ['yes', true],
  ['false', false],
  ['0', false],
  ['no', false],
]);
const URL_OPTIONS = ['encrypt', 'trustServerCertificate', 'instanceName', 'domain', 'connectTimeout', 'requestTimeout'];
/** Per statement: a 1M-row INSERT … SELECT or MERGE runs longer than mssql's default 15 s. */
const DEFAULT_REQUEST_TIMEOUT = 15 * 60_000;

function urlProblem(url: string, what: string): ConfigError {
  return new ConfigError(`${redactUrl(url)}: ${what}`, {
    code: 'store.url',
    hint: `Write a SQL Server target as mssql://user:password@host:port/database?encrypt=true&trustServerCertificate=false (options: ${URL_OPTIONS.join(', ')}).`,
  });
}

/** mssql://user:pass@host:port/database?encrypt=…&trustServerCertificate=… as an mssql config. */
export function mssqlConfig(url: string): sql.config {
  checkServerUrl(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw urlProblem(url, 'is not a valid URL');
  }
  if (!/^(mssql|sqlserver):$/.test(u.protocol)) throw urlProblem(url, 'is not an mssql:// or sqlserver:// URL');
  const server = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (server === '') throw urlProblem(url, 'names no host');
  const database = decodeUrlPart(u.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) throw urlProblem(url, 'names no database (mssql://user:password@host:port/database)');
  const options: sql.IOptions = { encrypt: true, trustServerCertificate: false, useUTC: true, appName: 'forklift' };
  const config: sql.config = { server, database, options, requestTimeout: DEFAULT_REQUEST_TIMEOUT, connectionTimeout: 15_000, pool: { min: 0, max: 2 } };
  if (u.port !== '') config.port = Number(u.port);
  if (u.username !== '') config.user = decodeUrlPart(u.username);
  if (u.password !== '') config.password = decodeUrlPart(u.password);
  const bool = (k: string, v: string): boolean => {
    const b = BOOL.get(v.toLowerCase());
    if (b === undefined) throw urlProblem(url, `${k}=${v} is not true or false`);
    return b;
  };
  const ms = (k: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw urlProblem(url, `${k}=${v} is not a number of milliseconds`);
    return n;
  };
  for (const [k, v] of u.searchParams) {
    if (k === 'encrypt') options.encrypt = v.toLowerCase() === 'strict' ? 'strict' : bool(k, v);
    else if (k === 'trustServerCertificate') options.trustServerCertificate = bool(k, v);
    else if (k === 'instanceName') options.instanceName = v;
    // A Windows login (NTLM) of that domain, as the mssql:// source takes it.
    else if (k === 'domain') config.domain = v;
    else if (k === 'connectTimeout') config.connectionTimeout = ms(k, v);
    else if (k === 'requestTimeout') config.requestTimeout = ms(k, v);
    else throw urlProblem(url, `unknown option '${k}'`);
  }
  return config;
}

/**
 * A SQL Server message without the row values some of them quote (the duplicate key, a truncated
 * value, a value that failed a conversion) and without the password: SPEC section 1.
 */
export function scrubMssqlMessage(message: string, secrets: readonly string[] = []): string {
  const m = message
    .replace(/\s*The duplicate key value is \(.*\)\.?/gs, '')
    .replace(/\s*Truncated value: '.*'\.?/gs, '')
    .replace(/the (\w+) value '.*' to data type/gs, 'the $1 value to data type');
  return scrubSecrets(m, secrets).trim();
}

interface MssqlErrorLike {
  message?: string;
  code?: string;
  number?: number;
  precedingErrors?: MssqlErrorLike[];
  originalError?: MssqlErrorLike;
}

/** The error that says what happened: not "The statement has been terminated." (3621) after it. */
function rootError(e: MssqlErrorLike): MssqlErrorLike {
  const all = [...(e.precedingErrors ?? []), e];
  return all.find((x) => x.number !== undefined && x.number !== 3621) ?? e;
}

/**
 * A message and a hint a user can act on, for any error the mssql package raises. `urlName`: how
 * a hint names the URL the user gave (a target's, or a source's).
 */
export function describeMssqlError(e: unknown, secrets: readonly string[] = [], urlName = TARGET_URL): { message: string; hint: string } {
  const err = (typeof e === 'object' && e !== null ? e : { message: String(e) }) as MssqlErrorLike;
  const root = rootError(err);
  const message = scrubMssqlMessage(root.message ?? String(e), secrets);
  const code = root.code ?? err.code;
  const inner = root.originalError?.message ?? '';
  let hint = 'Check that the target is reachable and writable.';
  switch (root.number) {
    case 2627:
    case 2601:
      hint = `${UNIQUE_CLASH_HINT} Tables forklift creates compare text exactly, but one made by hand or by an earlier forklift may compare it without regard to case (the database's collation), so keys that differ only in case collide there.`;
      break;
    case 547:
      hint = /FOREIGN KEY|REFERENCE/i.test(message)
        ? 'Rows in the target that this run does not load still reference rows it replaces, or a row references one the target does not hold: load those entities too, or use load: append.'
        : 'A value breaks a CHECK constraint of the existing table: compare the table with the model.';
      break;
    case 2628:
    case 8152:
      hint = 'A column of the existing table is narrower than the model: compare the table with the model.';
      break;
    case 4060:
      hint = 'The database does not exist or this login may not open it: create it first, or fix the database name in the URL.';
      break;
    case 18456:
      hint = `Check the user and password in ${urlName}; the password is never shown.`;
      break;
    case 229:
    case 262:
    case 1088:
      hint = 'The login lacks a permission: it needs CREATE TABLE and SELECT, INSERT, UPDATE and DELETE on the dbo schema.';
      break;
    case 1205:
      hint = 'Another session held locks on these tables (deadlock): nothing was committed; run the same command again.';
      break;
    default:
      if (/Cannot open database/i.test(message)) hint = 'The database does not exist or this login may not open it: create it first, or fix the database name in the URL.';
      else if (code === 'ELOGIN') hint = `Check the user and password in ${urlName}; the password is never shown.`;
      else if (/certificate/i.test(message + inner)) hint = 'The server\'s TLS certificate is not trusted: install its CA, or add trustServerCertificate=true to the URL for a server you trust.';
      else if (code === 'ESOCKET' || code === 'ETIMEOUT' || code === 'EINSTLOOKUP') hint = 'Check that SQL Server runs and accepts TCP connections at the host and port of the URL (and the encrypt option the server expects).';
  }
  const extra = inner && !message.includes(inner) && code !== 'EREQUEST' ? ` (${scrubMssqlMessage(inner, secrets)})` : '';
  return { message: message + extra, hint };
}


// ---------------------------------------------------------------------------------------------
// The load, over one session

/** What a load does on its one connection: the only calls that reach the server. */
export interface MssqlSession {
  /** A T-SQL batch (execSqlBatch: #temp tables it creates live on in the session); returns rows affected. */
  batch(text: string): Promise<number>;
  /** A T-SQL batch whose last result set is one row with a count `n`; returns that count. */
  count(text: string): Promise<number>;
  /** A bulk load of one chunk; returns rows loaded. */
  bulk(table: sql.Table): Promise<number>;
  /** A parameterized statement; returns rows affected. */
  query(text: string, params: readonly Param[]): Promise<number>;
  /** A query's rows (the ledger head, a table's columns); absent in sessions that only write. */
  select?(text: string, params?: readonly Param[]): Promise<Record<string, unknown>[]>;
}

/** Bulk load options: KEEP_NULLS, so a NULL stays NULL (a #temp column has no default anyway). */
export const BULK_OPTIONS: sql.IBulkOptions = { keepNulls: true };

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/**
 * A session on an mssql Transaction (or anything requests can run on: tests pass a fake).
 * `cancel` stops the request running now (Ctrl-C: an ATTENTION to the server), which fails it.
 */
export function sessionOf(parent: sql.Transaction): MssqlSession & { cancel(): void } {
  let current: sql.Request | undefined;
  const request = (): sql.Request => (current = new sql.Request(parent));
  return {
    batch: async (text) => sum((await request().batch(text)).rowsAffected),
    count: async (text) => {
      // The last result set: a trigger may return result sets of its own before it.
      const sets = ((await request().batch(text)).recordsets ?? []) as unknown as Record<string, unknown>[][];
      const n = sets[sets.length - 1]?.[0]?.n;
      if (n === undefined || n === null) throw new BugError('a counted batch returned no count');
      return Number(n);
    },
    bulk: async (table) => (await request().bulk(table, BULK_OPTIONS)).rowsAffected,
    query: async (text, params) => {
      const r = request();
      for (const p of params) r.input(p.name, p.type, p.value);
      return sum((await r.query(text)).rowsAffected);
    },
    select: async (text, params = []) => {
      const r = request();
      for (const p of params) r.input(p.name, p.type, p.value);
      return (await r.query<Record<string, unknown>>(text)).recordset;
    },
    cancel: () => current?.cancel(),
  };
}

/**
 * Everything a load sends, in order, inside the caller's transaction: XACT_ABORT ON, the tables,
 * the replace-mode DELETEs (children first), per entity the #temp table, its rows chunk by chunk,
 * the INSERT … SELECT or MERGE and a count check, then the forklift_runs entry.
 */
export async function loadInSession(s: MssqlSession, staging: Database.Database, req: LoadRequest, onLink?: (link: ChainLink) => void, onClash?: (l: EntityLoad) => void): Promise<Map<string, number>> {
  const loaded = new Map<string, number>();
  await s.batch('SET XACT_ABORT ON');
  const collations = await prepareInSession(s, req);
  for (const l of req.entities) {
    req.signal?.throwIfAborted();
    const n = await moveRows(s, staging, l, collations.get(l.entity.name), req.signal).catch((e: unknown) => {
      // A key the table already holds: named after the rollback (XACT_ABORT has doomed this transaction).
      if (mayMeetHeldKeys(l) && DUPLICATE_KEY.has(rootError((e ?? {}) as MssqlErrorLike).number ?? 0)) onClash?.(l);
      throw e;
    });
    if (n !== l.expected) throw new BugError(`${l.entity.name}: inserted ${n} rows, expected ${l.expected}`);
    loaded.set(l.entity.name, n);
  }
  const link = await recordRunInSession(s, req.entry);
  onLink?.(link);
  return loaded;
}

/** Violation of a PRIMARY KEY or UNIQUE constraint, and a duplicate in a unique index. */
const DUPLICATE_KEY = new Set([2627, 2601]);

/** Staged keys a lookup sends at once: SQL Server takes at most 2100 parameters a request. */
const KEY_PARAMS = 2000;

/** Whether the table holds any of `rows` keys, given as @k<row>_<column> (key-clash.ts). */
export function mssqlHeldKeysSql(e: Entity, rows: number): string {
  return `SELECT TOP 1 1 AS n FROM ${tableRef(e.name)} WHERE ${keysCondition(e.primaryKey, rows, qi, (r, i) => `@k${r}_${i}`)}`;
}

/**
 * SQL Server's duplicate key message names the constraint and the key's values (which forklift
 * scrubs: scrubMssqlMessage) but no source line: the staged keys are looked up in the table
 * (key-clash.ts), in a session the caller opened after the load was rolled back. Each value goes
 * as nvarchar, which SQL Server converts to the column's type (a string column keeps its index).
 */
export function mssqlHeldKey(s: MssqlSession, staging: Database.Database, l: EntityLoad): Promise<HeldKey | undefined> {
  const select = s.select;
  if (!select) throw new BugError('a key lookup needs a session that reads');
  const width = Math.max(1, l.entity.primaryKey.length);
  return firstHeldKey(
    staging,
    l,
    async (keys) => {
      const params = keys.flatMap((k, r) => k.map((v, i): Param => ({ name: `k${r}_${i}`, type: sql.NVarChar(4000), value: v === null ? null : String(v) })));
      return (await select(mssqlHeldKeysSql(l.entity, keys.length), params)).length > 0;
    },
    Math.floor(KEY_PARAMS / width),
  );
}

/**
 * A dry run's statements, inside the caller's transaction, which the caller rolls back: what a
 * load sends, with XACT_ABORT OFF (a refused statement then ends only itself, so a savepoint can
 * undo its batch) and the rows moved a range at a time under savepoints, narrowed to the rows
 * the table refuses; no forklift_runs entry.
 */
export async function rehearseInSession(s: MssqlSession, staging: Database.Database, req: RehearsalRequest): Promise<Refusal[]> {
  await s.batch('SET XACT_ABORT OFF');
  const collations = await prepareInSession(s, req);
  return loadNarrowing(
    {
      savepoint: async (name) => void (await s.batch(`SAVE TRANSACTION ${name}`)),
      rollbackTo: async (name) => void (await s.batch(`ROLLBACK TRANSACTION ${name}`)),
      // SQL Server has no RELEASE: a savepoint lives until the transaction ends.
      release: async () => {},
      loadRange: async (l, range) => void (await moveRows(s, staging, l, collations.get(l.entity.name), req.signal, range)),
      describe: (e) => describeMssqlError(e).message,
    },
    staging,
    req.entities,
    req.signal,
  );
}

/**
 * The ledger, the run's tables and every table they reference, what each table is, and replace's
 * DELETEs (children first). Returns the collations of each table's text columns, as it was found
 * or made.
 */
async function prepareInSession(s: MssqlSession, req: Pick<LoadRequest, 'model' | 'entities'>): Promise<Map<string, Collations>> {
  // The run's tables and every table they reference, so foreign keys have a table to point at.
  const tables = referencedClosure(req);
  const found = new Map<string, MssqlColumnRow[]>();
  for (const e of tables) {
    const rows = s.select ? ((await s.select(mssqlColumnsSql(true), [{ name: 't', type: sql.NVarChar(128), value: e.name }])) as unknown as MssqlColumnRow[]) : [];
    if (rows.length) found.set(e.name, rows);
  }
  for (const l of req.entities) checkTableShape(l.entity, found.get(l.entity.name));
  await s.batch(MSSQL_RUNS_DDL);
  const collations = new Map<string, Collations>();
  for (const entity of tables) {
    const rows = found.get(entity.name);
    const co = rows ? new Map(rows.flatMap((r) => (r.co ? [[r.c, r.co] as const] : []))) : mssqlNewTableCollations(entity, (t, c) => collations.get(t)?.get(c));
    collations.set(entity.name, co);
    await s.batch(mssqlCreateTable(entity, co));
  }
  // What each table is, in the model's own words, for describeTables (export, diff).
  await s.batch(MSSQL_TABLES_DDL);
  for (const entity of tables) await s.query(MSSQL_TABLES_MERGE, mssqlTableRecordParams(entity));
  // Replace empties the run's tables children first, so foreign keys hold at every step.
  for (const l of [...req.entities].reverse()) if (l.mode === 'replace') await s.batch(mssqlDeleteAll(l.entity));
  return collations;
}

/** Where an existing table cannot hold the model's values exactly; the store names itself in the StoreError (shapeError). */
export class TableShapeProblem extends Error {
  constructor(
    readonly table: string,
    readonly mismatches: ShapeMismatch[],
  ) {
    super(`the existing table ${table} does not match the model`);
    this.name = 'TableShapeProblem';
  }
}

/**
 * SQL Server's rule (table-shape.ts) adds one of its own: varchar, char and text hold a code page,
 * not Unicode, so a character outside it would be stored as '?' without an error.
 */
function mssqlHoldsExactly(model: Column, native: Parameters<typeof holdsExactly>[1]): boolean {
  if (native.kind === 'text' && /^(varchar|char|text)$/.test(native.nativeType)) return false;
  return holdsExactly(model, native);
}

/** An existing table the entity loads into (its catalog `rows`) must hold the model's values exactly; a new one is made so. */
function checkTableShape(entity: Entity, rows: readonly MssqlColumnRow[] | undefined): void {
  if (rows === undefined) return;
  const mismatches = shapeMismatches(mssqlStoredEntity(entity), mssqlTables([{ t: entity.name, d: null }], rows, [], [])[0]!, (c) => mssqlColumnTypeIn(entity, c), mssqlHoldsExactly);
  const declared = new Map(rows.map((r) => [r.c, mssqlDeclaredType(r)]));
  if (mismatches.length) throw new TableShapeProblem(entity.name, mismatches.map((m) => (m.found === undefined ? m : { ...m, found: declared.get(m.column) ?? m.found })));
}

/** A column's type as its CREATE TABLE would say it, from the catalog row: nvarchar(32), decimal(18, 2), datetime2(7). */
function mssqlDeclaredType(r: MssqlColumnRow): string {
  const ty = (r.ty ?? 'unknown').toLowerCase();
  if (/^n?(var)?char$/.test(ty)) return `${ty}(${r.len === -1 ? 'max' : ty.startsWith('n') ? r.len / 2 : r.len})`;
  if (ty === 'decimal' || ty === 'numeric') return `${ty}(${r.p}, ${r.s})`;
  if (ty === 'datetime2' || ty === 'datetimeoffset' || ty === 'time') return `${ty}(${r.s})`;
  return ty;
}

/** One entity's staged rows (or a range of them) through its #temp table into the table; returns rows written. */
async function moveRows(s: MssqlSession, staging: Database.Database, l: EntityLoad, collations: Collations | undefined, signal: AbortSignal | undefined, range?: SeqRange): Promise<number> {
  await s.batch(mssqlCreateTempTable(l.entity, collations));
  let sent = 0;
  for (const rows of chunks(stagedRows(staging, l, { range, safeIntegers: true }), mssqlRowConverter(l.entity))) {
    signal?.throwIfAborted();
    sent += await s.bulk(mssqlBulkTable(l.entity, rows));
  }
  if (!range && sent !== l.expected) throw new BugError(`${l.entity.name}: bulk loaded ${sent} rows, expected ${l.expected}`);
  signal?.throwIfAborted();
  const loose = l.mode === 'upsert' ? mssqlLooseKeyMatch(l.entity) : null;
  if (loose !== null && s.select) {
    const hit = (await s.select(loose))[0];
    if (hit) throw looseKeyError('', l.entity, collatedKeyColumns(l.entity), hit, String);
  }
  const n = await s.count(mssqlLoadStatement(l));
  await s.batch(mssqlDropTempTable(l.entity));
  return n;
}

export async function recordRunInSession(s: MssqlSession, entry: RunEntry): Promise<ChainLink> {
  await s.batch(MSSQL_RUNS_DDL);
  await s.batch(MSSQL_RUNS_CHAIN_DDL);
  await s.batch(MSSQL_RUNS_LOCK);
  const head = (await s.select?.('SELECT TOP 1 [seq], [entry_hash] FROM [dbo].[forklift_runs] WHERE [seq] IS NOT NULL ORDER BY [seq] DESC')) ?? [];
  const link = nextLink(entry, head[0] as { seq: unknown; entry_hash: unknown } | undefined);
  const ins = mssqlRunInsert(entry, link);
  await s.query(ins.sql, ins.params);
  return link;
}

// ---------------------------------------------------------------------------------------------
// The store

export class MssqlStore implements TargetStore {
  readonly kind = 'mssql' as const;
  readonly keysIgnoreTrailingSpaces = true;
  ledgerHead: string | null = null;
  readonly display: string;
  private readonly config: sql.config;
  private readonly secrets: string[];
  private pool: Promise<sql.ConnectionPool> | undefined;

  constructor(
    url: string,
    /** How hints name the URL (TARGET_URL, or a source's). */
    private readonly urlName = TARGET_URL,
  ) {
    this.display = redactUrl(url);
    this.secrets = urlSecrets(url);
    this.config = mssqlConfig(url);
  }

  private connect(): Promise<sql.ConnectionPool> {
    if (!this.pool) {
      const pool = new sql.ConnectionPool(this.config);
      // A connection lost while idle is reported on the next request; not a crash.
      pool.on('error', () => {});
      this.pool = pool.connect().catch((e: unknown) => {
        this.pool = undefined;
        throw this.storeError(e, 'store.connect');
      });
    }
    return this.pool;
  }

  async hasTable(name: string): Promise<boolean> {
    const pool = await this.connect();
    try {
      const res = await pool.request().input('name', sql.NVarChar(300), tableRef(name)).query<{ found: number }>(`SELECT CASE WHEN OBJECT_ID(@name, N'U') IS NULL THEN 0 ELSE 1 END AS found`);
      return res.recordset[0]?.found === 1;
    } catch (e) {
      throw this.storeError(e, 'store.connect');
    }
  }

  async *readColumn(table: string, column: string): AsyncIterable<unknown[]> {
    const pool = await this.connect();
    let dataType: string | undefined;
    try {
      const res = await pool
        .request()
        .input('s', sql.NVarChar(128), SCHEMA)
        .input('t', sql.NVarChar(128), table)
        .input('c', sql.NVarChar(128), column)
        .query<{ t: string }>('SELECT DATA_TYPE AS t FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = @s AND TABLE_NAME = @t AND COLUMN_NAME = @c');
      dataType = res.recordset[0]?.t;
    } catch (e) {
      throw this.storeError(e, 'store.read');
    }
    if (dataType === undefined) throw new StoreError(`${this.display}: table ${table} has no column ${column}`, { code: 'store.read', hint: 'The target table does not match the model: compare it with the model.' });
    const request = pool.request();
    // Streamed with backpressure (the request pauses while the stream is full): never the whole
    // column in memory. In stream mode the query's promise settles without an error; errors come
    // through the stream.
    const stream = request.toReadableStream({ highWaterMark: READ_BATCH });
    void request.query(`SELECT DISTINCT ${mssqlReadExpression(column, dataType)} AS v FROM ${tableRef(table)} WHERE ${qi(column)} IS NOT NULL`);
    let batch: unknown[] = [];
    try {
      for await (const row of stream as AsyncIterable<{ v: unknown }>) {
        batch.push(fromMssqlValue(dataType, row.v));
        if (batch.length === READ_BATCH) {
          yield batch;
          batch = [];
        }
      }
    } catch (e) {
      throw this.storeError(e, 'store.read');
    } finally {
      stream.destroy();
    }
    if (batch.length > 0) yield batch;
  }

  async maxPerGroup(table: string, groupBy: readonly string[], column: string): Promise<unknown[][]> {
    const pool = await this.connect();
    const names = [...groupBy, column];
    try {
      const res = await pool.request().input('s', sql.NVarChar(128), SCHEMA).input('t', sql.NVarChar(128), table).query<{ c: string; t: string }>('SELECT COLUMN_NAME AS c, DATA_TYPE AS t FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = @s AND TABLE_NAME = @t');
      const types = new Map(res.recordset.map((r) => [r.c, r.t]));
      const missing = names.find((n) => !types.has(n));
      if (missing !== undefined) throw new StoreError(`${this.display}: table ${table} has no column ${missing}`, { code: 'store.read', hint: 'The target table does not match the model: compare it with the model.' });
      const g = groupBy.map(qi);
      const inner = `SELECT ${[...g, `MAX(${qi(column)}) AS ${qi(column)}`].join(', ')} FROM ${tableRef(table)}${g.length ? ` GROUP BY ${g.join(', ')}` : ''}`;
      const out = await pool.request().query<Record<string, unknown>>(`SELECT ${names.map((n, i) => `${mssqlReadExpression(n, types.get(n)!)} AS c${i}`).join(', ')} FROM (${inner}) s WHERE ${qi(column)} IS NOT NULL`);
      return out.recordset.map((row) => names.map((n, i) => fromMssqlValue(types.get(n)!, row[`c${i}`])));
    } catch (e) {
      throw this.storeError(e, 'store.read');
    }
  }

  async load(req: LoadRequest): Promise<Map<string, number>> {
    checkNameLengths(this.display, referencedClosure(req), MSSQL_NAME_LIMIT);
    let link: ChainLink | undefined;
    let clashed: EntityLoad | undefined;
    try {
      const loaded = await this.inTransaction(req, 'commit', (s, staging) => loadInSession(s, staging, req, (l) => (link = l), (l) => (clashed = l)));
      this.ledgerHead = link?.entry_hash ?? this.ledgerHead;
      return loaded;
    } catch (e) {
      if (clashed && !req.signal?.aborted) throw await this.namedKeyClash(req.stagingFile, clashed, e);
      throw e;
    }
  }

  /** The key a load met in its table, with its source line, looked up in a read-only transaction of its own; the error as it was where none is found. */
  private async namedKeyClash(stagingFile: string, l: EntityLoad, e: unknown): Promise<unknown> {
    let staging: Database.Database | undefined;
    let tx: sql.Transaction | undefined;
    try {
      staging = new Database(stagingFile, { readonly: true, fileMustExist: true });
      tx = new sql.Transaction(await this.connect());
      await tx.begin();
      const hit = await mssqlHeldKey(sessionOf(tx), staging, l);
      return hit ? keyClashError(this.display, l, hit, e) : e;
    } catch {
      return e;
    } finally {
      if (tx) await tx.rollback().catch(() => {});
      staging?.close();
    }
  }

  async rehearse(req: RehearsalRequest): Promise<Refusal[]> {
    checkNameLengths(this.display, referencedClosure(req), MSSQL_NAME_LIMIT);
    // Always rolled back: a rehearsal leaves nothing.
    return this.inTransaction(req, 'rollback', (s, staging) => rehearseInSession(s, staging, req));
  }

  /**
   * fn in one transaction with the staging file open read-only, then committed or rolled back;
   * rolled back on any error. The signal cancels the request in flight (never the COMMIT).
   */
  private async inTransaction<T>(req: Pick<LoadRequest, 'stagingFile' | 'signal'>, end: 'commit' | 'rollback', fn: (s: MssqlSession, staging: Database.Database) => Promise<T>): Promise<T> {
    let staging: Database.Database | undefined;
    let tx: sql.Transaction | undefined;
    try {
      staging = new Database(req.stagingFile, { readonly: true, fileMustExist: true });
      tx = new sql.Transaction(await this.connect());
      await tx.begin();
      const session = sessionOf(tx);
      const db = staging;
      const out = await cancelOnAbort(req.signal, () => session.cancel(), () => fn(session, db));
      if (end === 'commit') await tx.commit();
      else await tx.rollback();
      return out;
    } catch (e) {
      // Rolling back a transaction the server already ended (XACT_ABORT) fails: nothing to undo then.
      if (tx) await tx.rollback().catch(() => {});
      throw this.storeError(req.signal?.aborted ? abortReason(req.signal) : e, 'store.load');
    } finally {
      staging?.close();
    }
  }

  async recordRun(entry: RunEntry): Promise<void> {
    let tx: sql.Transaction | undefined;
    try {
      tx = new sql.Transaction(await this.connect());
      await tx.begin();
      const link = await recordRunInSession(sessionOf(tx), entry);
      await tx.commit();
      this.ledgerHead = link.entry_hash;
    } catch (e) {
      if (tx) await tx.rollback().catch(() => {});
      throw this.storeError(e, 'store.load');
    }
  }
  async initLedger(_entryFor: (adopted: number) => RunEntry): Promise<{ adopted: number }> {
    // Not built for SQL Server yet (no server to test it against): the chain starts with the next run instead.
    throw new StoreError(`${this.display}: audit init is not available on SQL Server yet`, {
      code: 'audit.init-unsupported',
      hint: 'The audit chain starts with the next run that writes to this store (migrate, bundle import); entries from before it stay unchained.',
    });
  }


  async describeTables(): Promise<Entity[]> {
    const pool = await this.connect();
    try {
      return await mssqlDescribeInSession(readSessionOf(pool));
    } catch (e) {
      throw this.storeError(e, 'store.read');
    }
  }

  async foreignKeys(): Promise<StoreForeignKey[]> {
    const pool = await this.connect();
    try {
      return await mssqlForeignKeysInSession(readSessionOf(pool));
    } catch (e) {
      throw this.storeError(e, 'store.read');
    }
  }

  async tablesElsewhere(): Promise<SchemaTables[]> {
    const pool = await this.connect();
    try {
      const [rows = []] = await readSessionOf(pool).query(MSSQL_TABLES_ELSEWHERE_SQL, []);
      return bySchema(rows as { s: string; t: string }[]);
    } catch (e) {
      throw this.storeError(e, 'store.read');
    }
  }

  /** The rows of a table from one SELECT, streamed (mssql's request stream, rows as arrays). */
  async *readRows(table: Entity, opts: ReadRowsOptions = {}): AsyncIterable<unknown[][]> {
    yield* this.readIn(readSessionOf(await this.connect()), table, opts);
  }

  private async *readIn(s: MssqlReadSession, table: Entity, opts: ReadRowsOptions): AsyncIterable<unknown[][]> {
    // A purge's cut-off is not pushed down here; the SQL Server store has no deleteRows, so purge refuses it first.
    if (opts.where) throw new BugError('the SQL Server store reads no row range');
    try {
      yield* mssqlReadInSession(s, table, opts.signal);
    } catch (e) {
      if (e instanceof Error && e.name === 'AbortError') throw e;
      if (e instanceof MssqlReadProblem) {
        throw new StoreError(`${this.display}: ${e.message}`, {
          code: 'store.read',
          hint: e.what === 'table' ? 'Check the store URL and the table name (tables of the dbo schema are read).' : 'The table does not match the description asked for: describe the store again.',
        });
      }
      throw this.storeError(e, 'store.read');
    }
  }

  /**
   * One transaction on a connection of its own, held until close, in which every table is read
   * (beginMssqlSnapshot): at SNAPSHOT isolation where the database allows it, else holding a
   * shared lock on every dbo table from the start. Reads run one at a time on it.
   */
  async snapshot(opts: { signal?: AbortSignal | undefined } = {}): Promise<StoreSnapshot> {
    const pool = await this.connect();
    let tx: sql.Transaction;
    try {
      tx = (await beginMssqlSnapshot(mssqlSnapshotServer(pool), opts.signal)).tx;
    } catch (e) {
      if (e instanceof Error && e.name === 'AbortError') throw e;
      throw this.storeError(e, 'store.read');
    }
    const s = readSessionOf(tx);
    const fail = (e: unknown): Error => this.storeError(e, 'store.read');
    return {
      describeTables: () => mssqlDescribeInSession(s).catch((e: unknown) => Promise.reject(fail(e))),
      tablesElsewhere: async () => {
        try {
          const [rows = []] = await s.query(MSSQL_TABLES_ELSEWHERE_SQL, []);
          return bySchema(rows as { s: string; t: string }[]);
        } catch (e) {
          throw fail(e);
        }
      },
      readRows: (t, o = {}) => this.readIn(s, t, o),
      // The transaction changed nothing: rolled back, which releases its locks.
      close: async () => {
        await s.settle();
        await tx.rollback().catch(() => {});
      },
    };
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    if (!pool) return;
    const p = await pool.catch(() => undefined);
    await p?.close();
  }

  private storeError(e: unknown, code: string): Error {
    return mssqlStoreError(e, code, this.display, this.secrets, this.urlName);
  }
}

// ---------------------------------------------------------------------------------------------
// The snapshot of export, diff and exit

/** A transaction a snapshot reads in: its batches, and the rollback that ends it. */
export interface MssqlSnapshotTx {
  batch(text: string): Promise<Record<string, unknown>[][]>;
  rollback(): Promise<void>;
}

/** What opening a snapshot sends: queries on the pool, and transactions begun (tests pass a fake). */
export interface MssqlSnapshotServer<T extends MssqlSnapshotTx> {
  query(text: string): Promise<Record<string, unknown>[]>;
  begin(isolation: 'SNAPSHOT' | 'READ COMMITTED'): Promise<T>;
}

/** The snapshot server of a pool: transactions of mssql, each on a connection of its own. */
export function mssqlSnapshotServer(pool: sql.ConnectionPool): MssqlSnapshotServer<MssqlSnapshotTx & { tx: sql.Transaction }> {
  return {
    query: async (text) => (await pool.request().query<Record<string, unknown>>(text)).recordset,
    begin: async (isolation) => {
      const tx = new sql.Transaction(pool);
      await tx.begin(isolation === 'SNAPSHOT' ? sql.ISOLATION_LEVEL.SNAPSHOT : sql.ISOLATION_LEVEL.READ_COMMITTED);
      return {
        tx,
        batch: async (text) => ((await new sql.Request(tx).batch(text)).recordsets ?? []) as unknown as Record<string, unknown>[][],
        rollback: () => tx.rollback(),
      };
    },
  };
}

/** Lock errors a snapshot retries: a lock held elsewhere (NOWAIT, 1222), a table dropped since it was listed (208). */
const LOCK_RETRY = new Set([1222, 208]);

function onlyLockConflicts(e: unknown): boolean {
  const err = e as MssqlErrorLike;
  const all = [...(err.precedingErrors ?? []), err];
  return all.every((x) => x.number !== undefined && LOCK_RETRY.has(x.number));
}

/**
 * Begins the transaction an export, diff or exit reads the whole store in, so that a migrate
 * committed meanwhile is in what it reads whole or not at all (and a bundle holds no BOM line
 * whose item came after it). Where the database allows SNAPSHOT isolation, a SNAPSHOT transaction:
 * every read sees the data as of the first, and writers do not wait. Elsewhere, READ COMMITTED
 * holding a shared lock on every dbo table from the start: a load waits until the snapshot ends.
 * The locks are taken all at once with NOWAIT and tried again, all released in between, as the
 * PostgreSQL store does: a reader holding some while it waited for others could deadlock with a
 * load writing the same tables in another order. XACT_ABORT is off, so stopping a read early
 * (cancelling it) ends that read and not the transaction.
 */
export async function beginMssqlSnapshot<T extends MssqlSnapshotTx>(server: MssqlSnapshotServer<T>, signal?: AbortSignal): Promise<T & { isolation: 'SNAPSHOT' | 'table locks' }> {
  signal?.throwIfAborted();
  const state = Number((await server.query(MSSQL_SNAPSHOT_STATE_SQL))[0]?.s);
  if (state === 1) {
    const tx = await server.begin('SNAPSHOT');
    try {
      await tx.batch('SET XACT_ABORT OFF');
    } catch (e) {
      await tx.rollback().catch(() => {});
      throw e;
    }
    return Object.assign(tx, { isolation: 'SNAPSHOT' as const });
  }
  const names = (rows: readonly Record<string, unknown>[]): string[] => rows.map((r) => String(r.t));
  for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
    signal?.throwIfAborted();
    const listed = names(await server.query(MSSQL_DBO_TABLES_SQL));
    const tx = await server.begin('READ COMMITTED');
    try {
      await tx.batch(['SET XACT_ABORT OFF;', mssqlLockTablesSql(listed)].join('\n'));
      // A table made since it was listed holds no lock: everything is released and tried again.
      const seen = names((await tx.batch(MSSQL_DBO_TABLES_SQL))[0] ?? []);
      if (seen.join('\u0000') === listed.join('\u0000')) return Object.assign(tx, { isolation: 'table locks' as const });
    } catch (e) {
      if (!onlyLockConflicts(e)) {
        await tx.rollback().catch(() => {});
        throw e;
      }
    }
    await tx.rollback().catch(() => {});
    await sleep(wait, undefined, signal ? { signal } : {});
  }
}

/** Any failure as a StoreError with a hint; our own errors pass through. */
export function mssqlStoreError(e: unknown, code: string, display: string, secrets: readonly string[] = [], urlName = TARGET_URL): Error {
  if (e instanceof BugError || e instanceof StoreError || e instanceof ConfigError) return e;
  if (e instanceof TableShapeProblem) return shapeError(display, e.table, e.mismatches);
  const interrupted = interruptedLoadError(e, display);
  if (interrupted) return interrupted;
  const info = describeMssqlError(e, secrets, urlName);
  return new StoreError(`${display}: ${info.message}`, { code, hint: info.hint, cause: e });
}
