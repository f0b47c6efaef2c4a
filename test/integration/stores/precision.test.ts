import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../../helpers.js';
import { liveServers, mysqlAdminConfig, withPg } from './live.js';

/**
 * Instants with digits below the millisecond, in tables made by hand (PostgreSQL timestamptz,
 * MariaDB DATETIME(6) and TIMESTAMP(6)): forklift's timestamps have milliseconds, so export and
 * exit refuse such a value, naming the table, the column and the value, exit 1 and leave nothing
 * that looks like a bundle, instead of cutting the microseconds (and, in a key, failing on the
 * order of keys cut to the same millisecond). The same tables holding whole milliseconds export
 * and round-trip exactly. Runs the built CLI (npm run build first).
 */

const { pgDown, myDown, pgDbs, myDbs } = await liveServers('precision.test.ts');

/** Nothing beside the bundle's place looks like a bundle (no folder of that name, no work left). */
function nothingLeft(dir: string, name: string): void {
  expect(existsSync(path.join(dir, name))).toBe(false);
  expect(readdirSync(dir).filter((f) => f.startsWith(name))).toEqual([]);
}

/** `export` of one table and `exit`, both refused with the value named. */
function expectRefused(url: string, table: string, column: string, value: string): void {
  const dir = tempDir('forklift-precision-');
  const exp = runCli(['export', path.join(dir, 'b'), '--source', url, '--tables', table]);
  expect(exp.code, exp.stderr).toBe(1);
  expect(exp.stderr).toContain(`table ${table}, column ${column}: the value ${value} has digits below the millisecond`);
  expect(exp.stderr).toContain(`leave ${table} out with --tables`);
  expect(exp.stderr).not.toContain('internal error');
  nothingLeft(dir, 'b');

  const json = runCli(['export', path.join(dir, 'j'), '--source', url, '--tables', table, '--json']);
  expect(json.code).toBe(1);
  expect((JSON.parse(json.stdout) as { error: { code: string } }).error.code).toBe('store.sub-millisecond');
  nothingLeft(dir, 'j');

  const exit = runCli(['exit', '--source', url, '--to', path.join(dir, 'x')]);
  expect(exit.code, exit.stderr).toBe(1);
  expect(exit.stderr).toContain('has digits below the millisecond');
  nothingLeft(dir, 'x');
}

/** `exit` passes (the re-imported copy is identical) and the CSV holds exactly these lines. */
function expectExact(url: string, csv: Record<string, string[]>): void {
  const dir = tempDir('forklift-precision-');
  const r = runCli(['exit', '--source', url, '--to', path.join(dir, 'x'), '--json']);
  expect(r.code, r.stderr).toBe(0);
  const cert = (JSON.parse(r.stdout) as { certificate: { diff: { identical: boolean; changed: number } } }).certificate;
  expect(cert.diff).toMatchObject({ identical: true, changed: 0 });
  for (const [table, lines] of Object.entries(csv)) {
    expect(readFileSync(path.join(dir, 'x', 'data', 'csv', `${table}.csv`), 'utf8').split(/\r?\n/).filter(Boolean)).toEqual(lines);
  }
}

