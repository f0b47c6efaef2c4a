import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { exportBundle, type ExportResult } from '../../src/bundle/export.js';
import { verifyBundle } from '../../src/bundle/verify.js';
import { openSnapshot } from '../../src/diff/snapshot.js';
import type { Entity } from '../../src/model/types.js';
import { ROOT, tempDir } from '../helpers.js';
import { liveServers, mysqlAdminConfig } from './stores/live.js';

/**
 * An export (and a diff's store side) reads one snapshot of the whole store: a change committed to
 * two tables while it reads is in the bundle whole or not at all, never one table before it and
 * the other after, and a table emptied by someone else's TRUNCATE is never read as empty. The
 * writers are real second connections, on SQLite (WAL, where a writer commits while the export
 * reads), PostgreSQL and MariaDB. A writer runs from the export's progress callback, after the
 * first batch of the first table, synchronously (a child process for the servers), so the change
 * is committed exactly between the two tables' reads.
 */

const FILE = 'test/integration/export-snapshot.test.ts';
const { pgDown, myDown, pgDbs, myDbs } = await liveServers(FILE);

const ITEMS = 3000;
const STOCK = 3000;

/** a_items, then b_stock referencing it: an export reads them in that order. */
const SCHEMA = [
  'CREATE TABLE a_items (id integer NOT NULL PRIMARY KEY, name varchar(20) NOT NULL)',
  'CREATE TABLE b_stock (id integer NOT NULL PRIMARY KEY, item integer NOT NULL REFERENCES a_items (id), qty integer NOT NULL)',
];

const values = (from: number, to: number, row: (i: number) => string): string =>
  Array.from({ length: to - from + 1 }, (_, k) => row(from + k)).join(', ');

const FILL = [`INSERT INTO a_items (id, name) VALUES ${values(1, ITEMS, (i) => `(${i}, 'item ${i}')`)}`, `INSERT INTO b_stock (id, item, qty) VALUES ${values(1, STOCK, (i) => `(${i}, ${i}, ${i % 17})`)}`];

/**
 * The change: 500 new items, and the stock replaced by 500 rows of only those. Before: 3000 and
 * 3000 rows; after: 3500 and 500. Old items with the new stock break its foreign key.
 */
const CHANGE = [
  `INSERT INTO a_items (id, name) VALUES ${values(5001, 5500, (i) => `(${i}, 'new ${i}')`)}`,
  'DELETE FROM b_stock',
  `INSERT INTO b_stock (id, item, qty) VALUES ${values(1, 500, (i) => `(${i}, ${5000 + i}, 1)`)}`,
];
const BEFORE = { a_items: ITEMS, b_stock: STOCK };
const AFTER = { a_items: ITEMS + 500, b_stock: 500 };

/** Runs `sql` in one transaction of a connection of its own, in a child process: it returns once committed. */
function commitElsewhere(kind: 'postgres' | 'mysql', url: string, sql: string[]): void {
  const script =
    kind === 'postgres'
      ? `import pg from 'pg'; const c = new pg.Client({ connectionString: process.env.URL }); await c.connect(); await c.query('BEGIN'); for (const s of JSON.parse(process.env.SQL)) await c.query(s); await c.query('COMMIT'); await c.end();`
      : `import mysql from 'mysql2/promise'; const c = await mysql.createConnection(JSON.parse(process.env.URL)); await c.query('START TRANSACTION'); for (const s of JSON.parse(process.env.SQL)) await c.query(s); await c.query('COMMIT'); await c.end();`;
  execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, env: { ...process.env, URL: url, SQL: JSON.stringify(sql) }, stdio: 'pipe', timeout: 30_000 });
}

function counts(r: ExportResult): Record<string, number> {
  return Object.fromEntries(r.tables.map((t) => [t.name, t.rows]));
}

/** Exports `source`, committing CHANGE elsewhere once the first batch of a_items is read. */
async function exportDuringChange(source: string, commit: () => void): Promise<{ result: ExportResult; dir: string }> {
  const dir = path.join(tempDir('forklift-snap-'), 'bundle');
  let committed = false;
  const result = await exportBundle({
    dir,
    source,
    progress: (p) => {
      if (committed || p.table !== 'a_items') return;
      committed = true;
      commit();
    },
  });
  expect(committed).toBe(true);
  return { result, dir };
}

async function expectBefore(source: string, commit: () => void, afterwards: () => Promise<Record<string, number>>): Promise<void> {
  const { result, dir } = await exportDuringChange(source, commit);
  // The change committed while the export read: the bundle holds the store as it was before it.
  expect(counts(result)).toEqual(BEFORE);
  expect(readFileSync(path.join(dir, 'data', 'csv', 'b_stock.csv'), 'utf8').split('\r\n')[1]).toBe('1,1,1');
  const v = await verifyBundle(dir);
  expect(v.problems).toEqual([]);
  expect(await afterwards()).toEqual(AFTER);
}

/**
 * A diff's store side: tables read after the change still see the store from before it, also
 * after a read that stopped part way (a diff starting a table over), which leaves it usable.
 */
