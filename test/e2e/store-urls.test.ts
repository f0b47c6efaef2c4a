import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoCopy, runCli } from '../helpers.js';
import { MYSQL_ADMIN_URL, PG_ADMIN_URL, probeMysql, probePg, reportUnreachable } from '../integration/stores/live.js';

const pgDown = await probePg();
const myDown = await probeMysql();
reportUnreachable('PostgreSQL', PG_ADMIN_URL, pgDown, 'test/e2e/store-urls.test.ts');
reportUnreachable('MariaDB', MYSQL_ADMIN_URL, myDown, 'test/e2e/store-urls.test.ts');

/**
 * A store URL no driver can take as written, through the built CLI: a password with a raw `#`,
 * `/` or `?` (the URL parser ends the host part there, and reads a piece of the password as the
 * host), or a port that is not a number. Every command that takes a store URL refuses it before
 * connecting, as a usage error (SPEC section 8: exit 2) naming the URL without its password (SPEC
 * section 1), never "internal error: Invalid URL" and never a piece of the password.
 */
const PASSWORD = 'Kx7@Qm9#Zr4/Wp2';
const BAD = `postgres://postgres:${PASSWORD}@127.0.0.1:1/test`;
const SHOWN = "'postgres://postgres:***@127.0.0.1:1/test' is not a valid PostgreSQL URL";
const PIECES = ['Kx7', 'Qm9', 'Zr4', 'Wp2'];

function expectRefused(r: { code: number; stdout: string; stderr: string }, what: string, message: string | RegExp = SHOWN): void {
  const out = r.stdout + r.stderr;
  expect(r.code, `${what}: ${out}`).toBe(2);
  if (typeof message === 'string') expect(out, what).toContain(message);
  else expect(out, what).toMatch(message);
  expect(out, what).toMatch(/percent-encode special characters|the port must be a number/i);
  expect(out, what).not.toMatch(/internal error|Invalid URL|bug in forklift/);
  for (const p of PIECES) expect(out, `${what} shows '${p}'`).not.toContain(p);
}

