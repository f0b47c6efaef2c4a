/**
 * SQL sources: `source: { format: sql, url, query }` reads the result of one query from a legacy
 * database (any store of SPEC section 1), streamed. knex opens the connection (its pool of one
 * is private to the source); the query then runs on that connection with the driver's own
 * streaming, because knex's `.raw()` would read every `?` of a legacy query as a binding and its
 * `.stream()` hides the column list an empty result still needs:
 *
 * - PostgreSQL: a cursor (pg-query-stream's pg-cursor), `batchSize` rows per round trip, the
 *   next batch fetched while the caller maps the current one; the text of a SQL_ASCII database,
 *   or of a single-byte one (LATIN1, …) whose mapping names `encoding:`, as its bytes, decoded in it
 *   (sql-text.ts); without it, C1 control characters from an ISO-8859 database reject their row;
 * - MySQL / MariaDB: mysql2's row events, the socket paused while a batch is waiting; text as
 *   the bytes its column holds, decoded in the set the column declares (sql-text.ts);
 * - SQLite: better-sqlite3's `.iterate()`, one row at a time; TEXT that is not UTF-8 is decoded
 *   in the mapping's `encoding:`, or without one becomes a fault of its cell (rule `encoding`),
 *   never U+FFFD in its place (sqlite-text.ts);
 * - SQL Server: tedious's row events, the request paused while a batch is waiting.
 *
 * Memory holds a batch or two (plus what a paused socket had buffered), never the result.
 * `sha256` is SHA-256 of the query text, a newline and the JSON array of all rows, computed while
 * streaming, so a run records what it read. Every cell is text, as a file would hold it, since
 * the mapping layer parses all types in one place:
 * decimals and 64-bit integers as the server's exact decimal text (never through a JS float),
 * booleans `true`/`false` (MySQL's tinyint(1) stays `1`/`0`), dates `YYYY-MM-DD`, timestamps
 * without a zone `YYYY-MM-DDTHH:mm:ss[.fff]` (the mapping's `timezone:` applies), timestamps with
 * one as ISO 8601 with their offset, binary as `\x` and its bytes in hex (`\x3132`, PostgreSQL's
 * bytea form, which bundles use too: never digits a number column would take), CHAR padding as
 * the server sends it.
 *
 * A source query can never change the legacy data. PostgreSQL and MySQL/MariaDB sessions are
 * read-only and SQLite is opened read-only. SQL Server has no read-only session for a normal
 * login, so its query runs inside a transaction that forklift always rolls back, never commits:
 * after the last row, after a read stopped early or failed, and on Ctrl-C (the connection is
 * closed, and SQL Server rolls back what a closed session left open). The transaction is begun
 * two levels deep, so a COMMIT in the query (or in a procedure it calls) commits nothing; a query
 * that ends it all the same (ROLLBACK, a second COMMIT) is stopped and fails, since what it ran
 * after that ran outside (MSSQL_SOURCE_BEGIN). Only a login without write permission
 * (db_datareader) rules that out on the server.
 */
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { Decimal } from 'decimal.js';
import knexFactory, { type Knex } from 'knex';
import type Database from 'better-sqlite3';
import type { Connection as MysqlConnection, FieldPacket, QueryError } from 'mysql2';
import type pg from 'pg';
import QueryStream from 'pg-query-stream';
import type { Connection as TdsConnection, Request as TdsRequest } from 'tedious';
import { BugError, SourceError, StoreError } from '../core/errors.js';
import { decodeUrlPart, redactUrl, scrubSecrets, serverUrlProblem, sqlitePath, storeKind, urlSecrets, type StoreKind } from '../stores/url.js';
import { mssqlVariantText, tediousInstantText } from '../stores/mssql-text.js';
import { batchSizeOf, type OpenOptions } from './common.js';
import { nonUtf8Fault, SqliteTextCheck, TextRereadError } from './sqlite-text.js';
import { LegacyTextDecoder, legacyTextOf, mysqlText, putDecoded, type LegacyText } from './sql-text.js';
import { pgCancel } from '../stores/pg-cancel.js';
import { pgConnectionConfig } from '../stores/pg-ssl.js';
import { abortReason, cancelOnAbort, settlesWithin, untilAborted } from '../util/abort.js';
import type { Cell, CellFault, OpenedSource, SourceInfo, SourceRecord, SourceSpec } from './types.js';

/** How long connecting may take before the store counts as unreachable. */
const CONNECT_TIMEOUT_MS = 15_000;
/** How long stopping a running query may take before its connection is dropped instead. */
const CLOSE_TIMEOUT_MS = 5_000;
const QUERY_HINT = 'check the query in the mapping (source.query)';

// ---- the source ---------------------------------------------------------------------------

/** A query running on one connection: its columns, then its rows on demand. */
interface RowCursor {
  readonly header: string[];
  /** Up to `n` rows; fewer only at the end of the result, none once it is exhausted. */
  read(n: number, signal: AbortSignal | undefined): Promise<Cell[][]>;
  /** The cells of a row that the source could not give as values (text that is not in its encoding), by row. */
  readonly faults?: WeakMap<Cell[], CellFault[]>;
  /** Stops the query if it still runs. Never throws. */
  close(): Promise<void>;
}

/** What a dialect reports when a query fails: the store (connection, server) or the query itself. */
type Failure = { kind: 'store' | 'query'; message: string; dbHint?: string | undefined };

interface Dialect {
  /** The knex configuration for a URL; a SourceError for one that cannot be parsed. */
  config(url: string, ctx: ErrorContext): Knex.Config;
  /** Session settings, run once after connecting. */
  prepare(conn: unknown): Promise<void>;
  /** Runs the query; resolves once its columns are known. `text`: how text the database does not convert itself is read. */
  start(conn: unknown, sql: string, batchSize: number, text: LegacyText, ctx: ErrorContext): Promise<RowCursor>;
  classify(e: unknown): Failure;
  /** Undoes whatever the query changed, before the connection is released after the query ended (SQL Server: the rollback). */
  finish?(conn: unknown): Promise<void>;
  /** Makes the connection unusable so that releasing it cannot wait on a query still running. */
  abandon?(conn: unknown): void;
  /**
   * Asks the server to stop the statement the connection runs (Ctrl-C): it may be waiting for a
   * lock, or not have sent a row yet. Settles once the request is delivered (or cannot be).
   */
  cancel?(conn: unknown, k: Knex): Promise<void> | void;
  storeHint: string;
}

/** What error messages name: the source's label, the redacted URL, and the secrets to mask. */
export interface ErrorContext {
  label: string;
  display: string;
  secrets: string[];
}

class SqlSource implements OpenedSource {
  readonly detected: SourceInfo['detected'] = {};
  readonly positionKind = 'row' as const;
  private digest: string | undefined;
  private rows = 0;
  private started = false;
  private closed = false;
  private lost = false;

  constructor(
    readonly header: string[],
    readonly label: string,
    private readonly query: string,
    private readonly cursor: RowCursor,
    private readonly batchSize: number,
    private readonly fail: (e: unknown, row: number) => Error,
    private readonly release: (graceful: boolean) => Promise<void>,
    private readonly cancel: () => Promise<void>,
  ) {}

  /** A query result has no blank lines: a row of NULLs is a row, for the mapping to judge. */
  get skippedBlank(): number {
    return 0;
  }

  /** SHA-256 over the query text and every row's cells as read (see iterate). */
  get sha256(): string | undefined {
    return this.digest;
  }

  batches(signal?: AbortSignal): AsyncIterable<SourceRecord[]> {
    if (this.started) throw new BugError(`batches() of ${this.label} may be iterated only once`);
    if (this.closed) throw new BugError(`${this.label} is closed`);
    this.started = true;
    return this.iterate(signal);
  }

