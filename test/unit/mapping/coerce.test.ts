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
