import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoCopy, runCli, tempDir } from '../helpers.js';

/**
 * `${VAR}` and `${VAR:-default}` in a store URL given on the command line are expanded as in a
 * plan (SPEC section 1), so a password can come from the environment; an unset variable is a
 * usage error naming the flag.
 */
describe('environment variables in store URLs on the command line (built CLI)', () => {
  it('expands --target, --source and diff arguments; an unset variable is exit 2 naming the flag', () => {
    const demo = demoCopy();
    const env = { FL_DIR: demo.dir };
    const m = runCli(['migrate', demo.plan, '--target', 'sqlite:${FL_DIR}/t.db', '--json'], { cwd: demo.dir, env });
    expect(m.code, m.stderr).toBe(0);
    expect(existsSync(path.join(demo.dir, 't.db'))).toBe(true);
    expect(existsSync(path.join(demo.dir, '${FL_DIR}'))).toBe(false);

    const e = runCli(['export', path.join(demo.dir, 'b'), '--source', 'sqlite:${FL_MISSING:-' + demo.dir + '}/t.db'], { cwd: demo.dir, env });
    expect(e.code, e.stderr).toBe(0);
    const d = runCli(['diff', 'sqlite:${FL_DIR}/t.db', path.join(demo.dir, 'b')], { cwd: demo.dir, env });
    expect(d.code, d.stderr).toBe(0);

    const bad = runCli(['migrate', demo.plan, '--target', 'postgres://u:${FL_NOPE}@127.0.0.1/x', '--json'], { cwd: demo.dir, env });
    expect(bad.code).toBe(2);
    // The message as forklift wrote it, without oclif's "Parsing --target … See more help with --help" around it.
    expect(JSON.parse(bad.stdout).error).toMatchObject({ code: 'config.env', message: '--target: environment variable FL_NOPE is not set', hint: 'Set FL_NOPE, or give a default: ${FL_NOPE:-value}.' });
    const text = runCli(['migrate', demo.plan, '--target', 'postgres://u:${FL_NOPE}@127.0.0.1/x'], { cwd: demo.dir, env });
    expect(text.code).toBe(2);
    expect(text.stderr).toMatch(/^Error: --target: environment variable FL_NOPE is not set\nHint: Set FL_NOPE, or give a default: \$\{FL_NOPE:-value\}\.\n/);
    expect(text.stderr).not.toMatch(/Parsing --target|See more help/);
  });
});

describe('the machine and the file system say no (built CLI)', () => {
  it('a TMPDIR that does not exist: exit 1 naming it and what to do, never an internal error', () => {
    const demo = demoCopy();
    expect(runCli(['migrate', demo.plan, '--target', `sqlite:${path.join(demo.dir, 't.db')}`], { cwd: demo.dir }).code).toBe(0);
    expect(runCli(['export', path.join(demo.dir, 'b'), '--source', `sqlite:${path.join(demo.dir, 't.db')}`], { cwd: demo.dir }).code).toBe(0);
    const env = { TMPDIR: '/nonexistent/forklift-tmp' };
    for (const args of [['bundle', 'verify', path.join(demo.dir, 'b')], ['bundle', 'import', path.join(demo.dir, 'b'), '--target', `sqlite:${path.join(demo.dir, 'u.db')}`]]) {
      const x = runCli([...args, '--json'], { cwd: demo.dir, env });
      expect(x.stdout, args[1]).not.toMatch(/internal error/);
      const err = JSON.parse(x.stdout).error;
      expect(err.message).toMatch(/cannot make a scratch folder in \/nonexistent\/forklift-tmp \(ENOENT\)/);
      expect(err.hint).toMatch(/TMPDIR/);
      expect(x.code).toBe(1);
    }
  });

  it('runs/ beside the plan is a file: exit 2 saying so', () => {
    const demo = demoCopy();
    writeFileSync(path.join(demo.dir, 'mappings', 'demo', 'runs'), 'not a folder');
    const r = runCli(['validate', demo.plan, '--json'], { cwd: demo.dir });
    expect(r.code).toBe(2);
    const err = JSON.parse(r.stdout).error;
    expect(err.message).toMatch(/cannot make the run folder .*runs\/\d{8}T\d{6}Z-[0-9a-f]+ \(ENOTDIR\)/);
    expect(err.hint).toMatch(/must be a folder/);
  });

  it('a MySQL password with a % that starts no escape is taken as written (the server then refuses it), not "URI malformed"', () => {
    const dir = tempDir('forklift-pct-');
    const r = runCli(['export', path.join(dir, 'b'), '--source', 'mysql://root:50%off@127.0.0.1:1/nodb', '--json'], { cwd: dir });
    expect(r.stdout).not.toMatch(/internal error|URI malformed|50%off/);
    expect(r.code).toBe(1);
  });
});
