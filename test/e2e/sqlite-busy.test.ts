import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BIN, demoCopy, runCli, tempDir } from '../helpers.js';

/**
 * One SQLite store used by two programs at once (the embedded default, `sqlite:./forklift.db`).
 * The other program is this test process, holding a lock with better-sqlite3 while the built CLI
 * runs: a read transaction (as an export's snapshot holds), the write lock of a transaction that
 * has written nothing yet (another migrate), or the file exclusively (a writer committing). No
 * timing is raced: FORKLIFT_SQLITE_WAIT makes forklift's wait short where it must fail, and the
 * one case that waits and then works releases the lock once the CLI provably holds the write lock.
 */

const WAIT = { FORKLIFT_SQLITE_WAIT: '0.5' };

let demo: { dir: string; plan: string };
let db: string;

/** The lock this test holds, released after each test whatever happened. */
let held: Database.Database | undefined;

function hold(file: string, mode: 'read' | 'write' | 'exclusive'): Database.Database {
  const c = new Database(file, { timeout: 0 });
  if (mode === 'read') {
    c.exec('BEGIN');
    c.prepare('SELECT count(*) FROM sqlite_schema').get();
  } else {
    c.exec(mode === 'write' ? 'BEGIN IMMEDIATE' : 'BEGIN EXCLUSIVE');
  }
  held = c;
  return c;
}

/** Ends the held transaction (rolled back: the rows a test wrote in it never commit) and closes its connection. */
function release(): void {
  if (held?.inTransaction) held.exec('ROLLBACK');
  held?.close();
  held = undefined;
}

afterEach(release);

/** Whether another connection comes to hold the file's write lock within 30 s (a migrate in its load, waiting to commit while this test reads). */
async function writeLockTaken(file: string, cli?: ReturnType<typeof startCli>): Promise<boolean> {
  const probe = new Database(file, { timeout: 0 });
  try {
    // A CLI that ended took no lock to wait in: no use waiting out the 30 s (its output says why).
    for (const start = Date.now(); Date.now() - start < 30_000 && cli?.child.exitCode == null; await new Promise((r) => setTimeout(r, 20))) {
      try {
        probe.exec('BEGIN IMMEDIATE');
        probe.exec('ROLLBACK');
      } catch (e) {
        if ((e as { code?: string }).code === 'SQLITE_BUSY') return true;
      }
    }
    return false;
  } finally {
    probe.close();
  }
}

/** The built CLI as a child process that runs on while the test goes on: its exit code and stdout once it ends. */
function startCli(args: string[], cwd: string, env: Record<string, string> = {}): { child: ReturnType<typeof spawn>; ended: Promise<{ code: number | null; stdout: string }>; output: () => string } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const output = (): string => `exit code ${String(child.exitCode)}; stdout: ${stdout.slice(-1500)}; stderr: ${stderr.slice(-1500)}`;
  return { child, ended: new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout }))), output };
}

/** Ctrl-C to a CLI started with startCli: how long it took to end after it, its exit code and its --json error. */
async function interrupt(cli: ReturnType<typeof startCli>): Promise<{ ms: number; code: number | null; error: JsonError['error'] }> {
  const t0 = Date.now();
  cli.child.kill('SIGINT');
  const { code, stdout } = await cli.ended;
  return { ms: Date.now() - t0, code, error: (JSON.parse(stdout) as JsonError).error };
}

function counts(file: string): { runs: number; items: number } {
  const c = new Database(file, { readonly: true });
  try {
    return { runs: c.prepare('SELECT count(*) FROM forklift_runs').pluck().get() as number, items: c.prepare('SELECT count(*) FROM items').pluck().get() as number };
  } finally {
    c.close();
  }
}

function journalMode(file: string): string {
  const c = new Database(file, { readonly: true });
  try {
    return c.pragma('journal_mode', { simple: true }) as string;
  } finally {
    c.close();
  }
}

interface JsonError {
  ok: boolean;
  error: { code: string; message: string; hint?: string; details?: string[] };
}

