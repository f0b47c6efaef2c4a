import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';

/**
 * A SQLite path that is not there, given as a store to read, verify or purge: opening it would
 * create an empty database, so a mistyped path exported an empty bundle with exit 0. Every such
 * command now stops with exit 1 naming the file, and creates nothing. (migrate, bundle import
 * and audit init, which write to the store, still create it.)
 */
describe('a SQLite store that does not exist', () => {
  it('is an error for every command that reads, verifies or purges a store, and no file is created', () => {
    const dir = tempDir('forklift-missing-');
    const url = 'sqlite:typo.db';
    const commands: [string, string[], number][] = [
      ['export', ['export', 'out', '--source', url], 1],
      ['exit', ['exit', '--source', url, '--to', 'exit-out'], 1],
      ['audit verify', ['audit', 'verify', url], 1],
      ['audit log', ['audit', 'log', '--target', url], 1],
      ['purge', ['purge', '--all', '--target', url, '--archive', 'archive', '--confirm', 'typo.db'], 1],
      // diff's exit 2 is "trouble" (SPEC section 7): it could not compare.
      ['diff', ['diff', url, url], 2],
    ];
    for (const [what, args, code] of commands) {
      const r = runCli(args, { cwd: dir });
      expect(r.code, `${what}: ${r.stdout}${r.stderr}`).toBe(code);
      expect(r.stdout + r.stderr, what).toMatch(/sqlite:typo\.db: no such (database|SQLite) file/);
      expect(r.stdout + r.stderr, what).not.toMatch(/internal error/);
      expect(existsSync(path.join(dir, 'typo.db')), `${what} created the file`).toBe(false);
    }
    expect(existsSync(path.join(dir, 'out')) || existsSync(path.join(dir, 'exit-out')) || existsSync(path.join(dir, 'archive'))).toBe(false);
  });

  it('is not left behind, empty, by a command that writes to it but failed before it wrote', () => {
    const dir = tempDir('forklift-missing-');
    // A plan whose source file is missing: migrate stops with exit 2 before it touches the store.
    writeFileSync(path.join(dir, 'forklift.yaml'), 'name: t\ntarget: sqlite:./new/nested/t.db\nmodel: factory\nmappings: [items.yaml]\n');
    writeFileSync(path.join(dir, 'items.yaml'), 'entity: items\nsource: { format: csv, path: ITEMS.CSV }\nfields:\n  item_code: { from: ITEM }\n');
    for (const args of [['migrate', 'forklift.yaml'], ['validate', 'forklift.yaml']]) {
      const r = runCli(args, { cwd: dir });
      expect(r.code, `${args[0]}: ${r.stdout}${r.stderr}`).toBe(2);
      expect(r.stderr, args[0]).toMatch(/ITEMS\.CSV does not exist/);
      expect(existsSync(path.join(dir, 'new')), `${args[0]} left new/nested/t.db or its folders`).toBe(false);
    }
  });
});

