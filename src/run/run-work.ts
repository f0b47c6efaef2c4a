import { readdirSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { claimWork, namesIn, sweepStaleWork, type SweptWork } from '../util/work-path.js';

/**
 * A run's scratch files in its run folder: the staging file and the raw rows beside it, both
 * named `staging…` so one claim (`staging.owner`: process, host, start time; util/work-path.ts)
 * covers them. A run that ends in any way a process can see (done, failed, interrupted) removes
 * them or keeps them on purpose (--keep-staging, a failure kept for inspection) and releases the
 * claim; only a run killed outright (SIGKILL, a power cut) leaves a claim of a gone process,
 * whose files the next run of the plan removes. The report and the rejects files are never
 * claimed, so never swept.
 */

const WORK = 'staging';
export const STAGING_FILE = `${WORK}.sqlite`;
export const RAW_ROWS_FILE = `${WORK}-raw.sqlite`;

export function claimStaging(runDir: string, command: string): { release: () => void } {
  return claimWork(path.join(runDir, WORK), command);
}

/**
 * Removes the staging files that runs of this plan killed outright left in their run folders
 * (`runs/<id>/`), and a run folder that then holds nothing (such a run wrote no report and no
 * rejects). Returns what was removed.
 */
export function sweepStaleStaging(runsDir: string): SweptWork[] {
  const swept: SweptWork[] = [];
  for (const id of namesIn(runsDir)) {
    const dir = path.join(runsDir, id);
    const gone = sweepStaleWork(dir, WORK);
    if (gone.length === 0) continue;
    removeIfEmpty(dir);
    swept.push(...gone.map((s) => ({ ...s, what: `the staging files of ${path.relative(process.cwd(), dir) || dir}` })));
  }
  return swept;
}

/** The run folder, when it holds nothing but an empty rejects folder. */
export function removeIfEmpty(dir: string): void {
  try {
    const left = readdirSync(dir);
    if (left.some((n) => n !== 'rejects')) return;
    if (left.includes('rejects')) rmdirSync(path.join(dir, 'rejects'));
    rmdirSync(dir);
  } catch {
    // Not empty after all, or not ours to remove: left as it is.
  }
}
