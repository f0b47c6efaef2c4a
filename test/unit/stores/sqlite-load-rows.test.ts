import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Entity, Model } from '../../../src/model/types.js';
import { openStore } from '../../../src/stores/index.js';
import type { RunEntry } from '../../../src/stores/types.js';
import { tempDir } from '../../helpers.js';

/** SqliteStore.loadRows (exit's scratch re-import): rows straight into the tables, all or nothing. */

const items: Entity = {
  name: 'items',
  columns: [
    { name: 'item_no', type: 'string', length: 10, required: true },
    { name: 'cost', type: 'decimal', precision: 12, scale: 4, required: false },
    { name: 'active', type: 'boolean', required: false },
  ],
  primaryKey: ['item_no'],
  rules: [],
};
const lines: Entity = {
  name: 'lines',
  columns: [
    { name: 'parent', type: 'string', length: 10, required: true, references: { entity: 'items', column: 'item_no' } },
    { name: 'n', type: 'integer', required: true },
  ],
  primaryKey: ['parent', 'n'],
  rules: [],
};
const model: Model = { name: 'm', entities: new Map([['items', items], ['lines', lines]]) };

function entry(): RunEntry {
  const now = new Date().toISOString();
  return { id: `t-${Math.random().toString(36).slice(2, 8)}`, command: 'import', status: 'succeeded', started: now, finished: now, operator: 't', host: 't', tool_version: '0', plan_sha256: null, files: {}, counts: {}, message: null };
}

async function* batches<T>(rows: T[], size: number): AsyncIterable<T[]> {
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}

describe('SqliteStore.loadRows', () => {
  it('loads every row in many-row statements and the rest, with the run entry, parents first', async () => {
    const file = path.join(tempDir('forklift-loadrows-'), 'scratch.db');
    const store = await openStore(`sqlite:${file}`, { scratch: true });
    const itemRows = Array.from({ length: 1000 }, (_, i) => [`I${String(i).padStart(4, '0')}`, i % 3 ? `${i}.5000` : null, i % 2]);
    const lineRows = Array.from({ length: 77 }, (_, i) => [`I${String(i % 10).padStart(4, '0')}`, i]);
    let asked = 0;
    const loaded = await store.loadRows!({
      model,
      entities: [
        { entity: items, rows: batches(itemRows, 333) },
        { entity: lines, rows: batches(lineRows, 10) },
      ],
      entry: () => {
        asked++;
        return entry();
      },
    });
    await store.close();
    expect(Object.fromEntries(loaded)).toEqual({ items: 1000, lines: 77 });
    expect(asked).toBe(1);
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT * FROM items ORDER BY item_no').raw().all()).toEqual(itemRows);
    expect(db.prepare('SELECT COUNT(*) FROM lines').pluck().get()).toBe(77);
    expect(db.prepare('SELECT COUNT(*) FROM forklift_runs').pluck().get()).toBe(1);
    db.close();
  });

  it('a row the table refuses (a reference to no item) rolls everything back, the entry too', async () => {
    const file = path.join(tempDir('forklift-loadrows-'), 'scratch.db');
    const store = await openStore(`sqlite:${file}`, { scratch: true });
    await expect(
      store.loadRows!({
        model,
        entities: [
          { entity: items, rows: batches([['A', '1.0000', 1]], 10) },
          { entity: lines, rows: batches([['A', 1], ['B', 2]], 10) },
        ],
        entry,
      }),
    ).rejects.toThrow(/FOREIGN KEY constraint failed/);
    await store.close();
    const db = new Database(file, { readonly: true });
    expect(db.prepare("SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('items', 'lines', 'forklift_runs')").pluck().get()).toBe(0);
    db.close();
  });
});
