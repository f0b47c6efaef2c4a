import { describe, expect, it } from 'vitest';
import { isTablePlan, parseKeySpecs, planDiff, type TablePlan } from '../../../src/diff/plan.js';
import type { Column, Entity } from '../../../src/model/types.js';

/** The schema half of a diff: what changed in tables, columns, types and keys, and how rows will be matched. */

const c = (name: string, type: Column['type'] = 'string', extra: Partial<Column> = {}): Column => ({ name, type, required: false, ...extra });
const e = (name: string, columns: Column[], primaryKey: string[] = []): Entity => ({ name, columns, primaryKey, rules: [] });
const plan = (p: ReturnType<typeof planDiff>, table: string): TablePlan => {
  const t = p.tables.find((x) => x.table === table);
  if (!t || !isTablePlan(t)) throw new Error(`no plan for ${table}`);
  return t;
};

describe('planDiff: schema changes', () => {
  const left = [
    e('items', [c('code'), c('cost', 'decimal', { precision: 18, scale: 4 }), c('old'), c('lt', 'integer')], ['code']),
    e('gone', [c('a')], ['a']),
    e('bom', [c('parent'), c('line', 'integer'), c('qty', 'decimal', { precision: 18, scale: 6 })], ['parent', 'line']),
  ];
  const right = [
    e('items', [c('code'), c('cost', 'decimal', { precision: 18, scale: 2 }), c('lt', 'integer'), c('new', 'date')], ['code']),
    e('fresh', [c('a')], ['a']),
    e('bom', [c('parent'), c('line', 'integer'), c('qty', 'decimal', { precision: 18, scale: 6 })], ['parent']),
  ];

  it('tables only on one side, columns added and removed, type and key changes', () => {
    const p = planDiff(left, right);
    expect(p.schema).toEqual([
      { kind: 'key-changed', table: 'bom', left: ['parent', 'line'], right: ['parent'] },
      { kind: 'table-added', table: 'fresh' },
      { kind: 'table-removed', table: 'gone' },
      { kind: 'type-changed', table: 'items', column: 'cost', left: 'decimal(18,4)', right: 'decimal(18,2)' },
      { kind: 'column-removed', table: 'items', column: 'old', type: 'string' },
      { kind: 'column-added', table: 'items', column: 'new', type: 'date' },
    ]);
    const items = plan(p, 'items');
    expect(items.columns).toEqual(['code', 'cost', 'lt']);
    expect(items.values.map((v) => [v.name, v.kind])).toEqual([['cost', 'numeric'], ['lt', 'numeric']]);
    expect([items.leftInOrder, items.rightInOrder]).toEqual([true, true]);
    // Keys differ: matched by the left's key, which the right (ordered by parent only) is not in.
    const bom = plan(p, 'bom');
    expect([bom.keySource, bom.key.map((k) => k.name), bom.leftInOrder, bom.rightInOrder]).toEqual(['left primary key', ['parent', 'line'], true, false]);
  });

  it('--tables, --key and --ignore-columns', () => {
    const p = planDiff(left, right, { tables: ['items'], keys: parseKeySpecs(['items=lt+code']), ignore: ['items.old', 'new'] });
    expect(p.schema).toEqual([{ kind: 'type-changed', table: 'items', column: 'cost', left: 'decimal(18,4)', right: 'decimal(18,2)' }]);
    const items = plan(p, 'items');
    expect([items.keySource, items.key.map((k) => k.name), items.ignored, items.leftInOrder]).toEqual(['--key', ['lt', 'code'], ['old', 'new'], false]);
  });

  it('a table without a key on either side is matched by all its columns, rows may repeat', () => {
    const p = planDiff([e('log', [c('a'), c('b', 'integer')])], [e('log', [c('a'), c('b', 'integer')])]);
    const log = plan(p, 'log');
    expect([log.keySource, log.unique, log.key.map((k) => k.name), log.leftInOrder]).toEqual(['all columns', false, ['a', 'b'], true]);
  });

  it('a key column compared as text on one side and a number on the other cannot stream: it is sorted', () => {
    const p = planDiff([e('t', [c('k', 'integer')], ['k'])], [e('t', [c('k', 'string')], ['k'])]);
    const t = plan(p, 't');
    expect([t.key[0]!.kind, t.leftInOrder, t.rightInOrder]).toEqual(['text', false, true]);
  });

  it('mistakes are usage errors (exit 2) that say what to write', () => {
    const usage = (f: () => unknown, msg: RegExp): void => {
      let err: unknown;
      try {
        f();
      } catch (x) {
        err = x;
      }
      expect(err).toMatchObject({ exitCode: 2, message: expect.stringMatching(msg) });
    };
    usage(() => parseKeySpecs(['items']), /expected TABLE=COLUMN/);
    usage(() => parseKeySpecs(['items=a+']), /expected TABLE=COLUMN/);
    usage(() => planDiff(left, right, { tables: ['itemz'] }), /itemz is a table of neither side/);
    usage(() => planDiff(left, right, { keys: parseKeySpecs(['items=nope']) }), /items has no column nope on either side/);
    usage(() => planDiff(left, right, { keys: parseKeySpecs(['items=old']) }), /items has no column old on the right side/);
    usage(() => planDiff(left, right, { ignore: ['nope'] }), /no table being compared has a column nope/);
    usage(() => planDiff(left, right, { ignore: ['items.code'] }), /items\.code is part of the primary key/);
  });
});
