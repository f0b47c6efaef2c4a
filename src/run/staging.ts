import Database from 'better-sqlite3';
import type { Entity } from '../model/types.js';
import type { StoredValue } from '../mapping/coerce.js';
import type { Cell } from '../sources/types.js';
import { RawRowReader } from '../sources/raw-rows.js';
import { RowInserter } from '../stores/sqlite-insert.js';
import { q } from '../util/sql-name.js';
import { ROW_BEHIND_WATERMARK, ROW_DUPLICATE, ROW_OK, ROW_REJECTED } from './row-state.js';
import { BugError } from '../core/errors.js';

/**
 * The run's load package: a scratch SQLite file in the run folder holding every mapped row and
 * every reject, so the set rules (keys, foreign keys, BOM cycles) work on disk instead of in
 * memory, and the loader reads one settled set of rows. Like dlt's load packages, it can be
 * kept (`--keep-staging`) and inspected with any SQLite client.
 */



export const stagingTable = (entity: string): string => q(`s_${entity}`);

export interface StagedReject {
  entity: string;
  line: number;
  field: string;
  rule: string;
  reason: string;
  raw: readonly Cell[] | null;
  key?: string;
}

export class Staging {
  readonly db: Database.Database;
  private inserts = new Map<string, RowInserter>();
  private rejectInsert: Database.Statement;

  constructor(
    readonly file: string,
    opts: { reopen?: boolean; cacheMiB?: number } = {},
  ) {
    this.db = new Database(file);
    // A scratch file: durability buys nothing here and costs most of the write time.
    this.db.pragma('journal_mode = OFF');
    this.db.pragma('synchronous = OFF');
    // Migrate looks rows up by key here (duplicates, references), and the file is in the OS's page
    // cache anyway: 32 MiB against 64 MiB took 34 MiB to 58 MiB off a migrate's peak memory, ran
    // the 1M-row plans as fast or faster, and the 5M-row machine log 1-2% slower. A bundle import
    // only appends rows in key order and reads them once, so it asks for less still.
    this.db.pragma(`cache_size = ${-1024 * (opts.cacheMiB ?? 32)}`);
    this.db.pragma('temp_store = FILE');
    if (!opts.reopen) this.db.exec(`CREATE TABLE rejects (entity TEXT NOT NULL, line INTEGER NOT NULL, field TEXT NOT NULL, rule TEXT NOT NULL, reason TEXT NOT NULL, raw TEXT, key TEXT)`);
    this.rejectInsert = this.db.prepare('INSERT INTO rejects (entity, line, field, rule, reason, raw, key) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.db.exec('BEGIN');
  }

  createEntity(entity: Entity): void {
    const cols = entity.columns.map((c) => q(c.name)).join(', ');
    this.db.exec(`CREATE TABLE ${stagingTable(entity.name)} (_seq INTEGER PRIMARY KEY, _line INTEGER NOT NULL, _st INTEGER NOT NULL DEFAULT 0, ${cols})`);
    this.inserts.set(entity.name, new RowInserter(this.db, stagingTable(entity.name), ['_line', ...entity.columns.map((c) => q(c.name))]));
  }

  /** Stages one mapped row; rows go to SQLite in groups (flushRows() writes the rest). */
  insertRow(entity: string, line: number, values: readonly StoredValue[]): void {
    this.inserts.get(entity)!.add(values, line);
  }

  flushRows(entity: string): void {
    this.inserts.get(entity)!.flush();
  }

  /** Makes the raw rows (raw-rows.ts) readable here, once every reader has finished writing them. */
  attachRawRows(file: string): void {
    const inTx = this.db.inTransaction;
    if (inTx) this.db.exec('COMMIT');
    this.db.prepare('ATTACH DATABASE ? AS raw').run(file);
    this.rawAttached = true;
    if (inTx) this.db.exec('BEGIN');
  }

  private rawAttached = false;
  private rawReaders = new Map<string, RawRowReader | null>();

  /** The row as read, from the raw rows file, as JSON, or null where none was kept. */
  rawRow(entity: string, line: number): string | null {
    if (!this.rawAttached) return null;
    let reader = this.rawReaders.get(entity);
    if (reader === undefined) {
      const exists = this.db.prepare("SELECT 1 FROM raw.sqlite_master WHERE type = 'table' AND name = ?").get(`raw_${entity}`);
      reader = exists ? new RawRowReader(this.db, entity) : null;
      this.rawReaders.set(entity, reader);
    }
    const cells = reader?.get(line);
    return cells ? JSON.stringify(cells) : null;
  }

  reject(r: StagedReject): void {
    this.rejectInsert.run(r.entity, r.line, r.field, r.rule, r.reason, r.raw === null ? null : JSON.stringify(r.raw), r.key ?? null);
  }

  /** Indexes the key columns once all rows are in, for the duplicate and foreign-key passes. */
  indexKeys(entity: Entity): void {
    const cols = entity.primaryKey.map(q).join(', ');
    this.db.exec(`CREATE INDEX ${q(`k_${entity.name}`)} ON ${stagingTable(entity.name)} (${cols})`);
  }

  count(entity: string, status: number): number {
    return this.counts(entity)[status] ?? 0;
  }

  /**
   * Staged rows by status, counted by SQL from the rows themselves (one scan). A count per known
   * status, not GROUP BY _st: SQLite sorts every row for a GROUP BY without an index (1M rows:
   * 0.32-0.52 s against 0.10-0.13 s).
   */
  counts(entity: string): Record<number, number> {
    const states = [ROW_OK, ROW_DUPLICATE, ROW_REJECTED, ROW_BEHIND_WATERMARK];
    const row = this.db.prepare(`SELECT ${states.map((s) => `COUNT(*) FILTER (WHERE _st = ${s}) AS n${s}`).join(', ')}, COUNT(*) AS n FROM ${stagingTable(entity)}`).get() as Record<string, number>;
    const out: Record<number, number> = {};
    for (const s of states) if (row[`n${s}`]) out[s] = row[`n${s}`]!;
    const known = states.reduce((n, s) => n + (out[s] ?? 0), 0);
    if (known !== row.n) throw new BugError(`${row.n! - known} staged rows of ${entity} in no known state`);
    return out;
  }

  rejectCount(entity: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM rejects WHERE entity = ?').get(entity) as { n: number }).n;
  }

  /** Marks one staged row rejected, with its reason, unless it already left the ok set. */
  rejectStaged(entity: string, seq: number, line: number, field: string, rule: string, reason: string): boolean {
    const t = stagingTable(entity);
    const changed = this.db.prepare(`UPDATE ${t} SET _st = ${ROW_REJECTED} WHERE _seq = ? AND _st = ${ROW_OK}`).run(seq).changes;
    if (changed) {
      this.rejectInsert.run(entity, line, field, rule, reason, this.rawRow(entity, line), null);
    }
    return changed > 0;
  }

  commit(): void {
    if (this.db.inTransaction) this.db.exec('COMMIT');
  }

  /** Commits and closes; the file is closed even where the COMMIT fails (a full disk), and the failure thrown. */
  close(): void {
    if (!this.db.open) return;
    try {
      if (this.db.inTransaction) this.db.exec('COMMIT');
    } finally {
      this.db.close();
    }
  }

  /** Closes the file on a path that already fails: what went wrong first is the error to show, and the run must still end. */
  closeQuietly(): void {
    try {
      this.close();
    } catch {
      // Its COMMIT failed (a full disk): the file is closed all the same, and the run's own error stands.
    }
  }
}
