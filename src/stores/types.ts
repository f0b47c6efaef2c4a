import type { Entity, Model } from '../model/types.js';
import type { Refusal } from './rehearse.js';
import type { StoreKind } from './url.js';

export type LoadMode = 'replace' | 'append' | 'upsert' | 'incremental';

/** One row of forklift_runs: the run ledger (SPEC sections 5 and 9). */
export interface RunEntry {
  id: string;
  command: string;
  /** dry-run: `migrate --dry-run` rehearsed the load and rolled it back (SPEC section 12). */
  status: 'succeeded' | 'rejected' | 'failed' | 'validated' | 'dry-run';
  started: string;
  finished: string;
  operator: string;
  host: string;
  tool_version: string;
  plan_sha256: string | null;
  /** mapping and input files with their SHA-256, as JSON. */
  files: Record<string, string>;
  /** per-entity ledger, as JSON. */
  counts: Record<string, unknown>;
  message: string | null;
}

export interface EntityLoad {
  entity: Entity;
  mode: LoadMode;
  /** The staged table holding the accepted rows (in the staging file). */
  stagedTable: string;
  /** Rows expected: the loader checks it inserted exactly these. */
  expected: number;
  /**
   * The columns this load provides (a mapping's fields, whether from, const, expr or default).
   * An upsert sets only these where the key exists, so a column the mapping does not mention keeps
   * its value; a new row gets every column (the others NULL). Absent: every column (bundle import).
   */
  provided?: readonly string[] | undefined;
}

export interface LoadRequest {
  model: Model;
  stagingFile: string;
  /** In dependency order. */
  entities: EntityLoad[];
  entry: RunEntry;
  signal?: AbortSignal | undefined;
}

/** A dry run's load: what load() would do, rolled back, with nothing appended to forklift_runs. */
/** A counter that outlives a rollback (TargetStore.counters): its qualified name and value as text. */
export interface StoreCounter {
  name: string;
  value: string | null;
}

export interface RehearsalRequest {
  model: Model;
  stagingFile: string;
  /** In dependency order. */
  entities: EntityLoad[];
  /** Names the scratch schema where one is needed (MySQL/MariaDB). */
  runId: string;
  signal?: AbortSignal | undefined;
  /**
   * Told, by a store that can tell, which of its counters (as TargetStore.counters names them)
   * the rehearsal itself may have moved: the others moved by other sessions' work meanwhile.
   */
  onCountersUsed?: ((names: readonly string[]) => void) | undefined;
}

/**
 * Rows whose `column` (a date or timestamp) is before `before` (its staging form: `YYYY-MM-DD` or
 * `YYYY-MM-DDTHH:mm:ss.SSSZ`): a retention cut-off, pushed down into the store's read so a purge
 * reads only the rows it may archive. A NULL is never before anything.
 */
export interface RowRange {
  column: string;
  before: string;
}

/** Options of readRows: an interruption and, for a purge, the cut-off of the rows wanted. */
export interface ReadRowsOptions {
  signal?: AbortSignal | undefined;
  where?: RowRange | undefined;
}

/** One table of a purge: the primary keys of exactly the rows to delete, read back from the verified archive. */
export interface DeleteTable {
  entity: Entity;
  /**
   * Batches of the archived rows: every column of `entity`, in its column order (staging form).
   * A row is deleted only where the store still holds exactly these values: one changed since
   * the archive was written is not in the archive, so the delete refuses (the count check).
   */
  rows: () => AsyncIterable<unknown[][]>;
  /** Rows the archive holds: the table must lose exactly these. */
  expected: number;
}

/** What a store does to the rows that reference a row being deleted (ON DELETE). */
export type DeleteAction = 'no action' | 'restrict' | 'cascade' | 'set null' | 'set default';

/**
 * A foreign key of the store's catalog that references one of its tables: composite, self
 * referencing, or from a table elsewhere (another PostgreSQL schema, another MySQL database) alike.
 * A purge decides with these, not with the model's single-column references: the store enforces
 * (and cascades along) every foreign key it has.
 */
export interface StoreForeignKey {
  /** The constraint's name, for messages. */
  name: string;
  /** The referencing table's schema (database on MySQL) where it is not the store's own, else null. */
  schema: string | null;
  table: string;
  columns: string[];
  /** The referenced table, one of the store's own, and its columns (in the order of `columns`). */
  refTable: string;
  refColumns: string[];
  onDelete: DeleteAction;
}

