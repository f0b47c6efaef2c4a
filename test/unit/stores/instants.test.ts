import { describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/core/errors.js';
import type { Entity } from '../../../src/model/types.js';
import { columnDecoders, isoFraction, type NativeColumn } from '../../../src/stores/read-common.js';
import { datetimeText } from '../../../src/stores/read-mysql.js';
import { pgTimestamp } from '../../../src/stores/pg-copy-text.js';

/**
 * Instants are read with every digit the store keeps: whole milliseconds in the staging form
 * (`…SSSZ`, as before), digits below the millisecond kept, and then refused by the reader.
 */

describe('instants with digits below the millisecond', () => {
  it('keep whole milliseconds canonical and every other digit', () => {
    expect(['', '5', '12', '123', '1230', '123000', '123400', '123456', '000001'].map(isoFraction)).toEqual(['000', '500', '120', '123', '123', '123', '1234', '123456', '000001']);
    const pg: [string, string][] = [
      ['2024-01-01 12:00:00+00', '2024-01-01T12:00:00.000Z'],
      ['2024-01-01 12:00:00.5+00', '2024-01-01T12:00:00.500Z'],
      ['2024-01-01 12:00:00.123+00', '2024-01-01T12:00:00.123Z'],
      ['2024-01-01 12:00:00.123456+00', '2024-01-01T12:00:00.123456Z'],
      ['2024-01-01 12:00:00.1234', '2024-01-01T12:00:00.1234Z'],
      ['2024-01-01 14:00:00.000001+02', '2024-01-01T12:00:00.000001Z'],
      ['0044-03-15 12:00:00.25+00 BC', '-000043-03-15T12:00:00.250Z'],
      ['0044-03-15 12:00:00.000001+00 BC', '-000043-03-15T12:00:00.000001Z'],
    ];
    expect(pg.map(([v]) => pgTimestamp(v))).toEqual(pg.map(([, iso]) => iso));
    const my: [string, string][] = [
      ['2024-01-01 12:00:00', '2024-01-01T12:00:00.000Z'],
      ['2024-01-01 12:00:00.123', '2024-01-01T12:00:00.123Z'],
      ['2024-01-01 12:00:00.123000', '2024-01-01T12:00:00.123Z'],
      ['2024-01-01 12:00:00.5', '2024-01-01T12:00:00.500Z'],
      ['2024-01-01 12:00:00.123456', '2024-01-01T12:00:00.123456Z'],
    ];
    expect(my.map(([v]) => datetimeText(v))).toEqual(my.map(([, iso]) => iso));
  });

  it('are refused by the reader with the table, the column and the value', () => {
    const e: Entity = { name: 'ev', columns: [{ name: 'at', type: 'timestamp', required: false }], primaryKey: [], rules: [] };
    const native: NativeColumn[] = [{ name: 'at', nativeType: 'timestamp with time zone', kind: 'timestamp', column: e.columns[0]! }];
    const [decode] = columnDecoders(e, native, () => pgTimestamp);
    expect(decode!('2024-01-01 12:00:00.123+00')).toBe('2024-01-01T12:00:00.123Z');
    expect(decode!('infinity')).toBe('infinity');
    let err: unknown;
    try {
      decode!('2024-01-01 12:00:00.123456+00');
    } catch (x) {
      err = x;
    }
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: 'store.sub-millisecond', exitCode: 1, message: expect.stringContaining('table ev, column at: the value 2024-01-01T12:00:00.123456Z has digits below the millisecond') as unknown });
    expect((err as StoreError).hint).toContain('--tables');
  });
});
