import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoCopy, runCli } from '../helpers.js';
import { liveServers } from '../integration/stores/live.js';

/**
 * The run ledger through the built CLI: what goes into forklift_runs and what the commands that
 * write it say about it.
 */

const FILE = 'test/e2e/ledger.test.ts';
const { myDown, myDbs } = await liveServers(FILE, 'fl_');

const json = (s: string): Record<string, unknown> => JSON.parse(s) as Record<string, unknown>;

describe.runIf(myDown === null)('FORKLIFT_OPERATOR on MariaDB (operator varchar(255))', () => {
  it('keeps an operator of 255 characters whole, and refuses a longer one before any work (exit 2)', async () => {
    const { dir, plan } = demoCopy();
    const { url } = await myDbs.create();
    const long = runCli(['migrate', plan, '--target', url, '--json'], { cwd: dir, env: { FORKLIFT_OPERATOR: 'x'.repeat(256) } });
    expect(long.code, long.stdout).toBe(2);
    expect(json(long.stdout).error).toMatchObject({ code: 'env.operator', message: 'FORKLIFT_OPERATOR has 256 characters; the ledger keeps at most 255' });
    expect(existsSync(path.join(dir, 'mappings', 'demo', 'runs'))).toBe(false);

    const who = 'ü'.repeat(255);
    const ok = runCli(['migrate', plan, '--target', url, '--json'], { cwd: dir, env: { FORKLIFT_OPERATOR: who } });
    expect(ok.code, ok.stdout).toBe(0);
    const log = runCli(['audit', 'log', '--target', url, '--json'], { cwd: dir });
    expect(log.code, log.stderr).toBe(0);
    expect((json(log.stdout).entries as { operator: string }[]).map((e) => e.operator)).toEqual([who]);
  }, 120_000);
});
