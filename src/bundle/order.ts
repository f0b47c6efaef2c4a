import type { Column } from '../model/types.js';

/**
 * The canonical row order of a bundle and of a diff: by primary key, strings by Unicode code
 * point (the order of their UTF-8 bytes, which is what PostgreSQL's "C" collation, MySQL's
 * binary comparison and SQLite's BINARY collation give), numbers and decimals by value, dates and
 * timestamps by time (their canonical text sorts so). Stores read rows in this order; readers check
 * it as they go, so a store that sorts differently is caught instead of trusted.
 */

export type KeyCompare = (a: readonly unknown[], b: readonly unknown[]) => number;

/** Code point order; JavaScript's `<` is UTF-16 code unit order, which differs above U+FFFF. */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (an astral character) sorts after every BMP character in code point order.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/** Exact decimal text (`-12.50`, `3`) by value, without converting to a float. */
export function compareDecimalText(a: string, b: string): number {
  // Up to 15 digits a double holds every decimal exactly enough to keep order and equality.
  if (a.length <= 15 && b.length <= 15) {
    const d = Number(a) - Number(b);
    return d < 0 ? -1 : d > 0 ? 1 : 0;
  }
  const na = a.startsWith('-');
  const nb = b.startsWith('-');
  if (na !== nb) return isZero(a) && isZero(b) ? 0 : na ? -1 : 1;
  const r = compareMagnitude(na ? a.slice(1) : a, nb ? b.slice(1) : b);
  return na ? -r : r;
}

function isZero(s: string): boolean {
  return /^-?0*(\.0*)?$/.test(s);
}

function compareMagnitude(a: string, b: string): number {
  const [ai = '', af = ''] = a.split('.');
  const [bi = '', bf = ''] = b.split('.');
  const ia = ai.replace(/^0+/, '');
  const ib = bi.replace(/^0+/, '');
  if (ia.length !== ib.length) return ia.length < ib.length ? -1 : 1;
  if (ia !== ib) return ia < ib ? -1 : 1;
  const w = Math.max(af.length, bf.length);
  const fa = af.padEnd(w, '0');
  const fb = bf.padEnd(w, '0');
  return fa === fb ? 0 : fa < fb ? -1 : 1;
}

/** One column's comparison of staged values (null first). */
export function compareValues(type: Column['type']): (a: unknown, b: unknown) => number {
  const nulls = (a: unknown, b: unknown): number | undefined => (a === null || a === undefined ? (b === null || b === undefined ? 0 : -1) : b === null || b === undefined ? 1 : undefined);
  switch (type) {
    case 'integer':
    case 'boolean':
      return (a, b) => nulls(a, b) ?? (typeof a === 'number' && typeof b === 'number' ? a - b : compareDecimalText(String(a), String(b)));
    case 'decimal':
      return (a, b) => nulls(a, b) ?? compareDecimalText(String(a), String(b));
    case 'date':
    case 'timestamp':
      // Their canonical text is ASCII, where JavaScript's order (UTF-16 code units) is code point order.
      return (a, b) => nulls(a, b) ?? (typeof a === 'string' && typeof b === 'string' ? (a < b ? -1 : a > b ? 1 : 0) : compareText(String(a), String(b)));
    default:
      return (a, b) => nulls(a, b) ?? compareText(String(a), String(b));
  }
}

/** Compares rows by the given column positions. */
export function keyComparer(columns: readonly Column[], positions: readonly number[]): KeyCompare {
  const cmp = positions.map((p) => ({ p, c: compareValues(columns[p]!.type) }));
  return (a, b) => {
    for (const { p, c } of cmp) {
      const r = c(a[p], b[p]);
      if (r !== 0) return r;
    }
    return 0;
  };
}
