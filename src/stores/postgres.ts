import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import type { Knex } from 'knex';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { BugError, StoreError } from '../core/errors.js';
import type { Entity } from '../model/types.js';
import { q } from '../util/sql-name.js';
import { checkNameLengths, PG_NAME_LIMIT } from './name-limits.js';
import { PG_RUNS_DDL, copyEncoder, copyTextChunks, describePgError, pgColumnType, pgCreateTable, pgReadExpression } from './dialect-postgres.js';
import { firstHeldKey, keyClashError, keysCondition, mayMeetHeldKeys } from './key-clash.js';
import { shapeError, shapeMismatches } from './table-shape.js';
import { TABLES_TABLE, bySchema, describeFrom, interruptedLoadError, nativeColumnsFor, orderColumns, pooledConnections, tableRecords } from './read-common.js';
import {
  PG_BASE_TYPE_JOIN,
  PG_CONSTRAINTS_SQL,
  PG_DELETE_TRIGGERS_SQL,
  PG_FOREIGN_KEYS_SQL,
  pgDeleteTriggers,
  type PgDeleteTriggerRow,
  PG_READ_SESSION,
  PG_RELKINDS_SQL,
  PG_TABLES_DDL,
  PG_TABLES_ELSEWHERE_SQL,
  PG_TABLES_UPSERT,
  pgByteOrderedCollations,
  pgColumnsSql,
  pgCopyRows,
  pgForeignKey,
  pgReadPlan,
  pgTables,
  type PgColumnRow,
  type PgConstraintRow,
  type PgForeignKeyRow,
} from './read-postgres.js';
import { referencedClosure } from './referenced.js';
import { ParkedResult } from './read-stream.js';
import { RolledBack, loadNarrowing, type Refusal } from './rehearse.js';
import { DeleteGuard, archivedKeyMatch, referencedSql, referencedTables, tableLabel, valueColumns, withModelReferences, type ArchivedTable, type RefDialect, type RowSet } from './delete-common.js';
import { upsertSetNames } from './upsert-common.js';
import type { DeleteRequest, DeleteTable, DeleteTrigger, EntityLoad, KeySets, LoadRequest, ReadRowsOptions, RehearsalRequest, RunEntry, SchemaTables, StoreCounter, StoreForeignKey, StoreSnapshot, TargetStore } from './types.js';
import { adoptionLinks, firstChainEntry, unchainedSql, nextLink, runEntryRow, type ChainLink } from '../audit/chain.js';
import { activeSigner } from '../audit/signing.js';
import { TARGET_URL, checkServerUrl, redactUrl, scrubSecrets, urlSecrets } from './url.js';
import { pgCancel } from './pg-cancel.js';
import { pgConnectionConfig } from './pg-ssl.js';
import { stagedRows } from './staged-rows.js';
import { abortReason, cancelOnAbort } from '../util/abort.js';

/**
 * A PostgreSQL target (postgres:// or postgresql://). knex owns the pool and the transaction; inside
 * it the transaction's own pg connection runs the DDL and `COPY … FROM STDIN` (pg-copy-streams),
 * fed from the staging file row by row with backpressure. One transaction per run: tables,
 * emptying (replace), every entity's rows and the forklift_runs entry commit together or not at all.
 */

// knex (with lodash, some 130 files) and better-sqlite3 load when a store first needs them, not
// with the module: an export or a diff reads through pg's own client alone (about 0.1 s sooner).
const require = createRequire(import.meta.url);
const knexFactory = (): typeof import('knex') => require('knex') as typeof import('knex');
const sqliteDriver = (): typeof Database => require('better-sqlite3') as typeof Database;

/** Distinct values per batch when reading a column back. */
const READ_BATCH = 5000;

export class PostgresStore implements TargetStore {
  readonly kind = 'postgres' as const;
  readonly keysIgnoreTrailingSpaces = false;
  ledgerHead: string | null = null;
  readonly display: string;
  private pool: Knex | undefined;
  private readonly secrets: string[];
  /** The URL itself, for the read side's connections of their own (never shown). */
  private readonly url: string;

  constructor(
    url: string,
    /** How hints name the URL (TARGET_URL, or a source's). */
    private readonly urlName = TARGET_URL,
  ) {
    // Before pg parses it: a URL it cannot parse is an "Invalid URL" bug, one it misreads connects to a piece of the password.
    checkServerUrl(url);
    this.url = url;
    this.display = redactUrl(url);
    this.secrets = urlSecrets(url);
  }

  /** knex and its pool, made on first use. */
  private get k(): Knex {
    return (this.pool ??= knexFactory()({
      client: 'pg',
      // A function: sslmode=prefer and allow are settled by a probe first (pg-ssl.ts).
      connection: async () => ({ ...(await pgConnectionConfig(this.url)), connectionTimeoutMillis: 15_000, application_name: 'forklift' }),
      // knex would otherwise put bound values into error messages (customer data).
      compileSqlOnError: false,
      pool: { min: 0, max: 2 },
      acquireConnectionTimeout: 30_000,
      // knex prints connection errors on stdout itself; they reach the user as a StoreError instead.
      log: { warn: () => {}, error: () => {}, deprecate: () => {}, debug: () => {} },
    }));
  }

  get knex(): Knex {
    return this.k;
  }

  async hasTable(name: string): Promise<boolean> {
    try {
      return await this.k.schema.hasTable(name);
    } catch (e) {
      throw this.storeError(e, 'store.connect');
    }
  }

  /** Every sequence of the database's own schemas, last_value as text (null: not yet used, or not this login's to read). */
  async counters(): Promise<StoreCounter[]> {
    try {
      const res = (await this.k.raw(PG_COUNTERS_SQL)) as { rows: StoreCounter[] };
      return res.rows;
    } catch (e) {
      throw this.storeError(e, 'store.connect');
    }
  }

