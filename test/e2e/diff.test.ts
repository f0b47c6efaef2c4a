import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoCopy, runCli } from '../helpers.js';
import { MYSQL_ADMIN_URL, MysqlDatabases, mysqlAdminConfig, PG_ADMIN_URL, PgDatabases, probeMysql, probePg, reportUnreachable, withPg } from '../integration/stores/live.js';

/**
 * forklift diff through the built CLI (SPEC section 7): the demo migrated into SQLite (and
 * PostgreSQL and MariaDB where they run), exported, then diffed: a bundle against the store it
 * came from is identical (exit 0); after one UPDATE, one DELETE and one INSERT on the store the
 * diff is exactly those three edits (exit 1); a bundle against its zip, one store against another
 * (SQLite against PostgreSQL and MariaDB), the report formats, and usage errors (exit 2).
 */

const pgDown = await probePg();
const myDown = await probeMysql();
reportUnreachable('PostgreSQL', PG_ADMIN_URL, pgDown, 'test/e2e/diff.test.ts');
reportUnreachable('MariaDB', MYSQL_ADMIN_URL, myDown, 'test/e2e/diff.test.ts');
const pgDbs = new PgDatabases();
const myDbs = new MysqlDatabases();

let dir: string;
let plan: string;
let sqliteUrl: string;
const DATA_TABLES = 'bom_lines,items,machine_events,stock_balances';

interface Report {
  identical: boolean;
  schema: unknown[];
  totals: { added: number; removed: number; changed: number; changed_cells: number; unchanged: number };
  tables: { table: string; added: number; removed: number; changed: number; order: { left: string; right: string } }[];
  records?: Record<string, unknown>[];
  left: Record<string, unknown>;
  right: Record<string, unknown>;
}
const diff = (...args: string[]): ReturnType<typeof runCli> => runCli(['diff', ...args], { cwd: dir });
const report = (r: ReturnType<typeof runCli>): Report => JSON.parse(r.stdout) as Report;

beforeAll(() => {
  ({ dir, plan } = demoCopy());
  const m = runCli(['migrate', plan]);
  expect(m.code, m.stderr).toBe(0);
  sqliteUrl = `sqlite:${path.join(dir, 'mappings', 'demo', 'forklift.db')}`;
  for (const flags of [[], ['--zip']]) {
    const e = runCli(['export', path.join(dir, 'out', 'demo'), '--source', sqliteUrl, ...flags], { cwd: dir });
    expect(e.code, e.stderr).toBe(0);
  }
});

