import { Decimal } from 'decimal.js';

/**
 * Exact decimal text. Values stay strings from source to store; this turns the many ways legacy
 * systems write a number into one canonical form with the column's scale, without ever going
 * through a binary float. decimal.js is used where arithmetic is needed (bounds, sums).
 */

export type DecimalResult = { ok: true; value: string } | { ok: false; reason: string };

const PLAIN = /^([+-])?(\d*)(?:\.(\d*))?$/;
const GROUPED_COMMA = /^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?$/; // 1.234.567,89
const GROUPED_POINT = /^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$/; // 1,234,567.89
const SPACE = /[ \u00a0\u202f]/;
const SPACES = /[ \u00a0\u202f]/g;
const GROUPED_SPACE = /^[+-]?\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d*)?$/; // 1 234 567,89

/**
 * Normalizes decimal text. `separator` is the decimal separator the mapping declared; when it is
 * declared, the other character is accepted as a thousands separator in proper groups of three.
 */
export function normalizeDecimalText(raw: string, separator: '.' | ',' | undefined): string | null {
  let s = raw.trim();
  if (SPACE.test(s)) {
    // A space (or a no-break space, as French and Swiss exports write) only groups thousands:
    // `1 234 567,89`. Anywhere else it is no separator, and gluing `1 5` into 15 would invent a number.
    if (!GROUPED_SPACE.test(s)) return null;
    s = s.replace(SPACES, '');
  }
  if (separator === ',') {
    if (s.includes('.')) {
      if (!GROUPED_COMMA.test(s)) return null;
      s = s.replace(/\./g, '');
    }
    s = s.replace(',', '.');
  } else if (separator === '.' && s.includes(',')) {
    if (!GROUPED_POINT.test(s)) return null;
    s = s.replace(/,/g, '');
  }
  if (/[eE]/.test(s)) {
    try {
      const d = new Decimal(s);
      if (!d.isFinite()) return null;
      s = d.toFixed();
    } catch {
      return null;
    }
  }
  return s;
}

/** Canonical text for decimal(precision, scale): no exponent, exactly `scale` fraction digits. */
const SIMPLE = /^(-?)(\d+)(?:\.(\d+))?$/;

export function toDecimal(raw: string, separator: '.' | ',' | undefined, precision = 38, scale?: number): DecimalResult {
  // The common case, a plain number with a point, without the general path's rewriting.
  if (separator !== ',') {
    const m = SIMPLE.exec(raw);
    if (m && (m[2]!.length === 1 || m[2]![0] !== '0')) {
      const intPart = m[2]!;
      let frac = m[3] ?? '';
      if (scale !== undefined && frac.length !== scale) {
        if (frac.length > scale) {
          if (/[1-9]/.test(frac.slice(scale))) return { ok: false, reason: `has more than ${scale} decimal places` };
          frac = frac.slice(0, scale);
        } else frac = frac.padEnd(scale, '0');
      } else if (scale === undefined) frac = frac.replace(/0+$/, '');
      if (intPart.length > precision - (scale ?? 0)) return { ok: false, reason: `is too large for decimal(${precision},${scale ?? 0})` };
      const body = frac.length > 0 ? `${intPart}.${frac}` : intPart;
      const negative = m[1] === '-' && (intPart !== '0' || /[1-9]/.test(frac));
      return { ok: true, value: negative ? '-' + body : body };
    }
  }
  const s = normalizeDecimalText(raw, separator);
  const m = s === null ? null : PLAIN.exec(s);
  if (!m || (m[2] === '' && (m[3] === undefined || m[3] === ''))) {
    const t = raw.trim();
    const hint = /^[+-]?[\d.]+,\d+$/.test(t)
      ? '; it looks like a decimal comma: set `decimal: ","`'
      : SPACE.test(t) && /\d[ \u00a0\u202f]+\d/.test(t)
        ? '; a space inside a number is taken only between groups of three digits (1 234 567)'
        : '';
    return { ok: false, reason: `is not a number${hint}` };
  }
  const sign = m[1] === '-' ? '-' : '';
  const intPart = (m[2] ?? '').replace(/^0+(?=\d)/, '') || '0';
  let frac = m[3] ?? '';
  if (scale !== undefined) {
    if (frac.length > scale) {
      if (/[1-9]/.test(frac.slice(scale))) return { ok: false, reason: `has more than ${scale} decimal places` };
      frac = frac.slice(0, scale);
    } else frac = frac.padEnd(scale, '0');
  } else frac = frac.replace(/0+$/, '');
  if (intPart.length > precision - (scale ?? 0)) {
    return { ok: false, reason: `is too large for decimal(${precision},${scale ?? 0})` };
  }
  const isZero = intPart === '0' && !/[1-9]/.test(frac);
  const body = frac.length > 0 ? `${intPart}.${frac}` : intPart;
  return { ok: true, value: isZero ? body : sign + body };
}

/** Exact comparison of two canonical decimal texts. */
export function compareDecimal(a: string, b: string): number {
  return new Decimal(a).comparedTo(new Decimal(b));
}

export function isNegative(canonical: string): boolean {
  return canonical.startsWith('-');
}

export { Decimal };
