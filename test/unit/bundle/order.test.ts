import { describe, expect, it } from 'vitest';
import { parseMillis } from '../../../src/bundle/arrow.js';
import { compareText, compareValues } from '../../../src/bundle/order.js';

/** The canonical order of key values (bundle/order.ts), as export, verify and diff check it. */
describe('canonical key order', () => {
  it('orders dates and timestamps by time, nulls first, as their text in code point order', () => {
    const ts = compareValues('timestamp');
    const stamps = [null, '0001-01-01T00:00:00.000Z', '1969-12-31T23:59:59.999Z', '1970-01-01T00:00:00.000Z', '2038-01-19T03:14:08.001Z', '9999-12-31T23:59:59.999Z'];
    for (const [i, a] of stamps.entries()) {
      for (const [j, b] of stamps.entries()) {
        expect(Math.sign(ts(a, b)), `${a} against ${b}`).toBe(Math.sign(i - j));
        if (a !== null && b !== null) expect(Math.sign(ts(a, b))).toBe(Math.sign(compareText(a, b)));
      }
    }
    const day = compareValues('date');
    expect([day('2025-11-02', '2025-11-03'), day('2025-11-03', '2025-11-03'), day('2025-12-01', '2025-11-30'), day(null, '0001-01-01')].map(Math.sign)).toEqual([-1, 0, 1, -1]);
  });

  it('orders text by code point, not by UTF-16 code unit (an astral character after U+FFFD)', () => {
    const text = compareValues('string');
    expect(Math.sign(text('\u{1f600}', '\ufffd'))).toBe(1);
    expect('\u{1f600}' < '\ufffd').toBe(true);
  });
});

describe('parseMillis', () => {
  it('reads each instant exactly, whether its day repeats the one before or not', () => {
    const instants = ['2025-11-02T23:00:00.000Z', '2025-11-02T23:59:59.999Z', '2025-11-03T00:00:00.000Z', '2025-11-02T00:00:00.001Z', '1969-12-31T23:59:59.999Z', '0001-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z'];
    for (const s of [...instants, ...instants.reverse()]) expect(parseMillis(s), s).toBe(Date.parse(s));
    // A day that does not exist is no instant, before and after a valid one of a similar day.
    for (const [s, valid] of [
      ['2025-02-28T00:00:00.000Z', true],
      ['2025-02-29T00:00:00.000Z', false],
      ['2024-02-29T00:00:00.000Z', true],
      ['2025-02-29T00:00:00.000Z', false],
      ['2025-11-02T24:00:00.000Z', false],
      ['2025-11-02 23:00:00.000Z', false],
    ] as const) {
      expect(parseMillis(s), s).toBe(valid ? Date.parse(s) : NaN);
    }
  });
});
