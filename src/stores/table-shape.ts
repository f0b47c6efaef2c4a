import { StoreError } from '../core/errors.js';
import type { Column, Entity } from '../model/types.js';
import type { NativeColumn, NativeTable } from './read-common.js';

/**
 * Before a load writes into a table that already exists (made by hand, or by another model
 * version), its columns are compared with the model: a column that cannot hold every value the
 * model allows exactly would round or cut them without a word on some stores (PostgreSQL rounds
 * 7858.0290 into numeric(18,2) and .400 s into timestamptz(0); MariaDB rounds fractional seconds
 * into datetime(0)), so such a table is refused before any row moves, on every store alike.
 *
 * A column narrower than the model: a decimal with fewer fraction or integer digits, a timestamp
 * keeping fewer than milliseconds, a string shorter than the model's length (or than an enum's
 * longest value); or of another family of types (a float or text where the model says decimal,
 * a date where it says timestamp). A wider column is fine. A column the model does not know is
 * left alone; one the model has and the table lacks is named too.
 */

export interface ShapeMismatch {
  column: string;
  /** The target's type as its catalog names it, or undefined where the table lacks the column. */
  found: string | undefined;
  /** The model's type in the store's words. */
  wanted: string;
}

/** How a store's column relates to the model: `exact` when every model value fits unchanged. */
export type ShapeRule = (model: Column, native: NativeColumn) => boolean;

/** The longest text a model column may hold, in characters, or undefined for unbounded. */
function maxLength(c: Column): number | undefined {
  if (c.type === 'string') return c.length;
  if (c.type === 'enum') return Math.max(1, ...(c.values ?? []).map((v) => [...v].length));
  return undefined;
}

/**
 * The rule of the typed server stores (PostgreSQL, MariaDB, SQL Server), over the native column's
 * kind and the model column its type stands for (a plain PostgreSQL numeric, without a scale, holds
 * any decimal exactly).
 */
export function holdsExactly(model: Column, native: NativeColumn): boolean {
  const n = native.column;
  switch (model.type) {
    case 'string':
    case 'text':
    case 'enum': {
      if (native.kind !== 'text') return false;
      const want = maxLength(model);
      const have = n.type === 'string' ? n.length : undefined;
      if (have === undefined) return n.type !== 'enum';
      // A model string without a length has none to fall short of (too long a value fails, not cut).
      return want === undefined || have >= want;
    }
    case 'integer':
      return native.kind === 'integer' || (native.kind === 'decimal' && native.scale === 0 && (n.precision ?? 0) >= 19);
    case 'boolean':
      return native.kind === 'boolean' || native.kind === 'integer';
    case 'decimal': {
      if (native.kind === 'other' && /^(numeric|decimal)$/i.test(native.nativeType)) return true;
      if (native.kind !== 'decimal') return false;
      if (model.precision === undefined) return true;
      const scale = model.scale ?? 0;
      return (n.scale ?? 0) >= scale && (n.precision ?? 0) - (n.scale ?? 0) >= model.precision - scale;
    }
    case 'date':
      return native.kind === 'date';
    case 'timestamp':
      return native.kind === 'timestamp' && (native.fraction ?? 0) >= 3 && native.zoned !== false;
  }
}

/** The columns of an existing table that cannot hold the model's values exactly. */
export function shapeMismatches(entity: Entity, table: NativeTable, wanted: (c: Column) => string, rule: ShapeRule = holdsExactly): ShapeMismatch[] {
  const byName = new Map(table.columns.map((c) => [c.name, c]));
  const out: ShapeMismatch[] = [];
  for (const c of entity.columns) {
    const n = byName.get(c.name);
    if (n === undefined) out.push({ column: c.name, found: undefined, wanted: wanted(c) });
    else if (!rule(c, n)) out.push({ column: c.name, found: n.nativeType, wanted: wanted(c) });
  }
  return out;
}

/** The refusal of a load into a table whose columns do not match the model (exit 1, nothing committed). */
export function shapeError(display: string, table: string, mismatches: readonly ShapeMismatch[]): StoreError {
  const say = (m: ShapeMismatch): string => (m.found === undefined ? `${table}.${m.column} is missing (the model has ${m.wanted})` : `${table}.${m.column} is ${m.found}, the model has ${m.wanted}`);
  const first = mismatches[0]!;
  const more = mismatches.length > 1 ? ` (and ${mismatches.length - 1} more column${mismatches.length > 2 ? 's' : ''})` : '';
  return new StoreError(`${display}: the existing table ${table} does not match the model, so its values would not be stored exactly: ${say(first)}${more}; nothing was loaded`, {
    code: 'store.table-shape',
    hint: `Alter the column${mismatches.length > 1 ? 's' : ''} to the model's type${mismatches.length > 1 ? 's' : ''} (or wider), or drop the table so forklift creates it.`,
    details: mismatches.slice(1).map(say),
  });
}

/**
 * SQLite's rule: lengths and scales are not enforced there (nothing is cut), but a column's
 * affinity converts what goes in: a decimal's or a date's text into a REAL or NUMERIC column
 * becomes a number (7858.0290 as 7858.029), an integer into a TEXT column becomes text. forklift
 * keeps decimals, dates and instants as TEXT, integers and booleans as INTEGER; a column without a
 * declared type (or BLOB) keeps any value as given.
 */
export function sqliteHoldsExactly(model: Column, native: NativeColumn): boolean {
  const t = native.nativeType.toUpperCase();
  // The affinity by SQLite's rules (section 3.1 of its datatype page), in their order.
  const affinity = t.includes('INT') ? 'integer' : /CHAR|CLOB|TEXT/.test(t) ? 'text' : t === '' || t.includes('BLOB') ? 'blob' : /REAL|FLOA|DOUB/.test(t) ? 'real' : 'numeric';
  if (model.type === 'integer' || model.type === 'boolean') return affinity === 'integer' || affinity === 'numeric' || affinity === 'blob';
  return affinity === 'text' || affinity === 'blob';
}
