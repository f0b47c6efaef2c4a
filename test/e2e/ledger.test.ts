import { appendFileSync, existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { demoCopy, runCli, tempDir } from '../helpers.js';
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

describe('bundle import and purge give the target’s ledger head after their entry', () => {
  it('in --json (ledger_head, beside the bundle’s own head) and in the text, as audit verify finds it', () => {
    const { dir, plan } = demoCopy();
    appendFileSync(plan, 'retention:\n  - entity: machine_events\n    keep: 24 days\n    by: ts\n');
    const source = `sqlite:${path.join(dir, 'source.db')}`;
    const target = `sqlite:${path.join(dir, 'target.db')}`;
    const run = (...args: string[]): ReturnType<typeof runCli> => runCli(args, { cwd: dir });
    const headOf = (store: string): string => {
      const v = run('audit', 'verify', store, '--json');
      expect(v.code, v.stderr).toBe(0);
      return json(v.stdout).head as string;
    };
    expect(run('migrate', plan, '--target', source).code).toBe(0);
    expect(run('export', 'b1', '--source', source).code).toBe(0);

    const imp = run('bundle', 'import', 'b1', '--target', target, '--json');
    expect(imp.code, imp.stderr).toBe(0);
    const result = json(imp.stdout) as { ledger_head: string; ledger: { head: string } };
    expect(result.ledger_head).toBe(headOf(target));
    expect(result.ledger.head).toBe(headOf(source));
    expect(result.ledger_head).not.toBe(result.ledger.head);
    // Again with append: the keys are there, the import fails, and its attempt is on record.
    const failed = run('bundle', 'import', 'b1', '--target', target);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`the attempt is recorded in the ledger of sqlite:target.db: ledger head ${headOf(target)}`);
    const text = run('bundle', 'import', 'b1', '--target', target, '--load', 'replace');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`the import is recorded in the ledger of sqlite:target.db: ledger head ${headOf(target)}`);

    const purged = run('purge', plan, '--target', target, '--archive', 'archive', '--as-of', '2025-11-28', '--json');
    expect(purged.code, purged.stderr).toBe(0);
    expect(json(purged.stdout).ledger_head).toBe(headOf(target));
    const dry = run('purge', plan, '--target', target, '--as-of', '2025-11-28', '--dry-run', '--json');
    expect(json(dry.stdout).ledger_head).toBeNull();
  }, 180_000);
});

describe('an entry inserted outside forklift as one from before the chain (SQLite)', () => {
  it('is exit 1 for audit verify, and audit init chains nothing', () => {
    const { dir, plan } = demoCopy();
    const file = path.join(dir, 't.db');
    const run = (...args: string[]): ReturnType<typeof runCli> => runCli(args, { cwd: dir });
    expect(run('migrate', plan, '--target', `sqlite:${file}`).code).toBe(0);
    const db = new Database(file);
    db.exec(`INSERT INTO forklift_runs (id, command, status, started, finished, operator, counts) VALUES ('20251130T000000Z-0000', 'migrate', 'succeeded', '2025-11-30T00:00:00.000Z', '2025-11-30T00:00:01.000Z', 'mallory', '{"items":{"read":5,"loaded":5}}')`);
    db.close();
    const v = run('audit', 'verify', `sqlite:${file}`);
    expect(v.code, v.stdout).toBe(1);
    expect(v.stderr).toContain('entry 20251130T000000Z-0000 (migrate, started 2025-11-30T00:00:00.000Z) has no place in the chain and is not one of the entries from before it');
    const init = run('audit', 'init', '--target', `sqlite:${file}`);
    expect(init.code, init.stdout).toBe(1);
    expect(init.stderr).toContain('so audit init chains nothing');
  }, 120_000);
});

describe('the files of a ledger entry (SPEC section 9)', () => {
  it('are keyed relative to the plan folder: the same plan run from any working directory records the same keys', () => {
    const { dir, plan } = demoCopy();
    const planDir = path.dirname(plan);
    expect(runCli(['migrate', path.relative(dir, plan)], { cwd: dir }).code).toBe(0);
    expect(runCli(['migrate', 'forklift.yaml'], { cwd: planDir }).code).toBe(0);
    const first = readdirSync(path.join(planDir, 'runs')).sort()[0]!;
    // A reload of the first run's rejects, from a folder outside the plan's.
    expect(runCli(['rejects', 'reload', path.join(planDir, 'runs', first)], { cwd: tempDir('forklift-elsewhere-') }).code).toBe(0);
    const db = new Database(path.join(planDir, 'forklift.db'), { readonly: true });
    const entries = (db.prepare('SELECT command, files FROM forklift_runs ORDER BY seq').all() as { command: string; files: string }[]).map((r) => ({ command: r.command, files: JSON.parse(r.files) as Record<string, string> }));
    db.close();
    expect(entries.map((e) => e.command)).toEqual(['migrate', 'migrate', 'rejects reload']);
    expect(Object.keys(entries[0]!.files)).toEqual(['items.yaml', '../../fixtures/demo/ITEMMAST.CSV', 'bom.yaml', '../../fixtures/demo/BOM.CSV', 'balances.yaml', '../../fixtures/demo/OPENBAL.xlsx[Bestand]', 'machine_log.yaml', '../../fixtures/demo/MACHLOG.CSV']);
    expect(entries[1]!.files).toEqual(entries[0]!.files);
    expect(Object.keys(entries[2]!.files).filter((k) => k.endsWith('.csv'))).toEqual(['items', 'bom_lines', 'stock_balances', 'machine_events'].map((e) => `runs/${first}/rejects/${e}.csv`));
    expect(runCli(['audit', 'verify', `sqlite:${path.join(planDir, 'forklift.db')}`]).code).toBe(0);
  }, 180_000);
});
