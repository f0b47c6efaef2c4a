import type { Column, Entity } from '../model/types.js';
import { q } from '../util/sql-name.js';
import { pgDate, pgTimestamp } from './pg-copy-text.js';
import { TARGET_URL } from './url.js';
import { TRIGGER_REFUSAL_HINT, UNIQUE_CLASH_HINT } from './key-clash.js';

/**
 * What PostgreSQL needs spelled out, as pure functions over the model: the column types, the
 * table DDL, the COPY text encoding of staged values, and a translation of server errors into a
 * message that names tables and constraints but never a row value. postgres.ts does the I/O.
 */

const lit = (s: string): string => `'${s.replace(/'/g, "''")}'`;

export function pgColumnType(c: Column): string {
  switch (c.type) {
    case 'string':
      return c.length === undefined ? 'varchar' : `varchar(${c.length})`;
    case 'text':
      return 'text';
    case 'integer':
      return 'bigint';
    case 'decimal':
      return c.precision === undefined ? 'numeric' : `numeric(${c.precision}, ${c.scale ?? 0})`;
    case 'boolean':
      return 'boolean';
    case 'date':
      return 'date';
    case 'timestamp':
      return 'timestamptz';
    case 'enum':
      return `text CHECK (${q(c.name)} IN (${(c.values ?? []).map(lit).join(', ')}))`;
  }
}

export function pgCreateTable(e: Entity): string {
  const cols = e.columns.map((c) => `${q(c.name)} ${pgColumnType(c)}${c.required || e.primaryKey.includes(c.name) ? ' NOT NULL' : ''}`);
  // A table without a key (a custom table made by hand, exported and imported) gets no PRIMARY KEY clause.
  const pk = e.primaryKey.length ? [`PRIMARY KEY (${e.primaryKey.map(q).join(', ')})`] : [];
  const uniques = e.columns.filter((c) => c.unique).map((c) => `UNIQUE (${q(c.name)})`);
  // Self references are left to validation, as in the SQLite store.
  const fks = e.columns
    .filter((c) => c.references && c.references.entity !== e.name)
    .map((c) => `FOREIGN KEY (${q(c.name)}) REFERENCES ${q(c.references!.entity)} (${q(c.references!.column)})`);
  return `CREATE TABLE IF NOT EXISTS ${q(e.name)} (\n  ${[...cols, ...pk, ...uniques, ...fks].join(',\n  ')}\n)`;
}

/**
 * The run ledger. started and finished are instants; files and counts are `json` (not `jsonb`),
 * which keeps the text exactly as written, so a hash over an entry can be recomputed from it.
 */
export const PG_RUNS_DDL = `CREATE TABLE IF NOT EXISTS forklift_runs (
  id text PRIMARY KEY,
  command text NOT NULL,
  status text NOT NULL,
  started timestamptz NOT NULL,
  finished timestamptz NOT NULL,
  operator text,
  host text,
  tool_version text,
  plan_sha256 text,
  files json,
  counts json,
  message text,
  seq bigint,
  prev_hash text,
  entry_hash text,
  signature text
)`;

export const PG_RUN_COLUMNS = ['id', 'command', 'status', 'started', 'finished', 'operator', 'host', 'tool_version', 'plan_sha256', 'files', 'counts', 'message', 'seq', 'prev_hash', 'entry_hash', 'signature'] as const;

// COPY text format: \N is NULL, an empty field is the empty string; these four need escaping.
const SPECIAL = /[\\\t\n\r]/;
const SPECIAL_ALL = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const escapeText = (s: string): string => (SPECIAL.test(s) ? s.replace(SPECIAL_ALL, (m) => ESCAPES[m]!) : s);

export type CopyEncoder = (v: unknown) => string;

/**
 * One encoder per column from its staged form (mapping/coerce.ts): text for strings, decimals,
 * dates and ISO timestamps (already canonical), numbers for integers, 1/0 for booleans.
 */
export function copyEncoder(c: Column): CopyEncoder {
  switch (c.type) {
    case 'boolean':
      return (v) => (v === null || v === undefined ? '\\N' : v === 1 ? 't' : v === 0 ? 'f' : escapeText(String(v)));
    case 'integer':
    case 'decimal':
    case 'date':
    case 'timestamp':
      return (v) => (v === null || v === undefined ? '\\N' : escapeText(String(v)));
    case 'string':
    case 'text':
    case 'enum':
      return (v) => (v === null || v === undefined ? '\\N' : typeof v === 'string' ? escapeText(v) : escapeText(String(v)));
  }
}

