import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import sql from 'mssql';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, describe, it } from 'vitest';
import { mssqlConfig } from '../../../src/stores/mssql.js';
import { redactUrl } from '../../../src/stores/index.js';
import { BIN, ROOT, type CliResult } from '../../helpers.js';

/**
 * The live servers of the store suites, shared by test files that need more than one of them:
 * admin URLs, reachability probes, databases of their own (forklift_t_<random>, dropped at the
 * end) and the CLI as an asynchronous child process (for tests that act on the server while a
 * run is under way). Same conventions as postgres.test.ts and mysql.test.ts: an unreachable
 * server skips with a warning, except under CI, where it fails.
 */

export const PG_ADMIN_URL = process.env.FORKLIFT_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const MYSQL_ADMIN_URL = process.env.FORKLIFT_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
export const MSSQL_ADMIN_URL = process.env.FORKLIFT_TEST_MSSQL_URL;

const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

// ---- PostgreSQL ------------------------------------------------------------------------------

export async function probePg(): Promise<string | null> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return null;
  } catch (e) {
    return errText(e);
  } finally {
    await c.end().catch(() => {});
  }
}

export async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** fn on a connection to `database` on the MariaDB server, as the admin user; closed after, whatever fn does. */
export async function withMysql<T>(database: string, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection({ ...mysqlAdminConfig(), database });
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** The URL of another database on the admin URL's server. */
export function pgUrl(db: string, user?: { name: string; password?: string }): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${db}`;
  if (user) {
    u.username = encodeURIComponent(user.name);
    u.password = user.password === undefined ? '' : encodeURIComponent(user.password);
  }
  return u.toString();
}

export class PgDatabases {
  private readonly made: string[] = [];
  /** Names start with `prefix` (a test file's own, so that its leftovers are known as its). */
  constructor(private readonly prefix = 'forklift_t_') {}
  async create(): Promise<{ name: string; url: string }> {
    const name = `${this.prefix}${randomBytes(6).toString('hex')}`;
    await withPg(PG_ADMIN_URL, (c) => c.query(`CREATE DATABASE ${name}`));
    this.made.push(name);
    return { name, url: pgUrl(name) };
  }
  async dropAll(): Promise<void> {
    if (this.made.length === 0) return;
    await withPg(PG_ADMIN_URL, async (c) => {
      for (const name of this.made.splice(0)) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    });
  }
}

// ---- MySQL / MariaDB -------------------------------------------------------------------------

const myAdmin = new URL(MYSQL_ADMIN_URL.replace(/^mariadb:/, 'mysql:'));
export const MYSQL_HOST = myAdmin.hostname;
export const MYSQL_PORT = Number(myAdmin.port || 3306);

export function mysqlAdminConfig(): mysql.ConnectionOptions {
  return {
    host: MYSQL_HOST,
    port: MYSQL_PORT,
    user: decodeURIComponent(myAdmin.username || 'root'),
    password: decodeURIComponent(myAdmin.password),
    connectTimeout: 3000,
    // Values exactly as the server holds them: text for dates, datetimes, bigints and decimals.
    charset: 'utf8mb4',
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    decimalNumbers: false,
  };
}

export async function probeMysql(): Promise<string | null> {
  try {
    const c = await mysql.createConnection(mysqlAdminConfig());
    await c.end();
    return null;
  } catch (e) {
    return errText(e);
  }
}

/** A forklift URL for a database on the admin URL's server (the admin user unless one is given). */
export function mysqlUrl(db: string, user?: { name: string; password?: string }): string {
  const u = new URL(myAdmin.toString());
  u.pathname = `/${db}`;
  if (user) {
    u.username = encodeURIComponent(user.name);
    u.password = user.password === undefined ? '' : encodeURIComponent(user.password);
  }
  return u.toString();
}

export class MysqlDatabases {
  private readonly made: string[] = [];
  /** Every database made here is named PREFIX_<n>: a user can be granted all of them at once. */
  readonly prefix: string;
  constructor(prefix = 'forklift_t_') {
    this.prefix = `${prefix}${randomBytes(4).toString('hex')}`;
  }
  /** The GRANT pattern for this.prefix (underscores escaped). */
  get grantPattern(): string {
    return `\`${this.prefix.replace(/_/g, '\\_')}\\_%\``;
  }
  async create(): Promise<{ name: string; url: string }> {
    const name = `${this.prefix}_${this.made.length}`;
    const c = await mysql.createConnection(mysqlAdminConfig());
    try {
      await c.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    } finally {
      await c.end();
    }
    this.made.push(name);
    return { name, url: mysqlUrl(name) };
  }
  async dropAll(): Promise<void> {
    if (this.made.length === 0) return;
    const c = await mysql.createConnection(mysqlAdminConfig());
    try {
      // A test's table may reference another test database's (a foreign key across databases): dropped in any order.
      await c.query('SET SESSION foreign_key_checks = 0');
      for (const name of this.made.splice(0)) await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
    } finally {
      await c.end();
    }
  }
}