/**
 * Something of the store's own that runs when rows of a table are deleted: a trigger (BEFORE,
 * AFTER or INSTEAD OF DELETE) or a PostgreSQL rule ON DELETE. What it does is hidden in its body
 * (write elsewhere, delete elsewhere, refuse), so a purge refuses to set one off unless allowed.
 */
export interface DeleteTrigger {
  table: string;
  name: string;
  kind: 'trigger' | 'rule';
  /** When it acts, in the store's words: `BEFORE DELETE`, `AFTER DELETE`, `INSTEAD OF DELETE`, `ON DELETE` (a rule). */
  when: string;
  /** The partition of `table` it is made on (PostgreSQL), where it is not made on the table itself. */
  on?: string;
}

/**
 * Sets of rows of the store's tables, each row named by its primary key and a number of the
 * caller's, held in the store itself (temporary tables of one session), so that whether a row is
 * referenced is decided by the store's own comparison (its collations, its types), exactly as its
 * foreign keys decide it. A purge's selection (retention/select.ts); nothing of the store changes.
 */
export interface KeySets {
  /** Adds rows of `table` to its set: their primary keys (staging form, in `table.primaryKey` order), numbered `first`, `first + 1`, … */
  add(table: Entity, keys: readonly (readonly unknown[])[], first: number): Promise<void>;
  /**
   * The numbers of the rows in the set of fk.refTable that a row of fk.table references through
   * fk, where that row is not itself in the set of fk.table (the tables without a set keep every row).
   */
  referenced(fk: StoreForeignKey): Promise<number[]>;
  /** Takes rows out of a table's set, by number. */
  remove(table: string, numbers: readonly number[]): Promise<void>;
  close(): Promise<void>;
}

export interface DeleteRequest {
  /** Children before the tables they reference. */
  tables: DeleteTable[];
  /** Appended to the ledger in the same transaction. */
  entry: RunEntry;
  /** Called inside the transaction, before any DELETE, with the store's delete triggers (deleteTriggers); throws to refuse. */
  checkTriggers?: ((triggers: DeleteTrigger[]) => void) | undefined;
  /**
   * References the plan's model declares that the catalog has no FOREIGN KEY for (a self
   * reference, which forklift leaves to validation): checked like the catalog's (modelReferences).
   */
  references?: readonly StoreForeignKey[] | undefined;
  signal?: AbortSignal | undefined;
}

/** The tables of one schema. */
export interface SchemaTables {
  schema: string;
  tables: string[];
}

/**
 * One consistent view of a whole store (TargetStore.snapshot): describeTables, tablesElsewhere and
 * readRows as on the store, every one of them seeing the store as it was at one instant, whatever
 * commits meanwhile. A reader of many tables (export, diff, exit) reads through one, so it never
 * holds one table before a change and another after it. Reads run one at a time; one stopped
 * early leaves the view usable. close() ends it (its transaction and connection).
 */
export interface StoreSnapshot {
  describeTables(): Promise<Entity[]>;
  tablesElsewhere?(): Promise<SchemaTables[]>;
  readRows(table: Entity, opts?: ReadRowsOptions): AsyncIterable<unknown[][]>;
  close(): Promise<void>;
}