function expectBusy(r: { code: number; stdout: string; stderr: string }, exitCode: number, store: string): JsonError['error'] {
  expect(r.code, r.stdout + r.stderr).toBe(exitCode);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  const doc = JSON.parse(r.stdout) as JsonError;
  expect(doc.error.code).toBe('store.busy');
  expect(doc.error.message).toContain(`${store}: another forklift run or program`);
  expect(doc.error.message).toContain('kept it locked for the 500 ms forklift waits');
  expect(doc.error.hint).toMatch(/^Wait for it to finish .*then run this again; FORKLIFT_SQLITE_WAIT=SECONDS waits longer/);
  return doc.error;
}

beforeAll(() => {
  demo = demoCopy();
  const r = runCli(['migrate', demo.plan], { cwd: demo.dir });
  expect(r.code, r.stderr).toBe(0);
  db = path.join(demo.dir, 'mappings', 'demo', 'forklift.db');
});

const STORE = 'sqlite:mappings/demo/forklift.db';

describe('a store forklift made (rollback journal, as SQLite makes a new file)', () => {
  it('forklift makes its store in rollback-journal mode and leaves the mode as it is', () => {
    expect(journalMode(db)).toBe('delete');
  });

  it('migrate while a reader holds the store (an export reading): waits, then exit 1 store.busy naming the file; nothing committed, report failed, not in the ledger', () => {
    const before = counts(db);
    const runs = path.join(demo.dir, 'mappings', 'demo', 'runs');
    const earlier = new Set(readdirSync(runs));
    hold(db, 'read');
    const t0 = Date.now();
    const r = runCli(['migrate', demo.plan, '--json'], { cwd: demo.dir, env: WAIT });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    const error = expectBusy(r, 1, STORE);
    expect(error.message).toMatch(/nothing was committed$/);
    expect(error.details?.join('\n')).toContain(`this attempt is not in the ledger of ${STORE}: the store did not take its failed entry either`);
    release();
    expect(counts(db)).toEqual(before);
    // This run's folder: not by sorting (a run in the same second as the first sorts by its random tail).
    const made = readdirSync(runs).filter((d) => !earlier.has(d));
    expect(made).toHaveLength(1);
    const last = made[0]!;
    const report = JSON.parse(readFileSync(path.join(runs, last, 'report.json'), 'utf8')) as { status: string; committed: boolean; message: string; ledger_head: string | null };
    expect(report).toMatchObject({ status: 'failed', committed: false, ledger_head: null });
    expect(report.message).toContain('kept it locked for the 500 ms forklift waits; nothing was committed');
    expect(report.message).toMatch(/not in the ledger of sqlite:mappings\/demo\/forklift.db/);
    // And the same refusal on a terminal's streams: message and hint, no stack.
    hold(db, 'read');
    const plain = runCli(['migrate', demo.plan], { cwd: demo.dir, env: WAIT });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/^Error: sqlite:mappings\/demo\/forklift\.db: another forklift run or program is using the database file, and kept it locked for the 500 ms forklift waits; nothing was committed\n/);
    expect(plain.stderr).toMatch(/\nHint: Wait for it to finish/);
    expect(plain.stderr).not.toMatch(/\n\s+at |internal error|bug in forklift/);
  });

  it('migrate while another writer holds the write lock (two migrates at once): it waits for the lock instead of failing at once, then store.busy', () => {
    const before = counts(db);
    hold(db, 'write');
    const t0 = Date.now();
    const r = runCli(['migrate', demo.plan, '--json'], { cwd: demo.dir, env: WAIT });
    expectBusy(r, 1, STORE);
    // The whole wait for the load's lock, then a brief one for the failed entry.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    release();
    expect(counts(db)).toEqual(before);
  });

  it('migrate while a reader holds the store commits once the reader ends', async () => {
    const before = counts(db);
    hold(db, 'read');
    const cli = startCli(['migrate', demo.plan, '--json'], demo.dir);
    const { ended } = cli;
    expect(await writeLockTaken(db, cli), cli.output()).toBe(true);
    release();
    const { code, stdout } = await ended;
    expect(code, stdout).toBe(0);
    expect(counts(db)).toEqual({ runs: before.runs + 1, items: before.items });
  });

  it('Ctrl-C while a migrate waits to commit stops the wait: interrupted, nothing committed, long before FORKLIFT_SQLITE_WAIT', async () => {
    const before = counts(db);
    hold(db, 'read');
    const cli = startCli(['migrate', demo.plan, '--json'], demo.dir, { FORKLIFT_SQLITE_WAIT: '120' });
    expect(await writeLockTaken(db, cli), cli.output()).toBe(true);
    const { ms, code, error } = await interrupt(cli);
    // The interrupted run tries its failed entry (3 s) and closes the store (3 s at most) while this reader still holds the file.
    expect(ms).toBeLessThan(20_000);
    expect(code).toBe(1);
    expect(error).toMatchObject({ code: 'migrate.interrupted', message: 'the run was interrupted during load; nothing was committed' });
    release();
    expect(counts(db)).toEqual(before);
  });

  it('export while a writer holds uncommitted rows reads the last committed state', () => {
    const w = hold(db, 'write');
    w.prepare("UPDATE items SET description = 'uncommitted' WHERE item_code = (SELECT min(item_code) FROM items)").run();
    const bundle = path.join(tempDir('fxbusy-'), 'b');
    const r = runCli(['export', bundle, '--source', `sqlite:${db}`], { cwd: demo.dir, env: WAIT });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(path.join(bundle, 'data', 'csv', 'items.csv'), 'utf8')).not.toContain('uncommitted');
  });

  it('export while a writer commits (the file held exclusively): exit 1 store.busy, no bundle left', () => {
    hold(db, 'exclusive');
    const parent = tempDir('fxbusy-');
    const r = runCli(['export', path.join(parent, 'b'), '--source', `sqlite:${db}`, '--json'], { cwd: demo.dir, env: WAIT });
    const error = expectBusy(r, 1, STORE);
    expect(error.message).toContain('is writing to the database file');
    expect(readdirSync(parent)).toEqual([]);
  });

  it('Ctrl-C while an export waits for a writer to commit: interrupted at once, nothing written', async () => {
    hold(db, 'exclusive');
    const parent = tempDir('fxbusy-');
    const cli = startCli(['export', path.join(parent, 'b'), '--source', `sqlite:${db}`, '--json'], demo.dir, { FORKLIFT_SQLITE_WAIT: '120' });
    // Its work folder is claimed before it opens the store: from then on it is at, or on its way to, the wait.
    for (const start = Date.now(); Date.now() - start < 30_000 && !readdirSync(parent).some((f) => f.startsWith('b.partial-')); ) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    const { ms, code, error } = await interrupt(cli);
    expect(ms).toBeLessThan(3000);
    expect(code).toBe(1);
    expect(error).toMatchObject({ code: 'export.interrupted', message: 'the export was interrupted; nothing was written' });
    expect(readdirSync(parent)).toEqual([]);
  });

  it('diff against a store being written: exit 2 (trouble) store.busy', () => {
    const bundle = path.join(tempDir('fxbusy-'), 'b');
    expect(runCli(['export', bundle, '--source', `sqlite:${db}`], { cwd: demo.dir }).code).toBe(0);
    hold(db, 'exclusive');
    expectBusy(runCli(['diff', bundle, `sqlite:${db}`, '--json'], { cwd: demo.dir, env: WAIT }), 2, STORE);
  });

  it('exit while a reader holds the store: the exit cannot go on record, so no bundle is left; exit 1 store.busy', () => {
    const before = counts(db);
    hold(db, 'read');
    const parent = tempDir('fxbusy-');
    const dest = path.join(parent, 'acme-exit');
    const r = runCli(['exit', '--source', `sqlite:${db}`, '--to', dest, '--json'], { cwd: demo.dir, env: WAIT });
    const error = expectBusy(r, 1, STORE);
    expect(error.details?.join('\n')).toMatch(/the exit is not in the source's ledger, so its bundle was removed: nothing is left at /);
    expect(readdirSync(parent)).toEqual([]);
    release();
    expect(counts(db)).toEqual(before);
  });

  it('purge while a reader holds the store: exit 1 store.busy, nothing deleted, the archive kept; run again, it finishes the delete', () => {
    const own = demoCopy();
    appendFileSync(own.plan, 'retention:\n  - entity: machine_events\n    keep: 24 days\n    by: ts\n');
    expect(runCli(['migrate', own.plan], { cwd: own.dir }).code).toBe(0);
    const file = path.join(own.dir, 'mappings', 'demo', 'forklift.db');
    const before = counts(file);
    const events = (): number => {
      const c = new Database(file, { readonly: true });
      try {
        return c.prepare('SELECT count(*) FROM machine_events').pluck().get() as number;
      } finally {
        c.close();
      }
    };
    const n = events();
    hold(file, 'read');
    const archive = path.join(own.dir, 'archive');
    const args = ['purge', own.plan, '--archive', archive, '--as-of', '2025-11-28', '--json'];
    const error = expectBusy(runCli(args, { cwd: own.dir, env: WAIT }), 1, STORE);
    expect(error.details).toContain(`this attempt is not in the ledger of ${STORE}: the store did not take its failed entry either`);
    release();
    expect(events()).toBe(n);
    expect(counts(file)).toEqual(before);
    expect(existsSync(path.join(archive, 'manifest-sha256.txt'))).toBe(true);
    const again = runCli(args, { cwd: own.dir });
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(events()).toBeLessThan(n);
    rmSync(own.dir, { recursive: true, force: true });
  });

  it('a FORKLIFT_SQLITE_WAIT that is no number of seconds is a usage error naming it', () => {
    const r = runCli(['export', path.join(tempDir('fxbusy-'), 'b'), '--source', `sqlite:${db}`, '--json'], { cwd: demo.dir, env: { FORKLIFT_SQLITE_WAIT: '5s' } });
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout) as JsonError;
    expect(doc.error).toMatchObject({ code: 'config.env', message: 'FORKLIFT_SQLITE_WAIT="5s" is not a number of seconds from 0 to 86400' });
  });
});

