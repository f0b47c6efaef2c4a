import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, StoreError } from '../../../src/core/errors.js';
import { runPlan } from '../../../src/run/pipeline.js';
import { tempDir } from '../../helpers.js';
import { liveServers, withMysql, withPg } from './live.js';

/**
 * Long strings on MariaDB (varchar's 16383 characters and the row's 65535 bytes: the longest
 * become text or mediumtext; a key longer than an index holds is a configuration error), and a
 * load that meets a key the target already holds, named with its source line on PostgreSQL and
 * MariaDB as on SQLite.
 */

const FILE = 'test/integration/stores/wide-strings-key-clash.test.ts';
const { pgDown, myDown, pgDbs, myDbs } = await liveServers(FILE, 'fixstores_');

/** A value of 20,000 characters, most of them 4 bytes in UTF-8: it fills mediumtext beyond text's 65535 bytes. */
const LONG = `${'é🚀x'.repeat(6666)}yy`;

function wideProject(keyLength?: number): string {
  const dir = tempDir('forklift-wide-');
  const key = keyLength === undefined ? '' : `      code: { type: string, length: ${keyLength}, unique: true }\n`;
  writeFileSync(
    path.join(dir, 'model.yaml'),
    `entities:\n  wide:\n    primary_key: [id]\n    columns:\n      id: { type: integer, required: true }\n${key}      s1: { type: string, length: 10000 }\n      s2: { type: string, length: 10000 }\n      s3: { type: string, length: 20000 }\n      d70: { type: decimal, precision: 38, scale: 18 }\n`,
  );
  writeFileSync(path.join(dir, 'w.yaml'), `entity: wide\nsource: { format: csv, path: w.csv }\nfields:\n  id: { from: id }\n${keyLength === undefined ? '' : '  code: { from: code }\n'}  s1: { from: s1 }\n  s2: { from: s2 }\n  s3: { from: s3 }\n  d70: { from: d70 }\n`);
  writeFileSync(path.join(dir, 'w.csv'), `id,${keyLength === undefined ? '' : 'code,'}s1,s2,s3,d70\n1,${keyLength === undefined ? '' : 'K1,'}short,🚀,${LONG},12345678901234567890.123456789012345678\n`);
  writeFileSync(path.join(dir, 'forklift.yaml'), 'name: wide\ntarget: sqlite:./out.db\nmodel: ./model.yaml\nmappings: [w.yaml]\n');
  return path.join(dir, 'forklift.yaml');
}

