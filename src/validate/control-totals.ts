import { Decimal } from 'decimal.js';
import type { Model } from '../model/types.js';
import type { PlanFile } from '../plan/schema.js';
import { stagingTable, type Staging } from '../run/staging.js';
import { ROW_OK } from '../run/row-state.js';
import { q } from '../util/sql-name.js';

// decimal.js rounds every result to 20 significant digits by default: a sum of decimal(38,10)
// values would be rounded, and a wrong total could pass. Sums are exact with no bound (addition
// adds no digits beyond the longest operand's).
const Exact = Decimal.clone({ precision: 1e9 });

export interface CheckResult {
  entity: string;
  measure: string;
  expected: string;
  actual: string;
  ok: boolean;
}

/** Control totals from the legacy system (plan `checks:`), over the rows that would be loaded, in exact decimals. */
export function checkControlTotals(staging: Staging, checks: NonNullable<PlanFile['checks']>, inRun: (e: string) => boolean, model: Model): CheckResult[] {
  const out: CheckResult[] = [];
  for (const c of checks) {
    const present = inRun(c.entity);
    if (c.rows !== undefined) {
      const n = present ? staging.count(c.entity, ROW_OK) : 0;
      out.push({ entity: c.entity, measure: 'rows', expected: String(c.rows), actual: String(n), ok: n === c.rows });
    }
    for (const [col, expected] of Object.entries(c.sum ?? {})) {
      let sum = new Exact(0);
      if (present) {
        const it = staging.db.prepare(`SELECT ${q(col)} AS v FROM ${stagingTable(c.entity)} WHERE _st = ${ROW_OK} AND ${q(col)} IS NOT NULL`).pluck().iterate() as IterableIterator<string | number>;
        for (const v of it) sum = sum.plus(new Exact(v));
      }
      const ok = sum.equals(new Exact(expected));
      const scale = model.entities.get(c.entity)?.columns.find((x) => x.name === col)?.scale;
      out.push({ entity: c.entity, measure: `sum(${col})`, expected, actual: scale === undefined ? sum.toFixed() : sum.toFixed(scale), ok });
    }
  }
  return out;
}
