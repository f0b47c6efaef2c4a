import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { factoryModel } from '../../src/model/factory.js';
import { sqliteCreateTable } from '../../src/stores/sqlite.js';
import { ROOT, demoCopy, runCli, tempDir, type CliResult } from '../helpers.js';
import { PG_ADMIN_URL, liveServers, mysqlAdminConfig, spawnCli, withPg } from '../integration/stores/live.js';

/**
 * Ctrl-C and SIGTERM (a CI job killed on its timeout) during migrate, validate, rejects reload and
 * bundle import, through the built CLI. Each run is made to wait at a known stage by real parts,
 * never by sleeping and hoping: a SQL source whose table another session holds locked (extract
 * provably waits), a target table locked so the load's statement waits, a SQLite load made long
 * by a trigger and seen under way by its journal file. The test polls for that condition, then
 * sends the signal. What must hold: exit 1, one JSON document with `<command>.interrupted`, a
 * `failed` entry in the target's forklift_runs (commands that change a store), the target's rows
 * as they were, no staging file left, no statement of forklift's left on the server, and the same
 * command again loading everything once. A run killed with SIGKILL leaves its staging; the next
 * run of the plan removes it and says so.
 */

const { pgDown, myDown, pgDbs, myDbs } = await liveServers('test/e2e/interrupt.test.ts', 'fi_');

/** A test's time: a run of the demo takes seconds, and many times that on a loaded machine. */
const TEST_MS = 300_000;

/** Polls `ready` until it holds, failing if the run ends first, or after two minutes. */
async function until(what: string, ready: () => Promise<boolean> | boolean, ended: () => boolean): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (await ready()) return;
    if (ended()) throw new Error(`the run ended before ${what}`);
    if (Date.now() - t0 > 120_000) throw new Error(`two minutes passed without ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

type Run = CliResult & { hung: boolean };

/** Starts the CLI, waits until `ready` says it is where the test wants it, then sends `signal`. */
async function signalWhen(args: string[], opts: { cwd: string; env?: Record<string, string> }, what: string, ready: () => Promise<boolean> | boolean, signal: NodeJS.Signals): Promise<Run> {
  const run = spawnCli(args, { ...opts, timeoutMs: 240_000 });
  let ended = false;
  void run.done.then(() => (ended = true));
  try {
    await until(what, ready, () => ended);
  } catch (e) {
    const r = await run.done;
    throw new Error(`${(e as Error).message}\nexit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  process.kill(run.pid!, signal);
  return run.done;
}

/** The one JSON document on stdout: an interrupted run's error. */
function interruptedDoc(r: Run, code: string, stage: string): { details?: string[] } {
  expect(r.hung, 'the run ended by itself').toBe(false);
  expect(r.code, r.stderr).toBe(1);
  const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string; hint: string; exit_code: number; details?: string[] } };
  expect(doc.ok).toBe(false);
  expect(doc.error).toMatchObject({ code, exit_code: 1 });
  expect(doc.error.message).toBe(`the ${code.startsWith('import.') ? 'import' : 'run'} was interrupted during ${stage}; nothing was committed`);
  expect(doc.error.hint).toMatch(/^Run the same command again/);
  return doc.error;
}

/** Every file under dir whose name begins with `staging` (the run's staging file, raw rows and claim). */
function stagingLeft(dir: string): string[] {
  const hits: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.startsWith('staging')) hits.push(path.relative(dir, p));
    }
  };
  if (existsSync(dir)) walk(dir);
  return hits;
}

/** A session that holds a lock until released. */
async function pgLock(url: string, sql: string): Promise<{ release: () => Promise<void> }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  await c.query('BEGIN');
  await c.query(sql);
  return {
    release: async () => {
      await c.query('ROLLBACK');
      await c.end();
    },
  };
}

/** Whether a statement of forklift's connections to db waits for a lock (asked on one connection: a poll must not load the server). */
async function pgWaits(db: string): Promise<{ waits: () => Promise<boolean>; end: () => Promise<void> }> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  return {
    waits: async () => (await c.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT l.granted AND a.datname = $1 AND a.application_name = 'forklift'", [db])).rows[0]!.n > 0,
    end: () => c.end(),
  };
}

/** `signalWhen`, once a statement of forklift's on db waits for a lock. */
async function signalWhenWaiting(db: string, args: string[], opts: { cwd: string; env?: Record<string, string> }, what: string, signal: NodeJS.Signals): Promise<Run> {
  const poll = await pgWaits(db);
  try {
    return await signalWhen(args, opts, what, poll.waits, signal);
  } finally {
    await poll.end();
  }
}

