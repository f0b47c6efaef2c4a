import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT, demoCopy, runCli } from '../helpers.js';

interface Expected {
  ledger: Record<string, { read: number; filtered: number; duplicates_dropped: number; rejected: number; loaded: number }>;
  control_totals: { stock_balances: { rows: number; sum: { value: string } } };
  not_loaded: Record<string, { line: number; key: string; fate: string; rule?: string; reason: string }[]>;
}
const expected = JSON.parse(readFileSync(path.join(ROOT, 'fixtures', 'demo', 'expected.json'), 'utf8')) as Expected;

describe('forklift migrate on the demo factory (built CLI, child process)', () => {
  let demo: { dir: string; plan: string };
  let db: string;
  let result: { code: number; stdout: string; stderr: string };
  let report: {
    status: string;
    committed: boolean;
    run_dir: string;
    entities: { entity: string; read: number; loaded: number; filtered: number; duplicates_dropped: number; rejected: number; rejects_file: string | null }[];
    checks: { ok: boolean }[];
  };

  beforeAll(() => {
    demo = demoCopy();
    db = path.join(demo.dir, 'demo.db');
    result = runCli(['migrate', demo.plan, '--target', `sqlite:${db}`, '--json'], { cwd: demo.dir });
    report = JSON.parse(result.stdout) as typeof report;
  });

  it('exits 0 with one JSON document on stdout and nothing on stderr', () => {
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(report.status).toBe('succeeded');
    expect(report.committed).toBe(true);
  });

  it('balances the ledger exactly as the demo was designed', () => {
    for (const l of report.entities) {
      const want = expected.ledger[l.entity]!;
      expect({ entity: l.entity, read: l.read, loaded: l.loaded, filtered: l.filtered, dups: l.duplicates_dropped, rejected: l.rejected }).toEqual({
        entity: l.entity,
        read: want.read,
        loaded: want.loaded,
        filtered: want.filtered,
        dups: want.duplicates_dropped,
        rejected: want.rejected,
      });
      expect(l.read).toBe(l.loaded + l.filtered + l.duplicates_dropped + l.rejected);
    }
    expect(report.checks.every((c) => c.ok)).toBe(true);
  });

  it('loads exactly those rows, with exact values, into the store', () => {
    const d = new Database(db, { readonly: true });
    try {
      for (const [entity, want] of Object.entries(expected.ledger)) {
        expect((d.prepare(`SELECT COUNT(*) n FROM ${entity}`).get() as { n: number }).n, entity).toBe(want.loaded);
      }
      const values = d.prepare('SELECT value FROM stock_balances').pluck().all() as string[];
      const cents = values.reduce((s, v) => s + BigInt(v.replace('.', '')), 0n);
      expect(cents).toBe(BigInt(expected.control_totals.stock_balances.sum.value.replace('.', '')));
      // decimals are text with the column's scale, never floats
      expect(d.prepare("SELECT typeof(standard_cost) t FROM items WHERE standard_cost IS NOT NULL LIMIT 1").pluck().get()).toBe('text');
      const costs = d.prepare('SELECT standard_cost FROM items WHERE standard_cost IS NOT NULL').pluck().all() as string[];
      for (const c of costs) expect(c).toMatch(/^\d+\.\d{4}$/);
      // windows-1252 umlauts arrive as NFC Unicode
      const descs = (d.prepare('SELECT description FROM items').pluck().all() as string[]).join('\n');
      expect(descs).toMatch(/[äöüÄÖÜß]/);
      expect(descs).toBe(descs.normalize('NFC'));
      // machine log local time (Europe/Berlin, winter) → UTC
      const ts = d.prepare('SELECT ts FROM machine_events ORDER BY ts LIMIT 1').pluck().get() as string;
      expect(ts).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      const firstLocal = readFileSync(path.join(demo.dir, 'fixtures/demo/MACHLOG.CSV'), 'utf8').split('\n')[1]!.split(',')[1]!;
      const hour = Number(firstLocal.slice(11, 13));
      expect(Number(ts.slice(11, 13))).toBe(hour - 1);
      const runs = d.prepare('SELECT command, status, plan_sha256, files FROM forklift_runs').all() as { command: string; status: string; plan_sha256: string; files: string }[];
      expect(runs).toHaveLength(1);
      expect(runs[0]!.status).toBe('succeeded');
      expect(runs[0]!.plan_sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(Object.keys(JSON.parse(runs[0]!.files) as object).length).toBeGreaterThanOrEqual(8);
    } finally {
      d.close();
    }
  });

  it('writes rejects files with the source row as read, and the rule and reason for every not-loaded row', () => {
    const runDir = path.resolve(demo.dir, report.run_dir);
    expect(existsSync(path.join(runDir, 'report.json'))).toBe(true);
    expect(readFileSync(path.join(runDir, 'report.html'), 'utf8')).toMatch(/<table[\s>]/);
    expect(existsSync(path.join(runDir, 'staging.sqlite'))).toBe(false);
    for (const [entity, rows] of Object.entries(expected.not_loaded)) {
      const rejected = rows.filter((r) => r.fate === 'rejected');
      const file = path.join(runDir, 'rejects', `${entity}.csv`);
      if (rejected.length === 0) {
        expect(existsSync(file)).toBe(false);
        continue;
      }
      const bytes = readFileSync(file);
      expect(bytes.subarray(0, 3).toString('hex')).toBe('efbbbf');
      const records = parse(bytes, { bom: true, columns: true }) as Record<string, string>[];
      expect(records).toHaveLength(rejected.length);
      for (const want of rejected) {
        const got = records.find((r) => r.forklift_position === `${entity === 'stock_balances' ? 'row' : 'line'} ${want.line}`);
        expect(got, `${entity} ${want.line} ${want.reason}`).toBeDefined();
        expect(got!.forklift_rule, `${entity} line ${want.line}`).toBe(want.rule);
        expect(got!.forklift_reason?.length).toBeGreaterThan(10);
      }
    }
    const bom = parse(readFileSync(path.join(runDir, 'rejects', 'bom_lines.csv')), { bom: true, columns: true }) as Record<string, string>[];
    const cycle = bom.filter((r) => r.forklift_rule === 'bom-cycle');
    expect(cycle.length).toBe(3);
    for (const c of cycle) expect(c.forklift_reason).toMatch(/BG-2021 → BG-2022 → BG-2023 → BG-2021|BG-2022 → BG-2023 → BG-2021 → BG-2022|BG-2023 → BG-2021 → BG-2022 → BG-2023/);
    // the source columns come first, exactly as in the source header
    expect(Object.keys(bom[0]!).slice(0, 4)).toEqual(['PARENT', 'LINE', 'COMPONENT', 'QTY']);
  });

  it('gives the same tables when the same run is repeated', () => {
    const dump = (): string => {
      const d = new Database(db, { readonly: true });
      try {
        return ['items', 'bom_lines', 'stock_balances', 'machine_events'].map((t) => JSON.stringify(d.prepare(`SELECT * FROM ${t} ORDER BY 1, 2`).raw().all())).join('\n');
      } finally {
        d.close();
      }
    };
    const before = dump();
    const again = runCli(['migrate', demo.plan, '--target', `sqlite:${db}`], { cwd: demo.dir });
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/succeeded, committed/);
    expect(dump()).toBe(before);
    const d = new Database(db, { readonly: true });
    expect((d.prepare('SELECT COUNT(*) n FROM forklift_runs').get() as { n: number }).n).toBe(2);
    d.close();
  });

  it('over the reject limit: exit 3, nothing committed, the attempt on record (with and without --json)', () => {
    const strict = path.join(path.dirname(demo.plan), 'strict.yaml');
    writeFileSync(strict, readFileSync(demo.plan, 'utf8').replace(/reject_limit: .*/, 'reject_limit: 1%'));
    const target = path.join(demo.dir, 'strict.db');
    const plain = runCli(['migrate', strict, '--target', `sqlite:${target}`], { cwd: demo.dir });
    expect(plain.code).toBe(3);
    expect(plain.stderr).toMatch(/over the reject_limit of 1%/);
    expect(plain.stderr).not.toMatch(/at .*\.js:\d+/);
    // The ledger of the refused run above the error: what the consultant fixes next.
    expect(plain.stdout).toMatch(/rejected, nothing committed/);
    expect(plain.stdout).toMatch(/items\s+117\s+105\s+4\s+1\s+7/);
    const validate = runCli(['validate', strict], { cwd: demo.dir });
    expect(validate.code).toBe(3);
    expect(validate.stdout).toMatch(/bom_lines\s+310\s+298\s+0\s+1\s+11/);
    const json = runCli(['migrate', strict, '--target', `sqlite:${target}`, '--json'], { cwd: demo.dir });
    expect(json.code).toBe(3);
    const doc = JSON.parse(json.stdout) as { ok: boolean; error: { code: string; exit_code: number }; result: { committed: boolean } };
    expect(doc.error.code).toBe('data.rejected');
    expect(doc.result.committed).toBe(false);
    const d = new Database(target, { readonly: true });
    const tables = d.prepare("SELECT name FROM sqlite_master WHERE type='table'").pluck().all();
    expect(tables).toEqual(['forklift_runs']);
    expect(d.prepare('SELECT status FROM forklift_runs').pluck().all()).toEqual(['rejected', 'rejected']);
    d.close();
  });

  it('a failed control total: exit 3 and the mismatch named', () => {
    const wrong = path.join(path.dirname(demo.plan), 'wrong-total.yaml');
    writeFileSync(wrong, readFileSync(demo.plan, 'utf8').replace(/value: "[\d.]+"/, 'value: "1.00"'));
    const r = runCli(['validate', wrong], { cwd: demo.dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/control total sum\(value\) is [\d.]+, the plan expects 1.00/);
  });

  it('validate writes a report and loads nothing', () => {
    const target = path.join(demo.dir, 'validate.db');
    const r = runCli(['validate', demo.plan, '--target', `sqlite:${target}`, '--json'], { cwd: demo.dir });
    expect(r.code).toBe(0);
    const rep = JSON.parse(r.stdout) as { status: string; committed: boolean };
    expect(rep.status).toBe('validated');
    expect(rep.committed).toBe(false);
    expect(existsSync(target) ? readdirSync(path.dirname(target)).length : 0).toBeGreaterThanOrEqual(0);
  });
});

describe('the reader thread path (forced for small files) gives the same run', () => {
  it('same ledger and the same rejects, rows as read', () => {
    const demo = demoCopy();
    const r = runCli(['migrate', demo.plan, '--target', `sqlite:${path.join(demo.dir, 't.db')}`, '--json'], { cwd: demo.dir, env: { FORKLIFT_EXTRACT_THREAD: 'always' } });
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as { run_dir: string; entities: { entity: string; read: number; loaded: number; rejected: number; duplicates_dropped: number; filtered: number }[] };
    for (const l of rep.entities) {
      const want = expected.ledger[l.entity]!;
      expect([l.read, l.loaded, l.filtered, l.duplicates_dropped, l.rejected]).toEqual([want.read, want.loaded, want.filtered, want.duplicates_dropped, want.rejected]);
    }
    const events = parse(readFileSync(path.join(demo.dir, 'mappings', 'demo', rep.run_dir.replace(/^.*?runs/, 'runs'), 'rejects', 'machine_events.csv')), { bom: true, columns: true }) as Record<string, string>[];
    const conflicting = events.filter((e) => e.forklift_rule === 'duplicate-key');
    expect(conflicting.length).toBe(4);
    for (const c of conflicting) expect(c.MACHINE).toMatch(/\S/); // the raw row came from the reader thread
  });
});