describe.skipIf(myDown !== null)('MariaDB: strings longer than a row of varchars holds', () => {
  it('two string(10000) and one string(20000) load and read back exactly; a second run accepts the tables it made', async () => {
    const { url, name } = await myDbs.create();
    const plan = wideProject();
    await runPlan({ plan, command: 'migrate', target: url });
    await runPlan({ plan, command: 'migrate', target: url });
    const [rows] = await withMysql(name, (c) => c.query('SELECT s1, s2, s3, CAST(d70 AS CHAR) AS d70 FROM wide'));
    expect(rows).toEqual([{ s1: 'short', s2: '🚀', s3: LONG, d70: '12345678901234567890.123456789012345678' }]);
    const [types] = await withMysql(name, (c) => c.query("SELECT COLUMN_NAME AS c, COLUMN_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'wide' ORDER BY ORDINAL_POSITION"));
    expect(types).toEqual([
      { c: 'id', t: 'bigint(20)' },
      { c: 's1', t: 'text' },
      { c: 's2', t: 'varchar(10000)' },
      { c: 's3', t: 'mediumtext' },
      { c: 'd70', t: 'decimal(38,18)' },
    ]);
  });

  it('a table made by hand with a text too short for a string(20000) is refused; the forms forklift made before and makes now pass', async () => {
    const { url, name } = await myDbs.create();
    const plan = wideProject();
    await withMysql(name, (c) => c.query('CREATE TABLE wide (id bigint NOT NULL PRIMARY KEY, s1 varchar(10000), s2 text, s3 text, d70 decimal(38,18)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin'));
    const err = await runPlan({ plan, command: 'migrate', target: url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toContain('wide.s3 is text, the model has mediumtext');
    await withMysql(name, (c) => c.query('ALTER TABLE wide MODIFY s3 mediumtext'));
    await runPlan({ plan, command: 'migrate', target: url });
  });

  it('a key column longer than an index holds is refused as a configuration error (exit 2), before any table is made', async () => {
    const { url, name } = await myDbs.create();
    const err = await runPlan({ plan: wideProject(1000), command: 'migrate', target: url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(2);
    expect((err as ConfigError).message).toContain('MySQL/MariaDB indexes at most 3072 bytes of a key (768 characters of utf8mb4 text), and this key is longer: wide.code (unique) is a string of 1000 characters; nothing was loaded');
    expect((err as ConfigError).hint).toMatch(/^Give wide\.code a shorter length in the model \(.*model\.yaml\): at most 768 characters/);
    const [tables] = await withMysql(name, (c) => c.query("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'wide'"));
    expect(tables).toEqual([]);
    // 768 characters fit.
    await runPlan({ plan: wideProject(768), command: 'migrate', target: url });
  });
});

describe.skipIf(pgDown !== null)('PostgreSQL: a key value longer than an index holds', () => {
  it('the model loads (short keys do); a longer key value fails with a hint that says so, nothing committed', async () => {
    const { url } = await pgDbs.create();
    const plan = wideProject(10000);
    await runPlan({ plan, command: 'migrate', target: url });
    // Random letters: PostgreSQL compresses a repetitive value below the limit.
    const v = randomBytes(2400).toString('base64');
    writeFileSync(path.join(path.dirname(plan), 'w.csv'), `id,code,s1,s2,s3,d70\n2,${v},a,b,c,1\n`);
    const err = await runPlan({ plan, command: 'migrate', target: url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).exitCode).toBe(1);
    expect((err as StoreError).hint).toMatch(/^A value of a key or unique column is longer than a PostgreSQL index holds \(2704 bytes\)/);
    const n = await withPg(url, (c) => c.query<{ n: number }>('SELECT count(*)::int AS n FROM wide'));
    expect(n.rows[0]!.n).toBe(1);
  });
});

function appendProject(): { plan: string; data: (items: string[], events: string[]) => void } {
  const dir = tempDir('forklift-clash-');
  writeFileSync(path.join(dir, 'items.yaml'), 'entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { const: EA }\n  active: { const: true }\n');
  writeFileSync(path.join(dir, 'events.yaml'), 'entity: machine_events\nsource: { format: csv, path: events.csv }\nfields:\n  machine_id: { from: M }\n  ts: { from: TS }\n  state: { const: RUN }\n  good_count: { from: N }\n');
  writeFileSync(path.join(dir, 'forklift.yaml'), 'name: clash\ntarget: sqlite:./t.db\nmappings: [items.yaml, events.yaml]\nload: append\n');
  return {
    plan: path.join(dir, 'forklift.yaml'),
    data: (items, events) => {
      writeFileSync(path.join(dir, 'items.csv'), ['CODE,NAME', ...items].join('\n') + '\n');
      writeFileSync(path.join(dir, 'events.csv'), ['M,TS,N', ...events].join('\n') + '\n');
    },
  };
}

const E1 = 'M1,2024-01-01T00:00:00.250Z,1';
const E2 = 'M1,2024-01-02T00:00:00.250Z,2';

/** Two runs of load: append: the second meets a key of the first's; what it says, and that nothing of it was committed. */
async function secondRunClash(url: string, count: (sql: string) => Promise<number>): Promise<{ items: StoreError; events: StoreError }> {
  const p = appendProject();
  p.data(['A-1,one', 'A-2,two'], [E1]);
  await runPlan({ plan: p.plan, command: 'migrate', target: url });
  // Line 4 of items.csv is A-2 again.
  p.data(['B-1,x', 'B-2,y', 'A-2,two'], [E2]);
  const items = await runPlan({ plan: p.plan, command: 'migrate', target: url }).catch((e: unknown) => e);
  // items pass; line 3 of events.csv is the first run's event again (a composite key with an instant).
  p.data(['C-1,z'], ['M2,2024-01-01T00:00:00.250Z,9', E1]);
  const events = await runPlan({ plan: p.plan, command: 'migrate', target: url }).catch((e: unknown) => e);
  expect(items).toBeInstanceOf(StoreError);
  expect(events).toBeInstanceOf(StoreError);
  expect(await count("SELECT count(*) AS n FROM items WHERE item_code <> 'A-1' AND item_code <> 'A-2'")).toBe(0);
  expect(await count('SELECT count(*) AS n FROM machine_events')).toBe(1);
  return { items: items as StoreError, events: events as StoreError };
}

function expectNamed(url: string, e: { items: StoreError; events: StoreError }): void {
  expect(e.items.message).toBe(`${url}: items: the target already holds the key item_code "A-2" (source line 4); nothing was committed`);
  expect(e.items.exitCode).toBe(1);
  expect(e.items.hint).toMatch(/use load: replace or upsert/);
  expect(e.events.message).toBe(`${url}: machine_events: the target already holds the key machine_id "M1", ts "2024-01-01T00:00:00.250Z" (source line 3); nothing was committed`);
}

describe('append meeting a key the target holds: the key and its source line, as on SQLite', () => {
  it('SQLite (the reference)', async () => {
    const dir = tempDir('forklift-clash-sqlite-');
    const url = `sqlite:${path.join(dir, 't.db')}`;
    const Database = (await import('better-sqlite3')).default;
    const e = await secondRunClash(url, async (sql) => {
      const db = new Database(path.join(dir, 't.db'), { readonly: true });
      try {
        return Number((db.prepare(sql).get() as { n: number }).n);
      } finally {
        db.close();
      }
    });
    expect(e.items.message).toContain('items: the target already holds the key item_code "A-2" (source line 4)');
    expect(e.events.message).toContain('machine_events: the target already holds the key machine_id "M1", ts "2024-01-01T00:00:00.250Z" (source line 3)');
  });

  it.skipIf(pgDown !== null)('PostgreSQL', async () => {
    const { url } = await pgDbs.create();
    expectNamed(url, await secondRunClash(url, async (sql) => withPg(url, async (c) => Number((await c.query<{ n: string }>(sql)).rows[0]!.n))));
  });

  it.skipIf(pgDown !== null)('PostgreSQL, replace meeting a unique index a DBA added: the server\'s error, not a key the table held before', async () => {
    const { url } = await pgDbs.create();
    const p = appendProject();
    const plan = p.plan;
    writeFileSync(plan, readFileSync(plan, 'utf8').replace('load: append', 'load: replace'));
    p.data(['A-1,one', 'A-2,two'], [E1]);
    await runPlan({ plan, command: 'migrate', target: url });
    await withPg(url, (c) => c.query('CREATE UNIQUE INDEX items_description_dba ON items (description)'));
    // The same keys again, two descriptions now alike: the clash is among the loaded rows.
    p.data(['A-1,same', 'A-2,same'], [E1]);
    const err = await runPlan({ plan, command: 'migrate', target: url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).not.toMatch(/already holds the key/);
    expect((err as StoreError).message).toMatch(/items_description_dba/);
    const rows = await withPg(url, (c) => c.query<{ d: string }>('SELECT description AS d FROM items ORDER BY item_code'));
    expect(rows.rows.map((r) => r.d)).toEqual(['one', 'two']);
  });

  for (const bulk of ['load-data', 'insert']) {
    it.skipIf(myDown !== null)(`MariaDB (${bulk})`, async () => {
      const { url, name } = await myDbs.create();
      const before = process.env.FORKLIFT_MYSQL_BULK;
      process.env.FORKLIFT_MYSQL_BULK = bulk;
      try {
        expectNamed(url, await secondRunClash(url, async (sql) => withMysql(name, async (c) => Number(((await c.query(sql))[0] as { n: number }[])[0]!.n))));
      } finally {
        if (before === undefined) delete process.env.FORKLIFT_MYSQL_BULK;
        else process.env.FORKLIFT_MYSQL_BULK = before;
      }
    });
  }
});