// ---- SQL Server ------------------------------------------------------------------------------

export async function withMssql<T>(url: string, fn: (pool: sql.ConnectionPool) => Promise<T>): Promise<T> {
  const pool = await new sql.ConnectionPool(mssqlConfig(url)).connect();
  try {
    return await fn(pool);
  } finally {
    await pool.close();
  }
}

export async function probeMssql(): Promise<string | null> {
  if (!MSSQL_ADMIN_URL) return 'FORKLIFT_TEST_MSSQL_URL is not set';
  try {
    await withMssql(MSSQL_ADMIN_URL, (p) => p.request().query('SELECT 1'));
    return null;
  } catch (e) {
    return errText(e);
  }
}

export class MssqlDatabases {
  private readonly made: string[] = [];
  async create(): Promise<{ name: string; url: string }> {
    const name = `forklift_t_${randomBytes(6).toString('hex')}`;
    await withMssql(MSSQL_ADMIN_URL!, (p) => p.request().batch(`CREATE DATABASE [${name}]`));
    this.made.push(name);
    const u = new URL(MSSQL_ADMIN_URL!);
    u.pathname = `/${name}`;
    return { name, url: u.toString() };
  }
  async dropAll(): Promise<void> {
    if (!MSSQL_ADMIN_URL || this.made.length === 0) return;
    await withMssql(MSSQL_ADMIN_URL, async (p) => {
      for (const name of this.made.splice(0)) await p.request().batch(`IF DB_ID(N'${name}') IS NOT NULL BEGIN ALTER DATABASE [${name}] SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE [${name}]; END`);
    });
  }
}

// ---- reachability ----------------------------------------------------------------------------

/**
 * Says what an unreachable server means for this file: outside CI a warning and the caller skips
 * its suite; under CI a failing test in its place, so CI never passes by skipping.
 */
export function reportUnreachable(store: string, url: string, reason: string | null, file: string, opts: { alwaysFail?: boolean } = {}): void {
  if (reason === null) return;
  const fail = Boolean(process.env.CI) || opts.alwaysFail === true;
  if (!fail) {
    console.warn(`SKIPPED ${store} in ${file}: not reachable at ${redactUrl(url)} (${reason})`);
    return;
  }
  describe(`${store} (${process.env.CI ? 'CI' : 'requested'}: must be reachable)`, () => {
    it(`reaches ${store}`, () => {
      throw new Error(`${store} was not reachable at ${redactUrl(url)}: ${reason}`);
    });
  });
}

/**
 * PostgreSQL and MariaDB for one test file: probed, reported when unreachable, and the file's
 * databases (named with `prefix` where given) dropped after its tests. `pgDown`/`myDown` is null
 * when the server is there.
 */
export async function liveServers(file: string, prefix?: string): Promise<{ pgDown: string | null; myDown: string | null; pgDbs: PgDatabases; myDbs: MysqlDatabases }> {
  const pgDown = await probePg();
  const myDown = await probeMysql();
  reportUnreachable('PostgreSQL', PG_ADMIN_URL, pgDown, file);
  reportUnreachable('MariaDB', MYSQL_ADMIN_URL, myDown, file);
  const pgDbs = new PgDatabases(prefix);
  const myDbs = new MysqlDatabases(prefix);
  afterAll(async () => {
    await pgDbs.dropAll().catch((e: unknown) => console.warn(`could not drop the PostgreSQL test databases: ${String(e)}`));
    await myDbs.dropAll().catch((e: unknown) => console.warn(`could not drop the MariaDB test databases: ${String(e)}`));
  });
  return { pgDown, myDown, pgDbs, myDbs };
}

// ---- the CLI, asynchronously -----------------------------------------------------------------

/**
 * The built CLI as a child process without a TTY, like helpers.ts runCli, but not blocking: the
 * test can act on the server while the run is under way. A run that outlives `timeoutMs` is
 * killed and reported with code -1 and `hung: true`.
 */
export function spawnCli(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): { pid: number | undefined; done: Promise<CliResult & { hung: boolean }> } {
  if (!existsSync(path.join(ROOT, 'dist', 'commands'))) throw new Error('build first: npm run build');
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, FORCE_COLOR: '0', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 60_000);
  const done = new Promise<CliResult & { hung: boolean }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, hung });
    });
  });
  return { pid: child.pid, done };
}

/** Every file under dir (recursively) whose bytes contain one of the needles. */
export function filesContaining(dir: string, needles: string[]): string[] {
  const hits: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else {
        const bytes = readFileSync(p);
        if (needles.some((n) => n.length > 0 && bytes.includes(Buffer.from(n, 'utf8')))) hits.push(path.relative(dir, p));
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return hits;
}
