import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { factoryModel } from '../../src/model/factory.js';
import { BIN, ROOT, demoCopy, runCli, tempDir } from '../helpers.js';
import { MYSQL_ADMIN_URL, PG_ADMIN_URL, probeMysql, probePg, reportUnreachable } from '../integration/stores/live.js';

/**
 * SPEC section 5 against the real servers: a `forklift migrate` SIGKILLed while its load is in
 * PostgreSQL (COPY) or MariaDB (LOAD DATA LOCAL, or INSERTs) leaves the target exactly as it was,
 * and the same command run again finishes the work with no duplicate and no loss.
 *
 * The built CLI is spawned as a child process (no TTY); an admin connection polls the server every
 * 20 ms and the kill is sent only once the server reports machine_events rows arriving inside the
 * run's transaction (PostgreSQL: pg_stat_progress_copy; MariaDB: INNODB_TRX.trx_rows_modified).
 * A run that was never seen loading fails the test: it cannot pass by killing too early or too late.
 *
 * Servers: FORKLIFT_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres) and
 * FORKLIFT_TEST_MYSQL_URL (default mysql://root@127.0.0.1:3306/test), admin URLs; every database
 * made here is named forklift_t_<random> and dropped at the end. Unreachable: skipped with a
 * warning, except under CI, where it fails.
 */

const myAdmin = new URL(MYSQL_ADMIN_URL.replace(/^mariadb:/, 'mysql:'));
const myConfig = {
  host: myAdmin.hostname,
  port: Number(myAdmin.port || 3306),
  user: decodeURIComponent(myAdmin.username || 'root'),
  password: decodeURIComponent(myAdmin.password),
  connectTimeout: 3000,
};

/** Machine-log rows of the big run: its load into either server takes a few seconds here. */
const MACHINE_ROWS = 400_000;
/** Poll interval of the admin connection while the run loads. */
const POLL_MS = 20;
/** MariaDB's INNODB_TRX cache refreshes only after 0.1 s without a read: read it at most this often. */
const TRX_CACHE_MS = 150;

const ENTITIES = ['items', 'bom_lines', 'stock_balances', 'machine_events'] as const;
const TABLES = [...ENTITIES, 'forklift_runs'] as const;
const model = factoryModel();
const pkOf = (table: string): string[] => (table === 'forklift_runs' ? ['id'] : model.entities.get(table)!.primaryKey);

interface Ledger {
  read: number;
  loaded: number;
  filtered: number;
  duplicates_dropped: number;
  rejected: number;
}
const demoExpected = JSON.parse(readFileSync(path.join(ROOT, 'fixtures', 'demo', 'expected.json'), 'utf8')) as { ledger: Record<string, Ledger> };

const pgDown = await probePg();
const myDown = await probeMysql();
reportUnreachable('PostgreSQL', PG_ADMIN_URL, pgDown, 'test/e2e/kill-servers.test.ts');
reportUnreachable('MariaDB', MYSQL_ADMIN_URL, myDown, 'test/e2e/kill-servers.test.ts');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const cleanup: string[] = [];

/** The big machine log, generated once per file (fixtures/generate.mjs --bench, as bench/run.mjs does). */
let big: { dir: string; ledger: Ledger } | undefined;
function bigMachineLog(): { file: string; ledger: Ledger } {
  if (!big) {
    const dir = tempDir('forklift-kill-data-');
    cleanup.push(dir);
    // --items 1000: the fewest; only the machine log of the bench data is used.
    execFileSync(process.execPath, [path.join(ROOT, 'fixtures', 'generate.mjs'), '--bench', dir, '--machine-rows', String(MACHINE_ROWS), '--items', '1000'], { stdio: 'pipe' });
    const exp = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { ledger: Record<string, Ledger> };
    big = { dir, ledger: exp.ledger.machine_events! };
  }
  return { file: path.join(big.dir, 'MACHLOG.CSV'), ledger: big.ledger };
}

/** The demo plan with the generated machine log in place of fixtures/demo/MACHLOG.CSV. */
function bigPlan(): { dir: string; plan: string; ledger: Ledger } {
  const { file, ledger } = bigMachineLog();
  const demo = demoCopy();
  cleanup.push(demo.dir);
  copyFileSync(file, path.join(demo.dir, 'fixtures', 'demo', 'MACHLOG.CSV'));
  return { ...demo, ledger };
}