/** forklift's connections still open on db (a cancelled statement, an ended session: none). */
async function pgForkliftSessions(db: string): Promise<number> {
  return withPg(PG_ADMIN_URL, async (c) => (await c.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'forklift'", [db])).rows[0]!.n);
}

async function pgLedger(url: string): Promise<{ id: string; command: string; status: string; message: string | null }[]> {
  return withPg(url, async (c) => (await c.query<{ id: string; command: string; status: string; message: string | null }>('SELECT id, command, status, message FROM forklift_runs ORDER BY seq')).rows);
}

const DEMO_TABLES = ['items', 'bom_lines', 'stock_balances', 'machine_events'];

/** Row count and a digest of every row of each demo table. */
async function pgDump(url: string): Promise<Record<string, string>> {
  return withPg(url, async (c) => {
    const out: Record<string, string> = {};
    for (const t of DEMO_TABLES) out[t] = (await c.query<{ d: string }>(`SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS d FROM ${t} t`)).rows[0]!.d;
    return out;
  });
}

function sqliteLedger(file: string): { status: string; message: string | null }[] {
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true });
  try {
    const has = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'forklift_runs'").get();
    return has ? (db.prepare('SELECT status, message FROM forklift_runs ORDER BY seq').all() as { status: string; message: string | null }[]) : [];
  } finally {
    db.close();
  }
}

function sqliteCount(file: string, table: string): number {
  if (!existsSync(file)) return 0;
  const db = new Database(file, { readonly: true });
  try {
    const has = db.prepare('SELECT 1 FROM sqlite_master WHERE name = ?').get(table);
    return has ? (db.prepare(`SELECT count(*) FROM "${table}"`).pluck().get() as number) : 0;
  } finally {
    db.close();
  }
}

const runsOf = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);

/** A plan reading items from a PostgreSQL table through a SQL source, into a SQLite file, appending. */
async function sqlSourcePlan(rows: number, load: 'append' | 'replace' = 'append'): Promise<{ dir: string; plan: string; db: string; url: string; target: string }> {
  const { name, url } = await pgDbs.create();
  await withPg(url, (c) => c.query(`CREATE TABLE legacy (code text PRIMARY KEY, descr text, cost numeric(12,4)); INSERT INTO legacy SELECT 'IT-' || lpad(g::text, 6, '0'), 'item ' || g, g * 1.5 FROM generate_series(1, ${rows}) g`));
  const dir = tempDir('fi-interrupt-');
  writeFileSync(
    path.join(dir, 'items.yaml'),
    ['entity: items', `source: { format: sql, url: "${url}", query: "SELECT code, descr, cost FROM legacy ORDER BY code" }`, 'fields:', '  item_code: { from: code }', '  description: { from: descr }', '  uom: { const: EA }', '  standard_cost: { from: cost }', '  active: { const: true }', ''].join('\n'),
  );
  writeFileSync(path.join(dir, 'forklift.yaml'), `name: fi\ntarget: sqlite:./target.db\nmappings: [items.yaml]\nreject_limit: 1%\nload: ${load}\n`);
  return { dir, plan: path.join(dir, 'forklift.yaml'), db: name, url, target: path.join(dir, 'target.db') };
}

