import { StoreError } from '../core/errors.js';
import { tableLabel } from './delete-common.js';
import type { DeleteAction, EntityLoad, TargetStore } from './types.js';

const EFFECT: Partial<Record<DeleteAction, (table: string) => string>> = {
  cascade: (t) => `delete every row of ${t} that references one of its rows`,
  'set null': (t) => `set the references of the rows of ${t} that point at its rows to NULL`,
  'set default': (t) => `change the references of the rows of ${t} that point at its rows to their default`,
};

/**
 * A replace empties its tables before it loads them. A table the run does not replace that
 * references one of them ON DELETE CASCADE, SET NULL or SET DEFAULT (an ERP's orders pointing at
 * items, say) would lose its rows or references with them, and the server does it without a word:
 * the load is refused before anything is sent, naming the foreign key. NO ACTION and RESTRICT need
 * no guard: the server refuses the delete itself, and nothing is committed.
 */
export async function refuseCascadingReplace(store: TargetStore, loads: readonly EntityLoad[]): Promise<void> {
  const replaced = new Set(loads.filter((l) => l.mode === 'replace').map((l) => l.entity.name));
  if (replaced.size === 0 || !store.foreignKeys) return;
  const hit = (await store.foreignKeys()).find(
    (fk) => replaced.has(fk.refTable) && !(fk.schema === null && replaced.has(fk.table)) && fk.onDelete !== 'no action' && fk.onDelete !== 'restrict',
  );
  if (!hit) return;
  const label = tableLabel(hit.schema, hit.table);
  throw new StoreError(
    `${store.display}: a replace of ${hit.refTable} would change ${label} too: the replace empties ${hit.refTable} first, and the foreign key ${hit.name} of ${label} (ON DELETE ${hit.onDelete.toUpperCase()}) would ${EFFECT[hit.onDelete]?.(label) ?? `change the rows of ${label}`}; nothing was loaded`,
    {
      code: 'store.replace-cascade',
      hint: `Load ${hit.refTable} with load: upsert (the rows of ${label} stay as they are), or change that foreign key to ON DELETE NO ACTION or RESTRICT if the replace should fail where ${label} still references a row.`,
    },
  );
}
