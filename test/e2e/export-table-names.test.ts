import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';

/**
 * A table's name names its files in a bundle (data/csv/<table>.csv): a store may hold a table
 * named `../../x` or with a line break, and an export must never write outside its own folder.
 */

function storeWith(dir: string, sql: string): string {
  const file = path.join(dir, 'store.db');
  const db = new Database(file);
  db.exec(sql);
  db.close();
  return `sqlite:${file}`;
}

describe('forklift export and table names that are not file names', () => {
  it('refuses a table named with ../ before writing anything, and leaves the file it would have overwritten alone', () => {
    const top = tempDir('forklift-names-');
    const work = path.join(top, 'a', 'b', 'work');
    const url = storeWith(tempDir('forklift-names-db-'), `CREATE TABLE "../../../escaped" (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO "../../../escaped" VALUES (1, 'x'); CREATE TABLE fine (id INTEGER PRIMARY KEY);`);
    // data/csv/../../../escaped.csv from the bundle folder out/ (inside work/) is a/escaped.csv.
    const victim = path.join(top, 'a', 'escaped.csv');
    mkdirSync(work, { recursive: true });
    writeFileSync(victim, 'IMPORTANT DATA\n');
    const r = runCli(['export', 'out', '--source', url], { cwd: work });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/table "\.\.\/\.\.\/\.\.\/escaped" cannot be written to a bundle: it holds a path separator/);
    expect(r.stderr).toMatch(/leave it out with --tables/);
    expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
    expect(readFileSync(victim, 'utf8')).toBe('IMPORTANT DATA\n');
    expect(readdirSync(path.join(top, 'a')).sort()).toEqual(['b', 'escaped.csv']);
    expect(readdirSync(work)).toEqual([]);
    // The other tables export once it is left out.
    const ok = runCli(['export', 'out', '--source', url, '--tables', 'fine'], { cwd: work });
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('refuses a table whose name holds a line break (bag-info.txt and the manifests are lines)', () => {
    const url = storeWith(tempDir('forklift-names-db-'), `CREATE TABLE "two\nlines" (id INTEGER PRIMARY KEY);`);
    const work = tempDir('forklift-names-');
    const r = runCli(['export', 'out', '--source', url], { cwd: work });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/cannot be written to a bundle: it holds a control character/);
    expect(existsSync(path.join(work, 'out'))).toBe(false);
  });

  it('takes a table named twice in --tables once: the bundle verifies', () => {
    const url = storeWith(tempDir('forklift-names-db-'), `CREATE TABLE items (id INTEGER PRIMARY KEY); INSERT INTO items VALUES (1), (2);`);
    const work = tempDir('forklift-names-');
    const r = runCli(['export', 'out', '--source', url, '--tables', 'items,items', '--json'], { cwd: work });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { tables: { name: string }[] }).tables.map((t) => t.name)).toEqual(['items']);
    const v = runCli(['bundle', 'verify', path.join(work, 'out')]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });
});