describe.skipIf(pgDown !== null)('interrupted while extracting: a SQL source waits for a lock', { timeout: TEST_MS }, () => {
  for (const [command, signal] of [
    ['migrate', 'SIGTERM'],
    ['validate', 'SIGINT'],
  ] as const) {
    it(`${command}, ${signal}: ${command}.interrupted, the attempt on record, no staging left, the query cancelled; the same command again reads every row once`, async () => {
      const s = await sqlSourcePlan(2000);
      const lock = await pgLock(s.url, 'LOCK TABLE legacy IN ACCESS EXCLUSIVE MODE');
      let r: Run;
      try {
        r = await signalWhenWaiting(s.db, [command, s.plan, '--json'], { cwd: s.dir }, 'the source query waited for the lock', signal);
      } finally {
        await lock.release();
      }
      interruptedDoc(r, `${command}.interrupted`, 'extract');
      expect(r.stderr).toBe('');
      // The source's query was cancelled on the server, and its connection closed.
      expect(await pgForkliftSessions(s.db)).toBe(0);
      expect(stagingLeft(s.dir)).toEqual([]);
      // The interrupted run left no run folder: it had written nothing but its staging.
      expect(runsOf(path.join(s.dir, 'runs'))).toEqual([]);
      expect(sqliteCount(s.target, 'items')).toBe(0);
      // migrate changes a store: its attempt is on record (SPEC section 9); validate changes none.
      const interrupted = command === 'migrate' ? [{ status: 'failed', message: 'the run was interrupted during extract; nothing was committed' }] : [];
      expect(sqliteLedger(s.target)).toEqual(interrupted);

      const again = runCli([command, s.plan, '--json'], { cwd: s.dir });
      expect(again.code, again.stdout + again.stderr).toBe(0);
      const res = JSON.parse(again.stdout) as { entities: { read: number; loaded: number }[]; swept: unknown[] };
      expect(res.entities[0]).toMatchObject({ read: 2000, loaded: 2000 });
      expect(res.swept).toEqual([]);
      if (command === 'migrate') {
        expect(sqliteCount(s.target, 'items')).toBe(2000);
        expect(sqliteLedger(s.target).map((e) => e.status)).toEqual(['failed', 'succeeded']);
      }
      expect(stagingLeft(s.dir)).toEqual([]);
    });
  }
});

/** The demo migrated into a new PostgreSQL database: its plan, target URL and the rows it loaded. */
async function demoOnPg(): Promise<{ dir: string; plan: string; db: string; url: string; env: Record<string, string>; before: Record<string, string> }> {
  const { name, url } = await pgDbs.create();
  const { dir, plan } = demoCopy();
  const env = { FORKLIFT_TARGET: url };
  const first = runCli(['migrate', plan], { cwd: dir, env });
  expect(first.code, first.stderr).toBe(0);
  return { dir, plan, db: name, url, env, before: await pgDump(url) };
}

/** Changes one item's description in the demo's source, so a run that committed would show. */
function editItemSource(dir: string): void {
  const file = path.join(dir, 'fixtures', 'demo', 'ITEMMAST.CSV');
  const bytes = readFileSync(file);
  const at = bytes.indexOf('Kreiselpumpe KP 40-160');
  expect(at).toBeGreaterThan(0);
  bytes.write('Kreiselpumpe XX 40-160', at, 'latin1');
  writeFileSync(file, bytes);
}

const runDirs = (plan: string): string => path.join(path.dirname(plan), 'runs');

