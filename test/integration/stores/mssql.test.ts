import { readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'csv-stringify/sync';
import sql from 'mssql';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/core/errors.js';
import { runPlan } from '../../../src/run/pipeline.js';
import { openStore, redactUrl } from '../../../src/stores/index.js';
import { compareText, keyComparer } from '../../../src/bundle/order.js';
import { factoryModel } from '../../../src/model/factory.js';
import type { Entity } from '../../../src/model/types.js';
import { Staging, stagingTable } from '../../../src/run/staging.js';
import { fromMssqlValue, mssqlConfig, mssqlReadExpression } from '../../../src/stores/mssql.js';
import { RUNS_ENTITY } from '../../../src/stores/runs-entity.js';
import type { LoadMode } from '../../../src/stores/types.js';
import { demoCopy, tempDir } from '../../helpers.js';

/**
 * The SQL Server target against a real server: FORKLIFT_TEST_MSSQL_URL, a login that may create
 * databases, e.g. mssql://sa:…@127.0.0.1:1433/master?trustServerCertificate=true. Every test gets
 * a database of its own (forklift_t_<random>), dropped at the end. No SQL Server can run on the
 * development machine, so without the variable the suite is skipped, and says so; with it, an
 * unreachable server fails the tests.
 */

const ADMIN_URL = process.env.FORKLIFT_TEST_MSSQL_URL;
if (!ADMIN_URL) console.warn('SQL Server live suite skipped: FORKLIFT_TEST_MSSQL_URL is not set');

const created: string[] = [];

async function withMssql<T>(url: string, fn: (pool: sql.ConnectionPool) => Promise<T>): Promise<T> {
  const pool = await new sql.ConnectionPool(mssqlConfig(url)).connect();
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

/** A new empty database; returns its URL. */
async function freshDb(): Promise<string> {
  const name = `forklift_t_${randomBytes(6).toString('hex')}`;
  await withMssql(ADMIN_URL!, (p) => p.request().batch(`CREATE DATABASE [${name}]`));
  created.push(name);
  const u = new URL(ADMIN_URL!);
  u.pathname = `/${name}`;
  return u.toString();
}

afterAll(async () => {
  if (!ADMIN_URL || created.length === 0) return;
  await withMssql(ADMIN_URL, async (p) => {
    for (const name of created) await p.request().batch(`IF DB_ID(N'${name}') IS NOT NULL BEGIN ALTER DATABASE [${name}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE [${name}]; END`);
  });
});

const byJson = (a: unknown[], b: unknown[]): number => {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** A table's rows as forklift stages them (ISO instants, 1/0 booleans, exact decimal text), sorted. */
async function mssqlDump(p: sql.ConnectionPool, table: string): Promise<unknown[][]> {
  const cols = await p.request().input('t', sql.NVarChar(128), table).query<{ name: string; type: string }>("SELECT COLUMN_NAME AS name, DATA_TYPE AS type FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = N'dbo' AND TABLE_NAME = @t ORDER BY ORDINAL_POSITION");
  const select = cols.recordset.map((c, i) => `${mssqlReadExpression(c.name, c.type)} AS [c${i}]`).join(', ');
  const res = await p.request().query<Record<string, unknown>>(`SELECT ${select} FROM [dbo].[${table}]`);
  return res.recordset.map((r) => cols.recordset.map((c, i) => fromMssqlValue(c.type, r[`c${i}`]))).sort(byJson);
}

function sqliteDump(file: string, table: string): unknown[][] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`SELECT * FROM ${table}`).raw().all() as unknown[][]).sort(byJson);
  } finally {
    db.close();
  }
}

async function scalar<T>(url: string, text: string): Promise<T> {
  return withMssql(url, async (p) => Object.values((await p.request().query<Record<string, T>>(text)).recordset[0]!)[0] as T);
}

const ENTITIES = ['items', 'bom_lines', 'stock_balances', 'machine_events'] as const;
const expected = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../../fixtures/demo/expected.json'), 'utf8')) as {
  ledger: Record<string, { read: number; filtered: number; duplicates_dropped: number; rejected: number; loaded: number }>;
};

