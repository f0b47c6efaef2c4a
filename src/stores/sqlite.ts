import { existsSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import knexFactory, { type Knex } from 'knex';
import { BugError, ConfigError, StoreError } from '../core/errors.js';
import { referencedClosure } from './referenced.js';
import type { Column, Entity } from '../model/types.js';
import { q } from '../util/sql-name.js';
import { interruptedLoadError, nativeColumnsFor, tableRecords, type NativeColumn, type NativeTable } from './read-common.js';
import { TRIGGER_REFUSAL_HINT, UNIQUE_CLASH_HINT, keyClashError } from './key-clash.js';
import { shapeError, shapeMismatches, sqliteHoldsExactly } from './table-shape.js';
import {
  SQLITE_TABLES_DDL,
  SQLITE_TABLES_UPSERT,
  registerTextFunction,
  sqliteCatalog,
  sqliteDescribe,
  sqliteDeleteTriggers,
  sqliteForeignKeys,
  sqliteKind,
  sqliteFollowRows,
  sqliteReadRows,
  sqliteTable,
  type WriteProgress,
} from './read-sqlite.js';
import { RolledBack, loadNarrowing, type Refusal, type SeqRange } from './rehearse.js';
import { DeleteGuard, archivedKeyMatch, referencedSql, rowPieces, withModelReferences, valueColumns, type ArchivedTable, type RefDialect, type RowSet } from './delete-common.js';
import { upsertSetNames } from './upsert-common.js';
import type { DeleteRequest, DeleteTable, DeleteTrigger, EntityLoad, KeySets, LoadRequest, ReadRowsOptions, RehearsalRequest, RunEntry, StoreForeignKey, StoreSnapshot, TargetStore } from './types.js';
import { UNCHAINED_SQL, adoptionLinks, firstChainEntry, nextLink, runEntryRow, type ChainLink } from '../audit/chain.js';
import { activeSigner } from '../audit/signing.js';
import { redactUrl, sqlitePath } from './url.js';
import { makeFolder } from '../util/folders.js';
import { loopTurns } from '../util/loop-turn.js';

/**
 * The embedded default target. Tables are STRICT, so SQLite cannot quietly turn a decimal into a
 * REAL: decimals, dates and timestamps are canonical text (PERF-NOTES: a numeric column drifts).
 * knex owns the connection and the transaction; the rows move from the staging file with one
 * INSERT … SELECT per entity, inside SQLite, which is faster than any row loop in JavaScript.
 */

export function sqliteColumnType(c: Column): string {
  switch (c.type) {
    case 'integer':
      return 'INTEGER';
    case 'boolean':
      return `INTEGER CHECK (${oneOf(c.name, ['0', '1'])})`;
    case 'enum':
      return `TEXT CHECK (${oneOf(c.name, (c.values ?? []).map((v) => `'${v.replace(/'/g, "''")}'`))})`;
    case 'string':
    case 'text':
    case 'decimal':
    case 'date':
    case 'timestamp':
      return 'TEXT';
  }
}

/**
 * `col = a OR col = b …` rather than `col IN (a, b …)`: the same truth table (NULL passes both), but
 * SQLite evaluates a CHECK's IN list slowly, row by row: it took 1.5 s of a 3.6 s INSERT … SELECT of
 * the 1M-row machine log, the OR chain about nothing (measured with SQLite 3.53).
 */
function oneOf(column: string, literals: readonly string[]): string {
  return literals.length ? literals.map((l) => `${q(column)} = ${l}`).join(' OR ') : 'FALSE';
}

export function sqliteCreateTable(e: Entity): string {
  const cols = e.columns.map((c) => `${q(c.name)} ${sqliteColumnType(c)}${c.required ? ' NOT NULL' : ''}`);
  // A table without a key gets no PRIMARY KEY clause (and keeps its rowid).
  const pk = e.primaryKey.length ? [`PRIMARY KEY (${e.primaryKey.map(q).join(', ')})`] : [];
  const fks = e.columns
    .filter((c) => c.references && c.references.entity !== e.name)
    .map((c) => `FOREIGN KEY (${q(c.name)}) REFERENCES ${q(c.references!.entity)} (${q(c.references!.column)})`);
  const uniques = e.columns.filter((c) => c.unique).map((c) => `UNIQUE (${q(c.name)})`);
  // WITHOUT ROWID: the rows are stored in primary-key order, the order forklift reads and writes
  // them in (canonical order), so a read in key order is one pass over one b-tree instead of an
  // index walk with a table lookup per row. Measured on the 1M-row machine log: reads 3.0–3.6 s
  // instead of 4.4–4.5 s, loads 1.1–1.7 s instead of 2.0–2.2 s. (PRIMARY KEY columns are then
  // NOT NULL, as on every server store.)
  return `CREATE TABLE IF NOT EXISTS ${q(e.name)} (\n  ${[...cols, ...pk, ...uniques, ...fks].join(',\n  ')}\n) STRICT${e.primaryKey.length ? ', WITHOUT ROWID' : ''}`;
}

const RUNS_DDL = `CREATE TABLE IF NOT EXISTS forklift_runs (
  id TEXT PRIMARY KEY,
  command TEXT NOT NULL,
  status TEXT NOT NULL,
  started TEXT NOT NULL,
  finished TEXT NOT NULL,
  operator TEXT,
  host TEXT,
  tool_version TEXT,
  plan_sha256 TEXT,
  files TEXT,
  counts TEXT,
  message TEXT,
  seq INTEGER,
  prev_hash TEXT,
  entry_hash TEXT,
  signature TEXT
) STRICT`;

