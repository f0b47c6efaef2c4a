/**
 * What the values of a column look like: numbers with a decimal comma or point, dates and
 * timestamps in which format, Excel date serials, codes, the distinct values of a short list.
 * Formats are tried with the same parsers the pipeline uses, so a guessed format is one that parses.
 */
import { toDecimal } from '../mapping/decimal.js';
import { makeDateParser, makeTimestampParser } from '../mapping/datetime.js';
import type { Cell } from '../sources/types.js';

/** Date formats tried, most usual first (luxon tokens). ISO dates need no format. */
export const DATE_FORMATS = ['dd.MM.yyyy', 'd.M.yyyy', 'dd.MM.yy', 'yyyyMMdd', 'dd/MM/yyyy', 'MM/dd/yyyy', 'd/M/yyyy', 'M/d/yyyy', 'dd-MM-yyyy', 'dd-MM-yy', 'yyyy/MM/dd'] as const;
/** Timestamp formats tried; ISO 8601 (with or without an offset) needs no format. */
export const TIMESTAMP_FORMATS = [
  'yyyy-MM-dd HH:mm:ss',
  'yyyy-MM-dd HH:mm',
  'dd.MM.yyyy HH:mm:ss',
  'dd.MM.yyyy HH:mm',
  'd.M.yyyy H:mm:ss',
  'dd/MM/yyyy HH:mm:ss',
  'MM/dd/yyyy HH:mm:ss',
  'M/d/yyyy H:mm:ss',
  'M/d/yyyy H:mm',
  'd/M/yyyy H:mm:ss',
  'yyyyMMdd HHmmss',
  'yyyy-MM-dd HH.mm.ss',
] as const;

export interface ColumnProfile {
  name: string;
  index: number;
  /** Rows in the sample. */
  rows: number;
  /** Non-empty values (trimmed), in sample order. */
  values: string[];
  /** Distinct non-empty values with their counts, most frequent first. */
  distinct: [string, number][];
  integer: boolean;
  /** Every value is a number: the decimal separator that reads them all, or undefined if not numeric. */
  decimal?: '.' | ',';
  /** The number reading had to guess: no value told a decimal comma from a thousands separator. */
  decimalAmbiguous?: boolean;
  /** ISO dates (YYYY-MM-DD): no format needed. */
  isoDate: boolean;
  /** ISO timestamps; `isoOffset` when they carry a zone. */
  isoTimestamp: boolean;
  isoOffset: boolean;
  dateFormat?: string;
  timestampFormat?: string;
  /** Another format that also reads every value (dd/MM against MM/dd). */
  formatAlternative?: string;
  /** Whole numbers in the range of Excel date serials (1954 to 2064). */
  excelSerial: boolean;
  /** Short codes without spaces (HP-1001, L300, CNC-01). */
  codeLike: boolean;
  /** Share of letters that are upper case. */
  upperShare: number;
  unique: boolean;
  maxLength: number;
  hasUmlauts: boolean;
}

