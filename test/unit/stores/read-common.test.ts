import { describe, expect, it } from 'vitest';
import type { Entity } from '../../../src/model/types.js';
import { describeFrom, tableDefinition, utcInstantText, type NativeColumn, type NativeTable } from '../../../src/stores/read-common.js';

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

describe('utcInstantText: an instant kept as text, as the UTC instant it names', () => {
  it('takes an offset to UTC exactly, across a day, a month and a year', () => {
    expect(utcInstantText('2025-11-03T06:00:47.000+01:00')).toBe('2025-11-03T05:00:47.000Z');
    expect(utcInstantText('2025-11-03T05:00:47.123-0530')).toBe('2025-11-03T10:30:47.123Z');
    expect(utcInstantText('2026-01-01T00:30:00+01:00')).toBe('2025-12-31T23:30:00.000Z');
    expect(utcInstantText('2024-02-29 23:00:00.5-02:00')).toBe('2024-03-01T01:00:00.500Z');
    expect(utcInstantText('0050-06-01T00:00:00Z')).toBe('0050-06-01T00:00:00.000Z');
  });

  it('gives the staging form back as it is, and other text too (for the bundle check to refuse by name)', () => {
    for (const s of ['2025-11-03T05:00:47.000Z', '2025-11-03 06:00', '2025-11-03T06:00:47', '2025-02-31T00:00:00Z', '2025-11-03T24:00:00Z', '2025-11-03T05:00:47.1234Z', '0001-01-01T00:30:00+01:00', 'infinity']) {
      expect(utcInstantText(s)).toBe(s);
    }
  });
});
