import Database from 'better-sqlite3';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { startThread, type ThreadErrorMessage } from '../core/thread.js';
import type { Entity } from '../model/types.js';
import { q } from '../util/sql-name.js';
import { RowInserter } from '../stores/sqlite-insert.js';
import { safeBagPath } from './bagit.js';
import { csvDecoder, readBundleCsv, type CsvField } from './csv.js';
import { tableFiles } from './layout.js';

/**
 * exit's re-import of its bundle into the scratch SQLite store, written so the comparison can read
 * it while it is written: each table's CSV goes straight into its table (created beforehand by
 * SqliteStore.createTables), parents first, committed every COMMIT_ROWS rows in WAL mode, and each
 * commit is announced. The comparison reads only committed rows, in key order, behind the writer
 * (sqliteFollowRows), so re-import and comparison run on the two cores at once instead of one
 * after the other. The store's constraints (STRICT types, CHECKs, keys, foreign keys) check every
 * row; the verify, in a thread of its own, decides whether the result counts.
 */

export interface ScratchImportInput {
  /** The bundle folder. */
  dir: string;
  /** The scratch SQLite file, its tables already created. */
  file: string;
  /** Parents first. */
  entities: Entity[];
}

export type ScratchImportMessage = { type: 'committed'; table: string; rows: number; done: boolean } | { type: 'result'; rows: Record<string, number> } | ThreadErrorMessage;

/** The scratch file in WAL mode (it stays so), before the writer and any reader open it: readers then never block the writer. */
export function useWal(file: string): void {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
  } finally {
    db.close();
  }
}

/** Rows per commit: small enough that the reader follows closely, large enough that commits cost nothing. */
export const COMMIT_ROWS = 20_000;

/** Writes every table's rows; `committed` is told after each commit. The rows written per table. */
export async function writeScratchRows(input: ScratchImportInput, committed: (table: string, rows: number, done: boolean) => void, opts: { signal?: AbortSignal | undefined; yieldEachCommit?: boolean } = {}): Promise<Record<string, number>> {
  const db = new Database(input.file);
  const written: Record<string, number> = {};
  try {
    db.pragma('synchronous = OFF');
    db.pragma('foreign_keys = ON');
    for (const e of input.entities) {
      const decodeRow = rowDecoder(e, e);
      const insert = new RowInserter(db, `main.${q(e.name)}`, e.columns.map((c) => q(c.name)), 32);
      const file = safeBagPath(input.dir, tableFiles(e.name).csv, { encoded: false })!;
      let rows = 0;
      let since = 0;
      let header = true;
      db.exec('BEGIN');
      for await (const batch of readBundleCsv(file)) {
        opts.signal?.throwIfAborted();
        // The header was checked by the verify; every other record is a row.
        const records = header ? batch.slice(1) : batch;
        header = false;
        insert.rows(records.map(decodeRow));
        rows += records.length;
        since += records.length;
        if (since >= COMMIT_ROWS) {
          insert.flush();
          db.exec('COMMIT');
          committed(e.name, rows, false);
          since = 0;
          // In the caller's own thread the reader gets its turn here.
          if (opts.yieldEachCommit) await yieldToLoop();
          db.exec('BEGIN');
        }
      }
      const n = insert.flush();
      db.exec('COMMIT');
      if (n !== rows) throw new Error(`${e.name}: ${rows} rows read from the bundle, ${n} written`);
      written[e.name] = rows;
      committed(e.name, rows, true);
    }
    return written;
  } finally {
    if (db.inTransaction) db.exec('ROLLBACK');
    db.close();
  }
}

/** A CSV record of the bundle's table `e` to the staging-form values of `target`'s columns. */
export function rowDecoder(e: Entity, target: Entity): (rec: readonly CsvField[]) => (string | number | null)[] {
  const decoders = e.columns.map(csvDecoder);
  // Each target column from the bundle's column of that name (a ledger from before the chain lacks some).
  const from = target.columns.map((tc) => e.columns.findIndex((x) => x.name === tc.name));
  const identity = from.every((k, i) => k === i) && from.length === e.columns.length;
  if (identity) return (rec) => rec.map((f, i) => decoders[i]!(f ?? '', f === '')) as (string | number | null)[];
  return (rec) => {
    const decoded = rec.map((f, i) => decoders[i]!(f ?? '', f === '')) as (string | number | null)[];
    return from.map((k) => (k < 0 ? null : decoded[k]!));
  };
}

/** Only the compiled build has a .js worker to start; under a TypeScript test runner the rows are written in this thread. */
function workerUrl(): URL | undefined {
  return import.meta.url.endsWith('.js') ? new URL('./scratch-import-worker.js', import.meta.url) : undefined;
}

/**
 * writeScratchRows in a thread of its own (in this thread under a test runner, or with
 * FORKLIFT_VERIFY_THREAD=never, yielding to the event loop after each commit so a reader here
 * still follows). Interrupting (the signal) stops the thread; its open transaction is lost.
 */
export async function writeScratchRowsInThread(input: ScratchImportInput, committed: (table: string, rows: number, done: boolean) => void, signal?: AbortSignal): Promise<Record<string, number>> {
  const url = workerUrl();
  if (url === undefined || process.env.FORKLIFT_VERIFY_THREAD === 'never') return writeScratchRows(input, committed, { signal, yieldEachCommit: true });
  const thread = startThread<ScratchImportMessage>(url, input, { signal, stopped: (code) => `the re-import thread stopped (exit code ${code}) before it finished` });
  try {
    for (;;) {
      const m = await thread.next();
      if (m.type === 'result') return m.rows;
      committed(m.table, m.rows, m.done);
    }
  } finally {
    await thread.stop();
  }
}