export class SqliteStore implements TargetStore {
  readonly kind = 'sqlite' as const;
  readonly keysIgnoreTrailingSpaces = false;
  ledgerHead: string | null = null;
  readonly display: string;
  private readonly k: Knex;
  /** The database file (or :memory:), for the read side's handle of its own. */
  private readonly file: string;
  /** Where opening this store made the file (and the first folder it made): close() takes them back if nothing was written. */
  private readonly made: { file: boolean; folder: string | undefined };
  /** How long a statement waits for another connection's lock on the file (FORKLIFT_SQLITE_WAIT). */
  private readonly waitMs: number;
  /**
   * The signal of the write under way (a load, a rehearsal, a purge): it stops that write's wait
   * for the lock. Unset when the write ends: the failed entry of an interrupted run still waits.
   */
  private writeSignal: AbortSignal | undefined;

  constructor(url: string) {
    const file = sqlitePath(url);
    this.file = file;
    const memory = file === ':memory:';
    const rel = path.relative(process.cwd(), path.resolve(file));
    // Shown relative to where the user is, as they would type it.
    this.display = file === ':memory:' || rel.startsWith('..') ? redactUrl(url) : `sqlite:${rel}`;
    this.waitMs = sqliteWaitMs();
    // better-sqlite3 would fail with "unable to open database file" (or a disk I/O error on a
    // read), which says nothing of the cause.
    if (!memory && isFolder(file)) {
      throw new ConfigError(`${this.display} is a folder, not a SQLite database file`, {
        code: 'store.url',
        hint: `Name a database file inside it: sqlite:${path.join(file, 'forklift.db')}.`,
      });
    }
    this.made = { file: !memory && !existsSync(file), folder: memory ? undefined : makeFolder(path.dirname(path.resolve(file)), `the SQLite store ${this.display}`, 'store.url') };
    this.k = knexFactory({
      client: 'better-sqlite3',
      connection: { filename: file },
      useNullAsDefault: true,
      // knex would otherwise put bound row values into error messages (customer data).
      compileSqlOnError: false,
      // knex prints connection errors on stdout itself (a stack trace, before a --json document);
      // they reach the user as a StoreError instead.
      log: { warn: () => {}, error: () => {}, deprecate: () => {}, debug: () => {} },
      pool: {
        min: 1,
        max: 1,
        afterCreate: (conn: Database.Database, done: (err: Error | null, conn: Database.Database) => void) => {
          conn.pragma(`busy_timeout = ${this.waitMs}`);
          done(null, conn);
        },
      },
    });
    immediateTransactions(this.k, () => ({ ms: waitedOut.has(this.file) ? Math.min(this.waitMs, AFTER_WAIT_MS) : this.waitMs, signal: this.writeSignal }));
  }

  /** A failure as the user's error (`wrap`: asStoreError for writes, readError for reads); a lock held past the wait is store.busy. */
  private failed(e: unknown, wrap: (e: unknown, display: string) => Error): Error {
    if (!isBusy(e)) return wrap(e, this.display);
    waitedOut.add(this.file);
    return busyError(this.display, this.waitMs, wrap === readError ? 'read' : 'write', e);
  }

  get knex(): Knex {
    return this.k;
  }

  async hasTable(name: string): Promise<boolean> {
    try {
      return await this.k.schema.hasTable(name);
    } catch (e) {
      throw this.failed(e, readError);
    }
  }

  async *readColumn(table: string, column: string): AsyncIterable<unknown[]> {
    let rows: { v: unknown }[];
    try {
      rows = (await this.k.raw(`SELECT DISTINCT ${q(column)} AS v FROM ${q(table)}`)) as { v: unknown }[];
    } catch (e) {
      throw this.failed(e, readError);
    }
    for (let i = 0; i < rows.length; i += 5000) yield rows.slice(i, i + 5000).map((r) => r.v);
  }

  async maxPerGroup(table: string, groupBy: readonly string[], column: string): Promise<unknown[][]> {
    const g = groupBy.map(q);
    const select = [...g.map((c, i) => `${c} AS g${i}`), `MAX(${q(column)}) AS m`].join(', ');
    try {
      const rows = (await this.k.raw(`SELECT ${select} FROM ${q(table)}${g.length ? ` GROUP BY ${g.join(', ')}` : ''}`)) as Record<string, unknown>[];
      return rows.filter((r) => r.m !== null).map((r) => [...groupBy.map((_, i) => r[`g${i}`]), r.m]);
    } catch (e) {
      throw this.failed(e, asStoreError);
    }
  }

  async load(req: LoadRequest): Promise<Map<string, number>> {
    const loaded = new Map<string, number>();
    let link: ChainLink | undefined;
    this.writeSignal = req.signal;
    try {
      await this.withStaging(req.stagingFile, () =>
        this.k.transaction(async (trx) => {
          await prepareTables(trx, req, this.display);
          const turn = loopTurns();
          for (const l of req.entities) {
            req.signal?.throwIfAborted();
            let n = 0;
            const insert = insertSql(l);
            for (const range of await seqRanges(trx, l)) {
              // One statement blocks the thread until it ends: in chunks, Ctrl-C is heard between them.
              await turn();
              req.signal?.throwIfAborted();
              const res = (await trx.raw(insert, [range.lo, range.hi]).catch((e: unknown) => namedKeyClash(trx, l, e, this.display))) as { changes?: number };
              n += res.changes ?? 0;
            }
            if (n !== l.expected) throw new BugError(`${l.entity.name}: inserted ${n} rows, expected ${l.expected}`);
            loaded.set(l.entity.name, n);
          }
          link = await insertRun(trx, req.entry);
        }),
      );
      this.ledgerHead = link?.entry_hash ?? this.ledgerHead;
    } catch (e) {
      throw this.failed(e, asStoreError);
    } finally {
      this.writeSignal = undefined;
    }
    return loaded;
  }

