import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { toDecimal } from '../../../src/mapping/decimal.js';

describe('toDecimal', () => {
  it('keeps the column scale exactly', () => {
    expect(toDecimal('1234.56', undefined, 18, 4)).toEqual({ ok: true, value: '1234.5600' });
    expect(toDecimal('0.620', undefined, 18, 6)).toEqual({ ok: true, value: '0.620000' });
    expect(toDecimal('-0.00', undefined, 18, 2)).toEqual({ ok: true, value: '0.00' });
    expect(toDecimal('007.5', undefined, 18, 1)).toEqual({ ok: true, value: '7.5' });
  });
  it('reads a decimal comma with thousands dots, and refuses bad groups', () => {
    expect(toDecimal('1.234,5600', ',', 18, 4)).toEqual({ ok: true, value: '1234.5600' });
    expect(toDecimal('12,5', ',', 18, 2)).toEqual({ ok: true, value: '12.50' });
    expect(toDecimal('1.23,4', ',', 18, 2).ok).toBe(false);
    expect(toDecimal('2,666', '.', 18, 0)).toEqual({ ok: true, value: '2666' });
  });
  it('takes a space only between groups of three digits, never gluing other digits together', () => {
    expect(toDecimal('1 234 567,89', ',', 18, 2)).toEqual({ ok: true, value: '1234567.89' });
    expect(toDecimal('1\u00a0234.5', undefined, 18, 2)).toEqual({ ok: true, value: '1234.50' });
    expect(toDecimal('-12\u202f345', undefined, 18, 0)).toEqual({ ok: true, value: '-12345' });
    expect(toDecimal(' 42 ', undefined, 18, 0)).toEqual({ ok: true, value: '42' });
    for (const glued of ['1 5', '12 34.5', '1.5 0', '1234 567', '1 23', '1 234,5 6']) {
      const r = toDecimal(glued, glued.includes(',') ? ',' : undefined, 18, 4);
      expect(r.ok, glued).toBe(false);
      if (!r.ok) expect(r.reason, glued).toMatch(/space inside a number is taken only between groups of three digits/);
    }
  });
  it('suggests decimal: "," for a decimal comma without the key', () => {
    const r = toDecimal('12,50', undefined, 18, 2);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/decimal: ","/);
  });
  it('refuses digits that would be lost and numbers too large', () => {
    expect(toDecimal('1.23456', undefined, 18, 4)).toEqual({ ok: false, problem: 'places', reason: 'has more than 4 decimal places' });
    expect(toDecimal('1.23450000', undefined, 18, 4)).toEqual({ ok: true, value: '1.2345' });
    expect(toDecimal('12345678901234567', undefined, 18, 2).ok).toBe(false);
  });
  it('a fraction below 1 fits a decimal whose digits are all places: 0.5 in decimal(4,4)', () => {
    expect(toDecimal('0.5', undefined, 4, 4)).toEqual({ ok: true, value: '0.5000' });
    expect(toDecimal('-,25', ',', 4, 4)).toEqual({ ok: true, value: '-0.2500' });
    expect(toDecimal('5e-1', undefined, 4, 4)).toEqual({ ok: true, value: '0.5000' });
    expect(toDecimal('1.5', undefined, 4, 4)).toEqual({ ok: false, problem: 'size', reason: 'is too large for decimal(4,4)' });
  });
  it('expands exponents exactly', () => {
    expect(toDecimal('1.5E+3', undefined, 18, 2)).toEqual({ ok: true, value: '1500.00' });
    expect(toDecimal('1e-7', undefined, 18, 8)).toEqual({ ok: true, value: '0.00000010' });
    expect(toDecimal('-0.0012345E+4', undefined, 18, 3)).toEqual({ ok: true, value: '-12.345' });
    expect(toDecimal('1,5e3', ',', 18, 0)).toEqual({ ok: true, value: '1500' });
    expect(toDecimal('-0e999999999999999999999', undefined, 18, 2)).toEqual({ ok: true, value: '0.00' });
    expect(toDecimal('12.5e-1', undefined)).toEqual({ ok: true, value: '1.25' });
  });
  it('refuses an exponent whose digits do not fit, without writing them out', () => {
    // `1e-900000000` written out is 900 million zeros: the process ran out of memory after a minute
    const huge = '9'.repeat(400);
    expect(toDecimal(`1e-${huge}`, undefined, 18, 4)).toEqual({ ok: false, problem: 'places', reason: 'has more than 4 decimal places' });
    expect(toDecimal(`1e${huge}`, undefined, 18, 4)).toEqual({ ok: false, problem: 'size', reason: 'is too large for decimal(18,4)' });
    expect(toDecimal('1e-99999999999999999', undefined, 18, 4)).toMatchObject({ ok: false, problem: 'places' });
    expect(toDecimal('1e-900000000', undefined, 18, 4)).toEqual({ ok: false, problem: 'places', reason: 'has more than 4 decimal places' });
    expect(toDecimal('1e900000000', undefined, 18, 4)).toEqual({ ok: false, problem: 'size', reason: 'is too large for decimal(18,4)' });
    expect(toDecimal('-2,5E900000000', ',', 38, 10)).toEqual({ ok: false, problem: 'size', reason: 'is too large for decimal(38,10)' });
    expect(toDecimal('1.2345e-2', undefined, 18, 4)).toEqual({ ok: false, problem: 'places', reason: 'has more than 4 decimal places' });
    expect(toDecimal('1e14', undefined, 18, 4)).toEqual({ ok: false, problem: 'size', reason: 'is too large for decimal(18,4)' });
    expect(toDecimal('9.99e13', undefined, 18, 4)).toEqual({ ok: true, value: '99900000000000.0000' });
    // without a scale (mapping init's profile), no more fraction digits than the precision
    expect(toDecimal('1e-900000000', undefined)).toEqual({ ok: false, problem: 'places', reason: 'has more than 38 decimal places' });
  });
  it('reads only decimal exponents: no hexadecimal, no underscores', () => {
    for (const t of ['0x1E', '0xE', '0b1e1', '1_000e1', 'e5', '1e', '1e+', '.e1', 'Infinity', '1e1.5']) {
      expect(toDecimal(t, undefined, 18, 2), t).toMatchObject({ ok: false, problem: 'not-a-number' });
    }
  });
  it('an 18-digit decimal survives exactly (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 18n) + 1n, max: 10n ** 18n - 1n }), fc.integer({ min: 0, max: 6 }), (n, scale) => {
        const s = n.toString();
        const neg = s.startsWith('-');
        const digits = (neg ? s.slice(1) : s).padStart(scale + 1, '0');
        const text = `${neg ? '-' : ''}${digits.slice(0, digits.length - scale)}${scale ? '.' + digits.slice(-scale) : ''}`;
        const r = toDecimal(text, undefined, 38, scale);
        expect(r.ok).toBe(true);
        if (r.ok) expect(BigInt(r.value.replace('.', ''))).toBe(n);
      }),
    );
  });
});