  private async *iterate(signal?: AbortSignal): AsyncGenerator<SourceRecord[]> {
    // The hash is SHA-256 of the query, a newline, and the JSON array of all rows (each an array
    // of cells): the same for any batch size, fed one batch's JSON at a time.
    const hash = createHash('sha256');
    hash.update(this.query);
    hash.update('\n[');
    let exhausted = false;
    try {
      for (;;) {
        signal?.throwIfAborted();
        let rows: Cell[][];
        try {
          rows = await untilAborted(this.cursor.read(this.batchSize, signal), signal);
        } catch (e) {
          if (signal?.aborted === true) throw abortReason(signal);
          const failure = this.fail(e, this.rows + 1);
          // A connection the server ended answers no close: waiting for one took 5 s for nothing.
          if (failure instanceof StoreError) this.lost = true;
          throw failure;
        }
        if (rows.length === 0) break;
        const json = JSON.stringify(rows);
        hash.update(this.rows === 0 ? json.slice(1, -1) : `,${json.slice(1, -1)}`);
        const batch = new Array<SourceRecord>(rows.length);
        const faults = this.cursor.faults;
        for (let i = 0; i < rows.length; i++) {
          const cells = rows[i] as Cell[];
          const bad = faults?.get(cells);
          batch[i] = bad === undefined ? { line: ++this.rows, cells } : { line: ++this.rows, cells, faults: bad };
        }
        yield batch;
      }
      exhausted = true;
      hash.update(']');
      this.digest = hash.digest('hex');
    } finally {
      await this.shut(exhausted, signal?.aborted === true);
    }
  }

  close(): Promise<void> {
    return this.shut(false);
  }

  private async shut(exhausted: boolean, interrupted = false): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Ctrl-C: the server stops the query and the connection goes, at once. A query stopped early
    // otherwise is closed; one that will not stop in time loses its connection.
    const cancelled = interrupted ? this.cancel() : undefined;
    const graceful = !interrupted && !this.lost && (exhausted || (await withTimeout(this.cursor.close(), CLOSE_TIMEOUT_MS)));
    // The request to stop goes out before the connection does: a server whose client has gone
    // runs the query on until it next writes to it (MariaDB), and the process may end right after.
    if (cancelled) await withTimeout(cancelled, CLOSE_TIMEOUT_MS);
    await this.release(graceful);
  }
}

/**
 * Opens a SQL source: connects, starts the query and waits for its column names (an empty
 * result still has them). The rows follow in `batches()`.
 */
export async function openSql(spec: SourceSpec, opts?: OpenOptions): Promise<OpenedSource> {
  const batchSize = batchSizeOf(opts);
  const url = requiredText(spec.url, 'url', 'the URL of the legacy database, e.g. url: ${LEGACY_URL} (postgres://…, mysql://…, mssql://… or sqlite:PATH)');
  const query = requiredText(spec.query, 'query', 'the SELECT whose rows are the source, e.g. query: "SELECT * FROM ITEMMAST"');
  const display = redactUrl(url);
  const label = `${display}: ${shortQuery(query)}`;
  const ctx: ErrorContext = { label, display, secrets: urlSecrets(url) };
  const kind = kindOf(url, display);
  const dialect = DIALECTS[kind];
  const text = legacyTextOf(spec);
  if (text.named && text.encoding !== 'utf-8' && kind === 'mssql') {
    throw new SourceError(`${label}: encoding: ${text.encoding} is not read for a SQL Server source`, {
      code: 'source.encoding',
      location: { file: label, where: 'source.encoding' },
      hint: "remove encoding: from the mapping's source: it names the text encoding of a PostgreSQL SQL_ASCII or LATIN1 database, of MariaDB/MySQL columns declared latin1 or ascii, or of a SQLite file's TEXT",
    });
  }
  if (kind === 'sqlite') await checkSqliteFile(url, ctx);

  const k = knexFactory({
    ...dialect.config(url, ctx),
    // knex would otherwise put bound values into error messages (customer data).
    compileSqlOnError: false,
    pool: { min: 0, max: 1 },
    acquireConnectionTimeout: CONNECT_TIMEOUT_MS * 2,
    // knex would print connection failures with their stack; they are reported as StoreErrors.
    log: { warn: () => {}, error: () => {}, deprecate: () => {}, debug: () => {} },
  });
  let conn: unknown;
  const signal = opts?.signal;
  try {
    conn = await untilAborted(k.client.acquireConnection() as Promise<unknown>, signal);
    await untilAborted(dialect.prepare(conn), signal);
  } catch (e) {
    if (conn !== undefined) dialect.abandon?.(conn);
    if (signal?.aborted === true) {
      // A connect still under way ends on its own (its timeout); waiting for it would hold Ctrl-C.
      void releaseAll(k, conn).catch(() => {});
      throw abortReason(signal);
    }
    await releaseAll(k, conn);
    const f = e instanceof SourceError || e instanceof StoreError ? undefined : dialect.classify(e);
    if (f === undefined) throw e;
    throw storeError(ctx, `cannot connect: ${f.message}`, dialect.storeHint, e);
  }

  const release = async (graceful: boolean): Promise<void> => {
    // A rollback that fails or takes too long (undoing a large DELETE) loses its connection
    // instead: the server rolls back what a closed session left open.
    const finished = graceful && (dialect.finish === undefined || (await withTimeout(dialect.finish(conn), CLOSE_TIMEOUT_MS)));
    if (!finished) dialect.abandon?.(conn);
    await releaseAll(k, conn);
  };
  const fail = (e: unknown, row?: number): Error => {
    if (e instanceof SourceError || e instanceof StoreError || e instanceof BugError) return e;
    const f: Failure = e instanceof MultipleResultSetsError ? { kind: 'query', message: e.message, dbHint: e.dbHint } : dialect.classify(e);
    if (f.kind === 'store') return storeError(ctx, `lost the connection while reading${row === undefined ? '' : ` row ${row}`}: ${f.message}`, dialect.storeHint, e);
    const after = row === undefined || row === 1 ? '' : ` after ${row - 1} ${row === 2 ? 'row' : 'rows'}`;
    return new SourceError(`${label}: the query failed${after}: ${scrubSecrets(f.message, ctx.secrets)}`, {
      code: 'source.query',
      location: { file: label, where: 'source.query' },
      hint: f.dbHint === undefined ? QUERY_HINT : `${QUERY_HINT} (${kind}: ${scrubSecrets(f.dbHint, ctx.secrets)})`,
      cause: e,
    });
  };

  // The last request to stop the query (Ctrl-C), awaited before the connection is released.
  let cancelling: Promise<void> | undefined;
  const cancel = (): Promise<void> => (cancelling = (async () => dialect.cancel?.(conn, k))().catch(() => {}));
  let cursor: RowCursor;
  try {
    // A query waiting for a lock (or planning for minutes) answers nothing: Ctrl-C cancels it on the server and stops waiting.
    cursor = await untilAborted(cancelOnAbort(signal, cancel, () => dialect.start(conn, stripTerminator(query), batchSize, text, ctx)), signal);
  } catch (e) {
    dialect.abandon?.(conn);
    if (cancelling) await withTimeout(cancelling, CLOSE_TIMEOUT_MS);
    await releaseAll(k, conn);
    if (signal?.aborted === true) throw abortReason(signal);
    throw fail(e);
  }
  if (cursor.header.length === 0) {
    await cursor.close();
    await release(true);
    throw new SourceError(`${label}: the query returns no columns`, {
      code: 'source.query',
      location: { file: label, where: 'source.query' },
      hint: `${QUERY_HINT}: a source query must be a SELECT that returns rows`,
    });
  }
  return new SqlSource(cursor.header, label, query, cursor, batchSize, fail, release, cancel);
}

async function releaseAll(k: Knex, conn: unknown): Promise<void> {
  try {
    if (conn !== undefined) await k.client.releaseConnection(conn);
  } finally {
    await k.destroy().catch(() => {});
  }
}

function requiredText(v: string | undefined, key: 'url' | 'query', what: string): string {
  if (v === undefined || v.trim() === '') {
    throw new SourceError(`a sql source needs ${key === 'url' ? 'a url' : 'a query'}`, {
      code: 'source.sql',
      location: { file: '(mapping)', where: `source.${key}` },
      hint: `add \`${key}:\` to the \`source:\` block of the mapping: ${what}`,
    });
  }
  return v;
}

function kindOf(url: string, display: string): StoreKind {
  try {
    return storeKind(url);
  } catch (e) {
    throw new SourceError(`'${display}' is not a database URL forklift can read`, {
      code: 'source.url',
      location: { file: '(mapping)', where: 'source.url' },
      hint: 'source.url must be sqlite:PATH, postgres://…, mysql:// or mariadb://…, or mssql:// or sqlserver://…',
      cause: e,
    });
  }
}

