import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, demoCopy, runCli, tempDir } from '../helpers.js';
import { HAS_TMUX, keys, killTerminals, screenUntil, start } from './terminal.js';

/**
 * Ctrl-C typed in a terminal while the spinner turns. ora's default (discardStdin) put the
 * terminal in raw mode, where Ctrl-C is a byte and no SIGINT: the run went on and committed, exit 0.
 * `kill -INT` from elsewhere stopped it, so only a real terminal shows this.
 */
describe.skipIf(!HAS_TMUX && !process.env.CI)('Ctrl-C typed in a terminal while the spinner shows (tmux)', () => {
  if (!HAS_TMUX) console.log('skipped: tmux is not installed (apt-get install tmux)');
  const cleanup: string[] = [];
  afterAll(() => {
    killTerminals();
    for (const d of cleanup) rmSync(d, { recursive: true, force: true });
  });

  it('stops migrate: interrupted, exit 1, nothing committed', async () => {
    const data = tempDir('forklift-tty-int-');
    cleanup.push(data);
    execFileSync(process.execPath, [path.join(ROOT, 'fixtures', 'generate.mjs'), '--bench', data, '--machine-rows', '600000', '--items', '200'], { stdio: 'pipe' });
    const { dir, plan } = demoCopy();
    cleanup.push(dir);
    copyFileSync(path.join(data, 'MACHLOG.CSV'), path.join(dir, 'fixtures', 'demo', 'MACHLOG.CSV'));
    const session = start(dir, `migrate '${plan}' --target sqlite:tty.db`);
    // The spinner turns from the start ("starting", then rows and rows/s): Ctrl-C as soon as it shows.
    await screenUntil(session, /starting|rows\/s/, 60_000);
    keys(session, 'C-c');
    const screen = await screenUntil(session, /EXIT=\d+/, 60_000);
    expect(screen).toMatch(/interrupted/);
    expect(screen).not.toMatch(/succeeded, committed/);
    expect(screen).toMatch(/EXIT=1\b/);
    // The target was made for the run's ledger entry at most: no machine event in it.
    const file = path.join(dir, 'tty.db');
    if (existsSync(file)) {
      const db = new Database(file, { readonly: true });
      const has = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'machine_events'").get() as { n: number };
      if (has.n === 1) expect((db.prepare('SELECT count(*) AS n FROM machine_events').get() as { n: number }).n).toBe(0);
      db.close();
    }
  }, 180_000);

  it('at the purge --all prompt: cancelled, exit 1, nothing archived or deleted', async () => {
    const { dir, plan } = demoCopy();
    cleanup.push(dir);
    expect(runCli(['migrate', plan, '--target', 'sqlite:p.db'], { cwd: dir }).code).toBe(0);
    const session = start(dir, `purge '${plan}' --target sqlite:p.db --all --archive arch`);
    await screenUntil(session, /Type its name to confirm/);
    keys(session, 'C-c');
    const screen = await screenUntil(session, /EXIT=\d+/);
    expect(screen).toMatch(/cancelled; nothing was archived or deleted/);
    expect(screen).not.toMatch(/internal error/);
    expect(screen).toMatch(/EXIT=1\b/);
    expect(existsSync(path.join(dir, 'arch'))).toBe(false);
  }, 60_000);
});
