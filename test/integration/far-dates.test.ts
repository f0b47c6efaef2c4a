import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/core/errors.js';
import { runPlan } from '../../src/run/pipeline.js';
import { openStore } from '../../src/stores/index.js';
import { tempDir } from '../helpers.js';
import { machineLogProject as project } from './machine-log.js';
import { PG_ADMIN_URL, liveServers, withMysql, withPg } from './stores/live.js';

/**
 * Dates and instants that an ISO `YYYY-MM-DD` text cannot carry (PostgreSQL's BC dates, infinity,
 * five-digit years; MariaDB's zero dates and year 0000; text another tool wrote into a SQLite
 * column), in target tables made or written by hand, read back by a run: the target's keys
 * (readColumn) keep them exactly, in the form readRows gives, never as another day; a watermark
 * that is one of them stops the run, naming the table, the column and the machine, instead of
 * loading rows again or leaving them out.
 */

const { pgDown, myDown, pgDbs, myDbs } = await liveServers('test/integration/far-dates.test.ts', 'fd_');

const byText = (a: unknown, b: unknown): number => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0);

async function column(url: string, table: string, name: string): Promise<unknown[]> {
  const store = await openStore(url);
  try {
    const got: unknown[] = [];
    for await (const batch of store.readColumn(table, name)) got.push(...batch);
    return got.sort(byText);
  } finally {
    await store.close();
  }
}

async function maxPerGroup(url: string, table: string, groupBy: string[], name: string): Promise<unknown[][]> {
  const store = await openStore(url);
  try {
    return (await store.maxPerGroup(table, groupBy, name)).sort((a, b) => byText(a[0], b[0]));
  } finally {
    await store.close();
  }
}

describe.skipIf(pgDown !== null)('PostgreSQL dates and instants beyond 0001-9999, read back', () => {
  it('readColumn and maxPerGroup give them exactly (expanded ISO years, infinity), never to_char’s era-less text', async () => {
    const { url } = await pgDbs.create();
    await withPg(url, (c) =>
      c.query(`CREATE TABLE cal (day date PRIMARY KEY, g text, at timestamptz, at3 timestamp(3) with time zone, local timestamp);
        INSERT INTO cal VALUES
          ('2024-02-29', 'a', '2024-02-29 10:00:00.123+00', '2024-02-29 10:00:00.5+00', '2024-02-29 10:00:00'),
          ('0044-03-15 BC', 'b', '0044-03-15 12:00:00+00 BC', '0001-01-01 00:00:00+00 BC', '0044-03-15 12:00:00 BC'),
          ('12000-01-01', 'c', '12000-01-01 00:00:00+00', 'infinity', '12000-06-01 00:00:00.25'),
          ('infinity', 'd', '-infinity', '2024-01-01 00:00:00+00', 'infinity')`),
    );
    expect(await column(url, 'cal', 'day')).toEqual(['+012000-01-01', '-000043-03-15', '2024-02-29', 'infinity']);
    expect(await column(url, 'cal', 'at')).toEqual(['+012000-01-01T00:00:00.000Z', '-000043-03-15T12:00:00.000Z', '-infinity', '2024-02-29T10:00:00.123Z']);
    // A precision or no time zone (taken as UTC) reads like timestamptz.
    expect(await column(url, 'cal', 'at3')).toEqual(['0000-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', '2024-02-29T10:00:00.500Z', 'infinity']);
    expect(await column(url, 'cal', 'local')).toEqual(['+012000-06-01T00:00:00.250Z', '-000043-03-15T12:00:00.000Z', '2024-02-29T10:00:00.000Z', 'infinity']);
    expect(await maxPerGroup(url, 'cal', ['g'], 'day')).toEqual([
      ['a', '2024-02-29'],
      ['b', '-000043-03-15'],
      ['c', '+012000-01-01'],
      ['d', 'infinity'],
    ]);
    expect(await maxPerGroup(url, 'cal', ['g'], 'at')).toEqual([
      ['a', '2024-02-29T10:00:00.123Z'],
      ['b', '-000043-03-15T12:00:00.000Z'],
      ['c', '+012000-01-01T00:00:00.000Z'],
      ['d', '-infinity'],
    ]);
  });
});

