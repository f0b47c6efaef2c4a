import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { exportBundle } from '../../src/bundle/export.js';
import { verifyBundle } from '../../src/bundle/verify.js';
import { diffSnapshots } from '../../src/diff/diff.js';
import { runPlan } from '../../src/run/pipeline.js';
import { demoCopy, tempDir } from '../helpers.js';

/**
 * An instant another tool wrote into a SQLite timestamp column with an offset
 * (`2025-11-03T06:00:47.000+01:00`) is the UTC instant it names, to `diff` and to `export` alike:
 * a diff against a bundle of the same instant in UTC finds nothing, and the export writes it in
 * UTC, in its place in key order (an offset can move a key past its neighbours), instead of
 * refusing it.
 */

describe('a SQLite instant written with an offset', () => {
  it('diffs and exports as the UTC instant it is, in key order', async () => {
    const demo = demoCopy();
    const file = path.join(demo.dir, 'store.db');
    const res = await runPlan({ plan: demo.plan, command: 'migrate', target: `sqlite:${file}` });
    expect(res.status).toBe('succeeded');
    const work = tempDir('forklift-zoned-');
    const before = path.join(work, 'before');
    await exportBundle({ dir: before, source: `sqlite:${file}` });

    const db = new Database(file);
    try {
      const first = db.prepare("SELECT ts FROM machine_events WHERE machine_id = 'CNC-01' ORDER BY ts LIMIT 2").pluck().all() as string[];
      expect(first).toEqual(['2025-11-03T05:00:47.000Z', '2025-11-03T05:08:44.000Z']);
      // The same instant in another zone; and one whose text sorts after its neighbour though the instant is before it.
      db.prepare("UPDATE machine_events SET ts = '2025-11-03T06:00:47.000+01:00' WHERE machine_id = 'CNC-01' AND ts = '2025-11-03T05:00:47.000Z'").run();
    } finally {
      db.close();
    }
    const same = await diffSnapshots({ left: before, right: `sqlite:${file}` });
    same.dispose();
    expect(same.result.identical).toBe(true);

    const after = path.join(work, 'after');
    await exportBundle({ dir: after, source: `sqlite:${file}` });
    expect(readFileSync(path.join(after, 'data/csv/machine_events.csv'))).toEqual(readFileSync(path.join(before, 'data/csv/machine_events.csv')));

    const db2 = new Database(file);
    try {
      db2.prepare("UPDATE machine_events SET ts = '2025-11-03T05:10:00+00:30' WHERE machine_id = 'CNC-01' AND ts = '2025-11-03T05:08:44.000Z'").run();
    } finally {
      db2.close();
    }
    const moved = path.join(work, 'moved');
    await exportBundle({ dir: moved, source: `sqlite:${file}` });
    const lines = readFileSync(path.join(moved, 'data/csv/machine_events.csv'), 'utf8').split('\n');
    expect(lines.slice(1, 3).map((l) => l.split(',').slice(0, 2).join(','))).toEqual(['CNC-01,2025-11-03T04:40:00.000Z', 'CNC-01,2025-11-03T05:00:47.000Z']);
    expect((await verifyBundle(moved)).problems).toEqual([]);
    const diff = await diffSnapshots({ left: moved, right: `sqlite:${file}` });
    diff.dispose();
    expect(diff.result.identical).toBe(true);
  }, 60_000);
});
