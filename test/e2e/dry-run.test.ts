import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { demoCopy, runCli } from '../helpers.js';
import { MYSQL_ADMIN_URL, MysqlDatabases, mysqlAdminConfig, probeMysql, reportUnreachable, spawnCli } from '../integration/stores/live.js';

/**
 * `forklift migrate --dry-run` as a user runs it (SPEC section 12): the built CLI on the demo,
 * what the terminal and --json say, exit codes with and without --json, the report, a SQLite
 * store byte-for-byte the same but for the ledger, and on MariaDB a dry run killed or
 * interrupted while its scratch schema exists.
 */

const ENTITIES = ['items', 'bom_lines', 'stock_balances', 'machine_events'];

/** Every table but forklift_runs, every index, trigger and constraint (sqlite_master), as text. */
function dump(file: string): string {
  const db = new Database(file, { readonly: true });
  try {
    const schema = db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all() as { type: string; name: string }[];
    const rows = schema.filter((s) => s.type === 'table' && s.name !== 'forklift_runs').map((s) => [s.name, db.prepare(`SELECT * FROM "${s.name}"`).raw().all().map((row) => JSON.stringify(row)).sort()]);
    return JSON.stringify({ schema, rows });
  } finally {
    db.close();
  }
}

const ledger = (file: string): { status: string; counts: string }[] => {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT status, counts FROM forklift_runs ORDER BY seq').all() as { status: string; counts: string }[];
  } finally {
    db.close();
  }
};

