import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { diffSnapshots } from '../../../src/diff/index.js';
import type { Entity } from '../../../src/model/types.js';
import { commandEntry } from '../../../src/audit/entry.js';
import { LOAD_CHUNK_ROWS, SqliteStore, sqliteCreateTable } from '../../../src/stores/sqlite.js';
import { tempDir } from '../../helpers.js';

/**
 * better-sqlite3 reads synchronously, and an async loop over its batches never gave the event
 * loop a turn: Ctrl-C (whose handler aborts the signal) reached `forklift diff` of two SQLite
 * stores only after the whole diff, 7 s later. Here the signal is aborted from a timer, the way a
 * signal handler does it, once the work is under way: it must stop the work part way.
 */

const ROWS = 60_000;

const readings: Entity = {
  name: 'readings',
  columns: [
    { name: 'id', type: 'integer', required: true },
    { name: 'sensor', type: 'string', length: 16, required: true },
    { name: 'value', type: 'integer', required: false },
  ],
  primaryKey: ['id'],
  rules: [],
};

/** A store file of ROWS readings; `shift` changes every value, so two files differ in every row. */
function storeFile(dir: string, name: string, shift = 0): string {
  const file = path.join(dir, name);
  const db = new Database(file);
  db.exec(sqliteCreateTable(readings));
  db.prepare(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${ROWS}) INSERT INTO readings SELECT i, 's' || (i % 97), i * 3 + ? FROM n`).run(shift);
  db.close();
  return file;
}

/** Work that blocks the thread, as a consumer's handling of a batch does. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** Aborts on the next turn of the event loop, as a SIGINT handler would. */
function abortSoon(ac: AbortController): void {
  setTimeout(() => ac.abort(), 0);
}

/** A diff of two SQLite stores (every row changed), its signal aborted at its first comparing progress: the rows compared when it stopped. */
async function interruptedDiff(keys?: Map<string, string[]>): Promise<number> {
  const dir = tempDir();
  const ac = new AbortController();
  let compared = 0;
  const run = diffSnapshots({
    left: `sqlite:${storeFile(dir, 'a.db')}`,
    right: `sqlite:${storeFile(dir, 'b.db', 1)}`,
    keys,
    signal: ac.signal,
    progress: (p) => {
      if (p.phase !== 'comparing') return;
      if (compared === 0) abortSoon(ac);
      compared = p.rows;
    },
  });
  await expect(run).rejects.toMatchObject({ code: 'diff.interrupted' });
  return compared;
}

describe('long synchronous SQLite work gives the event loop its turns', () => {
  it('readRows: an abort from a timer stops the read part way, while the consumer is busy with every batch', async () => {
    const dir = tempDir();
    const store = new SqliteStore(`sqlite:${storeFile(dir, 'a.db')}`);
    try {
      const ac = new AbortController();
      let batches = 0;
      const read = async (): Promise<void> => {
        for await (const b of store.readRows(readings, { signal: ac.signal })) {
          if (batches++ === 0) abortSoon(ac);
          expect(b.length).toBeGreaterThan(0);
          busy(2);
        }
      };
      await expect(read()).rejects.toMatchObject({ name: 'AbortError' });
      // The turn comes after about 50 ms of work, well before the last of the ROWS / 1000 batches.
      expect(batches).toBeLessThan(ROWS / 1000);
    } finally {
      await store.close();
    }
  });

  it('a diff of two SQLite stores stops part way when the signal is aborted, as diff.interrupted', async () => {
    expect(await interruptedDiff()).toBeLessThan(2 * ROWS);
  });

  it('a side sorted on disk (matched by another key) is read back with turns too', async () => {
    // sensor + id is unique too, but not the stores' own order: both sides are sorted on disk.
    expect(await interruptedDiff(new Map([['readings', ['sensor', 'id']]]))).toBeLessThan(2 * ROWS);
  });

  it('a load stops at the end of the chunk during which Ctrl-C came: nothing is committed', async () => {
    const rows = 200_000;
    const dir = tempDir();
    const stagingFile = path.join(dir, 'staging.sqlite');
    const st = new Database(stagingFile);
    st.exec('CREATE TABLE s_readings (_seq INTEGER PRIMARY KEY, _line INTEGER NOT NULL, _st INTEGER NOT NULL DEFAULT 0, id, sensor, value)');
    st.exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${rows}) INSERT INTO s_readings SELECT i, i + 1, 0, i, 's' || (i % 97), i FROM n`);
    st.close();
    const file = path.join(dir, 'target.db');
    const init = new Database(file);
    init.exec(sqliteCreateTable(readings));
    // Every row the load inserts calls tick(): the rows inserted when the load stopped.
    init.exec('CREATE TRIGGER counted AFTER INSERT ON readings BEGIN SELECT tick(); END');
    init.close();
    const store = new SqliteStore(`sqlite:${file}`);
    const ac = new AbortController();
    let inserted = 0;
    try {
      const db = (await store.knex.client.acquireConnection()) as Database.Database;
      db.function('tick', () => {
        // Ctrl-C during the first statement; every row costs 2 µs, so a chunk outlasts the 50 ms after which the loop gets a turn.
        if (inserted++ === 0) abortSoon(ac);
        busy(0.002);
        return null;
      });
      store.knex.client.releaseConnection(db);
      const load = store.load({
        model: { name: 'm', entities: new Map([['readings', readings]]) },
        stagingFile,
        entities: [{ entity: readings, mode: 'append', stagedTable: '"s_readings"', expected: rows }],
        entry: commandEntry({ id: 'r1', command: 'migrate', status: 'succeeded', started: new Date(), files: {}, counts: {}, message: null }),
        signal: ac.signal,
      });
      await expect(load).rejects.toMatchObject({ code: 'store.interrupted' });
    } finally {
      await store.close();
    }
    // One INSERT … SELECT for all rows ran them all before the signal was heard.
    expect(inserted).toBeLessThan(rows);
    expect(inserted).toBe(LOAD_CHUNK_ROWS);
    const after = new Database(file, { readonly: true });
    expect(after.prepare('SELECT COUNT(*) FROM readings').pluck().get()).toBe(0);
    expect(after.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'forklift_runs'").pluck().get()).toBe(0);
    after.close();
  });
});
