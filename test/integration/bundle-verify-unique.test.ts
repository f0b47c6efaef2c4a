import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { parseBagInfo, writeBagTags } from '../../src/bundle/bagit.js';
import { exportBundle } from '../../src/bundle/export.js';
import { fastLaneStats } from '../../src/bundle/verify-fast.js';
import { verifyBundle } from '../../src/bundle/verify.js';
import { tempDir } from '../helpers.js';

/**
 * `bundle verify` checks the unique columns datapackage.json declares as it checks primary keys: a
 * value that repeats is named with its line and the line it repeats; missing values may repeat.
 * A bundle whose values are distinct still takes the fast lane.
 */

const dir = tempDir('forklift-verify-unique-');

/** A store whose table u holds repeated emails and badges (not declared unique there), and v, whose email is unique in the store. */
function source(): string {
  const file = path.join(dir, 's.db');
  const db = new Database(file);
  db.exec('CREATE TABLE u (id INTEGER PRIMARY KEY, email TEXT, badge INTEGER, note TEXT)');
  const u = db.prepare('INSERT INTO u VALUES (?, ?, ?, ?)');
  const rows: [number, string | null, number | null, string][] = [
    [1, 'a@x', 10, 'first'],
    [2, 'b@x', 20, 'b'],
    [3, null, null, 'none'],
    [4, null, null, 'none again'],
    [5, 'a@x', 30, 'a again'],
    [6, 'c@x', 10, 'badge 10 again'],
  ];
  for (const r of rows) u.run(...r);
  db.exec('CREATE TABLE v (id INTEGER PRIMARY KEY, email TEXT UNIQUE)');
  const v = db.prepare('INSERT INTO v VALUES (?, ?)');
  for (let i = 1; i <= 40; i++) v.run(i, i % 3 === 0 ? null : `user${i}@x`);
  db.close();
  return `sqlite:${file}`;
}

/** Declares u.email and u.badge unique in datapackage.json and writes the bag's checksums again, so only the data is wrong. */
async function declareUnique(bundle: string): Promise<void> {
  const pkgFile = path.join(bundle, 'data', 'datapackage.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { resources: { name: string; schema: { fields: { name: string; constraints?: Record<string, unknown> }[] } }[] };
  for (const f of pkg.resources.find((r) => r.name === 'u')!.schema.fields) {
    if (f.name === 'email' || f.name === 'badge') f.constraints = { ...f.constraints, unique: true };
  }
  writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
  await rebag(bundle);
}

async function rebag(bundle: string): Promise<void> {
  const fields = parseBagInfo(readFileSync(path.join(bundle, 'bag-info.txt'), 'utf8')).fields.filter(([k]) => !/^(payload-oxum|bagging-date)$/i.test(k));
  await writeBagTags(bundle, { fields });
}

const url = source();

describe('bundle verify: unique columns', () => {
  it('a unique column without repeats verifies, missing values repeating, in the fast lane', async () => {
    const b = path.join(dir, 'clean');
    await exportBundle({ dir: b, source: url, tables: ['v'] });
    const pkg = readFileSync(path.join(b, 'data', 'datapackage.json'), 'utf8');
    expect(pkg).toMatch(/"unique": true/);
    const taken = fastLaneStats.taken;
    const v = await verifyBundle(b);
    expect(v.problems).toEqual([]);
    expect(v.valid).toBe(true);
    expect(fastLaneStats.taken).toBe(taken + 1);
  });

  it('a repeated value of a unique column is named with both lines, with the Arrow file (fast lane bails) and without it', async () => {
    const want = ["data/csv/u.csv:6: email 'a@x' repeats line 2, and the column is unique", "data/csv/u.csv:7: badge '10' repeats line 2, and the column is unique"];
    const withArrow = path.join(dir, 'repeats');
    await exportBundle({ dir: withArrow, source: url, tables: ['u'] });
    expect((await verifyBundle(withArrow)).valid).toBe(true);
    await declareUnique(withArrow);
    let v = await verifyBundle(withArrow);
    expect(v.valid).toBe(false);
    expect(v.problems).toEqual(want);

    const csvOnly = path.join(dir, 'repeats-csv');
    await exportBundle({ dir: csvOnly, source: url, tables: ['u'] });
    rmSync(path.join(csvOnly, 'data', 'arrow', 'u.arrow'));
    await declareUnique(csvOnly);
    v = await verifyBundle(csvOnly);
    expect(v.valid).toBe(false);
    expect(v.problems).toEqual(["data/arrow/u.arrow: missing (a forklift bundle has an Arrow file beside each table's CSV)", ...want]);
  });
});
