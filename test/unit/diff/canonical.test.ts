import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cellText, compareNumeric, equalIn, keyCompare, sortKey, typeText, type Kind } from '../../../src/diff/canonical.js';

/** The canonical typed form of a diff: numbers by value, text by code point, and sort keys whose byte order is that order. */

const sign = (n: number): number => (n < 0 ? -1 : n > 0 ? 1 : 0);
const textValue = fc.string({ unit: fc.constantFrom('a', 'Z', '', ' ', 'é', 'e\u0301', '\u0301', '😀', '𝄞', '\uFFFD', '\uE000', 'ｚ', '\uD800', '\uDC00', '\u0000', '\u007f', '\u0080', '\u07ff', '\u0800', '\u4e00'), maxLength: 6 });
const decimalValue = fc
  .tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.nat(6), fc.nat(3))
  .map(([neg, v, scale, zeros]) => {
    const s = v.toString().padStart(scale + 1, '0');
    const body = scale ? `${s.slice(0, -scale)}.${s.slice(-scale)}${'0'.repeat(zeros)}` : s;
    return `${neg ? '-' : ''}${body}`;
  });
const numericValue = fc.oneof(decimalValue, fc.integer({ min: -1e6, max: 1e6 }), fc.constant(null));

describe('sortKey', () => {
  it('orders keys exactly as keyCompare does (text by code point, numbers by value, nulls first)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom<Kind>('text', 'numeric'), { minLength: 1, maxLength: 3 }).chain((kinds) => {
          const key = fc.tuple(...kinds.map((k) => (k === 'text' ? fc.option(textValue, { freq: 6 }) : numericValue)));
          return fc.tuple(fc.constant(kinds), key, key);
        }),
        ([kinds, a, b]) => {
          const want = sign(keyCompare(kinds)(a, b));
          expect(sign(Buffer.compare(sortKey(a, kinds), sortKey(b, kinds)))).toBe(want);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('puts astral characters after every BMP character, as code point order does', () => {
    const k = (s: string): Buffer => sortKey([s], ['text']);
    expect(Buffer.compare(k('\uFFFF'), k('😀'))).toBe(-1);
    expect(Buffer.compare(k('\uE000'), k('𝄞'))).toBe(-1);
    expect(Buffer.compare(k('e'), k('e\u0301'))).toBe(-1);
    expect(Buffer.compare(k('é'), k('e\u0301'))).toBe(1);
    expect(Buffer.compare(k(''), k('\u0000'))).toBe(-1);
  });
});

describe('values in canonical typed form', () => {
  it('decimals compare by value, whatever their scale', () => {
    expect(compareNumeric('1234.50', '1234.5')).toBe(0);
    expect(compareNumeric('-0.00', '0')).toBe(0);
    expect(compareNumeric('10.000', '9.9999')).toBe(1);
    expect(compareNumeric('123456789012345678.1234', '123456789012345678.12340')).toBe(0);
    expect(compareNumeric('-123456789012345678.1', '-123456789012345678.01')).toBe(-1);
    expect(compareNumeric(5, '5.000')).toBe(0);
    expect(equalIn('numeric')('1234.50', '1234.5')).toBe(true);
    expect(equalIn('numeric')(null, '0')).toBe(false);
    expect(equalIn('text')('1234.50', '1234.5')).toBe(false);
  });

  it('text that is not a number sorts after every number', () => {
    expect(compareNumeric('abc', '99999999999999999999')).toBe(1);
  });

  it('canonical text: booleans true/false, null stays null, types as the schema shows them', () => {
    expect(cellText('boolean')(1)).toBe('true');
    expect(cellText('boolean')(0)).toBe('false');
    expect(cellText('integer')(42)).toBe('42');
    expect(cellText('text')(null)).toBe(null);
    expect(cellText('text')('')).toBe('');
    expect(typeText({ name: 'x', type: 'decimal', precision: 10, scale: 3, required: false })).toBe('decimal(10,3)');
    expect(typeText({ name: 'x', type: 'enum', values: ['RUN', 'IDLE'], required: false })).toBe('enum(RUN,IDLE)');
  });
});
