import { appendFileSync, existsSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { LedgerRecord } from '../../src/audit/chain.js';
import { readStoreLedger } from '../../src/audit/ledger.js';
import { openStore } from '../../src/stores/index.js';
import { demoCopy, runCli } from '../helpers.js';
import { HAS_TMUX, keys, killTerminals, screenUntil, start } from './terminal.js';
import { MYSQL_ADMIN_URL, MysqlDatabases, PG_ADMIN_URL, PgDatabases, probeMysql, probePg, reportUnreachable } from '../integration/stores/live.js';

/**
 * forklift purge through the built CLI on SQLite, PostgreSQL and MariaDB (SPEC section 11): the
 * demo migrated, a copy taken (an export), a dry run that changes nothing, a purge by retention
 * rules whose archive holds exactly the rows deleted (diffed against the copy: the archive is a
 * subset with no changed row, the store lost exactly those rows), a row that kept rows reference
 * kept and counted, the ledger entry with the archive's manifest hash, the archive imported back
 * (append) giving the copy again, and contract end (--all) behind --confirm.
 */

const pgDown = await probePg();
const myDown = await probeMysql();
reportUnreachable('PostgreSQL', PG_ADMIN_URL, pgDown, 'test/e2e/purge.test.ts');
reportUnreachable('MariaDB', MYSQL_ADMIN_URL, myDown, 'test/e2e/purge.test.ts');
const pgDbs = new PgDatabases();
const myDbs = new MysqlDatabases();

/** The demo copies made here, removed at the end. */
const made: string[] = [];
function demo(): ReturnType<typeof demoCopy> {
  const d = demoCopy();
  made.push(d.dir);
  return d;
}

afterAll(async () => {
  killTerminals();
  for (const d of made) rmSync(d, { recursive: true, force: true });
  await pgDbs.dropAll().catch(() => {});
  await myDbs.dropAll().catch(() => {});
});

const DATA = ['bom_lines', 'items', 'machine_events', 'stock_balances'];
const AS_OF = '2025-11-28';

/** machine_events older than 24 days before AS_OF; old balances of some items; raw or inactive items (most of them referenced). */
const RULES = `retention:
  - entity: machine_events
    keep: 24 days
    by: ts
  - entity: stock_balances
    where: 'as_of < "2026-01-01" and item_code < "P-1"'
  - entity: items
    where: 'active = "false" or item_type = "raw"'
`;

interface PurgeJson {
  mode: string;
  dry_run: boolean;
  as_of: string;
  archive: string | null;
  resumed: boolean;
  already_purged: boolean;
  tables: { name: string; rule: string; cutoff: string | null; rows: number; deleted: number; kept_referenced: number; kept_because: string[] }[];
  rows_total: number;
  deleted_total: number;
  manifest_sha256: string | null;
}

interface DiffJson {
  identical: boolean;
  tables: { table: string; added: number; removed: number; changed: number; unchanged: number }[];
}

function json<T>(r: { code: number; stdout: string; stderr: string }, code = 0): T {
  expect(r.code, r.stdout + r.stderr).toBe(code);
  return JSON.parse(r.stdout) as T;
}

function diff(left: string, right: string, cwd: string): DiffJson {
  const r = runCli(['diff', left, right, '--tables', DATA.join(','), '--format', 'json'], { cwd });
  expect([0, 1], r.stderr).toContain(r.code);
  return JSON.parse(r.stdout) as DiffJson;
}

function csvRows(file: string): number {
  // Every demo value is single-line: one record per line after the header.
  return readFileSync(file, 'utf8').split('\r\n').filter(Boolean).length - 1;
}

/** The store's last ledger entry, read as audit verify reads it. */
async function lastEntry(url: string): Promise<LedgerRecord> {
  const store = await openStore(url);
  try {
    const { records } = await readStoreLedger(store);
    return records.sort((a, b) => Number(a.seq) - Number(b.seq)).at(-1)!;
  } finally {
    await store.close();
  }
}

async function scenario(url: string, dbName: string): Promise<void> {
  const { dir, plan } = demo();
  appendFileSync(plan, RULES);
  const run = (args: string[]): ReturnType<typeof runCli> => runCli(args, { cwd: dir });
  expect(run(['migrate', plan, '--target', url, '--json']).code).toBe(0);
  const copy = path.join(dir, 'before');
  expect(run(['export', copy, '--source', url, '--json']).code).toBe(0);

  // A dry run prints the counts and cut-offs and changes nothing.
  const dry = json<PurgeJson>(run(['purge', plan, '--target', url, '--as-of', AS_OF, '--dry-run', '--json']));
  expect(dry.dry_run).toBe(true);
  expect(dry.tables.find((t) => t.name === 'machine_events')!.cutoff).toBe('2025-11-04T00:00:00.000Z');
  expect(dry.rows_total).toBeGreaterThan(0);
  expect(diff(copy, url, dir).identical).toBe(true);

  // The purge: archive, verify, delete exactly the archived rows.
  const archive = path.join(dir, 'archive-2025-11');
  const p = json<PurgeJson>(run(['purge', plan, '--target', url, '--archive', archive, '--as-of', AS_OF, '--json']));
  expect(p.tables.map((t) => [t.name, t.rows])).toEqual(dry.tables.map((t) => [t.name, t.rows]));
  for (const t of p.tables) expect(t.deleted, t.name).toBe(t.rows);
  const items = p.tables.find((t) => t.name === 'items')!;
  expect(items.kept_referenced, 'raw items referenced by BOM lines and balances stay').toBeGreaterThan(0);
  expect(items.kept_because.join(' ')).toMatch(/bom_lines/);
  const me = p.tables.find((t) => t.name === 'machine_events')!;
  expect(me.rows).toBeGreaterThan(0);

  // The archive verifies and holds exactly the deleted rows.
  expect(run(['bundle', 'verify', archive]).code).toBe(0);
  const record = JSON.parse(readFileSync(path.join(archive, 'deletion-record.json'), 'utf8')) as { tables: { name: string; rows: number; cutoff: string | null }[]; operator: string; as_of: string };
  expect(record.as_of).toBe(AS_OF);
  expect(readFileSync(path.join(archive, 'tagmanifest-sha256.txt'), 'utf8')).toMatch(/ deletion-record\.json\n/);
  for (const t of p.tables) expect(csvRows(path.join(archive, 'data', 'csv', `${t.name}.csv`)), t.name).toBe(t.rows);
  const inArchive = diff(copy, archive, dir);
  const afterPurge = diff(copy, url, dir);
  for (const t of p.tables) {
    const a = inArchive.tables.find((x) => x.table === t.name)!;
    expect({ added: a.added, changed: a.changed, unchanged: a.unchanged }, `${t.name}: the archive's rows are rows of the copy, unchanged`).toEqual({ added: 0, changed: 0, unchanged: t.rows });
    const s = afterPurge.tables.find((x) => x.table === t.name)!;
    expect({ added: s.added, removed: s.removed, changed: s.changed }, `${t.name}: the store lost exactly the archived rows`).toEqual({ added: 0, removed: t.rows, changed: 0 });
  }
  expect(afterPurge.tables.find((x) => x.table === 'bom_lines')!.removed).toBe(0);

  // The ledger holds the purge with the archive's manifest hash, and the chain verifies.
  const last = await lastEntry(url);
  expect([last.command, last.status]).toEqual(['purge', 'succeeded']);
  expect(Object.values(JSON.parse(last.files!) as Record<string, string>)).toEqual([p.manifest_sha256]);
  expect(Object.keys(JSON.parse(last.files!) as Record<string, string>)).toEqual(['archive-2025-11/manifest-sha256.txt']);
  expect((JSON.parse(last.counts!) as Record<string, { deleted: number }>).machine_events!.deleted).toBe(me.rows);
  expect(run(['audit', 'verify', url]).code).toBe(0);

  // The same command again: the archive is complete, its rows are gone: nothing to do.
  const again = json<PurgeJson>(run(['purge', plan, '--target', url, '--archive', archive, '--as-of', AS_OF, '--json']));
  expect(again.already_purged).toBe(true);
  expect(again.deleted_total).toBe(0);

  // The archive imports back and restores the rows exactly.
  expect(run(['bundle', 'import', archive, '--target', url]).code).toBe(0);
  expect(diff(copy, url, dir).identical).toBe(true);
  // The archive names no foreign keys, yet the store keeps describing its own.
  const store = await openStore(url);
  try {
    const balances = (await store.describeTables()).find((e) => e.name === 'stock_balances')!;
    expect(balances.columns.find((c) => c.name === 'item_code')!.references).toEqual({ entity: 'items', column: 'item_code' });
  } finally {
    await store.close();
  }

  // Contract end: a wrong name deletes nothing; the right one empties every data table after a verified archive.
  const all = path.join(dir, 'contract-end');
  const wrong = run(['purge', '--all', '--target', url, '--archive', all, '--confirm', `${dbName}x`, '--json']);
  expect(wrong.code, wrong.stdout).toBe(2);
  expect(JSON.parse(wrong.stdout).error.message).toMatch(/not the store's database name/);
  expect(existsSync(all)).toBe(false);
  expect(diff(copy, url, dir).identical).toBe(true);
  const end = json<PurgeJson>(run(['purge', '--all', '--target', url, '--archive', all, '--confirm', dbName, '--json']));
  expect(end.mode).toBe('all');
  expect(run(['bundle', 'verify', all]).code).toBe(0);
  const emptied = diff(copy, url, dir);
  for (const t of DATA) {
    const e = emptied.tables.find((x) => x.table === t)!;
    expect({ added: e.added, unchanged: e.unchanged, changed: e.changed }, `${t} is empty`).toEqual({ added: 0, unchanged: 0, changed: 0 });
    expect(e.removed, t).toBeGreaterThan(0);
  }
  expect(diff(copy, all, dir).identical, 'the contract-end archive holds every row').toBe(true);
  expect(readdirSync(path.join(all, 'data', 'csv'))).toContain('forklift_runs.csv');
  const endLog = json<{ entries: { command: string; status: string }[] }>(run(['audit', 'log', '--target', url, '--json']));
  expect(endLog.entries.at(-1)).toMatchObject({ command: 'purge', status: 'succeeded' });
  expect(run(['audit', 'verify', url]).code).toBe(0);
}

describe('forklift purge on SQLite', () => {
  it('archives, deletes exactly the archived rows, imports back identical; contract end', async () => {
    const { dir } = demo();
    await scenario(`sqlite:${path.join(dir, 'purge.db')}`, 'purge.db');
  }, 120_000);
});

describe.skipIf(pgDown !== null)('forklift purge on PostgreSQL', () => {
  it('archives, deletes exactly the archived rows, imports back identical; contract end', async () => {
    const db = await pgDbs.create();
    await scenario(db.url, db.name);
  }, 180_000);
});

describe.skipIf(myDown !== null)('forklift purge on MariaDB', () => {
  it('archives, deletes exactly the archived rows, imports back identical; contract end', async () => {
    const db = await myDbs.create();
    await scenario(db.url, db.name);
  }, 180_000);
});

describe('forklift purge: bad input and faults (SQLite)', () => {
  const setup = (): { dir: string; plan: string; url: string; run: (args: string[]) => ReturnType<typeof runCli> } => {
    const { dir, plan } = demo();
    appendFileSync(plan, RULES);
    const url = `sqlite:${path.join(dir, 'bad.db')}`;
    const run = (args: string[]): ReturnType<typeof runCli> => runCli(args, { cwd: dir });
    expect(run(['migrate', plan, '--target', url]).code).toBe(0);
    return { dir, plan, url, run };
  };

  it('refuses rules that do not fit the model, with file and line (exit 2), in mapping check and purge', () => {
    const { plan, url, run } = setup();
    const text = readFileSync(plan, 'utf8');
    const cases: [string, RegExp][] = [
      ['  - entity: machine_event\n    keep: 1 years\n    by: ts\n', /forklift\.yaml:\d+:\d+ retention\[3\]\.entity: unknown entity 'machine_event', did you mean 'machine_events'/],
      ['  - entity: bom_lines\n    keep: 1 year\n    by: valid_to_x\n', /forklift\.yaml:\d+:\d+ retention\[3\]\.by: bom_lines has no column 'valid_to_x'/],
      ['  - entity: bom_lines\n    keep: two years\n    by: valid_to\n', /forklift\.yaml:\d+:\d+ retention\[3\]\.keep: 'two years' is not a period/],
      ['  - entity: bom_lines\n    keep: 2 years\n    by: line_no\n', /forklift\.yaml:\d+:\d+ retention\[3\]\.by: bom_lines\.line_no is of type integer, not a date or timestamp/],
      ["  - entity: bom_lines\n    where: 'qty_per >'\n", /forklift\.yaml:\d+:\d+ expression:/],
      ["  - entity: bom_lines\n    where: 'qty > 1'\n", /forklift\.yaml:\d+:\d+ retention\[3\]\.where: bom_lines has no column 'qty'/],
    ];
    for (const [rule, message] of cases) {
      writeFileSync(plan, text + rule);
      const check = run(['mapping', 'check', plan]);
      expect(check.code, check.stdout + check.stderr).toBe(2);
      expect(check.stderr).toMatch(message);
      const p = run(['purge', plan, '--target', url, '--archive', 'a', '--json']);
      expect(p.code).toBe(2);
      expect(JSON.parse(p.stdout).error.message).toMatch(message);
    }
  }, 120_000);

  it('refuses --as-of in the future, an archive inside a bundle; an unwritable archive deletes nothing (exit 1) and is on record', async () => {
    const { dir, plan, url, run } = setup();
    const future = run(['purge', plan, '--target', url, '--archive', 'a', '--as-of', '2999-01-01']);
    expect(future.code).toBe(2);
    expect(future.stderr).toMatch(/--as-of 2999-01-01 is in the future/);
    expect(run(['export', 'bundle', '--source', url]).code).toBe(0);
    const inside = run(['purge', plan, '--target', url, '--archive', 'bundle/data/archive', '--as-of', AS_OF]);
    expect(inside.code).toBe(2);
    expect(inside.stderr).toMatch(/inside the bundle bundle/);
    const before = diff('bundle', url, dir);
    expect(before.identical).toBe(true);
    // A path through a file is a usage error, before any work.
    writeFileSync(path.join(dir, 'not-a-folder'), 'x');
    const throughFile = run(['purge', plan, '--target', url, '--archive', 'not-a-folder/archive', '--as-of', AS_OF]);
    expect(throughFile.code, throughFile.stderr).toBe(2);
    expect(throughFile.stderr).toMatch(/^Error: --archive not-a-folder\/archive cannot be made: not-a-folder is a file, not a folder/);
    // A folder that cannot be made (its parent a link to a disk that is not there): the archive cannot be written.
    symlinkSync(path.join(dir, 'unmounted', 'archives'), path.join(dir, 'gone'));
    const unwritable = run(['purge', plan, '--target', url, '--archive', 'gone/archive', '--as-of', AS_OF]);
    expect(unwritable.code, unwritable.stderr).toBe(1);
    expect(unwritable.stderr).toMatch(/the archive could not be written .*nothing was deleted/);
    expect(diff('bundle', url, dir).identical).toBe(true);
    expect(await lastEntry(url)).toMatchObject({ command: 'purge', status: 'failed' });
    expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);
  }, 120_000);

  it.skipIf(!HAS_TMUX && !process.env.CI)('purge --all on a terminal asks for the database name: a wrong one deletes nothing, the right one empties the store', async () => {
    const { dir, url, run } = setup();
    const wrong = start(dir, `purge --all --target ${url} --archive end`);
    await screenUntil(wrong, /This empties every table of bad\.db\. Type its name to confirm:/);
    keys(wrong, 'acme.db', 'Enter');
    expect(await screenUntil(wrong, /EXIT=\d+/)).toMatch(/not the store's database name; nothing was deleted[\s\S]*EXIT=2/);
    expect(existsSync(path.join(dir, 'end'))).toBe(false);
    const right = start(dir, `purge --all --target ${url} --archive end`);
    await screenUntil(right, /Type its name to confirm:/);
    keys(right, 'bad.db', 'Enter');
    expect(await screenUntil(right, /EXIT=\d+/, 60_000)).toMatch(/2,584 rows deleted[\s\S]*EXIT=0/);
    expect(run(['bundle', 'verify', 'end']).code).toBe(0);
  }, 120_000);

  it('a rerun over a complete archive finishes the delete only when the store still holds exactly its rows', async () => {
    const { dir, plan, url, run } = setup();
    const args = ['purge', plan, '--target', url, '--archive', 'arch', '--as-of', AS_OF, '--json'];
    const first = json<PurgeJson>(run(args));
    expect(first.deleted_total).toBeGreaterThan(0);
    // As if the first run had died after the archive was in place and before its delete committed.
    expect(run(['bundle', 'import', 'arch', '--target', url]).code).toBe(0);
    const other = run(['purge', plan, '--target', url, '--archive', 'arch', '--as-of', '2025-11-20', '--json']);
    expect(other.code).toBe(2);
    expect(JSON.parse(other.stdout).error.message).toMatch(/holds the archive of another purge/);
    const db = new Database(path.join(dir, 'bad.db'));
    const changed = db.prepare("UPDATE machine_events SET good_count = good_count + 1 WHERE ts = (SELECT min(ts) FROM machine_events)").run().changes;
    expect(changed).toBeGreaterThan(0);
    const differs = run(args);
    expect(differs.code, differs.stdout).toBe(1);
    expect(JSON.parse(differs.stdout).error.message).toMatch(/differ from those archived in arch; nothing was deleted/);
    db.prepare("UPDATE machine_events SET good_count = good_count - 1 WHERE ts = (SELECT min(ts) FROM machine_events)").run();
    db.close();
    const again = json<PurgeJson>(run(args));
    expect(again).toMatchObject({ resumed: true, deleted_total: first.deleted_total, manifest_sha256: first.manifest_sha256 });
    expect(await lastEntry(url)).toMatchObject({ command: 'purge', status: 'succeeded' });
  }, 120_000);

  it('purge --all on a store with a hand-made table without a primary key: exit 2, deleting nothing, and a hint about the store, not about rules', () => {
    const { dir, url, run } = setup();
    const file = url.slice('sqlite:'.length);
    const db = new Database(file);
    db.exec("CREATE TABLE nopk (note TEXT); INSERT INTO nopk VALUES ('kept by hand')");
    const count = (): number => db.prepare('SELECT COUNT(*) FROM items').pluck().get() as number;
    const before = count();
    try {
      const r = run(['purge', '--all', '--target', url, '--archive', 'end', '--confirm', 'bad.db', '--json']);
      expect(r.code, r.stderr).toBe(2);
      const err = (JSON.parse(r.stdout) as { error: { message: string; hint: string } }).error;
      expect(err.message).toBe('nopk has no primary key: a purge deletes rows by their key, so it cannot purge this table');
      expect(err.hint).toBe('Give nopk a primary key (ALTER TABLE … ADD PRIMARY KEY), or drop the table if it is not data to archive: purge --all empties every data table of the store and has no option to leave one out.');
      expect(err.hint).not.toMatch(/retention rules/);
      expect(count()).toBe(before);
      expect(existsSync(path.join(dir, 'end'))).toBe(false);
    } finally {
      db.close();
    }
  }, 60_000);

  it('purge --all without --confirm and without a TTY is exit 2 and deletes nothing', () => {
    const { dir, url, run } = setup();
    const r = run(['purge', '--all', '--target', url, '--archive', 'end']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--confirm bad\.db/);
    expect(existsSync(path.join(dir, 'end'))).toBe(false);
  }, 60_000);
});
