import { StoreError } from '../core/errors.js';
import { isStagedPointInTime } from '../mapping/datetime.js';
import type { Entity } from '../model/types.js';
import type { Watermark } from '../plan/watermark.js';
import type { TargetStore } from '../stores/types.js';
import { stagingTable, type Staging } from './staging.js';
import { ROW_BEHIND_WATERMARK, ROW_OK } from './row-state.js';
import { q } from '../util/sql-name.js';

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
  checkMarks(entity, wm, marks);
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

/**
 * A watermark that is no day or instant of the years 0001 to 9999 (a target table written by
 * another tool: PostgreSQL's infinity or BC dates, MySQL's zero dates) cannot be compared with
 * staged rows: as text it would mark none or all of them as loaded before. The run stops instead,
 * naming the row's group.
 */
function checkMarks(entity: Entity, wm: Watermark, marks: readonly unknown[][]): void {
  const type = entity.columns.find((c) => c.name === wm.column)?.type;
  if (type !== 'date' && type !== 'timestamp') return;
  for (const row of marks) {
    const v = row[row.length - 1];
    if (isStagedPointInTime(type, v)) continue;
    const group = wm.groupBy.map((c, i) => `${c} = ${String(row[i])}`).join(', ');
    const where = wm.groupBy.length ? ` for ${group}` : '';
    throw new StoreError(
      `table ${entity.name}, column ${wm.column}: the latest value in the target${where} is ${String(v)}, not a ${type === 'date' ? 'date' : 'point in time'} of the years 0001 to 9999, so forklift cannot tell which rows of this run are newer; nothing was loaded`,
      {
        code: 'store.watermark',
        hint: `Correct that value in the target (UPDATE ${entity.name} SET ${wm.column} = … WHERE ${wm.column} = …${wm.groupBy.length ? ` AND ${group}` : ''}), or delete the row if it is not real; then run again.`,
      },
    );
  }
}
