import { DateTime, IANAZone, FixedOffsetZone, type ExplainedFormat } from 'luxon';
import { LOTUS_LEAP_DAY, excelSerialToMillis, inExcelDateRange, isLotusLeapDay, type ExcelDateSystem } from '../util/excel-dates.js';
import { escapeRegExp } from '../util/regexp.js';

/**
 * Dates and timestamps. Luxon does the calendar and time-zone work; the common numeric formats
 * (yyyy-MM-dd HH:mm:ss, dd.MM.yyyy, …) take a compiled fast path, since a million-row machine
 * log cannot afford a luxon parse per row; other formats are read by luxon. Either way only the
 * wall-clock fields come from the format: the zone's offsets (gaps, folds, `ambiguous`) are
 * resolved in one place, from luxon's zone data, cached per local hour. Tests check both against
 * luxon.
 *
 * Canonical forms: a date is `YYYY-MM-DD`; a timestamp is UTC `YYYY-MM-DDTHH:mm:ss.SSSZ`, the
 * form of Date#toISOString, fixed width so text order is time order in every store.
 */

export type Parsed = { ok: true; value: string } | { ok: false; reason: string };

const fail = (reason: string): Parsed => ({ ok: false, reason });

interface Fields {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
  ms: number;
  /** Offset in minutes when the text carried one. */
  offset?: number;
  /** The time zone the text named (luxon's `z` token), when it gave no offset. */
  zone?: string;
  /** The digits of a fraction of a second as written (`S` tokens), checked like ISO's. */
  fraction?: string;
}

const TOKEN_RE = /'[^']*'|([A-Za-z])\1*|[^A-Za-z']+/g;
const FAST: Record<string, { re: string; set: (f: Fields, v: string) => void }> = {
  yyyy: { re: '(\\d{4})', set: (f, v) => (f.y = +v) },
  MM: { re: '(\\d{2})', set: (f, v) => (f.mo = +v) },
  M: { re: '(\\d{1,2})', set: (f, v) => (f.mo = +v) },
  dd: { re: '(\\d{2})', set: (f, v) => (f.d = +v) },
  d: { re: '(\\d{1,2})', set: (f, v) => (f.d = +v) },
  HH: { re: '(\\d{2})', set: (f, v) => (f.h = +v) },
  H: { re: '(\\d{1,2})', set: (f, v) => (f.h = +v) },
  mm: { re: '(\\d{2})', set: (f, v) => (f.mi = +v) },
  ss: { re: '(\\d{2})', set: (f, v) => (f.s = +v) },
};

/**
 * A run of S is the fraction of a second as its digits are written (`.5` is 500 ms), as in ISO
 * 8601 and Java: luxon reads `S` as a count of milliseconds (`.5` as 5 ms, `.05` as 5 ms too).
 * One S takes one digit or more; two or more take exactly that many.
 */
const FRACTION = (t: string): { re: string; set: (f: Fields, v: string) => void } => ({ re: t.length === 1 ? '(\\d+)' : `(\\d{${t.length}})`, set: (f, v) => (f.fraction = v) });
const isFraction = (t: string): boolean => /^S+$/.test(t);

/** Unix time, luxon's `X` (seconds, a fraction allowed) and `x` (milliseconds): an instant, in UTC. */
function unixFields(format: 'X' | 'x'): FieldParser {
  const rx = format === 'X' ? /^(-?\d+)(?:\.(\d+))?$/ : /^(-?\d+)$/;
  return (text) => {
    const m = rx.exec(text.trim());
    // A negative fraction (-1.5) would need the digits subtracted, not added: rare enough to refuse.
    if (!m || (m[2] !== undefined && m[1]!.startsWith('-'))) return `is not Unix time in ${format === 'X' ? 'seconds' : 'milliseconds'} (format ${format})`;
    const whole = Number(m[1]);
    const ms = format === 'X' ? whole * 1000 : whole;
    if (!Number.isSafeInteger(ms) || Math.abs(ms) > 253402300799999) return OUTSIDE_YEARS;
    const d = new Date(ms);
    return { y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(), mi: d.getUTCMinutes(), s: d.getUTCSeconds(), ms: d.getUTCMilliseconds(), offset: 0, ...(m[2] === undefined ? {} : { fraction: m[2] }) };
  };
}

type FieldParser = (text: string) => Fields | string;