  /**
   * Creates the tables a load of these entities writes (and every table they reference), with
   * what each is in the model's words, in one transaction, and no rows: exit's scratch re-import
   * then writes the rows itself (src/bundle/scratch-import.ts), committing as it goes.
   */
  async createTables(model: LoadRequest['model'], entities: readonly Entity[]): Promise<void> {
    try {
      await this.k.transaction((trx) => prepareTables(trx, { model, entities: entities.map((entity) => ({ entity, mode: 'append' as const })) }, this.display));
    } catch (e) {
      throw this.failed(e, asStoreError);
    }
  }

  async rehearse(req: RehearsalRequest): Promise<Refusal[]> {
    const staging = new Database(req.stagingFile, { readonly: true, fileMustExist: true });
    let refused: Refusal[] = [];
    this.writeSignal = req.signal;
    try {
      await this.withStaging(req.stagingFile, async () => {
        try {
          await this.k.transaction(async (trx) => {
            await prepareTables(trx, req, this.display);
            refused = await loadNarrowing(
              {
                savepoint: async (name) => void (await trx.raw(`SAVEPOINT ${name}`)),
                rollbackTo: async (name) => void (await trx.raw(`ROLLBACK TO SAVEPOINT ${name}`)),
                release: async (name) => void (await trx.raw(`RELEASE SAVEPOINT ${name}`)),
                loadRange: async (l, r) => void (await trx.raw(insertSql(l), [r.lo, r.hi])),
                describe: sqliteReason,
              },
              staging,
              req.entities,
              req.signal,
            );
            throw new RolledBack();
          });
        } catch (e) {
          if (!(e instanceof RolledBack)) throw e;
        }
      });
    } catch (e) {
      throw this.failed(e, asStoreError);
    } finally {
      this.writeSignal = undefined;
      staging.close();
    }
    return refused;
  }

  /** Runs fn with foreign keys enforced and the staging file attached as `stg`. */
  private async withStaging<T>(stagingFile: string, fn: () => Promise<T>): Promise<T> {
    await this.k.raw('PRAGMA foreign_keys = ON');
    await this.k.raw('ATTACH DATABASE ? AS stg', [stagingFile]);
    try {
      return await fn();
    } finally {
      await this.k.raw('DETACH DATABASE stg');
    }
  }

  async recordRun(entry: RunEntry): Promise<void> {
    try {
      const link = await this.k.transaction(async (trx) => {
        await trx.raw(RUNS_DDL);
        return insertRun(trx, entry);
      });
      this.ledgerHead = link.entry_hash;
    } catch (e) {
      throw this.failed(e, asStoreError);
    }
  }

  async initLedger(entryFor: (adopted: number) => RunEntry): Promise<{ adopted: number }> {
    try {
      const { adopted, link } = await this.k.transaction(async (trx) => {
        await trx.raw(RUNS_DDL);
        await trx.raw('UPDATE forklift_runs SET id = id WHERE 0');
        await addChainColumns(trx);
        const old = (await trx.raw(UNCHAINED_SQL)) as Record<string, unknown>[];
        const head = (await trx.raw('SELECT seq, entry_hash FROM forklift_runs WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1')) as { seq: number; entry_hash: string }[];
        const links = adoptionLinks(old, head[0], activeSigner());
        for (const { id, link } of links) await trx('forklift_runs').where({ id }).update(link);
        return { adopted: links.length, link: await insertRun(trx, entryFor(links.length)) };
      });
      this.ledgerHead = link.entry_hash;
      return { adopted };
    } catch (e) {
      throw this.failed(e, asStoreError);
    }
  }

  async deleteRows(req: DeleteRequest): Promise<Map<string, number>> {
    const deleted = new Map<string, number>();
    this.writeSignal = req.signal;
    try {
      // The guard (delete-common.ts) checks every foreign key itself, under the write lock: with
      // SQLite's own actions off no ON DELETE acts on any row, and a self reference among the
      // archived rows is no cascade inside the one DELETE (which the count of rows it deleted would
      // miss). The pragma cannot change inside a transaction: it is set around it.
      await this.k.raw('PRAGMA foreign_keys = OFF');
      const link = await this.k.transaction(async (trx) => {
        // The write lock first: no other writer commits between the checks and the DELETEs.
        await trx.raw(RUNS_DDL);
        await trx.raw('UPDATE forklift_runs SET id = id WHERE 0');
        const db = (await trx.client.acquireConnection()) as Database.Database;
        req.checkTriggers?.(sqliteDeleteTriggers(db));
        const natives = new Map(sqliteCatalog(db).map((t) => [t.name, t]));
        const text = registerTextFunction(db);
        const d = sqliteDialect(natives, text);
        const tables: ArchivedTable[] = [];
        for (const [i, t] of req.tables.entries()) {
          req.signal?.throwIfAborted();
          tables.push(await loadArchive(db, t, i, natives, req.signal));
        }
        const guard = await DeleteGuard.start(d, async (sql) => Number(db.prepare(sql).pluck().get()), tables, withModelReferences(sqliteForeignKeys(db), req.references));
        await guard.checkReferences();
        for (const t of tables) {
          req.signal?.throwIfAborted();
          deleted.set(t.entity.name, deleteArchived(db, d, t, natives, text));
        }
        await guard.checkCounts(deleted);
        for (const t of tables) db.exec(`DROP TABLE ${t.archive}`);
        return insertRun(trx, req.entry);
      });
      this.ledgerHead = link.entry_hash;
    } catch (e) {
      throw this.failed(e, asStoreError);
    } finally {
      this.writeSignal = undefined;
      await this.k.raw('PRAGMA foreign_keys = ON').catch(() => {});
    }
    return deleted;
  }

  async foreignKeys(): Promise<StoreForeignKey[]> {
    try {
      return await this.withReader((db) => sqliteForeignKeys(db), []);
    } catch (e) {
      throw this.failed(e, readError);
    }
  }

  async deleteTriggers(): Promise<DeleteTrigger[]> {
    try {
      return await this.withReader((db) => sqliteDeleteTriggers(db), []);
    } catch (e) {
      throw this.failed(e, readError);
    }
  }

