import { describe, expect, it } from 'vitest';
import { showNonUtf8 } from '../../../src/sources/encoding.js';
import { nonUtf8Fault } from '../../../src/sources/sqlite-text.js';

describe('text that is not UTF-8, as a reject reason shows it', () => {
  it('keeps the valid characters and writes every other byte as \\xNN', () => {
    expect(showNonUtf8(Buffer.from('436166E920E282AC', 'hex'))).toBe('Caf\\xE9 €');
    expect(showNonUtf8(Buffer.from('E282', 'hex'))).toBe('\\xE2\\x82'); // a character cut short
    expect(showNonUtf8(Buffer.from('EDA080C0AF', 'hex'))).toBe('\\xED\\xA0\\x80\\xC0\\xAF'); // a surrogate, an overlong /
    expect(showNonUtf8(Buffer.from('Grüße 👋', 'utf8'))).toBe('Grüße 👋');
  });

  it('quotes a long value around its first bad byte', () => {
    const bytes = Buffer.concat([Buffer.from('a'.repeat(150)), Buffer.from([0xe9]), Buffer.from('b'.repeat(100))]);
    const f = nonUtf8Fault(2, 7, bytes);
    expect(f).toMatchObject({ index: 2, ref: 'row 7', rule: 'encoding' });
    expect(f.reason).toContain(`"…${'a'.repeat(30)}\\xE9${'b'.repeat(46)}…"`);
    expect(nonUtf8Fault(0, 1, Buffer.from([0x80])).reason).toMatch(/^is not valid UTF-8: "\\x80" \(/);
  });
});