afterAll(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

interface Snapshot {
  /** Every relation (table, index, sequence, temporary table) of the target database. */
  objects: string[];
  /** Row count and an MD5 over the rows in primary-key order, per table. */
  tables: Record<string, { rows: number; md5: string }>;
  /** forklift_runs in id order: id and status. */
  runs: { id: string; status: string }[];
}

/** What the scenario needs of a server; one implementation per server below. */
interface Server {
  name: string;
  /** A new empty database; the URL forklift gets. */
  freshDb(): Promise<string>;
  snapshot(): Promise<Snapshot>;
  /** The run's load of machine_events as the server sees it right now, or null when none is in progress. */
  loading(): Promise<{ session: number; rowsIn: number } | null>;
  /** Sessions of the run still on the server, and the killed session's transaction if still there (0 when the server is done with the run). */
  leftovers(session: number): Promise<number>;
  /** Stray objects of a run: prepared transactions, locks (PostgreSQL). */
  strays(): Promise<string[]>;
  /** machine_events: rows and distinct primary keys. */
  machineEvents(): Promise<{ rows: number; keys: number }>;
  close(): Promise<void>;
}

function md5(lines: Iterable<string>): string {
  const h = createHash('md5');
  for (const l of lines) h.update(l + '\n');
  return h.digest('hex');
}

/** The built CLI as a child process, no TTY, stdout and stderr collected. */
function startCli(args: string[], cwd: string): { child: ChildProcess; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; output: () => string } {
  if (!existsSync(path.join(ROOT, 'dist', 'commands'))) throw new Error('build first: npm run build');
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, exit, output: () => out };
}

async function until(what: string, ms: number, f: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  while (!(await f())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(POLL_MS);
  }
  return Date.now() - t0;
}

