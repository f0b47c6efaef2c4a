import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, tempDir } from '../helpers.js';
import { PG_ADMIN_URL, PgDatabases, probePg, reportUnreachable, withPg } from '../integration/stores/live.js';

/**
 * What `forklift export` from PostgreSQL loads. An export reads through pg's own client, so
 * knex (with lodash), better-sqlite3, the YAML parser and zod stay unloaded: together they were
 * about 0.2 s of every export's start. A static import slipped back in fails here, naming it.
 * Every module the built CLI resolves is logged by a module hook (node --import).
 */

const pgDown = await probePg();
reportUnreachable('PostgreSQL', PG_ADMIN_URL, pgDown, 'test/e2e/startup-imports.test.ts');
const dbs = new PgDatabases();

afterAll(async () => {
  if (!pgDown) await dbs.dropAll();
});

const HEAVY = [/\/node_modules\/knex\//, /\/node_modules\/lodash\//, /\/node_modules\/better-sqlite3\//, /\/node_modules\/yaml\//, /\/dist\/src\/vendor\/zod\.js$/];

/** The URLs of every module the CLI resolved while running `args`. */
function resolvedBy(args: string[], cwd: string): { code: number; stderr: string; urls: string[] } {
  const dir = tempDir('forklift-imports-');
  const log = path.join(dir, 'resolved.txt');
  writeFileSync(
    path.join(dir, 'hooks.mjs'),
    `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(${JSON.stringify(log)}, r.url + '\\n');
  return r;
}
`,
  );
  writeFileSync(path.join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(path.join(dir, 'hooks.mjs')).href)});\n`);
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(path.join(dir, 'register.mjs')).href, BIN, ...args], { cwd, encoding: 'utf8', input: '', timeout: 120_000, env: { ...process.env, FORCE_COLOR: '0' } });
  const urls = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  return { code: r.status ?? -1, stderr: r.stderr, urls };
}

describe.skipIf(pgDown !== null)('forklift export from PostgreSQL', () => {
  it('loads neither knex, better-sqlite3, the YAML parser nor zod, with a plan beside it', async () => {
    const db = await dbs.create();
    await withPg(db.url, async (c) => {
      await c.query('CREATE TABLE machines (id integer PRIMARY KEY, name text)');
      await c.query("INSERT INTO machines VALUES (1, 'Press 1')");
    });
    const cwd = tempDir('forklift-imports-cwd-');
    // A plan in the folder: with --source and no --profile it has nothing to give and is not read.
    writeFileSync(path.join(cwd, 'forklift.yaml'), 'name: beside\ntarget: sqlite:./other.db\nmodel: factory\nmappings: []\n');
    const r = resolvedBy(['export', path.join(cwd, 'bundle'), '--source', db.url], cwd);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(path.join(cwd, 'bundle', 'data', 'csv', 'machines.csv'))).toBe(true);
    // The hook saw the modules the export did use.
    expect(r.urls.some((u) => u.includes('/node_modules/pg/'))).toBe(true);
    expect(r.urls.some((u) => u.endsWith('/dist/src/vendor/apache-arrow.js'))).toBe(true);
    expect(r.urls.filter((u) => HEAVY.some((h) => h.test(u)))).toEqual([]);
  });
});
