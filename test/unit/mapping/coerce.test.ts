import { describe, expect, it } from 'vitest';
import { makeCoercer } from '../../../src/mapping/coerce.js';
import type { Column } from '../../../src/model/types.js';

/**
 * Text that no store keeps as it came is rejected with its reason: half of a UTF-16 surrogate pair
 * (it has no UTF-8 form, so it became U+FFFD, or bytes that are not UTF-8, depending on the store)
 * and the NUL character (PostgreSQL cannot store it, so the whole load failed there).
 */
const text: Column = { name: 'description', type: 'string', length: 40, required: false };
const coerce = makeCoercer(text, {});

describe('text values', () => {
  it('keeps whole characters beyond the BMP, and combining marks composed (NFC)', () => {
    expect(coerce('pump 😀 Größe')).toEqual({ ok: true, value: 'pump 😀 Größe' });
    expect(coerce('Gro\u0308\u00dfe')).toEqual({ ok: true, value: 'Größe' });
  });

  it('rejects half of a surrogate pair, naming the character', () => {
    for (const [t, at] of [['lone \ud800 surrogate', 6], ['😀\udc00', 2], ['end \ud83d', 5]] as const) {
      const r = coerce(t);
      expect(r.ok, t).toBe(false);
      expect(r).toMatchObject({ rule: 'type', reason: expect.stringMatching(new RegExp(`^is not valid Unicode: character ${at} is half of a surrogate pair`)) });
    }
  });

  it('rejects the NUL character, naming where it is', () => {
    expect(coerce('nul \u0000 here')).toMatchObject({ ok: false, rule: 'type', reason: expect.stringMatching(/^holds the NUL character \(U\+0000\) at character 5/) });
    expect(makeCoercer({ name: 'note', type: 'text', required: false }, {})('a\u0000')).toMatchObject({ ok: false, rule: 'type' });
  });
});

/**
 * An integer field reads its numbers as a decimal field of the same mapping does: with
 * `decimal: ","` the German `1.000` (a thousand) loaded as 1 and `2.500` was no whole number,
 * while `1.250,00` in the cost column beside it was 1250.
 */
describe('integer values', () => {
  const days: Column = { name: 'lead_time_days', type: 'integer', required: false };

  it('take the thousands and decimal separators the field declares', () => {
    const comma = makeCoercer(days, { decimal: ',' });
    expect(comma('1.000')).toEqual({ ok: true, value: 1000 });
    expect(comma('2.500')).toEqual({ ok: true, value: 2500 });
    expect(comma('1.234.567,00')).toEqual({ ok: true, value: 1234567 });
    expect(comma('5')).toEqual({ ok: true, value: 5 });
    expect(comma('1,5')).toEqual({ ok: false, rule: 'type', reason: 'is not a whole number' });
    expect(comma('1.5')).toEqual({ ok: false, rule: 'type', reason: 'is not a whole number' });
    const point = makeCoercer(days, { decimal: '.' });
    expect(point('1,000')).toEqual({ ok: true, value: 1000 });
    expect(point('1,000.0')).toEqual({ ok: true, value: 1000 });
  });

  it('without the key, read a point as the decimal point, as a decimal field does', () => {
    const plain = makeCoercer(days, {});
    expect(plain('1.000')).toEqual({ ok: true, value: 1 });
    expect(plain(' +42 ')).toEqual({ ok: true, value: 42 });
    expect(plain('-0')).toEqual({ ok: true, value: 0 });
    // digits lost: refused, saying why (2E0 too: it says the same of a JSON number)
    const exponent = { ok: false, rule: 'type', reason: 'is written with an exponent, as a spreadsheet writes a long number whose last digits it lost (1.23457E+11); write the whole number in digits' };
    expect(plain('1.23457E+11')).toEqual(exponent);
    expect(plain('2E0')).toEqual(exponent);
    expect(plain('2.5')).toEqual({ ok: false, rule: 'type', reason: 'is not a whole number' });
    expect(plain('1,000')).toEqual({ ok: false, rule: 'type', reason: 'is not a whole number' });
    expect(plain('abc')).toEqual({ ok: false, rule: 'type', reason: 'is not a whole number' });
    expect(plain('9007199254740992')).toEqual({ ok: false, rule: 'type', reason: 'is too large for an integer' });
    expect(plain('1'.padEnd(39, '0'))).toEqual({ ok: false, rule: 'type', reason: 'is too large for an integer' });
  });
});

describe('enum values', () => {
  it('take a source value written decomposed as the model value (stored in NFC)', () => {
    const grade = makeCoercer({ name: 'grade', type: 'enum', required: false, values: ['Güte', 'Café'] }, {});
    expect(grade('Gu\u0308te')).toEqual({ ok: true, value: 'Güte' });
    expect(grade('Cafe\u0301')).toEqual({ ok: true, value: 'Café' });
    expect(grade('Gute')).toMatchObject({ ok: false, rule: 'enum' });
  });
});
