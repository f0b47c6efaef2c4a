import { readFileSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';
import { liveServers, mysqlAdminConfig } from '../integration/stores/live.js';

/**
 * Native types of tables forklift did not create, through the built CLI (export, exit, diff)
 * against real PostgreSQL and MariaDB: every value leaves exactly, with a type in the bundle that
 * can hold it, or forklift stops with a user error that names the table, the column and the
 * value. Never a silent change, never "internal error".
 */

const { myDown, myDbs } = await liveServers('test/e2e/store-types.test.ts');

async function mariadb(statements: string[]): Promise<string> {
  const { name, url } = await myDbs.create();
  const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
  try {
    for (const s of statements) await c.query(s);
  } finally {
    await c.end();
  }
  return url;
}

describe.skipIf(myDown !== null)('MariaDB JSON columns of a table forklift did not create', () => {
  it('leave as the text the server holds: export, exit (identical) and diff alike', async () => {
    const url = await mariadb([
      'CREATE TABLE settings (id int PRIMARY KEY, doc json)',
      `INSERT INTO settings VALUES (1, '{"speed": 1.50, "unit": "rpm"}'), (2, '[1, 2, 3]'), (3, '[]'), (4, '"text"'), (5, '12.50'), (6, 'null'), (7, NULL)`,
    ]);
    const to = path.join(tempDir('forklift-types-'), 'exit');
    const r = runCli(['exit', '--source', url, '--to', to]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(readFileSync(path.join(to, 'data', 'csv', 'settings.csv'), 'utf8')).toBe(
      ['id,doc', '1,"{""speed"": 1.50, ""unit"": ""rpm""}"', '2,"[1, 2, 3]"', '3,[]', '4,"""text"""', '5,12.50', '6,null', '7,', ''].join('\r\n'),
    );

    const other = await mariadb(['CREATE TABLE settings (id int PRIMARY KEY, doc json)', `INSERT INTO settings VALUES (1, '{"speed": 1.5, "unit": "rpm"}'), (2, '"1, 2, 3"'), (3, '[]'), (4, '"text"'), (5, '12.50'), (6, 'null'), (7, NULL)`]);
    const d = runCli(['diff', url, other, '--format', 'json']);
    expect(d.code, d.stdout + d.stderr).toBe(1);
    const report = JSON.parse(d.stdout) as { tables: { table: string; changed: number }[] };
    expect(report.tables.find((t) => t.table === 'settings')?.changed).toBe(2);
  });
});