const INT = /^[+-]?\d+$/;
const POINT = /^[+-]?\d*\.\d+$/;
const COMMA = /^[+-]?\d*,\d+$/;
const GROUPED_DE = /^[+-]?[1-9]\d{0,2}(?:\.\d{3})+(?:,\d+)?$/;
const GROUPED_EN = /^[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$/;
/** `1.360` or `12,500`: a decimal separator or a thousands separator, the text alone cannot tell. */
const AMBIGUOUS = /^[+-]?[1-9]\d{0,2}[.,]\d{3}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_TS = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

const ALL = 0.98;

function share(values: readonly string[], test: (v: string) => boolean): number {
  if (values.length === 0) return 0;
  let n = 0;
  for (const v of values) if (test(v)) n++;
  return n / values.length;
}

/** The decimal separator that reads every value, with a vote on the ambiguous ones. */
function decimalOf(values: readonly string[], fileHint: '.' | ',' | undefined): { sep?: '.' | ','; ambiguous?: boolean } {
  let comma = 0;
  let point = 0;
  let ambiguous = 0;
  for (const v of values) {
    if (INT.test(v)) continue;
    if (AMBIGUOUS.test(v)) ambiguous++;
    else if (COMMA.test(v) || GROUPED_DE.test(v)) comma++;
    else if (POINT.test(v) || GROUPED_EN.test(v)) point++;
    else return {};
  }
  let sep: '.' | ',';
  let amb = false;
  if (comma > 0 && point === 0) sep = ',';
  else if (point > 0 && comma === 0) sep = '.';
  else if (comma === 0 && point === 0) {
    sep = fileHint ?? '.';
    amb = ambiguous > 0 && fileHint === undefined;
  } else sep = comma >= point ? ',' : '.';
  const ok = share(values, (v) => toDecimal(v, sep).ok);
  return ok >= ALL ? { sep, ambiguous: amb } : {};
}

const loose = (x: string): string => x.replace(/dd/g, 'd').replace(/MM/g, 'M').replace(/HH/g, 'H');
const swapDayMonth = (x: string): string => x.replace(/d+|M+/g, (t) => (t[0] === 'd' ? 'M' : 'd'));

/** The first of `formats` that reads (almost) every value, and a second one that does too. */
function formatOf(values: readonly string[], formats: readonly string[], make: (f: string) => (t: string) => { ok: boolean }): { format?: string; alternative?: string } {
  const sample = values.slice(0, 300);
  if (sample.length === 0 || !sample.some((v) => /\d/.test(v))) return {};
  const fits: string[] = [];
  for (const f of formats) {
    const p = make(f);
    // Only a format that swaps day and month is an alternative worth naming (not d.M.yyyy beside dd.MM.yyyy).
    if (fits.length === 1 && loose(swapDayMonth(fits[0] as string)) !== loose(f)) continue;
    if (share(sample, (v) => p(v).ok) >= ALL) fits.push(f);
    if (fits.length === 2) break;
  }
  const [format, alternative] = fits;
  return { ...(format === undefined ? {} : { format }), ...(alternative === undefined ? {} : { alternative }) };
}

/** Profiles every column of a sample; `fileDecimal` is the separator other columns of the file showed. */
export function profileColumns(header: readonly string[], rows: readonly (readonly Cell[])[]): ColumnProfile[] {
  const first = header.map((name, index) => profileColumn(name, index, rows, undefined));
  // A file writes its numbers one way: a column whose values alone cannot tell follows the others.
  const votes = first.filter((p) => p.decimal !== undefined && !p.decimalAmbiguous && p.values.some((v) => /[.,]/.test(v)));
  const fileDecimal = votes.length === 0 ? undefined : votes.filter((p) => p.decimal === ',').length > votes.length / 2 ? ',' : '.';
  return first.map((p) => (p.decimalAmbiguous ? profileColumn(p.name, p.index, rows, fileDecimal) : p));
}

function profileColumn(name: string, index: number, rows: readonly (readonly Cell[])[], fileDecimal: '.' | ',' | undefined): ColumnProfile {
  const values: string[] = [];
  const counts = new Map<string, number>();
  for (const r of rows) {
    const v = (r[index] ?? '').trim();
    if (v === '') continue;
    values.push(v);
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const distinct = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const integer = values.length > 0 && share(values, (v) => INT.test(v)) >= ALL;
  const dec = values.length > 0 ? decimalOf(values, fileDecimal) : {};
  const isoDate = values.length > 0 && share(values, (v) => ISO_DATE.test(v)) >= ALL;
  const isoTimestamp = values.length > 0 && !isoDate && share(values, (v) => ISO_TS.test(v)) >= ALL;
  const isoOffset = isoTimestamp && share(values, (v) => /(Z|z|[+-]\d{2}:?\d{2})$/.test(v)) >= ALL;
  let dateFormat: string | undefined;
  let timestampFormat: string | undefined;
  let formatAlternative: string | undefined;
  if (isoTimestamp && !isoOffset) {
    // Local ISO times: the explicit format documents them (and takes the fast path).
    const t = formatOf(values, TIMESTAMP_FORMATS, (f) => makeTimestampParser(f, 'UTC'));
    timestampFormat = t.format;
  } else if (!isoDate && !isoTimestamp && !integer && dec.sep === undefined) {
    const d = formatOf(values, DATE_FORMATS, (f) => makeDateParser(f));
    if (d.format !== undefined) {
      dateFormat = d.format;
      formatAlternative = d.alternative;
    } else {
      const t = formatOf(values, TIMESTAMP_FORMATS, (f) => makeTimestampParser(f, 'UTC'));
      timestampFormat = t.format;
      formatAlternative = t.alternative;
    }
  }
  // yyyyMMdd reads 8-digit integers too: only when the values are plausible dates.
  if (integer && values.every((v) => /^(19|20)\d{6}$/.test(v))) {
    const p = makeDateParser('yyyyMMdd');
    if (share(values, (v) => p(v).ok) >= ALL) dateFormat = 'yyyyMMdd';
  }
  const excelSerial = integer && values.every((v) => Number(v) >= 20000 && Number(v) <= 60000);
  const letters = values.join('').replace(/[^\p{L}]/gu, '');
  const upper = letters.replace(/[^\p{Lu}]/gu, '').length;
  return {
    name,
    index,
    rows: rows.length,
    values,
    distinct,
    integer,
    ...(dec.sep === undefined ? {} : { decimal: dec.sep }),
    ...(dec.ambiguous ? { decimalAmbiguous: true } : {}),
    isoDate,
    isoTimestamp,
    isoOffset,
    ...(dateFormat === undefined ? {} : { dateFormat }),
    ...(timestampFormat === undefined ? {} : { timestampFormat }),
    ...(formatAlternative === undefined ? {} : { formatAlternative }),
    excelSerial,
    codeLike: values.length > 0 && share(values, (v) => /^[\p{L}\d][\p{L}\d\-_./]*$/u.test(v) && v.length <= 40 && /\p{L}|-/u.test(v)) >= 0.9,
    upperShare: letters.length === 0 ? 0 : upper / letters.length,
    unique: values.length > 0 && counts.size === values.length,
    maxLength: values.reduce((m, v) => Math.max(m, [...v].length), 0),
    hasUmlauts: /[äöüÄÖÜß]/.test(values.slice(0, 200).join('')),
  };
}

/** Human words for what a column looks like, for comments and the table. */
export function describeProfile(p: ColumnProfile): string {
  if (p.values.length === 0) return 'empty in the sample';
  if (p.isoDate) return 'ISO dates';
  if (p.isoTimestamp) return p.isoOffset ? 'ISO timestamps with offset' : 'ISO timestamps without zone';
  if (p.dateFormat) return `dates ${p.dateFormat}`;
  if (p.timestampFormat) return `timestamps ${p.timestampFormat}`;
  if (p.integer) return 'whole numbers';
  if (p.decimal === ',') return 'decimals with a comma';
  if (p.decimal === '.') return 'decimals with a point';
  if (p.distinct.length <= 12) return `${p.distinct.length} distinct values`;
  return p.codeLike ? 'codes' : 'text';
}
