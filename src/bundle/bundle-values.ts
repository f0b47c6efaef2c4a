import { StoreError } from '../core/errors.js';
import type { ColumnType, Entity } from '../model/types.js';
import { parseDays, parseMillis } from './arrow.js';
import { escapeControl } from '../util/unicode.js';

/**
 * The values a bundle has a form for, checked as an export reads them: a value of a store's table
 * that the column's bundle type cannot hold stops the export with a StoreError naming the table,
 * the column, the row's key and the value (and what to do), instead of reaching the CSV and Arrow writers, which
 * take such a value for a bug of forklift's. The reader passes these values on as they are (a diff
 * compares them); only a bundle has no form for them:
 * - a boolean column holds 1 and 0 only (the staging form of true and false);
 * - an integer column holds 64-bit integers only (Arrow Int64);
 * - a decimal column holds numbers only (not PostgreSQL's `NaN`);
 * - a date or timestamp column holds points in time only (not PostgreSQL's `infinity`, not MySQL's
 *   zero dates), in the years 0001 to 9999 (not SQLite's `0000-01-01`, not PostgreSQL's BC dates).
 */

type Check = (v: unknown) => string | undefined;

const INT64_MIN = -9223372036854775808n;
const INT64_MAX = 9223372036854775807n;

const isDigit = (c: number): boolean => c >= 48 && c <= 57;

const checks: Partial<Record<ColumnType, { test: Check; hint: (table: string, column: string, what: string, row: string, required: boolean) => string }>> = {
  boolean: {
    test: (v) => (v === 0 || v === 1 ? undefined : 'is neither true (1) nor false (0), in a column forklift reads as a boolean'),
    hint: (t, c) =>
      `Fix the value in the source (UPDATE ${t} SET ${c} = … WHERE ${c} NOT IN (0, 1)), or run again if it was written during this run (a MySQL/MariaDB tinyint(1) column that holds other values is then read as an integer); forklift export can also leave ${t} out with --tables.`,
  },
  integer: {
    // Numbers are within 2^53 (the staging form); only digit strings can be beyond 64 bits.
    test: (v) => {
      if (typeof v !== 'string') return undefined;
      // SQLite keeps any text in an INTEGER column another tool wrote to.
      if (!/^-?\d+$/.test(v)) return 'is not a whole number, in a column of integers';
      const b = BigInt(v);
      return b >= INT64_MIN && b <= INT64_MAX ? undefined : 'is beyond a 64-bit integer (-9223372036854775808 to 9223372036854775807), which the bundle cannot hold as an integer';
    },
    hint: (t, c, what) =>
      what.startsWith('is not a whole number')
        ? `Correct it in the source to a whole number, or to NULL where it means "none" (UPDATE ${t} SET ${c} = … WHERE …); forklift export can also leave ${t} out with --tables.`
        : `Make the column a decimal in the source, or run again if the value was written during this run (a MySQL/MariaDB bigint unsigned column that holds such values is then read as decimal(20,0)); forklift export can also leave ${t} out with --tables.`,
  },
  // PostgreSQL text cannot hold U+0000, so a bundle holding one could not be imported there; verify refuses it.
  string: { test: (v) => nul(v), hint: nulHint },
  text: { test: (v) => nul(v), hint: nulHint },
  decimal: {
    // The staging form of a decimal is its digits; PostgreSQL's numeric also holds NaN (and, from 14, ±Infinity).
    test: (v) => (typeof v !== 'string' || isDigit(v.charCodeAt(0)) || (v.charCodeAt(0) === 45 && isDigit(v.charCodeAt(1))) ? undefined : 'is not a number, which the bundle cannot hold in a decimal column'),
    hint: (t, c) => `Say it otherwise in the source first: NULL where it means "unknown" (PostgreSQL: UPDATE ${t} SET ${c} = NULL WHERE ${c} = 'NaN'), else a number; forklift export can also leave ${t} out with --tables.`,
  },
  // The staging form, read as the Arrow writer reads it, passes at once; anything else is told apart by pointInTime.
  date: { test: (v) => (typeof v !== 'string' || (v.length === 10 && !Number.isNaN(parseDays(v))) ? undefined : (pointInTime(v) ?? NOT_A_DAY)), hint: noInfinity },
  timestamp: { test: (v) => (typeof v !== 'string' || !Number.isNaN(parseMillis(v)) ? undefined : (pointInTime(v) ?? NOT_AN_INSTANT)), hint: noInfinity },
};

function nul(v: unknown): string | undefined {
  return typeof v === 'string' && v.includes('\u0000') ? 'holds the NUL character (U+0000), which is no text: PostgreSQL cannot store it, so the bundle cannot hold it' : undefined;
}

function nulHint(t: string, c: string): string {
  return `Remove it in the source (PostgreSQL cannot hold it; SQLite: UPDATE ${t} SET ${c} = replace(${c}, char(0), '') WHERE instr(${c}, char(0)); MySQL/MariaDB: … replace(${c}, char(0), '')); forklift export can also leave ${t} out with --tables.`;
}

/**
 * A date or instant in the staging form starts with a digit, or a sign and a digit (expanded
 * years), and names a real month and day: MySQL keeps `0000-00-00` and `2020-00-15` where its
 * sql_mode allows them.
 */
