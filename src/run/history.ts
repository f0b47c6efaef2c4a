import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import type { RunReport, TrendPoint } from './report.js';

/**
 * The runs of a plan as their folders record them: `runs/<run-id>/report.json` next to the plan.
 * The rehearsal loop (reload, runs list, runs diff, the trend in report.html) reads them here.
 */

export interface RunFolder {
  /** Absolute path of runs/<run-id>/. */
  dir: string;
  report: RunReport;
}

/** Reads one run folder, with a message a person can act on when it is not one. */
export function readRunFolder(dir: string): RunFolder {
  const abs = path.resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) {
    throw new ConfigError(`${dir}: no such run folder`, {
      code: 'run.missing',
      hint: 'Runs are written to runs/<run-id>/ next to the plan; `forklift runs list` shows them.',
    });
  }
  const file = path.join(abs, 'report.json');
  if (!existsSync(file)) {
    throw new ConfigError(`${dir}: not a run folder (it has no report.json)`, {
      code: 'run.not-a-run',
      hint: 'Give a folder runs/<run-id>/ next to the plan; `forklift runs list` shows them.',
    });
  }
  let report: RunReport;
  try {
    report = JSON.parse(readFileSync(file, 'utf8')) as RunReport;
  } catch (e) {
    throw new ConfigError(`${path.join(dir, 'report.json')}: not readable as JSON (${e instanceof Error ? e.message : String(e)})`, {
      code: 'run.report',
      hint: 'The report was edited or cut short; run the plan again.',
      cause: e,
    });
  }
  if (typeof report.run_id !== 'string' || !Array.isArray(report.entities)) {
    throw new ConfigError(`${path.join(dir, 'report.json')}: not a forklift run report`, { code: 'run.report', hint: 'Give a folder runs/<run-id>/ next to the plan.' });
  }
  return { dir: abs, report };
}

/**
 * Every readable run folder under `runsDir`, oldest first. A folder without a report (a run cut
 * short) or with one that cannot be read is left out, and told to `unreadable` (its path and why)
 * where the caller lists runs: a listing must not lose a run without a word.
 */
export function readRunFolders(runsDir: string, unreadable?: (dir: string, why: string) => void): RunFolder[] {
  if (!existsSync(runsDir)) return [];
  const out: RunFolder[] = [];
  for (const name of readdirSync(runsDir).sort()) {
    const dir = path.join(runsDir, name);
    if (!statSync(dir).isDirectory()) continue;
    if (!existsSync(path.join(dir, 'report.json'))) {
      unreadable?.(dir, 'no report.json (a run cut short, or a folder of something else)');
      continue;
    }
    try {
      out.push(readRunFolder(dir));
    } catch (e) {
      unreadable?.(dir, e instanceof Error ? e.message.replace(/^.*?report\.json: /, 'report.json: ') : String(e));
    }
  }
  return out.sort((a, b) => a.report.started.localeCompare(b.report.started) || a.report.run_id.localeCompare(b.report.run_id));
}

/**
 * Whether a run's report is of the plan file `planFile`. All plans of a folder share its runs/, so a
 * plan is its file name there (as a rejects reload finds it): not its `name`, which two plans may
 * share, nor its hash, which every edit changes, nor the path as given, which depends on the
 * directory it was run from.
 */
export const ofPlan = (report: Pick<RunReport, 'plan'>, planFile: string): boolean => path.basename(report.plan) === path.basename(planFile);

/** A run given by folder, id, or the unique start of an id (looked up in `runsDir`). */
export function findRunFolder(ref: string, runsDir: string): RunFolder {
  if (existsSync(path.join(ref, 'report.json')) || ref.includes('/') || ref.includes(path.sep)) return readRunFolder(ref);
  // A complete id is that run, even beside a copy of its folder (`<id>-backup`) that it begins.
  if (ref !== '' && existsSync(path.join(runsDir, ref, 'report.json'))) return readRunFolder(path.join(runsDir, ref));
  const ids = existsSync(runsDir) ? readdirSync(runsDir).filter((n) => n.startsWith(ref)) : [];
  if (ids.length === 1) return readRunFolder(path.join(runsDir, ids[0]!));
  if (ids.length > 1) {
    throw new ConfigError(`run '${ref}' is ambiguous in ${path.relative(process.cwd(), runsDir) || '.'}: ${ids.slice(0, 5).join(', ')}${ids.length > 5 ? ', …' : ''}`, {
      code: 'run.ambiguous',
      hint: 'Give more of the run id.',
    });
  }
  throw new ConfigError(`no run '${ref}' in ${path.relative(process.cwd(), runsDir) || '.'}`, {
    code: 'run.missing',
    hint: 'Give a run id from `forklift runs list`, or the path of a run folder; --plan says which plan’s runs to look in.',
  });
}

/**
 * The rejects of the plan file's runs up to this one (the last `max`), for the trend chart of
 * report.html. A reload runs only the entities it reloads, so its point is the rejects still open
 * after it: those of the run it follows, with the entities it reloaded replaced by its own.
 */
export function rejectsTrend(runsDir: string, current: RunReport, max = 20): TrendPoint[] {
  const runs = [
    ...readRunFolders(runsDir)
      .map((f) => f.report)
      // By the plan file (ofPlan), as runs list and reload find a plan's runs: two plans of one folder may share a name, and an edited plan is still the plan being worked on.
      .filter((r) => ofPlan(r, current.plan) && r.run_id !== current.run_id && r.started <= current.started),
    current,
  ];
  const open = new Map<string, Record<string, number>>();
  const points: TrendPoint[] = [];
  for (const r of runs) {
    const still: Record<string, number> = { ...(r.follows ? open.get(r.follows.run_id) : undefined) };
    for (const e of r.entities) still[e.entity] = e.rejected;
    open.set(r.run_id, still);
    points.push({ run_id: r.run_id, command: r.command, status: r.status, started: r.started, rejected: Object.values(still).reduce((s, n) => s + n, 0) });
  }
  return points.slice(-max);
}
