import { BugError } from '../core/errors.js';
import type { DryRunCounts } from './dry-run.js';

/**
 * The per-entity ledger of SPEC section 5: every source row is loaded, filtered, dropped as an
 * exact duplicate or rejected, and the sum is checked here, in one place, for every report.
 */
export interface EntityLedger {
  entity: string;
  mapping: string;
  source: string;
  source_sha256: string | null;
  /** The encoding a text source was read in: as the mapping names it, or as detected (`encoding: auto`). */
  source_encoding?: string;
  read: number;
  loaded: number;
  filtered: number;
  duplicates_dropped: number;
  rejected: number;
  /** Blank lines or rows: not data, so not in `read`, but shown so nothing is unaccounted for. */
  blank_skipped: number;
  rejects_by_rule: Record<string, number>;
  /** Incremental loads: the rows counted in `filtered` because an earlier run already loaded them. */
  watermark?: { column: string; group_by: string[]; groups_in_target: number; behind: number };
  rejects_file: string | null;
  /** migrate --dry-run: the rows that would load by effect on the target, and the rows it refuses (counted in `rejected` too). */
  dry_run?: DryRunCounts;
}

export function assertBalanced(l: EntityLedger): void {
  const sum = l.loaded + l.filtered + l.duplicates_dropped + l.rejected;
  if (sum !== l.read) {
    throw new BugError(
      `the ledger of ${l.entity} does not balance: read ${l.read} ≠ loaded ${l.loaded} + filtered ${l.filtered} + duplicates ${l.duplicates_dropped} + rejected ${l.rejected} = ${sum}`,
    );
  }
}

/**
 * Counts as a ledger entry keeps them: `loaded` is what the run committed, so 0 for a run that
 * committed nothing (rejected, failed, a dry run); the rows that passed and would have loaded are
 * kept beside it as `would_have_loaded`. The report keeps the balanced ledger (its `committed`
 * says whether they went in); an entry is read on its own, by an auditor.
 */
export function committedCounts<T extends { loaded: number }>(c: T, committed: boolean): T & { would_have_loaded?: number } {
  return committed ? c : { ...c, loaded: 0, would_have_loaded: c.loaded };
}
