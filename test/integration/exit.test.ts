import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
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
});
