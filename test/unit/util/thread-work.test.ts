import { existsSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sweepThreadWork } from '../../../src/util/work-path.js';
import { tempDir } from '../../helpers.js';

/**
 * A worker thread terminated mid-work (Ctrl-C during an exit's verify) runs no finally block: the
 * thread that started it removes what that thread claimed, and nothing else.
 */
describe('sweepThreadWork', () => {
  const claim = (dir: string, name: string, owner: Record<string, unknown>): string => {
    const work = path.join(dir, name);
    writeFileSync(work, 'scratch');
    writeFileSync(`${work}-journal`, 'j');
    writeFileSync(`${work}.owner`, `${JSON.stringify({ host: hostname(), started: new Date().toISOString(), command: 'bundle verify', ...owner })}\n`);
    return work;
  };

  it("removes the terminated thread's scratch files with their owner files, and leaves every other's", () => {
    const dir = tempDir('forklift-thread-work-');
    const mine = claim(dir, 'forklift-verify-aaa.sqlite', { pid: process.pid, thread: 7 });
    const sibling = claim(dir, 'forklift-verify-bbb.sqlite', { pid: process.pid, thread: 8 });
    const main = claim(dir, 'forklift-verify-ccc.sqlite', { pid: process.pid });
    const other = claim(dir, 'forklift-verify-ddd.sqlite', { pid: process.pid + 1, thread: 7 });
    const swept = sweepThreadWork(7, dir);
    expect(swept.map((s) => s.path)).toEqual([mine]);
    for (const f of [mine, `${mine}-journal`, `${mine}.owner`]) expect(existsSync(f), f).toBe(false);
    for (const f of [sibling, main, other, `${other}-journal`, `${other}.owner`]) expect(existsSync(f), f).toBe(true);
  });
});
