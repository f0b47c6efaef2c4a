import type { Column } from '../model/types.js';
import type { EntityLoad } from './types.js';

/**
 * The columns an upsert sets where the key already exists: the non-key columns the load provides
 * (EntityLoad.provided). A mapping that leaves a column out means "not this column", not "empty
 * it", as a hand-written MERGE or ON CONFLICT would only name the columns it has.
 */
export function upsertColumns(l: Pick<EntityLoad, 'entity' | 'provided'>): Column[] {
  const { entity, provided } = l;
  return entity.columns.filter((c) => !entity.primaryKey.includes(c.name) && (provided === undefined || provided.includes(c.name)));
}

/**
 * The names an upsert's SET assigns. With nothing to update, the first key column is set to
 * itself: the statement then still counts a matched row as written (SQLite's DO NOTHING would
 * not), so rows written = rows sent holds for every store.
 */
export function upsertSetNames(l: Pick<EntityLoad, 'entity' | 'provided'>): string[] {
  const cols = upsertColumns(l);
  return cols.length > 0 ? cols.map((c) => c.name) : [l.entity.primaryKey[0]!];
}
