import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/core/errors.js';
import { factoryModel } from '../../../src/model/factory.js';
import { runPlan } from '../../../src/run/pipeline.js';
import { MysqlStore, datetimeToIso, redactValues } from '../../../src/stores/mysql.js';
import { ROOT, demoCopy, tempDir } from '../../helpers.js';

/**
 * The MySQL/MariaDB target against the real server (MariaDB at 127.0.0.1:3306 here; another with
 * FORKLIFT_TEST_MYSQL_URL, an admin URL). Every database and the user this file makes are named
 * forklift_t_<random> and dropped at the end. Unreachable server: skipped with a warning, except
 * in CI, where it fails.
 */

const ADMIN_URL = process.env.FORKLIFT_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const admin = new URL(ADMIN_URL.replace(/^mariadb:/, 'mysql:'));
const adminConfig = {
  host: admin.hostname,
  port: Number(admin.port || 3306),
  user: decodeURIComponent(admin.username || 'root'),
  password: decodeURIComponent(admin.password),
  connectTimeout: 3000,
};

async function probe(): Promise<string | null> {
  try {
    const c = await mysql.createConnection(adminConfig);
    await c.end();
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

const unreachable = await probe();
if (unreachable !== null) {
  if (process.env.CI) {
    describe('MySQL/MariaDB store', () => {
      it('reaches the MariaDB server (CI must not skip)', () => {
        throw new Error(`MariaDB not reachable at ${admin.hostname}:${admin.port || 3306}: ${unreachable}`);
      });
    });
  } else {
    console.warn(`SKIPPED test/integration/stores/mysql.test.ts: MariaDB was not reachable at ${admin.hostname}:${admin.port || 3306} (${unreachable}). Start it, or set FORKLIFT_TEST_MYSQL_URL.`);
  }
}

const RUN = randomBytes(4).toString('hex');
const USER = `forklift_t_${RUN}`;
// Characters a URL must percent-encode, so the store's decoding is tested too.
const PASSWORD = `p@ss:w/rd%${RUN}`;
const dbs: string[] = [];
let root: mysql.Connection;

/** A fresh database and the forklift URL for it (the test user, with its password). */
async function freshDb(): Promise<{ db: string; url: string }> {
  const db = `forklift_t_${RUN}_${dbs.length}`;
  dbs.push(db);
  await root.query(`CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  return { db, url: `mysql://${USER}:${encodeURIComponent(PASSWORD)}@${admin.hostname}:${admin.port || 3306}/${db}` };
}

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  const [r] = await root.query({ sql, rowsAsArray: false });
  return r as Record<string, unknown>[];
}

async function count(db: string, table: string): Promise<number> {
  return Number((await rows(`SELECT COUNT(*) AS n FROM \`${db}\`.\`${table}\``))[0]!.n);
}

/** A one-mapping project of items, like test/integration/load-modes.test.ts, aimed at a URL. */
function itemsProject(url: string, load: string, fields?: string): { dir: string; plan: string; data: (lines: string[]) => void } {
  const dir = tempDir('forklift-mysql-');
  writeFileSync(
    path.join(dir, 'items.yaml'),
    `entity: items\nsource: { format: csv, path: items.csv }\nfields:\n${
      fields ?? '  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { const: EA }\n  standard_cost: { from: COST }\n  active: { const: true }\n'
    }`,
  );
  writeFileSync(path.join(dir, 'forklift.yaml'), `name: mysql-test\ntarget: ${url}\nmappings: [items.yaml]\nload: ${load}\n`);
  return { dir, plan: path.join(dir, 'forklift.yaml'), data: (lines) => writeFileSync(path.join(dir, 'items.csv'), lines.join('\n') + '\n') };
}

/** Runs with one bulk path forced (FORKLIFT_MYSQL_BULK), restoring the environment after. */
async function withBulk<T>(bulk: string | undefined, f: () => Promise<T>): Promise<T> {
  const before = process.env.FORKLIFT_MYSQL_BULK;
  if (bulk === undefined) delete process.env.FORKLIFT_MYSQL_BULK;
  else process.env.FORKLIFT_MYSQL_BULK = bulk;
  try {
    return await f();
  } finally {
    if (before === undefined) delete process.env.FORKLIFT_MYSQL_BULK;
    else process.env.FORKLIFT_MYSQL_BULK = before;
  }
}

const ENTITIES = ['items', 'bom_lines', 'stock_balances', 'machine_events'] as const;

/** A MySQL value in the staging/SQLite form: bigint strings to numbers, datetime(3) to ISO. */
function normal(entity: string, column: string, v: unknown): unknown {
  const c = factoryModel().entities.get(entity)!.columns.find((x) => x.name === column)!;
  if (v === null) return null;
  if (c.type === 'integer') return Number(v);
  if (c.type === 'timestamp') return datetimeToIso(String(v));
  return v;
}

async function dumpMysql(db: string, entity: string): Promise<unknown[][]> {
  const e = factoryModel().entities.get(entity)!;
  const cols = e.columns.map((c) => c.name);
  const r = await rows(`SELECT ${cols.map((c) => `\`${c}\``).join(', ')} FROM \`${db}\`.\`${entity}\` ORDER BY ${e.primaryKey.map((c) => `\`${c}\``).join(', ')}`);
  return r.map((row) => cols.map((c) => normal(entity, c, row[c])));
}

describe.skipIf(unreachable !== null)('MySQL/MariaDB target store (live)', () => {
  beforeAll(async () => {
    root = await mysql.createConnection({ ...adminConfig, charset: 'utf8mb4', dateStrings: true, supportBigNumbers: true, bigNumberStrings: true, decimalNumbers: false });
    await root.query(`CREATE USER '${USER}'@'%' IDENTIFIED BY '${PASSWORD}'`);
    await root.query(`CREATE USER '${USER}'@'localhost' IDENTIFIED BY '${PASSWORD}'`);
    for (const host of ['%', 'localhost']) await root.query(`GRANT ALL PRIVILEGES ON \`forklift\\_t\\_${RUN}\\_%\`.* TO '${USER}'@'${host}'`);
  });

  afterAll(async () => {
    if (!root) return;
    // A test's table may reference another test database's (a foreign key across databases): dropped in any order.
    await root.query('SET SESSION foreign_key_checks = 0');
    for (const db of dbs) await root.query(`DROP DATABASE IF EXISTS \`${db}\``);
    await root.query(`DROP USER IF EXISTS '${USER}'@'%', '${USER}'@'localhost'`);
    await root.end();
  });

  describe('the demo', () => {
    let demo: { dir: string; plan: string };
    let target: { db: string; url: string };
    let ref: Database.Database;

    beforeAll(async () => {
      demo = demoCopy();
      target = await freshDb();
      // The same demo into SQLite, the reference for every value.
      const refFile = path.join(demo.dir, 'ref.db');
      await runPlan({ plan: demo.plan, command: 'migrate', target: `sqlite:${refFile}` });
      ref = new Database(refFile, { readonly: true });
    });
    afterAll(() => ref?.close());

    it('migrates: the ledger is the expected one, every table and value as in SQLite', async () => {
      const res = await runPlan({ plan: demo.plan, command: 'migrate', target: target.url });
      expect(res.status).toBe('succeeded');
      expect(res.committed).toBe(true);
      expect(res.target).not.toContain(PASSWORD);
      expect(res.target).toContain(':***@');
      const expected = JSON.parse(readFileSync(path.join(ROOT, 'fixtures', 'demo', 'expected.json'), 'utf8')) as { ledger: Record<string, Record<string, number>> };
      for (const [entity, l] of Object.entries(expected.ledger)) {
        const got = res.entities.find((x) => x.entity === entity)!;
        expect({ read: got.read, filtered: got.filtered, duplicates_dropped: got.duplicates_dropped, rejected: got.rejected, loaded: got.loaded }).toEqual(l);
        expect(await count(target.db, entity)).toBe(l.loaded);
      }
      for (const entity of ENTITIES) {
        const e = factoryModel().entities.get(entity)!;
        const sqliteRows = ref.prepare(`SELECT ${e.columns.map((c) => `"${c.name}"`).join(', ')} FROM "${entity}" ORDER BY ${e.primaryKey.map((c) => `"${c}"`).join(', ')}`).raw().all();
        // MySQL orders utf8mb4_bin keys by bytes as SQLite does; compare as sets to be safe.
        const sort = (a: unknown[][]): string[] => a.map((r) => JSON.stringify(r)).sort();
        expect(sort(await dumpMysql(target.db, entity))).toEqual(sort(sqliteRows as unknown[][]));
      }
    });

    it('keeps values exact: decimal text, UTC datetime, umlauts, lot "" not NULL, sums', async () => {
      const [hp] = await rows(`SELECT standard_cost, lead_time_days, active, description FROM \`${target.db}\`.items WHERE item_code = 'HP-1001'`);
      expect(hp).toEqual({ standard_cost: '7858.0290', lead_time_days: '35', active: 1, description: 'Kreiselpumpe KP 40-160 4 kW' });
      const [hw] = await rows(`SELECT description FROM \`${target.db}\`.items WHERE item_code = 'HP-1010'`);
      expect(hw!.description).toBe('Heißwasserpumpe HW 40 bis 140 °C');
      // 2025-11-03 06:00:47 in Europe/Berlin (CET) is 05:00:47 UTC.
      const [ev] = await rows(`SELECT ts, temperature_c FROM \`${target.db}\`.machine_events WHERE machine_id = 'CNC-01' ORDER BY ts LIMIT 1`);
      expect(ev).toEqual({ ts: '2025-11-03 05:00:47.000', temperature_c: '47.727' });
      const [lots] = await rows(`SELECT SUM(lot = '') AS empty, SUM(lot IS NULL) AS missing, SUM(value) AS total FROM \`${target.db}\`.stock_balances`);
      expect(lots).toEqual({ empty: '105', missing: '0', total: '5263738.60' });
      const [reasons] = await rows(`SELECT SUM(downtime_reason IS NULL) AS missing, SUM(downtime_reason = '') AS empty FROM \`${target.db}\`.machine_events`);
      expect(Number(reasons!.missing)).toBeGreaterThan(0);
      expect(Number(reasons!.empty)).toBe(0);
      const [ddl] = await rows(`SHOW CREATE TABLE \`${target.db}\`.machine_events`);
      const create = String(ddl!['Create Table']);
      expect(create).toMatch(/`ts` datetime\(3\) NOT NULL/);
      expect(create).toMatch(/`power_kw` decimal\(10,3\)/);
      expect(create).toMatch(/ENGINE=InnoDB/);
      expect(create).toMatch(/utf8mb4_bin/);
      const [items] = await rows(`SHOW CREATE TABLE \`${target.db}\`.items`);
      expect(String(items!['Create Table'])).toMatch(/`active` tinyint\(1\) NOT NULL/);
      const [bom] = await rows(`SHOW CREATE TABLE \`${target.db}\`.bom_lines`);
      expect(String(bom!['Create Table'])).toMatch(/FOREIGN KEY \(`component_item`\) REFERENCES `items` \(`item_code`\)/);
    });

    it('records the run in forklift_runs, and running again gives the same tables', async () => {
      const before = await Promise.all(ENTITIES.map((e) => dumpMysql(target.db, e)));
      const res = await runPlan({ plan: demo.plan, command: 'migrate', target: target.url });
      expect(res.status).toBe('succeeded');
      expect(await Promise.all(ENTITIES.map((e) => dumpMysql(target.db, e)))).toEqual(before);
      const runs = await rows(`SELECT id, command, status, started, counts, message FROM \`${target.db}\`.forklift_runs ORDER BY started`);
      expect(runs.map((r) => [r.command, r.status])).toEqual([
        ['migrate', 'succeeded'],
        ['migrate', 'succeeded'],
      ]);
      expect(runs[1]!.id).toBe(res.run_id);
      expect(runs[1]!.started).toBe(res.started); // the exact ISO text of the entry
      expect(JSON.parse(String(runs[1]!.counts)).machine_events).toEqual({ read: 2049, loaded: 2040, filtered: 0, duplicates_dropped: 3, rejected: 6 });
    });

    it('a replace of items while bom_lines still references them fails and leaves everything as it was', async () => {
      const before = await Promise.all(ENTITIES.map((e) => count(target.db, e)));
      const plan = path.join(demo.dir, 'mappings', 'demo', 'items-only.yaml');
      writeFileSync(plan, `name: items-only\ntarget: ${target.url}\nmodel: factory\nmappings: [items.yaml]\nreject_limit: 10%\nload: replace\n`);
      const err = await runPlan({ plan, command: 'migrate' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).hint).toMatch(/still reference/);
      expect((err as StoreError).message).not.toContain(PASSWORD);
      expect(await Promise.all(ENTITIES.map((e) => count(target.db, e)))).toEqual(before);
      const runs = await rows(`SELECT status FROM \`${target.db}\`.forklift_runs ORDER BY started`);
      expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'failed']);
    });

    it('MysqlStore: hasTable, readColumn streams values in the staging form', async () => {
      const store = new MysqlStore(target.url);
      try {
        expect(await store.hasTable('items')).toBe(true);
        expect(await store.hasTable('nope')).toBe(false);
        const ts: unknown[] = [];
        for await (const batch of store.readColumn('machine_events', 'ts')) ts.push(...batch);
        const want = ref.prepare('SELECT DISTINCT ts FROM machine_events').pluck().all();
        expect(ts.sort()).toEqual((want as string[]).sort());
        const lines: unknown[] = [];
        for await (const batch of store.readColumn('bom_lines', 'line_no')) lines.push(...batch);
        expect(lines.every((v) => typeof v === 'number')).toBe(true);
      } finally {
        await store.close();
      }
    });
  });

  describe.each(['load-data', 'insert'])('bulk path %s', (bulk) => {
    it('round-trips Unicode, emoji, tabs, newlines, backslashes and \\N, and keeps "" apart from NULL', async () => {
      const { db, url } = await freshDb();
      const p = itemsProject(
        url,
        'replace',
        '  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { from: UOM, default: "" }\n  category: { from: GRP }\n  standard_cost: { from: COST }\n  active: { const: true }\n',
      );
      const names: Record<string, string> = {
        A: 'Größe Ä Ö Ü ß – 🚀 €',
        B: 'tab\there',
        C: 'line\nbreak',
        D: 'back\\slash \\N \\t',
        E: "quote ' and \"double\"",
        F: '漢字 e\u0301 (NFC: é)',
      };
      const csv = (s: string): string => `"${s.replace(/"/g, '""')}"`;
      p.data([
        'CODE,NAME,UOM,GRP,COST',
        `A,${csv(names.A!)},,,1.5`,
        `B,${csv(names.B!)},EA,G1,`,
        `C,${csv(names.C!)},EA,,0`,
        `D,${csv(names.D!)},EA,G1,123456789012.3456`,
        `E,${csv(names.E!)},EA,G1,2`,
        `F,${csv(names.F!)},EA,G1,3`,
      ]);
      const res = await withBulk(bulk, () => runPlan({ plan: p.plan, command: 'migrate' }));
      expect(res.entities[0]!.loaded).toBe(6);
      const got = await rows(`SELECT item_code, description, uom, category, standard_cost FROM \`${db}\`.items ORDER BY item_code`);
      expect(got).toEqual([
        { item_code: 'A', description: names.A, uom: '', category: null, standard_cost: '1.5000' },
        { item_code: 'B', description: names.B, uom: 'EA', category: 'G1', standard_cost: null },
        { item_code: 'C', description: names.C, uom: 'EA', category: null, standard_cost: '0.0000' },
        { item_code: 'D', description: names.D, uom: 'EA', category: 'G1', standard_cost: '123456789012.3456' },
        { item_code: 'E', description: names.E, uom: 'EA', category: 'G1', standard_cost: '2.0000' },
        { item_code: 'F', description: '漢字 é (NFC: é)', uom: 'EA', category: 'G1', standard_cost: '3.0000' },
      ]);
      const [emoji] = await rows(`SELECT CHAR_LENGTH(description) AS n, HEX(description) LIKE '%F09F9A80%' AS four_bytes FROM \`${db}\`.items WHERE item_code = 'A'`);
      expect(emoji).toEqual({ n: [...names.A!].length, four_bytes: 1 });
    });

    it('append of keys already there fails, rolls back everything, and shows no row value or password', async () => {
      const { db, url } = await freshDb();
      const p = itemsProject(url, 'append');
      p.data(['CODE,NAME,COST', 'A,Alpha,1.5']);
      await withBulk(bulk, () => runPlan({ plan: p.plan, command: 'migrate' }));
      p.data(['CODE,NAME,COST', 'B,Beta,2']);
      await withBulk(bulk, () => runPlan({ plan: p.plan, command: 'migrate' }));
      const before = await rows(`SELECT * FROM \`${db}\`.items ORDER BY item_code`);
      expect(before).toHaveLength(2);
      p.data(['CODE,NAME,COST', 'C,Gamma,3', 'SECRET-KEY-9,Delta,4', 'A,Alpha again,9']);
      // Load SECRET-KEY-9 once so the failing run's duplicate is a value worth hiding.
      await root.query(`INSERT INTO \`${db}\`.items (item_code, description, uom, active) VALUES ('SECRET-KEY-9', 'x', 'EA', 1)`);
      const err = await withBulk(bulk, () => runPlan({ plan: p.plan, command: 'migrate' })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      const se = err as StoreError;
      expect(se.exitCode).toBe(1);
      expect(se.hint).toMatch(/replace or upsert/);
      expect(se.message).toContain(':***@');
      // The first key the target holds, in source order, and its line, as the SQLite target names it; no other value of the rows.
      expect(se.message).toMatch(/:\*\*\*@[^ ]*: items: the target already holds the key item_code "SECRET-KEY-9" \(source line 3\); nothing was committed$/);
      for (const leak of [PASSWORD, encodeURIComponent(PASSWORD), 'Alpha again', 'Gamma', 'Delta']) expect(se.message).not.toContain(leak);
      // The server's own message keeps its values hidden.
      expect(JSON.stringify(se.cause, Object.getOwnPropertyNames(se.cause ?? {}))).not.toContain('SECRET-KEY-9');
      const after = await rows(`SELECT * FROM \`${db}\`.items WHERE item_code <> 'SECRET-KEY-9' ORDER BY item_code`);
      expect(after).toEqual(before); // C was not committed either
      const runs = await rows(`SELECT status, message FROM \`${db}\`.forklift_runs ORDER BY started`);
      expect(runs.map((r) => r.status)).toEqual(['succeeded', 'succeeded', 'failed']);
      expect(String(runs[2]!.message)).toContain('items: the target already holds the key item_code "SECRET-KEY-9" (source line 3)');
      for (const leak of [PASSWORD, 'Alpha again', 'Gamma', 'Delta']) expect(String(runs[2]!.message)).not.toContain(leak);
    });

    it('upsert updates rows whose key exists and inserts the rest; replace keeps exactly the last run', async () => {
      const { db, url } = await freshDb();
      const p = itemsProject(url, 'upsert');
      p.data(['CODE,NAME,COST', 'A,Alpha,1.5', 'B,Beta,2']);
      await withBulk(bulk, () => runPlan({ plan: p.plan, command: 'migrate' }));
      p.data(['CODE,NAME,COST', 'B,Beta two,3', 'C,Gamma,4']);
      const res = await withBulk(bulk, () => runPlan({ plan: p.plan, command: 'migrate' }));
      expect(res.entities[0]!.loaded).toBe(2);
      const table = async (): Promise<unknown[]> => (await rows(`SELECT item_code, description, standard_cost FROM \`${db}\`.items ORDER BY item_code`)).map((r) => Object.values(r));
      expect(await table()).toEqual([
        ['A', 'Alpha', '1.5000'],
        ['B', 'Beta two', '3.0000'],
        ['C', 'Gamma', '4.0000'],
      ]);
      writeFileSync(p.plan, readFileSync(p.plan, 'utf8').replace('load: upsert', 'load: replace'));
      p.data(['CODE,NAME,COST', 'C,Gamma two,5', 'D,Delta,6']);
      await withBulk(bulk, () => runPlan({ plan: p.plan, command: 'migrate' }));
      expect(await table()).toEqual([
        ['C', 'Gamma two', '5.0000'],
        ['D', 'Delta', '6.0000'],
      ]);
    });
  });

  describe('failures', () => {
    it('a wrong password: StoreError, exit 1, a hint, the password never shown', async () => {
      const { db } = await freshDb();
      const wrong = 'Wr0ng-S3cret!';
      const store = new MysqlStore(`mysql://${USER}:${wrong}@${admin.hostname}:${admin.port || 3306}/${db}`);
      try {
        const err = await store.hasTable('items').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreError);
        expect((err as StoreError).exitCode).toBe(1);
        expect((err as StoreError).hint).toMatch(/password/);
        expect((err as StoreError).message).not.toContain(wrong);
        expect((err as StoreError).message).toContain(':***@');
      } finally {
        await store.close();
      }
    });

    it('a missing database: StoreError with how to create it', async () => {
      const store = new MysqlStore(`${ADMIN_URL.replace(/\/[^/]*$/, '')}/forklift_t_${RUN}_missing`);
      try {
        const err = await store.hasTable('items').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreError);
        expect((err as StoreError).hint).toMatch(/CREATE DATABASE/);
      } finally {
        await store.close();
      }
    });

    it('a load the server refuses drops the tables the run made (DDL commits at once) and names the column', async () => {
      const { db, url } = await freshDb();
      // items made by hand with a NOT NULL column the model does not fill: the load of items fails after machine_events was created.
      await root.query(`CREATE TABLE \`${db}\`.items (item_code varchar(64) PRIMARY KEY, description varchar(255) NOT NULL, item_type varchar(20), uom varchar(16) NOT NULL, category varchar(64), standard_cost decimal(18,4), lead_time_days bigint, active tinyint(1) NOT NULL, plant_code varchar(10) NOT NULL)`);
      const p = itemsProject(url, 'append');
      p.data(['CODE,NAME,COST', 'A-1,Pump,1.5']);
      writeFileSync(path.join(p.dir, 'ml.yaml'), 'entity: machine_events\nsource: { format: csv, path: ml.csv }\nfields:\n  machine_id: { from: M }\n  ts: { from: T }\n  state: { const: RUN }\n');
      writeFileSync(path.join(p.dir, 'ml.csv'), 'M,T\nM1,2024-01-01T00:00:00Z\n');
      writeFileSync(p.plan, `name: mysql-test\ntarget: ${url}\nmappings: [ml.yaml, items.yaml]\nload: append\n`);
      const err = await runPlan({ plan: p.plan, command: 'migrate' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).message).toMatch(/items: Field 'plant_code' doesn't have a default value/);
      expect((err as StoreError).hint).toMatch(/does not match the model/);
      const tables = (await rows(`SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${db}' ORDER BY 1`)).map((r) => r.t);
      // As before the run, but for the ledger that records the failed attempt (SPEC section 9).
      expect(tables).toEqual(['forklift_runs', 'items']);
      expect((await rows(`SELECT status FROM \`${db}\`.forklift_runs`)).map((r) => r.status)).toEqual(['failed']);
    });

    it('an unreachable port: StoreError naming host and port', async () => {
      const store = new MysqlStore('mysql://someone:hunter2@127.0.0.1:1/db');
      try {
        const err = await store.hasTable('items').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreError);
        expect((err as StoreError).hint).toMatch(/127\.0\.0\.1:1\b/);
        expect((err as StoreError).message).not.toContain('hunter2');
      } finally {
        await store.close();
      }
    });
  });
});

describe('redactValues (no server needed)', () => {
  it('removes row values from server messages and keeps the names', () => {
    expect(redactValues("Duplicate entry 'O'Brien-1' for key 'PRIMARY'")).toBe("Duplicate entry '…' for key 'PRIMARY'");
    expect(redactValues("Incorrect decimal value: '1,5' for column `db`.`items`.`standard_cost` at row 3")).toBe("Incorrect decimal value: '…' for column `db`.`items`.`standard_cost` at row 3");
    expect(redactValues("Truncated incorrect DOUBLE value: 'abc'")).toBe("Truncated incorrect DOUBLE value: '…'");
    expect(redactValues("Access denied for user 'bob'@'localhost' (using password: YES)")).toContain("user 'bob'");
    // The column is what the user acts on: a column of the table the model does not fill.
    expect(redactValues("Field 'plant_code' doesn't have a default value")).toBe("Field 'plant_code' doesn't have a default value");
  });
});