  async *readColumn(table: string, column: string): AsyncIterable<unknown[]> {
    let pgType: string | undefined;
    try {
      const res = (await this.k.raw(`SELECT format_type(base.oid, base.mod) AS t FROM pg_attribute a ${PG_BASE_TYPE_JOIN} WHERE a.attrelid = to_regclass(?) AND a.attname = ? AND NOT a.attisdropped`, [q(table), column])) as pg.QueryResult<{ t: string }>;
      pgType = res.rows[0]?.t;
    } catch (e) {
      throw this.storeError(e, 'store.read');
    }
    if (pgType === undefined) throw new StoreError(`${this.display}: table ${table} has no column ${column}`, { code: 'store.read', hint: 'The target table does not match the model: compare it with the model.' });
    const { sql, decode } = pgReadExpression(column, pgType);
    const c = q(column);
    const from = await this.ownRows(table);
    // Keyset paging over the column's own order (its index, for a key): no cursor held open
    // between batches, never the whole column in memory. NULL references nothing, so it is left out.
    let after: string | undefined;
    for (;;) {
      let rows: { k: string; v: unknown }[];
      try {
        const where = after === undefined ? '' : ` AND ${c} > CAST(? AS ${pgType})`;
        const res = (await this.k.raw(`SELECT ${c}::text AS k, ${sql} AS v FROM ${from} WHERE ${c} IS NOT NULL${where} GROUP BY ${c} ORDER BY ${c} LIMIT ${READ_BATCH}`, after === undefined ? [] : [after])) as pg.QueryResult<{ k: string; v: unknown }>;
        rows = res.rows;
      } catch (e) {
        throw this.storeError(e, 'store.read');
      }
      if (rows.length === 0) return;
      yield rows.map((r) => (r.v === null ? null : decode(r.v as string)));
      if (rows.length < READ_BATCH) return;
      after = rows[rows.length - 1]!.k;
    }
  }

  async maxPerGroup(table: string, groupBy: readonly string[], column: string): Promise<unknown[][]> {
    const names = [...groupBy, column];
    try {
      const res = (await this.k.raw(`SELECT a.attname AS c, format_type(base.oid, base.mod) AS t FROM pg_attribute a ${PG_BASE_TYPE_JOIN} WHERE a.attrelid = to_regclass(?) AND a.attname = ANY(?) AND NOT a.attisdropped`, [q(table), names])) as pg.QueryResult<{ c: string; t: string }>;
      const types = new Map(res.rows.map((r) => [r.c, r.t]));
      const missing = names.find((n) => !types.has(n));
      if (missing !== undefined) throw new StoreError(`${this.display}: table ${table} has no column ${missing}`, { code: 'store.read', hint: 'The target table does not match the model: compare it with the model.' });
      // The maximum cut to milliseconds: compared with staged instants, it is exact (pgReadExpression).
      const reads = names.map((n, i) => pgReadExpression(n, types.get(n)!, i === groupBy.length ? 'floor' : 'exact'));
      const g = groupBy.map(q);
      // The maximum in the column's own type (a timestamp's order, not its text's), then read back.
      const inner = `SELECT ${[...g, `MAX(${q(column)}) AS ${q(column)}`].join(', ')} FROM ${await this.ownRows(table)}${g.length ? ` GROUP BY ${g.join(', ')}` : ''}`;
      const out = (await this.k.raw(`SELECT ${reads.map((r, i) => `${r.sql} AS c${i}`).join(', ')} FROM (${inner}) s WHERE ${q(column)} IS NOT NULL`)) as pg.QueryResult<Record<string, unknown>>;
      return out.rows.map((row) =>
        reads.map((r, i) => {
          const v = row[`c${i}`];
          return v === null ? null : r.decode(v as string);
        }),
      );
    } catch (e) {
      throw this.storeError(e, 'store.read');
    }
  }

  /** The table's own rows (ownRowsOf), for reads through knex. */
  private async ownRows(table: string): Promise<string> {
    const res = (await this.k.raw(RELKIND_SQL.replace('$1', '?'), [q(table)])) as pg.QueryResult<{ rk: string }>;
    return ownRowsOf(table, res.rows[0]?.rk);
  }

  async load(req: LoadRequest): Promise<Map<string, number>> {
    const loaded = new Map<string, number>();
    let link: ChainLink | undefined;
    // The entity whose COPY met a key its table already holds: named once the load is rolled back.
    let clashed: EntityLoad | undefined;
    try {
      await this.inTransaction(req, async (trx, conn, db) => {
        await prepareTables(conn, req, this.display);
        for (const l of req.entities) {
          req.signal?.throwIfAborted();
          const n = await copyEntity(conn, db, l, req.signal).catch((e: unknown) => {
            if ((e as { code?: unknown } | null)?.code === UNIQUE_VIOLATION && mayMeetHeldKeys(l)) clashed = l;
            throw e;
          });
          if (n !== l.expected) throw new BugError(`${l.entity.name}: inserted ${n} rows, expected ${l.expected}`);
          loaded.set(l.entity.name, n);
        }
        // Statistics for the tables just loaded, committed with them: a new table has none until
        // autovacuum comes by, and without them the planner sorts the whole table for a key-order
        // read (export, diff, exit) instead of walking its primary key (0.13 s for 1M rows).
        if (req.entities.length) await conn.query(`ANALYZE ${req.entities.map((l) => q(l.entity.name)).join(', ')}`);
        link = await insertRun(trx, req.entry);
      });
    } catch (e) {
      if (clashed && !req.signal?.aborted) throw await this.namedKeyClash(req.stagingFile, clashed, e);
      throw e;
    }
    this.ledgerHead = link?.entry_hash ?? this.ledgerHead;
    return loaded;
  }

  /**
   * PostgreSQL names the key (its DETAIL) but the line of its own COPY, not the source's: the
   * staged keys are looked up in the table (key-clash.ts), after the rollback, on a connection of
   * the pool. The error as it was where the lookup finds nothing or fails.
   */
  private async namedKeyClash(stagingFile: string, l: EntityLoad, e: unknown): Promise<unknown> {
    let staging: Database.Database | undefined;
    let conn: pg.Client | undefined;
    try {
      staging = new (sqliteDriver())(stagingFile, { readonly: true, fileMustExist: true });
      conn = (await this.k.client.acquireConnection()) as pg.Client;
      const c = conn;
      const key = l.entity.primaryKey;
      const hit = await firstHeldKey(staging, l, async (keys) => {
        const sql = pgHeldKeysSql(l.entity.name, key, keys.length);
        return (await c.query(sql, keys.flatMap((k) => k.map((v) => (v === null ? null : String(v)))))).rows.length > 0;
      });
      return hit ? keyClashError(this.display, l, hit, e) : e;
    } catch {
      return e;
    } finally {
      staging?.close();
      if (conn) await this.k.client.releaseConnection(conn);
    }
  }

