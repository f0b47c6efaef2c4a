import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import iconv from 'iconv-lite';
import { afterAll, describe, expect, it } from 'vitest';
import { demoCopy, runCli } from '../helpers.js';
import { MysqlDatabases, MYSQL_ADMIN_URL, PG_ADMIN_URL, PgDatabases, mysqlAdminConfig, probeMysql, probePg, reportUnreachable, withPg } from './stores/live.js';

/**
 * `rejects reload` into the real servers: the fixed rows are added, and reloading the same file
 * again updates them where their key now exists (upsert): no duplicate, no failure.
 */

const pgDown = await probePg();
const myDown = await probeMysql();
reportUnreachable('PostgreSQL', PG_ADMIN_URL, pgDown, 'rehearse-stores.test.ts');
reportUnreachable('MariaDB', MYSQL_ADMIN_URL, myDown, 'rehearse-stores.test.ts');

const pgs = new PgDatabases();
const mys = new MysqlDatabases();
afterAll(async () => {
  await pgs.dropAll();
  await mys.dropAll();
});

/** Fixes TN-3091's unit and TN-3092's description in a run's items rejects, saved as German Excel does. */
function fixItems(runDir: string, original: Buffer, description: string): void {
  const file = path.join(runDir, 'rejects', 'items.csv');
  const [header, ...rows] = parse(original, { bom: true }) as [string[], ...string[][]];
  const col = (n: string): number => header.indexOf(n);
  for (const r of rows) {
    if (r[0] === 'TN-3091') r[col('UOM')] = 'PCS';
    if (r[0] === 'TN-3092') r[col('DESC1')] = description;
  }
  writeFileSync(file, iconv.encode(stringify([header, ...rows], { delimiter: ';', record_delimiter: 'windows' }), 'windows-1252'));
}

type Query = (sql: string) => Promise<Record<string, unknown>[]>;

const servers: { name: string; down: string | null; create: () => Promise<{ url: string; query: Query }> }[] = [
  {
    name: 'PostgreSQL',
    down: pgDown,
    create: async () => {
      const { url } = await pgs.create();
      return { url, query: (sql) => withPg(url, async (c) => (await c.query(sql)).rows as Record<string, unknown>[]) };
    },
  },
  {
    name: 'MariaDB',
    down: myDown,
    create: async () => {
      const { name, url } = await mys.create();
      return {
        url,
        query: async (sql) => {
          const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
          try {
            return (await c.query(sql))[0] as Record<string, unknown>[];
          } finally {
            await c.end();
          }
        },
      };
    },
  },
];

for (const server of servers) {
  describe.skipIf(server.down !== null)(`rejects reload into ${server.name}`, () => {
    it('adds the fixed rows, links the runs, and a second reload of the same run updates them (upsert)', async () => {
      const { url, query } = await server.create();
      const demo = demoCopy();
      const m = runCli(['migrate', demo.plan, '--target', url, '--json'], { cwd: demo.dir });
      expect(m.code, m.stderr).toBe(0);
      const first = JSON.parse(m.stdout) as { run_id: string; run_dir: string };
      const runDir = path.join(demo.dir, first.run_dir);

      const original = readFileSync(path.join(runDir, 'rejects', 'items.csv'));
      fixItems(runDir, original, 'Passscheibe für Welle');
      const r1 = runCli(['rejects', 'reload', runDir, '--entity', 'items', '--target', url, '--json'], { cwd: demo.dir });
      expect(r1.code, r1.stderr).toBe(0);
      const reload = JSON.parse(r1.stdout) as { run_id: string; entities: { entity: string; loaded: number; rejected: number }[] };
      expect(reload.entities.map((e) => [e.entity, e.loaded, e.rejected])).toEqual([['items', 2, 5]]);
      expect(await query("SELECT item_code, uom, description FROM items WHERE item_code IN ('TN-3091', 'TN-3092') ORDER BY item_code")).toEqual([
        { item_code: 'TN-3091', uom: 'EA', description: 'Dichtungsband PTFE 12 mm' },
        { item_code: 'TN-3092', uom: 'EA', description: 'Passscheibe für Welle' },
      ]);

      fixItems(runDir, original, 'Passscheibe für Welle, gehärtet');
      const r2 = runCli(['rejects', 'reload', runDir, '--entity', 'items', '--target', url, '--json'], { cwd: demo.dir });
      expect(r2.code, r2.stderr).toBe(0);
      expect((await query("SELECT COUNT(*) AS n FROM items WHERE item_code IN ('TN-3091', 'TN-3092')")).map((r) => Number(r.n))).toEqual([2]);
      expect(await query("SELECT description FROM items WHERE item_code = 'TN-3092'")).toEqual([{ description: 'Passscheibe für Welle, gehärtet' }]);

      const list = runCli(['runs', 'list', '--plan', demo.plan, '--target', url, '--json'], { cwd: demo.dir });
      expect(list.code, list.stderr).toBe(0);
      const runs = (JSON.parse(list.stdout) as { runs: { id: string; command: string; follows: string | null; in_ledger: boolean }[] }).runs;
      expect(runs.map((x) => [x.command, x.follows, x.in_ledger])).toEqual([
        ['migrate', null, true],
        ['rejects reload', first.run_id, true],
        ['rejects reload', first.run_id, true],
      ]);
      const verify = runCli(['audit', 'verify', url], { cwd: demo.dir });
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    });
  });
}
