import { StoreError } from '../core/errors.js';
import type { Column, Entity } from '../model/types.js';

/**
 * MySQL/MariaDB and SQL Server match keys by the column's collation: under a PAD SPACE collation
 * a file's `A ` matches the target's `A`, and under a case-blind one (a table made by someone
 * else) `a` matches `A`. An upsert would then update `A` with the file's row, and the file's key
 * `A ` would end up in no table and in no reject. The stores look for such a match before the
 * upsert and fail the load with this error, nothing committed.
 */

/** A column of text, which the server compares by its collation. */
export const isText = (c: Column): boolean => c.type === 'string' || c.type === 'text' || c.type === 'enum';

/** The key columns, where one of them is compared by collation (text), or none. */
export function collatedKeyColumns(e: Entity): Column[] {
  const keys = e.primaryKey.map((k) => e.columns.find((c) => c.name === k)!);
  return keys.some(isText) ? keys : [];
}

/** `hit` holds s0, t0, s1, t1 …: the file's and the target's value of each key column. */
export function looseKeyError(where: string, e: Entity, keys: readonly Column[], hit: Record<string, unknown>, decode: (v: unknown) => string): StoreError {
  const key = (side: 's' | 't'): string => keys.map((c, i) => `${c.name} ${JSON.stringify(decode(hit[`${side}${i}`]))}`).join(', ');
  return new StoreError(`${where}${e.name}: the key ${key('s')} would update the target's row ${key('t')}, a different key that the server counts as equal (trailing spaces or letter case); nothing was committed`, {
    code: 'store.loose-key',
    hint: 'Make the keys agree first: add `clean: [trim]` (or upper/lower) to the key field of the mapping, or correct the key in the target.',
  });
}
