import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/core/errors.js';
import { exportBundle } from '../../src/bundle/export.js';
import { importBundle } from '../../src/bundle/import.js';
import { runPlan } from '../../src/run/pipeline.js';
import { tempDir } from '../helpers.js';
import { liveServers, withMysql, withPg } from './stores/live.js';

/**
 * A replace empties its tables before it loads them. A table outside the run that references one
 * ON DELETE CASCADE (or SET NULL) lost its rows (or references) with them, silently, and the run
 * said "succeeded": the 5 orders of an ERP referencing items were gone after a second migrate.
 * Now the run is refused before anything is sent, naming the foreign key; NO ACTION stays the
 * server's own refusal.
 */

const FILE = 'test/integration/replace-cascade.test.ts';
const { pgDown, myDown, pgDbs, myDbs } = await liveServers(FILE, 'fkcasc_');

function project(): { plan: string; dryRun: string } {
  const dir = tempDir('forklift-replace-cascade-');
  writeFileSync(path.join(dir, 'items.csv'), 'CODE,NAME\nA-1,one\nA-2,two\n');
  writeFileSync(path.join(dir, 'items.yaml'), 'entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { const: EA }\n  active: { const: true }\n');
  writeFileSync(path.join(dir, 'forklift.yaml'), 'name: cascade\ntarget: sqlite:./t.db\nmappings: [items.yaml]\nload: replace\n');
  return { plan: path.join(dir, 'forklift.yaml'), dryRun: dir };
}

/** Migrates, lets `addOrders` make a table referencing items with `onDelete` and two rows in it, migrates again: what the second run threw. */
async function secondRun(url: string, addOrders: (onDelete: string) => Promise<void>, onDelete: string, dryRun = false): Promise<unknown> {
  const p = project();
  await runPlan({ plan: p.plan, command: 'migrate', target: url });
  await addOrders(onDelete);
  return runPlan({ plan: p.plan, command: 'migrate', target: url, dryRun }).then(
    () => undefined,
    (e: unknown) => e,
  );
}

function expectRefused(e: unknown, url: string, orders: string, action: string): void {
  expect(e).toBeInstanceOf(StoreError);
  const se = e as StoreError;
  expect(se.code).toBe('store.replace-cascade');
  expect(se.exitCode).toBe(1);
  expect(se.message.startsWith(url.startsWith('sqlite:') ? 'sqlite:' : url), se.message).toBe(true);
  expect(se.message).toMatch(new RegExp(`: a replace of items would change ${orders} too: the replace empties items first, and the foreign key .+? of ${orders} \\(ON DELETE ${action}\\)`));
  expect(se.hint).toMatch(/load: upsert/);
}

const ORDERS = (onDelete: string): string => `CREATE TABLE orders (id integer PRIMARY KEY, item_code varchar(32) REFERENCES items (item_code) ON DELETE ${onDelete})`;

describe('a replace whose table another table references ON DELETE CASCADE / SET NULL', () => {
  it('SQLite: refused, the orders stay; NO ACTION is the store\'s own refusal', async () => {
    for (const action of ['CASCADE', 'SET NULL']) {
      const dir = tempDir('forklift-replace-cascade-sqlite-');
      const file = path.join(dir, 't.db');
      const url = `sqlite:${file}`;
      const e = await secondRun(url, async (onDelete) => {
        const db = new Database(file);
        db.exec(ORDERS(onDelete));
        db.exec("INSERT INTO orders VALUES (1, 'A-1'), (2, 'A-2')");
        db.close();
      }, action);
      expectRefused(e, url, 'orders', action);
      const db = new Database(file, { readonly: true });
      expect(db.prepare('SELECT id, item_code FROM orders ORDER BY id').all()).toEqual([{ id: 1, item_code: 'A-1' }, { id: 2, item_code: 'A-2' }]);
      db.close();
    }
    const dir = tempDir('forklift-replace-noaction-sqlite-');
    const file = path.join(dir, 't.db');
    const e = await secondRun(`sqlite:${file}`, async (onDelete) => {
      const db = new Database(file);
      db.exec(ORDERS(onDelete));
      db.exec("INSERT INTO orders VALUES (1, 'A-1')");
      db.close();
    }, 'NO ACTION');
    expect(e).toBeInstanceOf(StoreError);
    expect((e as StoreError).code).not.toBe('store.replace-cascade');
  });

  it.skipIf(pgDown !== null)('PostgreSQL: refused, the orders stay (migrate, --dry-run and bundle import --load replace)', async () => {
    const { url } = await pgDbs.create();
    const e = await secondRun(url, (onDelete) => withPg(url, async (c) => {
      await c.query(ORDERS(onDelete));
      await c.query("INSERT INTO orders VALUES (1, 'A-1'), (2, 'A-2')");
    }), 'CASCADE');
    expectRefused(e, url, 'orders', 'CASCADE');
    const dry = await runPlan({ plan: project().plan, command: 'migrate', target: url, dryRun: true }).then(() => undefined, (x: unknown) => x);
    expectRefused(dry, url, 'orders', 'CASCADE');
    // bundle import --load replace of the items, from a bundle of a store without the orders.
    const source = `sqlite:${path.join(tempDir('forklift-replace-cascade-src-'), 's.db')}`;
    await runPlan({ plan: project().plan, command: 'migrate', target: source });
    const bundle = path.join(tempDir('forklift-replace-cascade-bundle-'), 'b');
    await exportBundle({ dir: bundle, source, tables: ['items'] });
    const imported = await importBundle({ bundle, target: url, load: 'replace', keepLedger: false }).then(() => undefined, (x: unknown) => x);
    expectRefused(imported, url, 'orders', 'CASCADE');
    const rows = await withPg(url, (c) => c.query<{ n: number }>('SELECT count(*)::int AS n FROM orders'));
    expect(rows.rows[0]!.n).toBe(2);
  });

  it.skipIf(myDown !== null)('MariaDB: refused where the referencing table is in another database of the server', async () => {
    // The ERP's database first: the databases are dropped in the order made, the referencing one first.
    const erp = await myDbs.create();
    const target = await myDbs.create();
    const e = await secondRun(target.url, (onDelete) => withMysql(erp.name, async (c) => {
      await c.query(`CREATE TABLE orders (id int PRIMARY KEY, item_code varchar(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, FOREIGN KEY (item_code) REFERENCES \`${target.name}\`.items (item_code) ON DELETE ${onDelete}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`);
      await c.query("INSERT INTO orders VALUES (1, 'A-1'), (2, 'A-2')");
    }), 'SET NULL');
    expectRefused(e, target.url, `${erp.name}.orders`, 'SET NULL');
    const [rows] = await withMysql(erp.name, (c) => c.query('SELECT id, item_code FROM orders ORDER BY id'));
    expect(rows).toEqual([{ id: 1, item_code: 'A-1' }, { id: 2, item_code: 'A-2' }]);
  });
});
