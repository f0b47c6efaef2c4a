import type { Entity } from '../model/types.js';
import { stagingTable, type Staging } from '../run/staging.js';
import { ROW_BEHIND_WATERMARK, ROW_DUPLICATE, ROW_OK, ROW_REJECTED } from '../run/row-state.js';
import { q } from '../util/sql-name.js';

/**
 * A row whose reference does not resolve to a row loaded by this run (or already in the target,
 * for entities this run does not replace) is rejected, and the reason says what became of the
 * row it points at. Runs in dependency order, so a BOM line whose component was rejected is
 * rejected too.
 */
export function checkForeignKeys(
  staging: Staging,
  entity: Entity,
  inRun: (entity: string) => boolean,
  existingTable: (entity: string, column: string) => string | undefined,
  labelOf: (entity: string) => string,
  entityOf: (entity: string) => Entity | undefined,
): void {
  const t = stagingTable(entity.name);
  for (const col of entity.columns) {
    const ref = col.references;
    if (!ref) continue;
    const candidates: string[] = [];
    if (inRun(ref.entity)) candidates.push(`SELECT ${q(ref.column)} FROM ${stagingTable(ref.entity)} WHERE _st = ${ROW_OK}`);
    const existing = existingTable(ref.entity, ref.column);
    if (existing) candidates.push(`SELECT ${q(ref.column)} FROM ${existing}`);
    const known = candidates.length ? candidates.join(' UNION ALL ') : 'SELECT NULL WHERE 0';
    const orphans = staging.db
      .prepare(`SELECT _seq, _line, ${q(col.name)} AS v FROM ${t} WHERE _st = ${ROW_OK} AND ${q(col.name)} IS NOT NULL AND ${q(col.name)} NOT IN (${known})`)
      .all() as { _seq: number; _line: number; v: string }[];
    const fate = inRun(ref.entity)
      ? // Of the rows with that key (on_duplicate drops all but one), the one rejected says why none loaded.
        staging.db.prepare(`SELECT _line, _st FROM ${stagingTable(ref.entity)} WHERE ${q(ref.column)} = ? ORDER BY _st = ${ROW_REJECTED} DESC, _seq LIMIT 1`)
      : undefined;
    const rejectReason = staging.db.prepare('SELECT reason FROM rejects WHERE entity = ? AND line = ? LIMIT 1');
    // A row rejected by its own mapping never reached staging; its key is on its reject.
    const rejectedByKey = staging.db.prepare('SELECT line, reason FROM rejects WHERE entity = ? AND key = ? ORDER BY line LIMIT 1');
    const singleKey = (plan: Entity | undefined): boolean => plan !== undefined && plan.primaryKey.length === 1 && plan.primaryKey[0] === ref.column;
    for (const o of orphans) {
      let why = inRun(ref.entity)
        ? `it is not in ${labelOf(ref.entity)}, or was filtered out there${existing ? ', and the target has no such row' : ''}`
        : `${ref.entity} is not loaded by this run and the target has no such row`;
      const f = fate?.get(o.v) as { _line: number; _st: number } | undefined;
      if (f && f._st === ROW_REJECTED) {
        const r = rejectReason.get(ref.entity, f._line) as { reason: string } | undefined;
        why = `it was rejected at line ${f._line} of ${labelOf(ref.entity)}${r ? ` (${r.reason})` : ''}`;
      } else if (f) {
        why = `line ${f._line} of ${labelOf(ref.entity)} holds it, but was ${f._st === ROW_DUPLICATE ? 'dropped as a duplicate' : f._st === ROW_BEHIND_WATERMARK ? 'skipped as behind the watermark' : 'not loaded'}`;
      } else if (inRun(ref.entity) && singleKey(entityOf(ref.entity))) {
        const r = rejectedByKey.get(ref.entity, o.v) as { line: number; reason: string } | undefined;
        if (r) why = `it was rejected at line ${r.line} of ${labelOf(ref.entity)} (${r.reason})`;
      }
      staging.rejectStaged(entity.name, o._seq, o._line, col.name, 'foreign-key', `${col.name} '${o.v}' is not a loaded ${ref.entity}.${ref.column}: ${why}`);
    }
  }
}