function pointInTime(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const c0 = v.charCodeAt(0);
  if (isDigit(c0) || ((c0 === 43 || c0 === 45) && isDigit(v.charCodeAt(1)))) {
    const dash = v.indexOf('-', 1);
    // No date at all (`20251103`): the strict reading after this one names it.
    if (dash === -1) return undefined;
    if (v.slice(dash + 1, dash + 3) === '00' || v.slice(dash + 4, dash + 6) === '00') return "is a zero date (a month or day of 00, as MySQL keeps them), not a day, which the bundle cannot hold";
    // The bundle's dates are those of every store: a year of four digits from 0001 (migrate refuses the rest as well).
    if (dash !== 4 || !isDigit(c0) || v.startsWith('0000')) return 'is outside the years 0001 to 9999, which the bundle cannot hold';
    return undefined;
  }
  return 'is not a point in time, which the bundle cannot hold (its dates are days and its timestamps instants in milliseconds)';
}

// Other text, which the Arrow writer would take for forklift's own bug: another tool's, in a
// column forklift made (SQLite keeps any text in a date column: `2025-11-03 06:30`, `2025-02-31`).
const NOT_A_DAY = 'is not a day of the calendar written YYYY-MM-DD, which the bundle cannot hold';
const NOT_AN_INSTANT = 'is not an instant of the calendar written YYYY-MM-DDTHH:mm:ss.SSSZ (UTC), which the bundle cannot hold';

function noInfinity(t: string, c: string, what: string, row: string, required: boolean): string {
  if (what.startsWith('is outside the years') || what === NOT_A_DAY || what === NOT_AN_INSTANT) {
    const where = row || '…';
    const fix = required ? ` (UPDATE ${t} SET ${c} = … WHERE ${where})` : `, or to NULL where it means "no date" (UPDATE ${t} SET ${c} = NULL WHERE ${where})`;
    return `Correct it in the source to a date of the years 0001 to 9999${fix}; forklift export can also leave ${t} out with --tables.`;
  }
  return `Say it otherwise in the source first: where it means "no date" or "no end", NULL (PostgreSQL: UPDATE ${t} SET ${c} = NULL WHERE ${c} IN ('infinity', '-infinity'); MySQL/MariaDB: UPDATE ${t} SET ${c} = NULL WHERE ${c} LIKE '%-00%'), else a real date of the years 0001 to 9999; forklift export can also leave ${t} out with --tables.`;
}

/** An enum column holds its values only: MySQL/MariaDB keep '' for a value their ENUM refused (a sql_mode that is not strict). */
function enumCheck(values: readonly string[]): { test: Check; hint: (t: string, c: string) => string } {
  const allowed = new Set(values);
  return {
    test: (v) => (typeof v !== 'string' || allowed.has(v) ? undefined : `is not one of ${values.join(', ')} (MySQL and MariaDB keep '' for a value their ENUM refused), which the bundle's enum column cannot hold`),
    hint: (t, c) => `Correct it in the source to one of the values, or to NULL (UPDATE ${t} SET ${c} = NULL WHERE ${c} = ''); forklift export can also leave ${t} out with --tables.`,
  };
}

/** A key value as it would stand in a WHERE clause. */
const literal = (v: unknown): string => (typeof v === 'number' ? String(v) : `'${String(v).replace(/'/g, "''")}'`);

/**
 * The check of a table's rows (arrays in `e.columns` order, staging form) before they are written
 * to a bundle; undefined where no column needs one.
 */
export function bundleValueCheck(e: Entity): ((rows: readonly unknown[][]) => void) | undefined {
  const cols = e.columns.flatMap((c, i) => {
    const k = c.type === 'enum' ? enumCheck(c.values ?? []) : checks[c.type];
    const required = c.required || e.primaryKey.includes(c.name);
    return k || required ? [{ i, name: c.name, required, test: k?.test ?? (() => undefined), hint: k?.hint ?? (() => '') }] : [];
  });
  if (cols.length === 0) return undefined;
  const key = e.primaryKey.map((k) => e.columns.findIndex((c) => c.name === k));
  // The row by its key, for the one who has to find it (a table without a key has none to give): made only for a refusal.
  const rowOf = (r: readonly unknown[]): string => key.map((k) => `${e.columns[k]!.name} = ${r[k] === null || r[k] === undefined ? 'NULL' : literal(r[k])}`).join(' AND ');
  return (rows) => {
    for (const { i, name, required, test, hint } of cols) {
      for (const r of rows) {
        const v = r[i];
        if (v === null || v === undefined) {
          if (!required) continue;
          // SQLite lets a column of a PRIMARY KEY (not an INTEGER one) hold NULL; the bundle's keys and required columns cannot.
          const row = rowOf(r);
          throw new StoreError(`table ${e.name}, column ${name}${row ? `, row ${row}` : ''}: the value is missing (NULL) in a ${e.primaryKey.includes(name) ? 'primary-key' : 'required'} column, which the bundle cannot hold; forklift stopped rather than change it`, {
            code: 'store.no-bundle-form',
            hint: `Give it a value in the source (UPDATE ${e.name} SET ${name} = … WHERE ${name} IS NULL), or delete the row; forklift export can also leave ${e.name} out with --tables.`,
          });
        }
        const what = test(v);
        if (what !== undefined) {
          const row = rowOf(r);
          throw new StoreError(`table ${e.name}, column ${name}${row ? `, row ${row}` : ''}: the value ${v === '' ? "''" : escapeControl(String(v))} ${what}; forklift stopped rather than change it`, { code: 'store.no-bundle-form', hint: hint(e.name, name, what, row, required) });
        }
      }
    }
  };
}
