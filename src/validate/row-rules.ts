import type { Entity } from '../model/types.js';
import type { StoredValue } from '../mapping/coerce.js';

export interface RowProblem {
  field: string;
  rule: string;
  reason: string;
}

/**
 * Rules that need the whole mapped row but no other rows: date order, BOM self reference,
 * negative quantities. Each returns undefined or the problem. Built once per entity.
 */
export function makeRowRules(entity: Entity, opts: { allowNegative: boolean }): ((row: readonly StoredValue[]) => RowProblem | undefined)[] {
  const idx = (name: string): number => entity.columns.findIndex((c) => c.name === name);
  const rules: ((row: readonly StoredValue[]) => RowProblem | undefined)[] = [];
  for (const rule of entity.rules) {
    switch (rule.kind) {
      case 'bom-graph': {
        const p = idx(rule.parent);
        const c = idx(rule.component);
        rules.push((row) =>
          row[p] !== null && row[p] === row[c]
            ? { field: rule.component, rule: 'bom-self-reference', reason: `item ${String(row[p])} is listed as a component of itself` }
            : undefined,
        );
        break;
      }
      case 'date-order': {
        const f = idx(rule.from);
        const t = idx(rule.to);
        rules.push((row) => {
          const a = row[f];
          const b = row[t];
          return a !== null && b !== null && a !== undefined && b !== undefined && String(a) > String(b)
            ? { field: rule.to, rule: 'date-order', reason: `${rule.to} ${String(b)} is before ${rule.from} ${String(a)}` }
            : undefined;
        });
        break;
      }
      case 'non-negative-unless-allowed': {
        if (opts.allowNegative) break;
        const q = idx(rule.column);
        rules.push((row) =>
          typeof row[q] === 'string' && (row[q] as string).startsWith('-')
            ? { field: rule.column, rule: 'negative', reason: `${rule.column} ${String(row[q])} is negative; set \`allow_negative: true\` in the mapping if that is real` }
            : undefined,
        );
        break;
      }
      case 'strictly-increasing':
        // A set rule: duplicates of (partition, column) are found by the key stage.
        break;
    }
  }
  return rules;
}