describe("a user's own database file", () => {
  /** A database file made by the user's own program, with one table of its own: in rollback-journal mode (SQLite's default) or WAL. */
  function userFile(sql: string): { dir: string; file: string } {
    const dir = tempDir('fxbusy-user-');
    const file = path.join(dir, 'plant.db');
    const u = new Database(file);
    u.exec(sql);
    u.close();
    return { dir, file };
  }

  it('rollback journal (a file the user made, not WAL): a migrate into it waits for a reader, then store.busy; forklift leaves it in rollback-journal mode', () => {
    const { dir, file } = userFile('CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)');
    hold(file, 'read');
    const r = runCli(['migrate', demo.plan, '--target', `sqlite:${file}`, '--json'], { cwd: demo.dir, env: WAIT });
    expectBusy(r, 1, `sqlite:${file}`);
    release();
    expect(runCli(['migrate', demo.plan, '--target', `sqlite:${file}`], { cwd: demo.dir }).code).toBe(0);
    expect(journalMode(file)).toBe('delete');
    rmSync(dir, { recursive: true, force: true });
  });

  it('WAL: an export reads while a writer holds the file, and a migrate commits while a reader reads; WAL is kept', () => {
    const { dir, file } = userFile('PRAGMA journal_mode = WAL; CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)');
    expect(runCli(['migrate', demo.plan, '--target', `sqlite:${file}`], { cwd: demo.dir }).code).toBe(0);
    hold(file, 'exclusive');
    const bundle = path.join(dir, 'b');
    const r = runCli(['export', bundle, '--source', `sqlite:${file}`], { cwd: demo.dir, env: WAIT });
    expect(r.code, r.stderr).toBe(0);
    release();
    hold(file, 'read');
    const m = runCli(['migrate', demo.plan, '--target', `sqlite:${file}`], { cwd: demo.dir, env: WAIT });
    expect(m.code, m.stderr).toBe(0);
    expect(existsSync(bundle)).toBe(true);
    release();
    expect(journalMode(file)).toBe('wal');
  });
});
