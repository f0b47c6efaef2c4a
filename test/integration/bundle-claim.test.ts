import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { exportBundle } from '../../src/bundle/export.js';
import { verifyBundle } from '../../src/bundle/verify.js';
import { runExit } from '../../src/exit/exit.js';
import { claimDestination } from '../../src/util/work-path.js';
import { tempDir } from '../helpers.js';

/**
 * Two commands writing a bundle to the same place: the later one to finish used to remove, or
 * rename over, the other's finished bundle, and both said they had succeeded. The place is now
 * claimed at the start (`<dest>.claim`): a second export or exit there stops at once, exit 2,
 * naming the process that holds it, and the bundle that ends up there is the first one's, whole.
 */

function store(dir: string, name: string, rows: number): string {
  const file = path.join(dir, `${name}.db`);
  const db = new Database(file);
  db.exec('CREATE TABLE parts (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
  const ins = db.prepare('INSERT INTO parts (id, name) VALUES (?, ?)');
  db.transaction(() => {
    for (let i = 1; i <= rows; i++) ins.run(i, `${name} ${i}`);
  })();
  db.close();
  return `sqlite:${file}`;
}

function bagInfo(dir: string, field: string): string | undefined {
  return readFileSync(path.join(dir, 'bag-info.txt'), 'utf8')
    .split(/\r?\n/)
    .find((l) => l.startsWith(`${field}: `))
    ?.slice(field.length + 2);
}

/** The pid of a process that has ended. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

const busy = (code: string, command: string) => ({ exitCode: 2, code, message: expect.stringContaining(`is claimed by forklift ${command} (process ${process.pid} on ${hostname()}, started `) });

describe('two exports to the same place', () => {
  it.each([
    ['folder', false, 'same'],
    ['zip', true, 'same.zip'],
  ])('%s: the second stops at once (exit 2) naming the first, whose bundle is left whole', async (_, zip, placed) => {
    const dir = tempDir('forklift-claim-');
    const big = store(dir, 'big', 20_000);
    const small = store(dir, 'small', 10);
    const dest = path.join(dir, 'same');
    const first = exportBundle({ dir: dest, source: big, zip });
    await expect(exportBundle({ dir: dest, source: small, zip })).rejects.toMatchObject(busy('export.busy', 'export'));
    const done = await first;
    expect(done.rows_total).toBe(20_000);
    expect((await verifyBundle(path.join(dir, placed))).valid).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['big.db', placed, 'small.db']);
    if (zip) return;
    expect(bagInfo(dest, 'Forklift-Source')).toBe(done.source);
    // Once it is in place, another export there is refused as before: it already exists.
    await expect(exportBundle({ dir: dest, source: small })).rejects.toMatchObject({ exitCode: 2, code: 'export.exists' });
  });

  it('an export and an exit to the same place: whichever comes second stops at once', async () => {
    const dir = tempDir('forklift-claim-');
    const big = store(dir, 'big', 5_000);
    const small = store(dir, 'small', 10);
    const dest = path.join(dir, 'same');
    const exit = runExit({ source: big, to: dest });
    await expect(exportBundle({ dir: dest, source: small })).rejects.toMatchObject(busy('export.busy', 'exit'));
    await expect(runExit({ source: small, to: dest })).rejects.toMatchObject(busy('exit.busy', 'exit'));
    const done = await exit;
    expect(done.certificate.rows_total).toBe(5_000);
    expect((await verifyBundle(dest)).valid).toBe(true);

    const zipped = path.join(dir, 'z');
    const exporting = exportBundle({ dir: zipped, source: big, zip: true });
    await expect(runExit({ source: small, to: zipped, zip: true })).rejects.toMatchObject(busy('exit.busy', 'export'));
    await exporting;
    expect(readdirSync(dir).sort()).toEqual(['big.db', 'same', 'small.db', 'z.zip']);
  });
});

describe('a file put where the bundle goes while the export works', () => {
  it('is left as it is (zip: the rename would have replaced it); the export fails, exit 1', async () => {
    const dir = tempDir('forklift-claim-');
    const source = store(dir, 's', 3_000);
    const dest = path.join(dir, 'b');
    let put = false;
    const run = exportBundle({
      dir: dest,
      source,
      zip: true,
      progress: () => {
        if (!put) writeFileSync(`${dest}.zip`, 'not ours');
        put = true;
      },
    });
    await expect(run).rejects.toMatchObject({ exitCode: 1, code: 'export.exists', message: expect.stringMatching(/b\.zip was put there by something else during the export/) });
    expect(readFileSync(`${dest}.zip`, 'utf8')).toBe('not ours');
    expect(readdirSync(dir).sort()).toEqual(['b.zip', 's.db']);
  });
});

describe('exit --force replaces only what was there when it began', () => {
  it('a bundle put there by something else during the exit is left as it is; the exit fails', async () => {
    const dir = tempDir('forklift-claim-');
    const source = store(dir, 's', 200);
    const other = store(dir, 'other', 3);
    const dest = path.join(dir, 'b');
    await exportBundle({ dir: dest, source });
    const elsewhere = path.join(dir, 'elsewhere');
    await exportBundle({ dir: elsewhere, source: other });
    const run = runExit({
      source,
      to: dest,
      force: true,
      progress: (p) => {
        if (p.step !== 'certificate') return;
        // Someone moves the earlier bundle away and puts another one there.
        renameSync(dest, path.join(dir, 'moved'));
        renameSync(elsewhere, dest);
      },
    });
    await expect(run).rejects.toMatchObject({ exitCode: 1, code: 'exit.exists', message: expect.stringMatching(/was put there by something else during the exit/) });
    expect(bagInfo(dest, 'Forklift-Table-Rows')).toBe('parts 3');
    expect(readdirSync(dir).sort()).toEqual(['b', 'moved', 'other.db', 's.db']);
  });
});

describe('a claim', () => {
  it('left by a process that is gone is taken over; one of a live process is not', () => {
    const dir = tempDir('forklift-claim-');
    const dest = path.join(dir, 'b');
    const owner = (pid: number) => JSON.stringify({ pid, host: hostname(), started: '2026-01-01T00:00:00.000Z', command: 'export' });
    writeFileSync(`${dest}.claim`, owner(deadPid()));
    const claim = claimDestination(dest, 'exit', 'exit.busy');
    expect(JSON.parse(readFileSync(`${dest}.claim`, 'utf8'))).toMatchObject({ pid: process.pid, command: 'exit' });
    expect(() => claimDestination(dest, 'export', 'export.busy')).toThrow(expect.objectContaining(busy('export.busy', 'exit')));
    claim.release();
    expect(existsSync(`${dest}.claim`)).toBe(false);

    writeFileSync(`${dest}.claim`, owner(process.ppid));
    expect(() => claimDestination(dest, 'export', 'export.busy')).toThrow(`is claimed by forklift export (process ${process.ppid} on `);
    rmSync(`${dest}.claim`);
    mkdirSync(dest);
    claimDestination(dest, 'export', 'export.busy').release();
    expect(readdirSync(dir)).toEqual(['b']);
  });
});

describe('a claim that cannot be written', () => {
  it('is the user\'s error naming the folder (exit 1), not forklift\'s bug', () => {
    const dir = tempDir('forklift-claim-');
    // A file where a folder should be: ENOTDIR for root too (a read-only folder is not, for root).
    writeFileSync(path.join(dir, 'plain'), 'x');
    const dest = path.join(dir, 'plain', 'bundle');
    let err: unknown;
    try {
      claimDestination(dest, 'export', 'export.busy');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'export.write', exitCode: 1 });
    expect((err as Error).message).toMatch(/^cannot write beside .*plain\/bundle, in .*plain \(ENOTDIR\)$/);
    expect((err as { hint: string }).hint).toMatch(/Choose a bundle folder in a place this user may write to/);
  });
});