  async openKeySets(): Promise<KeySets> {
    const reader = await this.openReader();
    if (!reader) throw new StoreError(`${this.display}: the database does not exist`, { code: 'store.read', hint: 'Check the store URL.' });
    return new SqliteKeySets(reader.db, reader.release);
  }

  async describeTables(): Promise<Entity[]> {
    try {
      return await this.withReader((db) => sqliteDescribe(db), []);
    } catch (e) {
      throw this.failed(e, readError);
    }
  }

  async *readRows(table: Entity, opts: ReadRowsOptions = {}): AsyncIterable<unknown[][]> {
    // Synchronous batches from one statement; the consumer's pace sets when the next is read.
    yield* this.readWith(table, (db, native) => sqliteReadRows(db, table, native, opts.signal, opts.where), opts.signal);
  }

  /**
   * A table's rows in canonical order while exit's re-import still writes it (sqliteFollowRows):
   * `after(read)` resolves once more rows than `read` are committed, or the table is complete.
   */
  async *followRows(table: Entity, after: (read: number) => Promise<WriteProgress>, opts: { signal?: AbortSignal | undefined } = {}): AsyncIterable<unknown[][]> {
    yield* this.readWith(table, (db, native) => sqliteFollowRows(db, table, native, after, opts.signal), opts.signal);
  }

  /**
   * One read transaction on a read handle of its own, across every table: in WAL mode a writer
   * commits meanwhile and the snapshot does not see it; otherwise (rollback journal) the writer
   * waits for the snapshot to end. An in-memory database is this process's alone: read as it is.
   */
  async snapshot(opts: { signal?: AbortSignal | undefined } = {}): Promise<StoreSnapshot> {
    if (this.file === ':memory:' || this.file === '') {
      return { describeTables: () => this.describeTables(), readRows: (t, o) => this.readRows(t, o), close: async () => {} };
    }
    const reader = await this.openReader();
    if (!reader) return { describeTables: async () => [], readRows: (t) => this.readRows(t), close: async () => {} };
    const { db } = reader;
    try {
      // BEGIN takes no lock: the snapshot starts at the first read, here, not at the first table.
      // That read waits while a writer commits, in steps (Ctrl-C is heard).
      // (Preparing it reads the schema, so it is part of the attempt.)
      db.exec('BEGIN');
      await untilUnlocked(db, { ms: this.waitMs, signal: opts.signal }, () => db.prepare('SELECT count(*) FROM sqlite_schema').get());
    } catch (e) {
      await reader.release();
      throw this.failed(e, readError);
    }
    return {
      describeTables: async () => {
        try {
          return sqliteDescribe(db);
        } catch (e) {
          throw this.failed(e, readError);
        }
      },
      readRows: (table, opts = {}) => this.readOn(db, table, (d, native) => sqliteReadRows(d, table, native, opts.signal, opts.where), opts.signal),
      close: async () => {
        if (db.inTransaction) db.exec('COMMIT');
        await reader.release();
      },
    };
  }

  /** The batches `read` gives from a read handle of its own, the table's native columns checked first. */
  private async *readWith(table: Entity, read: (db: Database.Database, native: NativeColumn[]) => Iterable<unknown[][]> | AsyncIterable<unknown[][]>, signal: AbortSignal | undefined): AsyncIterable<unknown[][]> {
    const reader = await this.openReader();
    if (!reader) throw noTable(this.display, table.name);
    try {
      yield* this.readOn(reader.db, table, read, signal);
    } finally {
      await reader.release();
    }
  }

  /**
   * The batches `read` gives from `db`, the table's native columns checked first. Reading, and
   * whatever the consumer does with a batch, blocks the thread: the event loop gets a turn every
   * LOOP_TURN_MS, so Ctrl-C stops a diff, an export or a purge of a SQLite store within a fraction
   * of a second instead of at its end.
   */
  private async *readOn(db: Database.Database, table: Entity, read: (db: Database.Database, native: NativeColumn[]) => Iterable<unknown[][]> | AsyncIterable<unknown[][]>, signal: AbortSignal | undefined): AsyncIterable<unknown[][]> {
    try {
      const t = sqliteTable(db, table.name);
      if (!t) throw noTable(this.display, table.name);
      const native = nativeColumnsFor(table, t);
      if (!Array.isArray(native)) throw noColumn(this.display, table.name, native.missing);
      const turn = loopTurns();
      for await (const batch of read(db, native)) {
        yield batch;
        await turn();
        signal?.throwIfAborted();
      }
    } catch (e) {
      throw this.failed(e, readError);
    }
  }

  /**
   * A handle for reads: a read-only connection of its own on a database file (so a long read
   * never holds the store's knex connection), the knex connection itself for :memory:.
   * Undefined where the file does not exist yet (an empty store).
   */
  private async openReader(): Promise<{ db: Database.Database; release: () => Promise<void> } | undefined> {
    if (this.file === ':memory:' || this.file === '') {
      const db = (await this.k.client.acquireConnection()) as Database.Database;
      return { db, release: () => this.k.client.releaseConnection(db) as Promise<void> };
    }
    if (!existsSync(this.file)) return undefined;
    const db = new Database(this.file, { readonly: true, fileMustExist: true });
    // Wait for a writer's commit rather than failing at once, as long as a write waits for a reader.
    db.pragma(`busy_timeout = ${this.waitMs}`);
    return {
      db,
      release: async () => {
        db.close();
      },
    };
  }

  private async withReader<T>(fn: (db: Database.Database) => T, empty: T): Promise<T> {
    const reader = await this.openReader();
    if (!reader) return empty;
    try {
      return fn(reader.db);
    } finally {
      await reader.release();
    }
  }

  async close(): Promise<void> {
    await this.k.destroy();
    this.takeBackEmpty();
  }

