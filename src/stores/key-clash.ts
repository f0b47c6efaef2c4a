import type Database from 'better-sqlite3';
import { StoreError } from '../core/errors.js';
import { q } from '../util/sql-name.js';
import type { EntityLoad } from './types.js';

/**
 * A load (append, incremental) that meets a key the target already holds: the servers name a
 * constraint and a line of their own bulk statement ("COPY items, line 1"), or one value of
 * several run together ("Duplicate entry 'A-2-5'"), and MariaDB's LOAD DATA only counts its
 * warnings. A user needs the key and the line of the source that gave it, as the SQLite target
 * says them: after the failed load is rolled back, the staged keys are looked up in the target a
 * batch at a time (one statement per batch, on the primary key's index), then, in the batch that
 * holds one, a row at a time, so the first clash in staging order is the one named.
 */

/**
 * Whether a duplicate key met in a load of this mode can be one the target held before it: not in
 * replace (the load empties the table first, so the clash is among the loaded rows, through a
 * constraint the staging does not know, such as a unique index a DBA added) nor in upsert.
 * Looked up anyway, after the rollback has put the old rows back, the keys would be found and
 * the clash misnamed.
 */
export const mayMeetHeldKeys = (l: EntityLoad): boolean => l.mode === 'append' || l.mode === 'incremental';

/**
 * The hint of a unique violation the load could not trace to a key the target held: it may be one
 * (a server that names no key), or the loaded rows may share the value of a unique index the model
 * does not declare (one a DBA added), which no load mode avoids.
 */
/** A trigger of the target (RAISE in PostgreSQL or SQLite) refused a row of the load. */
export const TRIGGER_REFUSAL_HINT = 'A trigger of the target refused the load with this message. forklift migrate --dry-run names each row it refuses, with its source line. Nothing was committed.';

export const UNIQUE_CLASH_HINT =
  'If the target already holds rows with these keys: use load: replace or upsert (bundle import: --load replace or upsert), or remove them. If the constraint named is not one of the model\'s (a unique index added by hand), rows of this load share its value: drop that index or fix those rows in the source.';

export interface HeldKey {
  /** The source line of the staged row (`_line`). */
  line: unknown;
  /** The key's staged values, in primary key order. */
  key: unknown[];
}

/** Whether the target holds any of these keys (each in primary key order, as staged). */
export type HoldsAny = (keys: readonly (readonly unknown[])[]) => Promise<boolean>;

const KEY_BATCH = 500;

export async function firstHeldKey(staging: Database.Database, l: EntityLoad, holdsAny: HoldsAny, batch = KEY_BATCH): Promise<HeldKey | undefined> {
  const pk = l.entity.primaryKey;
  if (pk.length === 0) return undefined;
  const page = staging.prepare(`SELECT _seq, _line, ${pk.map(q).join(', ')} FROM ${l.stagedTable} WHERE _st = 0 AND _seq > ? ORDER BY _seq LIMIT ${batch}`).raw().safeIntegers(true);
  let after: unknown = -(2n ** 63n);
  for (;;) {
    const rows = page.all(after) as unknown[][];
    if (rows.length === 0) return undefined;
    after = rows[rows.length - 1]![0];
    if (!(await holdsAny(rows.map((r) => r.slice(2))))) continue;
    for (const r of rows) if (await holdsAny([r.slice(2)])) return { line: r[1], key: r.slice(2) };
    return undefined;
  }
}

/**
 * The condition a key lookup's WHERE holds: `(a = x AND b = y) OR …`, every store understands it
 * (SQL Server has no row-value IN) and each of its terms is a seek on the primary key.
 */
export function keysCondition(key: readonly string[], rows: number, id: (name: string) => string, value: (row: number, column: number) => string): string {
  const terms: string[] = [];
  for (let r = 0; r < rows; r++) terms.push(`(${key.map((c, i) => `${id(c)} = ${value(r, i)}`).join(' AND ')})`);
  return terms.join(' OR ');
}

/** The refusal of a load meeting a key the target holds, alike on every store (nothing committed). */
export function keyClashError(display: string, l: EntityLoad, hit: HeldKey, cause: unknown): StoreError {
  const key = l.entity.primaryKey.map((c, i) => `${c} ${JSON.stringify(String(hit.key[i]))}`).join(', ');
  return new StoreError(`${display}: ${l.entity.name}: the target already holds the key ${key} (source line ${String(hit.line)}); nothing was committed`, {
    code: 'store.load',
    hint: 'The target already holds rows with these keys: use load: replace or upsert (bundle import: --load replace or upsert), or remove them.',
    cause,
  });
}
