import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';
import { liveServers, withPg } from '../integration/stores/live.js';

/**
 * A run that fails once its target answered (here a SQL source whose server ends the session
 * part-way, after thousands of rows were read) is an attempt like any other (SPEC section 9): a `failed` entry in
 * the target's forklift_runs, a report saying where it stopped, the target's rows as they were.
 * Before, such a run left a run folder holding only its staging files, and nothing on record.
 */

const { pgDown, pgDbs } = await liveServers('test/e2e/failed-run.test.ts', 'ff_');

afterAll(async () => {
  await pgDbs.dropAll();
});

/** A plan reading items from PostgreSQL through a query whose session the server ends at row 5,000 of 8,000, into a SQLite file. */
async function failingSourcePlan(): Promise<{ dir: string; plan: string; target: string }> {
  const { url } = await pgDbs.create();
  await withPg(url, (c) => c.query(`CREATE TABLE legacy (n int PRIMARY KEY); INSERT INTO legacy SELECT g FROM generate_series(1, 8000) g`));
  const dir = tempDir('ff-failed-');
  const query = "SELECT 'IT-' || lpad(n::text, 6, '0') AS code, 'item ' || n AS descr, CASE WHEN n = 5000 THEN pg_terminate_backend(pg_backend_pid())::int ELSE n END::numeric(12,4) AS cost FROM legacy ORDER BY n";
  writeFileSync(
    path.join(dir, 'items.yaml'),
    ['entity: items', `source: { format: sql, url: "${url}", query: "${query}" }`, 'fields:', '  item_code: { from: code }', '  description: { from: descr }', '  uom: { const: EA }', '  standard_cost: { from: cost }', '  active: { const: true }', ''].join('\n'),
  );
  writeFileSync(path.join(dir, 'forklift.yaml'), 'name: ff\ntarget: sqlite:./target.db\nmappings: [items.yaml]\nreject_limit: 1%\n');
  return { dir, plan: path.join(dir, 'forklift.yaml'), target: path.join(dir, 'target.db') };
}

function ledgerOf(file: string): { id: string; command: string; status: string; message: string | null }[] {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT id, command, status, message FROM forklift_runs ORDER BY seq').all() as { id: string; command: string; status: string; message: string | null }[];
  } finally {
    db.close();
  }
}

describe.skipIf(pgDown !== null)('a run that fails after reaching its target', () => {
  it('migrate: exit 1 naming the lost connection; a failed entry in the ledger and a report with status failed; no row loaded', async () => {
    const s = await failingSourcePlan();
    const r = await runCli(['migrate', s.plan, '--json'], { cwd: s.dir });
    expect(r.code, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string; details?: string[] } };
    expect(doc.error.code).toBe('store.connect');
    expect(doc.error.message).toMatch(/lost the connection while reading row \d+/);
    const runs = readdirSync(path.join(s.dir, 'runs'));
    expect(runs).toHaveLength(1);
    const runDir = path.join(s.dir, 'runs', runs[0]!);
    const report = JSON.parse(readFileSync(path.join(runDir, 'report.json'), 'utf8')) as { run_id: string; status: string; committed: boolean; message: string; ledger_head: string | null };
    expect(report).toMatchObject({ run_id: runs[0], status: 'failed', committed: false });
    expect(report.message).toMatch(/^the run failed during extract; nothing was committed: .*lost the connection while reading row \d+/);
    expect(existsSync(path.join(runDir, 'report.html'))).toBe(true);
    expect(doc.error.details?.join('\n')).toContain(path.join('runs', runs[0]!, 'report.html'));
    // On record in the target, chained: the report carries the head.
    const ledger = ledgerOf(s.target);
    expect(ledger).toEqual([{ id: runs[0], command: 'migrate', status: 'failed', message: report.message }]);
    expect(report.ledger_head).toMatch(/^[0-9a-f]{64}$/);
    const verify = await runCli(['audit', 'verify', `sqlite:${s.target}`, '--head', report.ledger_head!], { cwd: s.dir });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const db = new Database(s.target, { readonly: true });
    try {
      expect(db.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'items'").pluck().get() === 0 || db.prepare('SELECT count(*) FROM items').pluck().get() === 0).toBe(true);
    } finally {
      db.close();
    }
  });

  it('a source that cannot connect at all is no attempt: exit 1, nothing recorded, no run folder left', async () => {
    const s = await failingSourcePlan();
    const mapping = path.join(s.dir, 'items.yaml');
    writeFileSync(mapping, readFileSync(mapping, 'utf8').replace(/(url: "postgres:\/\/[^"]*\/)[a-z0-9_]+"/, '$1ff_no_such_database"'));
    const r = await runCli(['migrate', s.plan, '--json'], { cwd: s.dir });
    expect(r.code, r.stderr).toBe(1);
    expect((JSON.parse(r.stdout) as { error: { message: string } }).error.message).toMatch(/ff_no_such_database/);
    expect(existsSync(path.join(s.dir, 'runs'))).toBe(false);
    expect(existsSync(s.target) ? ledgerOf(s.target) : []).toEqual([]);
  });

  it('validate: the report with status failed, and nothing written to the target', async () => {
    const s = await failingSourcePlan();
    const r = await runCli(['validate', s.plan, '--json'], { cwd: s.dir });
    expect(r.code, r.stderr).toBe(1);
    const runs = readdirSync(path.join(s.dir, 'runs'));
    expect(runs).toHaveLength(1);
    const report = JSON.parse(readFileSync(path.join(s.dir, 'runs', runs[0]!, 'report.json'), 'utf8')) as { status: string; command: string };
    expect(report).toMatchObject({ status: 'failed', command: 'validate' });
    // validate changes no store: no ledger, no file made for it.
    expect(existsSync(s.target)).toBe(false);
  });
});