  /**
   * A command that failed before it wrote anything (a missing source file, a refused bundle, a
   * validate) must not leave a new, empty database behind: it looks like a store that was
   * migrated, and the next command would take it for one. SQLite writes nothing to a new file
   * until the first write, so a file this store made that is still 0 bytes was never used.
   */
  private takeBackEmpty(): void {
    if (!this.made.file) return;
    try {
      if (statSync(this.file).size !== 0) return;
      unlinkSync(this.file);
    } catch {
      return;
    }
    const top = this.made.folder;
    if (top === undefined) return;
    for (let dir = path.dirname(path.resolve(this.file)); ; dir = path.dirname(dir)) {
      try {
        rmdirSync(dir);
      } catch {
        return;
      }
      if (dir === top || path.dirname(dir) === dir) return;
    }
  }
}

function noTable(display: string, table: string): StoreError {
  return new StoreError(`${display}: there is no table ${table}`, { code: 'store.read', hint: 'Check the store URL and the table name.' });
}

function noColumn(display: string, table: string, column: string): StoreError {
  return new StoreError(`${display}: table ${table} has no column ${column}`, { code: 'store.read', hint: 'The table does not match the description asked for: describe the store again.' });
}

/** SQLite could not open or create the file, or the journal it writes beside it. */
const CANT_OPEN_HINT =
  'SQLite could not open or create the file, or its journal file beside it: check that the folder exists (a symbolic link leads somewhere), and that this user may write the file and its folder (a read-only folder or disk cannot hold a store that is written to), or give a path elsewhere.';

function readError(e: unknown, display: string): Error {
  if (e instanceof BugError || e instanceof StoreError) return e;
  if (e instanceof Error && e.name === 'AbortError') return e;
  // The reason alone: the statement that met it is forklift's, not the user's.
  const msg = sqliteReason(e);
  let hint = 'Check that the store is readable.';
  if (/file is not a database|SQLITE_NOTADB/.test(msg)) hint = 'The file is not a SQLite database: check the store URL.';
  // SQLITE_CANTOPEN: a new file in a read-only folder or disk, or a path through a link to nowhere.
  if (/unable to open database file|SQLITE_CANTOPEN/.test(msg)) hint = CANT_OPEN_HINT;
  return new StoreError(`${display}: ${msg}`, { code: 'store.read', hint, cause: e });
}

/** The tables a load writes: each with its load mode, and the model that says what they reference. */
type TablesToPrepare = { model: LoadRequest['model']; entities: readonly Pick<EntityLoad, 'entity' | 'mode'>[] };

/**
 * What a load does before the rows: the ledger table, the run's tables and every table they
 * reference (so foreign keys have a table to point at), what each table is in the model's own
 * words (for describeTables), and replace's emptying, children first, so foreign keys hold at
 * every step.
 */
async function prepareTables(trx: Knex.Transaction, req: TablesToPrepare, display: string): Promise<void> {
  await trx.raw(RUNS_DDL);
  for (const { entity } of req.entities) await checkTableShape(trx, entity, display);
  for (const entity of referencedClosure(req)) await trx.raw(sqliteCreateTable(entity));
  await trx.raw(SQLITE_TABLES_DDL);
  for (const rec of tableRecords(referencedClosure(req))) await trx.raw(SQLITE_TABLES_UPSERT, rec);
  for (const { entity, mode } of [...req.entities].reverse()) {
    if (mode === 'replace') await trx.raw(`DELETE FROM ${q(entity.name)}`);
  }
}

/** An existing table the entity loads into must keep the model's values as they are (table-shape.ts). */
async function checkTableShape(trx: Knex.Transaction, entity: Entity, display: string): Promise<void> {
  const cols = (await trx.raw('SELECT name, type FROM pragma_table_info(?)', [entity.name])) as { name: string; type: string }[];
  if (cols.length === 0) return;
  const table = { name: entity.name, primaryKey: [], foreignKeys: [], uniques: [], columns: cols.map((c): NativeColumn => ({ name: c.name, nativeType: c.type, kind: sqliteKind(c.type), column: { name: c.name, type: 'text', required: false } })) };
  const mismatches = shapeMismatches(entity, table, (c) => sqliteColumnType(c).split(' ')[0]!, sqliteHoldsExactly);
  if (mismatches.length) throw shapeError(display, entity.name, mismatches);
}

/**
 * Staged rows per INSERT … SELECT of a load. One statement for a million rows blocks the thread
 * (and Ctrl-C) for seconds; chunks of this many staged rows end within a fraction of a second
 * each and cost 1.6% more instructions than one statement (valgrind, the 1M-row machine log).
 */
export const LOAD_CHUNK_ROWS = 50_000;

/** The _seq ranges of an entity's staged rows, LOAD_CHUNK_ROWS at a time (staged rows are numbered 1, 2, … in order). */
async function seqRanges(trx: Knex.Transaction, l: EntityLoad): Promise<SeqRange[]> {
  const [b] = (await trx.raw(`SELECT MIN(_seq) AS lo, MAX(_seq) AS hi FROM stg.${l.stagedTable}`)) as { lo: number | null; hi: number | null }[];
  const ranges: SeqRange[] = [];
  if (b?.lo === null || b?.lo === undefined || b.hi === null) return ranges;
  for (let lo = b.lo; lo <= b.hi; lo += LOAD_CHUNK_ROWS) ranges.push({ lo, hi: Math.min(lo + LOAD_CHUNK_ROWS - 1, b.hi) });
  return ranges;
}