function badUrl(ctx: ErrorContext, why: string, cause?: unknown, hint?: string): SourceError {
  return new SourceError(`'${ctx.display}' is not a valid database URL: ${why}`, {
    code: 'source.url',
    location: { file: '(mapping)', where: 'source.url' },
    hint: hint ?? 'write it as scheme://user:password@host:port/database (percent-encode special characters in the user and password)',
    cause,
  });
}

/** Parses a server URL; a SourceError (never showing the password) when it is malformed. */
function parseServerUrl(url: string, ctx: ErrorContext): URL {
  const problem = serverUrlProblem(url);
  if (problem !== undefined) throw badUrl(ctx, problem.why, undefined, problem.hint);
  let u: URL;
  try {
    u = new URL(url);
  } catch (e) {
    throw badUrl(ctx, 'it cannot be parsed', e);
  }
  if (u.hostname === '') throw badUrl(ctx, 'it names no host');
  return u;
}

function storeError(ctx: ErrorContext, message: string, hint: string, cause: unknown): StoreError {
  return new StoreError(`${ctx.display}: ${scrubSecrets(message, ctx.secrets)}`, { code: 'store.connect', hint, cause });
}

/** A query shortened for messages: whitespace squashed, at most 60 characters. */
export function shortQuery(query: string): string {
  const q = query.replace(/\s+/g, ' ').trim();
  return q.length > 60 ? `${q.slice(0, 59)}…` : q;
}

/** Drops trailing semicolons, which some drivers refuse in a single statement. */
function stripTerminator(query: string): string {
  return query.replace(/[\s;]+$/, '');
}

function messageOf(e: unknown): string {
  if (e instanceof AggregateError && e.message === '') return e.errors.map(messageOf).join('; ');
  if (e instanceof Error) return e.message || (e as NodeJS.ErrnoException).code || e.name;
  return String(e);
}

function codeOf(e: unknown): string {
  const c = (e as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : typeof c === 'number' ? String(c) : '';
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE', 'ECONNABORTED']);

function isNetworkError(e: unknown): boolean {
  if (e instanceof AggregateError) return e.errors.some(isNetworkError);
  return NETWORK_CODES.has(codeOf(e)) || (e instanceof Error && e.name === 'KnexTimeoutError');
}

/** Resolves true when `p` resolved in time, false when it failed or took longer. */
async function withTimeout(p: Promise<void>, ms: number): Promise<boolean> {
  let resolved = false;
  const settled = await settlesWithin(p.then(() => void (resolved = true)), ms);
  return settled && resolved;
}

/**
 * A driver event handler that hands what it throws to `fail`: the drivers call handlers inside
 * their packet parsers, where an exception is lost (or kills the connection without an event),
 * and the read waiting on the queue would wait forever.
 */
function guarded<A extends unknown[]>(fail: (e: unknown) => void, handler: (...args: A) => void): (...args: A) => void {
  return (...args) => {
    try {
      handler(...args);
    } catch (e) {
      fail(e);
    }
  };
}

/**
 * A query that returns a second result set (a procedure with two SELECTs, a batch of two
 * statements): a source is one table of rows, and the second set's rows under the first set's
 * header would be wrong rows.
 */
export class MultipleResultSetsError extends Error {
  constructor() {
    super('the query returns more than one result set');
    this.name = 'MultipleResultSetsError';
  }
  readonly dbHint = 'a source reads exactly one result set: call a procedure that runs one SELECT, or make that SELECT the query';
}

/**
 * Rows pushed by a driver's events, taken in batches. Once a batch is waiting the driver is
 * paused, so a slow consumer holds the socket instead of memory filling up.
 */
class RowQueue {
  private rows: Cell[][] = [];
  private ended = false;
  private error: unknown;
  private paused = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly high: number,
    private readonly pause: () => void,
    private readonly resume: () => void,
  ) {}

  push(row: Cell[]): void {
    this.rows.push(row);
    if (this.rows.length >= this.high) {
      if (!this.paused) {
        this.paused = true;
        this.pause();
      }
      this.notify();
    }
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  fail(e: unknown): void {
    if (this.error === undefined) this.error = e;
    this.ended = true;
    this.notify();
  }

  get done(): boolean {
    return this.ended;
  }

  /** Up to `n` rows; fewer only at the end. Rows read before an error come first, then the error. */
  async take(n: number, signal: AbortSignal | undefined): Promise<Cell[][]> {
    while (this.rows.length < n && !this.ended) {
      if (this.paused) {
        this.paused = false;
        this.resume();
      }
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => reject(signal?.reason);
        if (signal?.aborted === true) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
      });
    }
    if (this.rows.length === 0 && this.error !== undefined) throw this.error;
    const out = this.rows.length <= n ? this.rows : this.rows.slice(0, n);
    this.rows = this.rows.length <= n ? [] : this.rows.slice(n);
    if (this.paused && this.rows.length < this.high && !this.ended) {
      this.paused = false;
      this.resume();
    }
    return out;
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

// ---- text of values -----------------------------------------------------------------------

/** A binary float as plain decimal text: its shortest round-trip digits, never an exponent. */
export function doubleText(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const s = String(n);
  return s.includes('e') ? new Decimal(s).toFixed() : s;
}

/** Decimal text a server wrote with an exponent (1e+20), as plain digits; other text unchanged. */
function plainNumberText(s: string): string {
  if (!/[eE]/.test(s)) return s;
  try {
    const d = new Decimal(s);
    return d.isFinite() ? d.toFixed() : s;
  } catch {
    return s;
  }
}

/** A 32-bit float (SQL Server real) as the shortest decimal that reads back as the same float. */
export function float32Text(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  for (let p = 1; p <= 9; p++) {
    const c = Number(n.toPrecision(p));
    if (Math.fround(c) === n) return doubleText(c);
  }
  return doubleText(n);
}

/**
 * Binary data as `\x` and hex digits, as PostgreSQL prints bytea and bundles write it: bare hex
 * (`3132` for the bytes of '12') would load into a number column as another number.
 */
export const binaryText = (b: Uint8Array): string => `\\x${Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')}`;

// ---- PostgreSQL ---------------------------------------------------------------------------

/** PostgreSQL type oids whose text output forklift rewrites. */
const PG = { bool: 16, float4: 700, float8: 701, money: 790, timestamp: 1114, timestamptz: 1184 } as const;
const PG_RAW = { getTypeParser: () => (v: string) => v };

type PgConverter = ((v: string) => string) | undefined;

/**
 * How the text PostgreSQL sends for a type becomes the cell (undefined: as it is). A DOMAIN column
 * comes with its base type's oid (the server's row description resolves domains, at any depth),
 * so it is read as that type; enums and other types of their own (citext) are text.
 */
export function pgConverter(oid: number): PgConverter {
  switch (oid) {
    case PG.bool:
      return (v) => (v === 't' ? 'true' : v === 'f' ? 'false' : v);
    case PG.float4:
    case PG.float8:
      return plainNumberText;
    case PG.money:
      // lc_monetary is C for the session: -$1,234.56
      return (v) => {
        const m = /^(-?)\$?(\d{1,3}(?:,\d{3})*|\d+)(\.\d+)?$/.exec(v);
        return m ? `${m[1]}${(m[2] as string).replace(/,/g, '')}${m[3] ?? ''}` : v;
      };
    case PG.timestamp:
      return (v) => (/^\d{4}-\d{2}-\d{2} \d/.test(v) && !v.endsWith(' BC') ? `${v.slice(0, 10)}T${v.slice(11)}` : v);
    case PG.timestamptz:
      return (v) => {
        const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2})(?::(\d{2}))?$/.exec(v);
        return m ? `${m[1]}T${m[2]}${m[3]}:${m[4] ?? '00'}` : v;
      };
    default:
      return undefined;
  }
}

interface PgCursor {
  read(rows: number): Promise<string[][]>;
  close(): Promise<void>;
  _result: { fields: pg.FieldDef[] };
}

/** The server_encoding of each PostgreSQL source connection, read when it is prepared. */
const PG_SERVER_ENCODING = new WeakMap<object, string>();

