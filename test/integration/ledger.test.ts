import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { initAuditChain } from '../../src/audit/init.js';
import { commandEntry } from '../../src/audit/entry.js';
import { openAuditLog, type AuditLogEntry } from '../../src/audit/log.js';
import { auditVerify } from '../../src/audit/source.js';
import { exportBundle } from '../../src/bundle/export.js';
import { verifyBundleDir } from '../../src/bundle/verify.js';
import { readStoreLedger } from '../../src/audit/ledger.js';
import { runPlan } from '../../src/run/pipeline.js';
import { renderRunsList } from '../../src/run/runs-diff-render.js';
import { listRuns } from '../../src/run/runs-list.js';
import { openStore } from '../../src/stores/index.js';
import { demoCopy, tempDir } from '../helpers.js';
import { liveServers, withPg } from './stores/live.js';

/**
 * The ledger (forklift_runs) of the real servers as audit verify, audit log and export read it,
 * after it was changed through the server's own SQL.
 */

const FILE = 'test/integration/ledger.test.ts';
const { pgDown, myDown, pgDbs, myDbs } = await liveServers(FILE, 'fl_');

/** A store whose ledger holds `n` entries (from the `from`-th on), as forklift appends them. */
async function ledgerOf(url: string, n: number, from = 1): Promise<string[]> {
  const store = await openStore(url);
  const ids: string[] = [];
  try {
    for (let i = from; i < from + n; i++) {
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

describe('what a run that committed nothing has in the ledger and in runs list', () => {
  it('loaded 0 and would_have_loaded beside it; an entry from before says loaded 0 in runs list too, and still verifies', async () => {
    const { dir, plan } = demoCopy();
    const target = `sqlite:${path.join(dir, 'ledger.db')}`;
    // items rejects 7 of 117 rows: over a 5% limit the run is rejected, nothing committed.
    writeFileSync(plan, readFileSync(plan, 'utf8').replace('reject_limit: 10%', 'reject_limit: 5%'));
    await expect(runPlan({ plan, command: 'migrate', target })).rejects.toMatchObject({ code: 'data.rejected' });
    // An entry as forklift wrote it before: a failed run's counts with the rows it would have loaded as `loaded`.
    const store = await openStore(target);
    try {
      const counts = { items: { read: 117, loaded: 105, filtered: 4, duplicates_dropped: 1, rejected: 7 } };
      await store.recordRun(commandEntry({ id: '20200101T090000Z-old1', command: 'migrate', status: 'failed', started: new Date('2020-01-01T09:00:00.000Z'), files: {}, counts, message: 'the load failed' }));
      const [rejected] = (await readStoreLedger(store)).records.filter((r) => r.status === 'rejected');
      expect(JSON.parse(rejected!.counts!).items).toEqual({ read: 117, loaded: 0, filtered: 4, duplicates_dropped: 1, rejected: 7, would_have_loaded: 105 });
    } finally {
      await store.close();
    }
    const l = await listRuns({ plan, target });
    expect(l.runs.map((r) => [r.status, r.entities.items])).toEqual([
      ['failed', { read: 117, loaded: 0, filtered: 4, duplicates_dropped: 1, rejected: 7, would_have_loaded: 105 }],
      ['rejected', { read: 117, loaded: 0, filtered: 4, duplicates_dropped: 1, rejected: 7, would_have_loaded: 105 }],
    ]);
    const text = renderRunsList(l);
    expect(text).toMatch(/^\S+\s+migrate\s+rejected\s+.*\s0\/7\s/m);
    expect(text).toContain('loaded is what a run committed: 0 for a rejected, failed or dry run');
    expect(await auditVerify({ source: target })).toMatchObject({ ok: true, entries: 2 });
  }, 60_000);
});

type Exec = (sql: string) => Promise<unknown>;

const stores: { name: string; down: string | null; fresh: () => Promise<{ url: string; exec: Exec }> }[] = [
  {
    name: 'SQLite',
    down: null,
    fresh: async () => {
      const file = path.join(tempDir('fl-ledger-'), 'ledger.db');
      return {
        url: `sqlite:${file}`,
        exec: async (sql) => {
          const db = new Database(file);
          try {
            db.exec(sql);
          } finally {
            db.close();
          }
        },
      };
    },
  },
  { name: 'PostgreSQL', down: pgDown, fresh: async () => (({ url }) => ({ url, exec: (sql: string) => withPg(url, (c) => c.query(sql)) }))(await pgDbs.create()) },
  {
    name: 'MariaDB',
    down: myDown,
    fresh: async () => {
      const { url } = await myDbs.create();
      return {
        url,
        exec: async (sql) => {
          const c = await mysql.createConnection({ uri: url, multipleStatements: true });
          try {
            await c.query(sql);
          } finally {
            await c.end();
          }
        },
      };
    },
  },
];

const FORGED = "INSERT INTO forklift_runs (id, command, status, started, finished, operator, counts) VALUES ('20250101T000000Z-0000', 'migrate', 'succeeded', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:01.000Z', 'mallory', '{}')";

for (const s of stores) {
  describe.runIf(s.down === null)(`${s.name}: entries with no place in the chain`, () => {
    it('a chain begun on an empty ledger takes none, backdated or not; audit init then chains nothing', async () => {
      const { url, exec } = await s.fresh();
      await ledgerOf(url, 2);
      await exec(FORGED);
      await expect(auditVerify({ source: url })).rejects.toMatchObject({ exitCode: 1, code: 'audit.before-chain', message: expect.stringContaining('entry 20250101T000000Z-0000 (migrate, started 2025-01-01T00:00:00.000Z) has no place in the chain and is not one of the entries from before it') });
      await expect(initAuditChain(url)).rejects.toMatchObject({ exitCode: 1, code: 'audit.before-chain', message: expect.stringContaining('so audit init chains nothing') });
      await exec("DELETE FROM forklift_runs WHERE id = '20250101T000000Z-0000'");
      expect(await auditVerify({ source: url })).toMatchObject({ ok: true, entries: 2, unchained: 0 });
    }, 60_000);

    it('a chain begun on a ledger from before it records those entries: they verify and audit init adopts them, an added one is caught', async () => {
      const { url, exec } = await s.fresh();
      // A ledger from before the chain: one entry, no chain columns.
      await ledgerOf(url, 1);
      await exec(s.name === 'SQLite' ? ['seq', 'prev_hash', 'entry_hash', 'signature'].map((c) => `ALTER TABLE forklift_runs DROP COLUMN ${c};`).join('\n') : 'ALTER TABLE forklift_runs DROP COLUMN seq, DROP COLUMN prev_hash, DROP COLUMN entry_hash, DROP COLUMN signature');
      await ledgerOf(url, 2, 2);
      expect(await auditVerify({ source: url })).toMatchObject({ ok: true, entries: 2, unchained: 1, unchainedRecorded: true });
      await exec(FORGED);
      await expect(auditVerify({ source: url })).rejects.toMatchObject({ exitCode: 1, code: 'audit.before-chain', message: expect.stringContaining('records 1 entry from before the chain') });
      await expect(initAuditChain(url)).rejects.toMatchObject({ code: 'audit.before-chain' });
      await exec("DELETE FROM forklift_runs WHERE id = '20250101T000000Z-0000'");
      expect(await initAuditChain(url)).toMatchObject({ started: true, adopted: 1, entries: 4 });
      expect(await auditVerify({ source: url })).toMatchObject({ ok: true, entries: 4, unchained: 0 });
    }, 60_000);
  });
}
