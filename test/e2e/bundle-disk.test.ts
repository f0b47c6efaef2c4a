import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, demoCopy, runCli } from '../helpers.js';

/**
 * An export or exit whose bundle the disk does not take. The shell's file size limit (`ulimit -f`,
 * SIGXFSZ ignored: a write fails with EFBIG) stands in for a full disk (ENOSPC, said the same
 * way), deterministically and without a mount. Before, both said "internal error: ENOSPC: no
 * space left on device, write … This is a bug in forklift".
 */

let dir = '';
let store = '';
beforeAll(() => {
  const demo = demoCopy();
  dir = demo.dir;
  store = path.join(dir, 'store.db');
  const r = runCli(['migrate', demo.plan, '--target', `sqlite:${store}`], { cwd: dir });
  expect(r.code, r.stderr).toBe(0);
}, 60_000);

function limited(args: string[]): { status: number | null; signal: string | null; stdout: string; stderr: string } {
  return spawnSync('bash', ['-c', `ulimit -f 64; trap '' XFSZ; exec "$0" "$@"`, process.execPath, BIN, ...args], {
    cwd: dir,
    env: { ...process.env, FORCE_COLOR: '0' },
    encoding: 'utf8',
    input: '',
    timeout: 60_000,
  });
}

describe.skipIf(process.platform === 'win32')('a bundle folder on a disk that does not take the bundle', () => {
  for (const command of ['export', 'exit'] as const) {
    it(`${command}: exit 1 naming the bundle folder and what to do, no internal error; nothing left there`, () => {
      const args = command === 'export' ? ['export', 'out', '--source', `sqlite:${store}`, '--json'] : ['exit', '--source', `sqlite:${store}`, '--to', 'out', '--json'];
      const r = limited(args);
      expect(r.signal, r.stderr).toBeNull();
      expect(r.status, r.stdout + r.stderr).toBe(1);
      const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string; hint: string } };
      expect(doc.error.code).toBe(`${command}.write`);
      expect(doc.error.message).toMatch(/^cannot write the bundle at out: .*\(EFBIG\); nothing was written$/);
      expect(doc.error.message).not.toMatch(/internal error/);
      expect(doc.error.hint).toMatch(/run the same command again/);
      expect(readdirSync(dir).filter((n) => n.startsWith('out'))).toEqual([]);
    }, 60_000);
  }
});
