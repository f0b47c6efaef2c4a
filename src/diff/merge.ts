import { cellText, compareIn, equalIn, normalizer } from './canonical.js';
import type { ColumnPlan, TablePlan } from './plan.js';
import type { Cell, DiffRecord } from './types.js';

/**
 * The streaming merge of one table: both sides in the merge key's canonical order, read batch by
 * batch, rows matched by key (added, removed, changed, unchanged), the changed cells given to
 * `emit` as records. Memory holds a batch of each side, nothing more. The order is never trusted:
 * each row's key is checked against the one before it, and a side out of order stops the merge
 * with OutOfOrder (the caller sorts that side on disk and merges again); a repeated key, where the
 * key should identify a row, is a DuplicateKey.
 */

export class OutOfOrder extends Error {
  constructor(
    readonly side: 'left' | 'right',
    readonly row: number,
  ) {
    super(`${side} side out of key order at row ${row}`);
    this.name = 'OutOfOrder';
  }
}

export class DuplicateKey extends Error {
  constructor(
    readonly side: 'left' | 'right',
    readonly row: number,
    readonly key: Cell[],
  ) {
    super(`${side} side: the key (${key.map((k) => (k === null ? 'NULL' : k)).join(', ')}) repeats at row ${row}`);
    this.name = 'DuplicateKey';
  }
}

export interface MergeCounts {
  left_rows: number;
  right_rows: number;
  added: number;
  removed: number;
  changed: number;
  unchanged: number;
  changed_cells: number;
}

export interface MergeOptions {
  emit?: ((r: DiffRecord) => void) | undefined;
  /** Rows read on both sides so far, after each batch. */
  progress?: ((rows: number) => void) | undefined;
  signal?: AbortSignal | undefined;
}

/** A side's key of a row, in the merge's kinds (numbers, or canonical text). */
export function keyReader(key: readonly ColumnPlan[], side: 'left' | 'right'): (row: readonly unknown[]) => unknown[] {
  const pos = key.map((k) => (side === 'left' ? k.leftPos : k.rightPos));
  const norm = key.map((k) => normalizer(side === 'left' ? k.leftType : k.rightType, k.kind));
  if (pos.length === 1) {
    const p0 = pos[0]!;
    const n0 = norm[0]!;
    return (row) => [n0(row[p0])];
  }
  if (pos.length === 2) {
    const [p0, p1] = pos as [number, number];
    const [n0, n1] = norm as [(v: unknown) => unknown, (v: unknown) => unknown];
    return (row) => [n0(row[p0]), n1(row[p1])];
  }
  return (row) => pos.map((p, i) => norm[i]!(row[p]));
}

/**
 * Compares a row of side `a` with a row of side `b` by the key, each value normalized to the
 * merge's kind on the fly (no array per row: a million rows make no garbage here).
 */
export function rowComparer(key: readonly ColumnPlan[], a: 'left' | 'right', b: 'left' | 'right'): (x: readonly unknown[], y: readonly unknown[]) => number {
  const cols = key.map((k) => ({
    pa: a === 'left' ? k.leftPos : k.rightPos,
    pb: b === 'left' ? k.leftPos : k.rightPos,
    na: normalizer(a === 'left' ? k.leftType : k.rightType, k.kind),
    nb: normalizer(b === 'left' ? k.leftType : k.rightType, k.kind),
    cmp: compareIn(k.kind),
  }));
  const n = cols.length;
  return (x, y) => {
    for (let i = 0; i < n; i++) {
      const c = cols[i]!;
      const r = c.cmp(c.na(x[c.pa]), c.nb(y[c.pb]));
      if (r !== 0) return r;
    }
    return 0;
  };
}

class Cursor {
  cur: unknown[] | undefined;
  rows = 0;
  private batch: unknown[][] = [];
  private i = 0;
  private ended = false;
  private readonly it: AsyncIterator<unknown[][]>;

  constructor(
    source: AsyncIterable<unknown[][]>,
    /** The side's own rows compared by the key (the order check). */
    private readonly cmp: (a: readonly unknown[], b: readonly unknown[]) => number,
    private readonly unique: boolean,
    private readonly side: 'left' | 'right',
    private readonly keyText: (row: readonly unknown[]) => Cell[],
  ) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** The next row of the batch in hand; false when that batch is used up (then call next). */
  nextSync(): boolean {
    if (this.i >= this.batch.length) return false;
    this.take(this.batch[this.i++]!);
    return true;
  }

