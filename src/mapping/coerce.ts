import type { Column } from '../model/types.js';
import { toDecimal, compareDecimal, isNegative } from './decimal.js';
import type { ExcelDateSystem } from '../sources/types.js';
import { makeDateParser, makeTimestampParser, type AmbiguousTime } from './datetime.js';
import { firstLoneSurrogate, mayNeedNfc, nfc } from '../util/unicode.js';

/** A value as stored: text for strings, decimals, dates and timestamps; a number for integers; 1/0 for booleans. */
export type StoredValue = string | number | null;

export type Coerced = { ok: true; value: StoredValue } | { ok: false; rule: string; reason: string };

export interface CoerceOptions {
  decimal?: '.' | ',';
  date?: string;
  timestamp?: string;
  timezone?: string;
  /** A local time that happened twice (the clocks went back): refuse it (default), or take its earlier or later instant. */
  ambiguous?: AmbiguousTime;
  /** The date system of `date: excel` / `timestamp: excel` serial numbers (the source workbook's; default 1900). */
  excelDates?: ExcelDateSystem;
}

const TRUE = new Set(['true', '1', 'yes', 'y', 't', 'ja', 'j', 'x']);
const FALSE = new Set(['false', '0', 'no', 'n', 'f', 'nein']);

/**
 * Builds the parser that turns a cleaned, mapped text into the column's stored value and checks
 * the column's own constraints (length, range, enum, pattern). One closure per field, built once.
 */
export function makeCoercer(col: Column, opts: CoerceOptions): (text: string) => Coerced {
  const typeFail = (reason: string): Coerced => ({ ok: false, rule: 'type', reason });
  let parse: (t: string) => Coerced;
  switch (col.type) {
    case 'string':
    case 'text': {
      const max = col.length;
      parse = (t) => {
        // PostgreSQL text cannot hold U+0000 (the load would fail whole), so no store may: a bundle
        // must load into every store. No factory text holds one; it is a broken export.
        const nul = t.indexOf('\u0000');
        if (nul >= 0) return typeFail(`holds the NUL character (U+0000) at character ${[...t.slice(0, nul)].length + 1}, which is no text and which PostgreSQL cannot store: remove it in the source`);
        let v = t;
        // Text below U+0300 (Latin, no combining marks) is already NFC: skip the normalizer.
        if (mayNeedNfc(t)) {
          // Half of a surrogate pair (a legacy system cut an emoji or a rare character in two) has
          // no UTF-8 form: every store would keep U+FFFD, or bytes that are not UTF-8, instead.
          const half = firstLoneSurrogate(t);
          if (half >= 0) return typeFail(`is not valid Unicode: character ${[...t.slice(0, half)].length + 1} is half of a surrogate pair (a character cut in two by the system that wrote it): correct it in the source`);
          v = t.normalize('NFC');
        }
        // UTF-16 length bounds the code-point count: count code points only when it could matter.
        if (max !== undefined && v.length > max) {
          const n = [...v].length;
          if (n > max) return { ok: false, rule: 'length', reason: `is ${n} characters long; at most ${max} fit` };
        }
        return { ok: true, value: v };
      };
      break;
    }
    case 'enum': {
      const allowed = new Set(col.values ?? []);
      // The model's values are NFC (model loading normalizes them): a source's decomposed 'é' is the same value.
      parse = (t) => {
        const v = allowed.has(t) ? t : nfc(t);
        return allowed.has(v) ? { ok: true, value: v } : { ok: false, rule: 'enum', reason: `is not one of ${[...allowed].join(', ')}; map it with \`values:\`` };
      };
      break;
    }
    case 'integer':
      parse = (t) => {
        // Read as a decimal field of the mapping reads its numbers: with `decimal: ","` the German
        // `1.000` is a thousand, as `1.250,00` is in the cost column beside it, and `1,5` is no whole number.
        // An exponent stays refused: a spreadsheet writes a long ID as 1.23457E+11, its digits lost.
        if (/[eE]/.test(t)) return typeFail('is written with an exponent, as a spreadsheet writes a long number whose last digits it lost (1.23457E+11); write the whole number in digits');
        const r = toDecimal(t, opts.decimal, 38, 0);
        if (!r.ok) return typeFail(r.problem === 'size' ? 'is too large for an integer' : 'is not a whole number');
        const n = Number(r.value);
        if (!Number.isSafeInteger(n)) return typeFail('is too large for an integer');
        return { ok: true, value: n };
      };
      break;
    case 'decimal': {
      const { precision = 38, scale } = col;
      parse = (t) => {
        const r = toDecimal(t, opts.decimal, precision, scale);
        return r.ok ? { ok: true, value: r.value } : typeFail(r.reason);
      };
      break;
    }
    case 'boolean':
      parse = (t) => {
        const s = t.trim().toLowerCase();
        if (TRUE.has(s)) return { ok: true, value: 1 };
        if (FALSE.has(s)) return { ok: true, value: 0 };
        return typeFail('is not true or false; map it with `values:`');
      };
      break;
    case 'date': {
      const p = makeDateParser(opts.date, opts.excelDates);
      parse = (t) => {
        const r = p(t.trim());
        return r.ok ? { ok: true, value: r.value } : typeFail(r.reason);
      };
      break;
    }
    case 'timestamp': {
      // A workbook's date system is known only for a workbook (or its rejects file).
      const p = makeTimestampParser(opts.timestamp, opts.timezone, opts.ambiguous, opts.excelDates, opts.excelDates !== undefined);
      parse = (t) => {
        const r = p(t.trim());
        return r.ok ? { ok: true, value: r.value } : typeFail(r.reason);
      };
      break;
    }
    default: {
      const never: never = col.type;
      throw new Error(`unknown column type ${String(never)}`);
    }
  }
  const checks = boundChecks(col);
  const pattern = col.pattern === undefined ? undefined : new RegExp(col.pattern, 'u');
  if (checks.length === 0 && !pattern) return parse;
  return (t) => {
    const r = parse(t);
    if (!r.ok) return r;
    for (const check of checks) {
      const reason = check(r.value);
      if (reason !== undefined) return { ok: false, rule: 'range', reason };
    }
    if (pattern && !pattern.test(String(r.value))) return { ok: false, rule: 'pattern', reason: `does not match the pattern ${col.pattern}` };
    return r;
  };
}

function boundChecks(col: Column): ((v: StoredValue) => string | undefined)[] {
  const out: ((v: StoredValue) => string | undefined)[] = [];
  const asText = (v: StoredValue): string => String(v);
  const { min, max } = col;
  if (min !== undefined) {
    const fast = min === '0' || min === '0.0';
    if (col.exclusiveMin) {
      out.push((v) => (v === null ? undefined : (fast ? isNegative(asText(v)) || /^0(\.0*)?$/.test(asText(v)) : compareDecimal(asText(v), min) <= 0) ? `must be greater than ${min}` : undefined));
    } else {
      out.push((v) => (v === null ? undefined : (fast ? isNegative(asText(v)) : compareDecimal(asText(v), min) < 0) ? `must be at least ${min}` : undefined));
    }
  }
  if (max !== undefined) out.push((v) => (v === null ? undefined : compareDecimal(asText(v), max) > 0 ? `must be at most ${max}` : undefined));
  return out;
}