describe.skipIf(pgDown !== null)('PostgreSQL timestamptz with microseconds', () => {
  it('refuses a value with microseconds, in a column and in a primary key', async () => {
    const { url } = await pgDbs.create();
    await withPg(url, async (c) => {
      await c.query("CREATE TABLE ev (id int PRIMARY KEY, at timestamptz NOT NULL); INSERT INTO ev VALUES (1, '2024-01-01 12:00:00.5+00'), (2, '2024-01-01 12:00:00.123456+00')");
      // Two keys within one millisecond: cut, they would be one key out of order.
      await c.query("CREATE TABLE k (at timestamptz PRIMARY KEY); INSERT INTO k VALUES ('2024-01-01 12:00:00.1231+00'), ('2024-01-01 12:00:00.1239+00')");
      // Before 1970 and before year 1: the slow path of the reader keeps the digits too.
      await c.query("CREATE TABLE old (id int PRIMARY KEY, at timestamptz); INSERT INTO old VALUES (1, '0044-03-15 12:00:00.000001+00 BC')");
    });
    expectRefused(url, 'ev', 'at', '2024-01-01T12:00:00.123456Z');
    expectRefused(url, 'k', 'at', '2024-01-01T12:00:00.1231Z');
    expectRefused(url, 'old', 'at', '-000043-03-15T12:00:00.000001Z');
  });

  it('exports whole milliseconds exactly (timestamptz and timestamptz(6)), keys in time order', async () => {
    const { url } = await pgDbs.create();
    await withPg(url, async (c) => {
      await c.query("CREATE TABLE ev (id int PRIMARY KEY, at timestamptz NOT NULL, at6 timestamptz(6)); INSERT INTO ev VALUES (1, '2024-01-01 12:00:00.123+00', '2024-01-01 12:00:00.120+00'), (2, '1969-12-31 23:59:59.999+00', NULL), (3, '2024-01-01 12:00:00+00', '2024-01-01 12:00:00.5+00')");
      await c.query("CREATE TABLE k (at timestamptz PRIMARY KEY, n int); INSERT INTO k VALUES ('2024-01-01 12:00:00.124+00', 1), ('2024-01-01 12:00:00.123+00', 2)");
    });
    expectExact(url, {
      ev: ['id,at,at6', '1,2024-01-01T12:00:00.123Z,2024-01-01T12:00:00.120Z', '2,1969-12-31T23:59:59.999Z,', '3,2024-01-01T12:00:00.000Z,2024-01-01T12:00:00.500Z'],
      k: ['at,n', '2024-01-01T12:00:00.123Z,2', '2024-01-01T12:00:00.124Z,1'],
    });
  });
});

describe.skipIf(myDown !== null)('MariaDB DATETIME(6) and TIMESTAMP(6) with microseconds', () => {
  const tables = ['CREATE TABLE ev (id int PRIMARY KEY, at DATETIME(6) NOT NULL, ts TIMESTAMP(6) NULL, at3 DATETIME(3) NULL)', 'CREATE TABLE k (at DATETIME(6) PRIMARY KEY, n int)'];

  /** A database of the two tables above holding these rows. */
  async function made(inserts: string[]): Promise<string> {
    const { name, url } = await myDbs.create();
    const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: name, timezone: 'Z' });
    try {
      await c.query("SET time_zone = '+00:00'");
      for (const s of [...tables, ...inserts]) await c.query(s);
    } finally {
      await c.end();
    }
    return url;
  }

  it('refuses a value with microseconds, in a column and in a primary key', async () => {
    // Keys within one millisecond: cut, they would be one key out of order.
    const url = await made(["INSERT INTO ev VALUES (1, '2024-01-01 12:00:00.5', '2024-01-01 12:00:00.123400', NULL)", "INSERT INTO k VALUES ('2024-01-01 12:00:00.1231', 1), ('2024-01-01 12:00:00.1239', 2)"]);
    expectRefused(url, 'ev', 'ts', '2024-01-01T12:00:00.1234Z');
    expectRefused(url, 'k', 'at', '2024-01-01T12:00:00.1231Z');
  });

  it('exports whole milliseconds exactly (DATETIME(6), TIMESTAMP(6), DATETIME(3)), keys in time order', async () => {
    const url = await made([
      "INSERT INTO ev VALUES (1, '2024-01-01 12:00:00.123', '2024-01-01 12:00:00.12', '2024-01-01 12:00:00.001'), (2, '2024-01-01 12:00:00', NULL, NULL)",
      "INSERT INTO k VALUES ('2024-01-01 12:00:00.124', 1), ('2024-01-01 12:00:00.123', 2)",
    ]);
    expectExact(url, {
      ev: ['id,at,ts,at3', '1,2024-01-01T12:00:00.123Z,2024-01-01T12:00:00.120Z,2024-01-01T12:00:00.001Z', '2,2024-01-01T12:00:00.000Z,,'],
      k: ['at,n', '2024-01-01T12:00:00.123Z,2', '2024-01-01T12:00:00.124Z,1'],
    });
  });
});
