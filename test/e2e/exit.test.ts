import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoCopy, runCli } from '../helpers.js';
import { MYSQL_ADMIN_URL, MysqlDatabases, mysqlAdminConfig, PG_ADMIN_URL, PgDatabases, probeMysql, probePg, reportUnreachable, withPg } from '../integration/stores/live.js';

/**
 * forklift exit through the built CLI: the demo migrated into SQLite (and PostgreSQL and MariaDB
 * where they run) leaves as a bundle that verifies with its certificate; an edited certificate
 * (tag manifest re-written so the BagIt layer passes) fails naming the mismatch; an existing
 * bundle folder is exit 2; the source's ledger gains the exit.
 */

const pgDown = await probePg();
const myDown = await probeMysql();
reportUnreachable('PostgreSQL', PG_ADMIN_URL, pgDown, 'test/e2e/exit.test.ts');
reportUnreachable('MariaDB', MYSQL_ADMIN_URL, myDown, 'test/e2e/exit.test.ts');
const pgDbs = new PgDatabases();
const myDbs = new MysqlDatabases();

let dir: string;
let plan: string;
let sqliteUrl: string;

beforeAll(() => {
  ({ dir, plan } = demoCopy());
  sqliteUrl = `sqlite:${path.join(dir, 'exit-source.db')}`;
  const r = runCli(['migrate', plan, '--target', sqliteUrl]);
  expect(r.code, r.stderr).toBe(0);
});

afterAll(async () => {
  await pgDbs.dropAll().catch(() => {});
  await myDbs.dropAll().catch(() => {});
});

interface Cert {
  format: string;
  source: string;
  tables: { name: string; rows: number; csv_sha256: string }[];
  rows_total: number;
  manifest_sha256: string;
  payload_oxum: string;
  diff: { identical: boolean };
  signature: null;
}