afterAll(async () => {
  if (!pgDown) await pgDbs.dropAll();
  if (!myDown) await myDbs.dropAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The first BOM line (what the DELETE removes): the same row on every store. */
function firstBomLine(): { parent_item: string; line_no: number } {
  const db = new Database(sqliteUrl.slice('sqlite:'.length), { readonly: true });
  try {
    return db.prepare('SELECT parent_item, line_no FROM bom_lines ORDER BY parent_item, line_no LIMIT 1').get() as { parent_item: string; line_no: number };
  } finally {
    db.close();
  }
}

/** One UPDATE of one cell, one DELETE, one INSERT: standard SQL every store takes. */
function edits(): string[] {
  const b = firstBomLine();
  return [
    "UPDATE items SET standard_cost = '7858.0300' WHERE item_code = 'HP-1001'",
    `DELETE FROM bom_lines WHERE parent_item = '${b.parent_item}' AND line_no = ${b.line_no}`,
    "INSERT INTO stock_balances (item_code, warehouse, lot, qty, value, as_of) VALUES ('HP-1001', 'W9', '', '1.000000', '7858.03', '2025-12-31')",
  ];
}

/** A bundle of the store, identical to it; the edits applied to the store; exactly the edits found. */
async function editsScenario(name: string, url: string, exec: (sql: string) => Promise<void>): Promise<void> {
  const bundle = path.join(dir, 'out', `of-${name}`);
  const e = runCli(['export', bundle, '--source', url], { cwd: dir });
  expect(e.code, e.stderr).toBe(0);

  const same = diff(bundle, url, '--json');
  expect(same.code, same.stdout + same.stderr).toBe(0);
  expect(report(same)).toMatchObject({ identical: true, schema: [], totals: { added: 0, removed: 0, changed: 0 } });

  for (const sql of edits()) await exec(sql);
  const r = diff(bundle, url, '--format', 'json', '--details');
  expect(r.code, r.stderr).toBe(1);
  const rep = report(r);
  expect(rep.identical).toBe(false);
  expect(rep.schema).toEqual([]);
  expect(rep.totals).toMatchObject({ added: 1, removed: 1, changed: 1, changed_cells: 1 });
  const b = firstBomLine();
  const recs = rep.records!;
  expect(recs).toHaveLength(3);
  expect(recs).toContainEqual({ table: 'items', kind: 'changed', key: { item_code: 'HP-1001' }, column: 'standard_cost', left: '7858.0290', right: '7858.0300' });
  expect(recs).toContainEqual(expect.objectContaining({ table: 'bom_lines', kind: 'removed', key: { parent_item: b.parent_item, line_no: String(b.line_no) } }));
  expect(recs).toContainEqual({ table: 'stock_balances', kind: 'added', key: { item_code: 'HP-1001', warehouse: 'W9', lot: '' }, row: { qty: '1.000000', value: '7858.03', as_of: '2025-12-31' } });
}

describe('forklift diff on SQLite', () => {
  it('a bundle against the store it came from is identical (exit 0), in text and with --json', () => {
    const bundle = path.join(dir, 'out', 'demo');
    const t = diff(bundle, sqliteUrl);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/^diff: identical\n/);
    expect(t.stdout).toMatch(/machine_events\s+machine_id\+ts\s+2,040\s+2,040\s+0\s+0\s+0\s+2,040\s+0/);
    expect(t.stderr).toBe('');
    const j = diff(bundle, sqliteUrl, '--json');
    expect(j.code).toBe(0);
    expect(report(j)).toMatchObject({ identical: true, left: { kind: 'bundle', payload_oxum: expect.stringMatching(/^\d+\.\d+$/), manifest_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }, right: { kind: 'store', store: 'sqlite' } });
  });

  it('a bundle against its zip, and with a key that forces sorting both sides on disk', () => {
    const z = diff(path.join(dir, 'out', 'demo'), path.join(dir, 'out', 'demo.zip'), '--json');
    expect(z.code, z.stdout).toBe(0);
    expect(report(z).right).toMatchObject({ kind: 'bundle', zipped: true });
    // Flags before the arguments too: --key takes one value per flag.
    const s = diff('--key', 'machine_events=ts+machine_id', path.join(dir, 'out', 'demo.zip'), sqliteUrl, '--tables', 'machine_events', '--json');
    expect(s.code, s.stdout).toBe(0);
    expect(report(s).tables[0]).toMatchObject({ table: 'machine_events', key: ['ts', 'machine_id'], key_source: '--key', order: { left: 'sorted', right: 'sorted' }, unchanged: 2040 });
  });

  it('after an UPDATE, a DELETE and an INSERT: exit 1 with exactly those edits; html and csv reports', async () => {
    const file = sqliteUrl.slice('sqlite:'.length);
    const edited = path.join(dir, 'edited.db');
    rmSync(edited, { force: true });
    const db = new Database(file, { readonly: true });
    await db.backup(edited);
    db.close();
    const url = `sqlite:${edited}`;
    await editsScenario('sqlite', url, async (sql) => {
      const w = new Database(edited);
      try {
        w.exec(sql);
      } finally {
        w.close();
      }
    });

    const html = path.join(dir, 'report.html');
    const h = diff(path.join(dir, 'out', 'of-sqlite'), url, '--format', 'html', '--output', html);
    expect(h.code, h.stderr).toBe(1);
    expect(h.stdout).toMatch(/diff: different · html report written to/);
    const page = readFileSync(html, 'utf8');
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).not.toMatch(/https?:\/\//);
    expect(page).not.toMatch(/<(link|img|iframe)\b|\bsrc=/i);
    expect(page).toMatch(/different: 1 added, 1 removed, 1 changed row \(1 cell\)/);
    expect(page).toMatch(/<td>items<\/td><td>item_code<\/td><td class="n">105<\/td><td class="n">105<\/td><td class="n">0<\/td><td class="n">0<\/td><td class="n">1<\/td><td class="n">104<\/td><td class="n">1<\/td>/);
    expect(page).toContain('Payload-Oxum');
    expect(readdirSync(dir).filter((f) => f.startsWith('report.html'))).toEqual(['report.html']);

    const c = diff(path.join(dir, 'out', 'of-sqlite'), url, '--format', 'csv');
    expect(c.code).toBe(1);
    const lines = c.stdout.split('\r\n');
    expect(lines[0]).toBe('\ufefftable,change,key,column,left,right');
    expect(lines).toContain('items,changed,"[""HP-1001""]",standard_cost,7858.0290,7858.0300');
    expect(lines).toContain('stock_balances,added,"[""HP-1001"",""W9"",""""]",qty,,1.000000');
  });

  it('trouble is exit 2, with and without --json: a missing side, a bad flag, a bad key', () => {
    const bundle = path.join(dir, 'out', 'demo');
    let r = diff(bundle, path.join(dir, 'nope'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope: no such bundle/);
    r = diff(bundle, `sqlite:${path.join(dir, 'nope.db')}`, '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { message: expect.stringMatching(/no such SQLite file/), exit_code: 2 } });
    expect(existsSync(path.join(dir, 'nope.db'))).toBe(false);
    r = diff(bundle, sqliteUrl, '--format', 'pdf');
    expect(r.code).toBe(2);
    r = diff(bundle);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Missing 1 required arg/);
    expect(r.stderr).not.toMatch(/bug in forklift/);
    r = diff(bundle, sqliteUrl, '--key', 'items');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/expected TABLE=COLUMN/);
    r = diff(bundle, sqliteUrl, '--tables', 'itemz', '--json');
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { message: expect.stringMatching(/itemz is a table of neither side/) } });
    r = diff(bundle, 'postgres://u:secret@127.0.0.1:1/x');
    expect(r.code).toBe(2);
    expect(r.stderr).not.toContain('secret');
  });
});

