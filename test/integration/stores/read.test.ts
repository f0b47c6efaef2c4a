import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareText, keyComparer } from '../../../src/bundle/order.js';
import { StoreError } from '../../../src/core/errors.js';
import { factoryModel } from '../../../src/model/factory.js';
import type { Column, Entity, Model } from '../../../src/model/types.js';
import { runPlan } from '../../../src/run/pipeline.js';
import { Staging, stagingTable } from '../../../src/run/staging.js';
import { openStore, type TargetStore } from '../../../src/stores/index.js';
import { READ_ROWS_BATCH, TABLES_TABLE, tableDefinition } from '../../../src/stores/read-common.js';
import { MYSQL_TABLES_DDL } from '../../../src/stores/read-mysql.js';
import { PG_TABLES_DDL, pgByteOrderedCollations, pgColumnsSql, pgReadPlan, pgTables, type PgColumnRow } from '../../../src/stores/read-postgres.js';
import { SQLITE_TABLES_DDL } from '../../../src/stores/read-sqlite.js';
import { RUNS_ENTITY } from '../../../src/stores/runs-entity.js';
import type { RunEntry } from '../../../src/stores/types.js';
import { ROOT, demoCopy, tempDir } from '../../helpers.js';
import { MYSQL_ADMIN_URL, MysqlDatabases, PG_ADMIN_URL, PgDatabases, mysqlAdminConfig, probeMysql, probePg, reportUnreachable, withPg } from './live.js';

/**
 * The read side of every store (describeTables, readRows; `forklift export` and `forklift diff`
 * stand on it) against real SQLite, PostgreSQL and MariaDB. The key property: the same data read
 * from any store gives the same description and the same rows, value for value and in the same
 * (canonical) order, so an export is the same bytes whichever store it came from.
 * Servers as in the other store suites (FORKLIFT_TEST_PG_URL, FORKLIFT_TEST_MYSQL_URL): every
 * database is made for this file and dropped at the end; an unreachable server skips its part
 * with a warning, except under CI, where it fails.
 */

const FILE = 'test/integration/stores/read.test.ts';
const pgDown = await probePg();
const myDown = await probeMysql();
reportUnreachable('PostgreSQL', PG_ADMIN_URL, pgDown, FILE);
reportUnreachable('MariaDB', MYSQL_ADMIN_URL, myDown, FILE);

const pgDbs = new PgDatabases();
const myDbs = new MysqlDatabases();
afterAll(async () => {
  await Promise.all([pgDbs.dropAll(), myDbs.dropAll()]);
});

type Kind = 'sqlite' | 'postgres' | 'mysql';

/** A fresh, empty database of each reachable kind, and a way to run raw SQL on it. */
interface Target {
  kind: Kind;
  url: string;
  exec(statements: string[]): Promise<void>;
}

async function freshTarget(kind: Kind): Promise<Target> {
  if (kind === 'sqlite') {
    const file = path.join(tempDir('forklift-read-'), 'store.db');
    return {
      kind,
      url: `sqlite:${file}`,
      exec: async (statements) => {
        const db = new Database(file);
        try {
          for (const s of statements) db.exec(s);
        } finally {
          db.close();
        }
      },
    };
  }
  if (kind === 'postgres') {
    const { url } = await pgDbs.create();
    return { kind, url, exec: (statements) => withPg(url, async (c) => void (await c.query(statements.join(';\n')))) };
  }
  const { name, url } = await myDbs.create();
  return {
    kind,
    url,
    exec: async (statements) => {
      const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
      try {
        await c.query("SET time_zone = '+00:00'");
        for (const s of statements) await c.query(s);
      } finally {
        await c.end();
      }
    },
  };
}

const KINDS: Kind[] = ['sqlite', ...(pgDown === null ? (['postgres'] as const) : []), ...(myDown === null ? (['mysql'] as const) : [])];

/** Every batch of a table, and its rows. */
async function readAll(store: TargetStore, e: Entity, opts: { signal?: AbortSignal } = {}): Promise<{ rows: unknown[][]; batches: number[] }> {
  const rows: unknown[][] = [];
  const batches: number[] = [];
  for await (const b of store.readRows(e, opts)) {
    batches.push(b.length);
    rows.push(...b);
  }
  return { rows, batches };
}

/** Asserts the rows are in canonical order (strictly, where there is a primary key). */
function expectCanonical(e: Entity, rows: readonly unknown[][]): void {
  const keys = e.primaryKey.length ? e.primaryKey : e.columns.map((c) => c.name);
  const cmp = keyComparer(e.columns, keys.map((k) => e.columns.findIndex((c) => c.name === k)));
  for (let i = 1; i < rows.length; i++) {
    const c = cmp(rows[i - 1]!, rows[i]!);
    if (e.primaryKey.length ? c >= 0 : c > 0) throw new Error(`${e.name}: row ${i} is out of canonical order: ${JSON.stringify(rows[i - 1])} then ${JSON.stringify(rows[i])}`);
  }
}

