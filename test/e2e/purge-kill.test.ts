import { execFileSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, demoCopy, runCli, tempDir } from '../helpers.js';
import { PG_ADMIN_URL, PgDatabases, probePg, reportUnreachable, spawnCli } from '../integration/stores/live.js';

/**
 * SPEC section 11 against PostgreSQL: a `forklift purge` SIGKILLed while its DELETE runs (seen in
 * pg_stat_activity, inside the transaction that already holds the archived keys) leaves the store exactly as it was and the archive complete and verified at
 * its folder; the same command run again finishes the delete of exactly the archived rows, and
 * once more finds nothing left to do. A run never seen deleting fails the test.
 */

const pgDown = await probePg();
reportUnreachable('PostgreSQL', PG_ADMIN_URL, pgDown, 'test/e2e/purge-kill.test.ts');
const dbs = new PgDatabases();
const cleanup: string[] = [];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

afterAll(async () => {
  await dbs.dropAll().catch(() => {});
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

/** Machine-log rows: enough for a delete that lasts longer than a few polls. */
const MACHINE_ROWS = 300_000;
const AS_OF = '2025-11-17';

interface State {
  tables: Record<string, { rows: number; md5: string }>;
  runs: string[];
}

async function state(url: string): Promise<State> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const tables: State['tables'] = {};
    for (const [t, key] of [
      ['items', 'item_code'],
      ['bom_lines', 'parent_item, line_no'],
      ['stock_balances', 'item_code, warehouse, lot'],
      ['machine_events', 'machine_id, ts'],
    ] as const) {
      const r = await c.query<{ n: string; h: string | null }>(`SELECT count(*) AS n, md5(string_agg(t::text, E'\\n' ORDER BY ${key})) AS h FROM ${t} t`);
      tables[t] = { rows: Number(r.rows[0]!.n), md5: r.rows[0]!.h ?? '' };
    }
    const runs = await c.query<{ id: string; command: string; status: string }>('SELECT id, command, status FROM forklift_runs ORDER BY seq');
    return { tables, runs: runs.rows.map((r) => `${r.command} ${r.status}`) };
  } finally {
    await c.end();
  }
}

/** The demo with the generated machine log and a rule that lets about half of it go. */
function bigDemo(): { dir: string; plan: string } {
  const data = tempDir('forklift-purge-kill-');
  cleanup.push(data);
  execFileSync(process.execPath, [path.join(ROOT, 'fixtures', 'generate.mjs'), '--bench', data, '--machine-rows', String(MACHINE_ROWS), '--items', '1000'], { stdio: 'pipe' });
  const { dir, plan } = demoCopy();
  cleanup.push(dir);
  copyFileSync(path.join(data, 'MACHLOG.CSV'), path.join(dir, 'fixtures', 'demo', 'MACHLOG.CSV'));
  // Keep a week of the two-week log: about half of it goes.
  appendFileSync(plan, 'retention:\n  - entity: machine_events\n    keep: 7 days\n    by: ts\n');
  return { dir, plan };
}

