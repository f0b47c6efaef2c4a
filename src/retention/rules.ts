import { DateTime } from 'luxon';
import { ConfigError, formatLocation } from '../core/errors.js';
import { columnsOf, compileCondition, ExprRuntimeError, parseExpression, type CompiledCondition, type ExprNode } from '../mapping/expr/index.js';
import type { Column, Entity, Model } from '../model/types.js';
import type { RetentionRuleSpec } from '../plan/schema.js';
import type { YamlFile } from '../plan/yaml.js';
import { didYouMean } from '../util/suggest.js';

/**
 * Retention rules (SPEC section 11, `retention:` in the plan): which rows of an entity may go.
 * `keep: N days|months|years` with `by:` (a date or timestamp column) lets go the rows whose `by`
 * is before the cut-off, N calendar units before the as-of day (UTC midnight); `where:` (the safe
 * expression language of mapping files) lets go the rows it is true for. A rule with both lets go
 * the rows both allow. A row whose `by` is empty, or whose `where` cannot be evaluated, is kept:
 * a purge deletes only what a rule clearly allows.
 */

export type KeepUnit = 'days' | 'months' | 'years';

export interface RetentionRule {
  entity: string;
  keep?: { amount: number; unit: KeepUnit; text: string } | undefined;
  by?: string | undefined;
  where?: { text: string; node: ExprNode } | undefined;
}

const KEEP = /^\s*(\d{1,5})\s*(day|days|month|months|year|years)\s*$/i;

export function parseKeep(text: string): RetentionRule['keep'] {
  const m = KEEP.exec(text);
  if (!m) return undefined;
  const unit = m[2]!.toLowerCase().replace(/s?$/, 's') as KeepUnit;
  return { amount: Number(m[1]), unit, text: `${Number(m[1])} ${unit}` };
}

/**
 * The plan's retention rules checked against the model: every problem at once, each with the file
 * and line of the plan (unknown entity or column, a `keep` that does not parse, a `by` that is not
 * a date or timestamp, a `where` that does not parse or names an unknown column).
 */