/** Asserts every value is in the staging form of its column. */
function expectStagingForm(e: Entity, rows: readonly unknown[][]): void {
  e.columns.forEach((c, i) => {
    const check = (v: unknown): boolean => {
      switch (c.type) {
        case 'integer':
          return typeof v === 'number' ? Number.isSafeInteger(v) : typeof v === 'string' && /^-?\d{16,}$/.test(v);
        case 'boolean':
          return v === 0 || v === 1;
        case 'decimal':
          return typeof v === 'string' && new RegExp(`^-?\\d+${c.scale ? `\\.\\d{${c.scale}}` : ''}$`).test(v);
        case 'date':
          return typeof v === 'string' && /^\d{4}-\d\d-\d\d$/.test(v);
        case 'timestamp':
          return typeof v === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(v);
        case 'enum':
          return typeof v === 'string' && (c.values ?? []).includes(v);
        case 'string':
        case 'text':
          return typeof v === 'string';
      }
    };
    for (const r of rows) if (r[i] !== null && !check(r[i])) throw new Error(`${e.name}.${c.name}: ${JSON.stringify(r[i])} is not in the staging form of ${c.type}`);
  });
}

const ENTITIES = ['items', 'bom_lines', 'stock_balances', 'machine_events'] as const;
const model = factoryModel();
const withoutRules = (e: Entity): Entity => ({ ...e, rules: [] });
const expected = JSON.parse(readFileSync(path.join(ROOT, 'fixtures', 'demo', 'expected.json'), 'utf8')) as { ledger: Record<string, { loaded: number }> };