export interface TargetStore {
  readonly kind: StoreKind;
  /** The URL without password. */
  readonly display: string;
  /**
   * Whether the store compares text keys without their trailing spaces ('A' and 'A ' one key):
   * MySQL/MariaDB's PAD SPACE collations and SQL Server do. Validation then rejects keys that
   * differ only so (validate/keys.ts checkPaddedKeys).
   */
  readonly keysIgnoreTrailingSpaces: boolean;
  /** Loads every entity and appends the run entry in one transaction; returns rows inserted per entity. */
  load(req: LoadRequest): Promise<Map<string, number>>;
  /**
   * Rehearses load() (SPEC section 12): the same tables, emptying and rows, inside a transaction
   * that is rolled back (MySQL/MariaDB, where DDL commits at once: in a scratch schema dropped
   * afterwards). Returns the rows the target's own constraints refuse; nothing persists.
   */
  rehearse(req: RehearsalRequest): Promise<Refusal[]>;
  /**
   * The store's counters that a rollback does not take back (PostgreSQL sequences; SQL Server
   * identities and sequences), each with its value as text (null: never used, or not readable by
   * this login). A dry run reads them before and after its rehearsal to say which moved: a
   * trigger's insert into an audit table, or a default of nextval(), advances them for good.
   * Absent where nothing survives a rehearsal: SQLite's rollback takes AUTOINCREMENT back, and
   * MySQL/MariaDB rehearse in a scratch schema of copies.
   */
  counters?(): Promise<StoreCounter[]>;
  /** The entry_hash of the last entry this store appended to forklift_runs (the ledger head), once it has. */
  readonly ledgerHead?: string | null;
  /** Appends a run entry on its own (a failed or rejected attempt: data untouched). */
  recordRun(entry: RunEntry): Promise<void>;
  /**
   * `audit init`, in one transaction under the ledger lock: forklift_runs created or given the
   * chain's columns, every entry from before the chain chained in the order it ran (adoptionLinks),
   * then the entry `entryFor` makes (the init itself, saying how many) appended. Returns how many were adopted.
   */
  initLedger(entryFor: (adopted: number) => RunEntry): Promise<{ adopted: number }>;
  /** Whether a table exists. */
  hasTable(name: string): Promise<boolean>;
  /** The distinct values of one column, in batches (foreign keys to rows already in the target). */
  readColumn(table: string, column: string): AsyncIterable<unknown[]>;
  /**
   * Per distinct value of the `groupBy` columns, the greatest value of `column`, all in the staging
   * form (incremental loads: the watermark per machine). Rows are `[...group, max]`.
   */
  maxPerGroup(table: string, groupBy: readonly string[], column: string): Promise<unknown[][]>;
  /**
   * Every table of the store but forklift's own bookkeeping (forklift_tables), described as
   * entities: a table forklift created keeps the model's exact types, enum values, references and
   * descriptions (recorded in forklift_tables when it was loaded), each column for as long as
   * the table still has it as recorded (a column added or changed by hand is the catalog's); any
   * other table, forklift_runs included, is described from the catalog (native type to model type).
   */
  describeTables(): Promise<Entity[]>;
  /**
   * Tables the store holds that describeTables does not see, per schema, names sorted: on
   * PostgreSQL the tables of every schema but the connection's current one (system schemas and
   * forklift's scratch schemas aside). Absent where a store has nothing beside what it describes.
   */
  tablesElsewhere?(): Promise<SchemaTables[]>;
  /**
   * A table's rows in the canonical order of src/bundle/order.ts (primary key; every column where
   * there is none), values in the staging form (mapping/coerce.ts: text, numbers, 1/0 booleans,
   * fixed-scale decimal text, `YYYY-MM-DD`, `YYYY-MM-DDTHH:mm:ss.SSSZ`), in batches, streamed.
   */
  readRows(table: Entity, opts?: ReadRowsOptions): AsyncIterable<unknown[][]>;
  /**
   * Opens one consistent view of the whole store for a reader of many tables (StoreSnapshot):
   * PostgreSQL one REPEATABLE READ READ ONLY transaction holding ACCESS SHARE on every table of
   * the schema from its start (a TRUNCATE elsewhere waits for it instead of emptying what it
   * sees), MySQL/MariaDB one transaction WITH CONSISTENT SNAPSHOT, SQLite one read transaction,
   * each on one connection of its own; SQL Server not yet (each table read on its own). The caller
   * closes it. `signal` ends a wait for the locks.
   */
  snapshot(opts?: { signal?: AbortSignal | undefined }): Promise<StoreSnapshot>;
  /**
   * A purge's delete (SPEC section 11): in ONE transaction, each table's archived rows into a
   * temporary table and those rows locked; refused (everything rolled back) where a row that stays
   * references one of them through any foreign key (delete-common.ts); one DELETE per table joined
   * on its archived rows; every purged table and every table referencing one counted before and
   * after (a purged table must lose exactly `expected` rows, any other none); then the ledger
   * entry. Returns rows deleted per table. Absent on a store that cannot purge yet.
   */
  deleteRows?(req: DeleteRequest): Promise<Map<string, number>>;
  /** Every foreign key of the catalog that references one of the store's tables (a purge's selection). With deleteRows. */
  foreignKeys?(): Promise<StoreForeignKey[]>;
  /** Every enabled trigger (and, on PostgreSQL, rule) that acts when rows of one of the store's own tables are deleted (a purge's check). With deleteRows. */
  deleteTriggers?(): Promise<DeleteTrigger[]>;
  /** A session of key sets (a purge's selection); closed by the caller. With deleteRows. */
  openKeySets?(): Promise<KeySets>;
  /**
   * Asks the server to stop every statement the store's pooled connections run now (Ctrl-C while
   * a run reads the target's keys or watermarks: a read waiting for another session's lock); each
   * then fails. Absent where no statement can wait (SQLite runs in this thread).
   */
  cancelStatements?(): void;
  close(): Promise<void>;
}