describe('purge killed while it writes its archive (SQLite)', () => {
  it('leaves the store untouched and nothing at the archive folder; the same command does the work', async () => {
    const { dir, plan } = bigDemo();
    const file = path.join(dir, 'kill.db');
    const url = `sqlite:${file}`;
    expect(runCli(['migrate', plan, '--target', url], { cwd: dir }).code).toBe(0);
    const count = (): { events: number; runs: number } => {
      const db = new Database(file, { readonly: true });
      try {
        return { events: (db.prepare('SELECT count(*) AS n FROM machine_events').get() as { n: number }).n, runs: (db.prepare('SELECT count(*) AS n FROM forklift_runs').get() as { n: number }).n };
      } finally {
        db.close();
      }
    };
    const before = count();
    const args = ['purge', plan, '--target', url, '--archive', 'archive', '--as-of', AS_OF, '--json'];
    const cli = spawnCli(args, { cwd: dir, timeoutMs: 120_000 });
    let exited = false;
    void cli.done.then(() => (exited = true));
    let seen = false;
    while (!exited) {
      if (readdirSync(dir).some((f) => f.startsWith('archive.purge-partial-'))) {
        process.kill(cli.pid!, 'SIGKILL');
        seen = true;
        break;
      }
      await sleep(5);
    }
    const killed = await cli.done;
    expect(seen, `the archive was never seen being written (${killed.code} ${killed.stdout.slice(-300)})`).toBe(true);
    expect(killed.code).toBe(-1);
    expect(count()).toEqual(before);
    expect(existsSync(path.join(dir, 'archive'))).toBe(false);
    const again = runCli(args, { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    const done = JSON.parse(again.stdout) as { resumed: boolean; deleted_total: number };
    expect(done.resumed).toBe(false);
    expect(done.deleted_total).toBeGreaterThan(MACHINE_ROWS / 4);
    expect(count()).toEqual({ events: before.events - done.deleted_total, runs: before.runs + 1 });
    expect(runCli(['bundle', 'verify', 'archive'], { cwd: dir }).code).toBe(0);
  }, 300_000);
});

describe.skipIf(pgDown !== null)('purge killed during its delete on PostgreSQL', () => {
  it('leaves the store untouched and the archive complete; the same command finishes the work', async () => {
    const { dir, plan } = bigDemo();
    const db = await dbs.create();
    const migrate = runCli(['migrate', plan, '--target', db.url, '--json'], { cwd: dir });
    expect(migrate.code, migrate.stderr).toBe(0);
    const before = await state(db.url);

    const archive = path.join(dir, 'archive');
    const args = ['purge', plan, '--target', db.url, '--archive', archive, '--as-of', AS_OF, '--json'];
    const cli = spawnCli(args, { cwd: dir, timeoutMs: 120_000 });
    const admin = new pg.Client({ connectionString: db.url, application_name: 'forklift-test-admin' });
    await admin.connect();
    let seen: string | undefined;
    let exited = false;
    void cli.done.then(() => (exited = true));
    try {
      while (!exited) {
        const r = await admin.query<{ q: string }>(
          "SELECT query AS q FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'forklift' AND state = 'active' AND query LIKE 'DELETE FROM %'",
        );
        if (r.rows.length) {
          seen = r.rows[0]!.q.slice(0, 40);
          process.kill(cli.pid!, 'SIGKILL');
          break;
        }
        await sleep(10);
      }
    } finally {
      await admin.end();
    }
    const killed = await cli.done;
    expect(seen, `the delete was never seen (the run ended on its own: ${killed.code} ${killed.stdout.slice(-500)} ${killed.stderr.slice(-500)})`).toBeDefined();
    expect(killed.code).toBe(-1);
    console.info(`purge SIGKILLed during its DELETE: ${seen}`);

    // The server rolls the dead session's transaction back: the store is exactly as before.
    for (let i = 0; i < 200; i++) {
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      const n = (await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'forklift'")).rows[0].n as number;
      await c.end();
      if (n === 0) break;
      await sleep(50);
    }
    expect(await state(db.url)).toEqual(before);
    // The archive was complete and verified before the delete began.
    expect(runCli(['bundle', 'verify', archive]).code).toBe(0);
    expect(readdirSync(dir).filter((f) => f.includes('partial'))).toEqual([]);

    // The same command again finishes the delete of exactly the archived rows.
    const again = runCli(args, { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    const done = JSON.parse(again.stdout) as { resumed: boolean; deleted_total: number; rows_total: number; tables: { name: string; rows: number; deleted: number }[] };
    expect(done.resumed).toBe(true);
    const me = done.tables.find((t) => t.name === 'machine_events')!;
    expect(me.deleted).toBe(me.rows);
    expect(me.rows).toBeGreaterThan(MACHINE_ROWS / 4);
    const after = await state(db.url);
    expect(after.tables.machine_events!.rows).toBe(before.tables.machine_events!.rows - me.rows);
    for (const t of ['items', 'bom_lines', 'stock_balances']) expect(after.tables[t], t).toEqual(before.tables[t]);
    expect(after.runs).toEqual([...before.runs, 'purge succeeded']);
    expect(runCli(['audit', 'verify', db.url]).code).toBe(0);

    // And once more: nothing left to do, nothing deleted.
    const third = runCli(args, { cwd: dir });
    expect(third.code, third.stderr).toBe(0);
    expect(JSON.parse(third.stdout)).toMatchObject({ already_purged: true, deleted_total: 0 });
    expect(await state(db.url)).toEqual(after);
    expect(existsSync(archive)).toBe(true);
  }, 300_000);
});
