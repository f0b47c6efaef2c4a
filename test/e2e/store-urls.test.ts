import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoCopy, runCli } from '../helpers.js';

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
