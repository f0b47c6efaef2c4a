import path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Entity } from '../../../src/model/types.js';
import { nativeColumnsFor } from '../../../src/stores/read-common.js';
import { sqliteFollowRows, sqliteTable, type WriteProgress } from '../../../src/stores/read-sqlite.js';
import { tempDir } from '../../helpers.js';

/**
 * exit compares its scratch store while the re-import still writes it: sqliteFollowRows must read
 * every committed row once, in key order, wait when it has caught up, and end only when the
 * writer says the table is complete and every row written was read.
 */

const events = (primaryKey: string[]): Entity => ({
  name: 'events',
  columns: [
    { name: 'code', type: 'string', length: 8, required: true },
    { name: 'n', type: 'integer', required: true },
    { name: 'note', type: 'text', required: false },
  ],
  primaryKey,
  rules: [],
});

/** A writer on its own connection (as the re-import thread has), committing `perCommit` rows at a time, in key order. */
function writer(file: string, rows: unknown[][], perCommit: number, claim = (n: number) => n) {
  const db = new Database(file);
  const ins = db.prepare('INSERT INTO events VALUES (?, ?, ?)');
  let progress: WriteProgress = { rows: 0, done: false };
  let waiters: (() => void)[] = [];
  const announce = (p: WriteProgress): void => {
    progress = p;
    const w = waiters;
    waiters = [];
    for (const f of w) f();
  };
  const run = async (): Promise<void> => {
    for (let i = 0; i < rows.length; i += perCommit) {
      db.transaction(() => {
        for (const r of rows.slice(i, i + perCommit)) ins.run(...r);
      })();
      announce({ rows: Math.min(i + perCommit, rows.length), done: false });
      await yieldToLoop();
    }
    announce({ rows: claim(rows.length), done: true });
    db.close();
  };
  const after = async (read: number): Promise<WriteProgress> => {
    while (!(progress.rows > read || progress.done)) await new Promise<void>((r) => waiters.push(r));
    return progress;
  };
  return { run, after };
}

function setUp(ddl: string): string {
  const file = path.join(tempDir('forklift-follow-'), 'scratch.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(ddl);
  db.close();
  return file;
}

const ROWS = Array.from({ length: 12_345 }, (_, i) => [`C${String(Math.floor(i / 100)).padStart(4, '0')}`, i % 100, i % 9 ? `note ${i}` : null]);

async function follow(file: string, e: Entity, after: (read: number) => Promise<WriteProgress>): Promise<unknown[][]> {
  const db = new Database(file, { readonly: true });
  try {
    const native = nativeColumnsFor(e, sqliteTable(db, 'events')!) as Exclude<ReturnType<typeof nativeColumnsFor>, { missing: string }>;
    const out: unknown[][] = [];
    for await (const batch of sqliteFollowRows(db, e, native, after)) out.push(...batch);
    return out;
  } finally {
    db.close();
  }
}

describe('sqliteFollowRows', () => {
  it('reads every row once, in key order, right behind a writer that commits as it goes', async () => {
    const file = setUp('CREATE TABLE events (code TEXT NOT NULL, n INTEGER NOT NULL, note TEXT, PRIMARY KEY (code, n)) STRICT, WITHOUT ROWID');
    const w = writer(file, ROWS, 2_500);
    const [read] = await Promise.all([follow(file, events(['code', 'n']), w.after), w.run()]);
    expect(read).toEqual(ROWS);
  });

  it('a table whose key cannot serve pages is read whole once it is complete', async () => {
    const file = setUp('CREATE TABLE events (code TEXT, n INTEGER, note TEXT) STRICT');
    const w = writer(file, ROWS, 4_000);
    const [read] = await Promise.all([follow(file, events([]), w.after), w.run()]);
    expect(read).toHaveLength(ROWS.length);
  });

  it('fails when the writer wrote more rows than it could read', async () => {
    const file = setUp('CREATE TABLE events (code TEXT NOT NULL, n INTEGER NOT NULL, note TEXT, PRIMARY KEY (code, n)) STRICT, WITHOUT ROWID');
    const w = writer(file, ROWS, 5_000, (n) => n + 1);
    await expect(Promise.all([follow(file, events(['code', 'n']), w.after), w.run()])).rejects.toThrow(/read 12345 rows of the 12346 written/);
  });
});