describe.skipIf(pgDown !== null)('interrupted while loading into PostgreSQL: a statement waits for a lock', { timeout: TEST_MS }, () => {
  it('migrate, Ctrl-C: the TRUNCATE is cancelled and rolled back; a failed entry and report; the target as it was; the same command again loads the change', async () => {
    const d = await demoOnPg();
    editItemSource(d.dir);
    const lock = await pgLock(d.url, 'LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
    let r: Run;
    try {
      r = await signalWhenWaiting(d.db, ['migrate', d.plan, '--json'], { cwd: d.dir, env: d.env }, 'the load waited for the lock', 'SIGINT');
    } finally {
      await lock.release();
    }
    const err = interruptedDoc(r, 'migrate.interrupted', 'load');
    expect(err.details?.[0]).toMatch(/^the run's report \(status failed, nothing committed\): \S+report\.html$/);
    expect(await pgForkliftSessions(d.db)).toBe(0);
    expect(await pgDump(d.url)).toEqual(d.before);
    const ledger = await pgLedger(d.url);
    expect(ledger.map((e) => [e.status, e.message])).toEqual([
      ['succeeded', null],
      ['failed', 'the run was interrupted during load; nothing was committed'],
    ]);
    const report = JSON.parse(readFileSync(path.join(runDirs(d.plan), ledger[1]!.id, 'report.json'), 'utf8')) as { status: string; committed: boolean; message: string };
    expect(report).toMatchObject({ status: 'failed', committed: false, message: 'the run was interrupted during load; nothing was committed' });
    expect(stagingLeft(d.dir)).toEqual([]);

    const again = runCli(['migrate', d.plan], { cwd: d.dir, env: d.env });
    expect(again.code, again.stderr).toBe(0);
    const after = await pgDump(d.url);
    for (const t of DEMO_TABLES) expect(after[t]!.split(' ')[0], t).toBe(d.before[t]!.split(' ')[0]);
    expect(after.items).not.toBe(d.before.items);
    expect((await pgLedger(d.url)).map((e) => e.status)).toEqual(['succeeded', 'failed', 'succeeded']);
  });

  it('migrate --dry-run, Ctrl-C while the rehearsal waits: its report (failed, dry run), a dry-run entry, a hint for a dry run; the target as it was', async () => {
    const d = await demoOnPg();
    // SHARE lets the dry run read the target's rows (its reads take ACCESS SHARE, NOWAIT and retried,
    // so a wait there shows in no lock table) and makes the rehearsal's replace wait.
    const lock = await pgLock(d.url, 'LOCK TABLE items IN SHARE MODE');
    let r: Run;
    try {
      r = await signalWhenWaiting(d.db, ['migrate', d.plan, '--dry-run', '--json'], { cwd: d.dir, env: d.env }, 'the rehearsal waited for the lock', 'SIGINT');
    } finally {
      await lock.release();
    }
    expect(r.hung, 'the run ended by itself').toBe(false);
    expect(r.code, r.stderr).toBe(1);
    const err = (JSON.parse(r.stdout) as { error: { code: string; message: string; hint: string; details?: string[] } }).error;
    expect(err).toMatchObject({ code: 'migrate.interrupted', message: 'the dry run was interrupted during load; nothing was written' });
    expect(err.hint).toBe('Run the same command again: it rehearses the whole load, and still writes nothing.');
    expect(err.details?.[0]).toMatch(/^the run's report \(status failed, nothing committed\): \S+report\.html$/);
    expect(await pgForkliftSessions(d.db)).toBe(0);
    expect(await pgDump(d.url)).toEqual(d.before);
    const ledger = await pgLedger(d.url);
    expect(ledger.map((e) => [e.command, e.status, e.message])).toEqual([
      ['migrate', 'succeeded', null],
      ['migrate', 'dry-run', 'the dry run was interrupted during load; nothing was written'],
    ]);
    const report = JSON.parse(readFileSync(path.join(runDirs(d.plan), ledger[1]!.id, 'report.json'), 'utf8')) as { status: string; committed: boolean; dry_run: boolean; message: string; entities: { entity: string; read: number }[] };
    expect(report).toMatchObject({ status: 'failed', committed: false, dry_run: true, message: 'the dry run was interrupted during load; nothing was written' });
    expect(report.entities.map((e) => e.entity).sort()).toEqual([...DEMO_TABLES].sort());
    expect(stagingLeft(d.dir)).toEqual([]);

    const again = runCli(['migrate', d.plan, '--dry-run'], { cwd: d.dir, env: d.env });
    expect(again.code, again.stderr).toBe(0);
    expect(await pgDump(d.url)).toEqual(d.before);
    expect((await pgLedger(d.url)).map((e) => e.status)).toEqual(['succeeded', 'dry-run', 'dry-run']);
  });

  it('rejects reload, SIGTERM: reload.interrupted while it reads the target’s keys (a read waiting for the lock, cancelled); a failed entry; the reload again finishes', async () => {
    const d = await demoOnPg();
    const [first] = runsOf(runDirs(d.plan));
    const runDir = path.join(runDirs(d.plan), first!);
    const lock = await pgLock(d.url, 'LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
    let r: Run;
    try {
      r = await signalWhenWaiting(d.db, ['rejects', 'reload', runDir, '--json'], { cwd: d.dir, env: d.env }, 'the reload waited for the lock', 'SIGTERM');
    } finally {
      await lock.release();
    }
    interruptedDoc(r, 'reload.interrupted', 'validate');
    expect(await pgForkliftSessions(d.db)).toBe(0);
    expect(await pgDump(d.url)).toEqual(d.before);
    expect((await pgLedger(d.url)).map((e) => [e.command, e.status])).toEqual([
      ['migrate', 'succeeded'],
      ['rejects reload', 'failed'],
    ]);
    expect(stagingLeft(d.dir)).toEqual([]);
    const again = runCli(['rejects', 'reload', runDir], { cwd: d.dir, env: d.env });
    expect(again.code, again.stderr).toBe(0);
    expect((await pgLedger(d.url)).map((e) => e.status)).toEqual(['succeeded', 'failed', 'succeeded']);
  });

  it('bundle import, SIGTERM: import.interrupted while the replace waits; a failed entry; the import again loads the bundle', async () => {
    const d = await demoOnPg();
    const bundle = path.join(d.dir, 'bundle');
    expect(runCli(['export', bundle, '--source', d.url], { cwd: d.dir }).code).toBe(0);
    const into = await pgDbs.create();
    const first = runCli(['bundle', 'import', bundle, '--target', into.url], { cwd: d.dir });
    expect(first.code, first.stderr).toBe(0);
    const before = await pgDump(into.url);
    const lock = await pgLock(into.url, 'LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
    let r: Run;
    try {
      r = await signalWhenWaiting(into.name, ['bundle', 'import', bundle, '--target', into.url, '--load', 'replace', '--json'], { cwd: d.dir }, 'the import waited for the lock', 'SIGTERM');
    } finally {
      await lock.release();
    }
    interruptedDoc(r, 'import.interrupted', 'load');
    expect(await pgForkliftSessions(into.name)).toBe(0);
    expect(await pgDump(into.url)).toEqual(before);
    expect((await pgLedger(into.url)).map((e) => [e.command, e.status, e.message])).toEqual([
      ['import', 'succeeded', null],
      ['import', 'failed', 'the import was interrupted during load; nothing was committed'],
    ]);
    const again = runCli(['bundle', 'import', bundle, '--target', into.url, '--load', 'replace'], { cwd: d.dir });
    expect(again.code, again.stderr).toBe(0);
    expect(await pgDump(into.url)).toEqual(before);
  });
});

describe.skipIf(myDown !== null)('interrupted while loading into MariaDB: a statement waits for a row lock', { timeout: TEST_MS }, () => {
  it('migrate, SIGTERM: KILL QUERY ends the DELETE, the transaction rolls back; a failed entry; the same command again loads', async () => {
    const { url, name } = await myDbs.create();
    const { dir, plan } = demoCopy();
    const env = { FORKLIFT_TARGET: url };
    expect(runCli(['migrate', plan], { cwd: dir, env }).code).toBe(0);
    editItemSource(dir);
    const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
    const dump = async (): Promise<Record<string, string>> => {
      const out: Record<string, string> = {};
      for (const t of DEMO_TABLES) out[t] = String(((await c.query(`SELECT count(*) AS n FROM ${t}`)) as unknown as [{ n: number }[]])[0][0]!.n);
      out.hp1001 = String(((await c.query("SELECT description AS d FROM items WHERE item_code = 'HP-1001'")) as unknown as [{ d: string }[]])[0][0]!.d);
      return out;
    };
    // InnoDB refreshes what INNODB_TRX shows only when it was last read 0.1 s ago or more: polled
    // more often, it would show the transactions of the first read for ever.
    let asked = 0;
    const waiting = async (): Promise<boolean> => {
      if (Date.now() - asked < 200) return false;
      const [rows] = (await c.query("SELECT count(*) AS n FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT' AND trx_mysql_thread_id <> CONNECTION_ID()")) as unknown as [{ n: number }[]];
      asked = Date.now();
      return Number(rows[0]!.n) > 0;
    };
    try {
      const before = await dump();
      const locker = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
      let r: Run;
      try {
        await locker.query('START TRANSACTION');
        await locker.query("SELECT * FROM items WHERE item_code = 'HP-1001' FOR UPDATE");
        r = await signalWhen(['migrate', plan, '--json'], { cwd: dir, env }, 'the load waited for the row lock', waiting, 'SIGTERM');
      } finally {
        await locker.query('ROLLBACK');
        await locker.end();
      }
      interruptedDoc(r, 'migrate.interrupted', 'load');
      expect(await dump()).toEqual(before);
      const [ledger] = (await c.query('SELECT status, message FROM forklift_runs ORDER BY seq')) as unknown as [{ status: string; message: string | null }[]];
      expect(ledger.map((e) => [e.status, e.message])).toEqual([
        ['succeeded', null],
        ['failed', 'the run was interrupted during load; nothing was committed'],
      ]);
      const [left] = (await c.query("SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID() AND COMMAND = 'Query'", [name])) as unknown as [{ n: number }[]];
      expect(Number(left[0]!.n)).toBe(0);
      expect(stagingLeft(dir)).toEqual([]);
      const again = runCli(['migrate', plan], { cwd: dir, env });
      expect(again.code, again.stderr).toBe(0);
      expect(await dump()).toEqual({ ...before, hp1001: before.hp1001!.replace('KP 40-160', 'XX 40-160') });
    } finally {
      await c.end();
    }
  });
});

/**
 * Runs the CLI with `args` while another session holds `LOCK TABLES parts WRITE` on database
 * `name`, sends SIGINT once a statement waits for that lock, and checks, the lock still held, that
 * the server no longer runs any statement of the CLI (KILL QUERY, not the lock's end, ended it).
 */
async function interruptedWhileLocked(c: mysql.Connection, name: string, args: string[], cwd: string): Promise<Run> {
  const waiting = async (): Promise<boolean> => {
    const [rows] = (await c.query("SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID() AND STATE LIKE 'Waiting for table%'", [name])) as unknown as [{ n: number }[]];
    return Number(rows[0]!.n) > 0;
  };
  const locker = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
  try {
    await locker.query('LOCK TABLES parts WRITE');
    const r = await signalWhen(args, { cwd }, `${args[0]} waited for the lock`, waiting, 'SIGINT');
    const [left] = (await c.query("SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID() AND ID <> ? AND COMMAND = 'Query'", [name, locker.threadId])) as unknown as [{ n: number }[]];
    expect(Number(left[0]!.n), 'statements of the CLI still on the server').toBe(0);
    expect(r.hung, `${args[0]} ended by itself`).toBe(false);
    return r;
  } finally {
    await locker.query('UNLOCK TABLES');
    await locker.end();
  }
}

// MariaDB keeps a statement waiting for a table lock for lock_wait_timeout: a year by default.
describe.skipIf(myDown !== null)('interrupted while reading MariaDB (export, diff): a read waits for a table lock', { timeout: TEST_MS }, () => {
  it('export, Ctrl-C: ends at once (not when the lock goes), KILL QUERY stops the read on the server, nothing written; the same command again exports', async () => {
    const { url, name } = await myDbs.create();
    const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
    const dir = tempDir('fi-interrupt-export-');
    const bundle = path.join(dir, 'bundle');
    try {
      await c.query('CREATE TABLE parts (id int PRIMARY KEY, name varchar(20))');
      await c.query("INSERT INTO parts VALUES (1, 'gear'), (2, 'shaft')");
      const r = await interruptedWhileLocked(c, name, ['export', bundle, '--source', url, '--json'], dir);
      expect(r.code, r.stderr).toBe(1);
      expect((JSON.parse(r.stdout) as { error: { code: string } }).error.code).toBe('export.interrupted');
      expect(existsSync(bundle)).toBe(false);
      expect(readdirSync(dir)).toEqual([]);
      const again = runCli(['export', bundle, '--source', url], { cwd: dir });
      expect(again.code, again.stderr).toBe(0);
      expect(readFileSync(path.join(bundle, 'data', 'csv', 'parts.csv'), 'utf8')).toBe('id,name\r\n1,gear\r\n2,shaft\r\n');
    } finally {
      await c.end();
    }
  });

  it('diff of two stores, Ctrl-C: ends at once, and the read is gone from the server', async () => {
    const { url, name } = await myDbs.create();
    const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
    try {
      await c.query('CREATE TABLE parts (id int PRIMARY KEY, name varchar(20))');
      await c.query("INSERT INTO parts VALUES (1, 'gear')");
      const r = await interruptedWhileLocked(c, name, ['diff', url, url, '--json'], tempDir('fi-interrupt-diff-'));
      expect(r.code, r.stderr).toBe(2);
      expect((JSON.parse(r.stdout) as { error: { message: string } }).error.message).toMatch(/interrupted/);
    } finally {
      await c.end();
    }
  });
});

/** A machine log of `rows` rows in the demo's MACHLOG.CSV form: 50 machines, a reading a minute each. */
function machineLog(file: string, rows: number): void {
  const lines = ['MACHINE,TIMESTAMP,STATE,GOOD,REJECT,REASON,TEMP,VIBR,POWER'];
  const t0 = Date.UTC(2025, 0, 1);
  for (let i = 0; i < rows; i++) {
    const ts = new Date(t0 + Math.floor(i / 50) * 60_000).toISOString().slice(0, 19).replace('T', ' ');
    lines.push(`CNC-${String((i % 50) + 1).padStart(2, '0')},${ts},R,${i % 40},${i % 3},,47.5,2.6,19.4`);
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
}

/** A plan of the demo's machine-log mapping over a generated log of `rows` rows, into a new SQLite file (append). */
function machineLogPlan(rows: number): { dir: string; plan: string; target: string } {
  const dir = tempDir('fi-interrupt-sqlite-');
  mkdirSync(path.join(dir, 'data'));
  machineLog(path.join(dir, 'data', 'MACHLOG.CSV'), rows);
  const demoMapping = readFileSync(path.join(ROOT, 'mappings', 'demo', 'machine_log.yaml'), 'utf8');
  writeFileSync(path.join(dir, 'machine_log.yaml'), demoMapping.replace('../../fixtures/demo/MACHLOG.CSV', 'data/MACHLOG.CSV'));
  writeFileSync(path.join(dir, 'forklift.yaml'), 'name: fi-sqlite\ntarget: sqlite:./target.db\nmodel: factory\nmappings: [machine_log.yaml]\nreject_limit: 1%\nload: append\n');
  return { dir, plan: path.join(dir, 'forklift.yaml'), target: path.join(dir, 'target.db') };
}

describe('interrupted while the extraction thread reads a large file', { timeout: TEST_MS }, () => {
  it('migrate, SIGTERM once the thread writes the raw rows: the thread is stopped, its files removed; the same command again loads every row once', async () => {
    const ROWS = 300_000;
    const m = machineLogPlan(ROWS);
    const env = { FORKLIFT_EXTRACT_THREAD: 'always' };
    // The thread makes the raw rows file when it begins to read; reading 300,000 rows takes seconds more.
    const rawFile = (): boolean => runsOf(path.join(m.dir, 'runs')).some((id) => existsSync(path.join(m.dir, 'runs', id, 'staging-raw.sqlite')));
    const r = await signalWhen(['migrate', m.plan, '--json'], { cwd: m.dir, env }, 'the thread began to read', rawFile, 'SIGTERM');
    interruptedDoc(r, 'migrate.interrupted', 'extract');
    expect(stagingLeft(m.dir)).toEqual([]);
    expect(runsOf(path.join(m.dir, 'runs'))).toEqual([]);
    expect(sqliteLedger(m.target)).toEqual([{ status: 'failed', message: 'the run was interrupted during extract; nothing was committed' }]);
    const again = runCli(['migrate', m.plan], { cwd: m.dir, env });
    expect(again.code, again.stderr).toBe(0);
    expect(sqliteCount(m.target, 'machine_events')).toBe(ROWS);
  });
});

describe('interrupted while loading into SQLite: the load is under way (its journal file exists) and long', { timeout: TEST_MS }, () => {
  it('migrate, Ctrl-C: stops between two chunks of its INSERT … SELECT, rolls back, records the attempt; the same command again loads every row once', async () => {
    const ROWS = 150_000;
    const { dir, plan, target } = machineLogPlan(ROWS);
    // The table as forklift makes it, with a trigger that reads 2,000 rows per row inserted: the
    // load then lasts many seconds, long after its journal file appears.
    const t = new Database(target);
    t.exec(sqliteCreateTable(factoryModel().entities.get('machine_events')!));
    t.exec('CREATE TABLE pad (x); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO pad SELECT i FROM n');
    t.exec('CREATE TRIGGER slow AFTER INSERT ON machine_events BEGIN SELECT count(*) FROM pad; END');
    t.close();
    const r = await signalWhen(['migrate', plan, '--json'], { cwd: dir }, 'the load began', () => existsSync(`${target}-journal`), 'SIGINT');
    interruptedDoc(r, 'migrate.interrupted', 'load');
    expect(existsSync(`${target}-journal`)).toBe(false);
    expect(sqliteCount(target, 'machine_events')).toBe(0);
    expect(sqliteLedger(target)).toEqual([{ status: 'failed', message: 'the run was interrupted during load; nothing was committed' }]);
    expect(stagingLeft(dir)).toEqual([]);

    const fast = new Database(target);
    fast.exec('DROP TRIGGER slow');
    fast.close();
    const again = runCli(['migrate', plan], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect(sqliteCount(target, 'machine_events')).toBe(ROWS);
    expect(sqliteLedger(target).map((e) => e.status)).toEqual(['failed', 'succeeded']);
  });
});

describe.skipIf(pgDown !== null)('a run killed outright (SIGKILL)', { timeout: TEST_MS }, () => {
  it('leaves its staging; the next run of the plan removes it, says so in one line, and never touches the files of finished runs', async () => {
    const s = await sqlSourcePlan(500, 'replace');
    const done = runCli(['migrate', s.plan], { cwd: s.dir });
    expect(done.code, done.stderr).toBe(0);
    const runs = path.join(s.dir, 'runs');
    const [finished] = runsOf(runs);
    const finishedFiles = readdirSync(path.join(runs, finished!)).sort();
    expect(finishedFiles).toContain('report.json');
    // An earlier run that kept its staging on purpose (--keep-staging) is the user's: never swept.
    const kept = runCli(['validate', s.plan, '--keep-staging'], { cwd: s.dir });
    expect(kept.code, kept.stderr).toBe(0);
    const keptRun = runsOf(runs).find((n) => n !== finished)!;
    expect(readdirSync(path.join(runs, keptRun))).toContain('staging.sqlite');

    const lock = await pgLock(s.url, 'LOCK TABLE legacy IN ACCESS EXCLUSIVE MODE');
    let killedPid = 0;
    let r: Run;
    try {
      const run = spawnCli(['migrate', s.plan], { cwd: s.dir, timeoutMs: 240_000 });
      killedPid = run.pid!;
      let ended = false;
      void run.done.then(() => (ended = true));
      const poll = await pgWaits(s.db);
      try {
        await until('the source query waited for the lock', poll.waits, () => ended);
      } finally {
        await poll.end();
      }
      process.kill(run.pid!, 'SIGKILL');
      r = await run.done;
    } finally {
      await lock.release();
    }
    expect(r.code).not.toBe(0);
    const killed = runsOf(runs).find((n) => n !== finished && n !== keptRun)!;
    expect(readdirSync(path.join(runs, killed)).sort()).toEqual(['rejects', 'staging.owner', 'staging.sqlite']);

    const again = runCli(['migrate', s.plan], { cwd: s.dir });
    expect(again.code, again.stderr).toBe(0);
    const lines = again.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^removed the staging files of runs/${killed}, left by an interrupted forklift migrate \\(process ${killedPid}, started \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\)$`));
    expect(lines[1]).toMatch(/^migrate fi → sqlite:target\.db: succeeded/);
    // The killed run's folder held nothing else: it is gone; the finished and the kept runs are as they were.
    expect(runsOf(runs)).not.toContain(killed);
    expect(readdirSync(path.join(runs, finished!)).sort()).toEqual(finishedFiles);
    expect(readdirSync(path.join(runs, keptRun))).toContain('staging.sqlite');
    expect(stagingLeft(s.dir).filter((f) => !f.startsWith(path.join('runs', keptRun)))).toEqual([]);
    expect(sqliteCount(s.target, 'items')).toBe(500);
  });
});

describe('a second Ctrl-C while a command cleans up', { timeout: TEST_MS }, () => {
  // Every clean-up of forklift's is bounded, so none can be made to hang for real: a command of the
  // real base command whose clean-up never ends stands in for a server that does not answer.
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${signal} twice: the process ends at once, exit ${code}, saying what it left`, async () => {
      const dir = tempDir('fi-interrupt-twice-');
      const script = path.join(dir, 'hang.mjs');
      writeFileSync(
        script,
        [
          `import { BaseCommand } from ${JSON.stringify(path.join(ROOT, 'dist', 'src', 'cli', 'base.js'))};`,
          'class Hang extends BaseCommand {',
          '  async run() {',
          '    const interrupt = this.interruptible();',
          "    interrupt.signal.addEventListener('abort', () => process.stdout.write('cleaning up\\n'));",
          '    setInterval(() => {}, 1000);',
          "    process.stdout.write('ready\\n');",
          '    await new Promise(() => {});',
          '  }',
          '}',
          `await Hang.run([], ${JSON.stringify(ROOT)});`,
          '',
        ].join('\n'),
      );
      const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (c, s) => resolve({ code: c, signal: s })));
      let ended = false;
      void done.then(() => (ended = true));
      try {
        await until('the command was ready', () => stdout.includes('ready\n'), () => ended);
        child.kill(signal);
        await until('the command was cleaning up', () => stdout.includes('cleaning up\n'), () => ended);
        child.kill(signal);
      } catch (e) {
        child.kill('SIGKILL');
        throw new Error(`${(e as Error).message}\nstdout: ${stdout}\nstderr: ${stderr}`);
      }
      expect(await done).toEqual({ code, signal: null });
      expect(stderr).toMatch(new RegExp(`^\\n${signal === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM'} again: stopped at once, without cleaning up \\(the next run removes what this one left\\)\\n$`));
    });
  }
});
