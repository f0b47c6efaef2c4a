import { readFileSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';
import { liveServers, mysqlAdminConfig, withPg } from '../integration/stores/live.js';

/**
 * Native types of tables forklift did not create, through the built CLI (export, exit, diff)
 * against real PostgreSQL and MariaDB: every value leaves exactly, with a type in the bundle that
 * can hold it, or forklift stops with a user error that names the table, the column and the
 * value. Never a silent change, never "internal error".
 */

const { pgDown, myDown, pgDbs, myDbs } = await liveServers('test/e2e/store-types.test.ts');

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

interface Field {
  name: string;
  type: string;
  'forklift:type'?: string;
}

/** exit of a store: the CSV of each table and the fields datapackage.json gives them. */
function exitBundle(url: string, tables: string[]): { code: number; out: string; csv: Record<string, string>; fields: Record<string, Field[]> } {
  const to = path.join(tempDir('forklift-types-'), 'exit');
  const r = runCli(['exit', '--source', url, '--to', to]);
  const csv: Record<string, string> = {};
  const fields: Record<string, Field[]> = {};
  if (r.code === 0) {
    const pkg = JSON.parse(readFileSync(path.join(to, 'data', 'datapackage.json'), 'utf8')) as { resources: { name: string; schema: { fields: Field[] } }[] };
    for (const t of tables) {
      csv[t] = readFileSync(path.join(to, 'data', 'csv', `${t}.csv`), 'utf8');
      fields[t] = pkg.resources.find((x) => x.name === t)!.schema.fields;
    }
  }
  return { code: r.code, out: r.stdout + r.stderr, csv, fields };
}

describe.skipIf(myDown !== null)('MariaDB types whose usual reading cannot hold every value', () => {
  it('decimal(65,30) leaves as its exact text; tinyint(1) holding 2 as an integer; bigint unsigned beyond 2^63 as decimal(20,0)', async () => {
    const url = await mariadb([
      'CREATE TABLE a (id int PRIMARY KEY, amount decimal(65,30))',
      'INSERT INTO a VALUES (1, 1.5), (2, -12345678901234567890123456789012345.000000000000000000000000000001), (3, NULL)',
      'CREATE TABLE b (id bigint unsigned PRIMARY KEY, n bigint unsigned)',
      'INSERT INTO b VALUES (18446744073709551615, 1), (1, 9223372036854775807)',
      'CREATE TABLE c (id int PRIMARY KEY, status tinyint(1), flag tinyint(1))',
      'INSERT INTO c VALUES (1, 0, 1), (2, 1, 0), (3, 2, NULL), (4, -1, 1)',
    ]);
    const x = exitBundle(url, ['a', 'b', 'c']);
    expect(x.code, x.out).toBe(0);
    expect(x.out).not.toMatch(/internal error/);
    expect(x.csv.a).toBe(['id,amount', '1,1.500000000000000000000000000000', '2,-12345678901234567890123456789012345.000000000000000000000000000001', '3,', ''].join('\r\n'));
    expect(x.fields.a!.map((f) => [f.name, f['forklift:type'] ?? f.type])).toEqual([
      ['id', 'integer'],
      ['amount', 'text'],
    ]);
    // Only b.id holds a value beyond 2^63 - 1: b.n keeps its integer type.
    expect(x.csv.b).toBe(['id,n', '1,9223372036854775807', '18446744073709551615,1', ''].join('\r\n'));
    expect(x.fields.b!.map((f) => [f.name, f['forklift:type'] ?? f.type])).toEqual([
      ['id', 'decimal(20,0)'],
      ['n', 'integer'],
    ]);
    // status holds 2 and -1: an integer; flag holds 0 and 1 only: still a boolean.
    expect(x.csv.c).toBe(['id,status,flag', '1,0,true', '2,1,false', '3,2,', '4,-1,true', ''].join('\r\n'));
    expect(x.fields.c!.map((f) => [f.name, f['forklift:type'] ?? f.type])).toEqual([
      ['id', 'integer'],
      ['status', 'integer'],
      ['flag', 'boolean'],
    ]);
  });
});

describe.skipIf(myDown !== null)('MariaDB values the bundle has no form for', () => {
  it('zero dates stop export with a user error naming table, column and value', async () => {
    const url = await mariadb(["SET SESSION sql_mode = ''", 'CREATE TABLE zd (id int PRIMARY KEY, d date, dt datetime)', "INSERT INTO zd VALUES (1, '2024-01-01', '2024-01-01 10:00:00'), (2, '0000-00-00', '2024-01-01 10:00:00')"]);
    const dir = tempDir('forklift-types-');
    const ex = runCli(['export', path.join(dir, 'b'), '--source', url]);
    expect(ex.code, ex.stdout + ex.stderr).toBe(1);
    expect(ex.stdout + ex.stderr).not.toMatch(/internal error|bug in forklift/);
    expect(ex.stdout + ex.stderr).toMatch(/table zd, column d, row id = 2: the value 0000-00-00 is a zero date/);
  });
});

describe.skipIf(pgDown !== null)('PostgreSQL values and types the bundle has no form for', () => {
  it("numeric 'NaN' stops export with a user error naming table, column and value", async () => {
    const { url } = await pgDbs.create();
    await withPg(url, (c) => c.query("CREATE TABLE n (k varchar(10) PRIMARY KEY, d numeric(10,3)); INSERT INTO n VALUES ('a', 1.5), ('d', 'NaN')"));
    const dir = tempDir('forklift-types-');
    const ex = runCli(['export', path.join(dir, 'b'), '--source', url]);
    expect(ex.code, ex.stdout + ex.stderr).toBe(1);
    expect(ex.stdout + ex.stderr).not.toMatch(/internal error|bug in forklift/);
    expect(ex.stdout + ex.stderr).toMatch(/table n, column d, row k = 'd': the value NaN is not a number/);
  });

  it("timestamptz 'infinity' stops export and exit with a user error naming table, column and value", async () => {
    const { url } = await pgDbs.create();
    await withPg(url, async (c) => {
      await c.query("CREATE TABLE d (id int PRIMARY KEY, valid_until timestamptz, since date); INSERT INTO d VALUES (1, '2024-01-01 00:00:00+00', '2024-01-01'), (2, 'infinity', '2024-01-01')");
      await c.query("CREATE TABLE e (id int PRIMARY KEY, since date); INSERT INTO e VALUES (1, '-infinity')");
      await c.query('CREATE TABLE f (id int PRIMARY KEY, amount numeric(50,10)); INSERT INTO f VALUES (1, 1.5)');
    });
    const x = exitBundle(url, []);
    expect(x.code, x.out).toBe(1);
    expect(x.out).not.toMatch(/internal error|bug in forklift/);
    expect(x.out).toMatch(/table d, column valid_until, row id = 2: the value infinity is not a point in time/);
    expect(x.out).toMatch(/--tables/);
    const dir = tempDir('forklift-types-');
    const ex = runCli(['export', path.join(dir, 'b'), '--source', url, '--tables', 'e']);
    expect(ex.code, ex.stdout + ex.stderr).toBe(1);
    expect(ex.stdout + ex.stderr).toMatch(/table e, column since, row id = 1: the value -infinity is not a point in time/);
    // diff compares them as they are: only a bundle has no form for them.
    const same = runCli(['diff', url, url]);
    expect(same.code, same.stdout + same.stderr).toBe(0);
    // A numeric wider than a decimal the bundle keeps (precision 38) leaves as its exact text.
    const f = runCli(['export', path.join(dir, 'f'), '--source', url, '--tables', 'f']);
    expect(f.code, f.stdout + f.stderr).toBe(0);
    expect(readFileSync(path.join(dir, 'f', 'data', 'csv', 'f.csv'), 'utf8')).toBe('id,amount\r\n1,1.5000000000\r\n');
  });
});