describe.skipIf(pgDown !== null)('forklift diff on PostgreSQL', () => {
  it('bundle against the live store, then exactly the edits; SQLite against PostgreSQL of the same demo is identical', async () => {
    const { url } = await pgDbs.create();
    const m = runCli(['migrate', plan, '--target', url]);
    expect(m.code, m.stderr).toBe(0);
    const s = diff(sqliteUrl, url, '--tables', DATA_TABLES, '--json');
    expect(s.code, s.stdout).toBe(0);
    expect(report(s)).toMatchObject({ identical: true, totals: { unchanged: 2584 } });
    await editsScenario('postgres', url, (sql) => withPg(url, async (c) => void (await c.query(sql))));
  });
});

describe.skipIf(myDown !== null)('forklift diff on MariaDB', () => {
  it('bundle against the live store, then exactly the edits; SQLite against MariaDB of the same demo is identical', async () => {
    const { name, url } = await myDbs.create();
    const m = runCli(['migrate', plan, '--target', url]);
    expect(m.code, m.stderr).toBe(0);
    const s = diff(sqliteUrl, url, '--tables', DATA_TABLES, '--json');
    expect(s.code, s.stdout).toBe(0);
    expect(report(s)).toMatchObject({ identical: true, totals: { unchanged: 2584 } });
    await editsScenario('mariadb', url, async (sql) => {
      const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
      try {
        await c.query(sql);
      } finally {
        await c.end();
      }
    });
  });
});