/** The INSERT … SELECT of an entity's ok staged rows with _seq between two bound values, under its load mode. */
function insertSql(l: EntityLoad): string {
  const cols = l.entity.columns.map((c) => q(c.name)).join(', ');
  const pk = l.entity.primaryKey.map(q).join(', ');
  let sql = `INSERT INTO main.${q(l.entity.name)} (${cols}) SELECT ${cols} FROM stg.${l.stagedTable} WHERE _st = 0 AND _seq BETWEEN ? AND ?`;
  if (l.mode === 'upsert') sql += ` ON CONFLICT (${pk}) DO UPDATE SET ${upsertSetNames(l).map((n) => `${q(n)} = excluded.${q(n)}`).join(', ')}`;
  return sql;
}


/** A ledger from before the chain (or before signing) gains the columns it lacks. */
async function addChainColumns(trx: Knex.Transaction): Promise<void> {
  const cols = (await trx.raw('PRAGMA table_info(forklift_runs)')) as { name: string }[];
  for (const [c, t] of [['seq', 'INTEGER'], ['prev_hash', 'TEXT'], ['entry_hash', 'TEXT'], ['signature', 'TEXT']] as const) {
    if (!cols.some((x) => x.name === c)) await trx.raw(`ALTER TABLE forklift_runs ADD COLUMN ${c} ${t}`);
  }
}

/**
 * How the purge's reference checks and key sets are written for SQLite. A column SQLite gives no
 * text or integer affinity (BLOB, REAL, NUMERIC, untyped) is read as text (sqliteText: a BLOB as
 * `\x` hex), so that text is what an archive or a key set holds, and what the table's value is
 * compared as (`forklift_text`): a BLOB never equals the text of its hex.
 */
function sqliteDialect(natives: ReadonlyMap<string, NativeTable>, text: string): RefDialect {
  const other = (table: string, column: string): boolean => natives.get(table)?.columns.find((c) => c.name === column)?.kind === 'other';
  return {
    id: q,
    rows: (_schema, table) => `main.${q(table)}`,
    keyEquals: (table, column, row, set) => (other(table, column) ? `${set} = ${text}(${row})` : `${set} = ${row}`),
  };
}

/** The columns of a temporary table holding values of `columns` of a table: each with the table's declared type (and so its affinity), or none where the values are held as text. */
function tempColumns(natives: ReadonlyMap<string, NativeTable>, table: string, columns: readonly string[]): string[] {
  const native = natives.get(table);
  return columns.map((name) => {
    const n = native?.columns.find((c) => c.name === name);
    if (!n) throw new StoreError(`${table} has no column ${name} any more; nothing was deleted`, { code: 'purge.columns', hint: 'The table changed since the archive was written: choose a new archive folder and run the purge again.' });
    return n.kind === 'other' ? q(name) : `${q(name)} ${n.nativeType}`;
  });
}

/** One table's archived rows (every column) into a temporary table of their own, indexed by key. */
async function loadArchive(db: Database.Database, t: DeleteTable, i: number, natives: ReadonlyMap<string, NativeTable>, signal: AbortSignal | undefined): Promise<ArchivedTable> {
  const name = `forklift_purge_rows_${i}`;
  const cols = t.entity.columns.map((c) => q(c.name)).join(', ');
  db.exec(`DROP TABLE IF EXISTS temp.${name}`);
  db.exec(`CREATE TEMP TABLE ${name} (${tempColumns(natives, t.entity.name, t.entity.columns.map((c) => c.name)).join(', ')})`);
  const tuple = `(${t.entity.columns.map(() => '?').join(', ')})`;
  for await (const piece of rowPieces(t.rows(), signal)) {
    db.prepare(`INSERT INTO temp.${name} (${cols}) VALUES ${piece.map(() => tuple).join(', ')}`).run(...(piece.flat() as unknown[]));
  }
  db.exec(`CREATE INDEX temp.${name}_key ON ${name} (${t.entity.primaryKey.map(q).join(', ')})`);
  return { entity: t.entity, archive: `temp.${name}`, again: `temp.${name}`, expected: t.expected };
}

/**
 * One DELETE of the table's rows whose key is archived and whose every other value `IS` (NULL-safe)
 * the archived one: a row changed since the archive was written stays, and the guard's count
 * refuses the purge. Returns the rows it deleted.
 */
function deleteArchived(db: Database.Database, d: RefDialect, t: ArchivedTable, natives: ReadonlyMap<string, NativeTable>, text: string): number {
  const other = new Set(natives.get(t.entity.name)?.columns.filter((c) => c.kind === 'other').map((c) => c.name));
  const same = [
    archivedKeyMatch(d, t.entity, 't', 'a'),
    ...valueColumns(t.entity).map((c) => (other.has(c.name) ? `a.${q(c.name)} IS ${text}(t.${q(c.name)})` : `a.${q(c.name)} IS t.${q(c.name)}`)),
  ].join(' AND ');
  return db.prepare(`DELETE FROM main.${q(t.entity.name)} AS t WHERE EXISTS (SELECT 1 FROM ${t.archive} AS a WHERE ${same})`).run().changes;
}

/**
 * Key sets (a purge's selection) in temporary tables of a read-only connection of their own: the
 * main database is only read.
 */
class SqliteKeySets implements KeySets {
  private readonly sets = new Map<string, { set: RowSet; insert: Database.Statement; remove: Database.Statement }>();
  private readonly natives: Map<string, NativeTable>;
  private readonly d: RefDialect;

  constructor(
    private readonly db: Database.Database,
    private readonly release: () => Promise<void>,
  ) {
    this.natives = new Map(sqliteCatalog(db).map((t) => [t.name, t]));
    this.d = sqliteDialect(this.natives, registerTextFunction(db));
  }

