import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { BIN, demoCopy } from '../helpers.js';

/**
 * A run whose own files (staging, raw rows) the disk of its run folder does not take. Here the
 * shell's file size limit (`ulimit -f`, SIGXFSZ ignored, so a write fails with EFBIG and SQLite
 * says "disk I/O error") stands in for a full disk, deterministically and without a mount.
 * Before, the user saw "internal error: disk I/O error … This is a bug in forklift" (and, where
 * the staging file's last COMMIT failed too, on a full disk, a process that never ended).
 */
describe.skipIf(process.platform === 'win32')('the run folder on a disk that does not take the staging files', () => {
  it('migrate: exit 1 naming the run folder and what to do, no internal error; nothing loaded; the process ends', () => {
    const { dir, plan } = demoCopy();
    const target = path.join(dir, 'target.db');
    const r = spawnSync('bash', ['-c', `ulimit -f 100; trap '' XFSZ; exec "$0" "$@"`, process.execPath, BIN, 'migrate', plan, '--target', `sqlite:${target}`, '--json'], {
      cwd: dir,
      env: { ...process.env, FORCE_COLOR: '0' },
      encoding: 'utf8',
      input: '',
      timeout: 60_000,
    });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string; hint: string } };
    expect(doc.ok).toBe(false);
    expect(doc.error.code).toMatch(/^run\.disk_(full|error)$/);
    expect(doc.error.message).not.toMatch(/internal error/);
    const runs = readdirSync(path.join(dir, 'mappings', 'demo', 'runs'));
    expect(runs).toHaveLength(1);
    expect(doc.error.message).toContain(runs[0]);
    expect(doc.error.hint).toMatch(/run the same command again/);
    const report = JSON.parse(readFileSync(path.join(dir, 'mappings', 'demo', 'runs', runs[0]!, 'report.json'), 'utf8')) as { status: string; committed: boolean };
    expect(report).toMatchObject({ status: 'failed', committed: false });
    if (existsSync(target)) {
      const db = new Database(target, { readonly: true });
      try {
        const items = db.prepare("SELECT name FROM sqlite_master WHERE name = 'items'").get() ? (db.prepare('SELECT COUNT(*) AS n FROM items').get() as { n: number }).n : 0;
        expect(items).toBe(0);
      } finally {
        db.close();
      }
    }
  }, 60_000);
});
