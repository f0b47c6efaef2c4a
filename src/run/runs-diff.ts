import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadPlan, type LoadedPlan } from '../plan/load.js';
import { openSource } from '../sources/index.js';
import { displayPath } from '../plan/paths.js';
import { findRunFolder, type RunFolder } from './history.js';
import { AS_WRITTEN_DIR, REJECT_META } from './rejects.js';
import { REKEYED_RULE, keySources } from './reload-check.js';
import { committedCounts } from './ledger.js';
import { countsOf, type EntityCounts } from './runs-list.js';

/**
 * `forklift runs diff RUN_A RUN_B`: per entity the two ledgers side by side, and the rejects of
 * the two runs matched by source key: fixed (in A, not in B), still failing (in both) and new (in
 * B only). The source key is the text of the source columns the entity's key fields are mapped
 * from (`from:`), as read; where a key field is computed (`expr`, `const`) it is the source file
 * and position instead. Data first, rendered by runs-diff-render.ts.
 */

export interface RunSide {
  run_id: string;
  command: string;
  status: string;
  /** Whether the run committed its rows (not a dry, validate, rejected or failed run): its loaded is 0 otherwise. */
  committed: boolean;
  started: string;
  run_dir: string;
  follows: string | null;
  rejected: number;
}

export interface RejectRef {
  /** The source key (or file and position where the key is computed). */
  key: string;
  position: string;
  field: string;
  rule: string;
  reason: string;
}

export interface EntityRunsDiff {
  entity: string;
  /** Which runs the entity was in: a reload runs only the entities it reloads. */
  in: 'both' | 'a' | 'b';
  a: EntityCounts | null;
  b: EntityCounts | null;
  /** The source columns the rejects are matched by, or ['position']. */
  key: string[];
  fixed: RejectRef[];
  still_failing: RejectRef[];
  new: RejectRef[];
  /**
   * Rejects of run A (as it wrote them) whose key is no longer in its rejects file, where B is a
   * reload of A (or of a reload of A): a person fixing the file in place (which is how a reload is fed) may delete rows,
   * such as the wrong one of two conflicting rows, or correct a key; either way the reject was not
   * fixed by the reload. Always 0 where B did not read A's file.
   */
  deleted_from_file: number;
  /**
   * Rows of A's rejects file whose key Excel changed (00123 saved as 123), which the reload
   * rejected as such (rule `rekeyed`): counted here, neither new nor deleted by hand.
   */
  rekeyed: number;
}

export interface RunsDiff {
  a: RunSide;
  b: RunSide;
  entities: EntityRunsDiff[];
  totals: {
    rejected_a: number;
    rejected_b: number;
    fixed: number;
    still_failing: number;
    new: number;
    deleted_from_file: number;
    rekeyed: number;
    /**
     * Rejects of entities only one run has (a reload of some entities' rejects leaves the others'
     * open): neither fixed nor still failing, so they are counted apart, with their entities.
     */
    only_in_a: { rejects: number; entities: string[] };
    only_in_b: { rejects: number; entities: string[] };
  };
}

export async function diffRuns(opts: { a: string; b: string; plan: string; signal?: AbortSignal }): Promise<RunsDiff> {
  const runsDir = path.join(path.dirname(path.resolve(opts.plan)), 'runs');
  const a = findRunFolder(opts.a, runsDir);
  const b = findRunFolder(opts.b, runsDir);
  const plan = planOf(b) ?? planOf(a);
  const names = [...new Set([...a.report.entities.map((e) => e.entity), ...b.report.entities.map((e) => e.entity)])];
  // Rows a person deleted from A's file never reached B only when B read that file; two migrates
  // both read the sources, so a row gone from A's file says nothing about B.
  const reload = reloads(b, a, runsDir);
  const entities: EntityRunsDiff[] = [];
  for (const name of names) {
    const ea = a.report.entities.find((e) => e.entity === name);
    const eb = b.report.entities.find((e) => e.entity === name);
    const key = keyColumns(plan, name);
    // loaded is what a run committed (0 for a dry, rejected or failed run), as runs list and the ledger say.
    const d: EntityRunsDiff = { entity: name, in: ea && eb ? 'both' : ea ? 'a' : 'b', a: ea ? committedCounts(countsOf(ea), a.report.committed) : null, b: eb ? committedCounts(countsOf(eb), b.report.committed) : null, key: key ?? ['position'], fixed: [], still_failing: [], new: [], deleted_from_file: 0, rekeyed: 0 };
    if (ea && eb) {
      // Both runs' rejects as they wrote them: either file may since have been fixed in place to feed a reload.
      const ra = await readRejects(rejectsAsWritten(a, name), key, opts.signal);
      const rb = await readRejects(rejectsAsWritten(b, name), key, opts.signal);
      const legacy = !existsSync(path.join(a.dir, AS_WRITTEN_DIR, `${name}.csv`));
      // A's file as it is now, against its rejects as written; a run from before the copy was kept
      // has only the file as now (ra), so the rows missing from it are counted instead.
      const now = reload && !legacy ? await readRejects(path.join(a.dir, 'rejects', `${name}.csv`), key, opts.signal) : undefined;
      if (reload && legacy) d.deleted_from_file = Math.max(0, ea.rejected - [...ra.values()].reduce((s, xs) => s + xs.length, 0));
      for (const k of new Set([...ra.keys(), ...rb.keys()])) {
        const xs = ra.get(k) ?? [];
        const ys = rb.get(k) ?? [];
        const both = Math.min(xs.length, ys.length);
        d.still_failing.push(...ys.slice(0, both));
        d.new.push(...ys.slice(both));
        // Of A's rejects B no longer has, those whose key left A's file were deleted or re-keyed by hand, not fixed.
        const open = xs.slice(both);
        const gone = now === undefined ? 0 : Math.min(open.length, Math.max(0, xs.length - (now.get(k)?.length ?? 0)));
        d.deleted_from_file += gone;
        d.fixed.push(...open.slice(gone));
      }
      // A re-keyed row is in B under the key Excel made, and its key as written left A's file.
      const rekeyed = d.new.filter((x) => x.rule === REKEYED_RULE);
      d.new = d.new.filter((x) => x.rule !== REKEYED_RULE);
      d.rekeyed = rekeyed.length;
      d.deleted_from_file = Math.max(0, d.deleted_from_file - rekeyed.length);
    }
    entities.push(d);
  }
  const sum = (f: (e: EntityRunsDiff) => number): number => entities.reduce((s, e) => s + f(e), 0);
  return {
    a: sideOf(a),
    b: sideOf(b),
    entities,
    totals: {
      rejected_a: sum((e) => e.a?.rejected ?? 0),
      rejected_b: sum((e) => e.b?.rejected ?? 0),
      fixed: sum((e) => e.fixed.length),
      still_failing: sum((e) => e.still_failing.length),
      new: sum((e) => e.new.length),
      deleted_from_file: sum((e) => e.deleted_from_file),
      rekeyed: sum((e) => e.rekeyed),
      only_in_a: onlyIn(entities, 'a'),
      only_in_b: onlyIn(entities, 'b'),
    },
  };
}

