import type { Entity } from '../model/types.js';
import type { Watermark } from '../plan/watermark.js';
import type { TargetStore } from '../stores/types.js';
import { ROW_BEHIND_WATERMARK, ROW_OK, q, stagingTable, type Staging } from './staging.js';

export interface WatermarkResult {
  column: string;
  group_by: string[];
  /** Key prefixes (machines) the target already held rows for. */
  groups_in_target: number;
  /** Staged rows at or before their prefix's watermark: counted as filtered, not loaded. */
  behind: number;
}

/**
 * Reads the target's latest watermark per key prefix into the staging file and marks every staged
 * row at or before it, so those rows are counted as filtered (the ledger still sums) and never
 * reach the loader. Runs before the duplicate and foreign-key passes: a row an earlier run already
 * loaded is neither a duplicate of nor a reference for this run's rows.
 */
export async function applyWatermark(store: TargetStore, staging: Staging, entity: Entity, wm: Watermark): Promise<WatermarkResult> {
  const result: WatermarkResult = { column: wm.column, group_by: wm.groupBy, groups_in_target: 0, behind: 0 };
  if (!(await store.hasTable(entity.name))) return result;
  const marks = await store.maxPerGroup(entity.name, wm.groupBy, wm.column);
  result.groups_in_target = marks.length;
  if (marks.length === 0) return result;

  const table = q(`w_${entity.name}`);
  const g = wm.groupBy.map((_, i) => q(`g${i}`));
  staging.db.exec(`CREATE TABLE ${table} (${[...g, 'm'].join(', ')}${g.length ? `, PRIMARY KEY (${g.join(', ')})` : ''})`);
  const insert = staging.db.prepare(`INSERT INTO ${table} VALUES (${[...g, 'm'].map(() => '?').join(', ')})`);
  for (const row of marks) insert.run(row);

  const s = stagingTable(entity.name);
  const col = `${s}.${q(wm.column)}`;
  const match = wm.groupBy.map((c, i) => `${table}.${g[i]} = ${s}.${q(c)}`);
  const behind = staging.db
    .prepare(`UPDATE ${s} SET _st = ${ROW_BEHIND_WATERMARK} WHERE _st = ${ROW_OK} AND EXISTS (SELECT 1 FROM ${table} WHERE ${[...match, `${col} <= ${table}.m`].join(' AND ')})`)
    .run().changes;
  result.behind = behind;
  return result;
}
