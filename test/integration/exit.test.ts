import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runExit } from '../../src/exit/exit.js';
import { tempDir } from '../helpers.js';

/** forklift exit's library: a source written to while the exit runs fails the exit, and nothing is left at the bundle folder. */

function source(dir: string): string {
  const file = path.join(dir, 'src.db');
  const db = new Database(file);
  db.exec('CREATE TABLE parts (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
  const ins = db.prepare('INSERT INTO parts (id, name) VALUES (?, ?)');
  for (let i = 1; i <= 50; i++) ins.run(i, `part ${i}`);
  db.close();
  return file;
}

describe('runExit', () => {
  it('a source changed between the export and the diff fails the exit, saying so; nothing at the bundle folder; the failure is in the ledger', async () => {
    const dir = tempDir('forklift-exit-');
    const file = source(dir);
    const to = path.join(dir, 'out', 'bundle');
    let written = false;
    await expect(
      runExit({
        source: `sqlite:${file}`,
        to,
        progress: (p) => {
          if (p.step === 'diff' && !written) {
            written = true;
            const db = new Database(file);
            db.prepare('INSERT INTO parts (id, name) VALUES (?, ?)').run(51, 'written meanwhile');
            db.close();
          }
        },
      }),
    ).rejects.toThrow(/the source changed during the exit: the re-imported bundle differs from sqlite:.*: parts \(1 added, 0 removed, 0 changed\)/);
    expect(existsSync(to)).toBe(false);
    expect(readdirSync(path.join(dir, 'out'))).toEqual([]);
    const db = new Database(file, { readonly: true });
    try {
      const runs = db.prepare("SELECT status, message FROM forklift_runs WHERE command = 'exit'").all() as { status: string; message: string }[];
      expect(runs).toHaveLength(1);
      expect(runs[0]!.status).toBe('failed');
      expect(runs[0]!.message).toMatch(/^exit failed at diff: the source changed/);
    } finally {
      db.close();
    }
  });

  it('a bundle that stops verifying fails the exit as such, though the re-import and the diff run beside the verify', async () => {
    const dir = tempDir('forklift-exit-');
    const file = source(dir);
    const to = path.join(dir, 'out', 'bundle');
    let tampered = '';
    await expect(
      runExit({
        source: `sqlite:${file}`,
        to,
        progress: (p) => {
          if (p.step === 'verify' && !tampered) {
            // The export is complete: change one byte of its CSV, keeping the length.
            const work = readdirSync(path.join(dir, 'out')).find((f) => f.includes('.exit-partial-'))!;
            tampered = path.join(dir, 'out', work, 'bundle', 'data', 'csv', 'parts.csv');
            writeFileSync(tampered, readFileSync(tampered, 'utf8').replace('part 7', 'part X'));
          }
        },
      }),
    ).rejects.toThrow(/the exported bundle does not verify: data\/csv\/parts\.csv: sha256 mismatch/);
    expect(tampered).not.toBe('');
    expect(readdirSync(path.join(dir, 'out'))).toEqual([]);
    const db = new Database(file, { readonly: true });
    try {
      const runs = db.prepare("SELECT status, message FROM forklift_runs WHERE command = 'exit'").all() as { status: string; message: string }[];
      expect(runs.map((r) => r.status)).toEqual(['failed']);
      expect(runs[0]!.message).toMatch(/^exit failed at verify: the exported bundle does not verify/);
    } finally {
      db.close();
    }
  });

  it('an unchanged source gives the bundle and a succeeded ledger entry', async () => {
    const dir = tempDir('forklift-exit-');
    const file = source(dir);
    const to = path.join(dir, 'out', 'bundle');
    const r = await runExit({ source: `sqlite:${file}`, to });
    expect(r.certificate.diff.identical).toBe(true);
    expect(r.certificate.tables.find((t) => t.name === 'parts')?.rows).toBe(50);
    expect(existsSync(path.join(to, 'exit-certificate.json'))).toBe(true);
  });

  it('--force onto the folder holding the SQLite source is refused (exit 2) before any work: the source and the other files stay', async () => {
    const dir = tempDir('forklift-exit-');
    mkdirSync(path.join(dir, 'data'));
    const file = source(path.join(dir, 'data'));
    writeFileSync(path.join(dir, 'data', 'notes.txt'), 'my notes');
    await expect(runExit({ source: `sqlite:${file}`, to: path.join(dir, 'data'), force: true })).rejects.toMatchObject({
      exitCode: 2,
      code: 'exit.target',
      message: expect.stringMatching(/^--force cannot replace .*data: it holds the source store sqlite:/),
    });
    expect(readdirSync(path.join(dir, 'data')).sort()).toEqual(['notes.txt', 'src.db']);
    expect(readFileSync(path.join(dir, 'data', 'notes.txt'), 'utf8')).toBe('my notes');
    expect(readdirSync(dir)).toEqual(['data']);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) AS n FROM parts').get()).toEqual({ n: 50 });
    } finally {
      db.close();
    }
  });

  it('--force onto a folder that is not a bundle is refused; onto an earlier bundle it replaces it, leaving nothing beside', async () => {
    const dir = tempDir('forklift-exit-');
    const file = source(dir);
    const to = path.join(dir, 'out', 'bundle');
    mkdirSync(to, { recursive: true });
    writeFileSync(path.join(to, 'report.docx'), 'not a bundle');
    await expect(runExit({ source: `sqlite:${file}`, to, force: true })).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/it is not a bundle \(no bagit\.txt\) and holds report\.docx$/) });
    expect(readdirSync(to)).toEqual(['report.docx']);
    const other = path.join(dir, 'out', 'other');
    const first = await runExit({ source: `sqlite:${file}`, to: other });
    const second = await runExit({ source: `sqlite:${file}`, to: other, force: true });
    expect(second.certificate.started).not.toBe(first.certificate.started);
    expect(JSON.parse(readFileSync(path.join(other, 'exit-certificate.json'), 'utf8'))).toMatchObject({ started: second.certificate.started });
    expect(readdirSync(path.join(dir, 'out')).sort()).toEqual(['bundle', 'other']);
  });

  it('--force over an earlier bundle: when the ledger step fails, the earlier bundle is put back as it was', async () => {
    const dir = tempDir('forklift-exit-');
    const file = source(dir);
    const to = path.join(dir, 'out', 'bundle');
    await runExit({ source: `sqlite:${file}`, to });
    const before = readFileSync(path.join(to, 'exit-certificate.json'), 'utf8');
    const away = `${file}.away`;
    await expect(
      runExit({
        source: `sqlite:${file}`,
        to,
        force: true,
        progress: (p) => {
          // The new bundle is in place: the source goes away, so its ledger cannot record the exit.
          if (p.step === 'ledger') renameSync(file, away);
        },
      }),
    ).rejects.toThrow(/no such database file/);
    renameSync(away, file);
    expect(readFileSync(path.join(to, 'exit-certificate.json'), 'utf8')).toBe(before);
    expect(readdirSync(path.join(dir, 'out'))).toEqual(['bundle']);
  });

  it('a row the scratch store refuses fails the exit at the re-import, exit 1, saying so (not as a store that cannot be read)', async () => {
    const dir = tempDir('forklift-exit-');
    const file = source(dir);
    const tmp = tempDir('forklift-exit-tmp-');
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      let armed = false;
      await expect(
        runExit({
          source: `sqlite:${file}`,
          to: path.join(dir, 'out', 'bundle'),
          progress: (p) => {
            if (p.step !== 'import' || armed) return;
            armed = true;
            // The scratch store's tables exist and its writer waits for the first CSV batch.
            const scratch = readdirSync(tmp).find((f) => f.startsWith('forklift-exit-') && !f.endsWith('.owner'))!;
            const db = new Database(path.join(tmp, scratch, 'exit-check.db'));
            db.exec("CREATE TRIGGER refuse BEFORE INSERT ON parts WHEN NEW.id = 40 BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: parts.name'); END");
            db.close();
          },
        }),
      ).rejects.toMatchObject({
        exitCode: 1,
        code: 'exit.import',
        message: 'the bundle could not be re-imported into the scratch SQLite store: UNIQUE constraint failed: parts.name',
        hint: expect.stringMatching(/^The bundle verified, yet the scratch store refused one of its rows: this is a bug in forklift/),
      });
      expect(armed).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
    expect(readdirSync(path.join(dir, 'out'))).toEqual([]);
    const db = new Database(file, { readonly: true });
    try {
      const runs = db.prepare("SELECT status, message FROM forklift_runs WHERE command = 'exit'").all() as { status: string; message: string }[];
      expect(runs.map((r) => r.status)).toEqual(['failed']);
      expect(runs[0]!.message).toMatch(/^exit failed at import: the bundle could not be re-imported/);
    } finally {
      db.close();
    }
  });
});
