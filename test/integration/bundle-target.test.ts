import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { exportBundle } from '../../src/bundle/export.js';
import { verifyBundle } from '../../src/bundle/verify.js';
import { runExit } from '../../src/exit/exit.js';
import { purge } from '../../src/retention/purge.js';
import { tempDir } from '../helpers.js';

/**
 * Where export, exit and purge write a bundle: a folder inside an existing bundle would break it
 * (files in no manifest, Payload-Oxum off), and a path through a file cannot be made. Both are
 * usage errors (exit 2) naming the path, before anything is read or written.
 */

function store(dir: string): string {
  const file = path.join(dir, 's.db');
  const db = new Database(file);
  db.exec('CREATE TABLE parts (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
  const ins = db.prepare('INSERT INTO parts (id, name) VALUES (?, ?)');
  for (let i = 1; i <= 20; i++) ins.run(i, `part ${i}`);
  db.close();
  return `sqlite:${file}`;
}

function exitRuns(url: string): number {
  const db = new Database(url.slice('sqlite:'.length), { readonly: true });
  try {
    const t = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'forklift_runs'").get() as { n: number };
    return t.n === 0 ? 0 : (db.prepare('SELECT count(*) AS n FROM forklift_runs').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('a bundle target inside an existing bundle', () => {
  it('export, exit and purge refuse it (exit 2), and the bundle still verifies', async () => {
    const dir = tempDir('forklift-target-');
    const source = store(dir);
    const ex1 = path.join(dir, 'ex1');
    await exportBundle({ dir: ex1, source });
    const runs = exitRuns(source);
    const inside = { exitCode: 2, message: expect.stringMatching(/is inside the bundle .*ex1$/) };
    await expect(exportBundle({ dir: path.join(ex1, 'data', 'x'), source })).rejects.toMatchObject({ ...inside, code: 'export.target' });
    await expect(exportBundle({ dir: path.join(ex1, 'inner'), source, zip: true })).rejects.toMatchObject(inside);
    await expect(runExit({ source, to: path.join(ex1, 'inner') })).rejects.toMatchObject({ ...inside, code: 'exit.target' });
    await expect(purge({ target: source, archive: path.join(ex1, 'data', 'archive'), rules: [], all: true, confirm: 's.db' })).rejects.toMatchObject({ ...inside, code: 'purge.archive' });
    const v = await verifyBundle(ex1);
    expect(v.problems).toEqual([]);
    expect(v.valid).toBe(true);
    expect(readdirSync(ex1).sort()).toEqual(['bag-info.txt', 'bagit.txt', 'data', 'manifest-sha256.txt', 'tagmanifest-sha256.txt']);
    expect(exitRuns(source)).toBe(runs);
  });
});

describe('a bundle target through a file', () => {
  it('export, exit and purge name the file that is not a folder (exit 2), not an internal error', async () => {
    const dir = tempDir('forklift-target-');
    const source = store(dir);
    const afile = path.join(dir, 'afile');
    writeFileSync(afile, '');
    const notFolder = { exitCode: 2, message: expect.stringMatching(/cannot be made: .*afile is a file, not a folder$/) };
    await expect(exportBundle({ dir: path.join(afile, 'sub'), source })).rejects.toMatchObject(notFolder);
    await expect(exportBundle({ dir: path.join(afile, 'sub'), source, zip: true })).rejects.toMatchObject(notFolder);
    await expect(runExit({ source, to: path.join(afile, 'sub') })).rejects.toMatchObject(notFolder);
    await expect(runExit({ source, to: path.join(afile, 'sub'), zip: true })).rejects.toMatchObject(notFolder);
    await expect(purge({ target: source, archive: path.join(afile, 'sub'), rules: [], all: true, confirm: 's.db' })).rejects.toMatchObject(notFolder);
    // The archive folder itself a file: a purge would take it for a rerun's archive.
    await expect(purge({ target: source, archive: afile, rules: [], all: true, confirm: 's.db' })).rejects.toMatchObject({ exitCode: 2, code: 'purge.archive', message: expect.stringMatching(/^--archive .*afile is a file, not a folder$/) });
    expect(readdirSync(dir).sort()).toEqual(['afile', 's.db']);
    expect(exitRuns(source)).toBe(0);
  });

  it('a parent that is a link to nowhere cannot be written: exit 1 naming it, not an internal error', async () => {
    const dir = tempDir('forklift-target-');
    const source = store(dir);
    symlinkSync(path.join(dir, 'unmounted', 'disk'), path.join(dir, 'gone'));
    const unwritable = { exitCode: 1, message: expect.stringMatching(/cannot be made: E[A-Z]+: .*gone/) };
    await expect(exportBundle({ dir: path.join(dir, 'gone', 'b'), source })).rejects.toMatchObject({ ...unwritable, code: 'export.target' });
    await expect(runExit({ source, to: path.join(dir, 'gone', 'b') })).rejects.toMatchObject({ ...unwritable, code: 'exit.target' });
  });

  it('an empty folder given to export is replaced by the bundle; one that is not empty is refused', async () => {
    const dir = tempDir('forklift-target-');
    const source = store(dir);
    mkdirSync(path.join(dir, 'empty'));
    await exportBundle({ dir: path.join(dir, 'empty'), source });
    expect((await verifyBundle(path.join(dir, 'empty'))).valid).toBe(true);
    mkdirSync(path.join(dir, 'full'));
    writeFileSync(path.join(dir, 'full', 'keep.txt'), 'x');
    await expect(exportBundle({ dir: path.join(dir, 'full'), source })).rejects.toMatchObject({ exitCode: 2, code: 'export.exists' });
    expect(readdirSync(path.join(dir, 'full'))).toEqual(['keep.txt']);
  });
});
