import { readdirSync, rmdirSync } from 'node:fs';
import path from 'node:path';
import { ForkliftError, ExitCode } from '../core/errors.js';
import { isDiskFull } from '../util/folders.js';
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

/**
 * A run's own files (staging, raw rows, rejects, report) that the disk of its run folder did not
 * take: SQLite's SQLITE_FULL or SQLITE_IOERR, or the file system's ENOSPC, EDQUOT, EFBIG or EIO,
 * as the user's error (exit 1) naming the folder, instead of an internal error. A forklift error
 * (a target store's full disk, said as the store's) and any other error are returned as they are.
 */
export function runFilesError(e: unknown, runDir: string): unknown {
  if (e instanceof ForkliftError || !(e instanceof Error)) return e;
  const code = String((e as { code?: unknown }).code ?? '');
  const full = isDiskFull(e);
  const io = code.startsWith('SQLITE_IOERR') || code === 'EFBIG' || code === 'EIO';
  if (!full && !io) return e;
  const shown = path.relative(process.cwd(), runDir) || runDir;
  return new ForkliftError(
    full ? `no space left on the disk of the run folder ${shown}: its staging files did not fit (${e.message})` : `cannot write the run's staging files in ${shown} (${e.message})`,
    {
      code: full ? 'run.disk_full' : 'run.disk_error',
      exitCode: ExitCode.runtime,
      hint: `${full ? 'Free space on that disk' : 'Check that disk, and that this user may write files that large there (ulimit -f)'}; the files this run left in ${shown} may be removed. Then run the same command again.`,
      cause: e,
    },
  );
}
