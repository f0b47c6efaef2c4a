import { readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/core/errors.js';
import { runPlan } from '../../../src/run/pipeline.js';
import { pgReadExpression } from '../../../src/stores/dialect-postgres.js';
import { openStore, redactUrl } from '../../../src/stores/index.js';
import { ROOT, demoCopy, tempDir } from '../../helpers.js';

/**
 * The PostgreSQL target against a real server: FORKLIFT_TEST_PG_URL (a user that may create
 * databases), default postgres://postgres@127.0.0.1:5432/postgres. Every test gets a database of
 * its own (forklift_t_<random>), dropped at the end, so test files running in parallel never meet.
 * Unreachable: the suite is skipped with a warning, except under CI, where it fails.
 */

const ADMIN_URL = process.env.FORKLIFT_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function probe(): Promise<string | null> {
  const c = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  } finally {
    await c.end().catch(() => {});
  }
}

const unreachable = await probe();
if (unreachable !== null) console.warn(`PostgreSQL was not reachable at ${redactUrl(ADMIN_URL)} (${unreachable}): the PostgreSQL store tests are skipped${process.env.CI ? ' (CI: failing instead)' : ''}`);

describe.runIf(unreachable !== null && Boolean(process.env.CI))('PostgreSQL store (CI)', () => {
  it('reaches the PostgreSQL server', () => {
    throw new Error(`PostgreSQL was not reachable at ${redactUrl(ADMIN_URL)}: ${unreachable}`);
  });
});

const created: string[] = [];

