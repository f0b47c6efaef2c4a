import { describe, expect, it } from 'vitest';
import type { Entity } from '../../../src/model/types.js';
import { describeFrom, tableDefinition, type NativeColumn, type NativeTable } from '../../../src/stores/read-common.js';

/** SQLite's catalog as its reader sees it: INTEGER or TEXT, nothing more. */
const col = (name: string, kind: 'integer' | 'text', required = false): NativeColumn => ({
  name,
  nativeType: kind === 'integer' ? 'INTEGER' : 'TEXT',
  kind,
  column: { name, type: kind === 'integer' ? 'integer' : 'text', required },
});

const items: Entity = {
  name: 'items',
  description: 'the item master',
  columns: [
    { name: 'item_code', type: 'string', length: 64, required: true },
    { name: 'standard_cost', type: 'decimal', precision: 18, scale: 4, required: false },
    { name: 'valid_from', type: 'date', required: false },
    { name: 'active', type: 'boolean', required: true },
  ],
  primaryKey: ['item_code'],
  rules: [],
};

const table = (columns: NativeColumn[]): NativeTable => ({ name: 'items', columns, primaryKey: ['item_code'], foreignKeys: [], uniques: [] });
const describe1 = (columns: NativeColumn[]): Entity => describeFrom([table(columns)], new Map([['items', tableDefinition(items)]]), { loose: true })[0]!;

describe('describeFrom: the recorded definition against the table as it stands', () => {
  const asRecorded = [col('item_code', 'text', true), col('standard_cost', 'text'), col('valid_from', 'text'), col('active', 'integer', true)];

  it('is the record where the table has exactly its columns', () => {
    expect(describe1(asRecorded)).toEqual(items);
  });

  it('keeps the record for every column still as recorded when a column is added by hand; the new one is the catalog’s', () => {
    const d = describe1([...asRecorded, col('drawing_no', 'text')]);
    expect(d.description).toBe('the item master');
    expect(d.primaryKey).toEqual(['item_code']);
    expect(d.columns).toEqual([...items.columns, { name: 'drawing_no', type: 'text', required: false }]);
  });

  it('never claims the recorded type for a column whose storage changed; a recorded column no longer there is gone', () => {
    // valid_from dropped, active re-added as TEXT (SQLite cannot alter a type in place), a column added.
    const d = describe1([col('item_code', 'text', true), col('standard_cost', 'text'), col('active', 'text'), col('note', 'text')]);
    expect(d.columns).toEqual([items.columns[0], items.columns[1], { name: 'active', type: 'text', required: false }, { name: 'note', type: 'text', required: false }]);
    expect(d.primaryKey).toEqual(['item_code']);
  });

  it('takes the catalog’s key where a recorded key column is no longer as recorded', () => {
    const d = describe1([col('item_code', 'integer', true), col('standard_cost', 'text'), col('valid_from', 'text'), col('active', 'integer', true)]);
    expect(d.columns[0]).toEqual({ name: 'item_code', type: 'integer', required: true });
    expect(d.columns.slice(1)).toEqual(items.columns.slice(1));
    expect(d.primaryKey).toEqual(['item_code']);
  });
});
