import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { exportBundle } from '../../src/bundle/export.js';
import { importBundle } from '../../src/bundle/import.js';
import { runPlan } from '../../src/run/pipeline.js';
import { tempDir } from '../helpers.js';
import { liveServers, mysqlAdminConfig } from './stores/live.js';

/**
 * Keys that differ only in trailing spaces: distinct in SQLite and PostgreSQL, one key in
 * MySQL/MariaDB (PAD SPACE) and SQL Server. On such a target they are rejected together with
 * their lines and what to do, instead of failing the load on the primary key with no line named
 * (or an upsert folding one row into the other). A trailing tab is no space: those keys stay apart.
 */

const { myDown, myDbs } = await liveServers('padded-keys.test.ts');

const ITEMS = ['CODE,DESC', 'A,first', '"A ",second', 'B,third', '"B\t",tab', 'C,fourth', '"C  ",fifth', ''].join('\n');
// machine_id + ts: 'M1 ' collides with 'M1' at the same instant only.
const EVENTS = ['MACHINE,TS,STATE', 'M1,2025-11-03T06:00:00Z,RUN', '"M1 ",2025-11-03T06:00:00Z,IDLE', '"M1 ",2025-11-03T07:00:00Z,RUN', 'M2,2025-11-03T06:00:00Z,RUN', ''].join('\n');

function project(target: string): string {
  const dir = tempDir('forklift-padded-');
  writeFileSync(path.join(dir, 'items.csv'), ITEMS);
  writeFileSync(path.join(dir, 'events.csv'), EVENTS);
  writeFileSync(
    path.join(dir, 'items.yaml'),
    ['entity: items', 'source: { format: csv, path: ./items.csv, encoding: utf-8 }', 'fields:', '  item_code: { from: CODE }', '  description: { from: DESC }', '  item_type: { const: raw }', '  uom: { const: EA }', '  active: { const: true }', ''].join('\n'),
  );
  writeFileSync(
    path.join(dir, 'events.yaml'),
    ['entity: machine_events', 'source: { format: csv, path: ./events.csv, encoding: utf-8 }', 'fields:', '  machine_id: { from: MACHINE }', '  ts: { from: TS }', '  state: { from: STATE }', ''].join('\n'),
  );
  writeFileSync(path.join(dir, 'plan.yaml'), ['name: padded', `target: ${target}`, 'model: factory', 'mappings:', '  - items.yaml', '  - events.yaml', 'reject_limit: 100%', 'load: replace', ''].join('\n'));
  return path.join(dir, 'plan.yaml');
}