/** Compiles a luxon-style format to a parser of fields; unknown tokens fall back to luxon. */
export function compileFormat(format: string): FieldParser {
  if (format === 'X' || format === 'x') return unixFields(format);
  const tokens = format.match(TOKEN_RE) ?? [];
  const setters: ((f: Fields, v: string) => void)[] = [];
  let re = '^';
  let fast = true;
  for (const t of tokens) {
    const spec = isFraction(t) ? FRACTION(t) : FAST[t];
    if (spec) {
      re += spec.re;
      setters.push(spec.set);
    } else if (t.startsWith("'")) {
      re += escapeRegExp(t.slice(1, -1));
    } else if (/^[A-Za-z]/.test(t)) {
      fast = false;
      break;
    } else re += escapeRegExp(t);
  }
  if (fast) {
    const rx = new RegExp(re + '$');
    return (text) => {
      const m = rx.exec(text);
      if (!m) return `does not match the format ${format}`;
      const f: Fields = { y: 1970, mo: 1, d: 1, h: 0, mi: 0, s: 0, ms: 0 };
      for (let i = 0; i < setters.length; i++) setters[i]!(f, m[i + 1]!);
      return f;
    };
  }
  return (text) => luxonFields(text, format);
}

/**
 * Why a date or timestamp format can read no text, or undefined: luxon refuses some token mixes
 * (`HH` with the meridiem `a`) only once a text matches, which would stop the run at its first row.
 * A date written in the format is read back to find out.
 */
