import { writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { CheckResult } from '../validate/control-totals.js';
import type { EntityLedger } from './ledger.js';
import type { EntityProfile } from './profile.js';
import { renderReportHtml } from './report-html.js';

/** An entity in the report: its ledger, its first rejects and the missing values per column. */
export type EntityReport = EntityLedger & EntityProfile;

/** What a run reports: report.json, report.html and the `--json` result are all this one object. */
export interface RunReport {
  run_id: string;
  command: 'migrate' | 'validate';
  status: 'succeeded' | 'rejected' | 'failed' | 'validated' | 'dry-run';
  /** Whether the rows were committed to the target (migrate that passed). */
  committed: boolean;
  /** migrate --dry-run: the load was rehearsed on the target and rolled back; each entity has its `dry_run` figures. Always set by runPlan. */
  dry_run?: boolean;
  plan: string;
  plan_name: string;
  target: string;
  started: string;
  finished: string;
  duration_ms: number;
  reject_limit: string;
  entities: EntityReport[];
  checks: CheckResult[];
  message: string | null;
  /** The target's audit chain head after this run's entry (SPEC section 9); null when nothing was recorded. */
  ledger_head: string | null;
  run_dir: string;
  tool_version: string;
  /** Wall time of each stage: extract, validate, load, report. */
  timings_ms: Record<string, number>;
}

export function writeReports(runDir: string, report: RunReport): { json: string; html: string } {
  const json = path.join(runDir, 'report.json');
  const html = path.join(runDir, 'report.html');
  writeAtomic(json, JSON.stringify(report, null, 2) + '\n');
  writeAtomic(html, renderReportHtml(report));
  return { json, html };
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