describe('keys that differ only in trailing spaces', () => {
  it('load as distinct keys into SQLite, which compares every byte', async () => {
    const dir = tempDir('forklift-padded-db-');
    const r = await runPlan({ plan: project(`sqlite:${path.join(dir, 't.db')}`), command: 'migrate' });
    const by = Object.fromEntries(r.entities.map((e) => [e.entity, e]));
    expect([by.items!.loaded, by.items!.rejected]).toEqual([6, 0]);
    expect([by.machine_events!.loaded, by.machine_events!.rejected]).toEqual([4, 0]);
  });

  it.skipIf(myDown !== null)('are rejected together, with their lines, on MariaDB; the rest loads', async () => {
    const { name, url } = await myDbs.create();
    const r = await runPlan({ plan: project(url), command: 'migrate' });
    expect(r.status).toBe('succeeded');
    const by = Object.fromEntries(r.entities.map((e) => [e.entity, e]));
    expect([by.items!.loaded, by.items!.rejected, by.items!.rejects_by_rule]).toEqual([2, 4, { 'duplicate-key': 4 }]);
    expect([by.machine_events!.loaded, by.machine_events!.rejected]).toEqual([2, 2]);

    const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
    try {
      const [items] = (await c.query('SELECT item_code FROM items ORDER BY CAST(item_code AS BINARY)')) as unknown as [{ item_code: string }[]];
      expect(items.map((i) => i.item_code)).toEqual(['B', 'B\t']);
      const [events] = (await c.query("SELECT CONCAT('[', machine_id, ']') AS m, state FROM machine_events ORDER BY ts, CAST(machine_id AS BINARY)")) as unknown as [{ m: string; state: string }[]];
      expect(events).toEqual([
        { m: '[M2]', state: 'RUN' },
        { m: '[M1 ]', state: 'RUN' },
      ]);
    } finally {
      await c.end();
    }
    const rejects = readFileSync(path.join(path.dirname(r.reportFile), 'rejects', 'items.csv'), 'utf8');
    expect(rejects).toContain("items.csv (lines 2, 3) have keys that differ only in trailing spaces (item_code 'A', item_code 'A '), which MySQL/MariaDB compares as one key; none is loaded. Trim the key in the mapping (clean: [trim]) or correct the source");
    expect(rejects).toContain("(lines 6, 7) have keys that differ only in trailing spaces (item_code 'C', item_code 'C  ')");
  });

  it.skipIf(myDown !== null)("an upsert of 'B ' onto the target's 'B' fails the run on MariaDB instead of updating 'A'", async () => {
    const { name, url } = await myDbs.create();
    const first = await runPlan({ plan: project(url), command: 'migrate' });
    expect(first.status).toBe('succeeded'); // loads B and B\t
    // The next file holds 'B ' only: the server would match it to 'B' and update that row.
    const plan = project(url);
    writeFileSync(path.join(path.dirname(plan), 'items.csv'), 'CODE,DESC\n"B ",changed\n');
    writeFileSync(path.join(path.dirname(plan), 'events.csv'), 'MACHINE,TS,STATE\n');
    writeFileSync(plan, readFileSync(plan, 'utf8').replace('load: replace', 'load: upsert'));
    await expect(runPlan({ plan, command: 'migrate' })).rejects.toThrow(/items: the key item_code "B " would update the target's row item_code "B", a different key that the server counts as equal .*nothing was committed/);
    const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
    try {
      const [items] = (await c.query('SELECT item_code, description FROM items ORDER BY CAST(item_code AS BINARY)')) as unknown as [{ item_code: string; description: string }[]];
      expect(items).toEqual([
        { item_code: 'B', description: 'third' },
        { item_code: 'B\t', description: 'tab' },
      ]);
      const [runs] = (await c.query('SELECT status FROM forklift_runs ORDER BY started')) as unknown as [{ status: string }[]];
      expect(runs.map((r) => r.status)).toEqual(['succeeded', 'failed']);
    } finally {
      await c.end();
    }
  });
});

describe('a unique column whose values differ only in trailing spaces', () => {
  function uniqueProject(target: string): string {
    const dir = tempDir('forklift-padded-unique-');
    writeFileSync(
      path.join(dir, 'model.yaml'),
      ['entities:', '  tools:', '    primary_key: [tool_id]', '    columns:', '      tool_id: { type: integer }', '      serial: { type: string, length: 32, unique: true }', ''].join('\n'),
    );
    writeFileSync(path.join(dir, 'tools.csv'), ['ID,SERIAL', '1,S-100', '2,"S-100 "', '3,S-200', '4,"S-300\t"', '5,S-300', ''].join('\n'));
    writeFileSync(path.join(dir, 'tools.yaml'), ['entity: tools', 'source: { format: csv, path: ./tools.csv, encoding: utf-8 }', 'fields:', '  tool_id: { from: ID }', '  serial: { from: SERIAL }', ''].join('\n'));
    writeFileSync(path.join(dir, 'plan.yaml'), ['name: padded-unique', `target: ${target}`, 'model: ./model.yaml', 'mappings: [tools.yaml]', 'reject_limit: 100%', ''].join('\n'));
    return path.join(dir, 'plan.yaml');
  }

  it('load as distinct values into SQLite', async () => {
    const dir = tempDir('forklift-padded-unique-db-');
    const r = await runPlan({ plan: uniqueProject(`sqlite:${path.join(dir, 't.db')}`), command: 'migrate' });
    expect([r.entities[0]!.loaded, r.entities[0]!.rejected]).toEqual([5, 0]);
  });

  it.skipIf(myDown !== null)('are rejected together, with their lines, on MariaDB, instead of failing the whole load on its UNIQUE constraint', async () => {
    const { name, url } = await myDbs.create();
    const r = await runPlan({ plan: uniqueProject(url), command: 'migrate' });
    expect(r.status).toBe('succeeded');
    const l = r.entities[0]!;
    expect([l.read, l.loaded, l.rejected, l.rejects_by_rule]).toEqual([5, 3, 2, { unique: 2 }]);
    const rejects = readFileSync(path.join(path.dirname(r.reportFile), 'rejects', 'tools.csv'), 'utf8');
    expect(rejects).toMatch(/2 rows of \S*tools\.csv \(lines 2, 3\) have serial values that differ only in trailing spaces \('S-100', 'S-100 '\), one value to MySQL\/MariaDB, and serial must be unique; none is loaded/);
    const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
    try {
      const [rows] = (await c.query('SELECT tool_id FROM tools ORDER BY tool_id')) as unknown as [{ tool_id: number }[]];
      expect(rows.map((x) => Number(x.tool_id))).toEqual([3, 4, 5]);
    } finally {
      await c.end();
    }
  });
});

describe('bundle import of keys that differ only in trailing spaces', () => {
  /** A bundle exported from SQLite, which loaded every key of `items` (ITEMS by default) and of EVENTS as distinct. */
  async function bundleOf(items = ITEMS): Promise<string> {
    const dir = tempDir('forklift-padded-bundle-');
    const source = `sqlite:${path.join(dir, 's.db')}`;
    const plan = project(source);
    writeFileSync(path.join(path.dirname(plan), 'items.csv'), items);
    const r = await runPlan({ plan, command: 'migrate' });
    expect(r.entities.map((e) => e.rejected)).toEqual([0, 0]);
    const bundle = path.join(dir, 'b');
    await exportBundle({ dir: bundle, source });
    return bundle;
  }

  async function itemsTable(name: string): Promise<string[] | null> {
    const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
    try {
      const [t] = (await c.query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'items'")) as unknown as [unknown[]];
      if (t.length === 0) return null;
      const [rows] = (await c.query('SELECT item_code FROM items ORDER BY CAST(item_code AS BINARY)')) as unknown as [{ item_code: string }[]];
      return rows.map((r) => r.item_code);
    } finally {
      await c.end();
    }
  }

  it.skipIf(myDown !== null)('are refused before the load on MariaDB, naming the table, both keys and their lines, whatever the load mode', async () => {
    const bundle = await bundleOf();
    const { name, url } = await myDbs.create();
    for (const load of ['append', 'replace'] as const) {
      const err = await importBundle({ bundle, target: url, load }).then(
        () => 'imported',
        (e: unknown) => e,
      );
      expect(err, load).toMatchObject({
        code: 'import.padded-key',
        exitCode: 1,
        message: expect.stringContaining(`items: the bundle's keys item_code "A" (data/csv/items.csv:2) and item_code "A " (data/csv/items.csv:3) differ only in trailing spaces, which MySQL/MariaDB compares as one key; nothing was loaded`),
      });
      expect((err as { hint: string }).hint).not.toMatch(/already holds/);
    }
    // Refused before a table was made; both attempts on record.
    expect(await itemsTable(name)).toBeNull();
    const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
    try {
      const [runs] = (await c.query('SELECT command, status FROM forklift_runs ORDER BY started')) as unknown as [{ command: string; status: string }[]];
      expect(runs).toEqual([
        { command: 'import', status: 'failed' },
        { command: 'import', status: 'failed' },
      ]);
    } finally {
      await c.end();
    }
  });

  it.skipIf(myDown !== null)('in a key of two columns, and not for keys that differ by a tab or by letter case (the tables forklift makes compare case)', async () => {
    // Only the machine_events keys M1 and 'M1 ' at one instant collide.
    const bundle = await bundleOf(['CODE,DESC', 'A,first', 'b,lower', 'B,upper', '"B\t",tab', ''].join('\n'));
    const { name, url } = await myDbs.create();
    await expect(importBundle({ bundle, target: url, tables: ['machine_events'] })).rejects.toMatchObject({
      code: 'import.padded-key',
      message: expect.stringContaining(`machine_events: the bundle's keys machine_id "M1", ts "2025-11-03T06:00:00.000Z" (data/csv/machine_events.csv:2) and machine_id "M1 ", ts "2025-11-03T06:00:00.000Z" (data/csv/machine_events.csv:3) differ only in trailing spaces`),
    });
    const r = await importBundle({ bundle, target: url, tables: ['items'] });
    expect(r.rows_total).toBe(4);
    expect(await itemsTable(name)).toEqual(['A', 'B', 'B\t', 'b']);
  });

  it.skipIf(myDown !== null)("a duplicate key the server finds in a table that held no rows is not blamed on rows in the target (a case-insensitive table made by hand)", async () => {
    const bundle = await bundleOf(['CODE,DESC', 'A,first', 'b,lower', 'B,upper', ''].join('\n'));
    const { name, url } = await myDbs.create();
    await importBundle({ bundle, target: url, tables: ['items'] });
    const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
    try {
      await c.query('DELETE FROM items');
      await c.query('ALTER TABLE items MODIFY item_code varchar(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL');
    } finally {
      await c.end();
    }
    for (const load of ['append', 'replace'] as const) {
      const err = await importBundle({ bundle, target: url, tables: ['items'], load }).then(
        () => 'imported',
        (e: unknown) => e,
      );
      expect(err, load).toMatchObject({ code: 'store.load', exitCode: 1, message: expect.stringMatching(/items: Duplicate entry/) });
      expect((err as { hint: string }).hint, load).toMatch(/^The table held no rows before the load: the rows loaded have keys that differ, but the table's collation compares them as one key .*letter case/);
    }
    expect(await itemsTable(name)).toEqual([]);
    // A table that holds rows: either cause may be the one.
    const c2 = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
    try {
      await c2.query("INSERT INTO items (item_code, description, uom, active) VALUES ('Z', 'z', 'EA', 1)");
    } finally {
      await c2.end();
    }
    const err = await importBundle({ bundle, target: url, tables: ['items'] }).then(
      () => 'imported',
      (e: unknown) => e,
    );
    expect((err as { hint: string }).hint).toMatch(/^Either the target already holds rows with these keys .*, or rows loaded have keys that differ, but the table's collation compares them as one key/);
  });
});
