import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../../helpers.js';
import { liveServers, mysqlAdminConfig, withPg } from './live.js';

/**
 * A migrate into an existing table whose columns are narrower than the model (made by hand) is
 * refused before any row moves (exit 1, nothing committed, the attempt in the ledger), naming the
 * table, the column, both types and what to do, instead of rounding the values without a word
 * (PostgreSQL: numeric(18,2), timestamptz(0); MariaDB: datetime; SQLite: REAL affinity).
 */

const FILE = 'test/integration/stores/table-shape.test.ts';
const { pgDown, myDown, pgDbs, myDbs } = await liveServers(FILE);

const EVENTS = (ts: string, temp: string): string =>
  `CREATE TABLE machine_events (machine_id varchar(32), ts ${ts}, state varchar(5), good_count bigint, reject_count bigint, downtime_reason varchar(64), temperature_c ${temp}, vibration_mm_s numeric(8,3), power_kw numeric(10,3), PRIMARY KEY (machine_id, ts))`;

function project(target: string): string {
  const dir = tempDir('forklift-shape-');
  writeFileSync(path.join(dir, 'log.csv'), 'M,TS,S,T\nM1,2024-01-01T00:00:00.400Z,RUN,20.123\nM1,2024-01-01T00:00:00.600Z,IDLE,20.149\n');
  writeFileSync(path.join(dir, 'log.yaml'), 'entity: machine_events\nsource: { format: csv, path: log.csv }\nfields:\n  machine_id: { from: M }\n  ts: { from: TS }\n  state: { from: S }\n  temperature_c: { from: T }\n');
  writeFileSync(path.join(dir, 'forklift.yaml'), `name: shape\ntarget: ${target}\nmappings: [log.yaml]\nload: append\n`);
  return dir;
}

function expectRefused(r: ReturnType<typeof runCli>, column: RegExp): void {
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/the existing table machine_events does not match the model/);
  expect(r.stderr).toMatch(column);
  expect(r.stderr).toMatch(/Hint: Alter the columns? to the model's types? \(or wider\), or drop the table so forklift creates it/);
}

describe('an existing table narrower than the model', () => {
  it.skipIf(pgDown !== null)('PostgreSQL: refused, naming column and types; nothing committed, the attempt recorded; a wider table loads exactly', async () => {
    const { url } = await pgDbs.create();
    await withPg(url, (c) => c.query(EVENTS('timestamptz(0)', 'numeric(8,1)')));
    const dir = project(url);
    for (const args of [['migrate'], ['migrate', '--dry-run']]) {
      const r = runCli(args, { cwd: dir });
      expectRefused(r, /machine_events\.ts is timestamp\(0\) with time zone, the model has timestamptz \(and 1 more column\)/);
      expect(r.stderr).toMatch(/machine_events\.temperature_c is numeric\(8,1\), the model has numeric\(8, 3\)/);
    }
    await withPg(url, async (c) => {
      expect((await c.query('SELECT count(*)::int AS n FROM machine_events')).rows[0].n).toBe(0);
      expect((await c.query("SELECT status FROM forklift_runs WHERE command = 'migrate'")).rows.map((r: { status: string }) => r.status)).toContain('failed');
      await c.query('DROP TABLE machine_events');
      await c.query(EVENTS('timestamptz', 'numeric(12,4)'));
    });
    const ok = runCli(['migrate'], { cwd: dir });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const rows = await withPg(url, (c) => c.query("SELECT to_char(ts AT TIME ZONE 'UTC', 'SS.MS') AS s, temperature_c::text AS t FROM machine_events ORDER BY ts"));
    expect(rows.rows).toEqual([{ s: '00.400', t: '20.1230' }, { s: '00.600', t: '20.1490' }]);
  });

  it.skipIf(pgDown !== null)('PostgreSQL: numeric(18,2) for decimal(18,4) is refused', async () => {
    const { url } = await pgDbs.create();
    await withPg(url, (c) => c.query('CREATE TABLE items (item_code varchar(64) PRIMARY KEY, description varchar(255) NOT NULL, item_type varchar(10), uom varchar(16) NOT NULL, category varchar(64), standard_cost numeric(18,2), lead_time_days integer, active boolean NOT NULL)'));
    const dir = tempDir('forklift-shape-');
    writeFileSync(path.join(dir, 'items.csv'), 'code,desc,cost\nA1,Pump,7858.0290\nA2,Valve,0.0049\n');
    writeFileSync(path.join(dir, 'items.yaml'), 'entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: code }\n  description: { from: desc }\n  uom: { const: EA }\n  active: { const: true }\n  standard_cost: { from: cost }\n');
    writeFileSync(path.join(dir, 'forklift.yaml'), `name: shape\ntarget: ${url}\nmappings: [items.yaml]\nload: append\n`);
    const r = runCli(['migrate'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/items\.standard_cost is numeric\(18,2\), the model has numeric\(18, 4\); nothing was loaded/);
    expect(await withPg(url, async (c) => (await c.query('SELECT count(*)::int AS n FROM items')).rows[0].n)).toBe(0);
  });

  it.skipIf(myDown !== null)('MariaDB: a datetime without fractions (rounded silently even in strict mode) is refused', async () => {
    const { name, url } = await myDbs.create();
    const conn = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
    try {
      await conn.query(EVENTS('datetime', 'decimal(8,3)'));
      const dir = project(url);
      for (const args of [['migrate'], ['migrate', '--dry-run']]) expectRefused(runCli(args, { cwd: dir }), /machine_events\.ts is datetime, the model has datetime\(3\); nothing was loaded/);
      const [rows] = (await conn.query('SELECT count(*) AS n FROM machine_events')) as unknown as [{ n: number }[]];
      expect(Number(rows[0]!.n)).toBe(0);
    } finally {
      await conn.end();
    }
  });

  it('SQLite: a REAL column for a decimal (its affinity turns the text into a float) is refused', () => {
    const dir = tempDir('forklift-shape-');
    const file = path.join(dir, 'target.db');
    const db = new Database(file);
    db.exec(EVENTS('TEXT', 'REAL'));
    db.close();
    const r = runCli(['migrate'], { cwd: project(`sqlite:${file}`) });
    expectRefused(r, /machine_events\.temperature_c is REAL, the model has TEXT \(and 2 more columns\); nothing was loaded/);
    const after = new Database(file, { readonly: true });
    expect(after.prepare('SELECT count(*) AS n FROM machine_events').get()).toEqual({ n: 0 });
    after.close();
  });
});
