import { Decimal } from 'decimal.js';

/**
 * Exact decimal text. Values stay strings from source to store; this turns the many ways legacy
 * systems write a number into one canonical form with the column's scale, without ever going
 * through a binary float. decimal.js is used where arithmetic is needed (bounds, sums).
 */

/** Why a text is no value of the column: no number at all, digits below its scale, digits above its precision. */
export type DecimalProblem = 'not-a-number' | 'places' | 'size';

export type DecimalResult = { ok: true; value: string } | { ok: false; problem: DecimalProblem; reason: string };

const PLAIN = /^([+-])?(\d*)(?:\.(\d*))?$/;
const GROUPED_COMMA = /^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?$/; // 1.234.567,89
const GROUPED_POINT = /^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?$/; // 1,234,567.89
const SPACE = /[ \u00a0\u202f]/;
const SPACES = /[ \u00a0\u202f]/g;
const GROUPED_SPACE = /^[+-]?\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d*)?$/; // 1 234 567,89

/**
 * Normalizes decimal text. `separator` is the decimal separator the mapping declared; when it is
 * declared, the other character is accepted as a thousands separator in proper groups of three.
 * An exponent (1.5E+3) is left as written: only toDecimal knows how many digits may come of it.
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
  return s;
}

const EXPONENT = /^([+-]?)(\d*)(?:\.(\d*))?[eE]([+-]?\d+)$/;

const places = (scale: number): DecimalResult => ({ ok: false, problem: 'places', reason: `has more than ${scale} decimal places` });
const tooLarge = (precision: number, scale: number | undefined): DecimalResult => ({ ok: false, problem: 'size', reason: `is too large for decimal(${precision},${scale ?? 0})` });

/**
 * A number in exponent notation (1.5E+3, as spreadsheets export them) as plain digits, once its
 * digits are known to fit the column: the exponent is the source's to choose, and `1e-900000000`
 * written out would be 900 million zeros. undefined when the text is no such number. Read here
 * rather than by decimal.js, which also takes `0x1E` (30) and `1_000e1`, and makes an exponent
 * beyond 9e15 zero or infinite.
 */
function expandExponent(s: string, precision: number, scale: number | undefined): DecimalResult | undefined {
  const m = EXPONENT.exec(s);
  if (!m) return undefined;
  const [, sign = '', int = '', frac = '', exp = ''] = m;
  if (int === '' && frac === '') return undefined;
  const digits = int + frac;
  const first = digits.search(/[1-9]/);
  if (first < 0) return { ok: true, value: '0' };
  const significant = digits.slice(first).replace(/0+$/, '');
  // where the point falls among the significant digits; an exponent of hundreds of digits is Infinity
  const point = int.length - first + Number(exp);
  const intDigits = Math.max(0, point);
  const fracDigits = Math.max(0, significant.length - point);
  if (fracDigits > (scale ?? precision)) return places(scale ?? precision);
  if (intDigits > precision - (scale ?? 0)) return tooLarge(precision, scale);
  const body =
    point <= 0
      ? `0.${'0'.repeat(-point)}${significant}`
      : point >= significant.length
        ? significant + '0'.repeat(point - significant.length)
        : `${significant.slice(0, point)}.${significant.slice(point)}`;
  return { ok: true, value: sign + body };
}

/** The digits an integer part takes of a decimal's precision: none for 0, so 0.5 fits decimal(4,4). */
const integerDigits = (intPart: string): number => (intPart === '0' ? 0 : intPart.length);

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
          if (/[1-9]/.test(frac.slice(scale))) return places(scale);
          frac = frac.slice(0, scale);
        } else frac = frac.padEnd(scale, '0');
      } else if (scale === undefined) frac = frac.replace(/0+$/, '');
      if (integerDigits(intPart) > precision - (scale ?? 0)) return tooLarge(precision, scale);
      const body = frac.length > 0 ? `${intPart}.${frac}` : intPart;
      const negative = m[1] === '-' && (intPart !== '0' || /[1-9]/.test(frac));
      return { ok: true, value: negative ? '-' + body : body };
    }
  }
  let s = normalizeDecimalText(raw, separator);
  if (s !== null && /[eE]/.test(s)) {
    const r = expandExponent(s, precision, scale);
    if (r !== undefined && !r.ok) return r;
    s = r === undefined ? null : r.value;
  }
  const m = s === null ? null : PLAIN.exec(s);
  if (!m || (m[2] === '' && (m[3] === undefined || m[3] === ''))) {
    const t = raw.trim();
    const hint = /^[+-]?[\d.]+,\d+$/.test(t)
      ? '; it looks like a decimal comma: set `decimal: ","`'
      : SPACE.test(t) && /\d[ \u00a0\u202f]+\d/.test(t)
        ? '; a space inside a number is taken only between groups of three digits (1 234 567)'
        : '';
    return { ok: false, problem: 'not-a-number', reason: `is not a number${hint}` };
  }
  const sign = m[1] === '-' ? '-' : '';
  const intPart = (m[2] ?? '').replace(/^0+(?=\d)/, '') || '0';
  let frac = m[3] ?? '';
  if (scale !== undefined) {
    if (frac.length > scale) {
      if (/[1-9]/.test(frac.slice(scale))) return places(scale);
      frac = frac.slice(0, scale);
    } else frac = frac.padEnd(scale, '0');
  } else frac = frac.replace(/0+$/, '');
  if (integerDigits(intPart) > precision - (scale ?? 0)) return tooLarge(precision, scale);
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