  /**
   * The load in one transaction that is rolled back: PostgreSQL's DDL is transactional, so the
   * tables a first run would create vanish with it. Each entity's rows are COPYed into a
   * temporary table with their _seq, then moved into the table a range at a time under savepoints.
   */
  async rehearse(req: RehearsalRequest): Promise<Refusal[]> {
    let refused: Refusal[] = [];
    try {
      await this.inTransaction(req, async (_trx, conn, db) => {
        await prepareTables(conn, req, this.display);
        for (const l of req.entities) await copyToRehearsal(conn, db, l, req.signal);
        const sql = (text: string) => async (): Promise<void> => void (await conn.query(text));
        refused = await loadNarrowing(
          {
            savepoint: (name) => sql(`SAVEPOINT ${name}`)(),
            rollbackTo: (name) => sql(`ROLLBACK TO SAVEPOINT ${name}`)(),
            release: (name) => sql(`RELEASE SAVEPOINT ${name}`)(),
            loadRange: async (l, r) => void (await conn.query(rehearsalInsert(l), [r.lo, r.hi])),
            describe: (e) => this.scrub(describePgError(e).message),
          },
          db,
          req.entities,
          req.signal,
        );
        // currval answers only for a sequence this session has drawn from: the rehearsal's own
        // (its inserts, their defaults, their triggers), whatever other sessions did meanwhile.
        if (req.onCountersUsed) {
          await conn.query(PG_USED_SEQUENCE_FN);
          req.onCountersUsed((await conn.query<{ name: string }>(PG_USED_COUNTERS_SQL)).rows.map((r) => r.name));
        }
        throw new RolledBack();
      });
    } catch (e) {
      if (!(e instanceof RolledBack)) throw e;
    }
    return refused;
  }

  /**
   * fn inside one knex transaction, on its own pg connection, with the staging file open
   * read-only. The signal cancels the statement running on the server (a COPY, a TRUNCATE waiting
   * for another session's lock), which fails fn, and the transaction rolls back.
   */
  private async inTransaction(req: Pick<LoadRequest, 'stagingFile' | 'signal'>, fn: (trx: Knex.Transaction, conn: pg.Client, staging: Database.Database) => Promise<void>): Promise<void> {
    let staging: Database.Database | undefined;
    // The error that stopped the load: when the connection is gone, knex's ROLLBACK fails too,
    // and that second error would hide the cause.
    let first: unknown;
    try {
      staging = new (sqliteDriver())(req.stagingFile, { readonly: true, fileMustExist: true });
      const db = staging;
      await this.k.transaction(async (trx) => {
        try {
          // Inside a knex transaction the client hands out the transaction's own connection.
          const conn = (await trx.client.acquireConnection()) as pg.Client;
          await cancelOnAbort(req.signal, () => pgCancel(conn), () => fn(trx, conn, db));
        } catch (e) {
          first = e;
          throw e;
        }
      });
    } catch (e) {
      const cause = req.signal?.aborted ? abortReason(req.signal) : (first ?? e);
      if (cause instanceof RolledBack) throw cause;
      throw this.storeError(cause, 'store.load');
    } finally {
      staging?.close();
    }
  }

  async recordRun(entry: RunEntry): Promise<void> {
    try {
      const link = await this.k.transaction(async (trx) => {
        await ensureRunsTable((await trx.client.acquireConnection()) as pg.Client);
        return insertRun(trx, entry);
      });
      this.ledgerHead = link.entry_hash;
    } catch (e) {
      throw this.storeError(e, 'store.load');
    }
  }

  async initLedger(entryFor: (adopted: number) => RunEntry): Promise<{ adopted: number }> {
    try {
      const { adopted, link } = await this.k.transaction(async (trx) => {
        await ensureRunsTable((await trx.client.acquireConnection()) as pg.Client);
        await trx.raw("SELECT pg_advisory_xact_lock(hashtext('forklift_runs'))");
        await addChainColumns(trx);
        const old = await unchainedRows(trx);
        const head = (await trx.raw('SELECT seq, entry_hash FROM forklift_runs WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1')) as { rows: { seq: string; entry_hash: string }[] };
        const links = adoptionLinks(old, head.rows[0], activeSigner());
        for (const { id, link } of links) await trx('forklift_runs').where({ id }).update(link);
        return { adopted: links.length, link: await insertRun(trx, entryFor(links.length)) };
      });
      this.ledgerHead = link.entry_hash;
      return { adopted };
    } catch (e) {
      throw this.storeError(e, 'store.load');
    }
  }

  async deleteRows(req: DeleteRequest): Promise<Map<string, number>> {
    const deleted = new Map<string, number>();
    let first: unknown;
    let link: ChainLink | undefined;
    try {
      await this.k.transaction(async (trx) => {
        try {
          const conn = (await trx.client.acquireConnection()) as pg.Client;
          const refs = await pgReferences(conn);
          const { d } = refs;
          const fks = withModelReferences(refs.fks, req.references);
          req.checkTriggers?.(pgDeleteTriggers((await conn.query<PgDeleteTriggerRow>(PG_DELETE_TRIGGERS_SQL)).rows));
          const tables: ArchivedTable[] = [];
          for (const [i, t] of req.tables.entries()) {
            req.signal?.throwIfAborted();
            tables.push(await loadArchive(conn, d, t, i, req.signal));
          }
          // Locked before anything is counted or checked: a row that comes to reference one of
          // them now waits for this commit (its foreign key check takes a lock these conflict
          // with), then fails; read committed, every check sees what committed before.
          for (const t of referencedTables(tables, fks)) {
            await conn.query(`SELECT count(*) FROM (SELECT 1 FROM ${d.rows(null, t.entity.name)} t JOIN ${t.archive} a ON ${archivedKeyMatch(d, t.entity, 't', 'a')} FOR UPDATE OF t) x`);
          }
          const guard = await DeleteGuard.start(d, async (sql) => Number((await conn.query<{ count: string }>(sql)).rows[0]!.count), tables, fks);
          await guard.checkReferences();
          req.signal?.throwIfAborted();
          for (const [name, n] of await deleteArchived(conn, d, tables)) deleted.set(name, n);
          await guard.checkCounts(deleted);
          await ensureRunsTable(conn);
          link = await insertRun(trx, req.entry);
        } catch (e) {
          first = e;
          throw e;
        }
      });
    } catch (e) {
      throw this.storeError(first ?? e, 'store.purge');
    }
    this.ledgerHead = link?.entry_hash ?? this.ledgerHead;
    return deleted;
  }

