import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { claimWork, sweepStaleWork } from '../../src/util/work-path.js';
import { demoCopy, runCli, tempDir } from '../helpers.js';
import { spawnCli } from '../integration/stores/live.js';

/**
 * What a killed command leaves: an export's work folder beside the bundle (hundreds of megabytes
 * for a big store) that no later command would ever remove. Work paths carry an owner file; the
 * next command writing to the same place removes the work of owners of this host that are gone,
 * and leaves alone anything whose owner lives or ran elsewhere.
 */

/** The pid of a process that has ended. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

function owned(dir: string, name: string, owner: { pid: number; host: string }): void {
  mkdirSync(path.join(dir, name, 'data'), { recursive: true });
  writeFileSync(path.join(dir, name, 'data', 'x.csv'), 'a\r\n');
  writeFileSync(path.join(dir, `${name}.owner`), JSON.stringify({ ...owner, started: '2026-01-01T00:00:00.000Z', command: 'export' }));
}

describe('work left by killed commands', () => {
  it('is swept only where its owner is a gone process of this host', () => {
    const dir = tempDir('forklift-sweep-');
    owned(dir, 'b.partial-0000000a', { pid: deadPid(), host: hostname() });
    mkdirSync(path.join(dir, 'b.partial-0000000a-zip'));
    writeFileSync(path.join(dir, 'b.partial-0000000a.zip'), 'zip');
    owned(dir, 'b.partial-0000000b', { pid: process.pid, host: hostname() }); // alive: this process
    owned(dir, 'b.partial-0000000c', { pid: deadPid(), host: `${hostname()}-elsewhere` }); // another host: unknown
    owned(dir, 'other.partial-0000000d', { pid: deadPid(), host: hostname() }); // another destination
    mkdirSync(path.join(dir, 'b.partial-0000000e')); // no owner: not ours to judge
    writeFileSync(path.join(dir, 'b.zip'), 'a finished bundle');

    const swept = sweepStaleWork(dir, 'b.');
    expect(swept.map((s) => path.basename(s.path))).toEqual(['b.partial-0000000a']);
    expect(swept[0]!.command).toBe('export');
    expect(readdirSync(dir).sort()).toEqual(
      ['b.partial-0000000b', 'b.partial-0000000b.owner', 'b.partial-0000000c', 'b.partial-0000000c.owner', 'b.partial-0000000e', 'b.zip', 'other.partial-0000000d', 'other.partial-0000000d.owner'].sort(),
    );

    // A claim is released by its owner.
    const claim = claimWork(path.join(dir, 'b.partial-0000000f'), 'exit');
    expect(existsSync(path.join(dir, 'b.partial-0000000f.owner'))).toBe(true);
    claim.release();
    expect(existsSync(path.join(dir, 'b.partial-0000000f.owner'))).toBe(false);
  });

  it('an export killed mid-way leaves its work folder; the same export again removes it, says so, and completes', async () => {
    const { dir, plan } = demoCopy();
    const store = `sqlite:${path.join(dir, 'factory.db')}`;
    expect(runCli(['migrate', plan, '--target', store], { cwd: dir }).code).toBe(0);
    const out = path.join(dir, 'bundles');
    mkdirSync(out);
    const run = spawnCli(['export', path.join(out, 'b1'), '--source', store, '--xlsx', '--parquet'], { cwd: dir });
    const t0 = Date.now();
    let work: string | undefined;
    while (!work && Date.now() - t0 < 30_000) {
      work = readdirSync(out).find((n) => /^b1\.partial-[0-9a-f]{8}$/.test(n));
      if (!work) await new Promise((r) => setTimeout(r, 5));
    }
    expect(work, 'the export made its work folder').toBeDefined();
    expect(readdirSync(out)).toContain(`${work}.owner`);
    process.kill(run.pid!, 'SIGKILL');
    const killed = await run.done;
    expect(killed.code).not.toBe(0);
    const left = readdirSync(out);
    expect(left.some((n) => /^b1\.partial-[0-9a-f]{8}$/.test(n)), left.join(', ')).toBe(true);
    expect(left).not.toContain('b1');

    const again = runCli(['export', path.join(out, 'b1'), '--source', store], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^removed \S*b1\.partial-[0-9a-f]{8}, left by an interrupted forklift export \(process \d+, started /m);
    expect(readdirSync(out)).toEqual(['b1']);
    expect(runCli(['bundle', 'verify', path.join(out, 'b1')], { cwd: dir }).code).toBe(0);
  });
});
