import { describe, expect, it } from 'vitest';
import { bundleValueCheck } from '../../../src/bundle/bundle-values.js';
import { StoreError } from '../../../src/core/errors.js';
import type { Column } from '../../../src/model/types.js';
import { mysqlNativeColumn, mysqlWideSql, type MysqlColumnRow } from '../../../src/stores/read-mysql.js';

/**
 * A value a bundle has no form for is refused as an export reads it (a StoreError naming table,
 * column and value), never passed on for the bundle writer to call a bug: a boolean column
 * holding 2, an integer beyond 64 bits, a date or instant that is `infinity`. And the MariaDB
 * columns that are described by what they hold.
 */

function check(column: Column, ...values: unknown[]): void {
  bundleValueCheck({ name: 't', columns: [{ name: 'id', type: 'integer', required: true }, column], primaryKey: ['id'], rules: [] })!(values.map((v, i) => [i, v]));
}

/** The StoreError the check throws, matched by its message and hint. */
const refused = (message: RegExp, hint = /--tables/): unknown => expect.objectContaining({ constructor: StoreError, message: expect.stringMatching(message) as unknown, hint: expect.stringMatching(hint) as unknown });

describe('values a bundle has no form for', () => {
  it('text holds no NUL character (PostgreSQL cannot store it, verify refuses it)', () => {
    const t: Column = { name: 't', type: 'text', required: false };
    check(t, 'x', '', null);
    expect(() => check(t, 'ok', 'x\u0000y')).toThrow(refused(/^table t, column t, row id = 1: the value x\\u0000y holds the NUL character/, /replace\(t, char\(0\), ''\)/));
    expect(() => check({ name: 's', type: 'string', length: 8, required: false }, 'a\u0000')).toThrow(refused(/holds the NUL character/));
  });

  it("an enum column holds its values only (not MariaDB's '' for a value its ENUM refused)", () => {
    const e: Column = { name: 'e', type: 'enum', values: ['x', 'y'], required: false };
    check(e, 'x', 'y', null);
    expect(() => check(e, 'x', '')).toThrow(refused(/^table t, column e, row id = 1: the value '' is not one of x, y/, /UPDATE t SET e = NULL WHERE e = ''/));
  });

  it('an integer column holds whole numbers (SQLite keeps text in one another tool wrote to)', () => {
    expect(() => check({ name: 'n', type: 'integer', required: false }, 1, 'abc')).toThrow(refused(/^table t, column n, row id = 1: the value abc is not a whole number/));
  });

  it('a primary-key or required column is never missing (SQLite lets a text PRIMARY KEY hold NULL)', () => {
    const keyed = (rows: unknown[][]): void => bundleValueCheck({ name: 'c', columns: [{ name: 'id', type: 'string', required: false }, { name: 'v', type: 'integer', required: false }], primaryKey: ['id'], rules: [] })!(rows);
    keyed([['a', 1]]);
    expect(() => keyed([['a', 1], [null, 2]])).toThrow(refused(/^table c, column id, row id = NULL: the value is missing \(NULL\) in a primary-key column/, /WHERE id IS NULL/));
    expect(() => check({ name: 'r', type: 'date', required: true }, null)).toThrow(refused(/column r, row id = 0: the value is missing \(NULL\) in a required column/));
  });

  it('a boolean column holds 1 and 0 only', () => {
    const flag: Column = { name: 'flag', type: 'boolean', required: false };
    check(flag, 1, 0, null);
    expect(() => check(flag, 1, 2)).toThrow(refused(/^table t, column flag, row id = 1: the value 2 is neither true \(1\) nor false \(0\)/));
  });

  it('an integer column holds 64-bit integers only', () => {
    const n: Column = { name: 'n', type: 'integer', required: false };
    check(n, '9223372036854775807', '-9223372036854775808', 5);
    expect(() => check(n, '18446744073709551615')).toThrow(refused(/^table t, column n, row id = 0: the value 18446744073709551615 is beyond a 64-bit integer/));
  });

  it('dates and instants are points in time of the years 0001 to 9999, which the Arrow file holds', () => {
    check({ name: 'at', type: 'timestamp', required: false }, '0001-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z');
    check({ name: 'on', type: 'date', required: false }, '0001-01-01', '9999-12-31');
    // Beyond them the Arrow writer took the value for forklift's own bug ("internal error").
    for (const [type, v] of [['timestamp', '-000043-03-15T12:00:00.250Z'], ['date', '+010000-01-01'], ['date', '0000-01-01'], ['timestamp', '0000-12-31T00:00:00.000Z'], ['date', '-000100-01-01']] as const) {
      expect(() => check({ name: 'on', type, required: false }, v), v).toThrow(refused(/is outside the years 0001 to 9999, which the bundle cannot hold/, /of the years 0001 to 9999/));
    }
    // The row by its key, and how to correct it there.
    expect(() => check({ name: 'on', type: 'date', required: false }, '2024-01-01', '-000043-03-15')).toThrow(
      refused(/^table t, column on, row id = 1: the value -000043-03-15 is outside the years 0001 to 9999/, /or to NULL where it means "no date" \(UPDATE t SET on = NULL WHERE id = 1\)/),
    );
    const byCode = (v: unknown): void =>
      bundleValueCheck({ name: 'cal', columns: [{ name: 'plant', type: 'string', required: true }, { name: 'day', type: 'date', required: true }, { name: 'code', type: 'string', required: true }], primaryKey: ['plant', 'code'], rules: [] })!([['P1', v, "O'Neil"]]);
    // A required column is corrected, not emptied.
    expect(() => byCode('+012000-01-01')).toThrow(refused(/^table cal, column day, row plant = 'P1' AND code = 'O''Neil': the value \+012000-01-01/, /9999 \(UPDATE cal SET day = … WHERE plant = 'P1' AND code = 'O''Neil'\)/));
    // A table without a key names no row.
    expect(() => bundleValueCheck({ name: 'log', columns: [{ name: 'at', type: 'timestamp', required: false }], primaryKey: [], rules: [] })!([['infinity']])).toThrow(refused(/^table log, column at: the value infinity/));
    expect(() => check({ name: 'at', type: 'timestamp', required: false }, 'infinity')).toThrow(refused(/^table t, column at, row id = 0: the value infinity is not a point in time/));
    expect(() => check({ name: 'on', type: 'date', required: false }, '-infinity')).toThrow(refused(/^table t, column on, row id = 0: the value -infinity/, /UPDATE t SET on = NULL/));
  });

  it("a decimal column holds numbers only (not PostgreSQL's NaN); a date, no zero date", () => {
    check({ name: 'd', type: 'decimal', precision: 10, scale: 3, required: false }, '1.500', '-0.001', null);
    expect(() => check({ name: 'd', type: 'decimal', precision: 10, scale: 3, required: false }, 'NaN')).toThrow(refused(/^table t, column d, row id = 0: the value NaN is not a number/, /= 'NaN'/));
    for (const zero of ['0000-00-00', '2020-00-15', '2020-03-00', '0000-00-00T00:00:00.000Z']) {
      expect(() => check({ name: 'on', type: zero.length > 10 ? 'timestamp' : 'date', required: false }, zero)).toThrow(refused(/is a zero date/, /LIKE '%-00%'/));
    }
    check({ name: 'on', type: 'date', required: false }, '2020-10-10');
  });

  it('other text in a date or timestamp column (another tool wrote into a SQLite table forklift made) is refused, not taken for a bug', () => {
    for (const v of ['2025-11-03 06:30', '2025-02-31', '2025-1-5', '20251103', '2025-11-03T06:30:00Z', '2025-11-03']) {
      const type = v.length > 10 || v === '2025-11-03' ? 'timestamp' : 'date';
      expect(() => check({ name: 'ts', type, required: false }, v), v).toThrow(refused(type === 'date' ? /^table t, column ts, row id = 0: the value .* is not a day of the calendar written YYYY-MM-DD/ : /is not an instant of the calendar written YYYY-MM-DDTHH:mm:ss\.SSSZ/, /or to NULL where it means "no date" \(UPDATE t SET ts = NULL WHERE id = 0\)/));
    }
    check({ name: 'ts', type: 'timestamp', required: false }, '2024-02-29T23:59:59.999Z');
    check({ name: 'on', type: 'date', required: false }, '2024-02-29');
  });

});