  async foreignKeys(): Promise<StoreForeignKey[]> {
    try {
      return ((await this.k.raw(PG_FOREIGN_KEYS_SQL)) as pg.QueryResult<PgForeignKeyRow>).rows.map(pgForeignKey);
    } catch (e) {
      throw this.storeError(e, 'store.read');
    }
  }

  async deleteTriggers(): Promise<DeleteTrigger[]> {
    try {
      return pgDeleteTriggers(((await this.k.raw(PG_DELETE_TRIGGERS_SQL)) as pg.QueryResult<PgDeleteTriggerRow>).rows);
    } catch (e) {
      throw this.storeError(e, 'store.read');
    }
  }

  async openKeySets(): Promise<KeySets> {
    const client = new pg.Client({ ...(await pgConnectionConfig(this.url)), connectionTimeoutMillis: 15_000, application_name: 'forklift' });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query(PG_READ_SESSION);
      return new PgKeySets(client, (await pgReferences(client)).d, (e) => this.storeError(e, 'store.read'));
    } catch (e) {
      await client.end().catch(() => {});
      throw this.storeError(e, 'store.read');
    }
  }

  async describeTables(): Promise<Entity[]> {
    try {
      return await pgDescribe((sql) => this.k.raw(sql) as Promise<pg.QueryResult>);
    } catch (e) {
      throw this.storeError(e, 'store.read');
    }
  }

  async tablesElsewhere(): Promise<SchemaTables[]> {
    try {
      const res = (await this.k.raw(PG_TABLES_ELSEWHERE_SQL)) as pg.QueryResult<{ s: string; t: string }>;
      return bySchema(res.rows);
    } catch (e) {
      throw this.storeError(e, 'store.read');
    }
  }

  /**
   * The rows of a table through COPY TO STDOUT on a connection of its own (the pool's stay free
   * for the caller): a snapshot of that one table (PgSnapshot), so a TRUNCATE committed while the
   * read waited for it is seen as the rows it left, never as an empty table.
   */
  async *readRows(table: Entity, opts: ReadRowsOptions = {}): AsyncIterable<unknown[][]> {
    const snap = await PgSnapshot.open(this.url, this.display, (e, code) => this.storeError(e, code), { table: table.name, signal: opts.signal });
    try {
      yield* snap.readRows(table, opts);
    } finally {
      await snap.close();
    }
  }

  async snapshot(opts: { signal?: AbortSignal | undefined } = {}): Promise<StoreSnapshot> {
    return PgSnapshot.open(this.url, this.display, (e, code) => this.storeError(e, code), { signal: opts.signal });
  }

  cancelStatements(): void {
    if (this.pool) for (const conn of pooledConnections<pg.Client>(this.pool)) pgCancel(conn);
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
  }

  private storeError(e: unknown, code: string): Error {
    if (e instanceof BugError || e instanceof StoreError) return e;
    const interrupted = interruptedLoadError(e, this.display);
    if (interrupted) return interrupted;
    const info = describePgError(e, this.urlName);
    return new StoreError(`${this.display}: ${this.scrub(info.message)}`, { code, hint: info.hint, cause: e });
  }

  /** A server message with the URL's password taken out, wherever a driver echoes it. */
  private scrub(message: string): string {
    return scrubSecrets(message, this.secrets);
  }
}

/**
 * What a load does before the rows: the ledger table, the run's tables and every table they
 * reference (so foreign keys have a table to point at), what each table is in the model's own
 * words (for describeTables), and replace's emptying.
 */
async function prepareTables(conn: pg.Client, req: Pick<LoadRequest, 'model' | 'entities'>, display: string): Promise<void> {
  const tables = referencedClosure(req);
  checkNameLengths(display, tables, PG_NAME_LIMIT);
  await lockToCreate(conn, ['forklift_runs', TABLES_TABLE, ...tables.map((e) => e.name)]);
  await conn.query(PG_RUNS_DDL);
  for (const l of req.entities) await checkTableShape(conn, l.entity, display);
  for (const entity of tables) await conn.query(pgCreateTable(entity));
  await conn.query(PG_TABLES_DDL);
  for (const rec of tableRecords(tables)) await conn.query(PG_TABLES_UPSERT, rec);
  await emptyForReplace(conn, req.entities.filter((l) => l.mode === 'replace'));
}

/**
 * Held, to the commit, by a run that makes any of forklift's tables. CREATE TABLE IF NOT EXISTS
 * does not see a table another open transaction is making, so two first runs at once both made it,
 * and the second failed at the catalog's unique key (pg_type_typname_nsp_index). With the lock
 * the second waits until the first commits, then finds the tables made. Not the ledger's lock:
 * a run whose tables all exist takes this one never and the ledger's only at its end, so no run
 * waits for the ledger's lock while holding what a run making tables waits for.
 */
const CREATE_LOCK = "SELECT pg_advisory_xact_lock(hashtext('forklift_create_tables'))";

const UNIQUE_VIOLATION = '23505';

/** Whether the table holds any of `rows` keys, given as $1… in key order, row after row (key-clash.ts). */
export function pgHeldKeysSql(table: string, key: readonly string[], rows: number): string {
  return `SELECT 1 FROM ${q(table)} WHERE ${keysCondition(key, rows, q, (r, i) => `$${r * key.length + i + 1}`)} LIMIT 1`;
}

