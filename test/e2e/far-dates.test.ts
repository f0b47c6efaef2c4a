import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';
import { machineLogProject } from '../integration/machine-log.js';
import { liveServers, withMysql, withPg } from '../integration/stores/live.js';

/**
 * Dates and instants that the bundle's `YYYY-MM-DD` cannot carry, in tables made or written by
 * hand, through the built CLI: export and exit write no wrong value (44 BC never as AD 44) and
 * no bundle, and stop with exit 1 and a user error naming the table, the column, the row's key and
 * the value, with the UPDATE that corrects it; diff compares them exactly.
 */

const { pgDown, myDown, pgDbs, myDbs } = await liveServers('test/e2e/far-dates.test.ts', 'fd_');

function refused(args: string[], bundle: string): string {
  const r = runCli(args);
  const out = r.stdout + r.stderr;
  expect(r.code, out).toBe(1);
  expect(out).not.toMatch(/internal error|bug in forklift/);
  expect(existsSync(bundle)).toBe(false);
  return out;
}

describe.skipIf(pgDown !== null)('PostgreSQL dates BC and past 9999', () => {
  it('stop export and exit naming table, column and row; diff tells 44 BC from AD 44', async () => {
    const { url } = await pgDbs.create();
    await withPg(url, (c) =>
      c.query(`CREATE TABLE shifts (plant text, id int, day date NOT NULL, PRIMARY KEY (plant, id));
        INSERT INTO shifts VALUES ('P1', 1, '2024-01-01'), ('P1', 2, '0044-03-15 BC');
        CREATE TABLE lots (id int PRIMARY KEY, best_before date); INSERT INTO lots VALUES (1, '12000-01-01');
        CREATE TABLE events (id int PRIMARY KEY, at timestamp(3) with time zone); INSERT INTO events VALUES (7, '0100-01-01 00:00:00+00 BC')`),
    );
    const dir = tempDir('forklift-far-dates-');
    let out = refused(['export', path.join(dir, 'a'), '--source', url, '--tables', 'shifts'], path.join(dir, 'a'));
    expect(out).toMatch(/table shifts, column day, row plant = 'P1' AND id = 2: the value -000043-03-15 is outside the years 0001 to 9999, which the bundle cannot hold; forklift stopped rather than change it/);
    // A required column is corrected, not emptied.
    expect(out).toMatch(/Correct it in the source to a date of the years 0001 to 9999 \(UPDATE shifts SET day = … WHERE plant = 'P1' AND id = 2\)/);
    out = refused(['export', path.join(dir, 'b'), '--source', url, '--tables', 'lots'], path.join(dir, 'b'));
    expect(out).toMatch(/table lots, column best_before, row id = 1: the value \+012000-01-01 is outside the years 0001 to 9999/);
    expect(out).toMatch(/or to NULL where it means "no date" \(UPDATE lots SET best_before = NULL WHERE id = 1\)/);
    out = refused(['exit', '--source', url, '--to', path.join(dir, 'c')], path.join(dir, 'c'));
    expect(out).toMatch(/table events, column at, row id = 7: the value -000099-01-01T00:00:00\.000Z is outside the years 0001 to 9999/);

    const other = await pgDbs.create();
    await withPg(other.url, (c) => c.query("CREATE TABLE shifts (plant text, id int, day date NOT NULL, PRIMARY KEY (plant, id)); INSERT INTO shifts VALUES ('P1', 1, '2024-01-01'), ('P1', 2, '0044-03-15')"));
    const d = runCli(['diff', url, other.url, '--format', 'json', '--details']);
    expect(d.code, d.stdout + d.stderr).toBe(1);
    const report = JSON.parse(d.stdout) as { tables: { table: string; changed: number }[] };
    expect(report.tables.find((t) => t.table === 'shifts')?.changed).toBe(1);
    expect(d.stdout).toContain('-000043-03-15');
  });
});

describe.skipIf(myDown !== null)('MariaDB dates of the year 0000', () => {
  it('stop export naming table, column and row', async () => {
    const { name, url } = await myDbs.create();
    await withMysql(name, async (c) => {
      // Another tool's session, which lets year 0000 in.
      await c.query("SET SESSION sql_mode = ''");
      await c.query("CREATE TABLE orders (no varchar(10) PRIMARY KEY, due date, shipped datetime(3))");
      await c.query("INSERT INTO orders VALUES ('A-1', '2024-01-01', '2024-01-02 10:00:00'), ('A-2', '0000-01-01', NULL), ('A-3', NULL, '0000-03-01 10:00:00')");
    });
    const dir = tempDir('forklift-far-dates-');
    const out = refused(['export', path.join(dir, 'a'), '--source', url], path.join(dir, 'a'));
    expect(out).toMatch(/table orders, column due, row no = 'A-2': the value 0000-01-01 is outside the years 0001 to 9999/);
    expect(out).toMatch(/UPDATE orders SET due = NULL WHERE no = 'A-2'/);
  });
});

describe('text another tool wrote into a SQLite date column forklift made', () => {
  it('stops export with a user error naming the row, not an internal error', () => {
    const file = path.join(tempDir('forklift-far-dates-'), 't.db');
    const p = machineLogProject(`sqlite:${file}`);
    p.log(['CNC-01,2025-11-03 06:00:00,RUN,1', 'CNC-02,2025-11-03 06:30:00,IDLE,0']);
    const m = runCli(['migrate', p.plan]);
    expect(m.code, m.stdout + m.stderr).toBe(0);
    const db = new Database(file);
    db.prepare("UPDATE machine_events SET ts = '2025-11-03 06:30' WHERE machine_id = 'CNC-02'").run();
    db.close();
    const dir = tempDir('forklift-far-dates-');
    const out = refused(['export', path.join(dir, 'a'), '--source', `sqlite:${file}`, '--tables', 'machine_events'], path.join(dir, 'a'));
    expect(out).toMatch(/table machine_events, column ts, row machine_id = 'CNC-02' AND ts = '2025-11-03 06:30': the value 2025-11-03 06:30 is not an instant of the calendar written YYYY-MM-DDTHH:mm:ss\.SSSZ \(UTC\)/);
  });
});