/** A new empty database; returns its URL. */
async function freshDb(): Promise<string> {
  const name = `forklift_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  created.push(name);
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

afterAll(async () => {
  if (created.length === 0) return;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
});

async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const byJson = (a: unknown[], b: unknown[]): number => {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** A table's rows as forklift stages them (ISO instants, 1/0 booleans, exact decimal text), sorted. */
async function pgDump(c: pg.Client, table: string): Promise<unknown[][]> {
  const cols = await c.query<{ name: string; type: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [table],
  );
  const exprs = cols.rows.map((col) => pgReadExpression(col.name, col.type));
  const res = await c.query({ text: `SELECT ${exprs.map((x) => x.sql).join(', ')} FROM ${table}`, rowMode: 'array' });
  return (res.rows as unknown[][]).map((r) => r.map((v, i) => (v === null ? null : exprs[i]!.decode(v as string)))).sort(byJson);
}

function sqliteDump(file: string, table: string): unknown[][] {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`SELECT * FROM ${table}`).raw().all() as unknown[][]).sort(byJson);
  } finally {
    db.close();
  }
}

const ENTITIES = ['items', 'bom_lines', 'stock_balances', 'machine_events'] as const;
const expected = JSON.parse(readFileSync(path.join(ROOT, 'fixtures', 'demo', 'expected.json'), 'utf8')) as {
  ledger: Record<string, { read: number; filtered: number; duplicates_dropped: number; rejected: number; loaded: number }>;
};

describe.skipIf(unreachable !== null)('PostgreSQL target store', () => {
  it('connects with sslmode=prefer and sslmode=allow as psql does, whether or not the server offers TLS (pg alone took both for verify-full)', async () => {
    const url = await freshDb();
    const server = await withPg(url, async (c) => (await c.query<{ ssl: string }>('SHOW ssl')).rows[0]!.ssl);
    for (const mode of ['prefer', 'allow']) {
      const store = await openStore(`${url}?sslmode=${mode}`);
      try {
        expect(await store.hasTable('items'), `sslmode=${mode} against a server with ssl ${server}`).toBe(false);
      } finally {
        await store.close();
      }
    }
  });

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
    const sqlite = demoCopy();
    await runPlan({ plan: sqlite.plan, command: 'migrate', target: 'sqlite:' + path.join(sqlite.dir, 'ref.db') });

    const first = await withPg(url, async (c) => {
      for (const e of ENTITIES) {
        const n = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${e}`);
        expect(Number(n.rows[0]!.n), e).toBe(expected.ledger[e]!.loaded);
      }
      const types = await c.query<{ t: string; c: string; ty: string; nn: boolean }>(
        `SELECT c.relname AS t, a.attname AS c, format_type(a.atttypid, a.atttypmod) AS ty, a.attnotnull AS nn FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relname IN ('items', 'machine_events', 'stock_balances', 'bom_lines') AND a.attnum > 0`,
      );
      const ty = (t: string, col: string): string => types.rows.find((r) => r.t === t && r.c === col)!.ty;
      expect(ty('items', 'item_code')).toBe('character varying(64)');
      expect(ty('items', 'standard_cost')).toBe('numeric(18,4)');
      expect(ty('items', 'lead_time_days')).toBe('bigint');
      expect(ty('items', 'active')).toBe('boolean');
      expect(ty('items', 'item_type')).toBe('text');
      expect(ty('machine_events', 'ts')).toBe('timestamp with time zone');
      expect(ty('bom_lines', 'qty_per')).toBe('numeric(18,6)');
      expect(ty('bom_lines', 'valid_from')).toBe('date');
      expect(types.rows.find((r) => r.t === 'items' && r.c === 'description')!.nn).toBe(true);
      const fks = await c.query<{ n: string }>("SELECT count(*) AS n FROM pg_constraint WHERE contype = 'f'");
      expect(Number(fks.rows[0]!.n)).toBe(3);
      // The enum is checked by the server too.
      await expect(c.query("INSERT INTO items (item_code, description, uom, active, item_type) VALUES ('Z', 'z', 'EA', true, 'bogus')")).rejects.toThrow(/check constraint/);

      const item = await c.query("SELECT standard_cost::text AS cost, active, lead_time_days::text AS lt FROM items WHERE item_code = 'HP-1001'");
      expect(item.rows[0]).toEqual({ cost: '7858.0290', active: true, lt: '35' });
      const hot = await c.query<{ description: string }>("SELECT description FROM items WHERE item_code = 'HP-1010'");
      expect(hot.rows[0]!.description).toBe('Heißwasserpumpe HW 40 bis 140 °C');
      const ev = await c.query<{ ts: Date }>("SELECT ts FROM machine_events WHERE machine_id = 'CNC-01' ORDER BY ts LIMIT 1");
      expect(ev.rows[0]!.ts.getTime()).toBe(Date.parse('2025-11-03T05:00:47.000Z'));
      const lots = await c.query<{ empty: string; nulls: string }>("SELECT count(*) FILTER (WHERE lot = '') AS empty, count(*) FILTER (WHERE lot IS NULL) AS nulls FROM stock_balances");
      expect(Number(lots.rows[0]!.empty)).toBeGreaterThan(0);
      expect(Number(lots.rows[0]!.nulls)).toBe(0);

      const dump: Record<string, unknown[][]> = {};
      for (const e of ENTITIES) {
        dump[e] = await pgDump(c, e);
        expect(dump[e], e).toEqual(sqliteDump(path.join(sqlite.dir, 'ref.db'), e));
      }
      return dump;
    });

    // Again (replace): the same tables, and a second entry in the ledger.
    await runPlan({ plan: demo.plan, command: 'migrate', target: url });
    await withPg(url, async (c) => {
      for (const e of ENTITIES) expect(await pgDump(c, e), e).toEqual(first[e]);
      const runs = await c.query<{ command: string; status: string; counts: Record<string, { loaded: number }>; message: string | null }>('SELECT command, status, counts, message FROM forklift_runs ORDER BY started');
      expect(runs.rows.map((r) => [r.command, r.status, r.message])).toEqual([
        ['migrate', 'succeeded', null],
        ['migrate', 'succeeded', null],
      ]);
      expect(runs.rows[1]!.counts.machine_events!.loaded).toBe(expected.ledger.machine_events!.loaded);
    });
  });

  it('a failing load rolls back every entity and records the failed attempt, without row values', async () => {
    const url = await freshDb();
    const demo = demoCopy();
    await runPlan({ plan: demo.plan, command: 'migrate', target: url });
    const mark = await withPg(url, async (c) => {
      await c.query("UPDATE items SET description = 'before the failed run'");
      const dump: Record<string, unknown[][]> = {};
      for (const e of ENTITIES) dump[e] = await pgDump(c, e);
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
    // The key and its source line, as the SQLite target names them (not COPY's line); no other value of the row.
    expect(se.message).toMatch(/: bom_lines: the target already holds the key parent_item "[^"]+", line_no "\d+" \(source line \d+\); nothing was committed$/);
    const key = /parent_item "([^"]+)", line_no "(\d+)"/.exec(se.message)!;
    const row = await withPg(url, (c) => c.query('SELECT * FROM bom_lines WHERE parent_item = $1 AND line_no = $2', [key[1], key[2]]));
    expect(row.rows).toHaveLength(1);
    for (const v of Object.entries(row.rows[0] as Record<string, unknown>).filter(([k, v]) => !['parent_item', 'line_no'].includes(k) && typeof v === 'string' && v.length > 2)) expect(se.message).not.toContain(v[1]);
    await withPg(url, async (c) => {
      for (const e of ENTITIES) expect(await pgDump(c, e), e).toEqual(mark[e]);
      const runs = await c.query<{ status: string; message: string | null }>('SELECT status, message FROM forklift_runs ORDER BY started');
      expect(runs.rows.map((r) => r.status)).toEqual(['succeeded', 'failed']);
      expect(runs.rows[1]!.message).toContain(se.message.slice(se.message.indexOf('bom_lines: the target already holds the key')));
    });
  });

  it('upsert updates and inserts; replace of a parent that other target rows reference fails cleanly', async () => {
    const url = await freshDb();
    const dir = tempDir('forklift-pg-modes-');
    const items = (rows: string[]): void => writeFileSync(path.join(dir, 'items.csv'), ['CODE,NAME,COST', ...rows].join('\n') + '\n');
    writeFileSync(path.join(dir, 'items.yaml'), `entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { const: EA }\n  standard_cost: { from: COST }\n  active: { const: true }\n`);
    writeFileSync(path.join(dir, 'bom.csv'), 'PARENT,LINE,COMP,QTY\nA,10,B,1.5\nA,20,X,2\n');
    writeFileSync(path.join(dir, 'bom.yaml'), `entity: bom_lines\nsource: { format: csv, path: bom.csv }\nload: append\nfields:\n  parent_item: { from: PARENT }\n  line_no: { from: LINE }\n  component_item: { from: COMP }\n  qty_per: { from: QTY }\n`);
    const plan = (name: string, mappings: string, load: string): string => {
      const file = path.join(dir, `${name}.yaml`);
      writeFileSync(file, `name: ${name}\ntarget: sqlite:./unused.db\nmappings: [${mappings}]\nload: ${load}\nreject_limit: 50%\n`);
      return file;
    };
    const table = (): Promise<unknown[][]> => withPg(url, async (c) => (await c.query({ text: 'SELECT item_code, description, standard_cost::text FROM items ORDER BY item_code COLLATE "C"', rowMode: 'array' })).rows as unknown[][]);

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

  it('store errors say what to do and never show the password', async () => {
    const u = new URL(ADMIN_URL);
    u.password = 's3cret-pw';
    u.pathname = '/forklift_no_such_db_here';
    const store = await openStore(u.toString());
    expect(store.display).not.toContain('s3cret-pw');
    const missing = await store.hasTable('items').catch((e: unknown) => e);
    await store.close();
    expect(missing).toBeInstanceOf(StoreError);
    expect((missing as StoreError).message).not.toContain('s3cret-pw');
    expect((missing as StoreError).hint).toMatch(/does not exist/);

    const closed = await openStore('postgres://someone:s3cret-pw@127.0.0.1:1/db');
    const refused = await closed.hasTable('items').catch((e: unknown) => e);
    await closed.close();
    expect(refused).toBeInstanceOf(StoreError);
    expect(String((refused as StoreError).message)).not.toContain('s3cret-pw');
    expect((refused as StoreError).message).toContain('***');
    expect((refused as StoreError).hint).toMatch(/host and port/);
  });

  it('a table made by hand whose column cannot hold the values is refused before any row, naming the column, no value shown', async () => {
    const url = await freshDb();
    await withPg(url, (c) => c.query('CREATE TABLE items (item_code varchar(64) PRIMARY KEY, description varchar(255) NOT NULL, item_type text, uom varchar(16) NOT NULL, category varchar(64), standard_cost integer, lead_time_days bigint, active boolean NOT NULL)'));
    const demo = demoCopy();
    const err = await runPlan({ plan: demo.plan, command: 'migrate', target: url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    const se = err as StoreError;
    // Refused by the comparison with the model (table-shape.ts) before COPY could fail on a value.
    expect(se.message).toMatch(/items\.standard_cost is integer, the model has numeric\(18, 4\); nothing was loaded$/);
    expect(se.message).not.toMatch(/\d{3,}\.\d{4}/);
    expect(se.hint).toMatch(/drop the table so forklift creates it/);
    await withPg(url, async (c) => {
      const tables = await c.query<{ relname: string }>("SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY relname");
      // The failed attempt is on record; the model's other tables were not committed.
      expect(tables.rows.map((r) => r.relname)).toEqual(['forklift_runs', 'items']);
      expect((await c.query('SELECT count(*)::int AS n FROM items')).rows[0]).toEqual({ n: 0 });
    });
  });

  it('round trip (property): 18-digit decimals, instants with offsets, dates, Unicode and control characters, empty versus missing', async () => {
    const url = await freshDb();
    const decimal = fc.tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 10n ** 12n - 1n }), fc.bigInt({ min: 0n, max: 10n ** 6n - 1n })).map(([neg, i, f]) => {
      const body = `${i}.${f.toString().padStart(6, '0')}`;
      return { text: `${neg ? '-' : ''}${body}`, canon: `${neg && (i !== 0n || f !== 0n) ? '-' : ''}${body}` };
    });
    const text = fc.string({ unit: fc.constantFrom('a', 'Z', 'ä', 'ß', 'e\u0301', '漢', '😀', '\\', '\t', '\n', '\r\n', '"', ',', 'N', ' '), minLength: 1, maxLength: 24 });
    const instant = fc.record({ ms: fc.integer({ min: Date.UTC(1901, 0, 1), max: Date.UTC(2199, 0, 1) }), offsetMin: fc.integer({ min: -48, max: 56 }).map((x) => x * 15) });
    const iso = (ms: number, off: number): string => {
      const local = new Date(ms + off * 60000).toISOString().slice(0, 23);
      const a = Math.abs(off);
      return `${local}${off < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
    };
    let round = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ amount: decimal, at: instant, day: fc.integer({ min: Date.UTC(1800, 0, 1), max: Date.UTC(2399, 11, 31) }), note: fc.option(text), flag: fc.boolean(), tag: fc.constantFrom('', 'x', null) }), { minLength: 1, maxLength: 25 }),
        async (rows) => {
          const dir = tempDir('forklift-pg-prop-');
          round++;
          writeFileSync(
            path.join(dir, 'in.csv'),
            stringify([['ID', 'AMOUNT', 'AT', 'DAY', 'NOTE', 'FLAG', 'TAG'], ...rows.map((r, i) => [String(i + 1), r.amount.text, iso(r.at.ms, r.at.offsetMin), new Date(r.day).toISOString().slice(0, 10), r.note ?? '', r.flag ? 'yes' : 'no', r.tag === null ? 'none' : r.tag === '' ? 'empty' : r.tag])]),
          );
          writeFileSync(
            path.join(dir, 'model.yaml'),
            `entities:\n  probes:\n    primary_key: [id]\n    columns:\n      id: { type: integer }\n      amount: { type: decimal, precision: 18, scale: 6 }\n      at: { type: timestamp }\n      day: { type: date }\n      note: { type: text }\n      flag: { type: boolean }\n      tag: { type: string, length: 8 }\n`,
          );
          writeFileSync(
            path.join(dir, 'm.yaml'),
            `entity: probes\nsource: { format: csv, path: in.csv, encoding: utf-8, delimiter: "," }\nfields:\n  id: { from: ID }\n  amount: { from: AMOUNT }\n  at: { from: AT }\n  day: { from: DAY }\n  note: { from: NOTE }\n  flag: { from: FLAG }\n  tag: { from: TAG, values: { none: null, empty: "", x: x } }\n`,
          );
          writeFileSync(path.join(dir, 'forklift.yaml'), `name: prop-${round}\ntarget: sqlite:./unused.db\nmodel: ./model.yaml\nmappings: [m.yaml]\nload: replace\n`);
          const res = await runPlan({ plan: path.join(dir, 'forklift.yaml'), command: 'migrate', target: url });
          expect(res.entities[0]).toMatchObject({ read: rows.length, loaded: rows.length });
          const got = await withPg(url, async (c) => (await c.query({ text: "SELECT amount::text, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), to_char(day, 'YYYY-MM-DD'), note, flag, tag FROM probes ORDER BY id", rowMode: 'array' })).rows);
          expect(got).toEqual(
            rows.map((r) => [
              r.amount.canon,
              new Date(r.at.ms).toISOString(),
              new Date(r.day).toISOString().slice(0, 10),
              r.note === null || r.note === '' ? null : r.note.normalize('NFC'),
              r.flag,
              r.tag,
            ]),
          );
        },
      ),
      { numRuns: 12 },
    );
  });
});