/**
 * Types whose text PostgreSQL writes in ASCII whatever the data (numbers, dates, booleans, bytea,
 * uuid, network addresses): read as they come from a SQL_ASCII database too, and in their own type.
 */
const PG_ASCII_TYPES = new Set([16, 17, 20, 21, 23, 26, 650, 700, 701, 774, 790, 829, 869, 1082, 1083, 1114, 1184, 1186, 1266, 1560, 1562, 1700, 2950, 3220]);
const PG_BPCHAR = 1042;

/** How a PostgreSQL cursor's text is read: `bytes` columns come as bytea of the stored bytes, decoded by `decoder`. */
interface PgTextColumns {
  header: string[];
  oids: number[];
  bytes: boolean[];
  decoder: LegacyTextDecoder;
}

/** The query's columns (name and type) without running it (LIMIT 0); undefined when it cannot run as a subquery. */
async function pgColumns(c: pg.Client, sql: string): Promise<pg.FieldDef[] | undefined> {
  try {
    // The query on lines of its own: a `--` comment at its end stays inside.
    const r = await c.query({ text: `SELECT * FROM (\n${sql}\n) AS forklift_q LIMIT 0`, rowMode: 'array', types: PG_RAW });
    return r.fields;
  } catch {
    return undefined;
  }
}

/**
 * The query that reads a SQL_ASCII database's text as the stored bytes: the source query as a
 * subquery, its text columns as bytea. `convert_to(…, 'SQL_ASCII')` copies the bytes (a text
 * output function would check them against the client's UTF-8 and refuse); a CHAR keeps its padding
 * through format(), which a cast to text would strip.
 */
function pgBytesQuery(sql: string, fields: readonly pg.FieldDef[], bytes: readonly boolean[], serverEncoding: string): string {
  const names = fields.map((_, i) => `c${i}`);
  // In the database's own encoding, convert_to gives back the bytes as stored (LATIN1: 0x80 for €, not U+0080).
  const enc = `'${serverEncoding.replace(/[^A-Za-z0-9_]/g, '')}'`;
  const columns = fields.map((f, i) => {
    const c = names[i] as string;
    if (!bytes[i]) return c;
    if (f.dataTypeID === PG_BPCHAR) return `CASE WHEN ${c} IS NULL THEN NULL ELSE convert_to(format('%s', ${c}), ${enc}) END`;
    return `convert_to(${c}::text, ${enc})`;
  });
  return `SELECT ${columns.join(', ')} FROM (\n${sql}\n) AS forklift_q(${names.join(', ')})`;
}

/**
 * ISO-8859 encodings a PostgreSQL database may declare, with the Windows code page legacy
 * applications on Windows wrote into it instead. The server reads bytes 0x80–0x9F (€ „ “ – in
 * the code page) as the invisible C1 control characters U+0080–U+009F, which would load silently.
 */
const PG_ISO_8859: Record<string, string> = {
  LATIN1: 'windows-1252', LATIN2: 'windows-1250', LATIN3: 'windows-1254', LATIN4: 'windows-1257', LATIN5: 'windows-1254',
  LATIN6: 'windows-1257', LATIN7: 'windows-1257', LATIN8: 'windows-1252', LATIN9: 'windows-1252', LATIN10: 'windows-1250',
  ISO_8859_5: 'windows-1251', ISO_8859_6: 'windows-1256', ISO_8859_7: 'windows-1253', ISO_8859_8: 'windows-1255',
};
/** Single-byte encodings a PostgreSQL database may declare whose stored bytes `encoding:` may name anew. */
const PG_SINGLE_BYTE = /^(LATIN\d+|ISO_8859_\d|WIN\d+|KOI8[RU])$/;
const C1 = /[\u0080-\u009F]/;
const C1_ALL = /[\u0080-\u009F]/g;

/** Where a value holds its first C1 control character, and the value around it with each one as `\u0080`. */
function showC1(v: string): string {
  const at = v.search(C1);
  const from = Math.max(0, at - 30);
  const part = v.slice(from, from + 60).replace(C1_ALL, (ch) => `\\u${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`);
  return `at character ${at + 1} of "${from > 0 ? '…' : ''}${part}${from + 60 < v.length ? '…' : ''}"`;
}

/** How an ISO-8859 database's text columns are checked for C1 control characters: the reason named for them. */
interface PgC1Check {
  reason: string;
  /** LATIN1 only, where each character is its stored byte: the reason for a value whose bytes are UTF-8 (`â‚¬` for €, text written twice over). */
  utf8Reason?: string;
}

async function pgCursor(conn: pg.Client, sql: string, batchSize: number, text?: PgTextColumns, c1?: PgC1Check): Promise<RowCursor> {
  const stream = new QueryStream(sql, [], { rowMode: 'array', types: PG_RAW, batchSize });
  conn.query(stream);
  const cursor = stream.cursor as PgCursor;
  // The first batch comes with the row description: the header, even for no rows.
  let pending: string[][] | undefined = await cursor.read(batchSize);
  const fields = cursor._result.fields;
  const convert = (text?.oids ?? fields.map((f) => f.dataTypeID)).map(pgConverter);
  // The columns that can hold a C1 character, from the row description the query itself sent: no probe runs it first.
  const c1Text = fields.map((f) => !PG_ASCII_TYPES.has(f.dataTypeID));
  const faults = new WeakMap<Cell[], CellFault[]>();
  let rowNo = 0;
  const toCells = (rows: (string | null)[][]): Cell[][] => {
    if (text !== undefined) return decodeText(rows, text);
    if (c1 !== undefined) checkC1(rows, c1);
    else rowNo += rows.length;
    for (const row of rows) {
      for (let i = 0; i < convert.length; i++) {
        const c = convert[i];
        const v = row[i];
        if (c !== undefined && v !== null && v !== undefined) row[i] = c(v);
      }
    }
    return rows;
  };
  const checkC1 = (rows: (string | null)[][], check: PgC1Check): void => {
    for (const row of rows) {
      rowNo++;
      let bad: CellFault[] | undefined;
      for (let i = 0; i < row.length; i++) {
        const v = row[i];
        if (c1Text[i] === false || v === null || v === undefined || !C1.test(v)) continue;
        row[i] = null;
        const utf8 = check.utf8Reason !== undefined && isUtf8(Buffer.from(v, 'latin1'));
        (bad ??= []).push({ index: i, ref: `row ${rowNo}`, rule: 'encoding', reason: `${utf8 ? check.utf8Reason : check.reason} (${showC1(v)})` });
      }
      if (bad !== undefined) faults.set(row, bad);
    }
  };
  const decodeText = (rows: (string | null)[][], text: PgTextColumns): Cell[][] => {
    for (const row of rows) {
      rowNo++;
      let bad: CellFault[] | undefined;
      for (let i = 0; i < convert.length; i++) {
        const c = convert[i];
        const v = row[i];
        if (v === null || v === undefined) continue;
        if (text.bytes[i] === true) {
          // bytea text: \x and the stored bytes in hex
          bad = putDecoded(row, i, text.decoder.decode(Buffer.from(v.slice(2), 'hex'), i, rowNo), bad);
        } else if (c !== undefined) row[i] = c(v);
      }
      if (bad !== undefined) faults.set(row, bad);
    }
    return rows;
  };
  let done = pending.length < batchSize;
  // The next batch is fetched while the caller maps this one: the server works meanwhile.
  let ahead: Promise<string[][]> | undefined;
  const fetch = (n: number): void => {
    ahead = cursor.read(n);
    ahead.catch(() => {}); // awaited by the next read(); close() may come first
  };
  return {
    header: text?.header ?? fields.map((f) => f.name),
    ...(text === undefined && c1 === undefined ? {} : { faults }),
    async read(n) {
      let rows: string[][];
      if (pending !== undefined) {
        rows = pending;
        pending = undefined;
      } else if (ahead !== undefined) {
        const a = ahead;
        ahead = undefined;
        rows = await a;
        if (rows.length < n) done = true;
      } else if (done) return [];
      else {
        rows = await cursor.read(n);
        if (rows.length < n) done = true;
      }
      if (!done) fetch(n);
      return toCells(rows);
    },
    async close() {
      pending = undefined;
      await cursor.close();
    },
  };
}

