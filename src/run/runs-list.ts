import { existsSync } from 'node:fs';
import path from 'node:path';
import { BEFORE_CHAIN } from '../audit/chain.js';
import { readLedger } from '../audit/source.js';
import { chainOrder } from '../audit/source.js';
import { ConfigError } from '../core/errors.js';
import { displayPath } from '../plan/paths.js';
import { ofPlan, readRunFolders } from './history.js';
import { committedCounts } from './ledger.js';

/**
 * `forklift runs list`: the runs of a plan (its runs/ folder) and, with a target, the runs its
 * forklift_runs records (imports, exits, runs of other machines), one list by run id.
 */

export interface EntityCounts {
  read: number;
  /** Rows committed: 0 for a run that committed nothing (rejected, failed, a dry run). */
  loaded: number;
  filtered: number;
  duplicates_dropped: number;
  rejected: number;
  /** A run that committed nothing: the rows that passed and would have loaded. */
  would_have_loaded?: number;
}

export interface RunListing {
  id: string;
  command: string;
  status: string;
  started: string;
  finished: string | null;
  /** The run a rejects reload follows. */
  follows: string | null;
  entities: Record<string, EntityCounts>;
  rejected: number;
  /** The run folder, relative to the working directory, when there is one. */
  run_dir: string | null;
  /** In the target's forklift_runs (only known with --target). */
  in_ledger: boolean | null;
}

export interface RunsList {
  plan: string;
  target: string | null;
  runs: RunListing[];
  /** Runs of other plans in the same runs/ folder (every plan of a folder shares it), left out. */
  other_plans: number;
  /** Folders of runs/ that could not be read as runs (no report.json, or a damaged one), with why: left out, but said. */
  unreadable: { run_dir: string; why: string }[];
}

export async function listRuns(opts: { plan: string; target?: string | undefined; signal?: AbortSignal }): Promise<RunsList> {
  const planFile = path.resolve(opts.plan);
  const runsDir = path.join(path.dirname(planFile), 'runs');
  if (!existsSync(planFile) && !existsSync(runsDir) && opts.target === undefined) {
    throw new ConfigError(`${displayPath(planFile)}: no such plan, and no runs/ beside it`, { code: 'runs.no-plan', hint: 'Give the plan with --plan FILE, or a store with --target URL.' });
  }
  const byId = new Map<string, RunListing>();
  // Runs of the other plans beside this one: left out, here and where the target's ledger has them.
  const others = new Set<string>();
  const unreadable: RunsList['unreadable'] = [];
  for (const f of readRunFolders(runsDir, (dir, why) => unreadable.push({ run_dir: displayPath(dir), why }))) {
    const r = f.report;
    if (!ofPlan(r, planFile)) {
      others.add(r.run_id);
      continue;
    }
    // A copy of a run folder (`<id>-backup`) holds the same run: the folder named by its id stands for it.
    if (byId.has(r.run_id) && path.basename(f.dir) !== r.run_id) continue;
    const entities = Object.fromEntries(r.entities.map((e) => [e.entity, committedCounts(countsOf(e), r.committed)]));
    byId.set(r.run_id, {
      id: r.run_id,
      command: r.command,
      status: r.status,
      started: r.started,
      finished: r.finished,
      follows: r.follows?.run_id ?? null,
      entities,
      rejected: total(entities),
      run_dir: displayPath(f.dir),
      in_ledger: null,
    });
  }
  let target: string | null = null;
  if (opts.target !== undefined) {
    const ledger = await readLedger(opts.target, { signal: opts.signal });
    target = ledger.display;
    for (const run of byId.values()) run.in_ledger = false;
    for (const rec of chainOrder(ledger.records)) {
      if (rec.id === null || others.has(rec.id)) continue;
      const known = byId.get(rec.id);
      if (known) {
        known.in_ledger = true;
        continue;
      }
      const counts = parseCounts(rec.counts, rec.status === 'succeeded');
      byId.set(rec.id, {
        id: rec.id,
        command: rec.command ?? '',
        status: rec.status ?? '',
        started: rec.started ?? '',
        finished: rec.finished,
        follows: counts.follows,
        entities: counts.entities,
        rejected: total(counts.entities),
        run_dir: null,
        in_ledger: true,
      });
    }
  }
  const runs = [...byId.values()].sort((a, b) => a.started.localeCompare(b.started) || a.id.localeCompare(b.id));
  return { plan: displayPath(planFile), target, runs, other_plans: others.size, unreadable };
}

const NUMBERS = ['read', 'loaded', 'filtered', 'duplicates_dropped', 'rejected'] as const;

export function countsOf(e: Partial<Record<(typeof NUMBERS)[number], unknown>>): EntityCounts {
  return Object.fromEntries(NUMBERS.map((k) => [k, Number(e[k] ?? 0)])) as unknown as EntityCounts;
}

const total = (entities: Record<string, EntityCounts>): number => Object.values(entities).reduce((s, e) => s + e.rejected, 0);

/**
 * A ledger entry's counts: the per-entity ledgers (objects) and the run a reload follows. An entry
 * of a run that committed nothing shows loaded 0 whenever it was written (entries before the
 * change kept the rows that would have loaded as `loaded`).
 */
function parseCounts(text: string | null, committed: boolean): { entities: Record<string, EntityCounts>; follows: string | null } {
  let parsed: unknown;
  try {
    parsed = text === null ? {} : JSON.parse(text);
  } catch {
    parsed = {};
  }
  const entities: Record<string, EntityCounts> = {};
  let follows: string | null = null;
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (k === 'follows' && typeof v === 'string') follows = v;
    else if (k === BEFORE_CHAIN) continue;
    else if (v !== null && typeof v === 'object') {
      const c = v as Record<string, unknown>;
      entities[k] = typeof c.would_have_loaded === 'number' ? { ...countsOf(c), would_have_loaded: c.would_have_loaded } : committedCounts(countsOf(c), committed);
    }
  }
  return { entities, follows };
}