describe('a SQLite store URL that names a folder or a file that is not a database', () => {
  it('is a usage error for every command, with no stack trace and --json clean', () => {
    const dir = tempDir('forklift-folder-store-');
    mkdirSync(path.join(dir, 'adir'));
    writeFileSync(path.join(dir, 'forklift.yaml'), 'name: t\ntarget: sqlite:./adir\nmodel: factory\nmappings: [items.yaml]\n');
    writeFileSync(path.join(dir, 'items.yaml'), 'entity: items\nsource: { format: csv, path: ITEMS.CSV }\nfields:\n  item_code: { from: ITEM }\n  description: { from: DESC }\n  uom: { expr: \'"pcs"\' }\n  active: { expr: "true" }\n');
    writeFileSync(path.join(dir, 'ITEMS.CSV'), 'ITEM,DESC\nA-1,Pump\n');
    const url = 'sqlite:adir';
    const commands: [string, string[]][] = [
      ['migrate', ['migrate', '--json']],
      ['export', ['export', 'out', '--source', url, '--json']],
      ['audit log', ['audit', 'log', '--target', url, '--json']],
      ['diff', ['diff', url, url, '--json']],
    ];
    for (const [what, args] of commands) {
      const r = runCli(args, { cwd: dir });
      expect(r.code, `${what}: ${r.stdout}${r.stderr}`).toBe(2);
      // One JSON document on stdout, nothing before it (knex printed a stack trace there).
      const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string } };
      expect(doc.error.code, what).toBe('store.url');
      expect(doc.error.message, what).toMatch(/sqlite:(\.\/)?adir is a folder, not a SQLite database file/);
      expect(r.stdout + r.stderr, what).not.toMatch(/internal error| {4}at /);
    }
    writeFileSync(path.join(dir, 'notdb.db'), 'hello\n');
    const r = runCli(['export', 'out2', '--source', 'sqlite:notdb.db'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/sqlite:notdb\.db: file is not a database/);
    expect(r.stderr).not.toMatch(/select|sqlite_master/i);
  });
});

describe('a path through a file where a folder should be', () => {
  it('is a usage error naming the file, for a SQLite target, signing keys and a mapping written by init', () => {
    const dir = tempDir('forklift-file-in-way-');
    writeFileSync(path.join(dir, 'afile'), 'hi\n');
    writeFileSync(path.join(dir, 'ITEMS.CSV'), 'ITEM,DESC\nA-1,Pump\n');
    const cases: [string, string[]][] = [
      ['audit keygen', ['audit', 'keygen', 'afile/keys']],
      ['audit keygen on the file', ['audit', 'keygen', 'afile']],
      ['mapping init --out', ['mapping', 'init', 'ITEMS.CSV', '--entity', 'items', '--out', 'afile/items.yaml', '--yes']],
      ['audit init on a SQLite store', ['audit', 'init', '--target', 'sqlite:afile/x.db']],
    ];
    for (const [what, args] of cases) {
      const r = runCli([...args, '--json'], { cwd: dir });
      expect(r.code, `${what}: ${r.stdout}${r.stderr}`).toBe(2);
      const doc = JSON.parse(r.stdout) as { error: { message: string } };
      expect(doc.error.message, what).toMatch(/cannot make the folder .* afile is a file, not a folder$/);
      expect(r.stdout + r.stderr, what).not.toMatch(/internal error/);
    }
  });
});

/**
 * A SQLite target SQLite cannot create (a new file in a read-only folder or disk; here, as any
 * user can make it, a symbolic link to a folder that does not exist): the hint said "Check that
 * the store is readable", which sent the user the wrong way for a store that is to be written.
 */
describe('a SQLite target that SQLite cannot open or create', () => {
  it('migrate: exit 1, the hint says to check the folder and that this user may write there; nothing is left behind', () => {
    const dir = tempDir('forklift-cantopen-');
    symlinkSync(path.join(dir, 'no', 'such', 'folder', 'x.db'), path.join(dir, 'target.db'));
    const plan = path.join(dir, 'forklift.yaml');
    writeFileSync(path.join(dir, 'items.csv'), 'code,descr\nA,one\n');
    writeFileSync(path.join(dir, 'items.yaml'), 'entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: code }\n  description: { from: descr }\n  uom: { const: EA }\n  active: { const: true }\n');
    writeFileSync(plan, 'name: c\ntarget: sqlite:./target.db\nmappings: [items.yaml]\n');
    const r = runCli(['migrate', plan, '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout) as { error: { message: string; hint: string } };
    expect(doc.error.message).toMatch(/unable to open database file/);
    expect(doc.error.hint).toMatch(/may write the file and its folder/);
    expect(doc.error.hint).not.toMatch(/readable/);
    expect(existsSync(path.join(dir, 'no'))).toBe(false);
  });
});
