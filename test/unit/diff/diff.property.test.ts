import { rmSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { compareText } from '../../../src/bundle/order.js';
import { diffOpened } from '../../../src/diff/diff.js';
import type { Snapshot } from '../../../src/diff/snapshot.js';
import type { DiffRecord, TableDiff } from '../../../src/diff/types.js';
import { makeTimestampParser } from '../../../src/mapping/datetime.js';
import type { Column, Entity } from '../../../src/model/types.js';
import { tempDir } from '../../helpers.js';

/**
 * Property: on random pairs of tables (inserts, deletes, changes; Unicode keys with astral
 * characters, combining marks and a lone surrogate; decimal keys and values at a different scale on
 * each side; instants written in different zones), the streaming diff gives exactly what a plain
 * in-memory reference gives, whether each side arrives in canonical key order, shuffled, or with
 * one pair of rows swapped part way (both of which must take the sort-on-disk path).
 */

const scratch = tempDir('forklift-diff-prop-');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// ---- logical rows ------------------------------------------------------------------------------

type KeyKind = 'text' | 'int' | 'dec';
/** A key value: text, an integer, or a decimal in hundredths (rendered at scale 2 left, 4 right). */
type KeyVal = string | number | bigint;
interface Vals {
  amount: bigint | null; // hundredths
  at: number | null; // epoch ms
  note: string | null;
  flag: 0 | 1 | null;
  count: number | null;
}
interface Row {
  key: KeyVal[];
  vals: Vals;
}

const unit = fc.constantFrom('a', 'B', 'z', ' ', 'é', 'e\u0301', '\u0301', '😀', '𝄞', '\uFFFD', '\uE000', 'ｚ', 'Ω', '\uD800', '"', ',', '\n');
const text = fc.string({ unit, maxLength: 6 });
const keyVal = (k: KeyKind): fc.Arbitrary<KeyVal> =>
  k === 'text' ? text : k === 'int' ? fc.integer({ min: -50, max: 50 }) : fc.bigInt({ min: -5000n, max: 5000n });
const vals: fc.Arbitrary<Vals> = fc.record({
  amount: fc.option(fc.bigInt({ min: -(10n ** 14n), max: 10n ** 14n }), { freq: 5 }),
  at: fc.option(fc.integer({ min: Date.UTC(1990, 0, 1), max: Date.UTC(2040, 0, 1) }).map((ms) => ms - (ms % 1000) + (ms % 7 === 0 ? 123 : 0)), { freq: 5 }),
  note: fc.option(fc.oneof(text, fc.constant('')), { freq: 4 }),
  flag: fc.option(fc.constantFrom<0 | 1>(0, 1), { freq: 4 }),
  count: fc.option(fc.integer({ min: -1000, max: 1000 }), { freq: 4 }),
});

const canonKey = (k: KeyVal): string => (typeof k === 'string' ? `s${k}` : `n${String(k)}`);
const keyId = (key: KeyVal[]): string => JSON.stringify(key.map(canonKey));

// ---- rendering a side --------------------------------------------------------------------------

function decimalText(hundredths: bigint, scale: number): string {
  const neg = hundredths < 0n;
  const abs = (neg ? -hundredths : hundredths) * 10n ** BigInt(scale - 2);
  const s = abs.toString().padStart(scale + 1, '0');
  const body = `${s.slice(0, -scale)}.${s.slice(-scale)}`;
  return neg && abs !== 0n ? `-${body}` : body;
}

const toUtc = makeTimestampParser(undefined, undefined);
function isoWithOffset(ms: number, offsetMin: number): string {
  const local = new Date(ms + offsetMin * 60000).toISOString().slice(0, 23);
  const a = Math.abs(offsetMin);
  return `${local}${offsetMin < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}
/** An instant as a source in some zone wrote it, through forklift's parser: its staging form (UTC). */
function staged(ms: number, offsetMin: number): string {
  const r = toUtc(isoWithOffset(ms, offsetMin));
  if (!r.ok) throw new Error(r.reason);
  return r.value;
}

const col = (name: string, type: Column['type'], extra: Partial<Column> = {}): Column => ({ name, type, required: false, ...extra });

function entity(name: string, keyKinds: KeyKind[], scale: number, keyed: boolean): Entity {
  const keyCols = keyKinds.map((k, i) => col(`k${i}`, k === 'text' ? 'string' : k === 'int' ? 'integer' : 'decimal', k === 'dec' ? { precision: 20, scale, required: true } : { required: true }));
  const columns = [...keyCols, col('amount', 'decimal', { precision: 20, scale }), col('at', 'timestamp'), col('note', 'text'), col('flag', 'boolean'), col('count', 'integer')];
  return { name, columns, primaryKey: keyed ? keyCols.map((c) => c.name) : [], rules: [] };
}

function render(r: Row, kinds: KeyKind[], scale: number, offset: number): unknown[] {
  const key = r.key.map((k, i) => (kinds[i] === 'dec' ? decimalText(k as bigint, scale) : k));
  const v = r.vals;
  return [...key, v.amount === null ? null : decimalText(v.amount, scale), v.at === null ? null : staged(v.at, offset), v.note, v.flag, v.count];
}

/** Canonical order of logical rows (what a store or bundle gives): keys, then (keyless) every column. */
function compareRows(a: Row, b: Row, kinds: KeyKind[], keyed: boolean): number {
  for (let i = 0; i < kinds.length; i++) {
    const x = a.key[i]!;
    const y = b.key[i]!;
    const c = typeof x === 'string' ? compareText(x, y as string) : x < (y as number | bigint) ? -1 : x > (y as number | bigint) ? 1 : 0;
    if (c) return c;
  }
  if (keyed) return 0;
  const va = a.vals;
  const vb = b.vals;
  const nul = (x: unknown, y: unknown): number | undefined => (x === null ? (y === null ? 0 : -1) : y === null ? 1 : undefined);
  const num = (x: bigint | number | null, y: bigint | number | null): number => nul(x, y) ?? (x! < y! ? -1 : x! > y! ? 1 : 0);
  return (
    num(va.amount, vb.amount) ||
    num(va.at, vb.at) || // UTC text of years 1990-2040 sorts by time
    (nul(va.note, vb.note) ?? compareText(va.note!, vb.note!)) ||
    num(va.flag, vb.flag) ||
    num(va.count, vb.count)
  );
}

type Order = 'sorted' | 'shuffled' | 'one-swap';

function arrange<T>(rows: T[], order: Order, cmp: (a: T, b: T) => number, seed: number): T[] {
  const sorted = [...rows].sort(cmp);
  if (order === 'sorted') return sorted;
  if (order === 'one-swap') {
    if (sorted.length < 2) return sorted;
    const i = seed % (sorted.length - 1);
    [sorted[i], sorted[i + 1]] = [sorted[i + 1]!, sorted[i]!];
    return sorted;
  }
  let s = seed || 1;
  const out = [...rows];
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function snapshot(side: 'LEFT' | 'RIGHT', tables: { entity: Entity; rows: unknown[][] }[], batch: number): Snapshot {
  return {
    description: { kind: 'store', store: 'sqlite', url: `memory:${side}` },
    label: side,
    entities: tables.map((t) => t.entity),
    async *rows(e) {
      const rows = tables.find((t) => t.entity.name === e.name)!.rows;
      for (let i = 0; i < rows.length; i += batch) yield rows.slice(i, i + batch).map((r) => [...r]);
    },
    close: async () => {},
  };
}

// ---- the reference ------------------------------------------------------------------------------

const text2 = (v: unknown, type: Column['type']): string | null => (v === null ? null : type === 'boolean' ? (v === 1 ? 'true' : 'false') : String(v));

function reference(name: string, le: Entity, re: Entity, left: unknown[][], right: unknown[][], lrows: Row[], rrows: Row[], keyed: boolean): { counts: Omit<TableDiff, 'table' | 'status' | 'key' | 'key_source' | 'columns' | 'ignored' | 'order'>; records: string[] } {
  const nKey = le.primaryKey.length || le.columns.length;
  const records: DiffRecord[] = [];
  const cells = (e: Entity, row: unknown[], from: number, to: number): (string | null)[] => row.slice(from, to).map((v, i) => text2(v, e.columns[from + i]!.type));
  const counts = { left_rows: left.length, right_rows: right.length, added: 0, removed: 0, changed: 0, unchanged: 0, changed_cells: 0 };
  if (keyed) {
    const L = new Map(lrows.map((r, i) => [keyId(r.key), i]));
    const R = new Map(rrows.map((r, i) => [keyId(r.key), i]));
    for (const [k, i] of L) {
      const j = R.get(k);
      if (j === undefined) {
        counts.removed++;
        records.push({ kind: 'removed', table: name, key: cells(le, left[i]!, 0, nKey), values: cells(le, left[i]!, nKey, le.columns.length) });
        continue;
      }
      const a = lrows[i]!.vals;
      const b = rrows[j]!.vals;
      const diffs = (['amount', 'at', 'note', 'flag', 'count'] as const).filter((c) => a[c] !== b[c]);
      if (!diffs.length) counts.unchanged++;
      else {
        counts.changed++;
        counts.changed_cells += diffs.length;
        for (const c of diffs) {
          const p = le.columns.findIndex((x) => x.name === c);
          records.push({ kind: 'changed', table: name, key: cells(le, left[i]!, 0, nKey), column: c, left: text2(left[i]![p], le.columns[p]!.type), right: text2(right[j]![p], re.columns[p]!.type) });
        }
      }
    }
    for (const [k, j] of R) {
      if (L.has(k)) continue;
      counts.added++;
      records.push({ kind: 'added', table: name, key: cells(re, right[j]!, 0, nKey), values: cells(re, right[j]!, nKey, re.columns.length) });
    }
  } else {
    // A multiset of whole rows: each row is its own key.
    const id = (r: Row): string => JSON.stringify([r.key.map(canonKey), r.vals.amount?.toString() ?? null, r.vals.at, r.vals.note, r.vals.flag, r.vals.count]);
    const L = new Map<string, number[]>();
    lrows.forEach((r, i) => L.set(id(r), [...(L.get(id(r)) ?? []), i]));
    const R = new Map<string, number[]>();
    rrows.forEach((r, i) => R.set(id(r), [...(R.get(id(r)) ?? []), i]));
    for (const [k, is] of L) {
      const js = R.get(k) ?? [];
      counts.unchanged += Math.min(is.length, js.length);
      for (const i of is.slice(js.length)) {
        counts.removed++;
        records.push({ kind: 'removed', table: name, key: cells(le, left[i]!, 0, nKey), values: [] });
      }
    }
    for (const [k, js] of R) {
      const is = L.get(k) ?? [];
      for (const j of js.slice(is.length)) {
        counts.added++;
        records.push({ kind: 'added', table: name, key: cells(re, right[j]!, 0, nKey), values: [] });
      }
    }
  }
  return { counts, records: records.map((r) => JSON.stringify(r)).sort() };
}

// ---- the property ------------------------------------------------------------------------------

const tableCase = (keyed: boolean) =>
  fc
    .array(fc.constantFrom<KeyKind>('text', 'int', 'dec'), { minLength: 1, maxLength: 2 })
    .chain((kinds) =>
      fc.record({
        kinds: fc.constant(kinds),
        base: keyed
          ? fc.uniqueArray(fc.record({ key: fc.tuple(...kinds.map(keyVal)), vals }), { maxLength: 40, selector: (r) => keyId(r.key) })
          : fc.array(fc.record({ key: fc.tuple(...kinds.map(keyVal)), vals }), { maxLength: 30 }),
        deletes: fc.array(fc.boolean(), { minLength: 40, maxLength: 40 }),
        changes: fc.array(fc.option(vals, { freq: 2 }), { minLength: 40, maxLength: 40 }),
        partial: fc.array(fc.constantFrom<(keyof Vals)[]>(['amount'], ['at'], ['note'], ['flag', 'count'], ['amount', 'note', 'at', 'flag', 'count']), { minLength: 40, maxLength: 40 }),
        inserts: fc.array(fc.record({ key: fc.tuple(...kinds.map(keyVal)), vals }), { maxLength: 15 }),
        duplicates: fc.array(fc.nat(39), { maxLength: keyed ? 0 : 5 }),
        leftOrder: fc.constantFrom<Order>('sorted', 'sorted', 'shuffled', 'one-swap'),
        rightOrder: fc.constantFrom<Order>('sorted', 'sorted', 'shuffled', 'one-swap'),
        offsets: fc.array(fc.integer({ min: -12 * 4, max: 14 * 4 }).map((q) => q * 15), { minLength: 2, maxLength: 2 }),
        seed: fc.nat(),
        batch: fc.integer({ min: 1, max: 7 }),
      }),
    );

describe('forklift diff against an in-memory reference (property)', () => {
  it('keyed and keyless tables, in order or not, decimals at two scales, instants in two zones', async () => {
    await fc.assert(
      fc.asyncProperty(tableCase(true), tableCase(false), async (kc, lc) => {
        const build = (c: typeof kc, keyed: boolean, name: string) => {
          const lrows: Row[] = c.base.map((r) => ({ key: [...r.key], vals: r.vals }));
          let rrows: Row[] = [];
          lrows.forEach((r, i) => {
            if (c.deletes[i]) return;
            const ch = c.changes[i];
            if (!ch) {
              rrows.push(r);
              return;
            }
            const v = { ...r.vals };
            for (const f of c.partial[i]!) (v as Record<string, unknown>)[f] = ch[f];
            rrows.push({ key: r.key, vals: v });
          });
          const taken = new Set(keyed ? lrows.map((r) => keyId(r.key)) : []);
          for (const ins of c.inserts) {
            if (keyed && taken.has(keyId(ins.key))) continue;
            taken.add(keyId(ins.key));
            rrows.push({ key: [...ins.key], vals: ins.vals });
          }
          if (!keyed) for (const d of c.duplicates) if (lrows[d % Math.max(1, lrows.length)]) rrows.push(lrows[d % lrows.length]!);
          const cmp = (a: Row, b: Row): number => compareRows(a, b, c.kinds, keyed);
          const la = arrange(lrows, c.leftOrder, cmp, c.seed);
          rrows = arrange(rrows, c.rightOrder, cmp, c.seed + 7);
          const le = entity(name, c.kinds, 2, keyed);
          const re = entity(name, c.kinds, 4, keyed);
          const left = la.map((r) => render(r, c.kinds, 2, c.offsets[0]!));
          const right = rrows.map((r) => render(r, c.kinds, 4, c.offsets[1]!));
          const inOrder = (rows: Row[]): boolean => rows.every((r, i) => i === 0 || (keyed ? cmp(rows[i - 1]!, r) < 0 : cmp(rows[i - 1]!, r) <= 0));
          return { le, re, left, right, ref: reference(name, le, re, left, right, la, rrows, keyed), leftSorted: !inOrder(la), rightSorted: !inOrder(rrows) };
        };
        const a = build(kc, true, 'keyed');
        const b = build(lc, false, 'keyless');
        const L = snapshot('LEFT', [{ entity: a.le, rows: a.left }, { entity: b.le, rows: b.left }], kc.batch);
        const R = snapshot('RIGHT', [{ entity: a.re, rows: a.right }, { entity: b.re, rows: b.right }], lc.batch);
        const run = await diffOpened(L, R, { details: true, scratchDir: scratch });
        try {
          const got: string[] = [];
          for await (const r of run.records()) got.push(JSON.stringify(r));
          for (const [t, x] of [[run.result.tables[0]!, a], [run.result.tables[1]!, b]] as const) {
            const { left_rows, right_rows, added, removed, changed, unchanged, changed_cells } = t;
            expect({ left_rows, right_rows, added, removed, changed, unchanged, changed_cells }).toEqual(x.ref.counts);
            expect(got.filter((g) => (JSON.parse(g) as DiffRecord).table === t.table).sort()).toEqual(x.ref.records);
            expect(t.order).toEqual({ left: x.leftSorted ? 'sorted' : 'streamed', right: x.rightSorted ? 'sorted' : 'streamed' });
          }
          // Decimal scales differ, so the schema says so; values compare by value all the same.
          expect(run.result.schema.some((s) => s.kind === 'type-changed' && s.column === 'amount')).toBe(true);
          expect(run.result.tables[0]!.key_source).toBe('primary key');
          expect(run.result.tables[1]!.key_source).toBe('all columns');
        } finally {
          run.dispose();
        }
      }),
      { numRuns: 150 },
    );
  });
});
