import { StoreError } from '../core/errors.js';
import type { Column, Entity } from '../model/types.js';

/**
 * What every store's purge delete (TargetStore.deleteRows) shares: the key columns it joins on, the
 * other columns it compares, and the check that a table lost exactly the archived rows, counted
 * before and after inside the transaction. A row whose values changed after the archive was
 * written (an update between the export and the delete) no longer matches, so the counts differ
 * and everything rolls back: a purge never deletes a row it did not archive as it is, and never
 * claims to have deleted one it did not.
 */

/** Rows per multi-row INSERT into a temporary table of archived rows (SQLite and MySQL; PostgreSQL COPYs them). */
export const ROWS_PER_INSERT = 500;

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
    `${table}: the archive holds ${expected} rows, but the delete removed ${deleted} (${before} rows before, ${after} after; a row is deleted only where the table still holds it exactly as archived); the purge was rolled back and nothing was deleted`,
    { code: 'purge.count', hint: 'The table changed during the purge (rows added, changed or deleted by someone else): stop writes to it and run the same command again.' },
  );
}

/** The columns of an entity that are not in its primary key: a purge compares them with the archive's values. */
export function valueColumns(e: Entity): Column[] {
  return e.columns.filter((c) => !e.primaryKey.includes(c.name));
}

/** Row batches cut into pieces of at most ROWS_PER_INSERT rows. */
export async function* rowPieces(rows: AsyncIterable<unknown[][]>, signal?: AbortSignal): AsyncGenerator<unknown[][]> {
  for await (const batch of rows) {
    signal?.throwIfAborted();
    for (let i = 0; i < batch.length; i += ROWS_PER_INSERT) yield batch.slice(i, i + ROWS_PER_INSERT);
  }
}
