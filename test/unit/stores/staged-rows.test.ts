import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { factoryModel } from '../../../src/model/factory.js';
import { Staging, stagingTable } from '../../../src/run/staging.js';
import { stagedRows } from '../../../src/stores/staged-rows.js';
import type { EntityLoad } from '../../../src/stores/types.js';
import { tempDir } from '../../helpers.js';

/**
 * The one reader of staged rows every server store loads from: pages of 5,000 rows, so these
 * tables cross page boundaries, with rows left out (rejected, duplicate) in and at the edges of pages.
 */

const items = factoryModel().entities.get('items')!;

function staged(n: number, leftOut: readonly number[]): { db: Database.Database; load: EntityLoad } {
  const file = path.join(tempDir('forklift-staged-rows-'), 'staging.sqlite');
  const st = new Staging(file);
  st.createEntity(items);
  for (let i = 1; i <= n; i++) st.insertRow('items', i + 1, [`I${i}`, `Item ${i}`, 'raw', 'EA', null, null, null, i]);
  st.flushRows('items');
  for (const seq of leftOut) st.db.prepare(`UPDATE ${stagingTable('items')} SET _st = ${seq % 2 ? 1 : 2} WHERE _seq = ?`).run(seq);
  st.close();
  return { db: new Database(file, { readonly: true }), load: { entity: items, mode: 'replace', stagedTable: stagingTable('items'), expected: n - leftOut.length } };
}

const seqs = (rows: Iterable<unknown[]>, at: number): unknown[] => [...rows].map((r) => r[at]);

describe('stagedRows', () => {
  const leftOut = [1, 4999, 5000, 5001, 5002, 10000, 12345, 12346];
  const { db, load } = staged(12346, leftOut);
  const width = items.columns.length;
  const ok = (lo: number, hi: number): number[] => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i).filter((s) => !leftOut.includes(s));

  it('gives every ok row once, in staging order, as the columns then _seq, across pages', () => {
    const rows = [...stagedRows(db, load)];
    expect(rows).toHaveLength(12346 - leftOut.length);
    expect(rows.map((r) => r[width])).toEqual(ok(1, 12346));
    expect(rows[0]!.slice(0, 2)).toEqual(['I2', 'Item 2']);
    expect(rows.every((r) => r.length === width + 1 && r[0] === `I${String(r[width])}`)).toBe(true);
  });

  it('keeps to a range, both ends included, across pages', () => {
    expect(seqs(stagedRows(db, load, { range: { lo: 4998, hi: 10001 } }), width)).toEqual(ok(4998, 10001));
    expect(seqs(stagedRows(db, load, { range: { lo: 5000, hi: 5001 } }), width)).toEqual([]);
    expect(seqs(stagedRows(db, load, { range: { lo: 7, hi: 7 } }), width)).toEqual([7]);
  });

  it('gives integers as BigInt when asked', () => {
    const [first] = stagedRows(db, load, { safeIntegers: true });
    expect(first![width]).toBe(2n);
  });
});
