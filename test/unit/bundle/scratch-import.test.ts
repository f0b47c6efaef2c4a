import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { COMMIT_ROWS, useWal, writeScratchRows } from '../../../src/bundle/scratch-import.js';
import type { Entity, Model } from '../../../src/model/types.js';
import { SqliteStore } from '../../../src/stores/sqlite.js';
import { tempDir } from '../../helpers.js';

/** exit's re-import writer: each CSV straight into its table, parents first, a commit every COMMIT_ROWS rows, each announced. */

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

async function scratchWith(csv: Record<string, string[]>): Promise<{ dir: string; file: string }> {
  const dir = tempDir('forklift-scratch-');
  mkdirSync(path.join(dir, 'bundle', 'data', 'csv'), { recursive: true });
  for (const [name, rows] of Object.entries(csv)) writeFileSync(path.join(dir, 'bundle', 'data', 'csv', `${name}.csv`), rows.map((r) => `${r}\r\n`).join(''));
  const file = path.join(dir, 'scratch.db');
  const store = new SqliteStore(`sqlite:${file}`);
  await store.createTables(model, [items, lines]);
  await store.close();
  useWal(file);
  return { dir: path.join(dir, 'bundle'), file };
}

describe('writeScratchRows', () => {
  it('writes every row, committing every COMMIT_ROWS rows and at the end of each table', async () => {
    const n = COMMIT_ROWS * 2 + 1_500;
    const itemRows = Array.from({ length: n }, (_, i) => `I${String(i).padStart(6, '0')},${i % 3 ? `${i}.5000` : ''},${i % 2 ? 'true' : 'false'}`);
    const { dir, file } = await scratchWith({ items: ['item_no,cost,active', ...itemRows], lines: ['parent,n', 'I000001,1', 'I000001,2', 'I000002,1'] });
    const commits: [string, number, boolean][] = [];
    const written = await writeScratchRows({ dir, file, entities: [items, lines] }, (t, rows, done) => commits.push([t, rows, done]));
    expect(written).toEqual({ items: n, lines: 3 });
    // Commits fall on the CSV reader's batch boundaries, at least COMMIT_ROWS rows apart.
    expect(commits.map(([t, , done]) => `${t}${done ? ' done' : ''}`)).toEqual(['items', 'items', 'items done', 'lines done']);
    expect(commits[0]![1]).toBeGreaterThanOrEqual(COMMIT_ROWS);
    expect(commits[1]![1] - commits[0]![1]).toBeGreaterThanOrEqual(COMMIT_ROWS);
    expect(commits.slice(2).map(([, rows]) => rows)).toEqual([n, 3]);
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT * FROM items WHERE item_no = ?').raw().get('I000001')).toEqual(['I000001', '1.5000', 1]);
    expect(db.prepare('SELECT cost FROM items WHERE item_no = ?').pluck().get('I000003')).toBeNull();
    expect(db.prepare('SELECT COUNT(*) FROM lines').pluck().get()).toBe(3);
    db.close();
  });

  it('a row the table refuses (a reference to no item) stops it with SQLite’s reason', async () => {
    const { dir, file } = await scratchWith({ items: ['item_no,cost,active', 'A,1.0000,true'], lines: ['parent,n', 'A,1', 'B,2'] });
    await expect(writeScratchRows({ dir, file, entities: [items, lines] }, () => {})).rejects.toThrow(/FOREIGN KEY constraint failed/);
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT COUNT(*) FROM lines').pluck().get()).toBe(0);
    db.close();
  });
});
