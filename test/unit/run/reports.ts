import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RunReport } from '../../../src/run/report.js';

/** A run report as runPlan writes it, with `rejected` rejects per entity of 100 rows read. */
export function report(id: string, started: string, rejected: Record<string, number>, extra: Partial<RunReport> = {}): RunReport {
  return {
    run_id: id,
    command: 'migrate',
    status: 'succeeded',
    committed: true,
    plan: 'forklift.yaml',
    plan_name: 'acme',
    target: 'sqlite:x.db',
    started,
    finished: started,
    duration_ms: 1,
    reject_limit: '1%',
    entities: Object.entries(rejected).map(([entity, n]) => ({
      entity,
      mapping: 'm.yaml',
      source: 's.csv',
      source_sha256: null,
      read: 100,
      loaded: 100 - n,
      filtered: 0,
      duplicates_dropped: 0,
      rejected: n,
      blank_skipped: 0,
      rejects_by_rule: {},
      rejects_file: null,
      first_rejects: [],
      missing_values: {},
    })),
    checks: [],
    message: null,
    ledger_head: null,
    run_dir: '.',
    tool_version: '0',
    timings_ms: {},
    ...extra,
  };
}

/** A runs/ folder holding these reports, and a run cut short (a folder without a report). */
export function runsDir(reports: RunReport[]): string {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'forklift-history-')), 'runs');
  for (const r of reports) {
    mkdirSync(path.join(dir, r.run_id), { recursive: true });
    writeFileSync(path.join(dir, r.run_id, 'report.json'), JSON.stringify(r));
  }
  mkdirSync(path.join(dir, '20260101T000000Z-dead')); // a run cut short: no report
  return dir;
}