const postgres: Dialect = {
  config(url, ctx) {
    parseServerUrl(url, ctx);
    return { client: 'pg', connection: async () => ({ ...(await pgConnectionConfig(url)), connectionTimeoutMillis: CONNECT_TIMEOUT_MS, application_name: 'forklift' }) };
  },
  async prepare(conn) {
    const c = conn as pg.Client;
    // Fixed text forms for dates, money and binary, whatever the server's defaults; read-only.
    await c.query(
      "SET TIME ZONE 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET lc_monetary = 'C'; SET bytea_output = 'hex'; SET extra_float_digits = 1; SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
    );
    const r = await c.query<{ server_encoding: string }>('SHOW server_encoding');
    PG_SERVER_ENCODING.set(c, r.rows[0]?.server_encoding ?? '');
  },
  async start(conn, sql, batchSize, text, ctx) {
    const c = conn as pg.Client;
    const serverEncoding = PG_SERVER_ENCODING.get(c) ?? '';
    const singleByte = PG_SINGLE_BYTE.test(serverEncoding);
    const sqlAscii = serverEncoding === 'SQL_ASCII';
    if (!sqlAscii && !(singleByte && text.named)) {
      if (text.named && text.encoding !== 'utf-8') {
        throw new SourceError(`${ctx.label}: encoding: ${text.encoding} is for a database whose text has no declared encoding (SQL_ASCII) or a single-byte one (LATIN1, WIN1252, …), but this one's encoding is ${serverEncoding}, which PostgreSQL converts to UTF-8 itself`, {
          code: 'source.encoding',
          location: { file: ctx.label, where: 'source.encoding' },
          hint: "remove encoding: from the mapping's source",
        });
      }
      const windows = PG_ISO_8859[serverEncoding];
      // A UTF8 database is read as it always was: no check, no cost.
      if (windows === undefined) return pgCursor(c, sql, batchSize);
      const reason = `holds a C1 control character (U+0080–U+009F, invisible): the database is declared ${serverEncoding}, and probably holds ${windows} text (€ „ “ – stored as bytes 0x80–0x9F, which ${serverEncoding} reads as control characters): set encoding: ${windows} in the mapping's source`;
      const utf8Reason = serverEncoding === 'LATIN1' ? "holds a C1 control character (U+0080–U+009F, invisible): the database is declared LATIN1, and its bytes here are UTF-8 (a program wrote UTF-8 into it, and € reads as â\\u0082¬): set encoding: utf-8 in the mapping's source" : undefined;
      const check = { reason, ...(utf8Reason === undefined ? {} : { utf8Reason }) };
      // The query runs once, as written: its row description says which columns are text (only text can hold a C1 character).
      return pgCursor(c, sql, batchSize, undefined, check);
    }
    // SQL_ASCII: the server holds bytes it cannot convert, and asked for UTF-8 refuses the whole
    // query at the first that is not. A single-byte database whose mapping names what it really
    // holds (LATIN1 filled with Windows-1252): the server's conversion would be wrong. Text
    // columns are read as their stored bytes and decoded here.
    const fields = await pgColumns(c, sql);
    // A statement that cannot be a subquery runs as it is: the server refuses text that is not UTF-8 (the hint of classify).
    if (fields === undefined) {
      if (sqlAscii) return pgCursor(c, sql, batchSize);
      throw new SourceError(`${ctx.label}: encoding: ${text.encoding} needs the query's text as its stored bytes, and the query cannot run as a subquery`, {
        code: 'source.encoding',
        location: { file: ctx.label, where: 'source.encoding' },
        hint: 'write the query as one SELECT',
      });
    }
    const bytes = fields.map((f) => !PG_ASCII_TYPES.has(f.dataTypeID));
    const why = sqlAscii ? 'the database is SQL_ASCII, which stores the bytes the legacy application wrote, in whatever encoding it used' : `the database is declared ${serverEncoding}, and its text is read as the bytes stored, in the encoding: the mapping names`;
    const decoder = new LegacyTextDecoder(text, why);
    return pgCursor(c, pgBytesQuery(sql, fields, bytes, serverEncoding), batchSize, { header: fields.map((f) => f.name), oids: fields.map((f) => f.dataTypeID), bytes, decoder });
  },
  classify(e) {
    const code = codeOf(e);
    const err = e as { position?: string; hint?: string };
    const store = /^(08|28|3D|53|57|58|XX)/.test(code) || isNetworkError(e) || /Connection terminated|timeout expired|connection error/i.test(messageOf(e));
    const at = typeof err.position === 'string' && err.position !== '' ? ` (at character ${err.position})` : '';
    // 22021: text that is not UTF-8 in a SQL_ASCII database, read by a query that cannot be a subquery.
    const dbHint = code === '22021' ? "the database holds text that is not UTF-8: write the query as one SELECT, and name the encoding of its text in the mapping's source, e.g. encoding: windows-1252" : err.hint;
    return { kind: store ? 'store' : 'query', message: messageOf(e) + (store ? '' : at), dbHint: typeof dbHint === 'string' ? dbHint : undefined };
  },
  abandon(conn) {
    // Ending the connection ends its portal on the server; the pool then drops it.
    void (conn as pg.Client).end().catch(() => {});
  },
  cancel(conn) {
    // A backend waiting for a lock does not notice its client has gone: it must be told.
    pgCancel(conn as pg.Client);
  },
  storeHint: 'check that the PostgreSQL server is running and reachable, and the host, port, user, password and database in source.url',
};

// ---- MySQL / MariaDB ----------------------------------------------------------------------

/** mysql2's column type codes (lib/constants/types.js). */
const MY = {
  decimal: 0, tiny: 1, short: 2, long: 3, float: 4, double: 5, null: 6, timestamp: 7, longlong: 8, int24: 9,
  date: 10, time: 11, datetime: 12, year: 13, newdate: 14, bit: 16, json: 245, newdecimal: 246, geometry: 255,
} as const;
const BINARY_CHARSET = 63;
const ZERO_DATE = /^0000-00-00(?:[ T]00:00:00(?:\.0+)?)?$/;

type MyConverter = (b: Buffer) => string;

/**
 * How the bytes MySQL/MariaDB send for a column become the cell. The text protocol sends
 * numbers, decimals and dates as ASCII text, kept as sent, never parsed; strings come in their
 * column's own character set and are decoded by mysqlText instead (mysqlTextColumn). Zero dates become the text `0000-00-00`, which the
 * mapping rejects with a reason (or a `clean: [null_if: ["0000-00-00"]]` turns into a missing value).
 */
export function mysqlConverter(f: Pick<FieldPacket, 'columnType' | 'characterSet'>): MyConverter {
  const ascii = (b: Buffer): string => b.toString('latin1');
  switch (f.columnType) {
    case MY.decimal:
    case MY.newdecimal:
    case MY.tiny:
    case MY.short:
    case MY.long:
    case MY.longlong:
    case MY.int24:
    case MY.year:
    case MY.time:
      return ascii;
    case MY.float:
    case MY.double:
      return (b) => plainNumberText(ascii(b));
    case MY.date:
    case MY.newdate:
      return (b) => {
        const s = ascii(b);
        return ZERO_DATE.test(s) ? '0000-00-00' : s;
      };
    case MY.datetime:
      return (b) => {
        const s = ascii(b);
        return ZERO_DATE.test(s) ? '0000-00-00' : s.replace(' ', 'T');
      };
    case MY.timestamp:
      // A TIMESTAMP is a point in time; the session's time_zone is +00:00.
      return (b) => {
        const s = ascii(b);
        return ZERO_DATE.test(s) ? '0000-00-00' : `${s.replace(' ', 'T')}+00:00`;
      };
    case MY.bit:
      return (b) => (b.length === 0 ? '0' : BigInt(`0x${b.toString('hex')}`).toString());
    case MY.json:
      return (b) => b.toString('utf8');
    case MY.geometry:
      return binaryText; // WKB
    default:
      return f.characterSet === BINARY_CHARSET ? binaryText : (b) => b.toString('utf8');
  }
}

/** The column types mysqlConverter reads as ASCII, numbers or JSON: every other one is text, or binary in the binary character set. */
const MY_NOT_TEXT = new Set<number>([MY.decimal, MY.newdecimal, MY.tiny, MY.short, MY.long, MY.longlong, MY.int24, MY.year, MY.time, MY.float, MY.double, MY.date, MY.newdate, MY.datetime, MY.timestamp, MY.bit, MY.json, MY.geometry]);