describe('the demo read back from every store', () => {
  const stores = new Map<Kind, TargetStore>();
  const targets = new Map<Kind, Target>();

  beforeAll(async () => {
    await Promise.all(
      KINDS.map(async (kind) => {
        const t = await freshTarget(kind);
        const demo = demoCopy();
        const res = await runPlan({ plan: demo.plan, command: 'migrate', target: t.url });
        expect(res.status, kind).toBe('succeeded');
        targets.set(kind, t);
        stores.set(kind, await openStore(t.url));
      }),
    );
  }, 120_000);

  afterAll(async () => {
    for (const s of stores.values()) await s.close();
  });

  it('describes every table: the model exactly for its entities, the catalog for forklift_runs', async () => {
    for (const [kind, store] of stores) {
      const tables = await store.describeTables();
      expect(tables.map((t) => t.name), kind).toEqual(['bom_lines', 'forklift_runs', 'items', 'machine_events', 'stock_balances']);
      for (const name of ENTITIES) expect(tables.find((t) => t.name === name), `${kind} ${name}`).toEqual(withoutRules(model.entities.get(name)!));
      const runs = tables.find((t) => t.name === 'forklift_runs')!;
      expect(runs.primaryKey, kind).toEqual(['id']);
      expect(runs.columns.map((c) => c.name)).toEqual(RUNS_ENTITY.columns.map((c) => c.name));
      const type = (n: string): string => {
        const c = runs.columns.find((x) => x.name === n)!;
        return `${c.type}${c.length ?? ''}${c.required ? '!' : ''}`;
      };
      // Each store's own DDL, described as it stands (the bundle uses RUNS_ENTITY instead).
      const want = {
        sqlite: ['text!', 'text!', 'text', 'text'],
        postgres: ['text!', 'timestamp!', 'text', 'text'],
        mysql: ['string64!', 'string32!', 'string255', 'text'],
      }[kind];
      expect(['id', 'started', 'operator', 'files'].map(type), kind).toEqual(want);
    }
  });

  it('records each loaded table in forklift_tables, in the model\'s words, rules left out', async () => {
    const sqlite = targets.get('sqlite')!;
    const db = new Database(sqlite.url.slice('sqlite:'.length), { readonly: true });
    try {
      const rows = db.prepare(`SELECT name, definition FROM ${TABLES_TABLE} ORDER BY name`).all() as { name: string; definition: string }[];
      expect(rows.map((r) => r.name)).toEqual(['bom_lines', 'items', 'machine_events', 'stock_balances']);
      for (const r of rows) {
        const e = model.entities.get(r.name)!;
        expect(r.definition).toBe(tableDefinition(e));
        expect(JSON.parse(r.definition)).toEqual({ name: e.name, description: e.description, columns: e.columns, primaryKey: e.primaryKey });
      }
    } finally {
      db.close();
    }
  });

  it('reads every table in canonical order, in the staging form, the very same rows on every store', async () => {
    const reference = new Map<string, unknown[][]>();
    for (const [kind, store] of stores) {
      for (const name of ENTITIES) {
        const e = model.entities.get(name)!;
        const { rows, batches } = await readAll(store, e);
        expect(rows.length, `${kind} ${name}`).toBe(expected.ledger[name]!.loaded);
        expect(Math.max(...batches)).toBeLessThanOrEqual(READ_ROWS_BATCH);
        expectCanonical(e, rows);
        expectStagingForm(e, rows);
        if (!reference.has(name)) reference.set(name, rows);
        else expect(rows, `${kind} ${name}`).toEqual(reference.get(name));
      }
    }
    // The demo has what the comparison needs: empty strings apart from NULL, negative and
    // fixed-scale decimals, instants with and without milliseconds.
    const balances = reference.get('stock_balances')!;
    expect(balances.some((r) => r[2] === '')).toBe(true);
    const events = reference.get('machine_events')!;
    expect(events.some((r) => r[5] === null)).toBe(true);
  });

  it('reads the run ledger as the bundle describes it (RUNS_ENTITY): instants as ISO text on every store', async () => {
    for (const [kind, store] of stores) {
      const { rows } = await readAll(store, RUNS_ENTITY);
      expect(rows, kind).toHaveLength(1);
      const r = rows[0]!;
      expect(r[1], kind).toBe('migrate');
      expect(r[3], kind).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(r[4], kind).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(JSON.parse(r[10] as string), kind).toMatchObject({ items: { loaded: 105 } });
      expect(r[11], kind).toBeNull();
    }
  });

  it('streams: batches of at most READ_ROWS_BATCH rows; a read stopped early or aborted leaves the store usable', async () => {
    const big: Entity = {
      name: 'many_rows',
      columns: [
        { name: 'id', type: 'integer', required: true },
        { name: 'label', type: 'string', length: 20, required: false },
      ],
      primaryKey: ['id'],
      rules: [],
    };
    const B = READ_ROWS_BATCH;
    const n = 2 * B + 1; // full batches, then one row
    for (const [kind, store] of stores) {
      const t = targets.get(kind)!;
      const values: string[] = [];
      for (let i = 1; i <= n; i++) values.push(`(${i}, 'row ${i}')`);
      const inserts: string[] = [];
      for (let i = 0; i < values.length; i += 5000) inserts.push(`INSERT INTO many_rows (id, label) VALUES ${values.slice(i, i + 5000).join(', ')}`);
      await t.exec([kind === 'mysql' ? 'CREATE TABLE many_rows (id bigint NOT NULL PRIMARY KEY, label varchar(20)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin' : 'CREATE TABLE many_rows (id bigint NOT NULL PRIMARY KEY, label varchar(20))', ...inserts]);

      const { rows, batches } = await readAll(store, big);
      expect(batches, kind).toEqual([...Array<number>(Math.floor(n / B)).fill(B), n % B]);
      expect(rows[0]).toEqual([1, 'row 1']);
      expect(rows[n - 1]).toEqual([n, `row ${n}`]);

      // The consumer stops after the first batch.
      for await (const b of store.readRows(big)) {
        expect(b.length).toBe(B);
        break;
      }
      // Aborted after the first batch: the read stops with the abort, not with a store error.
      const ac = new AbortController();
      let seen = 0;
      await expect(
        (async () => {
          for await (const b of store.readRows(big, { signal: ac.signal })) {
            seen += b.length;
            ac.abort();
          }
        })(),
      ).rejects.toMatchObject({ name: 'AbortError' });
      expect(seen).toBe(B);
      // Still usable, with a full read, several times over (no connection left behind).
      for (let i = 0; i < 3; i++) expect((await readAll(store, big)).rows.length, kind).toBe(n);
    }
  }, 60_000);

  it('says plainly when a table or column is not there', async () => {
    for (const [kind, store] of stores) {
      const ghost: Entity = { name: 'no_such_table', columns: [{ name: 'x', type: 'text', required: false }], primaryKey: [], rules: [] };
      await expect(readAll(store, ghost), kind).rejects.toThrow(StoreError);
      await expect(readAll(store, ghost), kind).rejects.toThrow(/no table no_such_table/);
      const items = model.entities.get('items')!;
      const wrong: Entity = { ...items, columns: [...items.columns, { name: 'colour', type: 'string', length: 8, required: false }] };
      await expect(readAll(store, wrong), kind).rejects.toThrow(/items has no column colour/);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Keys that sort differently under other orders

const str = (name: string, length: number, extra: Partial<Column> = {}): Column => ({ name, type: 'string', length, required: false, ...extra });

const keyModel: Model = {
  name: 'keys',
  entities: new Map<string, Entity>([
    [
      'codes',
      {
        name: 'codes',
        description: 'keys in every alphabet',
        columns: [str('code', 16, { required: true }), { name: 'seq', type: 'integer', required: true }, str('note', 40)],
        primaryKey: ['code', 'seq'],
        rules: [],
      },
    ],
    [
      'prices',
      {
        name: 'prices',
        columns: [
          { name: 'price', type: 'decimal', precision: 12, scale: 4, required: true },
          { name: 'at', type: 'timestamp', required: false },
          { name: 'ok', type: 'boolean', required: false },
          { name: 'grade', type: 'enum', values: ['zeta', 'alpha', 'mid'], required: false },
        ],
        primaryKey: ['price'],
        rules: [],
      },
    ],
  ]),
};

/**
 * Keys where case, accents, whitespace and characters beyond U+FFFF decide the order: a
 * linguistic collation, a PAD SPACE one (MariaDB's utf8mb4_bin) or UTF-16 order (JavaScript's `<`)
 * each sorts some of them differently from code point order. No two differ only by trailing
 * spaces: MariaDB's PAD SPACE primary key takes them for one key.
 */
const CODES = ['apple', 'Apple', 'APPLE', 'äpple', 'Äpple', 'apfel', 'zebra', 'Zebra', 'é', 'e', 'f', 'b ', 'b!', 'b\t', 'c', 'c\t', 'c\u0001', 'x\uFFFD', 'x\u{1F600}', 'x\uFB01', '\u{1F600}', '\u{1F642}', 'ab', 'a', 'Z', 'z', '0', '10', '9', '~', 'ß', 'ss', 'ı', 'İ', 'ø', 'o', 'ő'];
const PRICES = ['-10.5000', '-2.0000', '-0.5100', '-0.5000', '-0.0500', '0.0000', '0.0100', '0.1000', '2.0000', '10.0000', '100.0000', '99999999.9999'];

function keyLoad(dir: string): { stagingFile: string; rows: Record<string, unknown[][]> } {
  const rows: Record<string, unknown[][]> = {
    codes: CODES.flatMap((code, i) => [
      [code, 2, `note ${i}`],
      [code, 10, null],
    ]),
    prices: PRICES.map((p, i) => [p, i % 3 === 0 ? null : `2024-0${(i % 9) + 1}-15T12:00:0${i % 10}.${String(i * 7).padStart(3, '0')}Z`, i % 2, i % 4 === 0 ? null : (['zeta', 'alpha', 'mid'] as const)[i % 3]!]),
  };
  const file = path.join(dir, 'staging.sqlite');
  const st = new Staging(file);
  for (const [name, rs] of Object.entries(rows)) {
    st.createEntity(keyModel.entities.get(name)!);
    rs.forEach((r, i) => st.insertRow(name, i + 2, r as never));
    st.flushRows(name);
  }
  st.commit();
  st.close();
  return { stagingFile: file, rows };
}

function runEntry(): RunEntry {
  const now = new Date().toISOString();
  return { id: `read-${Math.random().toString(36).slice(2, 10)}`, command: 'migrate', status: 'succeeded', started: now, finished: now, operator: 'test', host: 'test', tool_version: '0', plan_sha256: null, files: {}, counts: {}, message: null };
}

describe('keys with mixed case, accents, whitespace and emoji', () => {
  it('sort identically on every store: code point order, decimals by value', async () => {
    const staged = keyLoad(tempDir('forklift-keys-'));
    const results = new Map<Kind, Map<string, unknown[][]>>();
    for (const kind of KINDS) {
      const t = await freshTarget(kind);
      const store = await openStore(t.url);
      try {
        const loaded = await store.load({
          model: keyModel,
          stagingFile: staged.stagingFile,
          entities: [...keyModel.entities.values()].map((entity) => ({ entity, mode: 'replace' as const, stagedTable: stagingTable(entity.name), expected: staged.rows[entity.name]!.length })),
          entry: runEntry(),
        });
        expect(loaded.get('codes'), kind).toBe(CODES.length * 2);
        const described = await store.describeTables();
        const byKind = new Map<string, unknown[][]>();
        for (const e of keyModel.entities.values()) {
          expect(described.find((d) => d.name === e.name), `${kind} ${e.name}`).toEqual(e);
          const { rows } = await readAll(store, e);
          expectCanonical(e, rows);
          expectStagingForm(e, rows);
          byKind.set(e.name, rows);
        }
        results.set(kind, byKind);
      } finally {
        await store.close();
      }
    }
    // Code point order of the keys, computed here: every store gave exactly it.
    const codeOrder = [...CODES].sort(compareText);
    const priceOrder = [...PRICES].sort((a, b) => Number(a) - Number(b));
    for (const [kind, byKind] of results) {
      expect([...new Set(byKind.get('codes')!.map((r) => r[0]))], kind).toEqual(codeOrder);
      expect(byKind.get('codes')!.slice(0, 2).map((r) => r[1]), kind).toEqual([2, 10]);
      expect(byKind.get('prices')!.map((r) => r[0]), kind).toEqual(priceOrder);
      expect(byKind, kind).toEqual(results.get('sqlite'));
    }
    // The order is not JavaScript's default (UTF-16) order, nor a case-insensitive one.
    expect(codeOrder).not.toEqual([...CODES].sort());
    expect(codeOrder.indexOf('x\uFB01')).toBeLessThan(codeOrder.indexOf('x\u{1F600}'));
    expect(codeOrder.indexOf('c')).toBeLessThan(codeOrder.indexOf('c\t'));
  }, 60_000);
});

describe('PostgreSQL: a key-order read walks the primary key when the key sorts by code point', () => {
  it.skipIf(pgDown !== null)('probes each collation; the ORDER BY matches the index only then; a load leaves statistics', async () => {
    const t = await freshTarget('postgres');
    await t.exec(["CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)"]);
    const staged = keyLoad(tempDir('forklift-keys-'));
    const codes = keyModel.entities.get('codes')!;
    const store = await openStore(t.url);
    try {
      await store.load({ model: keyModel, stagingFile: staged.stagingFile, entities: [{ entity: codes, mode: 'replace', stagedTable: stagingTable('codes'), expected: CODES.length * 2 }], entry: runEntry() });
    } finally {
      await store.close();
    }
    await withPg(t.url, async (c) => {
      // The load ran ANALYZE: without statistics the planner sorts the table rather than walk its key.
      const stats = await c.query<{ n: number }>("SELECT reltuples::int AS n FROM pg_class WHERE relname = 'codes'");
      expect(stats.rows[0]!.n).toBe(CODES.length * 2);
      const ordered = await pgByteOrderedCollations(c, ['pg_catalog."default"', 'pg_catalog."C"', 'pg_catalog."POSIX"', 'pg_catalog."und-x-icu"', 'public.ci', 'x; DROP TABLE codes']);
      // This server's databases are C.UTF-8 (code point order); ICU's root order and a case-blind one are not.
      expect([...ordered].sort()).toEqual(['pg_catalog."C"', 'pg_catalog."POSIX"', 'pg_catalog."default"']);
      const cols = (await c.query<PgColumnRow>(pgColumnsSql(true), ['codes'])).rows;
      expect(cols[0]!.co).toBe('pg_catalog."default"');
      const native = pgTables(cols, [])[0]!.columns;
      const plan = async (byteOrdered: Set<string>): Promise<string> => {
        const { sql } = pgReadPlan(codes, native, cols[0]!.s, undefined, byteOrdered);
        await c.query('SET enable_seqscan = off');
        const res = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql.slice('COPY ('.length, -') TO STDOUT'.length)}`);
        return res.rows.map((r) => r['QUERY PLAN']).join('\n');
      };
      const walked = await plan(new Set(['code']));
      expect(walked).toMatch(/Index Scan using codes_pkey/);
      expect(walked).not.toMatch(/Sort/);
      expect(await plan(new Set())).toMatch(/Sort Key: code COLLATE "C", seq/);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Tables forklift did not make

describe('tables made by hand', () => {
  it('SQLite: described by affinity (REAL as text, exactly), read in canonical order over every column', async () => {
    const t = await freshTarget('sqlite');
    await t.exec([
      'CREATE TABLE hand (label TEXT COLLATE NOCASE, code VARCHAR(4), qty REAL, n INTEGER NOT NULL, amount NUMERIC, raw BLOB, note)',
      `INSERT INTO hand VALUES ('b', 'X', 1.5, 3, 12.5, x'00ff', 'n1'), ('a ', 'y', 0.1, 1, '7', NULL, NULL), ('a', 'Y', 1e21, 9007199254740993, 3, NULL, 2),
        ('a', 'Y', 1e21, 9007199254740993, 3, NULL, 2), (NULL, '', NULL, -1, NULL, NULL, NULL), ('', NULL, -0.5, 0, 1.10, NULL, 'x'), ('a' || char(9), 'tab', 2.5, 5, -3, NULL, NULL), ('B', 'up', 1, 1, 1, NULL, NULL)`,
      'CREATE TABLE parent (a INTEGER, b TEXT, PRIMARY KEY (a, b))',
      'CREATE TABLE single (x INTEGER PRIMARY KEY)',
      'CREATE TABLE child (id TEXT PRIMARY KEY, pa INTEGER, pb TEXT, one INTEGER REFERENCES single, u TEXT UNIQUE, FOREIGN KEY (pa, pb) REFERENCES parent (a, b))',
    ]);
    const store = await openStore(t.url);
    try {
      const tables = await store.describeTables();
      expect(tables.map((x) => x.name)).toEqual(['child', 'hand', 'parent', 'single']);
      const hand = tables.find((x) => x.name === 'hand')!;
      expect(hand).toEqual({
        name: 'hand',
        columns: [
          { name: 'label', type: 'text', required: false },
          { name: 'code', type: 'text', required: false },
          { name: 'qty', type: 'text', required: false },
          { name: 'n', type: 'integer', required: true },
          { name: 'amount', type: 'text', required: false },
          { name: 'raw', type: 'text', required: false },
          { name: 'note', type: 'text', required: false },
        ],
        primaryKey: [],
        rules: [],
      });
      expect(tables.find((x) => x.name === 'child')).toEqual({
        name: 'child',
        columns: [
          { name: 'id', type: 'text', required: true },
          { name: 'pa', type: 'integer', required: false },
          { name: 'pb', type: 'text', required: false },
          // A foreign key to the parent's primary key (no column named): resolved; the composite one left out.
          { name: 'one', type: 'integer', required: false, references: { entity: 'single', column: 'x' } },
          { name: 'u', type: 'text', required: false, unique: true },
        ],
        primaryKey: ['id'],
        rules: [],
      });
      const { rows } = await readAll(store, hand);
      expect(rows).toEqual([
        [null, '', null, -1, null, null, null],
        ['', null, '-0.5', 0, '1.1', null, 'x'],
        // By code point, not by the column's NOCASE collation: 'B' before 'a'.
        ['B', 'up', '1', 1, '1', null, null],
        ['a', 'Y', '1e+21', '9007199254740993', '3', null, '2'],
        ['a', 'Y', '1e+21', '9007199254740993', '3', null, '2'],
        ['a\t', 'tab', '2.5', 5, '-3', null, null],
        ['a ', 'y', '0.1', 1, '7', null, null],
        ['b', 'X', '1.5', 3, '12.5', '\\x00ff', 'n1'],
      ]);
      expectCanonical(hand, rows);
    } finally {
      await store.close();
    }
  });

  it.skipIf(pgDown !== null)('PostgreSQL: a table that others INHERIT from is read with its own rows only; a partitioned one with its partitions', async () => {
    const t = await freshTarget('postgres');
    await t.exec([
      'CREATE TABLE base (id int PRIMARY KEY, v text)',
      'CREATE TABLE sub (extra int) INHERITS (base)',
      "INSERT INTO base VALUES (1, 'base row')",
      "INSERT INTO sub VALUES (2, 'sub row', 7)",
      'CREATE TABLE parted (id int PRIMARY KEY) PARTITION BY RANGE (id)',
      'CREATE TABLE parted_low PARTITION OF parted FOR VALUES FROM (0) TO (10)',
      'INSERT INTO parted VALUES (3), (4)',
    ]);
    const store = await openStore(t.url);
    try {
      const tables = new Map((await store.describeTables()).map((e) => [e.name, e]));
      expect([...tables.keys()].filter((n) => !n.startsWith('forklift')).sort()).toEqual(['base', 'parted', 'sub']);
      expect((await readAll(store, tables.get('base')!)).rows).toEqual([[1, 'base row']]);
      expect((await readAll(store, tables.get('sub')!)).rows).toEqual([[2, 'sub row', 7]]);
      expect((await readAll(store, tables.get('parted')!)).rows).toEqual([[3], [4]]);
    } finally {
      await store.close();
    }
  });

  it.skipIf(pgDown !== null)('PostgreSQL: native types to model types, comments, keys; values in the staging form', async () => {
    const t = await freshTarget('postgres');
    await t.exec([
      "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
      'CREATE DOMAIN code4 AS varchar(4)',
      // A linguistic collation on the first column (ICU, in every Debian build): 'B' between 'a' and 'b'.
      `CREATE TABLE hand (label varchar(10) COLLATE "und-x-icu", code char(4), c4 code4, amount numeric(10,3), free numeric, ratio double precision, flag boolean, day date,
        at timestamp(3), at_tz timestamptz, n integer NOT NULL, big bigint, doc jsonb, id uuid, m mood, bytes bytea, note text)`,
      "COMMENT ON TABLE hand IS 'made by hand'",
      "COMMENT ON COLUMN hand.label IS 'what it is'",
      `INSERT INTO hand VALUES
        ('b', 'ab', 'q', 12.5, 1.50, 0.1, true, '2024-02-29', '2024-02-29 12:34:56.789', '2024-01-01 00:00:00+02', 3, 9007199254740993, '{"b": 1, "a": [1, 2]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'ok', '\\x00ff', E'line\\nbreak'),
        ('a', NULL, NULL, -0.5, NULL, -2.5e-10, false, '0044-03-15 BC', '2024-01-01 00:00:00', '2024-01-01 00:00:00.123+00', 1, -42, NULL, NULL, 'happy', NULL, E'tab\\there \\\\ back'),
        (NULL, 'x', NULL, 0, 0, NULL, NULL, '10000-01-01', NULL, '1969-12-31 23:59:59.5+00', 2, NULL, NULL, NULL, 'sad', NULL, ''),
        ('a\t', '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 4, NULL, NULL, NULL, NULL, NULL, NULL),
        ('a ', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 5, NULL, NULL, NULL, NULL, NULL, 'é 😀'),
        ('B', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 6, NULL, NULL, NULL, NULL, NULL, NULL)`,
      'CREATE TABLE parent (a int, b text, PRIMARY KEY (a, b))',
      'CREATE TABLE single (x int PRIMARY KEY)',
      'CREATE TABLE child (id int PRIMARY KEY, pa int, pb text, one int REFERENCES single, u text UNIQUE, FOREIGN KEY (pa, pb) REFERENCES parent (a, b))',
    ]);
    const store = await openStore(t.url);
    try {
      const tables = await store.describeTables();
      expect(tables.map((x) => x.name)).toEqual(['child', 'hand', 'parent', 'single']);
      const hand = tables.find((x) => x.name === 'hand')!;
      expect(hand).toEqual({
        name: 'hand',
        description: 'made by hand',
        columns: [
          { name: 'label', type: 'string', length: 10, required: false, description: 'what it is' },
          { name: 'code', type: 'string', length: 4, required: false },
          { name: 'c4', type: 'string', length: 4, required: false },
          { name: 'amount', type: 'decimal', precision: 10, scale: 3, required: false },
          { name: 'free', type: 'text', required: false },
          { name: 'ratio', type: 'text', required: false },
          { name: 'flag', type: 'boolean', required: false },
          { name: 'day', type: 'date', required: false },
          { name: 'at', type: 'timestamp', required: false },
          { name: 'at_tz', type: 'timestamp', required: false },
          { name: 'n', type: 'integer', required: true },
          { name: 'big', type: 'integer', required: false },
          { name: 'doc', type: 'text', required: false },
          { name: 'id', type: 'text', required: false },
          { name: 'm', type: 'enum', values: ['sad', 'ok', 'happy'], required: false },
          { name: 'bytes', type: 'text', required: false },
          { name: 'note', type: 'text', required: false },
        ],
        primaryKey: [],
        rules: [],
      });
      expect(tables.find((x) => x.name === 'child')).toEqual({
        name: 'child',
        columns: [
          { name: 'id', type: 'integer', required: true },
          { name: 'pa', type: 'integer', required: false },
          { name: 'pb', type: 'text', required: false },
          { name: 'one', type: 'integer', required: false, references: { entity: 'single', column: 'x' } },
          { name: 'u', type: 'text', required: false, unique: true },
        ],
        primaryKey: ['id'],
        rules: [],
      });
      const { rows } = await readAll(store, hand);
      expect(rows).toEqual([
        [null, 'x', null, '0.000', '0', null, null, '+010000-01-01', null, '1969-12-31T23:59:59.500Z', 2, null, null, null, 'sad', null, ''],
        ['B', null, null, null, null, null, null, null, null, null, 6, null, null, null, null, null, null],
        ['a', null, null, '-0.500', null, '-2.5e-10', 0, '-000043-03-15', '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.123Z', 1, -42, null, null, 'happy', null, 'tab\there \\ back'],
        ['a\t', '', null, null, null, null, null, null, null, null, 4, null, null, null, null, null, null],
        ['a ', null, null, null, null, null, null, null, null, null, 5, null, null, null, null, null, 'é 😀'],
        ['b', 'ab', 'q', '12.500', '1.50', '0.1', 1, '2024-02-29', '2024-02-29T12:34:56.789Z', '2023-12-31T22:00:00.000Z', 3, '9007199254740993', '{"a": [1, 2], "b": 1}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'ok', '\\x00ff', 'line\nbreak'],
      ]);
      expectCanonical(hand, rows);
    } finally {
      await store.close();
    }
  });

  it.skipIf(myDown !== null)('MariaDB: native types to model types, comments, keys; latin1 and ENUM sorted by their text', async () => {
    const t = await freshTarget('mysql');
    await t.exec([
      `CREATE TABLE hand (label varchar(10) CHARACTER SET latin1 COLLATE latin1_swedish_ci COMMENT 'what it is', code char(4), amount decimal(10,3), ratio double, flag tinyint(1), bit1 bit(1),
        day date, at datetime, at6 timestamp(6) NULL DEFAULT NULL, n int NOT NULL, big bigint unsigned, e enum('zeta','alpha'), bytes varbinary(8), note text)
        DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci COMMENT='made by hand'`,
      `INSERT INTO hand VALUES
        ('z', 'ab', 12.5, 0.1, 1, b'1', '2024-02-29', '2024-02-29 12:34:56', '2024-01-01 00:00:00.123', 3, 18446744073709551615, 'zeta', x'00ff', 'line\\nbreak'),
        ('é', 'x', -0.5, -2.5e-10, 0, b'0', '1000-01-01', '9999-12-31 23:59:59', NULL, 1, 1, 'alpha', NULL, 'tab\\there \\\\ back'),
        ('€', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 2, NULL, NULL, NULL, 'é 😀'),
        ('a', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 4, NULL, 'zeta', NULL, NULL),
        ('a', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 4, NULL, 'alpha', NULL, NULL),
        ('a ', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 5, NULL, NULL, NULL, NULL),
        ('a\t', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 6, NULL, NULL, NULL, NULL),
        (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 7, NULL, NULL, NULL, NULL)`,
      'CREATE TABLE parent (a int, b varchar(8), PRIMARY KEY (a, b)) ENGINE=InnoDB',
      'CREATE TABLE single (x int PRIMARY KEY) ENGINE=InnoDB',
      'CREATE TABLE child (id int PRIMARY KEY, pa int, pb varchar(8), one int, u varchar(8) UNIQUE, FOREIGN KEY (pa, pb) REFERENCES parent (a, b), FOREIGN KEY (one) REFERENCES single (x)) ENGINE=InnoDB',
    ]);
    const store = await openStore(t.url);
    try {
      const tables = await store.describeTables();
      expect(tables.map((x) => x.name)).toEqual(['child', 'hand', 'parent', 'single']);
      const hand = tables.find((x) => x.name === 'hand')!;
      expect(hand).toEqual({
        name: 'hand',
        description: 'made by hand',
        columns: [
          { name: 'label', type: 'string', length: 10, required: false, description: 'what it is' },
          { name: 'code', type: 'string', length: 4, required: false },
          { name: 'amount', type: 'decimal', precision: 10, scale: 3, required: false },
          { name: 'ratio', type: 'text', required: false },
          { name: 'flag', type: 'boolean', required: false },
          { name: 'bit1', type: 'boolean', required: false },
          { name: 'day', type: 'date', required: false },
          { name: 'at', type: 'timestamp', required: false },
          { name: 'at6', type: 'timestamp', required: false },
          { name: 'n', type: 'integer', required: true },
          // A bigint unsigned holding a value beyond 2^63 - 1 (Arrow Int64) is described by it.
          { name: 'big', type: 'decimal', precision: 20, scale: 0, required: false },
          { name: 'e', type: 'enum', values: ['zeta', 'alpha'], required: false },
          { name: 'bytes', type: 'text', required: false },
          { name: 'note', type: 'text', required: false },
        ],
        primaryKey: [],
        rules: [],
      });
      expect(tables.find((x) => x.name === 'child')).toEqual({
        name: 'child',
        columns: [
          { name: 'id', type: 'integer', required: true },
          { name: 'pa', type: 'integer', required: false },
          { name: 'pb', type: 'string', length: 8, required: false },
          { name: 'one', type: 'integer', required: false, references: { entity: 'single', column: 'x' } },
          { name: 'u', type: 'string', length: 8, required: false, unique: true },
        ],
        primaryKey: ['id'],
        rules: [],
      });
      const { rows } = await readAll(store, hand);
      // Code point order of the latin1 labels (z < é < €; latin1's own bytes would put € first),
      // 'a\t' before 'a ' (PAD SPACE would put it first), ENUM by label (alpha before zeta).
      expect(rows.map((r) => [r[0], r[11]])).toEqual([
        [null, null],
        ['a', 'alpha'],
        ['a', 'zeta'],
        ['a\t', null],
        ['a ', null],
        ['z', 'zeta'],
        ['é', 'alpha'],
        ['€', null],
      ]);
      expect(rows[5]).toEqual(['z', 'ab', '12.500', '0.1', 1, 1, '2024-02-29', '2024-02-29T12:34:56.000Z', '2024-01-01T00:00:00.123Z', 3, '18446744073709551615', 'zeta', '\\x00ff', 'line\nbreak']);
      // A double as MariaDB prints it (its text, exactly: another store's may differ).
      expect(rows[6]).toEqual(['é', 'x', '-0.500', '-0.00000000025', 0, 0, '1000-01-01', '9999-12-31T23:59:59.000Z', null, 1, '1', 'alpha', null, 'tab\there \\ back']);
      expect(rows[7]![13]).toBe('é 😀');
      expectCanonical(hand, rows);
    } finally {
      await store.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The recorded definition and the table as it stands

describe('forklift_tables against the table as it stands', () => {
  const DDL: Record<Kind, { tables: string; thing: string; changed: string }> = {
    sqlite: {
      tables: SQLITE_TABLES_DDL,
      thing: 'CREATE TABLE thing (code TEXT NOT NULL PRIMARY KEY, kind TEXT, price TEXT, day TEXT)',
      changed: 'CREATE TABLE changed (code TEXT NOT NULL PRIMARY KEY, extra TEXT)',
    },
    postgres: {
      tables: PG_TABLES_DDL,
      thing: 'CREATE TABLE thing (code varchar(8) NOT NULL PRIMARY KEY, kind text, price numeric(9,2), day date)',
      changed: 'CREATE TABLE changed (code varchar(8) NOT NULL PRIMARY KEY, extra text)',
    },
    mysql: {
      tables: MYSQL_TABLES_DDL,
      thing: 'CREATE TABLE thing (code varchar(8) NOT NULL PRIMARY KEY, kind varchar(5), price decimal(9,2), day date) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin',
      changed: 'CREATE TABLE changed (code varchar(8) NOT NULL PRIMARY KEY, extra text) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin',
    },
  };
  const thing: Entity = {
    name: 'thing',
    description: 'recorded, and still true',
    columns: [
      { name: 'code', type: 'string', length: 8, required: true, description: 'the key' },
      { name: 'kind', type: 'enum', values: ['big', 'small'], required: false },
      { name: 'price', type: 'decimal', precision: 9, scale: 2, required: false, min: '0' },
      { name: 'day', type: 'date', required: false },
    ],
    primaryKey: ['code'],
    rules: [],
  };
  const changed: Entity = { name: 'changed', columns: [{ name: 'code', type: 'string', length: 8, required: true }], primaryKey: ['code'], rules: [] };
  const scaled: Entity = { ...thing, name: 'thing', columns: thing.columns.map((c) => (c.name === 'price' ? { ...c, scale: 4 } : c)) };

  it.each(KINDS)('%s: the record for each column the table still has as recorded, the catalog for the others', async (kind) => {
    const t = await freshTarget(kind);
    const lit = (s: string): string => `'${s.replace(/'/g, "''").replace(/\\/g, kind === 'mysql' ? '\\\\' : '\\')}'`;
    await t.exec([DDL[kind].tables, DDL[kind].thing, DDL[kind].changed, `INSERT INTO ${TABLES_TABLE} (name, definition) VALUES ('thing', ${lit(tableDefinition(thing))}), ('changed', ${lit(tableDefinition(changed))}), ('gone', ${lit(tableDefinition({ ...changed, name: 'gone' }))})`, "INSERT INTO thing VALUES ('k1', 'big', 1.5, '2024-01-31')"]);
    const store = await openStore(t.url);
    try {
      const tables = await store.describeTables();
      // forklift_tables itself is not a table of the store's data; a record without its table is no table.
      expect(tables.map((x) => x.name)).toEqual(['changed', 'thing']);
      expect(tables.find((x) => x.name === 'thing')).toEqual(thing);
      const c = tables.find((x) => x.name === 'changed')!;
      expect(c.columns.map((x) => x.name)).toEqual(['code', 'extra']);
      expect((await readAll(store, thing)).rows).toEqual([['k1', 'big', '1.50', '2024-01-31']]);
      // Asked with another scale than the table's, the values come in the scale asked for, exactly.
      expect((await readAll(store, scaled)).rows).toEqual([['k1', 'big', '1.5000', '2024-01-31']]);
    } finally {
      await store.close();
    }
    // A column added by hand is the catalog's; every recorded column keeps its recorded type.
    await t.exec([`ALTER TABLE thing ADD ${kind === 'postgres' ? 'COLUMN ' : ''}drawing_no ${kind === 'mysql' ? 'varchar(32)' : 'text'}`]);
    const added = await openStore(t.url);
    try {
      const d = (await added.describeTables()).find((x) => x.name === 'thing')!;
      expect(d.description).toBe(thing.description);
      expect(d.primaryKey).toEqual(['code']);
      expect(d.columns.slice(0, 4)).toEqual(thing.columns);
      expect(d.columns.slice(4).map((x) => [x.name, x.required])).toEqual([['drawing_no', false]]);
      expect(['string', 'text']).toContain(d.columns[4]!.type);
      expect((await readAll(added, d)).rows).toEqual([['k1', 'big', '1.50', '2024-01-31', null]]);
    } finally {
      await added.close();
    }
    if (kind === 'sqlite') return;
    // A recorded decimal whose column now has another scale is described from the catalog, that
    // column alone: its values may no longer be what the record says.
    await t.exec([kind === 'postgres' ? 'ALTER TABLE thing ALTER COLUMN price TYPE numeric(9,3)' : 'ALTER TABLE thing MODIFY price decimal(9,3)']);
    const again = await openStore(t.url);
    try {
      const d = (await again.describeTables()).find((x) => x.name === 'thing')!;
      expect(d.columns.find((x) => x.name === 'price')).toEqual({ name: 'price', type: 'decimal', precision: 9, scale: 3, required: false });
      expect(d.columns.filter((x) => x.name !== 'price').slice(0, 3)).toEqual(thing.columns.filter((x) => x.name !== 'price'));
      expect((await readAll(again, d)).rows).toEqual([['k1', 'big', '1.500', '2024-01-31', null]]);
    } finally {
      await again.close();
    }
  });
});