export function checkRetention(specs: readonly RetentionRuleSpec[] | undefined, model: Model, yaml: YamlFile): { rules: RetentionRule[]; problems: string[] } {
  const rules: RetentionRule[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  (specs ?? []).forEach((spec, i) => {
    const at = (key: string): string => formatLocation(yaml.locate(['retention', i, key]));
    const entity = model.entities.get(spec.entity);
    if (!entity) {
      problems.push(`${at('entity')} retention[${i}].entity: unknown entity '${spec.entity}'${didYouMean(spec.entity, model.entities.keys())} (entities: ${[...model.entities.keys()].join(', ')})`);
      return;
    }
    if (seen.has(spec.entity)) problems.push(`${at('entity')} retention[${i}].entity: ${spec.entity} already has a rule; one rule per entity (a rule may have both keep/by and where)`);
    seen.add(spec.entity);
    const rule: RetentionRule = { entity: spec.entity };
    if (spec.keep === undefined && spec.by === undefined && spec.where === undefined) problems.push(`${at('entity')} retention[${i}]: a rule needs keep: with by:, or where:`);
    if (spec.keep !== undefined) {
      rule.keep = parseKeep(spec.keep);
      if (!rule.keep) problems.push(`${at('keep')} retention[${i}].keep: '${spec.keep}' is not a period; write N days, N months or N years, such as 24 months`);
      if (spec.by === undefined) problems.push(`${at('keep')} retention[${i}]: keep: needs by:, the date or timestamp column it counts by`);
    }
    if (spec.by !== undefined) {
      const col = columnOfEntity(entity, spec.by);
      if (!col) problems.push(`${at('by')} retention[${i}].by: ${entity.name} has no column '${spec.by}'${didYouMean(spec.by, entity.columns.map((c) => c.name))}`);
      else if (col.type !== 'date' && col.type !== 'timestamp') problems.push(`${at('by')} retention[${i}].by: ${entity.name}.${spec.by} is of type ${col.type}, not a date or timestamp`);
      if (spec.keep === undefined) problems.push(`${at('by')} retention[${i}]: by: needs keep:, such as keep: 24 months`);
      rule.by = spec.by;
    }
    if (spec.where !== undefined) {
      const node = parseWhere(spec.where, ['retention', i, 'where'], yaml, problems);
      if (node) {
        for (const c of columnsOf(node)) {
          if (!columnOfEntity(entity, c)) problems.push(`${at('where')} retention[${i}].where: ${entity.name} has no column '${c}'${didYouMean(c, entity.columns.map((x) => x.name))}`);
        }
        rule.where = { text: spec.where, node };
      }
    }
    rules.push(rule);
  });
  return { rules, problems };
}

function columnOfEntity(e: Entity, name: string): Column | undefined {
  return e.columns.find((c) => c.name === name);
}

function parseWhere(text: string, p: (string | number)[], yaml: YamlFile, problems: string[]): ExprNode | undefined {
  const loc = yaml.locate(p);
  const line = loc.line ?? 1;
  let column = loc.column ?? 1;
  // The expression starts after the opening quote of a quoted scalar.
  const lineText = yaml.text.split('\n')[line - 1] ?? '';
  if (lineText[column - 1] === '"' || lineText[column - 1] === "'") column += 1;
  try {
    return parseExpression(text, { file: loc.file, line, column });
  } catch (e) {
    if (e instanceof ConfigError) {
      problems.push(e.message);
      return undefined;
    }
    throw e;
  }
}

/** The as-of day: `--as-of YYYY-MM-DD`, or today (UTC). A day after today is refused. */
export function asOfDay(text: string | undefined, now = DateTime.utc()): DateTime {
  const today = now.toUTC().startOf('day');
  if (text === undefined) return today;
  const d = DateTime.fromISO(text, { zone: 'utc' });
  if (!/^\d{4}-\d\d-\d\d$/.test(text) || !d.isValid) {
    throw new ConfigError(`--as-of '${text}' is not a date`, { code: 'purge.as-of', hint: 'Write the day as YYYY-MM-DD, such as --as-of 2026-01-31.' });
  }
  if (d > today) {
    throw new ConfigError(`--as-of ${text} is in the future (today is ${today.toISODate()})`, {
      code: 'purge.as-of',
      hint: 'A purge counts back from today or an earlier day: rows a rule lets go in the future may not go yet.',
    });
  }
  return d;
}

/**
 * The cut-off of a keep/by rule in the staging form of the `by` column: rows before it may go.
 * Calendar arithmetic (luxon): 1 month before 2026-03-31 is 2026-02-28.
 */
export function cutoffOf(rule: RetentionRule, asOf: DateTime, byType: 'date' | 'timestamp'): string | null {
  if (!rule.keep) return null;
  const d = asOf.minus({ [rule.keep.unit]: rule.keep.amount });
  return byType === 'date' ? d.toISODate()! : d.toUTC().toISO({ suppressMilliseconds: false, includeOffset: false })! + 'Z';
}

/** A rule as a one-line text for reports: `ts before 2024-11-29 (keep 24 months)`, `where as_of < "2020-01-01"`. */
export function ruleText(rule: RetentionRule, cutoff: string | null): string {
  const parts: string[] = [];
  if (rule.keep && rule.by) parts.push(`${rule.by} before ${cutoff ?? '?'} (keep ${rule.keep.text})`);
  if (rule.where) parts.push(`where ${rule.where.text}`);
  return parts.join(' and ');
}

/**
 * The row test of a rule over an entity's rows (staging form): true where the rule lets the row
 * go; `undefined` where it cannot tell (an expression that fails on the row), which keeps the row.
 */
export function rowTest(rule: RetentionRule, entity: Entity, cutoff: string | null): (row: readonly unknown[]) => boolean | undefined {
  const byPos = rule.by !== undefined ? entity.columns.findIndex((c) => c.name === rule.by) : -1;
  const indexOf = (name: string): number => entity.columns.findIndex((c) => c.name === name);
  const isBoolean = (name: string): boolean => entity.columns[indexOf(name)]?.type === 'boolean';
  let where: CompiledCondition | undefined;
  // A boolean column alone is a condition (`where: not active`). Where it is missing the row's
  // answer is unknown, as SQL's NOT NULL is, and the row stays: `not active` must not let go the
  // rows nobody marked inactive.
  const bareBooleans: number[] = [];
  if (rule.where) {
    const node = booleanConditions(rule.where.node, isBoolean, (name) => bareBooleans.push(indexOf(name)));
    where = compileCondition(node, indexOf);
  }
  const text = entity.columns.map((c) => (c.type === 'boolean' ? (v: unknown) => (v === 1 || v === true ? 'true' : v === 0 || v === false ? 'false' : String(v)) : (v: unknown) => String(v)));
  return (row) => {
    if (byPos >= 0 && cutoff !== null) {
      const v = row[byPos];
      if (v === null || v === undefined || !(String(v) < cutoff)) return false;
    }
    if (where) {
      for (const i of bareBooleans) if (row[i] === null || row[i] === undefined) return undefined;
      const cells = row.map((v, i) => (v === null || v === undefined ? null : text[i]!(v)));
      try {
        return where(cells);
      } catch (e) {
        if (e instanceof ExprRuntimeError) return undefined;
        throw e;
      }
    }
    return true;
  };
}

/**
 * The where expression with each boolean column that stands as a condition by itself (the whole
 * expression, the operand of `not`, a side of `and`/`or`) made `column = true`: the row test hands
 * the expression text cells, and text is no condition. `found` is told of each such column.
 */
function booleanConditions(node: ExprNode, isBoolean: (name: string) => boolean, found: (name: string) => void): ExprNode {
  switch (node.kind) {
    case 'column':
      if (!isBoolean(node.name)) return node;
      found(node.name);
      return { ...node, kind: 'compare', op: '=', left: node, right: { ...node, kind: 'literal', value: true } };
    case 'not':
      return { ...node, operand: booleanConditions(node.operand, isBoolean, found) };
    case 'logical':
      return { ...node, left: booleanConditions(node.left, isBoolean, found), right: booleanConditions(node.right, isBoolean, found) };
    default:
      return node;
  }
}