  async add(table: Entity, keys: readonly (readonly unknown[])[], first: number): Promise<void> {
    let s = this.sets.get(table.name);
    if (!s) {
      const name = `forklift_keys_${this.sets.size}`;
      const key = table.primaryKey;
      this.db.exec(`CREATE TEMP TABLE ${name} (forklift_n INTEGER PRIMARY KEY, ${tempColumns(this.natives, table.name, key).join(', ')})`);
      this.db.exec(`CREATE INDEX temp.${name}_key ON ${name} (${key.map(q).join(', ')})`);
      s = {
        set: { table: `temp.${name}`, key },
        insert: this.db.prepare(`INSERT INTO temp.${name} (forklift_n, ${key.map(q).join(', ')}) VALUES (?, ${key.map(() => '?').join(', ')})`),
        remove: this.db.prepare(`DELETE FROM temp.${name} WHERE forklift_n = ?`),
      };
      this.sets.set(table.name, s);
    }
    const { insert } = s;
    this.db.transaction(() => keys.forEach((k, i) => insert.run(first + i, ...k)))();
  }

  async referenced(fk: StoreForeignKey): Promise<number[]> {
    const parent = this.sets.get(fk.refTable);
    if (!parent) return [];
    const child = fk.schema === null ? (this.sets.get(fk.table)?.set ?? null) : null;
    return (this.db.prepare(referencedSql(this.d, fk, parent.set, child)).pluck().all() as (number | bigint)[]).map(Number);
  }

  async remove(table: string, numbers: readonly number[]): Promise<void> {
    const s = this.sets.get(table);
    if (!s) return;
    const { remove } = s;
    this.db.transaction(() => numbers.forEach((n) => remove.run(n)))();
  }

  async close(): Promise<void> {
    try {
      // The connection may be the store's own (a database in memory): its temporary tables go.
      for (const { set } of this.sets.values()) this.db.exec(`DROP TABLE IF EXISTS ${set.table}`);
    } finally {
      await this.release();
    }
  }
}

/**
 * Appends the entry to the audit chain: the write lock first (an UPDATE takes SQLite's one write
 * lock, as BEGIN IMMEDIATE would), so no other writer reads the same head; a ledger from before
 * the chain gains its columns here.
 */
async function insertRun(trx: Knex.Transaction, e: RunEntry): Promise<ChainLink> {
  await trx.raw('UPDATE forklift_runs SET id = id WHERE 0');
  await addChainColumns(trx);
  const head = (await trx.raw('SELECT seq, entry_hash FROM forklift_runs WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1')) as { seq: number; entry_hash: string }[];
  const entry = head[0] ? e : firstChainEntry(e, (await trx.raw(UNCHAINED_SQL)) as Record<string, unknown>[]);
  const link = nextLink(entry, head[0]);
  await trx('forklift_runs').insert({ ...runEntryRow(entry), ...link });
  return link;
}

/**
 * SQLite names the column of a key clash but not the key ("UNIQUE constraint failed: items.item_code"),
 * which leaves a user of `load: append` or `incremental` searching a file of a million rows: the
 * first staged key the table already holds is looked up and named. Always throws.
 */
async function namedKeyClash(trx: Knex.Transaction, l: EntityLoad, e: unknown, display: string): Promise<never> {
  // RAISE(ABORT, …) in a trigger of the target: its message, with the table it refused a row of.
  if ((e as { code?: unknown } | null)?.code === 'SQLITE_CONSTRAINT_TRIGGER') {
    throw new StoreError(`${display}: ${l.entity.name}: ${sqliteReason(e)}`, { code: 'store.load', hint: TRIGGER_REFUSAL_HINT, cause: e });
  }
  const pk = l.entity.primaryKey;
  if (!/UNIQUE constraint failed/.test(sqliteReason(e)) || pk.length === 0 || l.mode === 'upsert') throw e;
  const on = pk.map((c) => `t.${q(c)} = s.${q(c)}`).join(' AND ');
  const hit = ((await trx.raw(`SELECT s._line AS line, ${pk.map((c, i) => `s.${q(c)} AS k${i}`).join(', ')} FROM stg.${l.stagedTable} s JOIN main.${q(l.entity.name)} t ON ${on} WHERE s._st = 0 LIMIT 1`)) as Record<string, unknown>[])[0];
  if (!hit) throw e;
  throw keyClashError(display, l, { line: hit.line, key: pk.map((_, i) => hit[`k${i}`]) }, e);
}

/** SQLite's own message, without the statement knex puts before it ("INSERT INTO … - UNIQUE constraint failed: …"). */
export function sqliteReason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  // The first " - ": the reason itself may hold one ("no such column: x - should this be a string literal …").
  const cut = msg.indexOf(' - ');
  return cut > 0 && /^(INSERT|SELECT|UPDATE|DELETE|CREATE|ATTACH|DETACH|PRAGMA|BEGIN|COMMIT|SAVEPOINT|RELEASE|ROLLBACK)\b/i.test(msg) ? msg.slice(cut + 3) : msg;
}

export function asStoreError(e: unknown, display: string): Error {
  if (e instanceof BugError || e instanceof StoreError) return e;
  const interrupted = interruptedLoadError(e, display);
  if (interrupted) return interrupted;
  const msg = sqliteReason(e);
  let hint = 'Check that the target is reachable and writable.';
  if (/UNIQUE constraint failed/.test(msg)) hint = UNIQUE_CLASH_HINT;
  if (/FOREIGN KEY constraint failed/.test(msg)) hint = 'Rows in the target that this run does not load still reference rows it replaces: load those entities too, or use load: append.';
  if (/unable to open database file|SQLITE_CANTOPEN/.test(msg)) hint = CANT_OPEN_HINT;
  return new StoreError(`${display}: ${msg}`, { code: 'store.load', hint, cause: e });
}

/**
 * SQLite lets one connection write a database file at a time, and, in the rollback-journal mode
 * SQLite gives a new file (forklift's own stores included: forklift never changes a file's journal
 * mode), no reader while a writer commits: a writer that commits waits until every read
 * transaction on the file (an export's snapshot, a diff, another program) has ended, and a reader
 * waits while a writer commits. In WAL mode readers and the writer do not wait for one another.
 * Every connection forklift opens on a store waits this long for the other's lock, then fails
 * with store.busy: FORKLIFT_SQLITE_WAIT seconds, 60 when unset.
 */