export function formatProblem(format: string): string | undefined {
  if (format === 'excel' || format === 'X' || format === 'x') return undefined;
  const tokens = format.match(TOKEN_RE) ?? [];
  const letters = tokens.filter((t) => /^[A-Za-z]/.test(t));
  const fast = letters.every((t) => isFraction(t) || FAST[t] !== undefined);
  if (!fast && letters.some((t) => /^[Xx]$/.test(t))) return `X and x (Unix time) stand alone: write timestamp: X (seconds) or x (milliseconds), with nothing else in the format`;
  // luxon would read S as a count of milliseconds: `.5` as 5 ms.
  if (!fast && letters.some((t) => isFraction(t) && t !== 'SSS')) return `a fraction of a second written as ${letters.find((t) => isFraction(t) && t !== 'SSS')} is read exactly only beside the tokens yyyy, MM, M, dd, d, HH, H, mm, ss; here write SSS (exactly three digits)`;
  try {
    const sample = DateTime.fromISO('2024-01-02T13:04:05.006Z', { zone: 'UTC' }).toFormat(format);
    const x = DateTime.fromFormatExplain(sample, format);
    if (fast) return undefined;
    if (x.result == null || Object.keys(x.result).length === 0) return `the format ${format} reads no part of a date`;
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

/**
 * Reads `text` with luxon, but only its wall-clock fields (as if UTC) and the offset or zone name
 * it writes: luxon itself would move a time the clocks skipped on by the gap and pick one side of
 * a fold unasked, and would read a text without a zone as UTC.
 */
function luxonFields(text: string, format: string): Fields | string {
  const x = DateTime.fromFormatExplain(text, format);
  const units = x.result;
  if (x.invalidReason != null) return `does not match the format ${format} (${x.invalidReason})`;
  if (units == null || Object.keys(units).length === 0) return `does not match the format ${format}`;
  const dt = DateTime.fromObject(units, { zone: 'UTC' });
  if (!dt.isValid) return `does not match the format ${format} (${dt.invalidExplanation ?? dt.invalidReason})`;
  const f: Fields = { y: dt.year, mo: dt.month, d: dt.day, h: dt.hour, mi: dt.minute, s: dt.second, ms: dt.millisecond };
  const matches = x.matches ?? {};
  if (matches.Z !== undefined) {
    const offset = offsetMinutes(writtenOffset(x) ?? offsetText(Number(matches.Z)));
    if (typeof offset === 'string') return offset;
    f.offset = offset;
  } else if (typeof matches.z === 'string') {
    if (!x.zone?.isValid) return `names the time zone ${matches.z}, which is not known`;
    f.zone = x.zone.name;
  }
  return f;
}

/**
 * The offset as the text writes it, which luxon does not keep (it reads +10:75 as +11:15): its
 * regex has one group per token, and an offset token two more inside its own.
 */
function writtenOffset(x: ExplainedFormat): string | undefined {
  const raw = x.rawMatches;
  if (raw == null) return undefined;
  let group = 1;
  let written: string | undefined;
  for (const t of x.tokens) {
    if (!t.literal && (t.val === 'Z' || t.val === 'ZZ' || t.val === 'ZZZ')) {
      written = raw[group];
      group += 3;
    } else group += 1;
  }
  return written;
}

const OFFSET = /^([+-])(\d{1,2})(?::?(\d{2}))?$/;

/** A UTC offset such as +01:00, -0230 or +5 in minutes, or why it is none: no zone's has reached ±16:00, and ISO 8601 readers (java.time) stop at ±18:00. */
function offsetMinutes(text: string): number | string {
  const m = OFFSET.exec(text);
  const minutes = Number(m?.[3] ?? 0);
  const total = Number(m?.[2]) * 60 + minutes;
  if (!m || minutes > 59 || total > 18 * 60) return `has the offset ${text}, which is not a valid offset (hours up to 18, minutes up to 59)`;
  return m[1] === '-' ? -total : total;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ]00:00(?::00(?:\.0+)?)?)?$/;
const ISO_TS = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function validCalendar(f: Fields): boolean {
  if (f.mo < 1 || f.mo > 12 || f.d < 1 || f.h > 23 || f.mi > 59 || f.s > 59) return false;
  if (f.d <= 28) return true;
  const leap = f.mo === 2 && f.y % 4 === 0 && (f.y % 100 !== 0 || f.y % 400 === 0);
  return f.d <= DAYS_IN_MONTH[f.mo - 1]! + (leap ? 1 : 0);
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
const dateText = (f: Fields): string => `${pad(f.y, 4)}-${pad(f.mo)}-${pad(f.d)}`;

/** The years every store holds: SQL Server's date and PostgreSQL's refuse a year 0000, as they do for timestamps. */
const OUTSIDE_YEARS = 'is outside the years 0001 to 9999';

/**
 * Why a text that no format reads is a date or instant no store of forklift's holds, where it is
 * one as PostgreSQL prints it (a SQL source gives it so): BC, a year past 9999, infinity. A reason
 * that names it beats "set `date:` to its format" (no format reads it) or "has a time of day" (for
 * `0044-03-15 BC`). Only on the way to a reject: the rows that parse never come here.
 */
function farDateReason(text: string): string | undefined {
  if (text === 'infinity' || text === '-infinity') return `is not a point in time (PostgreSQL's ${text}); where it stands for "no date" or "no end", make it a missing value (clean: [null_if: ["${text}"]])`;
  if (/^(?:\d{5,}-\d\d-\d\d(?:[T ].*)?|\d{4}-\d\d-\d\d(?: .*)? BC)$/.test(text)) return OUTSIDE_YEARS;
  return undefined;
}

/** A MySQL/MariaDB SQL source gives every zero date so (sources/sql.ts), DATETIME and TIMESTAMP ones too. */
const ZERO_DATE = '0000-00-00';
const ZERO_DATE_REASON = `is MySQL's zero date, no day at all; where it stands for "no date", make it a missing value (clean: [null_if: ["${ZERO_DATE}"]])`;

/** A parsed date's fields as the staged date, or why not. */
function dateOf(f: Fields): Parsed {
  if (!validCalendar(f)) return fail('is not a real calendar date');
  if (f.y < 1 || f.y > 9999) return fail(OUTSIDE_YEARS);
  return { ok: true, value: dateText(f) };
}

const STAGED_DATE = /^(\d{4})-(\d\d)-(\d\d)$/;
const STAGED_INSTANT = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.\d{3}Z$/;

/**
 * Whether a value read back from a store is a date (`date`) or instant (`timestamp`) in its staged
 * form, a real day of the years 0001 to 9999: what a staged value can be compared with. A store's
 * table made or written by another tool can hold what no run stages (PostgreSQL's BC dates and
 * infinity, MySQL's zero dates, text in a SQLite column).
 */
export function isStagedPointInTime(type: 'date' | 'timestamp', v: unknown): boolean {
  if (typeof v !== 'string') return false;
  const m = (type === 'date' ? STAGED_DATE : STAGED_INSTANT).exec(v);
  if (!m) return false;
  const f: Fields = { y: +m[1]!, mo: +m[2]!, d: +m[3]!, h: +(m[4] ?? 0), mi: +(m[5] ?? 0), s: +(m[6] ?? 0), ms: 0 };
  return f.y >= 1 && validCalendar(f);
}

const NOT_A_SERIAL = 'is not an Excel date serial number';
const TIME_OF_DAY = 'has a time of day; a date column takes a date only';
/** How the Excel reader gives a date cell: `YYYY-MM-DD`, or `YYYY-MM-DDTHH:mm:ss[.SSS]` with a time of day. */
const EXCEL_DATE_CELL = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}))?)?$/;