async function killScenario(server: Server): Promise<void> {
  const t = { start: Date.now() } as Record<string, number>;
  const url = await server.freshDb();

  // 1-2. A committed state to compare against: the small original demo.
  const small = demoCopy();
  cleanup.push(small.dir);
  const first = runCli(['migrate', small.plan, '--target', url, '--json'], { cwd: small.dir });
  expect(first.code, first.stdout + first.stderr).toBe(0);
  const before = await server.snapshot();
  for (const e of ENTITIES) expect(before.tables[e]!.rows, e).toBe(demoExpected.ledger[e]!.loaded);
  expect(before.runs.map((r) => r.status)).toEqual(['succeeded']);

  // 3. The big run, killed once its machine_events rows are arriving in the server's transaction.
  const run = bigPlan();
  const args = ['migrate', run.plan, '--target', url, '--json'];
  const killAt = Math.floor(run.ledger.loaded / 8);
  t.spawn = Date.now();
  const cli = startCli(args, run.dir);
  let exited = false;
  void cli.exit.then(() => (exited = true));
  let firstSeen: number | undefined;
  let killed: { session: number; rowsIn: number } | undefined;
  let polls = 0;
  let lastSeen: { session: number; rowsIn: number } | null = null;
  while (!exited && Date.now() - t.spawn < 90_000) {
    const s = await server.loading();
    polls++;
    if (s) {
      firstSeen ??= Date.now();
      lastSeen = s;
      if (s.rowsIn >= killAt) {
        cli.child.kill('SIGKILL');
        killed = s;
        break;
      }
    }
    await sleep(POLL_MS);
  }
  t.kill = Date.now();
  if (!killed && !exited) cli.child.kill('SIGKILL');
  const exit = await cli.exit;
  expect(
    killed,
    `the load of machine_events was never seen in ${server.name} with >= ${killAt} rows in (${polls} polls; last seen: ${JSON.stringify(lastSeen)}; ` +
      `the run ${exited ? `exited on its own: ${JSON.stringify(await cli.exit)} ${cli.output().slice(-1500)}` : 'was still running'})`,
  ).toBeDefined();
  expect(exit, 'the run ended by the SIGKILL, not on its own').toEqual({ code: null, signal: 'SIGKILL' });
  expect(killed!.rowsIn).toBeLessThan(run.ledger.loaded);

  // 4. Once the server is done with the dead session, the target is exactly as before.
  const cleanupMs = await until(`${server.name} to end the killed run's session and transaction`, 60_000, async () => (await server.leftovers(killed!.session)) === 0);
  const after = await server.snapshot();
  expect(after).toEqual(before);
  expect(await server.strays()).toEqual([]);
  // The killed run keeps its run folder (staging included) for inspection, with no report.
  const runsDir = path.join(path.dirname(run.plan), 'runs');
  const killedRuns = readdirSync(runsDir);
  expect(killedRuns).toHaveLength(1);
  expect(existsSync(path.join(runsDir, killedRuns[0]!, 'report.json'))).toBe(false);

  // 5. The same command again: it completes, with no duplicate and no loss.
  t.rerun = Date.now();
  const again = runCli(args, { cwd: run.dir });
  t.rerunDone = Date.now();
  expect(again.code, again.stdout + again.stderr).toBe(0);
  const result = JSON.parse(again.stdout) as { run_id: string; status: string; committed: boolean; entities: (Ledger & { entity: string })[] };
  expect(result.status).toBe('succeeded');
  expect(result.committed).toBe(true);
  const report = JSON.parse(readFileSync(path.join(runsDir, result.run_id, 'report.json'), 'utf8')) as typeof result;
  expect(report.run_id).toBe(result.run_id);
  const ledger = (e: string): Ledger => {
    const l = report.entities.find((x) => x.entity === e)!;
    return { read: l.read, loaded: l.loaded, filtered: l.filtered, duplicates_dropped: l.duplicates_dropped, rejected: l.rejected };
  };
  for (const e of ENTITIES) {
    const l = ledger(e);
    expect(l.read, `${e}: the ledger balances`).toBe(l.loaded + l.filtered + l.duplicates_dropped + l.rejected);
    expect(l, e).toEqual(e === 'machine_events' ? run.ledger : demoExpected.ledger[e]);
  }
  const me = await server.machineEvents();
  expect(me).toEqual({ rows: ledger('machine_events').loaded, keys: ledger('machine_events').loaded });
  const done = await server.snapshot();
  for (const e of ENTITIES) expect(done.tables[e]!.rows, e).toBe(ledger(e).loaded);
  expect(done.runs).toEqual([...before.runs, { id: result.run_id, status: 'succeeded' }].sort((a, b) => (a.id < b.id ? -1 : 1)));
  expect(done.objects).toEqual(before.objects);

  console.info(
    `${server.name}: killed ${((t.kill! - t.spawn!) / 1000).toFixed(1)} s after spawn with ${killed!.rowsIn.toLocaleString('en-US')} of ${run.ledger.loaded.toLocaleString('en-US')} machine_events rows in the server ` +
      `(load first seen ${((firstSeen! - t.spawn!) / 1000).toFixed(2)} s after spawn, ${polls} polls); server done with the dead session after ${cleanupMs} ms; ` +
      `rerun ${((t.rerunDone! - t.rerun!) / 1000).toFixed(1)} s; scenario ${((Date.now() - t.start!) / 1000).toFixed(1)} s`,
  );
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

function pgServer(): Server {
  let db = '';
  let url = '';
  let admin: pg.Client | undefined;
  const adminClient = async (): Promise<pg.Client> => {
    if (!admin) {
      admin = new pg.Client({ connectionString: PG_ADMIN_URL, application_name: 'forklift-test-admin' });
      await admin.connect();
    }
    return admin;
  };
  const onTarget = async <T>(f: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: url, application_name: 'forklift-test-admin' });
    await c.connect();
    try {
      return await f(c);
    } finally {
      await c.end();
    }
  };
  const qi = (s: string): string => `"${s.replace(/"/g, '""')}"`;
  return {
    name: 'PostgreSQL',
    async freshDb() {
      db = `forklift_t_${randomBytes(6).toString('hex')}`;
      await (await adminClient()).query(`CREATE DATABASE ${db}`);
      const u = new URL(PG_ADMIN_URL);
      u.pathname = `/${db}`;
      url = u.toString();
      return url;
    },
    snapshot: () =>
      onTarget(async (c) => {
        const objects = await c.query<{ o: string }>(
          `SELECT n.nspname || '.' || c.relname || ' ' || c.relkind::text AS o FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1`,
        );
        const tables: Snapshot['tables'] = {};
        for (const table of TABLES) {
          const r = await c.query<{ r: string }>(`SELECT t::text AS r FROM ${qi(table)} t ORDER BY ${pkOf(table).map(qi).join(', ')}`);
          tables[table] = { rows: r.rows.length, md5: md5(r.rows.map((x) => x.r)) };
        }
        const runs = await c.query<{ id: string; status: string }>('SELECT id, status FROM forklift_runs ORDER BY id');
        return { objects: objects.rows.map((r) => r.o), tables, runs: runs.rows.map((r) => ({ id: r.id, status: r.status })) };
      }),
    async loading() {
      // Active COPY into machine_events from a forklift session, with the rows it has taken so far.
      const r = await (
        await adminClient()
      ).query<{ pid: number; n: string | null }>(
        `SELECT a.pid, p.tuples_processed AS n FROM pg_stat_activity a LEFT JOIN pg_stat_progress_copy p ON p.pid = a.pid
         WHERE a.datname = $1 AND a.application_name = 'forklift' AND a.state = 'active' AND a.query ILIKE 'COPY%machine_events%'`,
        [db],
      );
      const row = r.rows[0];
      return row ? { session: Number(row.pid), rowsIn: Number(row.n ?? 0) } : null;
    },
    async leftovers(pid) {
      // The backend ends its transaction (rolled back) and then goes; the run's other sessions too.
      const r = await (await adminClient()).query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE (datname = $1 AND application_name = 'forklift') OR pid = $2`, [db, pid]);
      return r.rows[0]!.n;
    },
    async strays() {
      const c = await adminClient();
      const prepared = await c.query<{ gid: string }>('SELECT gid FROM pg_prepared_xacts WHERE database = $1', [db]);
      const locks = await c.query<{ l: string }>(
        `SELECT l.locktype || ' ' || l.mode || ' pid ' || l.pid AS l FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE d.datname = $1 AND l.pid <> pg_backend_pid()`,
        [db],
      );
      return [...prepared.rows.map((r) => `prepared transaction ${r.gid}`), ...locks.rows.map((r) => `lock ${r.l}`)];
    },
    machineEvents: () =>
      onTarget(async (c) => {
        const r = await c.query<{ rows: number; keys: number }>('SELECT count(*)::int AS rows, count(DISTINCT (machine_id, ts))::int AS keys FROM machine_events');
        return r.rows[0]!;
      }),
    async close() {
      if (!admin) return;
      if (db) await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      await admin.end();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// MariaDB

function mysqlServer(): Server {
  let db = '';
  let admin: mysql.Connection | undefined;
  /** Rows the run's transaction changes before machine_events: replace's DELETEs and the three small entities. */
  let baseline = 0;
  const conn = async (): Promise<mysql.Connection> => {
    // No default database: the admin session never shows up as one of the target's sessions.
    admin ??= await mysql.createConnection({ ...myConfig, charset: 'utf8mb4', dateStrings: true, supportBigNumbers: true, bigNumberStrings: true, decimalNumbers: false });
    return admin;
  };
  const rows = async <T>(sql: string, values: unknown[] = []): Promise<T[]> => {
    const [r] = await (await conn()).query({ sql, values });
    return r as T[];
  };
  const qi = (s: string): string => `\`${s.replace(/`/g, '``')}\``;
  /**
   * INNODB_TRX is a cache that InnoDB refreshes only when it was last read more than 0.1 s ago:
   * read every 20 ms it would never change. So it is read at most every TRX_CACHE_MS (waiting for
   * that when `fresh`), which makes every read a fresh one.
   */
  let trxReadAt = 0;
  let modified: { thread: number; rows: number } | undefined;
  const trxRowsModified = async (thread: number, fresh: boolean): Promise<number | null> => {
    if (fresh) await sleep(Math.max(0, trxReadAt + TRX_CACHE_MS - Date.now()));
    const r = await rows<{ n: string }>('SELECT trx_rows_modified AS n FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ?', [thread]);
    trxReadAt = Date.now();
    return r[0] ? Number(r[0].n) : null;
  };
  return {
    name: 'MariaDB',
    async freshDb() {
      db = `forklift_t_${randomBytes(6).toString('hex')}`;
      await rows(`CREATE DATABASE ${qi(db)} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
      return `mysql://${encodeURIComponent(myConfig.user)}${myConfig.password ? `:${encodeURIComponent(myConfig.password)}` : ''}@${myConfig.host}:${myConfig.port}/${db}`;
    },
    async snapshot() {
      const objects = await rows<{ o: string }>(
        `SELECT CONCAT(TABLE_NAME, ' ', TABLE_TYPE, ' ', COALESCE(ENGINE, '')) AS o FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME`,
        [db],
      );
      const tables: Snapshot['tables'] = {};
      for (const table of TABLES) {
        const [r] = await (await conn()).query({ sql: `SELECT * FROM ${qi(db)}.${qi(table)} ORDER BY ${pkOf(table).map(qi).join(', ')}`, rowsAsArray: true });
        const list = r as unknown[][];
        tables[table] = { rows: list.length, md5: md5(list.map((x) => JSON.stringify(x))) };
      }
      const runs = await rows<{ id: string; status: string }>(`SELECT id, status FROM ${qi(db)}.forklift_runs ORDER BY id`);
      baseline = ENTITIES.reduce((s, e) => s + tables[e]!.rows, 0) + ENTITIES.filter((e) => e !== 'machine_events').reduce((s, e) => s + demoExpected.ledger[e]!.loaded, 0);
      return { objects: objects.map((r) => r.o), tables, runs: runs.map((r) => ({ id: r.id, status: r.status })) };
    },
    async loading() {
      // LOAD DATA (or, where local_infile is off, INSERTs) into machine_events from the run's session.
      const r = await rows<{ id: string }>(
        `SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID() AND COMMAND = 'Query'
           AND (INFO LIKE 'LOAD DATA%machine_events%' OR INFO LIKE 'INSERT INTO \`machine_events\`%')`,
        [db],
      );
      if (!r[0]) return null;
      const thread = Number(r[0].id);
      // Rows its transaction has changed so far, less replace's DELETEs and the three small
      // entities: the machine_events rows in the server. Read only when the cache is fresh again.
      if (Date.now() - trxReadAt >= TRX_CACHE_MS) {
        const m = await trxRowsModified(thread, false);
        if (m !== null) modified = { thread, rows: m };
      }
      return { session: thread, rowsIn: modified?.thread === thread ? Math.max(0, modified.rows - baseline) : 0 };
    },
    async leftovers(thread) {
      // The killed thread stays in the processlist while it rolls back; the run's other sessions go too.
      const [p] = await rows<{ n: number }>('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE (DB = ? AND ID <> CONNECTION_ID()) OR ID = ?', [db, thread]);
      return Number(p!.n) + ((await trxRowsModified(thread, true)) === null ? 0 : 1);
    },
    async strays() {
      // The store stages in a local SQLite file and loads straight into the tables: nothing of
      // its own stays on the server (no staging tables; upsert's is TEMPORARY, per session).
      // The objects themselves are compared in the snapshot.
      return [];
    },
    async machineEvents() {
      const [r] = await rows<{ n: string; k: string }>(`SELECT COUNT(*) AS n, COUNT(DISTINCT machine_id, ts) AS k FROM ${qi(db)}.machine_events`);
      return { rows: Number(r!.n), keys: Number(r!.k) };
    },
    async close() {
      if (!admin) return;
      if (db) await rows(`DROP DATABASE IF EXISTS ${qi(db)}`);
      await admin.end();
    },
  };
}

describe.skipIf(pgDown !== null)('a forklift migrate SIGKILLed during its COPY into PostgreSQL', () => {
  const server = pgServer();
  afterAll(() => server.close());
  it('leaves the target as it was; the same command again completes with no duplicate and no loss', () => killScenario(server), 180_000);
});

describe.skipIf(myDown !== null)('a forklift migrate SIGKILLed during its LOAD DATA into MariaDB', () => {
  const server = mysqlServer();
  afterAll(() => server.close());
  it('leaves the target as it was; the same command again completes with no duplicate and no loss', () => killScenario(server), 180_000);
});