/** Takes CREATE_LOCK when any of `tables` is not there yet (a run whose tables all exist does not wait for it). */
async function lockToCreate(conn: pg.Client, tables: readonly string[]): Promise<void> {
  const missing = await conn.query<{ n: number }>('SELECT count(*)::int AS n FROM unnest($1::text[]) AS t(name) WHERE to_regclass(t.name) IS NULL', [tables.map(q)]);
  if ((missing.rows[0]?.n ?? 0) > 0) await conn.query(CREATE_LOCK);
}

/** forklift_runs, made under CREATE_LOCK where it is not there yet (recordRun, initLedger, deleteRows). */
async function ensureRunsTable(conn: pg.Client): Promise<void> {
  await lockToCreate(conn, ['forklift_runs']);
  await conn.query(PG_RUNS_DDL);
}

/** An existing table the entity loads into must hold the model's values exactly (table-shape.ts); a new one is made so. */
async function checkTableShape(conn: pg.Client, entity: Entity, display: string): Promise<void> {
  const rows = (await conn.query<PgColumnRow>(pgColumnsSql(true), [entity.name])).rows;
  if (rows.length === 0) return;
  const mismatches = shapeMismatches(entity, pgTables(rows, [])[0]!, pgColumnType);
  if (mismatches.length) throw shapeError(display, entity.name, mismatches);
}

/** The sequences of the database's own schemas: pg_sequences shows a sequence's last_value only to a login that may read it, and null otherwise. */
const PG_SEQUENCES = `SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) AS name, last_value::text AS value FROM pg_sequences WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND schemaname NOT LIKE 'pg\\_%'`;

/** TargetStore.counters. */
export const PG_COUNTERS_SQL = `${PG_SEQUENCES} ORDER BY 1`;

/**
 * Whether this session has drawn from a sequence (currval answers), made in the rehearsal's
 * transaction and gone with its rollback. Null where this login may not read it: not known.
 */
const PG_USED_SEQUENCE_FN = `CREATE FUNCTION pg_temp.forklift_seq_used(s regclass) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM currval(s);
  RETURN true;
EXCEPTION
  WHEN object_not_in_prerequisite_state THEN RETURN false;
  WHEN insufficient_privilege THEN RETURN NULL;
END $$`;

/** The sequences of PG_SEQUENCES this session may have drawn from (used, or not known). */
const PG_USED_COUNTERS_SQL = `SELECT name FROM (${PG_SEQUENCES}) c WHERE pg_temp.forklift_seq_used(c.name::regclass) IS NOT FALSE ORDER BY 1`;

const rehearsalTable = (entity: string): string => q(`forklift_dry_${entity}`);

/** A target column's type as written (format_type) and its base type's name. */
const PG_TARGET_TYPES_SQL = `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, t.typname AS base
FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`;

/** Target types that may be narrower than the model's (a hand-made `integer` for its bigint, a shorter varchar, fewer digits). */
const NARROWABLE = new Set(['int2', 'int4', 'int8', 'numeric', 'varchar', 'bpchar', 'text']);

/**
 * A rehearsal's temporary table: the table's columns plus _seq, filled by one COPY, and typed so
 * that the table itself is what refuses (CREATE … AS SELECT copies no constraint). A column of the
 * target that may be narrower than the model's type (integer for bigint, varchar(10) for
 * string(64), numeric(10,2) for decimal(18,4)) is the model's type here: a value it cannot hold
 * then fails its own row's INSERT into the table (narrowed to that row, refused, as on MariaDB)
 * instead of the COPY of them all. Every other column is the target's own type (an enum type, a
 * domain), which COPY reads as the real load does.
 */
async function copyToRehearsal(conn: pg.Client, staging: Database.Database, l: EntityLoad, signal: AbortSignal | undefined): Promise<void> {
  const tmp = rehearsalTable(l.entity.name);
  const target = new Map((await conn.query<{ name: string; type: string; base: string }>(PG_TARGET_TYPES_SQL, [q(l.entity.name)])).rows.map((r) => [r.name, r]));
  const typed = l.entity.columns.map((c) => {
    const t = target.get(c.name);
    const model = c.type === 'integer' || c.type === 'decimal' || c.type === 'string' || c.type === 'text';
    return `${q(c.name)} ${t === undefined ? (c.type === 'enum' ? 'text' : pgColumnType(c)) : model && NARROWABLE.has(t.base) ? pgColumnType(c) : t.type}`;
  });
  await conn.query(`CREATE TEMP TABLE ${tmp} (${typed.join(', ')}, _seq bigint) ON COMMIT DROP`);
  // Rows come as the columns, then _seq: what this COPY names.
  const rows = stagedRows(staging, l);
  const copy = conn.query(copyFrom(`COPY ${tmp} (${l.entity.columns.map((c) => q(c.name)).join(', ')}, _seq) FROM STDIN`));
  const seq = (v: unknown): string => String(v);
  await pipeline(Readable.from(copyTextChunks(rows, [...l.entity.columns.map(copyEncoder), seq])), copy, ...(signal ? [{ signal }] : []));
}

/** Moves a range of a rehearsal table's rows into the table, under the entity's load mode. */
function rehearsalInsert(l: EntityLoad): string {
  const { entity } = l;
  const cols = entity.columns.map((c) => q(c.name)).join(', ');
  let sql = `INSERT INTO ${q(entity.name)} (${cols}) SELECT ${cols} FROM ${rehearsalTable(entity.name)} WHERE _seq BETWEEN $1 AND $2`;
  if (l.mode === 'upsert') sql += ` ON CONFLICT (${entity.primaryKey.map(q).join(', ')}) DO UPDATE SET ${upsertSet(l)}`;
  return sql;
}

/** The SET of an upsert: the columns the load provides (upsert-common.ts). */
function upsertSet(l: EntityLoad): string {
  return upsertSetNames(l)
    .map((n) => `${q(n)} = excluded.${q(n)}`)
    .join(', ');
}

const RELKIND_SQL = 'SELECT relkind::text AS rk FROM pg_class WHERE oid = to_regclass($1)';

/**
 * A table's own rows in a FROM, DELETE or TRUNCATE: ONLY for an ordinary table, since the tables
 * that INHERIT from it are tables of their own that forklift never wrote (export reads them so
 * too: read-postgres.ts); without it PostgreSQL would empty, delete from and count them with the
 * parent. A partitioned table's rows are its partitions', so it is named as it is.
 */