export const SQLITE_WAIT_DEFAULT_S = 60;

/**
 * The files whose lock this process waited for in full: a write after that (the failed entry of
 * the run that waited, by this store or another opened on the same file) waits AFTER_WAIT_MS, not
 * the whole wait again.
 */
const waitedOut = new Set<string>();
const AFTER_WAIT_MS = 2000;

export function sqliteWaitMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.FORKLIFT_SQLITE_WAIT;
  if (raw === undefined || raw.trim() === '') return SQLITE_WAIT_DEFAULT_S * 1000;
  const seconds = Number(raw);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(raw) || seconds > 86_400) {
    throw new ConfigError(`FORKLIFT_SQLITE_WAIT=${JSON.stringify(raw)} is not a number of seconds from 0 to 86400`, {
      code: 'config.env',
      hint: `Set FORKLIFT_SQLITE_WAIT to how many seconds forklift waits for another program's lock on a SQLite store (${SQLITE_WAIT_DEFAULT_S} when unset), or unset it.`,
    });
  }
  return Math.round(seconds * 1000);
}

/** SQLITE_BUSY (another connection holds the lock this one needs), as better-sqlite3 gives it and as knex passes it on. */
function isBusy(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) return true;
  return /\bSQLITE_BUSY\b|database (\S+ )?is locked$/.test(sqliteReason(e));
}

/** A lock another connection held past the wait: what to do, and (a write) that nothing was committed. */
function busyError(display: string, waitMs: number, mode: 'read' | 'write', cause: unknown): StoreError {
  const waited = waitMs % 1000 === 0 ? `${waitMs / 1000} s` : `${waitMs} ms`;
  const message =
    mode === 'write'
      ? `${display}: another forklift run or program is using the database file, and kept it locked for the ${waited} forklift waits; nothing was committed`
      : `${display}: another forklift run or program is writing to the database file, and kept it locked for the ${waited} forklift waits`;
  return new StoreError(message, {
    code: 'store.busy',
    hint: `Wait for it to finish (a forklift migrate, export, diff, exit or purge of this file, or another program that has it open), then run this again; FORKLIFT_SQLITE_WAIT=SECONDS waits longer (${SQLITE_WAIT_DEFAULT_S} when unset).`,
    cause,
  });
}

/** What knex's Transaction is inside: the two steps replaced, and the query that resolves or rejects it. */
interface KnexTransactionSteps {
  begin(conn: Database.Database): Promise<unknown>;
  commit(conn: Database.Database, value: unknown): Promise<unknown>;
  query(conn: Database.Database, sql: string, status?: 1 | 2, value?: unknown): Promise<unknown>;
}

/**
 * Every transaction of the store's knex connection writes, so it begins IMMEDIATE: it takes the
 * write lock first, waiting for another writer. knex's deferred BEGIN took the lock at the first
 * write, after the first read: then SQLite fails at once, without waiting, when another connection
 * writes (two migrates at once). The COMMIT waits for readers (rollback journal). Both wait in
 * steps (untilUnlocked), so Ctrl-C is heard. A COMMIT that still finds the file locked is rolled
 * back here: knex would hand the connection on inside the open transaction.
 */
function immediateTransactions(k: Knex, wait: () => { ms: number; signal: AbortSignal | undefined }): void {
  const client = k.client as { transaction: (...args: unknown[]) => KnexTransactionSteps };
  const make = client.transaction.bind(client);
  client.transaction = (...args: unknown[]) => {
    const t = make(...args);
    // knex's own ending of a transaction whose BEGIN or COMMIT failed: it rejects with the error.
    const reject = (conn: Database.Database, e: unknown): Promise<unknown> => t.query(conn, 'SELECT 1', 2, e);
    t.begin = async (conn) => {
      try {
        await untilUnlocked(conn, wait(), () => conn.exec('BEGIN IMMEDIATE'));
      } catch (e) {
        return reject(conn, e);
      }
      return undefined;
    };
    t.commit = async (conn, value) => {
      try {
        await untilUnlocked(conn, wait(), () => conn.exec('COMMIT'));
      } catch (e) {
        if (conn.inTransaction) conn.exec('ROLLBACK');
        return reject(conn, e);
      }
      return t.query(conn, 'SELECT 1', 1, value);
    };
    return t;
  };
}

/** How long SQLite itself waits for a lock at a time, before the event loop gets a turn. */
const WAIT_STEP_MS = 100;

/**
 * Runs `attempt` (a BEGIN IMMEDIATE or a COMMIT, which leave nothing half done when they find the
 * file locked) until it finds the file unlocked or `wait.ms` have passed: SQLite waits
 * WAIT_STEP_MS at a time, blocking the thread, and the event loop gets a turn in between, so a
 * Ctrl-C stops the wait (and a second one the process) within a fraction of a second.
 */
async function untilUnlocked(conn: Database.Database, wait: { ms: number; signal: AbortSignal | undefined }, attempt: () => void): Promise<void> {
  const deadline = Date.now() + wait.ms;
  try {
    for (;;) {
      wait.signal?.throwIfAborted();
      conn.pragma(`busy_timeout = ${Math.max(0, Math.min(WAIT_STEP_MS, deadline - Date.now()))}`);
      try {
        attempt();
        return;
      } catch (e) {
        if (!isBusy(e) || Date.now() >= deadline) throw e;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    conn.pragma(`busy_timeout = ${wait.ms}`);
  }
}

/** Whether `file` is a folder; false where it, or a parent, is missing or a file (makeFolder says which). */
function isFolder(file: string): boolean {
  try {
    return statSync(file, { throwIfNoEntry: false })?.isDirectory() === true;
  } catch {
    return false;
  }
}
