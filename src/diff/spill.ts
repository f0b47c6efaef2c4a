import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { sortKey, type Kind } from './canonical.js';
import { loopTurns } from '../util/loop-turn.js';

/**
 * A side that did not arrive in the merge's key order (or could not: its own order is another
 * key's) is sorted on disk: every row goes into a scratch SQLite file with its sort key (bytes
 * whose byte order is the canonical order, canonical.ts sortKey), and comes back out through one
 * ORDER BY, which SQLite's external merge sort answers with bounded memory (cache_size) however
 * many rows there are. Rows with the same key keep the order they arrived in.
 */

export interface SpillOptions {
  /** The folder the scratch file goes into (removed with the file afterwards). */
  dir: string;
  signal?: AbortSignal | undefined;
  /** Rows written so far, now and then. */
  progress?: (rows: number) => void;
  batchRows?: number;
}

export async function* sortedBySpill(
  rows: AsyncIterable<unknown[][]>,
  keyOf: (row: readonly unknown[]) => unknown[],
  kinds: readonly Kind[],
  opts: SpillOptions,
): AsyncGenerator<unknown[][]> {
  const file = path.join(opts.dir, `spill-${randomBytes(6).toString('hex')}.sqlite`);
  const db = new Database(file);
  let sorted: IterableIterator<string> | undefined;
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('temp_store = FILE');
    // The page cache, which also bounds the sorter's memory before it writes sorted runs to
    // temporary files: more did not sort faster (1M rows), it only raised the peak RSS.
    db.pragma('cache_size = -2048');
    db.exec('CREATE TABLE spill (k BLOB NOT NULL, r TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO spill (k, r) VALUES (?, ?)');
    const insertAll = db.transaction((batch: unknown[][]) => {
      for (const row of batch) insert.run(sortKey(keyOf(row), kinds), JSON.stringify(row));
    });
    let n = 0;
    for await (const batch of rows) {
      opts.signal?.throwIfAborted();
      insertAll(batch);
      n += batch.length;
      opts.progress?.(n);
    }
    // Small batches die young (see READ_ROWS_BATCH in stores/read-common.ts).
    const size = opts.batchRows ?? 1_000;
    let out: unknown[][] = [];
    sorted = db.prepare('SELECT r FROM spill ORDER BY k, rowid').pluck().iterate() as IterableIterator<string>;
    // Read back synchronously: the event loop needs its turns (Ctrl-C), as in SqliteStore's reads.
    const turn = loopTurns();
    for (const r of sorted) {
      out.push(JSON.parse(r) as unknown[]);
      if (out.length >= size) {
        yield out;
        out = [];
        await turn();
        opts.signal?.throwIfAborted();
      }
    }
    if (out.length) yield out;
  } finally {
    // A consumer that stops early leaves the statement open; it must end before the file closes.
    sorted?.return?.();
    db.close();
    rmSync(file, { force: true });
  }
}