describe('MariaDB columns described by what they hold', () => {
  const row = (c: string, dt: string, ct: string): MysqlColumnRow => ({ t: 'm', c, dt, ct, len: null, p: null, s: null, nl: 'YES', cs: null, cm: null });
  const cols = [row('flag', 'tinyint', 'tinyint(1)'), row('n', 'int', 'int(11)'), row('big', 'bigint', 'bigint(20) unsigned')];

  it('probes tinyint(1) and bigint unsigned columns in one query, others not at all', () => {
    expect(mysqlWideSql('m', cols)).toEqual({
      sql: 'SELECT COALESCE(MAX(`flag` NOT IN (0, 1)), 0) AS w0, COALESCE(MAX(`big` > 9223372036854775807), 0) AS w1 FROM `m`',
      columns: ['flag', 'big'],
    });
    expect(mysqlWideSql('m', [cols[1]!])).toBeUndefined();
  });

  it('a wide tinyint(1) is an integer, a wide bigint unsigned decimal(20,0); a decimal beyond precision 38 is text', () => {
    expect([mysqlNativeColumn(cols[0]!).column.type, mysqlNativeColumn(cols[0]!, true).column.type]).toEqual(['boolean', 'integer']);
    expect(mysqlNativeColumn(cols[2]!).column.type).toBe('integer');
    expect(mysqlNativeColumn(cols[2]!, true).column).toMatchObject({ type: 'decimal', precision: 20, scale: 0 });
    const wideDecimal = mysqlNativeColumn({ ...row('amount', 'decimal', 'decimal(65,30)'), p: 65, s: 30 });
    expect([wideDecimal.kind, wideDecimal.column.type]).toEqual(['other', 'text']);
  });
});