function ownRowsOf(table: string, relkind: string | undefined): string {
  return relkind === 'r' ? `ONLY ${q(table)}` : q(table);
}

async function ownRowsPg(conn: pg.Client, table: string): Promise<string> {
  return ownRowsOf(table, (await conn.query<{ rk: string }>(RELKIND_SQL, [q(table)])).rows[0]?.rk);
}

/**
 * Empties the tables of replace-mode entities. TRUNCATE (one statement for all of them) when no
 * other table references them: it is far cheaper than DELETE on a large table and just as
 * transactional in PostgreSQL. Otherwise DELETE, children first, so the database checks that no
 * row left in another table still points at a deleted one.
 */
async function emptyForReplace(conn: pg.Client, replace: EntityLoad[]): Promise<void> {
  if (replace.length === 0) return;
  const names = replace.map((l) => q(l.entity.name));
  const res = await conn.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_constraint WHERE contype = 'f' AND confrelid = ANY($1::regclass[]) AND NOT (conrelid = ANY($1::regclass[]))",
    [names],
  );
  const own: string[] = [];
  for (const l of replace) own.push(await ownRowsPg(conn, l.entity.name));
  if ((res.rows[0]?.n ?? 0) === 0) {
    await conn.query(`TRUNCATE TABLE ${own.join(', ')}`);
    return;
  }
  for (const name of [...own].reverse()) await conn.query(`DELETE FROM ${name}`);
}

/** COPYs one entity's accepted staged rows; upsert goes through a temporary table. Returns rows written. */
async function copyEntity(conn: pg.Client, staging: Database.Database, l: EntityLoad, signal: AbortSignal | undefined): Promise<number> {
  const { entity } = l;
  const cols = entity.columns.map((c) => q(c.name)).join(', ');
  const table = q(entity.name);
  const upsert = l.mode === 'upsert';
  const into = upsert ? q(`forklift_upsert_${entity.name}`) : table;
  if (upsert) await conn.query(`CREATE TEMP TABLE ${into} (LIKE ${table} INCLUDING DEFAULTS) ON COMMIT DROP`);

  // Each row ends with _seq, which the encoders (one per column) leave out.
  const rows = stagedRows(staging, l);
  const copy = conn.query(copyFrom(`COPY ${into} (${cols}) FROM STDIN`));
  await pipeline(Readable.from(copyTextChunks(rows, entity.columns.map(copyEncoder))), copy, ...(signal ? [{ signal }] : []));
  if (!upsert) return copy.rowCount;

  if (copy.rowCount !== l.expected) throw new BugError(`${entity.name}: copied ${copy.rowCount} rows, expected ${l.expected}`);
  const pk = entity.primaryKey.map(q).join(', ');
  const res = await conn.query(`INSERT INTO ${table} (${cols}) SELECT ${cols} FROM ${into} ON CONFLICT (${pk}) DO UPDATE SET ${upsertSet(l)}`);
  await conn.query(`DROP TABLE ${into}`);
  return res.rowCount ?? 0;
}

/** A ledger from before the chain (or before signing) gains the columns it lacks; the caller holds the ledger lock. */
async function addChainColumns(trx: Knex.Transaction): Promise<void> {
  const found = (await trx.raw("SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'forklift_runs' AND column_name IN ('seq', 'prev_hash', 'entry_hash', 'signature')")) as { rows: { n: number }[] };
  if (found.rows[0]?.n !== 4) await trx.raw('ALTER TABLE forklift_runs ADD COLUMN IF NOT EXISTS seq bigint, ADD COLUMN IF NOT EXISTS prev_hash text, ADD COLUMN IF NOT EXISTS entry_hash text, ADD COLUMN IF NOT EXISTS signature text');
}

/** The foreign keys into the current schema's tables, and the dialect of the purge's SQL (ONLY for an ordinary table's own rows: ownRowsOf). */
async function pgReferences(conn: pg.Client): Promise<{ fks: StoreForeignKey[]; d: RefDialect }> {
  const rows = (await conn.query<PgForeignKeyRow>(PG_FOREIGN_KEYS_SQL)).rows;
  const kinds = new Map((await conn.query<{ t: string; rk: string }>(PG_RELKINDS_SQL)).rows.map((r) => [r.t, r.rk]));
  for (const r of rows) if (r.s !== null) kinds.set(tableLabel(r.s, r.t), r.rk);
  return {
    fks: rows.map(pgForeignKey),
    d: { id: q, rows: (schema, table) => (schema === null ? ownRowsOf(table, kinds.get(table)) : `${kinds.get(tableLabel(schema, table)) === 'r' ? 'ONLY ' : ''}${q(schema)}.${q(table)}`) },
  };
}

/** One table's archived rows COPYed into a temporary table (dropped at commit) of the table's own column types. */
async function loadArchive(conn: pg.Client, d: RefDialect, t: DeleteTable, i: number, signal: AbortSignal | undefined): Promise<ArchivedTable> {
  const cols = t.entity.columns.map((c) => q(c.name)).join(', ');
  const archived = `forklift_purge_${i}`;
  await conn.query(`CREATE TEMP TABLE ${archived} ON COMMIT DROP AS SELECT ${cols} FROM ${d.rows(null, t.entity.name)} WITH NO DATA`);
  const enc = t.entity.columns.map(copyEncoder);
  async function* text(): AsyncGenerator<string> {
    for await (const batch of t.rows()) yield* copyTextChunks(batch, enc);
  }
  await pipeline(Readable.from(text()), conn.query(copyFrom(`COPY ${archived} (${cols}) FROM STDIN`)), ...(signal ? [{ signal }] : []));
  await conn.query(`CREATE INDEX ON ${archived} (${t.entity.primaryKey.map(q).join(', ')})`);
  await conn.query(`ANALYZE ${archived}`);
  return { entity: t.entity, archive: archived, again: archived, expected: t.expected };
}

/**
 * Every table's DELETE … USING its archived rows, joined on the key and requiring every other value
 * unchanged (compared as the server writes them as text, so a type without an equality operator
 * compares too). Several tables go in ONE statement (a WITH of DELETEs): PostgreSQL checks foreign
 * keys and runs their actions at the end of a statement, so rows of purged tables that reference
 * each other (in a cycle) go together, and no cascade reaches a row the statement deletes itself (a
 * self reference inside one DELETE is the same). Returns the rows deleted per table.
 */