/** An Excel date serial's wall-clock time in milliseconds since 1970-01-01 (util/excel-dates.ts); both systems end at 9999-12-31. */
function excelSerial(text: string, system: ExcelDateSystem): number | string {
  if (!/^\d+(\.\d+)?$/.test(text.trim())) return NOT_A_SERIAL;
  const serial = Number(text);
  if (!inExcelDateRange(serial, system)) return 'is outside Excel’s date range';
  if (isLotusLeapDay(serial, system)) return LOTUS_LEAP_DAY;
  return excelSerialToMillis(serial, system);
}

/** A date cell as the Excel reader gives it (ISO text, already in the workbook's date system), or a serial number in `system`. */
function excelFields(text: string, system: ExcelDateSystem): Fields | string {
  const m = EXCEL_DATE_CELL.exec(text);
  if (m) return { y: +m[1]!, mo: +m[2]!, d: +m[3]!, h: +(m[4] ?? 0), mi: +(m[5] ?? 0), s: +(m[6] ?? 0), ms: +(m[7] ?? 0) };
  const r = excelSerial(text, system);
  if (typeof r === 'string') return r;
  const d = new Date(r);
  return { y: d.getUTCFullYear(), mo: d.getUTCMonth() + 1, d: d.getUTCDate(), h: d.getUTCHours(), mi: d.getUTCMinutes(), s: d.getUTCSeconds(), ms: d.getUTCMilliseconds() };
}

/**
 * `format` is a luxon-style format, `excel` (a serial number in the workbook's date system
 * `excelDates`, or a date cell as the Excel reader gives it), or undefined for ISO dates.
 */
export function makeDateParser(format: string | undefined, excelDates: ExcelDateSystem = 1900): (text: string) => Parsed {
  if (format === 'excel') {
    return (text) => {
      const f = excelFields(text, excelDates);
      if (typeof f === 'string') return fail(f);
      if (f.h !== 0 || f.mi !== 0 || f.s !== 0 || f.ms !== 0) return fail(TIME_OF_DAY);
      return dateOf(f);
    };
  }
  const parse = format ? compileFormat(format) : undefined;
  return (text) => {
    let f: Fields;
    if (text === ZERO_DATE) return fail(ZERO_DATE_REASON);
    if (parse) {
      const r = parse(text);
      if (typeof r === 'string') return fail(farDateReason(text) ?? r);
      f = r;
      // A format with hours (`dd.MM.yyyy HH:mm`) read into a date column: the time must not be dropped unseen.
      if (f.h !== 0 || f.mi !== 0 || f.s !== 0 || f.ms !== 0 || /[1-9]/.test(f.fraction ?? '')) return fail(TIME_OF_DAY);
    } else {
      const m = ISO_DATE.exec(text);
      if (!m) return fail(farDateReason(text) ?? (/^\d{4}-\d{2}-\d{2}[T ]/.test(text) ? TIME_OF_DAY : 'is not a date (YYYY-MM-DD); set `date:` to its format, such as dd.MM.yyyy'));
      f = { y: +m[1]!, mo: +m[2]!, d: +m[3]!, h: 0, mi: 0, s: 0, ms: 0 };
    }
    return dateOf(f);
  };
}

/** A local time's offsets in minutes: one, or two where the clocks went back and it happened twice. */
interface LocalOffsets {
  /** The offset of the first time the wall clock showed it (the earlier instant). */
  earlier: number;
  /** The offset of the second time; the same as `earlier` where it happened once. */
  later: number;
}

const HOUR = 3_600_000;
/**
 * Beyond any offset a zone has had (local mean times reached ±15:56), so every instant that shows
 * a wall time lies within it; no zone has changed its clocks twice within it.
 */
const REACH = 18 * HOUR;
/** A local hour with a transition inside it (Lord Howe moves its clocks by 30 minutes, St. John's moved them at 00:01). */
const MIXED = 'mixed';

