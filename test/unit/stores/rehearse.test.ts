import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { factoryModel } from '../../../src/model/factory.js';
import { Staging, stagingTable } from '../../../src/run/staging.js';
import { loadNarrowing, scratchSchemaName, type RehearsalSession, type SeqRange } from '../../../src/stores/rehearse.js';
import type { EntityLoad } from '../../../src/stores/types.js';
import { tempDir } from '../../helpers.js';

/**
 * The bisection of a dry run, against a real staging file and a session that refuses chosen rows:
 * it finds exactly those rows, and it gets there with a few statements per bad row, not one per row.
 */

const items = factoryModel().entities.get('items')!;

function staged(n: number, leftOut: number[] = []): { db: Database.Database; load: EntityLoad } {
  const file = path.join(tempDir('forklift-rehearse-'), 'staging.sqlite');
  const st = new Staging(file);
  st.createEntity(items);
  for (let i = 1; i <= n; i++) st.insertRow('items', i + 1, [`I${i}`, `Item ${i}`, 'raw', 'EA', null, null, null, 1]);
  st.flushRows('items');
  for (const seq of leftOut) st.db.prepare(`UPDATE ${stagingTable('items')} SET _st = 2 WHERE _seq = ?`).run(seq);
  st.close();
  return { db: new Database(file, { readonly: true }), load: { entity: items, mode: 'replace', stagedTable: stagingTable('items'), expected: n - leftOut.length } };
}

/** A session over a set of refused seqs: a range holding one of them fails as a statement would. */
function session(db: Database.Database, bad: Set<number>, opts: { brokenAfter?: number } = {}): { s: RehearsalSession; loads: SeqRange[]; loadedRows: () => number } {
  const loads: SeqRange[] = [];
  const open: number[][] = [];
  let rows = 0;
  const okSeqs = db.prepare(`SELECT _seq FROM ${stagingTable('items')} WHERE _st = 0 AND _seq BETWEEN ? AND ?`).pluck();
  const s: RehearsalSession = {
    savepoint: async () => void open.push([]),
    rollbackTo: async () => {
      if (opts.brokenAfter !== undefined && loads.length > opts.brokenAfter) throw new Error('connection lost');
      open[open.length - 1] = [];
    },
    release: async () => {
      const top = open.pop()!;
      if (open.length) open[open.length - 1]!.push(...top);
      else rows += top.length;
    },
    loadRange: async (_l, r) => {
      loads.push(r);
      const seqs = okSeqs.all(r.lo, r.hi) as number[];
      const hit = seqs.find((x) => bad.has(x));
      if (hit !== undefined) throw new Error(`duplicate key in row ${hit}`);
      open[open.length - 1]!.push(...seqs);
    },
    describe: (e) => (e as Error).message,
  };
  return { s, loads, loadedRows: () => rows };
}

describe('loadNarrowing', () => {
  it('finds exactly the refused rows with a few statements per bad row, and keeps every good one', async () => {
    const { db, load } = staged(120_000, [7, 60_001]);
    const bad = new Set([3, 50_001, 99_999]);
    const { s, loads, loadedRows } = session(db, bad);
    try {
      const refused = await loadNarrowing(s, db, [load]);
      expect(refused.map((r) => r.seq)).toEqual([3, 50_001, 99_999]);
      expect(refused[0]).toEqual({ entity: 'items', seq: 3, message: 'duplicate key in row 3' });
      expect(loadedRows()).toBe(120_000 - 2 - 3);
      // Three batches of 50,000 rows, then about two statements per halving per bad row.
      expect(loads.length).toBeLessThan(3 + 3 * 2 * 17);
      expect(loads.slice(0, 1)).toEqual([{ lo: 1, hi: 50_001 }]);
    } finally {
      db.close();
    }
  });

  it('goes through a good load in one statement per batch', async () => {
    const { db, load } = staged(1000);
    const { s, loads, loadedRows } = session(db, new Set());
    try {
      expect(await loadNarrowing(s, db, [load], undefined, 400)).toEqual([]);
      expect(loads).toEqual([
        { lo: 1, hi: 400 },
        { lo: 401, hi: 800 },
        { lo: 801, hi: 1000 },
      ]);
      expect(loadedRows()).toBe(1000);
    } finally {
      db.close();
    }
  });

  it('a failure it cannot roll back from (a lost connection) ends the rehearsal with the first error', async () => {
    const { db, load } = staged(100);
    const { s } = session(db, new Set([50]), { brokenAfter: 0 });
    try {
      await expect(loadNarrowing(s, db, [load])).rejects.toThrow('duplicate key in row 50');
    } finally {
      db.close();
    }
  });

  it('stops when the run is aborted', async () => {
    const { db, load } = staged(10);
    const ac = new AbortController();
    ac.abort();
    try {
      await expect(loadNarrowing(session(db, new Set()).s, db, [load], ac.signal)).rejects.toThrow();
    } finally {
      db.close();
    }
  });
});

describe('scratchSchemaName', () => {
  it('is the run id in lower case with safe characters, under 64 characters', () => {
    expect(scratchSchemaName('20261129T123006Z-d514')).toBe('forklift_dryrun_20261129t123006z_d514');
    expect(scratchSchemaName('x'.repeat(100))).toHaveLength(64);
  });
});