async function deleteArchived(conn: pg.Client, d: RefDialect, tables: readonly ArchivedTable[]): Promise<Map<string, number>> {
  const deletes = tables.map((t) => {
    const same = [archivedKeyMatch(d, t.entity, 't', 'a'), ...valueColumns(t.entity).map((c) => `t.${q(c.name)}::text IS NOT DISTINCT FROM a.${q(c.name)}::text`)].join(' AND ');
    return `DELETE FROM ${d.rows(null, t.entity.name)} AS t USING ${t.archive} AS a WHERE ${same}`;
  });
  if (tables.length === 1) return new Map([[tables[0]!.entity.name, (await conn.query(deletes[0]!)).rowCount ?? 0]]);
  const counts = tables.map((_, i) => `(SELECT count(*) FROM d${i})::bigint AS n${i}`).join(', ');
  const row = (await conn.query<Record<string, string>>(`WITH ${deletes.map((sql, i) => `d${i} AS (${sql} RETURNING 1)`).join(', ')} SELECT ${counts}`)).rows[0]!;
  return new Map(tables.map((t, i) => [t.entity.name, Number(row[`n${i}`])]));
}

/**
 * Key sets (a purge's selection) in temporary tables of a connection of their own, COPYed in; the
 * indexes are made once the sets are filled, when they are first asked about.
 */
class PgKeySets implements KeySets {
  private readonly sets = new Map<string, { set: RowSet; indexed: boolean; fresh: boolean }>();

  constructor(
    private readonly client: pg.Client,
    private readonly d: RefDialect,
    private readonly fail: (e: unknown) => Error,
  ) {}

  async add(table: Entity, keys: readonly (readonly unknown[])[], first: number): Promise<void> {
    try {
      const key = table.primaryKey;
      const cols = key.map(q).join(', ');
      let s = this.sets.get(table.name);
      if (!s) {
        const name = `forklift_keys_${this.sets.size}`;
        await this.client.query(`CREATE TEMP TABLE ${name} AS SELECT NULL::bigint AS forklift_n, ${cols} FROM ${this.d.rows(null, table.name)} WITH NO DATA`);
        s = { set: { table: name, key }, indexed: false, fresh: true };
        this.sets.set(table.name, s);
      }
      if (keys.length === 0) return;
      s.fresh = true;
      const enc = [(n: unknown): string => String(n), ...key.map((k) => copyEncoder(table.columns.find((c) => c.name === k)!))];
      const rows = keys.map((k, i) => [first + i, ...k]);
      await pipeline(Readable.from(copyTextChunks(rows, enc)), this.client.query(copyFrom(`COPY ${s.set.table} (forklift_n, ${cols}) FROM STDIN`)));
    } catch (e) {
      throw this.fail(e);
    }
  }

  async referenced(fk: StoreForeignKey): Promise<number[]> {
    const parent = this.sets.get(fk.refTable);
    if (!parent) return [];
    const child = fk.schema === null ? this.sets.get(fk.table) : undefined;
    try {
      for (const s of [parent, child]) {
        if (!s) continue;
        if (!s.indexed) {
          await this.client.query(`CREATE INDEX ON ${s.set.table} (${s.set.key.map(q).join(', ')})`);
          await this.client.query(`CREATE INDEX ON ${s.set.table} (forklift_n)`);
          s.indexed = true;
        }
        // Temporary tables are never analyzed by autovacuum: without statistics a large set is planned as a tiny one.
        if (!s.fresh) continue;
        await this.client.query(`ANALYZE ${s.set.table}`);
        s.fresh = false;
      }
      return (await this.client.query<{ forklift_n: string }>(referencedSql(this.d, fk, parent.set, child?.set ?? null))).rows.map((r) => Number(r.forklift_n));
    } catch (e) {
      throw this.fail(e);
    }
  }

  async remove(table: string, numbers: readonly number[]): Promise<void> {
    const s = this.sets.get(table);
    if (!s || numbers.length === 0) return;
    try {
      await this.client.query(`DELETE FROM ${s.set.table} WHERE forklift_n = ANY($1::bigint[])`, [numbers]);
      s.fresh = true;
    } catch (e) {
      throw this.fail(e);
    }
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => {});
  }
}

/**
 * Appends the entry to the audit chain under a transaction-scoped advisory lock, so two runs at
 * once read the head one after the other and never fork the chain; a ledger from before the
 * chain gains its columns here.
 */
async function insertRun(trx: Knex.Transaction, e: RunEntry): Promise<ChainLink> {
  await trx.raw("SELECT pg_advisory_xact_lock(hashtext('forklift_runs'))");
  await addChainColumns(trx);
  const head = (await trx.raw('SELECT seq, entry_hash FROM forklift_runs WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1')) as { rows: { seq: string; entry_hash: string }[] };
  const entry = head.rows[0] ? e : firstChainEntry(e, await unchainedRows(trx));
  const link = nextLink(entry, head.rows[0]);
  await trx('forklift_runs').insert({ ...runEntryRow(entry), ...link });
  return link;
}

/** The unchained entries, files and counts as the text they hold (json keeps it as written), as audit verify reads them. */
async function unchainedRows(trx: Knex.Transaction): Promise<Record<string, unknown>[]> {
  return ((await trx.raw(unchainedSql('*, files::text AS files, counts::text AS counts'))) as { rows: Record<string, unknown>[] }).rows;
}

/** describeTables' catalog reads, through knex or a snapshot's connection. */
async function pgDescribe(run: (sql: string) => Promise<pg.QueryResult>): Promise<Entity[]> {
  const cols = (await run(pgColumnsSql(false))).rows as PgColumnRow[];
  const cons = (await run(PG_CONSTRAINTS_SQL)).rows as PgConstraintRow[];
  const recorded = new Map<string, unknown>();
  if (cols.some((c) => c.t === TABLES_TABLE)) {
    for (const r of (await run(`SELECT name, definition FROM ${q(TABLES_TABLE)}`)).rows as { name: string; definition: string }[]) recorded.set(r.name, r.definition);
  }
  return describeFrom(pgTables(cols, cons), recorded);
}

