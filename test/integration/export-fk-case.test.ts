import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { exportBundle } from '../../src/bundle/export.js';
import { verifyBundle } from '../../src/bundle/verify.js';
import { tempDir } from '../helpers.js';

/**
 * SQLite matches the names of a foreign key ignoring ASCII case: `REFERENCES Parts (ID)` points
 * into parts (id). An export describes that key with the names the tables use, so the bundle's
 * Data Package names a real resource and field, and verify checks the reference.
 */

function store(dangling: boolean): string {
  const dir = tempDir('forklift-export-fk-case-');
  const file = path.join(dir, 's.db');
  const db = new Database(file);
  db.exec('CREATE TABLE parts (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
  db.exec('CREATE TABLE lines (no INTEGER PRIMARY KEY, Part_Id INTEGER REFERENCES Parts (ID))');
  db.exec("INSERT INTO parts VALUES (1, 'bolt'), (2, 'nut')");
  // A legacy file whose key was never enforced (SQLite's foreign_keys is off unless a program turns it on).
  db.pragma('foreign_keys = OFF');
  db.exec(`INSERT INTO lines VALUES (10, 1), (11, 2), (12, ${dangling ? 3 : 'NULL'})`);
  db.close();
  return `sqlite:${file}`;
}

describe('export of a SQLite foreign key that spells its parent in another case', () => {
  it('names the parent table and columns as they are spelled in the store, and verify follows it', async () => {
    const bundle = path.join(tempDir('forklift-export-fk-case-b-'), 'b');
    await exportBundle({ dir: bundle, source: store(false) });
    const pkg = JSON.parse(readFileSync(path.join(bundle, 'data', 'datapackage.json'), 'utf8')) as { resources: { name: string; schema: { foreignKeys?: unknown[] } }[] };
    expect(pkg.resources.find((r) => r.name === 'lines')!.schema.foreignKeys).toEqual([{ fields: ['Part_Id'], reference: { resource: 'parts', fields: ['id'] } }]);
    const r = await verifyBundle(bundle);
    expect(r.problems).toEqual([]);
    expect(r.valid).toBe(true);
  });

  it('a reference to no part is found by verify', async () => {
    const bundle = path.join(tempDir('forklift-export-fk-case-c-'), 'b');
    await exportBundle({ dir: bundle, source: store(true) });
    const r = await verifyBundle(bundle);
    expect(r.valid).toBe(false);
    expect(r.problems).toEqual(["data/csv/lines.csv:4: Part_Id '3' has no parts row with id '3'"]);
  });
});