/**
 * Offsets of a named zone: none where the wall time falls in a gap (the clocks skipped it), two
 * where it falls in a fold (the clocks went back, so it happened twice). Cached per local hour,
 * as its offsets when they hold for the whole hour, which is every hour but those (about two a
 * year) with a transition inside: there each wall time is resolved on its own.
 */
class ZoneOffsets {
  private readonly hours = new Map<number, LocalOffsets | null | typeof MIXED>();
  private lastKey = -1;
  private last: LocalOffsets | null | typeof MIXED = null;
  private readonly zone: IANAZone;
  constructor(name: string) {
    this.zone = IANAZone.create(name);
  }

  at(f: Fields): LocalOffsets | null {
    const key = ((f.y * 16 + f.mo) * 32 + f.d) * 24 + f.h;
    if (key !== this.lastKey) {
      let hour = this.hours.get(key);
      if (hour === undefined) {
        hour = this.hour(utcMillis(f.y, f.mo, f.d, f.h, 0, 0, 0));
        if (this.hours.size > 200_000) this.hours.clear();
        this.hours.set(key, hour);
      }
      this.lastKey = key;
      this.last = hour;
    }
    return this.last === MIXED ? this.resolve(utcMillis(f.y, f.mo, f.d, f.h, f.mi, f.s, f.ms)) : this.last;
  }

  /** The offsets of the local hour from `start` (its wall time as if UTC, in ms), or MIXED. */
  private hour(start: number): LocalOffsets | null | typeof MIXED {
    // The same offset from REACH before the hour to REACH after it: no transition in between.
    const before = this.zone.offset(start - REACH);
    if (this.zone.offset(start + HOUR + REACH) === before) return { earlier: before, later: before };
    const first = this.resolve(start);
    const last = this.resolve(start + HOUR - 1);
    return first?.earlier === last?.earlier && first?.later === last?.later ? first : MIXED;
  }

  /** The offsets under which the wall time `local` (as if UTC, in ms) is shown: each o with offset(local - o) = o. */
  private resolve(local: number): LocalOffsets | null {
    let earlier: number | undefined;
    let later: number | undefined;
    for (const probe of [local - REACH, local + REACH]) {
      const o = this.zone.offset(probe);
      if (this.zone.offset(local - o * 60000) !== o) continue;
      // The larger offset gives the earlier instant.
      if (earlier === undefined || o > earlier) earlier = o;
      if (later === undefined || o < later) later = o;
    }
    return earlier === undefined || later === undefined ? null : { earlier, later };
  }
}

/** How a local time that happened twice (a fold) is read: refused, or taken as its earlier or later instant. */
export type AmbiguousTime = 'reject' | 'earlier' | 'later';

export function checkZone(zone: string): boolean {
  return IANAZone.isValidZone(zone) || FixedOffsetZone.parseSpecifier(zone) !== null || zone === 'UTC';
}