/** The tables of the current schema this user may read (or the one named `$1`), as a snapshot locks them. */
const pgReadableSql = (one: boolean): string =>
  `SELECT current_schema()::text AS s, c.relname::text AS t, c.relkind::text AS rk FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND has_table_privilege(c.oid, 'SELECT')${one ? ' AND c.relname = $1' : ''}
ORDER BY c.relname COLLATE "C"`;

/**
 * One REPEATABLE READ READ ONLY transaction on a connection of its own that holds ACCESS SHARE on
 * every table it reads from before its snapshot is taken. TRUNCATE is not MVCC-safe: a snapshot
 * taken before someone's TRUNCATE commits reads the table as empty afterwards, and a statement
 * that waited for the TRUNCATE's lock sees it so too. Held from the start, the locks make a
 * TRUNCATE (or DROP, ALTER) wait until the snapshot ends; and the snapshot is taken only once
 * they are granted (LOCK takes none), so one that was under way when the snapshot began is seen
 * committed, whole. The locks are taken with NOWAIT and retried, all of them released between
 * tries: a reader that held some while waiting for others could deadlock with a load emptying
 * the same tables in another order. Every read runs on this one connection, one at a time (a
 * read the consumer stopped is parked: read-stream.ts).
 */
class PgSnapshot implements StoreSnapshot {
  private readonly parked = new ParkedResult();

  private constructor(
    private readonly client: pg.Client,
    private readonly display: string,
    private readonly fail: (e: unknown, code: string) => Error,
  ) {}

  /** `table`: lock only that one (a single table's read). */
  static async open(url: string, display: string, fail: (e: unknown, code: string) => Error, opts: { table?: string | undefined; signal?: AbortSignal | undefined }): Promise<PgSnapshot> {
    const client = new pg.Client({ ...(await pgConnectionConfig(url)), connectionTimeoutMillis: 15_000, application_name: 'forklift' });
    // A connection lost mid-read fails the statement; the client's own 'error' event must not crash the process.
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query(PG_READ_SESSION);
      await lockedSnapshot(client, opts.table, opts.signal);
      return new PgSnapshot(client, display, fail);
    } catch (e) {
      await client.end().catch(() => {});
      if (e instanceof Error && e.name === 'AbortError') throw e;
      throw fail(e, 'store.read');
    }
  }

  async describeTables(): Promise<Entity[]> {
    try {
      await this.parked.settle();
      return await pgDescribe((sql) => this.client.query(sql));
    } catch (e) {
      throw this.fail(e, 'store.read');
    }
  }

  async tablesElsewhere(): Promise<SchemaTables[]> {
    try {
      await this.parked.settle();
      return bySchema((await this.client.query<{ s: string; t: string }>(PG_TABLES_ELSEWHERE_SQL)).rows);
    } catch (e) {
      throw this.fail(e, 'store.read');
    }
  }

  async *readRows(table: Entity, opts: ReadRowsOptions = {}): AsyncIterable<unknown[][]> {
    const client = this.client;
    try {
      await this.parked.settle();
      const res = await client.query<PgColumnRow>(pgColumnsSql(true), [table.name]);
      const first = res.rows[0];
      if (!first) throw new StoreError(`${this.display}: there is no table ${table.name}`, { code: 'store.read', hint: 'Check the store URL and the table name (tables of the current schema are read).' });
      const native = nativeColumnsFor(table, pgTables(res.rows, [])[0]!);
      if (!Array.isArray(native)) throw new StoreError(`${this.display}: table ${table.name} has no column ${native.missing}`, { code: 'store.read', hint: 'The table does not match the description asked for: describe the store again.' });
      const textKeys = orderColumns(table).flatMap((c) => {
        const r = res.rows.find((row) => row.c === c.name);
        return r?.co ? [{ column: c.name, co: r.co }] : [];
      });
      const byteOrdered = await pgByteOrderedCollations(client, textKeys.map((k) => k.co));
      const keysInByteOrder = new Set(textKeys.filter((k) => byteOrdered.has(k.co)).map((k) => k.column));
      yield* pgCopyRows(client, pgReadPlan(table, native, first.s, opts.where, keysInByteOrder, first.rk === 'r'), opts.signal, this.parked.park);
    } catch (e) {
      if (e instanceof Error && e.name === 'AbortError') throw e;
      throw this.fail(e, 'store.read');
    }
  }

  /** Ends the transaction with the connection (it changed nothing): a parked read is dropped, not read off. */
  async close(): Promise<void> {
    this.parked.drop();
    await this.client.end().catch(() => {});
  }
}

/**
 * BEGIN, the tables locked (every readable table of the schema, or `table`), and the snapshot
 * taken by the first query after the locks, which also checks that the tables are still the ones
 * locked (one created or dropped in between: everything is released and tried again).
 */
async function lockedSnapshot(client: pg.Client, table: string | undefined, signal: AbortSignal | undefined): Promise<void> {
  const sql = pgReadableSql(table !== undefined);
  const params = table === undefined ? [] : [table];
  const names = (rows: { s: string; t: string; rk: string }[]): string => rows.map((r) => `${r.rk === 'r' ? 'ONLY ' : ''}${q(r.s)}.${q(r.t)}`).join(', ');
  for (let wait = 50; ; wait = Math.min(wait * 2, 1000)) {
    signal?.throwIfAborted();
    const listed = (await client.query<{ s: string; t: string; rk: string }>(sql, params)).rows;
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      if (listed.length) await client.query(`LOCK TABLE ${names(listed)} IN ACCESS SHARE MODE NOWAIT`);
      const seen = (await client.query<{ s: string; t: string; rk: string }>(sql, params)).rows;
      if (names(seen) === names(listed)) return;
    } catch (e) {
      // 55P03: a lock is held (a TRUNCATE, a DROP under way); 42P01: a table dropped since it was listed.
      const code = (e as { code?: string }).code;
      if (code !== '55P03' && code !== '42P01') throw e;
    }
    await client.query('ROLLBACK');
    await sleep(wait, undefined, signal ? { signal } : {});
  }
}