async function expectDiffSideBefore(source: string, commit: () => void): Promise<void> {
  const side = await openSnapshot(source, 'RIGHT');
  try {
    const table = (name: string): Entity => side.entities.find((e) => e.name === name)!;
    const count = async (name: string): Promise<number> => {
      let n = 0;
      for await (const batch of side.rows(table(name))) n += batch.length;
      return n;
    };
    for await (const batch of side.rows(table('a_items'))) {
      expect(batch.length).toBeLessThan(ITEMS);
      commit();
      break;
    }
    expect({ a_items: await count('a_items'), b_stock: await count('b_stock') }).toEqual(BEFORE);
  } finally {
    await side.close();
  }
}

describe('SQLite (WAL: the writer commits while the export reads)', () => {
  function store(): { url: string; file: string } {
    const file = path.join(tempDir('forklift-snap-'), 's.db');
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    for (const s of [...SCHEMA, ...FILL]) db.exec(s);
    db.close();
    return { url: `sqlite:${file}`, file };
  }
  const writer = (file: string) => (): void => {
    const db = new Database(file);
    db.transaction(() => CHANGE.forEach((s) => db.exec(s)))();
    db.close();
  };
  const countsOf = (file: string) => async (): Promise<Record<string, number>> => {
    const db = new Database(file, { readonly: true });
    try {
      return { a_items: db.prepare('SELECT count(*) FROM a_items').pluck().get() as number, b_stock: db.prepare('SELECT count(*) FROM b_stock').pluck().get() as number };
    } finally {
      db.close();
    }
  };

  it('export: every table from one read transaction', async () => {
    const { url, file } = store();
    await expectBefore(url, writer(file), countsOf(file));
  });

  it("diff: a store side's tables from one read transaction", async () => {
    const { url, file } = store();
    await expectDiffSideBefore(url, writer(file));
  });
});

describe.skipIf(pgDown !== null)('PostgreSQL', () => {
  async function store(): Promise<string> {
    const { url } = await pgDbs.create();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    for (const s of [...SCHEMA, ...FILL]) await c.query(s);
    await c.end();
    return url;
  }
  const countsOf = (url: string) => async (): Promise<Record<string, number>> => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const r = await c.query<{ a: number; b: number }>('SELECT (SELECT count(*)::int FROM a_items) AS a, (SELECT count(*)::int FROM b_stock) AS b');
      return { a_items: r.rows[0]!.a, b_stock: r.rows[0]!.b };
    } finally {
      await c.end();
    }
  };

  it('export: every table from one REPEATABLE READ transaction', async () => {
    const url = await store();
    await expectBefore(url, () => commitElsewhere('postgres', url, CHANGE), countsOf(url));
  });

  it("diff: a store side's tables from one snapshot", async () => {
    const url = await store();
    await expectDiffSideBefore(url, () => commitElsewhere('postgres', url, CHANGE));
  });

  it('export: a TRUNCATE elsewhere waits for the export instead of emptying what it reads', async () => {
    const url = await store();
    let refused = '';
    const { result } = await exportDuringChange(url, () => {
      try {
        commitElsewhere('postgres', url, ["SET lock_timeout = '300ms'", 'TRUNCATE b_stock']);
      } catch (e) {
        refused = String((e as { stderr?: Buffer }).stderr ?? e);
      }
    });
    expect(refused).toMatch(/lock timeout/);
    expect(counts(result)).toEqual(BEFORE);
  });

  it('export: started while a load holds its TRUNCATE, it waits and reads the load committed, not an empty table', async () => {
    const url = await store();
    const load = new pg.Client({ connectionString: url });
    await load.connect();
    try {
      // A replace as forklift migrate does it: TRUNCATE, the new rows, commit at the end.
      await load.query('BEGIN');
      await load.query('TRUNCATE b_stock');
      for (const s of CHANGE) await load.query(s);
      const dir = path.join(tempDir('forklift-snap-'), 'bundle');
      const exporting = exportBundle({ dir, source: url });
      await new Promise((r) => setTimeout(r, 800));
      await load.query('COMMIT');
      const result = await exporting;
      expect(counts(result)).toEqual(AFTER);
      expect((await verifyBundle(dir)).problems).toEqual([]);
    } finally {
      await load.end();
    }
  });
});

describe.skipIf(myDown !== null)('MariaDB', () => {
  async function store(): Promise<{ url: string; config: string; name: string }> {
    const { url, name } = await myDbs.create();
    const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
    for (const s of [...SCHEMA.map((s) => `${s} ENGINE=InnoDB`), ...FILL]) await c.query(s);
    await c.end();
    return { url, name, config: JSON.stringify({ ...mysqlAdminConfig(), database: name }) };
  }
  const countsOf = (name: string) => async (): Promise<Record<string, number>> => {
    const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
    try {
      const [rows] = (await c.query('SELECT (SELECT count(*) FROM a_items) AS a, (SELECT count(*) FROM b_stock) AS b')) as unknown as [{ a: number | string; b: number | string }[]];
      return { a_items: Number(rows[0]!.a), b_stock: Number(rows[0]!.b) };
    } finally {
      await c.end();
    }
  };

  it('export: every table from one transaction WITH CONSISTENT SNAPSHOT', async () => {
    const { url, name, config } = await store();
    await expectBefore(url, () => commitElsewhere('mysql', config, CHANGE), countsOf(name));
  });

  it("diff: a store side's tables from one snapshot", async () => {
    const { url, config } = await store();
    await expectDiffSideBefore(url, () => commitElsewhere('mysql', config, CHANGE));
  });
});