/** Lines of COPY text from rows as arrays, in chunks of about `chunkChars` characters. */
export function* copyTextChunks(rows: Iterable<unknown[]>, encoders: CopyEncoder[], chunkChars = 1 << 16): Generator<string> {
  let buf = '';
  const n = encoders.length;
  for (const row of rows) {
    let line = encoders[0]!(row[0]);
    for (let i = 1; i < n; i++) line += '\t' + encoders[i]!(row[i]);
    buf += line + '\n';
    if (buf.length >= chunkChars) {
      yield buf;
      buf = '';
    }
  }
  if (buf.length > 0) yield buf;
}

/**
 * The SQL expression that reads a column back as forklift stages it: ISO instants in UTC with
 * milliseconds, ISO dates, booleans as 1/0, decimals as their exact text; by the column's type
 * as the server reports it (format_type; a domain's base type, PG_BASE_TYPE_JOIN), so tables made by
 * hand read right too (a timestamp without time zone is taken as UTC, as readRows takes it; a
 * domain over date as a date, never as the text the session's DateStyle gives it).
 *
 * An instant with digits below the millisecond keeps them (`…:00.123456Z`), so it equals no staged
 * value, as it should. `floor` cuts them instead, for a maximum compared with staged instants
 * (a watermark): a staged instant, a whole millisecond, is at most the maximum exactly when it is
 * at most the maximum cut to milliseconds.
 *
 * `to_char` drops the era and prints infinity as '' (44 BC would read as AD 44), so a date or
 * instant outside the years 0001 to 9999 takes another branch, which `decode` turns into the form
 * readRows gives it (`-000043-03-15`, `+012000-01-01`, `infinity`): a value that equals no staged
 * one, never a wrong day. The test is two comparisons per row, in the same statement.
 */
export function pgReadExpression(column: string, pgType: string, instant: 'exact' | 'floor' = 'exact'): { sql: string; decode: (v: string) => string | number } {
  const c = q(column);
  const ts = /^timestamp(?:\(\d\))? with(out)? time zone$/.exec(pgType);
  if (ts) {
    const utc = ts[1] === undefined ? `(${c} AT TIME ZONE 'UTC')` : c;
    const ms = `to_char(${utc}, 'YYYY-MM-DD"T"HH24:MI:SS.MS')`;
    // US is the whole fraction in microseconds: its last three digits are those below the millisecond.
    const iso = instant === 'floor' ? `${ms} || 'Z'` : `${ms} || rtrim(substr(to_char(${utc}, 'US'), 4), '0') || 'Z'`;
    const far = `CASE WHEN NOT isfinite(${c}) THEN ${c}::text ELSE to_char(${utc}, 'YYYY-MM-DD HH24:MI:SS.US') || CASE WHEN ${utc} < '0001-01-01' THEN ' BC' ELSE '' END END`;
    return { sql: `CASE WHEN ${utc} >= '0001-01-01' AND ${utc} < '10000-01-01' THEN ${iso} ELSE ${far} END`, decode: (v) => (v.endsWith('Z') ? v : pgTimestamp(v)) };
  }
  if (pgType === 'date') {
    const far = `CASE WHEN NOT isfinite(${c}) THEN ${c}::text ELSE to_char(${c}, 'YYYY-MM-DD') || CASE WHEN ${c} < '0001-01-01' THEN ' BC' ELSE '' END END`;
    return { sql: `CASE WHEN ${c} >= '0001-01-01' AND ${c} <= '9999-12-31' THEN to_char(${c}, 'YYYY-MM-DD') ELSE ${far} END`, decode: (v) => (v.length === 10 ? v : pgDate(v)) };
  }
  if (pgType === 'boolean') return { sql: `${c}::int`, decode: Number };
  if (pgType === 'bigint' || pgType === 'integer' || pgType === 'smallint') return { sql: `${c}::text`, decode: Number };
  return { sql: `${c}::text`, decode: (v) => v };
}

export interface PgErrorInfo {
  message: string;
  hint: string;
}

interface PgLikeError {
  message?: unknown;
  code?: unknown;
  where?: unknown;
  table?: unknown;
  column?: unknown;
  constraint?: unknown;
  address?: unknown;
  port?: unknown;
}

const SCHEMA_HINT = "The target table does not match the model (made by hand or by another model version): compare it with the model, or load into a fresh database.";

/**
 * A server or connection error as a message without row values: a data exception (class 22)
 * quotes the offending value, so quoted text is cut; `detail` (which names key values) is never
 * used; COPY's context keeps its line and column but not the value. knex's "SQL - " prefix goes.
 * `urlName`: how a hint names the URL the user gave (a target's, or a source's).
 */
