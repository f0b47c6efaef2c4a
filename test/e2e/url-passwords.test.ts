import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';
import { filesContaining, liveServers, MYSQL_HOST, MYSQL_PORT, mysqlAdminConfig, PG_ADMIN_URL, withPg } from '../integration/stores/live.js';

/**
 * Passwords with `@`, `:`, `/` and percent-encoded characters in store URLs, through the built
 * CLI: drivers take the user and password up to the authority's last `@`, so such a URL works,
 * and forklift must never show any part of its password: not on the terminal, in --json, in
 * report.json or report.html, a rejects file, the forklift_runs ledger or a bundle's
 * bag-info.txt. Real roles with these passwords on PostgreSQL and MariaDB (dropped at the end).
 */

const { pgDown, myDown, pgDbs, myDbs } = await liveServers('test/e2e/url-passwords.test.ts');

const role = `forklift_t_${randomBytes(4).toString('hex')}`;
const PASSWORD = 'P@ss:w0rd/Kiel';
/** Any part of the passwords that the old redaction printed (it stopped at the first @). */
const NEEDLES = ['P@ss', 'P%40ss', 'w0rd', 'Pw0rd', 'Sql:'];
const pg = new URL(PG_ADMIN_URL);

/** The PostgreSQL URL of db as the role, its password written raw (@ and :) or all percent-encoded. */
function pgRoleUrl(db: string, form: 'raw' | 'encoded'): string {
  const pw = form === 'raw' ? 'P@ss:w0rd%2FKiel' : encodeURIComponent(PASSWORD);
  return `postgres://${role}:${pw}@${pg.hostname}:${pg.port || 5432}/${db}`;
}

function expectNoPassword(text: string, what: string): void {
  for (const n of NEEDLES) expect(text, `${what} shows '${n}'`).not.toContain(n);
}

