import type { Entity } from '../model/types.js';
import { ROW_DUPLICATE, ROW_OK, q, stagingTable, type Staging } from '../run/staging.js';

export type OnDuplicate = 'reject' | 'first' | 'last';

/**
 * Rows that share a primary key. Exact copies (every column equal) are dropped and counted,
 * keeping the first; rows of a key that disagree follow on_duplicate: `reject` rejects them all,
 * since none can be trusted; `first` / `last` keep one and drop the others. Works in SQL over
 * the staging table, so a million-row log needs no key set in memory.
 */
export function checkDuplicateKeys(staging: Staging, entity: Entity, onDuplicate: OnDuplicate, sourceLabel: string): void {
  const t = stagingTable(entity.name);
  const pk = entity.primaryKey.map(q);
  const others = entity.columns.filter((c) => !entity.primaryKey.includes(c.name)).map((c) => q(c.name));
  const fingerprint = others.length ? `json_array(${others.join(', ')})` : `''`;
  const groups = staging.db
    // Runs first for its entity, while every staged row is still ok: no _st filter, so the
    // query is a scan of the key index alone instead of a million table look-ups.
    .prepare(`SELECT ${pk.join(', ')}, COUNT(*) AS n FROM ${t} GROUP BY ${pk.join(', ')} HAVING COUNT(*) > 1`)
    .raw()
    .iterate() as IterableIterator<unknown[]>;
  const members = staging.db.prepare(`SELECT _seq, _line, ${fingerprint} AS fp FROM ${t} WHERE ${pk.map((c) => `${c} IS ?`).join(' AND ')} AND _st = ${ROW_OK} ORDER BY _seq`);
  const markDup = staging.db.prepare(`UPDATE ${t} SET _st = ${ROW_DUPLICATE} WHERE _seq = ?`);
  // Collect first: updating the table while iterating a GROUP BY over it is not allowed.
  const keys: unknown[][] = [];
  for (const g of groups) keys.push(g.slice(0, pk.length));
  for (const key of keys) {
    const rows = members.all(...key) as { _seq: number; _line: number; fp: string }[];
    const variants = new Set(rows.map((r) => r.fp));
    const keyText = entity.primaryKey.map((k, i) => `${k} ${String(key[i])}`).join(', ');
    if (variants.size === 1 || onDuplicate !== 'reject') {
      const keep = variants.size === 1 || onDuplicate === 'first' ? rows[0]! : rows[rows.length - 1]!;
      for (const r of rows) if (r !== keep) markDup.run(r._seq);
      continue;
    }
    const lines = rows.map((r) => r._line).join(', ');
    for (const r of rows) {
      staging.rejectStaged(
        entity.name,
        r._seq,
        r._line,
        entity.primaryKey.join('+'),
        'duplicate-key',
        `${rows.length} rows of ${sourceLabel} (lines ${lines}) have the key ${keyText} with different values; none is loaded. Keep the right one, or set on_duplicate: first or last`,
      );
    }
  }
}