describe('forklift migrate --dry-run on the demo (SQLite)', () => {
  it('on a new target: says nothing was written, shows what would be inserted, and leaves only the ledger entry', () => {
    const { dir, plan } = demoCopy();
    const r = runCli(['migrate', plan, '--dry-run'], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^migrate hanse-pumpen-demo → sqlite:mappings\/demo\/forklift\.db: dry run: nothing was written \(/);
    expect(r.stdout).toMatch(/entity\s+would insert\s+would update\s+unchanged\s+would delete\s+refused\n-+.*\nitems\s+105\s+0\s+0\s+0\s+0\n/);
    const db = path.join(dir, 'mappings', 'demo', 'forklift.db');
    const tables = new Database(db, { readonly: true });
    expect(tables.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all()).toEqual(['forklift_runs']);
    tables.close();
    expect(ledger(db).map((e) => e.status)).toEqual(['dry-run']);
    const html = readFileSync(path.join(dir, r.stdout.match(/report: (\S+)/)![1]!), 'utf8');
    expect(html).toContain('dry run: nothing was written');
    expect(html).toMatch(/<table id="dry-run">[\s\S]*<tr data-entity="items"><th scope="row">items<\/th><td class="would-insert">105<\/td>/);
  });

  it('after a migrate: every row unchanged, --json carries the figures, and the store is the same but for the ledger', () => {
    const { dir, plan } = demoCopy();
    expect(runCli(['migrate', plan], { cwd: dir }).code).toBe(0);
    const db = path.join(dir, 'mappings', 'demo', 'forklift.db');
    const before = dump(db);
    const r = runCli(['migrate', plan, '--dry-run', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { status: string; committed: boolean; dry_run: boolean; entities: { entity: string; loaded: number; dry_run: Record<string, number> }[] };
    expect(out).toMatchObject({ status: 'dry-run', committed: false, dry_run: true });
    for (const e of out.entities) expect(e.dry_run).toEqual({ would_insert: 0, would_update: 0, unchanged: e.loaded, would_delete: 0, refused: 0 });
    expect(out.entities.map((e) => e.entity)).toEqual(ENTITIES);
    expect(dump(db)).toBe(before);
    const entries = ledger(db);
    expect(entries.map((e) => e.status)).toEqual(['succeeded', 'dry-run']);
    expect(JSON.parse(entries[1]!.counts).items.dry_run).toEqual({ would_insert: 0, would_update: 0, unchanged: 105, would_delete: 0, refused: 0 });
  });

  it('rows the target refuses: rejects with the database message, exit 3 with and without --json, nothing written', () => {
    const { dir, plan } = demoCopy();
    expect(runCli(['migrate', plan], { cwd: dir }).code).toBe(0);
    const db = path.join(dir, 'mappings', 'demo', 'forklift.db');
    const w = new Database(db);
    w.exec("CREATE TRIGGER lock_hp1001 BEFORE INSERT ON items WHEN NEW.item_code = 'HP-1001' BEGIN SELECT RAISE(ABORT, 'HP-1001 is locked by finance'); END");
    w.close();
    const before = dump(db);

    const text = runCli(['migrate', plan, '--dry-run'], { cwd: dir });
    expect(text.code).toBe(3);
    // The refused item takes its BOM lines and balances with it (the target's foreign keys), and so the control totals.
    expect(text.stderr).toMatch(/^Error: dry run: nothing was written, and migrate would commit nothing: .*items: the target refuses 1 row \(target-constraint\); bom_lines: the target refuses \d+ rows/);
    expect(text.stderr).not.toMatch(/\n\s+at /);
    // The figures are shown above the error, since they say what to fix.
    expect(text.stdout).toMatch(/dry run: nothing was written[\s\S]*on the target \(rehearsed and rolled back\):[\s\S]*\nitems\s+0\s+0\s+104\s+1\s+1\n/);

    const json = runCli(['migrate', plan, '--dry-run', '--json'], { cwd: dir });
    expect(json.code).toBe(3);
    const doc = JSON.parse(json.stdout) as { ok: boolean; result: { run_dir: string; entities: { entity: string; dry_run: { refused: number }; rejects_by_rule: Record<string, number> }[] } };
    expect(doc.ok).toBe(false);
    const items = doc.result.entities.find((e) => e.entity === 'items')!;
    expect(items.dry_run.refused).toBe(1);
    expect(items.rejects_by_rule['target-constraint']).toBe(1);
    // The BOM lines and balances of the refused item then fail the target's foreign keys too.
    expect(doc.result.entities.find((e) => e.entity === 'bom_lines')!.dry_run.refused).toBeGreaterThan(0);
    const rejects = readFileSync(path.join(dir, doc.result.run_dir, 'rejects', 'items.csv'), 'utf8');
    expect(rejects).toMatch(/,target-constraint,the target refuses this row: HP-1001 is locked by finance\r\n/);
    expect(dump(db)).toBe(before);
    expect(ledger(db).map((e) => e.status)).toEqual(['succeeded', 'dry-run', 'dry-run']);
  });
});

const myDown = await probeMysql();
reportUnreachable('MariaDB', MYSQL_ADMIN_URL, myDown, 'test/e2e/dry-run.test.ts');
const myDbs = new MysqlDatabases();
afterAll(() => myDbs.dropAll());

async function scratchSchemas(): Promise<string[]> {
  const c = await mysql.createConnection(mysqlAdminConfig());
  try {
    const [rows] = await c.query("SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'forklift\\_dryrun\\_%'");
    return (rows as { s: string }[]).map((r) => r.s);
  } finally {
    await c.end();
  }
}

/** Starts a dry run into MariaDB and sends `signal` once its scratch schema exists; fails if it never saw one. */
async function interruptDryRun(url: string, signal: NodeJS.Signals): Promise<{ code: number; stderr: string; seen: string[] }> {
  const { dir, plan } = demoCopy();
  const run = spawnCli(['migrate', plan, '--dry-run', '--target', url], { cwd: dir });
  let seen: string[] = [];
  let finished = false;
  void run.done.then(() => (finished = true));
  while (!finished && seen.length === 0) {
    seen = await scratchSchemas();
    if (seen.length === 0) await new Promise((r) => setTimeout(r, 5));
  }
  if (seen.length) process.kill(run.pid!, signal);
  const res = await run.done;
  return { code: res.code, stderr: res.stderr, seen };
}

describe.skipIf(myDown !== null)('forklift migrate --dry-run on MariaDB, interrupted', () => {
  for (const next of ['migrate --dry-run', 'migrate']) {
    it(`SIGKILL leaves the scratch schema behind; the next run (${next}) drops it`, async () => {
      const { url } = await myDbs.create();
      const killed = await interruptDryRun(url, 'SIGKILL');
      expect(killed.seen).toHaveLength(1);
      expect(killed.code).not.toBe(0);
      expect(await scratchSchemas()).toEqual(killed.seen);
      const { dir, plan } = demoCopy();
      const r = runCli([...next.split(' '), plan, '--target', url], { cwd: dir });
      expect(r.code).toBe(0);
      expect(await scratchSchemas()).toEqual([]);
    });
  }

  it('Ctrl-C (SIGINT) stops the dry run and drops its scratch schema on the way out', async () => {
    const { url } = await myDbs.create();
    const stopped = await interruptDryRun(url, 'SIGINT');
    expect(stopped.seen).toHaveLength(1);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toMatch(/^Error: /);
    expect(await scratchSchemas()).toEqual([]);
  });
});
