import { tmpdir } from 'node:os';
import path from 'node:path';
import { BugError } from '../core/errors.js';
import { toolVersion } from '../core/version.js';
import { DetailFile, readRecords } from './details.js';
import { asTrouble, troubleError } from './errors.js';
import { DuplicateKey, keyReader, mergeTable, OutOfOrder, type MergeCounts } from './merge.js';
import { isTablePlan, planDiff, type DiffSelection, type OneSidedTable, type TablePlan } from './plan.js';
import { openSnapshot, type Snapshot } from './snapshot.js';
import { sortedBySpill } from './spill.js';
import type { DiffRecord, DiffResult, DiffTotals, SideOrder, TableDiff } from './types.js';
import { dropWork, scratchDir } from '../util/work-path.js';

/**
 * `forklift diff LEFT RIGHT` (SPEC section 7), as a library function: opens both sides, compares
 * their schemas (plan.ts), then merges every table on both sides in key order (merge.ts), sorting a
 * side on disk first where it does not arrive in that order (spill.ts). The result is data: the
 * summary (DiffResult) and, with `details`, the row-level records, kept in a scratch file and read
 * back by the renderers. Every failure is "trouble", exit 2 (errors.ts).
 */

export interface DiffOptions extends DiffSelection {
  left: string;
  right: string;
  /** Collect the row-level records (every added and removed row, every changed cell). */
  details?: boolean | undefined;
  /** Where scratch files go (sorted sides, the records); the OS temporary folder by default. */
  scratchDir?: string | undefined;
  signal?: AbortSignal | undefined;
  progress?: ((p: { table: string; phase: 'comparing' | 'sorting' | 'counting'; rows: number }) => void) | undefined;
  /**
   * A full garbage collection (the CLI passes V8's). Given, the diff calls it between batches once
   * the heap holds more than it needs (heapGuard), which keeps the peak RSS low: see heapGuard.
   */
  collectGarbage?: (() => void) | undefined;
}

/**
 * A diff keeps little alive (a batch of each side, a buffer of records), yet rows that outlive a
 * young-generation collection pile up as garbage in the old generation until V8 decides on a full
 * collection, late: with the default heuristics a 1M-row diff of two stores once peaked above
 * 300 MB of RSS for about 40 MB of live data. So between batches the heap is checked, and collected
 * once it exceeds its floor (24 MiB) or twice what the last collection left, whichever is more. A
 * floor below where V8 would collect by itself (about 30 MB here) puts a 1M-row and a 5M-row diff
 * under the same ceiling (64 MiB let the longer run climb 9 MB higher); a table whose rows really
 * need more memory raises the bar instead of collecting at every batch.
 */
export function heapGuard(collect: () => void, floorMiB = 24): () => void {
  const floor = floorMiB * 2 ** 20;
  let limit = floor;
  return () => {
    if (process.memoryUsage().heapUsed < limit) return;
    collect();
    limit = Math.max(floor, process.memoryUsage().heapUsed * 2);
  };
}

export interface DiffRun {
  result: DiffResult;
  /** The records, in the order found (table by table, in key order); empty without `details`. */
  records(): AsyncIterable<DiffRecord>;
  /** Removes the scratch files. */
  dispose(): void;
  /** Where the records are kept (null without details) and the scratch folder holding them. */
  files: { dir: string; records: string | null };
}

export async function diffSnapshots(opts: DiffOptions): Promise<DiffRun> {
  const snaps: Snapshot[] = [];
  try {
    const opened = await Promise.allSettled([openSnapshot(opts.left, 'LEFT'), openSnapshot(opts.right, 'RIGHT')]);
    for (const o of opened) if (o.status === 'fulfilled') snaps.push(o.value);
    for (const o of opened) if (o.status === 'rejected') throw o.reason;
    return await diffOpened(snaps[0]!, snaps[1]!, opts);
  } catch (e) {
    throw asTrouble(e);
  } finally {
    await Promise.all(snaps.map((s) => s.close().catch(() => {})));
  }
}

/**
 * The diff of two snapshots already open (the caller closes them). Its failures are thrown as they
 * are: diffSnapshots makes them `forklift diff`'s trouble (exit 2), while exit, whose steps fail
 * with exit 1 (SPEC section 10), says what its own step was.
 */
export async function diffOpened(left: Snapshot, right: Snapshot, opts: Omit<DiffOptions, 'left' | 'right'>): Promise<DiffRun> {
  const t0 = Date.now();
  const started = new Date(t0).toISOString();
  let scratch: string | undefined;
  let details: DetailFile | undefined;
  const guard = opts.collectGarbage ? heapGuard(opts.collectGarbage) : undefined;
  const progress: DiffOptions['progress'] =
    guard || opts.progress
      ? (p) => {
          guard?.();
          opts.progress?.(p);
        }
      : undefined;
  const o = { ...opts, progress };
  try {
    const plan = planDiff(left.entities, right.entities, opts);
    scratch = scratchDir('forklift-diff-', 'diff', opts.scratchDir ?? tmpdir());
    if (opts.details) details = new DetailFile(path.join(scratch, 'records.jsonl'));
    const tables: TableDiff[] = [];
    for (const t of plan.tables) {
      opts.signal?.throwIfAborted();
      tables.push(isTablePlan(t) ? await compareTable(t, left, right, scratch, details, o) : await oneSided(t, t.side === 'left' ? left : right, o));
    }
    const totals: DiffTotals = {
      tables: tables.length,
      tables_with_differences: tables.filter((t) => t.status !== 'compared' || t.added + t.removed + t.changed > 0 || plan.schema.some((s) => s.table === t.table)).length,
      schema_changes: plan.schema.length,
      added: sum(tables, 'added'),
      removed: sum(tables, 'removed'),
      changed: sum(tables, 'changed'),
      unchanged: sum(tables, 'unchanged'),
      changed_cells: sum(tables, 'changed_cells'),
    };
    const result: DiffResult = {
      format: 'forklift-diff',
      version: 1,
      identical: plan.schema.length === 0 && totals.added + totals.removed + totals.changed === 0,
      left: left.description,
      right: right.description,
      schema: plan.schema,
      tables,
      totals,
      details: Boolean(opts.details),
      tool_version: toolVersion(),
      started,
      duration_ms: Date.now() - t0,
    };
    const dir = scratch;
    const file = details?.file ?? null;
    details?.close();
    scratch = undefined;
    details = undefined;
    return {
      result,
      records: () => (file === null ? empty() : readRecords(file)),
      dispose: () => dropWork(dir),
      files: { dir, records: file },
    };
  } finally {
    details?.close();
    if (scratch) dropWork(scratch);
  }
}

