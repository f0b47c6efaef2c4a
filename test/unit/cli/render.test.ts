import { describe, expect, it } from 'vitest';
import { cellText, table } from '../../../src/cli/render.js';

describe('table', () => {
  it('keeps every row on one line: control characters in a cell are shown escaped, and the columns stay aligned', () => {
    const out = table(['item', 'description'], [['P-1', 'Pump\nwith motor'], ['P-2', 'Valve\tDN50\r\n'], ['P-3', 'x\u000by']], () => false);
    const lines = out.split('\n');
    expect(lines).toEqual(['item  description', '----  ----------------', 'P-1   Pump\\nwith motor', 'P-2   Valve\\tDN50\\r\\n', 'P-3   x\\u000by']);
  });

  it('leaves printable text, accents and emoji as they are', () => {
    expect(cellText('Größe 5" Ø 🔩 Ⅻ')).toBe('Größe 5" Ø 🔩 Ⅻ');
    expect(cellText('a\u2028b\u0085c')).toBe('a\\u2028b\\u0085c');
  });
});