export function describePgError(e: unknown, urlName = TARGET_URL): PgErrorInfo {
  const err = (typeof e === 'object' && e !== null ? e : {}) as PgLikeError;
  let msg = typeof err.message === 'string' ? err.message : String(e);
  const code = typeof err.code === 'string' ? err.code : '';
  const sqlState = /^[0-9A-Z]{5}$/.test(code);
  // knex (compileSqlOnError: false) prefixes the statement, without its bindings: drop it.
  if (sqlState && /^\s*(select|insert|update|delete|create|copy|truncate|with|drop|alter|set|lock)\b/i.test(msg) && msg.includes(' - ')) {
    msg = msg.slice(msg.lastIndexOf(' - ') + 3);
  }
  if (code.startsWith('22')) msg = msg.replace(/"(?:[^"]|"")*"/g, '(value not shown)');
  // The COPY's line of the context (after a trigger's own lines where one raised the error).
  const copyLine = typeof err.where === 'string' ? err.where.split('\n').find((l) => l.startsWith('COPY ')) : undefined;
  if (copyLine !== undefined) {
    // `COPY t, line 19, column c: "value"`, or for a row's own refusal (a CHECK, a trigger) `COPY t,
    // line 19: "the whole row"`: only the table, line and column stay, never a value.
    const first = copyLine;
    const where = /^COPY .*?, line \d+(?:, column [^:]+)?(?=:|$)/s.exec(first)?.[0] ?? first.replace(/:.*$/s, '');
    msg += ` (${where})`;
  }
  let hint = 'Check that the target is reachable and writable.';
  switch (true) {
    // A key of the catalog (pg_type, pg_class): two sessions created the same table at once, each
    // having found it missing. No row of the target is involved.
    case code === '23505' && typeof err.constraint === 'string' && err.constraint.startsWith('pg_'):
      msg = `another import or migrate was creating the same tables at the same moment, so this one stopped (${msg})`;
      hint = 'Nothing was committed: run it again (once the other one is done, its tables are there).';
      break;
    case code === '23505':
      hint = UNIQUE_CLASH_HINT;
      break;
    // A key value longer than a btree entry holds (about 2700 bytes): the model's length allows it,
    // the index does not, so only such a value fails (MariaDB refuses the model outright, SQL Server the value).
    case code === '54000' && /index row (size|requires)/.test(msg):
      hint = "A value of a key or unique column is longer than a PostgreSQL index holds (2704 bytes): give the column a shorter length in the model (the longer values are then rejected, each with its line), or shorten them in the source. Nothing was committed.";
      break;
    case code === '23503':
      hint = 'Rows in the target that this run does not load still reference rows it replaces: load those entities too, or use load: append.';
      break;
    case code.startsWith('22'):
      // A value the column's type cannot hold: forklift's own checks (migrate's types, bundle verify) let none through to a table it made.
      hint = "A value is outside what its column's type holds here: if the table was made by hand or by another model version, compare it with the model. forklift migrate --dry-run names each row the target refuses, with its source line.";
      break;
    // RAISE EXCEPTION in a trigger (or a function it calls): the target's own rule, not the connection.
    case code === 'P0001':
      hint = TRIGGER_REFUSAL_HINT;
      break;
    case code === '23502' || code === '23514' || code === '42P01' || code === '42703' || code === '42804':
      hint = SCHEMA_HINT;
      break;
    case code === '28P01' || code === '28000':
      hint = `Check the user name and password of ${urlName}, or in PGPASSWORD or ~/.pgpass.`;
      break;
    case code === '3D000':
      hint = 'The database does not exist: create it (createdb NAME) or correct the URL.';
      break;
    case code === '42501':
      hint = 'The user may not create or write these tables: grant it the rights, or use another user.';
      break;
    case code === '40P01' || code === '55P03':
      hint = 'Another session holds these tables: wait for it, then run again.';
      break;
    case code === '53100':
      hint = 'The server is out of disk space: nothing was committed; free space, then run again.';
      break;
    case code.startsWith('57') || code.startsWith('08') || /Connection terminated|not queryable|ECONNRESET|EPIPE/.test(msg):
      hint = 'The connection to the server was lost during the load: nothing was committed; run the same command again.';
      // A bare socket error ('write EPIPE') does not say what happened: say it.
      if (!/connection/i.test(msg)) msg = `the connection to the server was lost (${msg})`;
      break;
    case /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|timeout expired/.test(code + ' ' + msg):
      hint = 'Check that PostgreSQL runs and accepts connections at the host and port of the URL.';
      break;
  }
  return { message: msg, hint };
}
