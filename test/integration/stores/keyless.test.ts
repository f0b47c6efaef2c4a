import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../../helpers.js';
import { liveServers } from './live.js';

/**
 * A table without a primary key (a custom table made by hand) exports, and a bundle holding one
 * imports into every store: created without a PRIMARY KEY clause, appended or replaced, its
 * duplicate rows kept; upsert, which matches rows by their key, is refused as a usage error.
 * Export, import, export again gives the same payload bytes, and exit of such a store passes.
 */

const FILE = 'test/integration/stores/keyless.test.ts';
const { pgDown, myDown, pgDbs, myDbs } = await liveServers(FILE);

function keylessSource(dir: string): string {
  const file = path.join(dir, 'src.db');
  const db = new Database(file);
  db.exec("CREATE TABLE readings (sensor TEXT, val INTEGER, note TEXT); INSERT INTO readings VALUES ('a', 1, 'x'), ('a', 1, 'x'), ('b', NULL, NULL), ('c', 7, 'é');");
  db.close();
  return `sqlite:${file}`;
}

const payload = (bundle: string): Buffer[] => ['data/csv/readings.csv', 'data/arrow/readings.arrow'].map((f) => readFileSync(path.join(bundle, f)));

const targets: { name: string; down: string | null; url: (dir: string) => Promise<string> }[] = [
  { name: 'SQLite', down: null, url: async (dir) => `sqlite:${path.join(dir, 'target.db')}` },
  { name: 'PostgreSQL', down: pgDown, url: async () => (await pgDbs.create()).url },
  { name: 'MariaDB', down: myDown, url: async () => (await myDbs.create()).url },
];

describe('a table without a primary key', () => {
  it('passes exit from a SQLite store', () => {
    const dir = tempDir('forklift-keyless-');
    const r = runCli(['exit', '--source', keylessSource(dir), '--to', path.join(dir, 'exit')], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  for (const t of targets) {
    describe.skipIf(t.down !== null)(t.name, () => {
      it('imports (append, replace), refuses upsert, and round-trips byte for byte; exit of the target passes', async () => {
        const dir = tempDir('forklift-keyless-');
        const first = path.join(dir, 'b1');
        expect(runCli(['export', first, '--source', keylessSource(dir)], { cwd: dir }).code).toBe(0);
        const target = await t.url(dir);

        const imported = runCli(['bundle', 'import', first, '--target', target, '--json'], { cwd: dir });
        expect(imported.stderr).toBe('');
        expect(imported.code).toBe(0);
        const again = runCli(['bundle', 'import', first, '--target', target, '--load', 'replace', '--tables', 'readings'], { cwd: dir });
        expect(again.stderr).toBe('');
        expect(again.code).toBe(0);

        const upsert = runCli(['bundle', 'import', first, '--target', target, '--load', 'upsert', '--tables', 'readings'], { cwd: dir });
        expect(upsert.code).toBe(2);
        expect(upsert.stderr).toMatch(/readings has no primary key/);
        expect(upsert.stderr).toMatch(/--load append or --load replace/);

        const second = path.join(dir, 'b2');
        expect(runCli(['export', second, '--source', target, '--tables', 'readings'], { cwd: dir }).code).toBe(0);
        expect(payload(second)).toEqual(payload(first));

        const exit = runCli(['exit', '--source', target, '--to', path.join(dir, 'exit')], { cwd: dir });
        expect(exit.stderr).toBe('');
        expect(exit.code).toBe(0);
      }, 120_000);
    });
  }
});