describe.skipIf(pgDown !== null || myDown !== null)('a store URL whose password holds @, :, / or %40', () => {
  afterAll(async () => {
    await pgDbs.dropAll();
    await withPg(PG_ADMIN_URL, (c) => c.query(`DROP ROLE IF EXISTS ${role}`)).catch(() => {});
    const c = await mysql.createConnection(mysqlAdminConfig());
    await c.query(`DROP USER IF EXISTS '${role}'@'%'`).catch(() => {});
    await c.end();
  });

  it('is never shown, whole or in part, by migrate, export or a failed connection', async () => {
    const src = await pgDbs.create();
    const target = await pgDbs.create();
    await withPg(PG_ADMIN_URL, async (c) => {
      await c.query(`CREATE ROLE ${role} LOGIN PASSWORD '${PASSWORD}'`);
      for (const db of [src.name, target.name]) await c.query(`ALTER DATABASE ${db} OWNER TO ${role}`);
    });
    await withPg(src.url, async (c) => {
      await c.query('CREATE TABLE legacy (code text, descr text, cost numeric(12,4))');
      await c.query(`INSERT INTO legacy VALUES ('A-1', 'Pump', 1.5), ('B-2', 'Shaft', -1)`);
      await c.query(`ALTER TABLE legacy OWNER TO ${role}`);
    });
    await withPg(target.url, (c) => c.query(`ALTER SCHEMA public OWNER TO ${role}`));
    const my = await myDbs.create();
    const admin = await mysql.createConnection({ ...mysqlAdminConfig(), database: my.name });
    try {
      await admin.query(`CREATE USER '${role}'@'%' IDENTIFIED BY 'My@Sql:Pw0rd/x'`);
      await admin.query(`GRANT SELECT ON \`${my.name}\`.* TO '${role}'@'%'`);
      await admin.query("CREATE TABLE legacy (code varchar(10), descr varchar(40), cost decimal(12,4))");
      await admin.query("INSERT INTO legacy VALUES ('A-1', 'Pump', 2.5), ('C-3', 'Gone', -2)");
    } finally {
      await admin.end();
    }
    const myUrl = `mysql://${role}:My@Sql:Pw0rd%2Fx@${MYSQL_HOST}:${MYSQL_PORT}/${my.name}`;

    const dir = tempDir('forklift-pw-');
    const mapping = (url: string): string =>
      [
        'entity: items',
        `source: { format: sql, url: "${url}", query: "SELECT code, descr, cost FROM legacy ORDER BY code" }`,
        'fields:',
        '  item_code: { from: code }',
        '  description: { from: descr }',
        '  uom: { const: EA }',
        '  standard_cost: { from: cost }',
        '  active: { const: true }',
        '',
      ].join('\n');
    writeFileSync(path.join(dir, 'pg.yaml'), mapping(pgRoleUrl(src.name, 'raw')));
    writeFileSync(path.join(dir, 'my.yaml'), mapping(myUrl));
    writeFileSync(path.join(dir, 'pg-plan.yaml'), `name: pw\ntarget: "${pgRoleUrl(target.name, 'encoded')}"\nmappings: [pg.yaml]\nreject_limit: 100%\nload: replace\n`);
    writeFileSync(path.join(dir, 'my-plan.yaml'), `name: pw\ntarget: sqlite:./unused.db\nmappings: [my.yaml]\nreject_limit: 100%\nload: replace\n`);

    const outputs: [string, { code: number; stdout: string; stderr: string }][] = [];
    const run = (what: string, args: string[], code: number): void => {
      const r = runCli(args, { cwd: dir });
      expect(r.code, `${what}: ${r.stdout}${r.stderr}`).toBe(code);
      outputs.push([what, r]);
    };
    run('migrate --json (PostgreSQL source, the plan target encoded)', ['migrate', 'pg-plan.yaml', '--json'], 0);
    run('migrate (MariaDB source, --target raw)', ['migrate', 'my-plan.yaml', '--target', pgRoleUrl(target.name, 'raw')], 0);
    run('export --source raw', ['export', 'bundle', '--source', pgRoleUrl(target.name, 'raw')], 0);
    // Connections that fail: the error names the URL, never its password.
    const mssql = 'mssql://sa:Ms@Sql:Pw0rd@127.0.0.1:1/erp?connectTimeout=2000';
    run('migrate --target mssql:// (unreachable)', ['migrate', 'pg-plan.yaml', '--target', mssql], 1);
    run('migrate --target mssql:// (unreachable) --json', ['migrate', 'pg-plan.yaml', '--target', mssql, '--json'], 1);
    writeFileSync(path.join(dir, 'bad.yaml'), mapping(`postgres://${role}:Sl/ash@Pw0rd@${pg.hostname}:5432/${src.name}`));
    writeFileSync(path.join(dir, 'bad-plan.yaml'), 'name: pw\ntarget: sqlite:./unused.db\nmappings: [bad.yaml]\n');
    run('validate with a raw / in the password (no driver can parse it)', ['validate', 'bad-plan.yaml'], 2);
    writeFileSync(path.join(dir, 'denied.yaml'), mapping(myUrl.replace('Pw0rd', 'Pw0rdWrong')));
    writeFileSync(path.join(dir, 'denied-plan.yaml'), 'name: pw\ntarget: sqlite:./unused.db\nmappings: [denied.yaml]\n');
    run('validate with a wrong MariaDB password', ['validate', 'denied-plan.yaml', '--json'], 1);

    for (const [what, r] of outputs) expectNoPassword(r.stdout + r.stderr, what);
    // The URLs are shown, without their passwords.
    const all = outputs.map(([, r]) => r.stdout + r.stderr).join('\n');
    expect(all).toContain(`postgres://${role}:***@${pg.hostname}:${pg.port || 5432}/${target.name}`);
    expect(all).toContain(`mysql://${role}:***@${MYSQL_HOST}:${MYSQL_PORT}/${my.name}`);
    expect(all).toContain('mssql://sa:***@127.0.0.1:1/erp');
    expect(all).toMatch(/Access denied/);

    // report.json, report.html, rejects files (forklift_source), bag-info.txt: every file written.
    const runs = readdirSync(path.join(dir, 'runs'));
    for (const f of ['report.json', 'report.html', 'rejects/items.csv']) expect(runs.filter((r) => existsSync(path.join(dir, 'runs', r, f))), f).toHaveLength(2);
    expect(readFileSync(path.join(dir, 'bundle', 'bag-info.txt'), 'utf8')).toContain(`${role}:***@`);
    const written = filesContaining(dir, NEEDLES).filter((f) => !/^(pg|my|bad|denied)(-plan)?\.yaml$/.test(f));
    expect(written).toEqual([]);
    const ledger = await withPg(target.url, (c) => c.query('SELECT * FROM forklift_runs'));
    expect(ledger.rows).toHaveLength(2);
    expectNoPassword(JSON.stringify(ledger.rows), 'forklift_runs');
    expect(JSON.stringify(ledger.rows)).toContain(`${role}:***@`);
  });
});