function onlyIn(entities: readonly EntityRunsDiff[], side: 'a' | 'b'): { rejects: number; entities: string[] } {
  const only = entities.filter((e) => e.in === side && (e[side]?.rejected ?? 0) > 0);
  return { rejects: only.reduce((n, e) => n + e[side]!.rejected, 0), entities: only.map((e) => e.entity) };
}

function sideOf(f: RunFolder): RunSide {
  const r = f.report;
  return { run_id: r.run_id, command: r.command, status: r.status, committed: r.committed, started: r.started, run_dir: displayPath(f.dir), follows: r.follows?.run_id ?? null, rejected: r.entities.reduce((s, e) => s + e.rejected, 0) };
}

/** The plan beside a run folder, as it is now; undefined when it cannot be read (rejects then match by position). */
function planOf(f: RunFolder): LoadedPlan | undefined {
  const file = path.resolve(f.dir, '..', '..', path.basename(f.report.plan));
  if (!existsSync(file)) return undefined;
  try {
    return loadPlan(file);
  } catch {
    return undefined;
  }
}

/** The source columns an entity's key fields come from, in key order; undefined where a key field has no plain `from:`. */
function keyColumns(plan: LoadedPlan | undefined, entity: string): string[] | undefined {
  return keySources(plan?.mappings.find((x) => x.spec.entity === entity), plan?.model.entities.get(entity))?.map((k) => k.column);
}

/**
 * Whether run B reloads A's rejects, directly or through reloads in between (A → B1 → B): a row
 * deleted from A's file reached none of them. A run folder of the chain that is gone ends it.
 */
function reloads(b: RunFolder, a: RunFolder, runsDir: string): boolean {
  const seen = new Set<string>();
  for (let id = b.report.follows?.run_id; id !== undefined && !seen.has(id); ) {
    if (id === a.report.run_id) return true;
    seen.add(id);
    try {
      id = findRunFolder(path.join(path.dirname(b.dir), id), runsDir).report.follows?.run_id;
    } catch {
      return false;
    }
  }
  return false;
}

/** A run's rejects file of an entity as the run wrote it; a run from before the copy was kept has only the file as it is now. */
function rejectsAsWritten(f: RunFolder, entity: string): string {
  const written = path.join(f.dir, AS_WRITTEN_DIR, `${entity}.csv`);
  return existsSync(written) ? written : path.join(f.dir, 'rejects', `${entity}.csv`);
}

/** The rejects of one rejects file, by source key. */
async function readRejects(file: string, key: string[] | undefined, signal?: AbortSignal): Promise<Map<string, RejectRef[]>> {
  const out = new Map<string, RejectRef[]>();
  if (!existsSync(file)) return out;
  const source = await openSource({ format: 'csv', path: file, encoding: 'auto', delimiter: 'auto', header_row: 1 });
  try {
    const at = (name: string): number => source.header.indexOf(name);
    const [src, pos, field, rule, reason] = REJECT_META.map(at) as [number, number, number, number, number];
    const keyAt = key?.map(at);
    const usable = keyAt !== undefined && keyAt.every((i) => i >= 0);
    for await (const batch of source.batches(signal)) {
      for (const rec of batch) {
        const cell = (i: number): string => (i >= 0 ? (rec.cells[i] ?? '') : '');
        const position = pos >= 0 ? cell(pos) : `line ${rec.line}`;
        const k = usable ? keyAt.map((i) => cell(i).trim()).join(' | ') : '';
        const ref: RejectRef = { key: k !== '' && !/^( \| )+$/.test(k) ? k : `${cell(src)} ${position}`.trim(), position, field: cell(field), rule: cell(rule), reason: cell(reason) };
        const list = out.get(ref.key);
        if (list) list.push(ref);
        else out.set(ref.key, [ref]);
      }
    }
  } finally {
    await source.close();
  }
  return out;
}
