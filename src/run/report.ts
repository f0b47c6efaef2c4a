import type { ExcelDateSystem } from '../sources/types.js';
import { writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import type { CheckResult } from '../validate/control-totals.js';
import type { EntityLedger } from './ledger.js';
import type { CounterAdvance } from './dry-run.js';
import type { EntityProfile } from './profile.js';
import { renderReportHtml } from './report-html.js';

/**
 * An entity in the report: its ledger, its first rejects and the missing values per column, and
 * the source's columns as read (a rejects reload checks an edited rejects file against them).
 */
export type EntityReport = EntityLedger & EntityProfile & { source_columns?: string[]; excel_date_system?: ExcelDateSystem };

/** The run a rejects reload follows, and per entity how many rows the original source had (the reject limit's base). */
export interface Follows {
  run_id: string;
  read: Record<string, number>;
}

/** One earlier run of the same plan, for the trend of rejects in report.html. */
export interface TrendPoint {
  run_id: string;
  command: string;
  status: string;
  started: string;
  /** Rejects still open after the run (a reload: those of the run it follows, its own entities replaced by its counts). */
  rejected: number;
}

/** What a run reports: report.json, report.html and the `--json` result are all this one object. */
export interface RunReport {
  run_id: string;
  command: 'migrate' | 'validate' | 'rejects reload';
  status: 'succeeded' | 'rejected' | 'failed' | 'validated' | 'dry-run';
  /** Whether the rows were committed to the target (migrate that passed). */
  committed: boolean;
  /** migrate --dry-run: the load was rehearsed on the target and rolled back; each entity has its `dry_run` figures. Always set by runPlan. */
  dry_run?: boolean;
  /**
   * migrate --dry-run: the target's counters (sequences, identities) that moved while it rehearsed
   * and that its rollback did not take back; empty when none did. Absent before the rehearsal ran.
   */
  counters_advanced?: CounterAdvance[];
  plan: string;
  plan_name: string;
  /** SHA-256 of the plan file as run (a rejects reload finds the plan next to the runs/ folder and says when it changed). */
  plan_sha256?: string;
  /** A rejects reload: the run it follows. */
  follows?: Follows | null;
  target: string;
  /** The target whatever the working directory (storeIdentity): a reload checks it goes to the same store. */
  target_id?: string;
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
  /** Rejects per run of this plan, oldest first, this run last (runs/ next to the plan). */
  trend?: TrendPoint[];
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
