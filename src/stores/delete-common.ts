import { StoreError } from '../core/errors.js';
import type { Column, Entity } from '../model/types.js';

/**
 * What every store's purge delete (TargetStore.deleteRows) shares: the key columns it joins on and
 * the check that a table lost exactly the archived rows, counted before and after inside the
 * transaction. A difference rolls everything back: a purge never deletes a row it did not archive,
 * and never claims to have deleted one it did not.
 */

/** Keys per multi-row INSERT into a temporary key table (SQLite and MySQL; PostgreSQL COPYs them). */
export const KEYS_PER_INSERT = 500;

/** The primary-key columns of an entity, which a purge deletes by. */
export function keyColumns(e: Entity): Column[] {
  return e.primaryKey.map((k) => {
    const c = e.columns.find((x) => x.name === k);
    if (!c) throw new StoreError(`${e.name}: primary key column ${k} is not one of its columns`, { code: 'purge.key' });
    return c;
  });
}

export function assertDeleted(table: string, expected: number, deleted: number, before: number, after: number): void {
  if (deleted === expected && before - after === expected) return;
  throw new StoreError(
    `${table}: the archive holds ${expected} rows, but the delete removed ${deleted} (${before} rows before, ${after} after); the purge was rolled back and nothing was deleted`,
    { code: 'purge.count', hint: 'The table changed during the purge (rows added, changed or deleted by someone else): stop writes to it and run the same command again.' },
  );
}

/** Key batches cut into pieces of at most KEYS_PER_INSERT rows. */
export async function* keyPieces(keys: AsyncIterable<unknown[][]>, signal?: AbortSignal): AsyncGenerator<unknown[][]> {
  for await (const batch of keys) {
    signal?.throwIfAborted();
    for (let i = 0; i < batch.length; i += KEYS_PER_INSERT) yield batch.slice(i, i + KEYS_PER_INSERT);
  }
}