/** Whether a column's bytes are text in the character set it declares (mysqlText), not numbers, dates or binary. */
function mysqlTextColumn(f: Pick<FieldPacket, 'columnType' | 'characterSet'>): boolean {
  return f.columnType !== undefined && !MY_NOT_TEXT.has(f.columnType) && f.characterSet !== BINARY_CHARSET;
}

/** The character set of each collation id, per source connection (read when it is prepared). */
const MY_CHARSETS = new WeakMap<object, Map<number, string>>();

/** Connection settings for a mysql:// or mariadb:// URL. */
export function mysqlConnection(url: string, ctx: ErrorContext): Record<string, unknown> {
  const u = parseServerUrl(url, ctx);
  const port = u.port === '' ? 3306 : Number(u.port);
  const database = decodeUrlPart(u.pathname.replace(/^\//, ''));
  const ssl = u.searchParams.get('ssl') ?? u.searchParams.get('sslmode');
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port,
    user: decodeUrlPart(u.username),
    password: decodeUrlPart(u.password),
    ...(database === '' ? {} : { database }),
    ...(ssl !== null && !/^(false|0|disable|disabled)$/i.test(ssl) ? { ssl: {} } : {}),
    charset: 'UTF8MB4_UNICODE_CI',
    connectTimeout: CONNECT_TIMEOUT_MS,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
    dateStrings: true,
    jsonStrings: true,
    multipleStatements: false,
  };
}

type MyQuery = { on(event: string, listener: (...args: never[]) => void): MyQuery };

const mysql: Dialect = {
  config(url, ctx) {
    return { client: 'mysql2', connection: mysqlConnection(url, ctx) };
  },
  async prepare(conn) {
    const c = conn as MysqlConnection;
    const run = (sql: string): Promise<void> => new Promise((resolve, reject) => c.query(sql, (e) => (e ? reject(e) : resolve())));
    // TIMESTAMP columns in UTC; time to be paused by a slow consumer; no writes. Text as the
    // bytes the columns hold (character_set_results NULL), decoded by mysqlText: converting it
    // itself, the server sends '?' for every byte the column's character set has no character for.
    await run("SET SESSION time_zone = '+00:00', SESSION net_write_timeout = 600, SESSION character_set_results = NULL");
    await run('SET SESSION TRANSACTION READ ONLY');
    const charsets = new Map<number, string>();
    const collations = (sql: string): Promise<void> =>
      new Promise((resolve) =>
        c.query({ sql, rowsAsArray: true }, (e, rows) => {
          // MariaDB 10.10+ numbers some collations only in the second table; MySQL has no ID there.
          if (!e) for (const [id, name] of rows as [number | string, string | Buffer][]) charsets.set(Number(id), String(name));
          resolve();
        }),
      );
    await collations('SELECT ID, CHARACTER_SET_NAME FROM information_schema.COLLATIONS WHERE ID IS NOT NULL AND CHARACTER_SET_NAME IS NOT NULL');
    await collations('SELECT ID, CHARACTER_SET_NAME FROM information_schema.COLLATION_CHARACTER_SET_APPLICABILITY');
    charsets.set(BINARY_CHARSET, 'binary');
    MY_CHARSETS.set(c, charsets);
  },
  start(conn, sql, batchSize, text) {
    const c = conn as MysqlConnection;
    const charsets = MY_CHARSETS.get(c);
    const faults = new WeakMap<Cell[], CellFault[]>();
    let rowNo = 0;
    return new Promise<RowCursor>((resolve, reject) => {
      let convert: MyConverter[] = [];
      let decode: (ReturnType<typeof mysqlText> | undefined)[] = [];
      const queue = new RowQueue(batchSize, () => c.pause(), () => c.resume());
      let settled = false;
      let resultSets = 0;
      const failWith = (e: unknown): void => {
        if (settled) queue.fail(e);
        else {
          settled = true;
          reject(e);
        }
      };
      // mysql2 cannot cancel a query: one refused midway ends with its connection.
      const stop = (e: unknown): void => {
        failWith(e);
        c.destroy();
      };
      const cursor = (header: string[]): RowCursor => ({
        header,
        faults,
        read: (n, signal) => queue.take(n, signal),
        async close() {
          if (!queue.done) c.destroy();
        },
      });
      // Every value as raw bytes (`field.buffer()`): the converters above make the text.
      const q = c.query({ sql, rowsAsArray: true, typeCast: (field) => field.buffer() }) as unknown as MyQuery;
      q.on(
        'fields',
        guarded(stop, (fields: FieldPacket[] | undefined) => {
          // undefined: the status packet a CALL (or a statement without rows) ends with, no result set.
          if (fields === undefined) return;
          if (++resultSets > 1) return stop(new MultipleResultSetsError());
          convert = fields.map((f) => mysqlConverter(f));
          decode = fields.map((f) => (mysqlTextColumn(f) ? mysqlText(charsets?.get(f.characterSet ?? -1), text) : undefined));
          settled = true;
          resolve(cursor(fields.map((f) => f.name)));
        }),
      );
      q.on(
        'result',
        guarded(stop, (row: (Buffer | null)[]) => {
          if (!Array.isArray(row) || queue.done) return; // an OK packet: not a result set
          rowNo++;
          const cells = new Array<Cell>(row.length);
          let bad: CellFault[] | undefined;
          for (let i = 0; i < row.length; i++) {
            const b = row[i];
            const d = decode[i];
            if (b === null || b === undefined) cells[i] = null;
            else if (d === undefined) cells[i] = (convert[i] as MyConverter)(b);
            else bad = putDecoded(cells, i, d(b, i, rowNo), bad);
          }
          if (bad !== undefined) faults.set(cells, bad);
          queue.push(cells);
        }),
      );
      q.on('error', (e: QueryError) => failWith(e));
      q.on(
        'end',
        guarded(stop, () => {
          queue.end();
          if (!settled) {
            settled = true;
            resolve(cursor([])); // no result set (DO 1, SET …): reported as a query without columns
          }
        }),
      );
    });
  },
  classify(e) {
    const err = e as { code?: string; fatal?: boolean; errno?: number };
    const code = codeOf(e);
    const store =
      err.fatal === true ||
      isNetworkError(e) ||
      /^(PROTOCOL_|ER_ACCESS_DENIED|ER_DBACCESS_DENIED|ER_BAD_DB_ERROR|ER_CON_COUNT|ER_SERVER_SHUTDOWN|ER_NET_|ER_HOST_|ER_TOO_MANY_USER|ER_OUT_OF_RESOURCES|ER_CONNECTION_KILLED)/.test(code);
    return { kind: store ? 'store' : 'query', message: messageOf(e) };
  },
  abandon(conn) {
    (conn as MysqlConnection).destroy();
  },
  async cancel(conn, k) {
    // The server runs a query whose client has gone on until it next writes to it (a SLEEP, a
    // lock wait, a long sort: minutes on a legacy server): KILL QUERY, from a connection of its own.
    await (k.client as { cancelQuery(c: unknown): Promise<unknown> }).cancelQuery(conn);
  },
  storeHint: 'check that the MySQL/MariaDB server is running and reachable, and the host, port, user, password and database in source.url',
};

// ---- SQLite -------------------------------------------------------------------------------

/** A SQLite value as text: integers exact (read as BigInt), reals as their shortest decimal, blobs as `\x` hex. */
export function sqliteCell(v: unknown): Cell {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return doubleText(v);
  if (v instanceof Uint8Array) return binaryText(v);
  return String(v);
}

/** The file must exist: a typo in the path must not look like an empty database. */
async function checkSqliteFile(url: string, ctx: ErrorContext): Promise<void> {
  const file = sqlitePath(url);
  if (file === '') throw badUrl(ctx, 'sqlite: needs a file path');
  if (file === ':memory:') return;
  try {
    await stat(file);
  } catch (e) {
    throw new StoreError(`${ctx.display}: the database file does not exist`, {
      code: 'store.connect',
      hint: `check the sqlite: path in source.url (a relative path is taken from the working directory, ${process.cwd()})`,
      cause: e,
    });
  }
}

const NOT_ASCII = /[\u0080-\uFFFF]/;

const sqlite: Dialect = {
  config(url) {
    return { client: 'better-sqlite3', connection: { filename: sqlitePath(url), options: { readonly: true } }, useNullAsDefault: true };
  },
  async prepare() {},
  async start(conn, sql, _batchSize, text) {
    const db = conn as Database.Database;
    // SQLite keeps the bytes a legacy program stored as TEXT; the mapping names their encoding.
    const decoder = text.named && text.encoding !== 'utf-8' ? new LegacyTextDecoder(text, 'SQLite keeps the bytes a program stored as TEXT, in whatever encoding it used') : undefined;
    const stmt = db.prepare(sql);
    if (!stmt.reader) return { header: [], read: async () => [], close: async () => {} };
    const header = stmt.columns().map((c) => c.name);
    const it = stmt.raw(true).safeIntegers(true).iterate() as IterableIterator<unknown[]>;
    let done = false;
    let rowNo = 0;
    let check: SqliteTextCheck | undefined;
    const faults = new WeakMap<Cell[], CellFault[]>();
    return {
      header,
      faults,
      async read(n) {
        const out: Cell[][] = [];
        while (!done && out.length < n) {
          const r = it.next();
          if (r.done === true) {
            done = true;
            break;
          }
          const row = r.value;
          rowNo++;
          const cells = new Array<Cell>(row.length);
          let bad: CellFault[] | undefined;
          for (let i = 0; i < row.length; i++) {
            const v = row[i];
            // U+FFFD: the database holds that character, or bytes that are not UTF-8 (see sqlite-text.ts).
            if (typeof v === 'string' && v.includes('\uFFFD')) {
              const bytes = (check ??= new SqliteTextCheck(db, sql, header)).nonUtf8(rowNo, i, row);
              if (bytes !== undefined) {
                bad = putDecoded(cells, i, decoder === undefined ? nonUtf8Fault(i, rowNo, bytes) : decoder.decode(bytes, i, rowNo), bad);
                continue;
              }
            }
            // Valid UTF-8 beyond ASCII under a named encoding: the same rule as the other SQL sources (allow_valid_utf8).
            if (decoder !== undefined && typeof v === 'string' && NOT_ASCII.test(v)) {
              bad = putDecoded(cells, i, decoder.decode(Buffer.from(v, 'utf8'), i, rowNo), bad);
              continue;
            }
            cells[i] = sqliteCell(v);
          }
          if (bad !== undefined) faults.set(cells, bad);
          out.push(cells);
        }
        if (done) check?.close();
        return out;
      },
      async close() {
        if (!done) it.return?.();
        done = true;
        check?.close();
      },
    };
  },
  classify(e) {
    if (e instanceof TextRereadError) return { kind: 'query', message: e.message, dbHint: e.dbHint };
    const code = codeOf(e);
    const store = /^SQLITE_(CANTOPEN|NOTADB|CORRUPT|IOERR|BUSY|LOCKED|PERM|AUTH|FULL|NOMEM)/.test(code);
    return { kind: store ? 'store' : 'query', message: messageOf(e) };
  },
  storeHint: 'check the sqlite: path in source.url and that the file is a SQLite database you may read',
};

// ---- SQL Server ---------------------------------------------------------------------------

interface TdsColumn {
  colName: string;
  type: { name: string };
  scale?: number | undefined;
  precision?: number | undefined;
  dataLength?: number | undefined;
}

/** tedious reads decimal and money as a binary float: exact only while the unscaled value is below 2^52. */
const EXACT_LIMIT = 2 ** 52;

export class InexactDecimalError extends Error {
  constructor(
    readonly column: string,
    /** A number held in a sql_variant, whose base type the driver does not report. */
    readonly variant = false,
  ) {
    super(
      variant
        ? `column ${column}: a number held in a sql_variant cannot be read exactly (the SQL Server driver reads it as binary floating point and does not say whether it was a decimal, money, float or integer)`
        : `column ${column}: a decimal with more than 15 significant digits cannot be read exactly (the SQL Server driver reads decimals as binary floating point)`,
    );
    this.name = 'InexactDecimalError';
  }
}

function isoOf(v: unknown): string {
  if (!(v instanceof Date) || Number.isNaN(v.getTime())) throw new BugError(`expected a date from tedious, got ${typeof v}`);
  return v.toISOString();
}

/** The fraction of a tedious time value with `scale` digits: milliseconds plus its nanosecondsDelta. */
function fractionOf(v: Date, scale: number): string {
  if (scale <= 0) return '';
  const delta = (v as Date & { nanosecondsDelta?: number }).nanosecondsDelta ?? 0;
  const digits = isoOf(v).slice(20, 23) + String(Math.round(delta * 1e7)).padStart(4, '0');
  return `.${digits.slice(0, Math.min(scale, 7))}`;
}

/**
 * How a SQL Server value (as tedious returns it) becomes the cell. tedious reads datetime
 * without a zone as UTC (useUTC), so its ISO digits are the wall time as stored; datetimeoffset
 * comes as the instant (the original offset is not reported) and is written with +00:00.
 * Decimals and money are exact up to 15 significant digits; beyond, an InexactDecimalError
 * (the query should CAST such a column to varchar).
 */
export function mssqlConverter(col: TdsColumn): (v: unknown) => string {
  const scale = col.scale;
  switch (col.type.name) {
    case 'Bit':
    case 'BitN':
      return (v) => (v === true ? 'true' : v === false ? 'false' : String(v));
    case 'Real':
      return (v) => float32Text(v as number);
    case 'Float':
    case 'FloatN':
      return col.dataLength === 4 ? (v) => float32Text(v as number) : (v) => doubleText(v as number);
    case 'Money':
    case 'MoneyN':
    case 'SmallMoney':
      return exactScaled(4, col.colName);
    case 'Decimal':
    case 'DecimalN':
    case 'Numeric':
    case 'NumericN':
      return exactScaled(scale ?? 0, col.colName);
    case 'Date':
      return (v) => isoOf(v).slice(0, 10);
    case 'SmallDateTime':
      return (v) => isoOf(v).slice(0, 19);
    case 'DateTime':
      return (v) => isoOf(v).slice(0, 23);
    case 'DateTimeN':
      return col.dataLength === 4 ? (v) => isoOf(v).slice(0, 19) : (v) => isoOf(v).slice(0, 23);
    case 'DateTime2':
      return (v) => isoOf(v).slice(0, 19) + fractionOf(v as Date, scale ?? 7);
    case 'DateTimeOffset':
      return (v) => `${isoOf(v).slice(0, 19)}${fractionOf(v as Date, scale ?? 7)}+00:00`;
    case 'Time':
      return (v) => isoOf(v).slice(11, 19) + fractionOf(v as Date, scale ?? 7);
    case 'Variant':
      return variantText(col.colName);
    default:
      return anyText;
  }
}

/**
 * A sql_variant's value. tedious reads a decimal or money held in one as a binary float and drops
 * its base type, so a number here may already be rounded (12345678901234567.89 arrives as
 * 12345678901234568) with nothing to tell it from an exact integer or float: every number is
 * refused, with the query that reads the variant as exact text (InexactDecimalError). An instant
 * keeps the digits below the millisecond tedious gives apart (nanosecondsDelta).
 */
function variantText(column: string): (v: unknown) => string {
  return (v) => {
    if (typeof v === 'number') throw new InexactDecimalError(column, true);
    if (v instanceof Date) return tediousInstantText(v);
    return anyText(v);
  };
}

function exactScaled(scale: number, column: string): (v: unknown) => string {
  const factor = 10 ** scale;
  return (v) => {
    if (typeof v === 'string') return v;
    const n = v as number;
    if (!Number.isFinite(n) || Math.abs(n) * factor >= EXACT_LIMIT) throw new InexactDecimalError(column);
    return n.toFixed(scale);
  };
}

/** Any other value by its JS type: text as is, bigint (a string from tedious) exact, binary as `\x` hex. */
function anyText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return doubleText(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return binaryText(v);
  if (v instanceof Date) return isoOf(v);
  return JSON.stringify(v) ?? String(v);
}

/** What to write in the query instead: the column as exact text (a sql_variant converted by its base type). */
export function mssqlInexactHint(e: InexactDecimalError): string {
  if (!e.variant) return `convert it to text in the query, e.g. CAST(${e.column} AS varchar(50)) AS ${e.column}`;
  const c = `[${e.column.replace(/]/g, ']]')}]`;
  return `read the column as text in the query, converted by its base type: ${mssqlVariantText(c)} AS ${c}`;
}

/** knex/tedious connection settings for an mssql:// or sqlserver:// URL. */
export function mssqlConnection(url: string, ctx: ErrorContext): Record<string, unknown> {
  const u = parseServerUrl(url, ctx);
  const p = u.searchParams;
  const flag = (name: string, dflt: boolean): boolean => {
    const v = p.get(name);
    return v === null ? dflt : /^(true|1|yes)$/i.test(v);
  };
  const database = decodeUrlPart(u.pathname.replace(/^\//, ''));
  const instanceName = p.get('instanceName') ?? p.get('instance');
  const domain = p.get('domain');
  return {
    server: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    ...(u.port === '' ? {} : { port: Number(u.port) }),
    user: decodeUrlPart(u.username),
    password: decodeUrlPart(u.password),
    ...(domain === null ? {} : { domain }),
    ...(database === '' ? {} : { database }),
    connectionTimeout: CONNECT_TIMEOUT_MS,
    // A streamed query runs as long as the rows take to consume.
    requestTimeout: 0,
    options: {
      // strict: TDS 8.0, TLS before the login (tedious takes the word itself), as the target does.
      encrypt: p.get('encrypt')?.toLowerCase() === 'strict' ? 'strict' : flag('encrypt', false),
      trustServerCertificate: flag('trustServerCertificate', false),
      ...(instanceName === null ? {} : { instanceName }),
      appName: 'forklift',
      useUTC: true,
    },
  };
}

/**
 * What begins the transaction a SQL Server source query runs in. READ COMMITTED, the level a
 * session has anyway: a SELECT holds each shared lock only while it reads the row (none at all
 * where the database reads committed rows from versions), so an open transaction changes nothing
 * for a plain SELECT and the ERP's users are not held up by a long read; only a statement that
 * writes keeps its locks, until the rollback. Not SNAPSHOT (the legacy database may not allow
 * it) and not REPEATABLE READ or SERIALIZABLE (every row read would stay locked until the end).
 * Two levels deep: a COMMIT in the query, or in a procedure it calls, only lowers the count.
 */
export const MSSQL_SOURCE_BEGIN = 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED;\nBEGIN TRANSACTION;\nBEGIN TRANSACTION;';
/** What ends it, every time: all levels rolled back (none left when an error already did that). */
export const MSSQL_SOURCE_ROLLBACK = 'IF @@TRANCOUNT > 0 ROLLBACK TRANSACTION;';

/**
 * A query that ended the transaction forklift runs it in (a ROLLBACK, or a COMMIT for each level):
 * whatever it ran after that was not undone at the end.
 */
export class QueryEndedTransactionError extends Error {
  constructor() {
    super('the query ended the transaction forklift reads in (a COMMIT or ROLLBACK of its own), so a change it made after that may have been kept');
    this.name = 'QueryEndedTransactionError';
  }
  readonly dbHint = 'a source query must only read: remove COMMIT, ROLLBACK and every statement that writes, and check the legacy data';
}

/** Runs one batch of statements that return no rows. */
async function tdsBatch(c: TdsConnection, sql: string): Promise<void> {
  const { Request } = await import('tedious');
  await new Promise<void>((resolve, reject) => c.execSqlBatch(new Request(sql, (err) => (err ? reject(err) : resolve()))));
}

const mssql: Dialect = {
  config(url, ctx) {
    return { client: 'mssql', connection: mssqlConnection(url, ctx) };
  },
  async prepare(conn) {
    const c = conn as TdsConnection;
    await tdsBatch(c, MSSQL_SOURCE_BEGIN);
    // tedious learns of the transaction from the server's answer; without one the query must not run.
    if (!c.inTransaction) throw new Error('SQL Server did not begin the transaction a source query runs in');
  },
  async start(conn, sql, batchSize) {
    const c = conn as TdsConnection;
    const { Request } = await import('tedious');
    return new Promise<RowCursor>((resolve, reject) => {
      let convert: ((v: unknown) => string)[] = [];
      let columns: TdsColumn[] = [];
      let settled = false;
      let cancelled = false;
      const failWith = (e: unknown): void => {
        if (settled) queue.fail(e);
        else {
          settled = true;
          reject(e);
        }
      };
      const request: TdsRequest = new Request(
        sql,
        guarded(failWith, (err: Error | null | undefined) => {
          if (err && !(cancelled && codeOf(err) === 'ECANCEL')) failWith(err);
          else if (!cancelled && !c.inTransaction) failWith(new QueryEndedTransactionError());
          queue.end();
          if (!settled) {
            settled = true;
            resolve(cursor([]));
          }
        }),
      );
      const queue = new RowQueue(batchSize, () => request.pause(), () => request.resume());
      const cursor = (header: string[]): RowCursor => ({
        header,
        read: (n, signal) => queue.take(n, signal),
        async close() {
          if (queue.done) return;
          cancelled = true;
          request.resume();
          await new Promise<void>((res) => {
            request.once('requestCompleted', () => res());
            if (!c.cancel()) res();
          });
        },
      });
      // Stops the request on our own failure (a second result set, a value it cannot read).
      const stop = (e: unknown): void => {
        failWith(e);
        if (cancelled) return;
        cancelled = true;
        c.cancel();
      };
      request.on(
        'columnMetadata',
        guarded(stop, (cols: TdsColumn[] | Record<string, TdsColumn>) => {
          if (settled) return stop(new MultipleResultSetsError());
          columns = Array.isArray(cols) ? cols : Object.values(cols);
          convert = columns.map(mssqlConverter);
          settled = true;
          resolve(cursor(columns.map((col) => col.colName)));
        }),
      );
      request.on(
        'row',
        guarded(stop, (row: { value: unknown }[]) => {
          if (cancelled) return;
          const cells = new Array<Cell>(row.length);
          for (let i = 0; i < row.length; i++) {
            const v = (row[i] as { value: unknown }).value;
            cells[i] = v === null || v === undefined ? null : (convert[i] as (v: unknown) => string)(v);
          }
          queue.push(cells);
        }),
      );
      // Checked after each statement: the next one would run outside the transaction, so the batch
      // is stopped at once. An error that rolled it back (XACT_ABORT) is the reason to report.
      const checkTransaction = (): void => {
        if (!c.inTransaction && !cancelled) stop(request.error ?? new QueryEndedTransactionError());
      };
      request.on('done', guarded(stop, checkTransaction));
      request.on('doneInProc', guarded(stop, checkTransaction));
      request.on('doneProc', guarded(stop, checkTransaction));
      c.execSqlBatch(request);
    });
  },
  finish(conn) {
    return tdsBatch(conn as TdsConnection, MSSQL_SOURCE_ROLLBACK);
  },
  classify(e) {
    if (e instanceof InexactDecimalError) return { kind: 'query', message: e.message, dbHint: mssqlInexactHint(e) };
    if (e instanceof QueryEndedTransactionError) return { kind: 'query', message: e.message, dbHint: e.dbHint };
    const name = e instanceof Error ? e.name : '';
    const store = name === 'ConnectionError' || isNetworkError(e) || /^(ESOCKET|ETIMEOUT|ELOGIN|EINSTLOOKUP|ECLOSE|ECONNCLOSED)$/.test(codeOf(e));
    return { kind: store ? 'store' : 'query', message: messageOf(e) };
  },
  abandon(conn) {
    // Closing ends the session: the server rolls back the transaction the query ran in.
    (conn as TdsConnection).close();
  },
  cancel(conn) {
    // Ctrl-C: the batch stops on the server now, not when it notices the connection has gone.
    (conn as TdsConnection).cancel();
  },
  storeHint: 'check that SQL Server is running and reachable, and the host, port, user, password and database in source.url (add ?encrypt=true&trustServerCertificate=true where the server requires TLS)',
};

const DIALECTS: Record<StoreKind, Dialect> = { sqlite, postgres, mysql, mssql };