/** Runs exit, checks the bundle and its certificate, and returns the certificate. */
function exitAndVerify(source: string, name: string): Cert {
  const to = path.join(dir, 'out', name);
  const r = runCli(['exit', '--source', source, '--to', to, '--json'], { cwd: dir, env: { FORKLIFT_OPERATOR: 'auditor-test' } });
  expect(r.code, r.stdout + r.stderr).toBe(0);
  for (const f of ['exit-certificate.json', 'exit-certificate.html', 'tagmanifest-sha256.txt', 'data/csv/items.csv']) expect(existsSync(path.join(to, f)), f).toBe(true);
  const tagManifest = readFileSync(path.join(to, 'tagmanifest-sha256.txt'), 'utf8');
  expect(tagManifest).toMatch(/ exit-certificate\.json$/m);
  expect(tagManifest).toMatch(/ exit-certificate\.html$/m);
  // Nothing but the bundle is left beside it: no work folder.
  expect(readdirSync(path.dirname(to)).filter((f) => f.startsWith(`${name}.`))).toEqual([]);
  const cert = JSON.parse(readFileSync(path.join(to, 'exit-certificate.json'), 'utf8')) as Cert & { operator: string };
  expect(cert).toMatchObject({ format: 'forklift-exit-certificate', diff: { identical: true }, signature: null, operator: 'auditor-test' });
  expect(cert.source).not.toMatch(/:[^/@:]+@/);
  expect(Object.fromEntries(cert.tables.map((t) => [t.name, t.rows]))).toMatchObject({ bom_lines: 298, items: 105, machine_events: 2040, stock_balances: 141 });
  expect(cert.manifest_sha256).toBe(createHash('sha256').update(readFileSync(path.join(to, 'manifest-sha256.txt'))).digest('hex'));
  expect(readFileSync(path.join(to, 'exit-certificate.html'), 'utf8')).not.toMatch(/<script|https?:\/\/[^"]*\.(css|js)/);
  const v = runCli(['bundle', 'verify', to, '--json']);
  expect(v.code, v.stdout).toBe(0);
  expect(JSON.parse(v.stdout)).toMatchObject({ valid: true, certificate: { checked: true, valid: true } });
  return cert;
}

describe('forklift exit on SQLite', () => {
  it('gives a bundle that verifies with its certificate and records the exit in the source’s ledger', () => {
    const cert = exitAndVerify(sqliteUrl, 'sqlite-exit');
    expect(cert.rows_total).toBe(cert.tables.reduce((s, t) => s + t.rows, 0));
    const db = new Database(sqliteUrl.slice('sqlite:'.length), { readonly: true });
    try {
      const runs = db.prepare("SELECT status, files FROM forklift_runs WHERE command = 'exit'").all() as { status: string; files: string }[];
      expect(runs).toHaveLength(1);
      expect(runs[0]!.status).toBe('succeeded');
      expect(JSON.parse(runs[0]!.files)).toEqual({ 'manifest-sha256.txt': cert.manifest_sha256 });
    } finally {
      db.close();
    }
  });

  it('an edited certificate fails verification naming the mismatch, even with the tag manifest re-written', () => {
    const to = path.join(dir, 'out', 'sqlite-exit');
    const file = path.join(to, 'exit-certificate.json');
    const cert = JSON.parse(readFileSync(file, 'utf8')) as Cert;
    cert.tables.find((t) => t.name === 'items')!.rows = 104;
    const text = `${JSON.stringify(cert, null, 2)}\n`;
    writeFileSync(file, text);
    const tm = path.join(to, 'tagmanifest-sha256.txt');
    const sha = createHash('sha256').update(text).digest('hex');
    writeFileSync(tm, readFileSync(tm, 'utf8').replace(/^[0-9a-f]{64}( +exit-certificate\.json)$/m, `${sha}$1`));
    const v = runCli(['bundle', 'verify', to, '--json']);
    expect(v.code, v.stdout).toBe(1);
    const out = v.stdout;
    expect(out).toContain('exit-certificate.json: table items: the bundle holds 105 rows, the certificate states 104');
    expect(out).not.toMatch(/tagmanifest-sha256\.txt: .*exit-certificate/);
  });

  it('an existing bundle folder is exit 2 and is left as it was; --force replaces it', () => {
    const to = path.join(dir, 'out', 'sqlite-exit');
    const before = readFileSync(path.join(to, 'exit-certificate.json'), 'utf8');
    const r = runCli(['exit', '--source', sqliteUrl, '--to', to], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('already exists');
    expect(readFileSync(path.join(to, 'exit-certificate.json'), 'utf8')).toBe(before);
    const f = runCli(['exit', '--source', sqliteUrl, '--to', to, '--force'], { cwd: dir });
    expect(f.code, f.stderr).toBe(0);
    expect(runCli(['bundle', 'verify', to]).code).toBe(0);
  });

  it('--force onto the folder holding the SQLite source (and notes) is exit 2, naming the folder; everything stays', () => {
    const p5 = path.join(dir, 'p5');
    mkdirSync(path.join(p5, 'data'), { recursive: true });
    copyFileSync(sqliteUrl.slice('sqlite:'.length), path.join(p5, 'data', 's.db'));
    writeFileSync(path.join(p5, 'data', 'notes.txt'), 'my notes\n');
    const r = runCli(['exit', '--source', 'sqlite:./data/s.db', '--to', 'data', '--force'], { cwd: p5 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/^Error: --force cannot replace data: it holds the source store sqlite:/);
    expect(readdirSync(path.join(p5, 'data')).sort()).toEqual(['notes.txt', 's.db']);
    expect(readdirSync(p5)).toEqual(['data']);
    writeFileSync(path.join(p5, 'afile'), '');
    const f = runCli(['exit', '--source', 'sqlite:./data/s.db', '--to', 'afile/sub'], { cwd: p5 });
    expect(f.code, f.stderr).toBe(2);
    expect(f.stderr).toMatch(/^Error: --to afile\/sub cannot be made: afile is a file, not a folder/);
  });

  it('a source that cannot be reached fails with exit 2 and leaves nothing at the bundle folder', () => {
    const to = path.join(dir, 'out', 'nowhere');
    const r = runCli(['exit', '--source', 'postgres://u:secret@127.0.0.1:1/x', '--to', to], { cwd: dir });
    expect(r.code).not.toBe(0);
    expect(r.stderr).not.toContain('secret');
    expect(existsSync(to)).toBe(false);
    expect(readdirSync(path.join(dir, 'out')).filter((f) => f.startsWith('nowhere'))).toEqual([]);
  });

  it('--zip writes one zip whose bundle verifies with its certificate', () => {
    const to = path.join(dir, 'out', 'zipped');
    const r = runCli(['exit', '--source', sqliteUrl, '--to', to, '--zip'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(`${to}.zip`)).toBe(true);
    expect(existsSync(to)).toBe(false);
    const v = runCli(['bundle', 'verify', `${to}.zip`, '--json']);
    expect(v.code, v.stdout).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ certificate: { valid: true } });
  });
});

describe.skipIf(pgDown !== null)('forklift exit on PostgreSQL', () => {
  it('gives a bundle that verifies with its certificate; the ledger gains the exit', async () => {
    const { url } = await pgDbs.create();
    const m = runCli(['migrate', plan, '--target', url]);
    expect(m.code, m.stderr).toBe(0);
    exitAndVerify(url, 'pg-exit');
    const rows = await withPg(url, async (c) => (await c.query("SELECT status FROM forklift_runs WHERE command = 'exit'")).rows as { status: string }[]);
    expect(rows.map((r) => r.status)).toEqual(['succeeded']);
  });
});

describe.skipIf(pgDown !== null)('PostgreSQL tables outside the schema the URL reads', () => {
  it('exit refuses (exit 1, nothing at the bundle folder) unless told; export says what it left out; the search_path URL takes the other schema', async () => {
    const { url } = await pgDbs.create();
    await withPg(url, async (c) => {
      await c.query('CREATE SCHEMA plant');
      await c.query("CREATE TABLE plant.machines (id int PRIMARY KEY, name text); INSERT INTO plant.machines VALUES (1, 'press'), (2, 'lathe')");
      await c.query('CREATE TABLE plant.tools (id int PRIMARY KEY)');
      await c.query('CREATE TABLE public.orders (id int PRIMARY KEY, qty int); INSERT INTO public.orders VALUES (1, 10)');
    });
    const out = path.join(dir, 'out');

    // exit: refused, naming the schema, its tables and the two ways on.
    const refused = runCli(['exit', '--source', url, '--to', path.join(out, 'pg-schemas')], { cwd: dir });
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toContain('plant (2 tables: machines, tools)');
    expect(refused.stderr).toContain('options=-c%20search_path%3Dplant');
    expect(refused.stderr).toContain('--skip-schemas plant');
    expect(readdirSync(out).filter((f) => f.startsWith('pg-schemas'))).toEqual([]);
    const failed = await withPg(url, async (c) => (await c.query("SELECT status FROM forklift_runs WHERE command = 'exit'")).rows as { status: string }[]);
    expect(failed.map((r) => r.status)).toEqual(['failed']);

    // A schema named that holds no tables is a usage error.
    const typo = runCli(['exit', '--source', url, '--to', path.join(out, 'pg-schemas'), '--skip-schemas', 'plnt'], { cwd: dir });
    expect(typo.code, typo.stderr).toBe(2);
    expect(typo.stderr).toContain('plnt');

    // export: goes on, and says so in its output, its result and bag-info.txt.
    const e = runCli(['export', path.join(out, 'pg-schemas-export'), '--source', url, '--json'], { cwd: dir });
    expect(e.code, e.stderr).toBe(0);
    expect(JSON.parse(e.stdout)).toMatchObject({ not_exported: [{ schema: 'plant', tables: ['machines', 'tools'] }] });
    expect(readFileSync(path.join(out, 'pg-schemas-export', 'bag-info.txt'), 'utf8')).toContain('Forklift-Not-Exported: plant: machines, tools');
    const text = runCli(['export', path.join(out, 'pg-schemas-export-text'), '--source', url], { cwd: dir });
    expect(text.stdout).toContain('not exported');
    expect(text.stdout).toContain('plant (2 tables: machines, tools)');

    // --skip-schemas plant: the exit goes on and its certificate and bag-info name what was left out.
    const skipped = runCli(['exit', '--source', url, '--to', path.join(out, 'pg-schemas'), '--skip-schemas', 'plant', '--json'], { cwd: dir });
    expect(skipped.code, skipped.stderr).toBe(0);
    const cert = JSON.parse(readFileSync(path.join(out, 'pg-schemas', 'exit-certificate.json'), 'utf8')) as Cert & { not_exported: unknown };
    expect(cert.tables.map((t) => t.name)).toEqual(['forklift_runs', 'orders']);
    expect(cert.not_exported).toEqual([{ schema: 'plant', tables: ['machines', 'tools'] }]);
    expect(readFileSync(path.join(out, 'pg-schemas', 'bag-info.txt'), 'utf8')).toContain('Forklift-Not-Exported: plant: machines, tools');
    expect(readFileSync(path.join(out, 'pg-schemas', 'exit-certificate.html'), 'utf8')).toContain('Left out on purpose');
    expect(runCli(['bundle', 'verify', path.join(out, 'pg-schemas')]).code).toBe(0);

    // The search_path of the URL reads plant; public is then the schema left out.
    const plantUrl = `${url}?options=-c%20search_path%3Dplant`;
    const p = runCli(['exit', '--source', plantUrl, '--to', path.join(out, 'pg-plant'), '--skip-schemas', 'public', '--json'], { cwd: dir });
    expect(p.code, p.stderr).toBe(0);
    const plantCert = JSON.parse(readFileSync(path.join(out, 'pg-plant', 'exit-certificate.json'), 'utf8')) as Cert & { not_exported: { schema: string }[] };
    expect(plantCert.tables.map((t) => [t.name, t.rows])).toEqual([
      ['machines', 2],
      ['tools', 0],
    ]);
    expect(plantCert.not_exported.map((n) => n.schema)).toEqual(['public']);
  });
});

describe.skipIf(myDown !== null)('forklift exit on MariaDB', () => {
  it('gives a bundle that verifies with its certificate; the ledger gains the exit', async () => {
    const { name, url } = await myDbs.create();
    const m = runCli(['migrate', plan, '--target', url]);
    expect(m.code, m.stderr).toBe(0);
    exitAndVerify(url, 'mariadb-exit');
    const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: name });
    try {
      const [rows] = await c.query("SELECT status FROM forklift_runs WHERE command = 'exit'");
      expect((rows as { status: string }[]).map((r) => r.status)).toEqual(['succeeded']);
    } finally {
      await c.end();
    }
  });
});