const LOG = ['CNC-01,2025-11-03 06:00:00,RUN,1', 'CNC-02,2025-11-03 06:30:00,IDLE,0'];

/** The first run loads LOG; `spoil` then writes the watermark of CNC-02 by hand; the same log again must stop. */
async function spoiledWatermark(target: string, spoil: () => Promise<void>, count: () => Promise<number>): Promise<StoreError> {
  const p = project(target);
  p.log(LOG);
  const first = await runPlan({ plan: p.plan, command: 'migrate' });
  expect(first.entities[0]).toMatchObject({ loaded: 2 });
  await spoil();
  const err = await runPlan({ plan: p.plan, command: 'migrate' }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(StoreError);
  expect(await count()).toBe(2);
  return err as StoreError;
}

const NOT_COMPARABLE = /^table machine_events, column ts: the latest value in the target for machine_id = CNC-02 is (.*), not a point in time of the years 0001 to 9999, so forklift cannot tell which rows of this run are newer/;

describe.skipIf(pgDown !== null)('a PostgreSQL watermark beyond 0001-9999', () => {
  it.each([
    ['infinity', 'infinity'],
    ['12000-01-01 00:00:00+00', '+012000-01-01T00:00:00.000Z'],
    ['0044-03-15 12:00:00+00 BC', '-000043-03-15T12:00:00.000Z'],
  ])('%s stops the run, naming table, column and machine; nothing is loaded again', async (value, shown) => {
    const { url } = await pgDbs.create();
    const err = await spoiledWatermark(
      url,
      () => withPg(url, async (c) => void (await c.query(`UPDATE machine_events SET ts = '${value}' WHERE machine_id = 'CNC-02'`))),
      () => withPg(url, async (c) => (await c.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM machine_events')).rows[0]!.n),
    );
    expect(err.message).toMatch(NOT_COMPARABLE);
    expect(NOT_COMPARABLE.exec(err.message)![1]).toBe(shown);
    expect(err.hint).toMatch(/Correct that value in the target \(UPDATE machine_events SET ts = … WHERE ts = … AND machine_id = CNC-02\)/);
  });
});

describe.skipIf(myDown !== null)('a MariaDB watermark that is a zero date', () => {
  it('stops the run, naming table, column and machine', async () => {
    const { name, url } = await myDbs.create();
    const sql = <T>(fn: (c: mysql.Connection) => Promise<T>): Promise<T> => withMysql(name, fn);
    const err = await spoiledWatermark(
      url,
      () =>
        sql(async (c) => {
          // Another tool's session, which lets zero dates in.
          await c.query("SET SESSION sql_mode = ''");
          await c.query("UPDATE machine_events SET ts = '0000-00-00 00:00:00' WHERE machine_id = 'CNC-02'");
        }),
      () => sql(async (c) => Number(((await c.query('SELECT COUNT(*) AS n FROM machine_events'))[0] as { n: number }[])[0]!.n)),
    );
    expect(err.message).toMatch(NOT_COMPARABLE);
    expect(NOT_COMPARABLE.exec(err.message)![1]).toMatch(/^0000-00-00/);
  });
});

describe('a SQLite watermark that another tool wrote as text', () => {
  it('stops the run instead of taking every row as loaded before', async () => {
    const file = path.join(tempDir('forklift-far-dates-'), 't.db');
    const count = async (): Promise<number> => {
      const db = new Database(file, { readonly: true });
      try {
        return (db.prepare('SELECT COUNT(*) AS n FROM machine_events').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    const err = await spoiledWatermark(
      `sqlite:${file}`,
      async () => {
        const db = new Database(file);
        db.prepare("UPDATE machine_events SET ts = 'infinity' WHERE machine_id = 'CNC-02'").run();
        db.close();
      },
      count,
    );
    expect(NOT_COMPARABLE.exec(err.message)?.[1]).toBe('infinity');
  });
});

/** A validate of one entity from a SQL source: its ledger and its rejects (field, rule, reason) by source row. */
async function validateSql(url: string, entity: string, query: string, fields: string[]): Promise<{ read: number; loaded: number; rejects: string[][] }> {
  const dir = tempDir('forklift-far-dates-');
  writeFileSync(path.join(dir, 'm.yaml'), [`entity: ${entity}`, 'source:', '  format: sql', `  url: ${JSON.stringify(url)}`, `  query: ${JSON.stringify(query)}`, 'fields:', ...fields, ''].join('\n'));
  writeFileSync(path.join(dir, 'forklift.yaml'), 'name: far-dates\ntarget: sqlite:./t.db\nmappings: [m.yaml]\nreject_limit: 100%\n');
  const res = await runPlan({ plan: path.join(dir, 'forklift.yaml'), command: 'validate' });
  const l = res.entities[0]!;
  const rows = l.rejects_file ? (parse(readFileSync(path.join(dir, l.rejects_file), 'utf8'), { bom: true, columns: true }) as Record<string, string>[]) : [];
  return { read: l.read, loaded: l.loaded, rejects: rows.map((r) => [r.forklift_position!, r.forklift_field!, r.forklift_rule!, r.forklift_reason!]) };
}

describe.skipIf(pgDown !== null)('a PostgreSQL SQL source with dates and instants beyond 0001-9999', () => {
  it('rejects each such row with a reason that names it; none is loaded as another day', async () => {
    const ts = await validateSql(
      PG_ADMIN_URL,
      'machine_events',
      "SELECT 'M' || n AS m, t AS ts FROM (VALUES (1, '2025-11-03 06:00:00+00'::timestamptz), (2, '0044-03-15 12:00:00+00 BC'), (3, 'infinity'), (4, '-infinity'), (5, '12000-01-01 00:00:00+00')) v(n, t) ORDER BY n",
      ['  machine_id: { from: m }', '  ts: { from: ts }'],
    );
    expect(ts).toMatchObject({ read: 5, loaded: 1 });
    expect(ts.rejects).toEqual([
      ['row 2', 'ts', 'type', "ts '0044-03-15 12:00:00+00 BC' is outside the years 0001 to 9999"],
      ['row 3', 'ts', 'type', `ts 'infinity' is not a point in time (PostgreSQL's infinity); where it stands for "no date" or "no end", make it a missing value (clean: [null_if: ["infinity"]])`],
      ['row 4', 'ts', 'type', expect.stringMatching(/^ts '-infinity' is not a point in time \(PostgreSQL's -infinity\)/)],
      ['row 5', 'ts', 'type', "ts '12000-01-01 00:00:00+00' is outside the years 0001 to 9999"],
    ]);
    // A date: 44 BC was "has a time of day", 12000 "set `date:` to its format"; with null_if, infinity is a missing value.
    const days = await validateSql(
      PG_ADMIN_URL,
      'stock_balances',
      "SELECT 'I' || n AS item, d AS as_of FROM (VALUES (1, '2024-01-01'::date), (2, '0044-03-15 BC'), (3, 'infinity'), (4, '12000-01-01'), (5, '0001-01-01 BC')) v(n, d) ORDER BY n",
      ['  item_code: { from: item }', '  warehouse: { const: W }', "  lot: { const: '' }", '  as_of: { from: as_of, clean: [null_if: [infinity]] }'],
    );
    expect(days.rejects.filter((r) => r[1] === 'as_of')).toEqual([
      ['row 2', 'as_of', 'type', "as_of '0044-03-15 BC' is outside the years 0001 to 9999"],
      ['row 4', 'as_of', 'type', "as_of '12000-01-01' is outside the years 0001 to 9999"],
      ['row 5', 'as_of', 'type', "as_of '0001-01-01 BC' is outside the years 0001 to 9999"],
    ]);
  });
});