async function* empty(): AsyncGenerator<DiffRecord> {}

function sum(tables: readonly TableDiff[], k: 'added' | 'removed' | 'changed' | 'unchanged' | 'changed_cells'): number {
  return tables.reduce((s, t) => s + t[k], 0);
}

/**
 * One table on both sides: merged as read where both sides come in the merge key's order; a side
 * that does not (known in advance, or found part way) is sorted on disk and the merge starts over,
 * its records written so far taken back.
 */
async function compareTable(plan: TablePlan, left: Snapshot, right: Snapshot, scratch: string, details: DetailFile | undefined, opts: Omit<DiffOptions, 'left' | 'right'>): Promise<TableDiff> {
  const sorted = { left: !plan.leftInOrder, right: !plan.rightInOrder };
  const kinds = plan.key.map((k) => k.kind);
  const source = (side: 'left' | 'right'): AsyncIterable<unknown[][]> => {
    const snap = side === 'left' ? left : right;
    const rows = snap.rows(side === 'left' ? plan.left : plan.right, opts.signal);
    if (!sorted[side]) return rows;
    return sortedBySpill(rows, keyReader(plan.key, side), kinds, {
      dir: scratch,
      signal: opts.signal,
      progress: (n) => opts.progress?.({ table: plan.table, phase: 'sorting', rows: n }),
    });
  };
  for (;;) {
    const mark = details?.mark();
    try {
      const counts = await mergeTable(plan, source('left'), source('right'), {
        emit: details ? (r) => details.write(r) : undefined,
        progress: (n) => opts.progress?.({ table: plan.table, phase: 'comparing', rows: n }),
        signal: opts.signal,
      });
      return tableDiff(plan, counts, { left: sorted.left ? 'sorted' : 'streamed', right: sorted.right ? 'sorted' : 'streamed' });
    } catch (e) {
      if (e instanceof OutOfOrder) {
        if (sorted[e.side]) throw new BugError(`${plan.table}: the ${e.side} side is out of order after sorting it (row ${e.row})`);
        sorted[e.side] = true;
        if (details && mark) details.truncate(mark);
        continue;
      }
      if (e instanceof DuplicateKey) {
        const snap = e.side === 'left' ? left : right;
        throw troubleError(`${snap.label}: ${plan.table}: the key ${plan.key.map((k) => k.name).join(' + ')} = (${e.key.map((k) => (k === null ? 'NULL' : JSON.stringify(k))).join(', ')}) is on more than one row`, {
          code: 'diff.duplicate-key',
          hint:
            plan.keySource === '--key'
              ? `Name columns that identify a row: --key ${plan.table}=COL1+COL2.`
              : `Match ${plan.table} by columns that identify a row with --key ${plan.table}=COL1+COL2, or check the side with forklift bundle verify.`,
        });
      }
      throw e;
    }
  }
}

function tableDiff(plan: TablePlan, c: MergeCounts, order: { left: SideOrder; right: SideOrder }): TableDiff {
  return {
    table: plan.table,
    status: 'compared',
    key: plan.key.map((k) => k.name),
    key_source: plan.keySource,
    columns: plan.columns,
    ignored: plan.ignored,
    left_rows: c.left_rows,
    right_rows: c.right_rows,
    added: c.added,
    removed: c.removed,
    changed: c.changed,
    unchanged: c.unchanged,
    changed_cells: c.changed_cells,
    order,
  };
}

/** A table on one side only: its rows counted (all added, or all removed); not listed row by row. */
async function oneSided(t: OneSidedTable, snap: Snapshot, opts: Omit<DiffOptions, 'left' | 'right'>): Promise<TableDiff> {
  let n = 0;
  for await (const b of snap.rows(t.entity, opts.signal)) {
    n += b.length;
    opts.progress?.({ table: t.table, phase: 'counting', rows: n });
  }
  const onLeft = t.side === 'left';
  return {
    table: t.table,
    status: onLeft ? 'removed' : 'added',
    key: [],
    key_source: null,
    columns: t.entity.columns.map((c) => c.name),
    ignored: [],
    left_rows: onLeft ? n : null,
    right_rows: onLeft ? null : n,
    added: onLeft ? 0 : n,
    removed: onLeft ? n : 0,
    changed: 0,
    unchanged: 0,
    changed_cells: 0,
    order: { left: onLeft ? 'streamed' : null, right: onLeft ? null : 'streamed' },
  };
}