  async next(): Promise<void> {
    while (this.i >= this.batch.length) {
      if (this.ended) {
        this.cur = undefined;
        return;
      }
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        this.cur = undefined;
        return;
      }
      this.batch = r.value;
      this.i = 0;
    }
    this.take(this.batch[this.i++]!);
  }

  private take(row: unknown[]): void {
    this.rows++;
    if (this.cur !== undefined) {
      const c = this.cmp(this.cur, row);
      if (c > 0) throw new OutOfOrder(this.side, this.rows);
      if (c === 0 && this.unique) throw new DuplicateKey(this.side, this.rows, this.keyText(row));
    }
    this.cur = row;
  }

  async close(): Promise<void> {
    this.cur = undefined;
    await this.it.return?.();
  }
}

export async function mergeTable(plan: TablePlan, left: AsyncIterable<unknown[][]>, right: AsyncIterable<unknown[][]>, opts: MergeOptions = {}): Promise<MergeCounts> {
  const cmp = rowComparer(plan.key, 'left', 'right');
  const leftKeyText = cellsOf(plan.key, 'left');
  const rightKeyText = cellsOf(plan.key, 'right');
  const L = new Cursor(left, rowComparer(plan.key, 'left', 'left'), plan.unique, 'left', leftKeyText);
  const R = new Cursor(right, rowComparer(plan.key, 'right', 'right'), plan.unique, 'right', rightKeyText);
  const values = plan.values.map((v) => ({
    name: v.name,
    lp: v.leftPos,
    rp: v.rightPos,
    ln: normalizer(v.leftType, v.kind),
    rn: normalizer(v.rightType, v.kind),
    eq: equalIn(v.kind),
    lt: cellText(v.leftType),
    rt: cellText(v.rightType),
  }));
  const leftValues = cellsOf(plan.values, 'left');
  const rightValues = cellsOf(plan.values, 'right');
  const emit = opts.emit;
  const table = plan.table;
  const counts: MergeCounts = { left_rows: 0, right_rows: 0, added: 0, removed: 0, changed: 0, unchanged: 0, changed_cells: 0 };
  let seen = 0;
  const tick = (): void => {
    const n = L.rows + R.rows;
    if (n - seen >= 10_000) {
      seen = n;
      opts.signal?.throwIfAborted();
      opts.progress?.(n);
    }
  };
  try {
    await L.next();
    await R.next();
    for (;;) {
      const l = L.cur;
      const r = R.cur;
      if (l === undefined && r === undefined) break;
      const c = l === undefined ? 1 : r === undefined ? -1 : cmp(l, r);
      if (c < 0) {
        counts.removed++;
        if (emit) emit({ kind: 'removed', table, key: leftKeyText(l!), values: leftValues(l!) });
        if (!L.nextSync()) await L.next();
      } else if (c > 0) {
        counts.added++;
        if (emit) emit({ kind: 'added', table, key: rightKeyText(r!), values: rightValues(r!) });
        if (!R.nextSync()) await R.next();
      } else {
        let changed = 0;
        let key: Cell[] | undefined;
        for (const v of values) {
          const a = l![v.lp];
          const b = r![v.rp];
          if (v.eq(v.ln(a), v.rn(b))) continue;
          changed++;
          if (emit) emit({ kind: 'changed', table, key: (key ??= leftKeyText(l!)), column: v.name, left: v.lt(a), right: v.rt(b) });
        }
        if (changed) {
          counts.changed++;
          counts.changed_cells += changed;
        } else counts.unchanged++;
        if (!L.nextSync()) await L.next();
        if (!R.nextSync()) await R.next();
      }
      tick();
    }
  } finally {
    await Promise.all([L.close(), R.close()]);
  }
  counts.left_rows = L.rows;
  counts.right_rows = R.rows;
  opts.progress?.(L.rows + R.rows);
  return counts;
}

/** The canonical text of some columns of a side's row. */
function cellsOf(cols: readonly ColumnPlan[], side: 'left' | 'right'): (row: readonly unknown[]) => Cell[] {
  const pos = cols.map((c) => (side === 'left' ? c.leftPos : c.rightPos));
  const text = cols.map((c) => cellText(side === 'left' ? c.leftType : c.rightType));
  return (row) => pos.map((p, i) => text[i]!(row[p]));
}
