import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandEntry } from '../../src/audit/entry.js';
import { openAuditLog, type AuditLogEntry } from '../../src/audit/log.js';
import { auditVerify } from '../../src/audit/source.js';
import { exportBundle } from '../../src/bundle/export.js';
import { verifyBundleDir } from '../../src/bundle/verify.js';
import { openStore } from '../../src/stores/index.js';
import { tempDir } from '../helpers.js';
import { liveServers, withPg } from './stores/live.js';

/**
 * The ledger (forklift_runs) of the real servers as audit verify, audit log and export read it,
 * after it was changed through the server's own SQL.
 */

const FILE = 'test/integration/ledger.test.ts';
const { pgDown, pgDbs } = await liveServers(FILE, 'fl_');

/** A store whose ledger holds `n` entries, as forklift appends them. */
async function ledgerOf(url: string, n: number): Promise<string[]> {
  const store = await openStore(url);
  const ids: string[] = [];
  try {
    for (let i = 1; i <= n; i++) {
      const id = `20261130T08170${i}Z-000${i}`;
      await store.recordRun(commandEntry({ id, command: 'migrate', status: 'succeeded', started: new Date(`2026-11-30T08:17:0${i}.688Z`), files: {}, counts: { items: { read: i, loaded: i } }, message: null }));
      ids.push(id);
    }
  } finally {
    await store.close();
  }
  return ids;
}

async function logOf(url: string): Promise<AuditLogEntry[]> {
  const log = await openAuditLog(url);
  const out: AuditLogEntry[] = [];
  try {
    for await (const batch of log.entries()) out.push(...batch);
  } finally {
    await log.close();
  }
  return out;
}

describe.runIf(pgDown === null)('PostgreSQL: a start moved by less than a millisecond (timestamptz keeps microseconds)', () => {
  it('audit verify names the entry as edited (exit 1); audit log shows it; export keeps it and bundle verify names it too', async () => {
    const { url } = await pgDbs.create();
    const ids = await ledgerOf(url, 3);
    await withPg(url, (c) => c.query("UPDATE forklift_runs SET started = started + interval '0.4 millisecond' WHERE seq = 3"));

    await expect(auditVerify({ source: url })).rejects.toMatchObject({
      exitCode: 1,
      code: 'audit.edited',
      message: expect.stringContaining(`the audit chain does not verify: entry ${ids[2]!} (seq 3): its fields do not match its entry_hash`),
    });
    expect((await logOf(url)).map((e) => e.started)).toEqual(['2026-11-30T08:17:01.688Z', '2026-11-30T08:17:02.688Z', '2026-11-30T08:17:03.6884Z']);

    const dir = path.join(tempDir('fl-ledger-'), 'b');
    await exportBundle({ dir, source: url, tables: ['forklift_runs'] });
    const v = await verifyBundleDir(dir, 'b');
    expect(v.valid).toBe(false);
    expect(v.problems.join('\n')).toContain(`data/csv/forklift_runs.csv: the audit chain does not verify: entry ${ids[2]!} (seq 3)`);
  }, 60_000);
});