describe.skipIf(!ADMIN_URL)('SQL Server target store (live)', () => {
  it('loads the demo with the expected ledger, exact types and values; a second run gives the same tables', async () => {
    const url = await freshDb();
    const demo = demoCopy();
    const res = await runPlan({ plan: demo.plan, command: 'migrate', target: url });
    expect(res.status).toBe('succeeded');
    expect(res.committed).toBe(true);
    expect(res.target).toBe(redactUrl(url));
    for (const l of res.entities) {
      const { read, filtered, duplicates_dropped, rejected, loaded } = l;
      expect({ read, filtered, duplicates_dropped, rejected, loaded }, l.entity).toEqual(expected.ledger[l.entity]);
    }

    // The same demo into SQLite: the two stores must hold the very same values.
    const ref = demoCopy();
    const refDb = path.join(ref.dir, 'ref.db');
    await runPlan({ plan: ref.plan, command: 'migrate', target: 'sqlite:' + refDb });

    const first = await withMssql(url, async (p) => {
      for (const e of ENTITIES) {
        const n = await p.request().query<{ n: number }>(`SELECT COUNT(*) AS n FROM [dbo].[${e}]`);
        expect(n.recordset[0]!.n, e).toBe(expected.ledger[e]!.loaded);
      }
      const cols = await p.request().query<{ t: string; c: string; ty: string; len: number | null; p: number | null; s: number | null; dp: number | null; nullable: string }>(
        `SELECT TABLE_NAME AS t, COLUMN_NAME AS c, DATA_TYPE AS ty, CHARACTER_MAXIMUM_LENGTH AS len, NUMERIC_PRECISION AS p, NUMERIC_SCALE AS s, DATETIME_PRECISION AS dp, IS_NULLABLE AS nullable FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = N'dbo'`,
      );
      const col = (t: string, c: string) => cols.recordset.find((r) => r.t === t && r.c === c)!;
      expect(col('items', 'item_code')).toMatchObject({ ty: 'nvarchar', len: 64, nullable: 'NO' });
      expect(col('items', 'description')).toMatchObject({ ty: 'nvarchar', len: 255, nullable: 'NO' });
      expect(col('items', 'standard_cost')).toMatchObject({ ty: 'decimal', p: 18, s: 4 });
      expect(col('items', 'lead_time_days')).toMatchObject({ ty: 'bigint' });
      expect(col('items', 'active')).toMatchObject({ ty: 'bit', nullable: 'NO' });
      expect(col('machine_events', 'ts')).toMatchObject({ ty: 'datetimeoffset', dp: 3 });
      expect(col('bom_lines', 'qty_per')).toMatchObject({ ty: 'decimal', p: 18, s: 6 });
      expect(col('bom_lines', 'valid_from')).toMatchObject({ ty: 'date' });
      expect(col('forklift_runs', 'started')).toMatchObject({ ty: 'datetimeoffset', dp: 3 });
      const fks = await p.request().query<{ n: number }>('SELECT COUNT(*) AS n FROM sys.foreign_keys');
      expect(fks.recordset[0]!.n).toBe(3);
      const untrusted = await p.request().query<{ n: number }>('SELECT COUNT(*) AS n FROM sys.foreign_keys WHERE is_not_trusted = 1');
      expect(untrusted.recordset[0]!.n).toBe(0);
      // The enum is checked by the server too.
      await expect(p.request().query("INSERT INTO [dbo].[items] (item_code, description, uom, active, item_type) VALUES (N'Z', N'z', N'EA', 1, N'bogus')")).rejects.toThrow(/CHECK constraint/);

      const item = await p.request().query("SELECT CONVERT(nvarchar(50), standard_cost) AS cost, active, lead_time_days AS lt FROM [dbo].[items] WHERE item_code = N'HP-1001'");
      expect(item.recordset[0]).toMatchObject({ cost: '7858.0290', active: true });
      expect(Number(item.recordset[0].lt)).toBe(35);
      const hot = await p.request().query<{ description: string }>("SELECT description FROM [dbo].[items] WHERE item_code = N'HP-1010'");
      expect(hot.recordset[0]!.description).toBe('Heißwasserpumpe HW 40 bis 140 °C');
      const ev = await p.request().query<{ ts: Date; off: number }>("SELECT TOP 1 ts, DATEPART(TZOFFSET, ts) AS off FROM [dbo].[machine_events] WHERE machine_id = N'CNC-01' ORDER BY ts");
      expect(ev.recordset[0]!.ts.getTime()).toBe(Date.parse('2025-11-03T05:00:47.000Z'));
      expect(ev.recordset[0]!.off).toBe(0);
      const lots = await p.request().query<{ empty: number; nulls: number }>("SELECT SUM(CASE WHEN lot = N'' THEN 1 ELSE 0 END) AS empty, SUM(CASE WHEN lot IS NULL THEN 1 ELSE 0 END) AS nulls FROM [dbo].[stock_balances]");
      expect(lots.recordset[0]!.empty).toBeGreaterThan(0);
      expect(lots.recordset[0]!.nulls).toBe(0);

      const dump: Record<string, unknown[][]> = {};
      for (const e of ENTITIES) {
        dump[e] = await mssqlDump(p, e);
        expect(dump[e], e).toEqual(sqliteDump(refDb, e));
      }
      return dump;
    });

    // Again (replace): the same tables, and a second entry in the ledger.
    await runPlan({ plan: demo.plan, command: 'migrate', target: url });
    await withMssql(url, async (p) => {
      for (const e of ENTITIES) expect(await mssqlDump(p, e), e).toEqual(first[e]);
      const runs = await p.request().query<{ command: string; status: string; counts: string; message: string | null }>('SELECT command, status, counts, message FROM [dbo].[forklift_runs] ORDER BY started');
      expect(runs.recordset.map((r) => [r.command, r.status, r.message])).toEqual([
        ['migrate', 'succeeded', null],
        ['migrate', 'succeeded', null],
      ]);
      expect((JSON.parse(runs.recordset[1]!.counts) as Record<string, { loaded: number }>).machine_events!.loaded).toBe(expected.ledger.machine_events!.loaded);
    });
  });

  it('a failing load rolls back every entity and records the failed attempt, without row values', async () => {
    const url = await freshDb();
    const demo = demoCopy();
    await runPlan({ plan: demo.plan, command: 'migrate', target: url });
    const mark = await withMssql(url, async (p) => {
      await p.request().query("UPDATE [dbo].[items] SET description = N'before the failed run'");
      const dump: Record<string, unknown[][]> = {};
      for (const e of ENTITIES) dump[e] = await mssqlDump(p, e);
      return dump;
    });
    // items upsert (would rewrite every description), then bom_lines append of keys already there.
    const dir = path.dirname(demo.plan);
    writeFileSync(demo.plan, readFileSync(demo.plan, 'utf8').replace(/^load: replace$/m, 'load: append'));
    writeFileSync(path.join(dir, 'items.yaml'), readFileSync(path.join(dir, 'items.yaml'), 'utf8') + 'load: upsert\n');
    const err = await runPlan({ plan: demo.plan, command: 'migrate', target: url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    const se = err as StoreError;
    expect(se.hint).toMatch(/replace or upsert/);
    expect(se.message).toMatch(/pk_bom_lines/);
    expect(se.message).not.toMatch(/BG-20|HP-10/);
    await withMssql(url, async (p) => {
      for (const e of ENTITIES) expect(await mssqlDump(p, e), e).toEqual(mark[e]);
      const runs = await p.request().query<{ status: string; message: string | null }>('SELECT status, message FROM [dbo].[forklift_runs] ORDER BY started');
      expect(runs.recordset.map((r) => r.status)).toEqual(['succeeded', 'failed']);
      expect(runs.recordset[1]!.message).not.toMatch(/BG-20|HP-10/);
    });
  });

  it('upsert updates and inserts (MERGE); replace of a parent that other target rows reference fails cleanly', async () => {
    const url = await freshDb();
    const dir = tempDir('forklift-mssql-modes-');
    const items = (rows: string[]): void => writeFileSync(path.join(dir, 'items.csv'), ['CODE,NAME,COST', ...rows].join('\n') + '\n');
    writeFileSync(path.join(dir, 'items.yaml'), `entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { const: EA }\n  standard_cost: { from: COST }\n  active: { const: true }\n`);
    writeFileSync(path.join(dir, 'bom.csv'), 'PARENT,LINE,COMP,QTY\nA,10,B,1.5\nA,20,X,2\n');
    writeFileSync(path.join(dir, 'bom.yaml'), `entity: bom_lines\nsource: { format: csv, path: bom.csv }\nload: append\nfields:\n  parent_item: { from: PARENT }\n  line_no: { from: LINE }\n  component_item: { from: COMP }\n  qty_per: { from: QTY }\n`);
    const plan = (name: string, mappings: string, load: string): string => {
      const file = path.join(dir, `${name}.yaml`);
      writeFileSync(file, `name: ${name}\ntarget: sqlite:./unused.db\nmappings: [${mappings}]\nload: ${load}\nreject_limit: 50%\n`);
      return file;
    };
    const table = (): Promise<unknown[][]> =>
      withMssql(url, async (p) => (await p.request().query<{ c: string; d: string; s: string }>('SELECT item_code AS c, description AS d, CONVERT(nvarchar(50), standard_cost) AS s FROM [dbo].[items] ORDER BY item_code')).recordset.map((r) => [r.c, r.d, r.s]));

    items(['A,Alpha,1.5', 'B,Beta,2']);
    await runPlan({ plan: plan('p1', 'items.yaml', 'upsert'), command: 'migrate', target: url });
    items(['B,Beta two,3', 'C,Gamma,4']);
    await runPlan({ plan: plan('p2', 'items.yaml', 'upsert'), command: 'migrate', target: url });
    expect(await table()).toEqual([
      ['A', 'Alpha', '1.5000'],
      ['B', 'Beta two', '3.0000'],
      ['C', 'Gamma', '4.0000'],
    ]);

    // A reference to an item already in the target resolves (read back through readColumn); X is rejected.
    const r = await runPlan({ plan: plan('p3', 'bom.yaml', 'append'), command: 'migrate', target: url });
    expect(r.entities[0]).toMatchObject({ read: 2, loaded: 1, rejected: 1, rejects_by_rule: { 'foreign-key': 1 } });

    // Replacing items alone would orphan that BOM line: the database refuses, nothing changes.
    const before = await table();
    items(['A,Alpha,1.5', 'B,Beta,2']);
    const err = await runPlan({ plan: plan('p4', 'items.yaml', 'replace'), command: 'migrate', target: url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).hint).toMatch(/reference/);
    expect(await table()).toEqual(before);
  });

  it('a replace is refused where a table outside the run references it ON DELETE CASCADE or SET NULL; the orders stay', async () => {
    for (const action of ['CASCADE', 'SET NULL']) {
      const url = await freshDb();
      const dir = tempDir('forklift-mssql-cascade-');
      writeFileSync(path.join(dir, 'items.csv'), 'CODE,NAME\nA-1,one\nA-2,two\n');
      writeFileSync(path.join(dir, 'items.yaml'), 'entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { const: EA }\n  active: { const: true }\n');
      const plan = path.join(dir, 'forklift.yaml');
      writeFileSync(plan, 'name: cascade\ntarget: sqlite:./unused.db\nmappings: [items.yaml]\nload: replace\n');
      await runPlan({ plan, command: 'migrate', target: url });
      await withMssql(url, (p) => p.request().batch(`CREATE SCHEMA sales;`));
      await withMssql(url, (p) => p.request().batch(`CREATE TABLE sales.orders (id int PRIMARY KEY, item_code nvarchar(450) NULL REFERENCES dbo.items (item_code) ON DELETE ${action}); INSERT INTO sales.orders VALUES (1, N'A-1'), (2, N'A-2');`));
      const e = await runPlan({ plan, command: 'migrate', target: url }).catch((x: unknown) => x);
      expect(e, action).toBeInstanceOf(StoreError);
      expect((e as StoreError).code).toBe('store.replace-cascade');
      expect((e as Error).message).toMatch(new RegExp(`a replace of items would change sales\\.orders too: .* \\(ON DELETE ${action}\\)`));
      expect(await scalar<number>(url, 'SELECT COUNT(*) FROM sales.orders WHERE item_code IS NOT NULL')).toBe(2);
    }
  });

  it('upsert twice into a key of text and a decimal(20,0): the second run updates, no loose key reported', async () => {
    const url = await freshDb();
    const dir = tempDir('forklift-mssql-deckey-');
    writeFileSync(path.join(dir, 'model.yaml'), 'entities:\n  orders:\n    primary_key: [plant, order_id]\n    columns:\n      plant: { type: string, length: 8 }\n      order_id: { type: decimal, precision: 20, scale: 0 }\n      qty: { type: decimal, precision: 18, scale: 3 }\n');
    writeFileSync(path.join(dir, 'm.yaml'), 'entity: orders\nsource: { format: csv, path: in.csv }\nfields:\n  plant: { from: PLANT }\n  order_id: { from: ID }\n  qty: { from: QTY }\n');
    writeFileSync(path.join(dir, 'forklift.yaml'), 'name: deckey\ntarget: sqlite:./unused.db\nmodel: ./model.yaml\nmappings: [m.yaml]\nload: upsert\n');
    writeFileSync(path.join(dir, 'in.csv'), 'PLANT,ID,QTY\nP1,4711,1.5\nP1,18446744073709551615,2\n');
    await runPlan({ plan: path.join(dir, 'forklift.yaml'), command: 'migrate', target: url });
    writeFileSync(path.join(dir, 'in.csv'), 'PLANT,ID,QTY\nP1,4711,3\nP2,4711,4\n');
    const res = await runPlan({ plan: path.join(dir, 'forklift.yaml'), command: 'migrate', target: url });
    expect(res.status).toBe('succeeded');
    const rows = await withMssql(url, async (p) => (await p.request().query<{ r: string }>("SELECT plant + N'|' + CONVERT(nvarchar(50), order_id) + N'|' + CONVERT(nvarchar(50), qty) AS r FROM dbo.orders ORDER BY plant, order_id")).recordset.map((x) => x.r));
    expect(rows).toEqual(['P1|4711|3.000', 'P1|18446744073709551615|2.000', 'P2|4711|4.000']);
  });

  it('store errors say what to do and never show the password', async () => {
    const u = new URL(ADMIN_URL!);
    u.pathname = '/forklift_no_such_db_here';
    const missing = await openStore(u.toString());
    const e1 = await missing.hasTable('items').catch((e: unknown) => e);
    await missing.close();
    expect(e1).toBeInstanceOf(StoreError);
    expect((e1 as StoreError).hint).toMatch(/does not exist/);

    const w = new URL(ADMIN_URL!);
    w.password = 'Wr0ng-pw-s3cret';
    const wrong = await openStore(w.toString());
    expect(wrong.display).not.toContain('Wr0ng-pw-s3cret');
    const e2 = await wrong.hasTable('items').catch((e: unknown) => e);
    await wrong.close();
    expect(e2).toBeInstanceOf(StoreError);
    expect((e2 as StoreError).message).not.toContain('Wr0ng-pw-s3cret');
    expect((e2 as StoreError).message).toContain('***');
    expect((e2 as StoreError).hint).toMatch(/user and password/);
  });

  it('round trip: 18-digit decimals, instants with offsets, dates before 1900 and after 2038, Unicode, empty versus missing, booleans', async () => {
    const url = await freshDb();
    const dir = tempDir('forklift-mssql-rt-');
    const rows = [
      ['1', '999999999999.999999', '1969-07-20T20:17:40.123Z', '1899-12-31', 'e\u0301 ß 漢 😀🔧', 'yes', 'empty'],
      ['2', '-123456789012.123457', '2038-01-19T04:14:08.001+01:00', '2100-02-28', '', 'no', 'none'],
      ['3', '0.000001', '2262-04-11T23:47:16.854-05:30', '0099-03-01', 'tab\tnew\nline "quoted", \'single\'', 'yes', 'x'],
      ['4', '-0.000001', '1901-01-01T00:00:00.000Z', '9999-12-31', '😀😀😀😀', 'no', 'x'],
    ];
    writeFileSync(path.join(dir, 'in.csv'), stringify([['ID', 'AMOUNT', 'AT', 'DAY', 'NOTE', 'FLAG', 'TAG'], ...rows]));
    writeFileSync(
      path.join(dir, 'model.yaml'),
      `entities:\n  probes:\n    primary_key: [id]\n    columns:\n      id: { type: integer }\n      amount: { type: decimal, precision: 18, scale: 6 }\n      at: { type: timestamp }\n      day: { type: date }\n      note: { type: text }\n      flag: { type: boolean }\n      tag: { type: string, length: 8 }\n`,
    );
    writeFileSync(
      path.join(dir, 'm.yaml'),
      `entity: probes\nsource: { format: csv, path: in.csv, encoding: utf-8, delimiter: "," }\nfields:\n  id: { from: ID }\n  amount: { from: AMOUNT }\n  at: { from: AT }\n  day: { from: DAY }\n  note: { from: NOTE }\n  flag: { from: FLAG }\n  tag: { from: TAG, values: { none: null, empty: "", x: x } }\n`,
    );
    writeFileSync(path.join(dir, 'forklift.yaml'), `name: mssql-round-trip\ntarget: sqlite:./unused.db\nmodel: ./model.yaml\nmappings: [m.yaml]\nload: replace\n`);
    const res = await runPlan({ plan: path.join(dir, 'forklift.yaml'), command: 'migrate', target: url });
    expect(res.entities[0]).toMatchObject({ read: rows.length, loaded: rows.length });
    const got = await withMssql(url, async (p) => {
      const r = await p.request().query<{ amount: string; at: Date; off: number; day: Date; note: string | null; flag: boolean; tag: string | null }>(
        'SELECT CONVERT(nvarchar(50), amount) AS amount, at, DATEPART(TZOFFSET, at) AS off, day, note, flag, tag FROM [dbo].[probes] ORDER BY id',
      );
      return r.recordset.map((x) => [x.amount, x.at.toISOString(), x.off, x.day.toISOString().slice(0, 10), x.note, x.flag, x.tag]);
    });
    expect(got).toEqual([
      ['999999999999.999999', '1969-07-20T20:17:40.123Z', 0, '1899-12-31', 'é ß 漢 😀🔧', true, ''],
      ['-123456789012.123457', '2038-01-19T03:14:08.001Z', 0, '2100-02-28', null, false, null],
      ['0.000001', '2262-04-12T05:17:16.854Z', 0, '0099-03-01', 'tab\tnew\nline "quoted", \'single\'', true, 'x'],
      ['-0.000001', '1901-01-01T00:00:00.000Z', 0, '9999-12-31', '😀😀😀😀', false, 'x'],
    ]);
    expect(await scalar<number>(url, "SELECT COUNT(*) FROM [dbo].[forklift_runs] WHERE status = N'succeeded'")).toBe(1);
  });
});

/** Stages `rows` of each entity as the pipeline would and loads them into `store` (replace unless told), in one run. */
async function loadRows(store: Awaited<ReturnType<typeof openStore>>, rows: Map<Entity, unknown[][]>, mode: LoadMode = 'replace'): Promise<Map<string, number>> {
  const file = path.join(tempDir('forklift-mssql-stage-'), 'staging.sqlite');
  const st = new Staging(file);
  for (const [e, rs] of rows) {
    st.createEntity(e);
    rs.forEach((r, i) => st.insertRow(e.name, i + 2, r as never));
    st.flushRows(e.name);
  }
  st.close();
  const now = new Date().toISOString();
  return store.load({
    model: { name: 'rows', entities: new Map([...rows.keys()].map((e) => [e.name, e])) },
    stagingFile: file,
    entities: [...rows].map(([e, rs]) => ({ entity: e, mode, stagedTable: stagingTable(e.name), expected: rs.length })),
    entry: { id: `rows-${randomBytes(4).toString('hex')}`, command: 'migrate', status: 'succeeded', started: now, finished: now, operator: 't', host: 't', tool_version: '0', plan_sha256: null, files: {}, counts: {}, message: null },
  });
}

/** Every row of a table read by the store, checked to come in canonical order. */
async function readAll(store: Awaited<ReturnType<typeof openStore>>, e: Entity): Promise<unknown[][]> {
  const rows: unknown[][] = [];
  for await (const b of store.readRows(e)) {
    expect(b.length).toBeLessThanOrEqual(10_000);
    rows.push(...b);
  }
  const keys = e.primaryKey.length ? e.primaryKey : e.columns.map((c) => c.name);
  const cmp = keyComparer(e.columns, keys.map((k) => e.columns.findIndex((c) => c.name === k)));
  for (let i = 1; i < rows.length; i++) expect(cmp(rows[i - 1]!, rows[i]!), `${e.name} row ${i}`).toBeLessThan(e.primaryKey.length ? 0 : 1);
  return rows;
}

describe.skipIf(!ADMIN_URL)('SQL Server read side (live): describeTables, readRows', () => {
  it('describes and reads the demo exactly as SQLite does: same types, same rows, same order', async () => {
    const url = await freshDb();
    const demo = demoCopy();
    await runPlan({ plan: demo.plan, command: 'migrate', target: url });
    const ref = demoCopy();
    const refUrl = 'sqlite:' + path.join(ref.dir, 'ref.db');
    await runPlan({ plan: ref.plan, command: 'migrate', target: refUrl });
    const store = await openStore(url);
    const sqlite = await openStore(refUrl);
    try {
      const tables = await store.describeTables();
      expect(tables.map((t) => t.name)).toEqual(['bom_lines', 'forklift_runs', 'items', 'machine_events', 'stock_balances']);
      const model = factoryModel();
      for (const name of ENTITIES) {
        const e = model.entities.get(name)!;
        expect(tables.find((t) => t.name === name), name).toEqual({ ...e, rules: [] });
        expect(await readAll(store, e), name).toEqual(await readAll(sqlite, e));
      }
      const runs = await readAll(store, RUNS_ENTITY);
      expect(runs).toHaveLength(1);
      expect(runs[0]![3]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    } finally {
      await store.close();
      await sqlite.close();
    }
  });

  it('sorts keys by code point whatever the database collation: case, accents, tabs, emoji', async () => {
    // No two keys equal under a case-insensitive collation or ANSI padding (they could not both be
    // keys there), none in U+E000-U+FFFF, where BIN2's UTF-16 order differs (read-mssql.ts), and no
    // control character below the tab, which a Windows collation may ignore (one key then).
    const codes = ['apple', 'Zebra', 'äpple', 'apfel', 'é', 'e', 'f', 'b!', 'b\t', 'c', 'c\t', 'x\u{1F600}', '\u{1F600}', '\u{1F642}', 'ab', 'a', '0', '10', '9', '~', 'ß', 'ı', 'ø', 'ő'];
    const codesEntity: Entity = {
      name: 'codes',
      columns: [
        { name: 'code', type: 'string', length: 16, required: true },
        { name: 'price', type: 'decimal', precision: 12, scale: 4, required: false },
      ],
      primaryKey: ['code'],
      rules: [],
    };
    const url = await freshDb();
    const store = await openStore(url);
    try {
      await loadRows(store, new Map([[codesEntity, codes.map((c, i) => [c, i % 2 ? null : `${i}.5000`])]]));
      expect((await store.describeTables()).find((t) => t.name === 'codes')).toEqual(codesEntity);
      const rows = await readAll(store, codesEntity);
      expect(rows.map((r) => r[0])).toEqual([...codes].sort(compareText));
    } finally {
      await store.close();
    }
  });
  it('describes a store with geometry, geography and hierarchyid columns, and reads them (the spatial ones as their bytes)', async () => {
    const url = await freshDb();
    await withMssql(url, async (p) => {
      await p.request().batch('CREATE TABLE dbo.sites (id int NOT NULL PRIMARY KEY, shape geometry NULL, place geography NULL, node hierarchyid NULL)');
      await p.request().batch("INSERT INTO dbo.sites VALUES (1, geometry::STGeomFromText('POINT (1.25 2.5)', 0), geography::Point(47.3769, 8.5417, 4326), hierarchyid::Parse('/1/3/'))");
    });
    const store = await openStore(url);
    try {
      const e = (await store.describeTables()).find((t) => t.name === 'sites')!;
      expect(e.columns.map((c) => [c.name, c.type])).toEqual([['id', 'integer'], ['shape', 'text'], ['place', 'text'], ['node', 'text']]);
      const bytes = await withMssql(url, async (p) => (await p.request().query<{ s: Buffer; g: Buffer }>('SELECT CAST(shape AS varbinary(max)) AS s, CAST(place AS varbinary(max)) AS g FROM dbo.sites')).recordset[0]!);
      expect(await readAll(store, e)).toEqual([[1, `\\x${bytes.s.toString('hex')}`, `\\x${bytes.g.toString('hex')}`, '/1/3/']]);
    } finally {
      await store.close();
    }
  });

  it('reads a sql_variant exactly by its base type and a rowversion as its bytes', async () => {
    const url = await freshDb();
    await withMssql(url, async (p) => {
      await p.request().batch('CREATE TABLE dbo.attrs (id int NOT NULL PRIMARY KEY, v sql_variant NULL, rv rowversion NOT NULL)');
      await p.request().batch(`INSERT INTO dbo.attrs (id, v) VALUES (1, CAST(CAST(12345678901234567.89 AS decimal(38,2)) AS sql_variant)), (2, CAST(CAST(922337203685477.5807 AS money) AS sql_variant)),
        (3, CAST(CAST(0.1 AS float) AS sql_variant)), (4, CAST(CAST('2024-01-01T10:15:42.997' AS datetime) AS sql_variant)), (5, CAST(N'Grüße' AS sql_variant)), (6, NULL)`);
    });
    const store = await openStore(url);
    try {
      const e = (await store.describeTables()).find((t) => t.name === 'attrs')!;
      expect(e.columns.map((c) => [c.name, c.type])).toEqual([['id', 'integer'], ['v', 'text'], ['rv', 'text']]);
      const rows = await readAll(store, e);
      const rowversions = await withMssql(url, async (p) => (await p.request().query<{ rv: Buffer }>('SELECT rv FROM dbo.attrs ORDER BY id')).recordset.map((r) => `\\x${r.rv.toString('hex')}`));
      expect(rows.map((r) => r[2])).toEqual(rowversions);
      const v = rows.map((r) => r[1]);
      expect(v.slice(0, 2)).toEqual(['12345678901234567.89', '922337203685477.5807']);
      expect(Number(v[2])).toBe(0.1);
      expect(v[3]).toMatch(/^2024-01-01[ T]10:15:42\.997$/);
      expect(v.slice(4)).toEqual(['Grüße', null]);
    } finally {
      await store.close();
    }
  });

  it('loads and reads tables and columns whose names hold ], . or spaces', async () => {
    const odd: Entity[] = ['sales.orders', 'odd]name'].map((name) => ({
      name,
      columns: [
        { name: 'id', type: 'string', length: 8, required: true },
        { name: 'Gewicht [kg]', type: 'decimal', precision: 10, scale: 3, required: false },
      ],
      primaryKey: ['id'],
      rules: [],
    }));
    const url = await freshDb();
    const store = await openStore(url);
    try {
      await loadRows(store, new Map(odd.map((e) => [e, [['P-1', '1.500']]])));
      for (const e of odd) expect(await readAll(store, e), e.name).toEqual([['P-1', '1.500']]);
    } finally {
      await store.close();
    }
  });

  it('creates text keys, unique text and a text foreign key as nvarchar(450); a longer key value stops the load, nothing cut', async () => {
    const parts: Entity = {
      name: 'parts',
      columns: [
        { name: 'code', type: 'text', required: true },
        { name: 'note', type: 'text', required: false, unique: true },
        { name: 'parent', type: 'text', required: false, references: { entity: 'parts', column: 'code' } },
      ],
      primaryKey: ['code'],
      rules: [],
    };
    const url = await freshDb();
    const store = await openStore(url);
    try {
      await loadRows(store, new Map([[parts, [['P'.repeat(450), 'a', null], ['Q', null, 'P'.repeat(450)]]]]));
      expect(await readAll(store, parts)).toEqual([['P'.repeat(450), 'a', null], ['Q', null, 'P'.repeat(450)]]);
      const types = await withMssql(url, async (p) => (await p.request().query<{ c: string; n: number }>("SELECT name AS c, max_length AS n FROM sys.columns WHERE object_id = OBJECT_ID(N'dbo.parts') ORDER BY column_id")).recordset.map((r) => [r.c, r.n]));
      expect(types).toEqual([['code', 900], ['note', 900], ['parent', 900]]);
      const err = await loadRows(store, new Map([[parts, [['R'.repeat(451), null, null]]]]), 'append').catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'store.value', message: expect.stringMatching(/parts\.code: a value of 451 characters/) });
      // The table forklift made passes the existing-table check on the next run.
      await loadRows(store, new Map([[parts, [['S', 'b', 'Q']]]]), 'append');
    } finally {
      await store.close();
    }
  });

  it('keys that differ only in case are two keys, as in SQLite and PostgreSQL; watermark groups and read-back columns keep them apart', async () => {
    const lots: Entity = {
      name: 'lots',
      columns: [
        { name: 'lot', type: 'string', length: 16, required: true },
        { name: 'machine', type: 'string', length: 16, required: true },
        { name: 'n', type: 'integer', required: true },
      ],
      primaryKey: ['lot'],
      rules: [],
    };
    const url = await freshDb();
    const store = await openStore(url);
    try {
      await loadRows(store, new Map([[lots, [['P-1', 'M1', 1], ['p-1', 'm1', 2], ['a1', 'M1', 3], ['A1', 'm1', 4]]]]));
      expect(await readAll(store, lots)).toEqual([['A1', 'm1', 4], ['P-1', 'M1', 1], ['a1', 'M1', 3], ['p-1', 'm1', 2]]);
      expect((await store.maxPerGroup('lots', ['machine'], 'n')).sort(byJson)).toEqual([['M1', 3], ['m1', 4]]);
      const values: unknown[] = [];
      for await (const b of store.readColumn('lots', 'machine')) values.push(...b);
      expect(values.sort()).toEqual(['M1', 'm1']);
      // The upsert of `p-1` updates that row, not `P-1`.
      await loadRows(store, new Map([[lots, [['p-1', 'm1', 20]]]]), 'upsert');
      expect((await readAll(store, lots)).map((r) => r[2])).toEqual([4, 1, 3, 20]);
    } finally {
      await store.close();
    }
  });

  it('loads and upserts into an existing table with an audit trigger that reports its own row counts', async () => {
    const codes: Entity = { name: 'codes', columns: [{ name: 'code', type: 'string', length: 8, required: true }, { name: 'n', type: 'integer', required: false }], primaryKey: ['code'], rules: [] };
    const url = await freshDb();
    await withMssql(url, async (p) => {
      await p.request().batch('CREATE TABLE dbo.codes (code nvarchar(8) COLLATE Latin1_General_100_BIN2 NOT NULL PRIMARY KEY, n bigint NULL); CREATE TABLE dbo.codes_audit (code nvarchar(8), at datetime2 DEFAULT SYSUTCDATETIME())');
      // No SET NOCOUNT ON: the trigger's INSERT reports its count to the client too.
      await p.request().batch('CREATE TRIGGER dbo.codes_audit_tr ON dbo.codes AFTER INSERT, UPDATE AS INSERT INTO dbo.codes_audit (code) SELECT code FROM inserted; UPDATE dbo.codes_audit SET at = at WHERE 1 = 0');
    });
    const store = await openStore(url);
    try {
      expect([...(await loadRows(store, new Map([[codes, [['A', 1], ['B', 2]]]]), 'append'))]).toEqual([['codes', 2]]);
      expect([...(await loadRows(store, new Map([[codes, [['B', 3], ['C', 4]]]]), 'upsert'))]).toEqual([['codes', 2]]);
      expect(await readAll(store, codes)).toEqual([['A', 1], ['B', 3], ['C', 4]]);
      expect(await scalar<number>(url, 'SELECT COUNT(*) FROM dbo.codes_audit')).toBe(4);
    } finally {
      await store.close();
    }
  });

  it('a snapshot reads every table as of its start: SNAPSHOT isolation where allowed, else a writer waits for it', async () => {
    const codes: Entity = { name: 'codes', columns: [{ name: 'code', type: 'string', length: 8, required: true }], primaryKey: ['code'], rules: [] };
    for (const allow of [true, false]) {
      const url = await freshDb();
      const name = new URL(url).pathname.slice(1);
      if (allow) await withMssql(ADMIN_URL!, (p) => p.request().batch(`ALTER DATABASE [${name}] SET ALLOW_SNAPSHOT_ISOLATION ON`));
      const store = await openStore(url);
      try {
        await loadRows(store, new Map([[codes, [['A'], ['B']]]]));
        const snap = await store.snapshot();
        try {
          const first = await snap.describeTables();
          expect(first.map((t) => t.name)).toContain('codes');
          // Another session writes meanwhile.
          const write = withMssql(url, (p) => p.request().batch("SET LOCK_TIMEOUT 2000; INSERT INTO dbo.codes (code) VALUES (N'C')")).then(() => 'written', (e: unknown) => String((e as Error).message));
          if (allow) expect(await write).toBe('written');
          else expect(await write).toMatch(/Lock request time out/);
          const rows: unknown[][] = [];
          for await (const b of snap.readRows(codes)) rows.push(...b);
          expect(rows, `ALLOW_SNAPSHOT_ISOLATION ${allow}`).toEqual([['A'], ['B']]);
          // A read stopped early, then the table again from the start, in the same transaction.
          for await (const b of snap.readRows(codes)) {
            void b;
            break;
          }
          const again: unknown[][] = [];
          for await (const b of snap.readRows(codes)) again.push(...b);
          expect(again).toEqual([['A'], ['B']]);
        } finally {
          await snap.close();
        }
        // Once it has ended, the writer is not held up.
        await withMssql(url, (p) => p.request().batch("SET LOCK_TIMEOUT 2000; INSERT INTO dbo.codes (code) VALUES (N'D')"));
      } finally {
        await store.close();
      }
    }
  });

  it('names the tables of other schemas that export leaves out; a narrower existing table is refused before any row moves', async () => {
    const url = await freshDb();
    await withMssql(url, async (p) => {
      await p.request().batch('CREATE SCHEMA archive');
      await p.request().batch('CREATE TABLE archive.old_items (code nvarchar(10) PRIMARY KEY)');
      await p.request().batch('CREATE TABLE dbo.items (item_code nvarchar(64) NOT NULL PRIMARY KEY, description varchar(255) NOT NULL, item_type nvarchar(10), uom nvarchar(16) NOT NULL, category nvarchar(64), standard_cost decimal(18, 2), lead_time_days bigint, active bit NOT NULL)');
    });
    const store = await openStore(url);
    try {
      expect(await store.tablesElsewhere!()).toEqual([{ schema: 'archive', tables: ['old_items'] }]);
      const model = factoryModel();
      const items = model.entities.get('items')!;
      const file = path.join(tempDir('forklift-mssql-shape-'), 'staging.sqlite');
      const st = new Staging(file);
      st.createEntity(items);
      st.insertRow('items', 2, ['A', 'Alpha', 'raw', 'EA', null, '1.2345', null, 1]);
      st.flushRows('items');
      st.close();
      const now = new Date().toISOString();
      const err = await store
        .load({
          model,
          stagingFile: file,
          entities: [{ entity: items, mode: 'append', stagedTable: stagingTable('items'), expected: 1 }],
          entry: { id: 'shape-1', command: 'migrate', status: 'succeeded', started: now, finished: now, operator: 't', host: 't', tool_version: '0', plan_sha256: null, files: {}, counts: {}, message: null },
        })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'store.table-shape' });
      expect((err as Error).message).toMatch(/items\.description is varchar\(255\), the model has nvarchar\(255\) \(and 1 more column\)/);
      expect(await withMssql(url, async (p) => (await p.request().query('SELECT COUNT(*) AS n FROM dbo.items')).recordset[0].n)).toBe(0);
    } finally {
      await store.close();
    }
  });
});
