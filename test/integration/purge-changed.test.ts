import { appendFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { readStoreLedger } from '../../src/audit/ledger.js';
import { StoreError } from '../../src/core/errors.js';
import { purgePlan } from '../../src/retention/plan.js';
import { purge } from '../../src/retention/purge.js';
import { openStore } from '../../src/stores/index.js';
import { demoCopy, runCli } from '../helpers.js';
import { MYSQL_HOST, MYSQL_PORT, liveServers, mysqlAdminConfig } from './stores/live.js';

/**
 * A purge deletes a row only where the store still holds it exactly as archived. A row updated
 * between the export of the archive and the delete (another writer, minutes into a long verify)
 * is not the row in the archive: deleting it by key would lose the update silently. Here the
 * update comes in at the last moment, from another connection, on every store: the purge must
 * roll back with nothing deleted, keep the updated row, record the failed attempt, and a rerun
 * over the same archive must refuse too.
 */

const { pgDown, myDown, pgDbs: pgs, myDbs: mys } = await liveServers('purge-changed.test.ts');

const AS_OF = '2025-11-28';
const RULES = `retention:
  - entity: machine_events
    keep: 24 days
    by: ts
`;
/** The oldest machine event: the rules let it go. */
const OLDEST = '(SELECT machine_id, ts FROM machine_events ORDER BY ts, machine_id LIMIT 1)';

interface Writer {
  /** Runs one statement on a connection of its own, synchronously (purge's progress callback cannot wait). */
  exec: (sql: string) => void;
  /** The first column of the first row of a query. */
  value: (sql: string) => string;
}

async function scenario(url: string, writer: Writer, updateOldest: string): Promise<void> {
  const { dir, plan } = demoCopy();
  appendFileSync(plan, RULES);
  const m = runCli(['migrate', plan, '--target', url, '--json'], { cwd: dir });
  expect(m.code, m.stderr).toBe(0);
  const count = (): number => Number(writer.value('SELECT count(*) FROM machine_events'));
  const rowsBefore = count();
  const oldest = `SELECT good_count FROM machine_events WHERE (machine_id, ts) = ${OLDEST}`;
  const goodBefore = Number(writer.value(oldest));

  const p = purgePlan({ plan, target: url, all: false });
  const archive = path.join(dir, 'archive');
  let updated = false;
  const run = (): ReturnType<typeof purge> =>
    purge({
      target: p.target,
      archive,
      rules: p.rules,
      asOf: AS_OF,
      progress: (s) => {
        if (s.step !== 'delete' || updated) return;
        updated = true;
        writer.exec(updateOldest);
      },
    });
  const err = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(updated, 'the row was updated before the delete').toBe(true);
  expect(err).toBeInstanceOf(StoreError);
  expect((err as StoreError).code).toBe('purge.count');
  expect((err as StoreError).message).toMatch(/machine_events: the archive holds \d+ rows, but the delete removed \d+ .*nothing was deleted/);

  // Nothing was deleted, and the update is kept.
  expect(count()).toBe(rowsBefore);
  expect(Number(writer.value(oldest))).toBe(goodBefore + 1);
  const store = await openStore(url);
  try {
    const last = (await readStoreLedger(store)).records.sort((a, b) => Number(a.seq) - Number(b.seq)).at(-1)!;
    expect([last.command, last.status]).toEqual(['purge', 'failed']);
    expect(last.message).toMatch(/nothing was deleted/);
  } finally {
    await store.close();
  }

  // A rerun finds the archive, sees the store no longer holds exactly its rows, and refuses.
  const again = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect((again as { code?: string }).code).toBe('purge.archive-differs');
  expect(count()).toBe(rowsBefore);
}

describe('purge keeps a row changed after it was archived', () => {
  it('SQLite', async () => {
    const { dir } = demoCopy();
    const file = path.join(dir, 'changed.db');
    const db = (): Database.Database => new Database(file);
    const writer: Writer = {
      exec: (sql) => {
        const d = db();
        try {
          d.exec(sql);
        } finally {
          d.close();
        }
      },
      value: (sql) => {
        const d = db();
        try {
          return String(d.prepare(sql).pluck().get());
        } finally {
          d.close();
        }
      },
    };
    await scenario(`sqlite:${file}`, writer, `UPDATE machine_events SET good_count = good_count + 1 WHERE (machine_id, ts) = ${OLDEST}`);
  });

  it.skipIf(pgDown !== null)('PostgreSQL', async () => {
    const { url } = await pgs.create();
    const psql = (sql: string): string => execFileSync('psql', [url, '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' }).trim();
    await scenario(url, { exec: (sql) => void psql(sql), value: psql }, `UPDATE machine_events SET good_count = good_count + 1 WHERE (machine_id, ts) = ${OLDEST}`);
  });

  it.skipIf(myDown !== null)('MariaDB', async () => {
    const { name, url } = await mys.create();
    const admin = mysqlAdminConfig();
    const cli = (sql: string): string =>
      execFileSync('mysql', ['-h', MYSQL_HOST, '-P', String(MYSQL_PORT), '-u', admin.user!, '-N', '-B', name, '-e', sql], { encoding: 'utf8', env: { ...process.env, MYSQL_PWD: admin.password ?? '' } }).trim();
    // MariaDB cannot update a table it reads in a subquery: the oldest row by ORDER BY … LIMIT.
    await scenario(url, { exec: (sql) => void cli(sql), value: cli }, 'UPDATE machine_events SET good_count = good_count + 1 ORDER BY ts, machine_id LIMIT 1');
  });
});
