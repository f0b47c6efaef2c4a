import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';
import { MYSQL_ADMIN_URL, MysqlDatabases, PG_ADMIN_URL, PgDatabases, probeMysql, probePg, reportUnreachable } from '../integration/stores/live.js';

/**
 * A model's self reference (parts.parent references parts.code) has no FOREIGN KEY in the store:
 * forklift leaves it to validation, since the rows of one table reference each other in any order.
 * A purge read only the catalog's foreign keys, so it deleted a part that a part staying in the
 * store names as its parent, leaving that reference dangling, on every store. The plan's model
 * counts now: the part is kept, and the report says which table keeps it.
 */

const pgDown = await probePg();
const myDown = await probeMysql();
reportUnreachable('PostgreSQL', PG_ADMIN_URL, pgDown, 'test/e2e/purge-self-reference.test.ts');
reportUnreachable('MariaDB', MYSQL_ADMIN_URL, myDown, 'test/e2e/purge-self-reference.test.ts');
const pgDbs = new PgDatabases();
const myDbs = new MysqlDatabases();
const made: string[] = [];

afterAll(async () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
  await pgDbs.dropAll().catch(() => {});
  await myDbs.dropAll().catch(() => {});
});

/** P1 (old) is the parent of P2 (new, stays); P4 (old) of P3 (old): both go. */
function project(): string {
  const dir = tempDir('forklift-purge-self-');
  made.push(dir);
  writeFileSync(
    path.join(dir, 'model.yaml'),
    ['entities:', '  parts:', '    primary_key: [code]', '    columns:', '      code: { type: string, length: 16 }', '      parent: { type: string, length: 16, references: parts.code }', '      status: { type: string, length: 8 }', ''].join('\n'),
  );
  writeFileSync(path.join(dir, 'parts.csv'), ['code,parent,status', 'P1,,old', 'P2,P1,new', 'P3,P4,old', 'P4,,old', ''].join('\n'));
  writeFileSync(path.join(dir, 'parts.yaml'), ['entity: parts', 'source: { format: csv, path: parts.csv, encoding: utf-8 }', 'fields:', '  code: { from: code }', '  parent: { from: parent }', '  status: { from: status }', ''].join('\n'));
  writeFileSync(
    path.join(dir, 'forklift.yaml'),
    ['name: self-ref', 'target: ${T}', 'model: ./model.yaml', 'mappings: [parts.yaml]', 'retention:', '  - entity: parts', `    where: 'status = "old"'`, ''].join('\n'),
  );
  return dir;
}

interface PurgeJson {
  tables: { name: string; rows: number; deleted: number; kept_referenced: number; kept_because: string[] }[];
}

function check(target: string): void {
  const dir = project();
  const env = { T: target };
  const m = runCli(['migrate', '--json'], { cwd: dir, env });
  expect(m.code, m.stderr).toBe(0);
  const dry = runCli(['purge', '--dry-run', '--json'], { cwd: dir, env });
  expect(dry.code, dry.stderr).toBe(0);
  const d = (JSON.parse(dry.stdout) as PurgeJson).tables[0]!;
  expect([d.rows, d.deleted, d.kept_referenced, d.kept_because]).toEqual([2, 0, 1, ['rows of parts that stay reference them']]);

  const r = runCli(['purge', '--archive', path.join(dir, 'archive'), '--json'], { cwd: dir, env });
  expect(r.code, r.stderr).toBe(0);
  const t = (JSON.parse(r.stdout) as PurgeJson).tables[0]!;
  expect([t.deleted, t.kept_referenced]).toEqual([2, 1]);
  const left = runCli(['export', path.join(dir, 'left'), '--source', target, '--tables', 'parts', '--json'], { cwd: dir, env });
  expect(left.code, left.stderr).toBe(0);
  // The store keeps P1 (P2 names it) and P2; the archive holds P3 and P4.
  expect(readFileSync(path.join(dir, 'left', 'data', 'csv', 'parts.csv'), 'utf8')).toBe('code,parent,status\r\nP1,,old\r\nP2,P1,new\r\n');
  expect(readFileSync(path.join(dir, 'archive', 'data', 'csv', 'parts.csv'), 'utf8')).toBe('code,parent,status\r\nP3,P4,old\r\nP4,,old\r\n');
}

describe('purge of a table whose rows reference each other through the model', () => {
  it('keeps a row that a row staying references, on SQLite', () => {
    check(`sqlite:${path.join(tempDir('forklift-purge-self-db-'), 't.db')}`);
  });

  it.skipIf(pgDown !== null)('on PostgreSQL', async () => {
    check((await pgDbs.create()).url);
  });

  it.skipIf(myDown !== null)('on MariaDB', async () => {
    check((await myDbs.create()).url);
  });
});
