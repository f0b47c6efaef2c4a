import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runPlan } from '../../src/run/pipeline.js';
import { tempDir } from '../helpers.js';
import { PG_ADMIN_URL, PgDatabases, probePg, reportUnreachable, withPg } from './stores/live.js';

/**
 * A PostgreSQL table that other tables INHERIT from holds only its own rows (as export reads it,
 * read-postgres.ts); the children are tables of their own that forklift never wrote. Every
 * statement of a run must leave them alone: replace must not TRUNCATE them with the parent, the
 * watermark and the foreign-key lookups must not count their rows.
 */

const pgDown = await probePg();
reportUnreachable('PostgreSQL', PG_ADMIN_URL, pgDown, 'pg-inheritance.test.ts');
const dbs = new PgDatabases();
afterAll(() => dbs.dropAll());

function project(url: string, files: Record<string, string>, mappings: string[]): string {
  const dir = tempDir('forklift-inherit-');
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  writeFileSync(path.join(dir, 'forklift.yaml'), `name: inherit\ntarget: ${url}\nmappings: [${mappings.join(', ')}]\n`);
  return path.join(dir, 'forklift.yaml');
}

const ITEMS = `entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { const: EA }\n  active: { const: true }\n`;
const BOM = `entity: bom_lines\nsource: { format: csv, path: bom.csv }\nload: append\nfields:\n  parent_item: { from: P }\n  line_no: { from: L }\n  component_item: { from: C }\n  qty_per: { from: Q }\n`;
const LOG = `entity: machine_events\nsource: { format: csv, path: log.csv }\nload: incremental\nwatermark: ts\nfields:\n  machine_id: { from: M }\n  ts: { from: T }\n  state: { from: S }\n`;

describe.skipIf(pgDown !== null)('PostgreSQL tables that others INHERIT from', () => {
  it('replace empties the parent only: the child table keeps its rows', async () => {
    const { url } = await dbs.create();
    const plan = project(url, { 'items.yaml': ITEMS, 'items.csv': 'CODE,NAME\nA,Alpha\n' }, ['items.yaml']);
    await runPlan({ plan, command: 'migrate' });
    await withPg(url, (c) => c.query("CREATE TABLE items_retired () INHERITS (items); INSERT INTO items_retired (item_code, description, uom, active) VALUES ('OLD', 'kept by hand', 'EA', false)"));
    await runPlan({ plan, command: 'migrate' });
    const rows = await withPg(url, async (c) => (await c.query('SELECT item_code FROM items_retired')).rows);
    expect(rows).toEqual([{ item_code: 'OLD' }]);
  });

  it("a reference to an item found only in a child table is rejected: the target's items table does not hold it", async () => {
    const { url } = await dbs.create();
    const plan = project(url, { 'items.yaml': ITEMS, 'items.csv': 'CODE,NAME\nA,Alpha\nB,Beta\n' }, ['items.yaml']);
    await runPlan({ plan, command: 'migrate' });
    await withPg(url, (c) => c.query("CREATE TABLE items_retired () INHERITS (items); INSERT INTO items_retired (item_code, description, uom, active) VALUES ('OLD', 'kept by hand', 'EA', false)"));
    const bom = project(url, { 'bom.yaml': BOM, 'bom.csv': 'P,L,C,Q\nA,1,B,1\nA,2,OLD,2\n' }, ['bom.yaml']);
    writeFileSync(bom, `name: inherit\ntarget: ${url}\nmappings: [bom.yaml]\nreject_limit: 100%\n`);
    const ledger = (await runPlan({ plan: bom, command: 'migrate' })).entities[0];
    expect(ledger).toMatchObject({ loaded: 1, rejected: 1 });
    expect(Object.keys(ledger!.rejects_by_rule)).toEqual(['foreign-key']);
    expect(await withPg(url, async (c) => (await c.query('SELECT component_item FROM bom_lines')).rows)).toEqual([{ component_item: 'B' }]);
  });

  it("the watermark is the parent's own latest event, not a child's", async () => {
    const { url } = await dbs.create();
    const plan = project(url, { 'log.yaml': LOG, 'log.csv': 'M,T,S\nCNC-01,2025-11-03T06:00:00Z,RUN\n' }, ['log.yaml']);
    await runPlan({ plan, command: 'migrate' });
    await withPg(url, (c) => c.query("CREATE TABLE machine_events_sim () INHERITS (machine_events); INSERT INTO machine_events_sim (machine_id, ts, state) VALUES ('CNC-01', '2030-01-01T00:00:00Z', 'RUN')"));
    writeFileSync(path.join(path.dirname(plan), 'log.csv'), 'M,T,S\nCNC-01,2025-11-03T06:00:00Z,RUN\nCNC-01,2025-11-03T07:00:00Z,IDLE\n');
    const next = await runPlan({ plan, command: 'migrate' });
    expect(next.entities[0]).toMatchObject({ read: 2, loaded: 1, filtered: 1 });
  });
});