describe('a store URL with raw special characters in its password (built CLI)', () => {
  it('is a usage error, exit 2, from every command that takes a store URL, the password never shown', () => {
    const demo = demoCopy();
    const cwd = demo.dir;
    const run = (args: string[]) => runCli(args, { cwd });
    expectRefused(run(['migrate', demo.plan, '--target', BAD]), 'migrate --target');
    expectRefused(run(['export', path.join(cwd, 'b'), '--source', BAD]), 'export --source');
    expectRefused(run(['diff', BAD, `sqlite:${path.join(cwd, 'none.db')}`]), 'diff LEFT');
    expectRefused(run(['exit', '--source', BAD, '--to', path.join(cwd, 'out')]), 'exit --source');
    expectRefused(run(['purge', demo.plan, '--target', BAD, '--archive', path.join(cwd, 'archive')]), 'purge --target');
    expectRefused(run(['audit', 'log', '--target', BAD]), 'audit log --target');
    expectRefused(run(['validate', demo.plan, '--target', BAD]), 'validate --target');
    expect(run(['migrate', demo.plan, '--target', 'sqlite:./t.db']).code).toBe(0);
    expect(run(['export', 'bundle', '--source', 'sqlite:./t.db']).code).toBe(0);
    expectRefused(run(['bundle', 'import', 'bundle', '--target', BAD]), 'bundle import --target');
    for (const bad of [`postgres://postgres:Kx7?Qm9@127.0.0.1:1/test`, `mysql://root:Kx7/Qm9@127.0.0.1:1/test`, `mssql://sa:Kx7#Qm9@127.0.0.1:1/test`]) {
      expectRefused(run(['export', path.join(cwd, 'b'), '--source', bad]), bad, /is not a valid (PostgreSQL|MySQL|SQL Server) URL/);
    }

    // A plan's target: and a mapping's sql source.
    writeFileSync(path.join(cwd, 'bad-target.yaml'), `name: bad\ntarget: "${BAD}"\nmappings: [mappings/demo/items.yaml]\n`);
    expectRefused(run(['migrate', 'bad-target.yaml']), "a plan's target:");
    writeFileSync(
      path.join(cwd, 'sql-items.yaml'),
      `entity: items\nsource: { format: sql, url: "${BAD}", query: "SELECT 1" }\nfields:\n  item_code: { from: code }\n  description: { from: descr }\n  uom: { const: EA }\n  active: { const: true }\n`,
    );
    writeFileSync(path.join(cwd, 'sql-plan.yaml'), `name: sql\ntarget: sqlite:./t.db\nmappings: [sql-items.yaml]\n`);
    expectRefused(run(['validate', 'sql-plan.yaml']), "a mapping's source url", "'postgres://postgres:***@127.0.0.1:1/test' is not a valid database URL");

    // --json: the one document on stdout says the same.
    const j = run(['export', path.join(cwd, 'b'), '--source', BAD, '--json']);
    expectRefused(j, 'export --json');
    expect(JSON.parse(j.stdout).error).toMatchObject({ code: 'store.url', exit_code: 2, message: expect.stringContaining(SHOWN), hint: expect.stringMatching(/^Percent-encode special characters in the user and password/) });
  });

  it('a port that is not a number is a usage error naming the port', () => {
    const r = runCli(['export', 'b', '--source', 'postgres://postgres@127.0.0.1:notaport/test']);
    expectRefused(r, 'export --source :notaport', "'postgres://postgres@127.0.0.1:notaport/test' is not a valid PostgreSQL URL: the port must be a number");
  });

  it("a ?password= keeps the ': ' before the driver's message", () => {
    const r = runCli(['export', 'b', '--source', 'postgres://postgres@127.0.0.1:1/test?password=qwerty99']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('Error: postgres://postgres@127.0.0.1:1/test?password=***: connect ECONNREFUSED');
    expect(r.stderr).not.toContain('qwerty99');
  });
});

/**
 * A login the server refuses: the hint names the URL as the command took it (--source, LEFT,
 * SOURCE, --target), never a source as "the target URL".
 */
describe('a login the server refuses: the hint names the URL the user gave', () => {
  // [what, args, the URL's name in the hint, exit code: diff's trouble is 2]
  const cases = (url: string): [string, string[], string, number][] => [
    ['exit --source', ['exit', '--source', url, '--to', 'out'], 'the source URL (--source)', 1],
    ['export --source', ['export', 'bundle', '--source', url], 'the source URL (--source)', 1],
    ['diff LEFT', ['diff', url, 'sqlite:./empty.db'], 'the LEFT URL', 2],
    ['diff RIGHT', ['diff', 'sqlite:./empty.db', url], 'the RIGHT URL', 2],
    ['audit verify SOURCE', ['audit', 'verify', url], 'the store URL (SOURCE)', 1],
    ['audit log --target', ['audit', 'log', '--target', url], 'the target URL', 1],
    ['migrate --target', ['migrate', 'mappings/demo/forklift.yaml', '--target', url], 'the target URL', 1],
  ];
  const check = (url: string, hint: (name: string) => string): void => {
    const { dir } = demoCopy();
    // An empty file is an empty SQLite database: the other side of a diff that opens.
    writeFileSync(path.join(dir, 'empty.db'), '');
    for (const [what, args, name, code] of cases(url)) {
      const r = runCli([...args, '--json'], { cwd: dir });
      expect(r.code, `${what}: ${r.stdout}${r.stderr}`).toBe(code);
      expect((JSON.parse(r.stdout) as { error: { hint: string } }).error.hint, what).toBe(hint(name));
    }
  };

  it.skipIf(myDown !== null)('MySQL/MariaDB: a wrong password', () => {
    check('mysql://root:wrongpw@127.0.0.1:3306/test', (name) => `Check the user name and password in ${name}, or in the variable it comes from.`);
  }, 120_000);

  it.skipIf(pgDown !== null)('PostgreSQL: a role the server does not know', () => {
    check('postgres://forklift_no_such_role:wrongpw@127.0.0.1:5432/postgres', (name) => `Check the user name and password of ${name}, or in PGPASSWORD or ~/.pgpass.`);
  }, 120_000);
});