/** `format` as for makeDateParser; `excel` serials and date cells are local times in `zone`. */
export function makeTimestampParser(
  format: string | undefined,
  zone: string | undefined,
  ambiguous: AmbiguousTime = 'reject',
  excelDates: ExcelDateSystem = 1900,
  /** The source is a workbook: its reader gives a date-time cell at midnight as the date alone (`2024-02-29`), which is that midnight. */
  workbook = false,
): (text: string) => Parsed {
  const offsets = zone && zone !== 'UTC' && !/^UTC[+-]/.test(zone) ? new ZoneOffsets(zone) : undefined;
  const fixed = zone === undefined ? undefined : zone === 'UTC' ? 0 : FixedOffsetZone.parseSpecifier(zone)?.offset(0);
  const parse = format && format !== 'excel' ? compileFormat(format) : undefined;
  /** The zones texts name (a format's `z` token): rare, and few per source. */
  const named = new Map<string, ZoneOffsets>();
  const namedOffsets = (name: string): ZoneOffsets => {
    let o = named.get(name);
    if (o === undefined) named.set(name, (o = new ZoneOffsets(name)));
    return o;
  };
  return (text) => {
    let f: Fields;
    let fraction = '';
    if (text === ZERO_DATE) return fail(ZERO_DATE_REASON);
    if (format === 'excel') {
      const r = excelFields(text, excelDates);
      if (typeof r === 'string') return fail(r);
      f = r;
    } else if (parse) {
      const r = parse(text);
      if (typeof r === 'string') return fail(farDateReason(text) ?? r);
      f = r;
      fraction = f.fraction ?? '';
    } else {
      const m = ISO_TS.exec(text);
      const day = m || !workbook ? null : ISO_DATE.exec(text);
      if (day) f = { y: +day[1]!, mo: +day[2]!, d: +day[3]!, h: 0, mi: 0, s: 0, ms: 0 };
      else if (!m) return fail(farDateReason(text) ?? 'is not a timestamp (ISO 8601 such as 2025-03-01T06:00:00+01:00); set `timestamp:` to its format');
      else {
        fraction = m[7] ?? '';
        f = { y: +m[1]!, mo: +m[2]!, d: +m[3]!, h: +m[4]!, mi: +m[5]!, s: +(m[6] ?? 0), ms: 0 };
        const z = m[8];
        if (z === 'Z' || z === 'z') f.offset = 0;
        else if (z !== undefined) {
          const offset = offsetMinutes(z);
          if (typeof offset === 'string') return fail(offset);
          f.offset = offset;
        }
      }
    }
    if (fraction.length > 0) {
      if (/[1-9]/.test(fraction.slice(3))) return fail('has digits below a millisecond, which forklift would have to drop');
      f.ms = Number(fraction.slice(0, 3).padEnd(3, '0'));
    }
    if (!validCalendar(f)) return fail('is not a real date and time');
    let offset = f.offset;
    let zoneName: string | undefined;
    if (offset === undefined) {
      const where = f.zone ?? zone;
      const rules = f.zone !== undefined ? namedOffsets(f.zone) : offsets;
      if (f.zone === undefined && fixed !== undefined) offset = fixed;
      else if (rules) {
        zoneName = where;
        const o = rules.at(f);
        if (o === null) return fail(`does not exist in ${where} (the clocks skipped it)`);
        if (o.earlier !== o.later && ambiguous === 'reject') {
          return fail(`happened twice in ${where} (the clocks went back: at ${offsetText(o.earlier)} and at ${offsetText(o.later)}); set \`ambiguous: earlier\` or \`later\` in the mapping, or give the source's offset`);
        }
        offset = ambiguous === 'later' ? o.later : o.earlier;
      } else return fail('has no time zone; set `timezone:` in the mapping (such as Europe/Berlin or UTC)');
    }
    const ms = utcMillis(f.y, f.mo, f.d, f.h, f.mi, f.s, f.ms) - offset * 60000;
    const d = new Date(ms);
    const y = d.getUTCFullYear();
    if (y < 1 || y > 9999) return fail(f.y >= 1 && f.y <= 9999 ? shiftedOutOfYears(d, offset, zoneName) : OUTSIDE_YEARS);
    return { ok: true, value: d.toISOString() };
  };
}

/**
 * A local time inside the years 0001 to 9999 whose instant is not: the first hour of 0001-01-01
 * east of UTC (Europe/Berlin's local mean time was +00:53), the last of 9999-12-31 west of it.
 * "Outside the years 0001 to 9999" would contradict the text as written; the UTC instant, which is
 * what a store holds, says why.
 */
function shiftedOutOfYears(d: Date, offset: number, zone: string | undefined): string {
  // toISOString writes a year past 9999 as +010000.
  const utc = d.toISOString().replace('.000Z', 'Z').replace(/^\+0*/, '');
  const at = zone === undefined ? `at its offset ${offsetText(offset)}` : `${zone} was at ${offsetText(offset)} then`;
  const bound = d.getUTCFullYear() < 1 ? `the year 0000, before 0001-01-01T00:00:00Z` : `the year ${d.getUTCFullYear()}, after 9999-12-31T23:59:59.999Z`;
  return `is ${utc} in UTC (${at}): ${bound}, which no store holds`;
}

/** An offset in minutes as ±HH:MM, or ±HH:MM:SS for a local mean time's (Europe/Berlin's was +00:53:28). */
function offsetText(minutes: number): string {
  const a = Math.round(Math.abs(minutes) * 60);
  const s = a % 60;
  return `${minutes < 0 ? '-' : '+'}${pad(Math.floor(a / 3600))}:${pad(Math.floor(a / 60) % 60)}${s === 0 ? '' : `:${pad(s)}`}`;
}

/** Date.UTC, but exact for the years 0–99 too (Date.UTC reads those as 1900–1999). */
export function utcMillis(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
  if (y >= 100) return Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const t = new Date(Date.UTC(2000, 0, 1, h, mi, s, ms));
  t.setUTCFullYear(y, mo - 1, d);
  return t.getTime();
}
