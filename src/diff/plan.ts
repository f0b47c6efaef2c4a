import { compareText } from '../bundle/order.js';
import { ConfigError } from '../core/errors.js';
import type { ColumnType, Entity } from '../model/types.js';
import { commonKind, kindOf, typeText, type Kind } from './canonical.js';
import type { KeySource, SchemaChange } from './types.js';

/**
 * The first half of a diff, before any row is read: the two sides' tables and columns compared
 * (schema changes), and for every table on both sides how its rows are matched: the key, the
 * columns compared and in which kind (numbers or text), and whether each side's own order is the
 * merge's order (so it can stream) or not (so it is sorted on disk first).
 */

export interface ColumnPlan {
  name: string;
  leftPos: number;
  rightPos: number;
  kind: Kind;
  leftType: ColumnType;
  rightType: ColumnType;
}

export interface TablePlan {
  table: string;
  left: Entity;
  right: Entity;
  keySource: KeySource;
  /** The columns rows are matched by. */
  key: ColumnPlan[];
  /** The other columns compared. */
  values: ColumnPlan[];
  /** Every compared column's name (key included), in the left side's order. */
  columns: string[];
  ignored: string[];
  /** The key identifies a row: a repeated key is an error. False when matching by all columns (rows may repeat). */
  unique: boolean;
  /** The side's own canonical order (its primary key, or every column) is the merge's order. */
  leftInOrder: boolean;
  rightInOrder: boolean;
}

export interface OneSidedTable {
  table: string;
  side: 'left' | 'right';
  entity: Entity;
}

export interface DiffSelection {
  /** Only these tables. */
  tables?: readonly string[] | undefined;
  /** Keys for tables without one (or to match by other columns): table → columns. */
  keys?: ReadonlyMap<string, readonly string[]> | undefined;
  /** Columns left out: `col` in every table, `table.col` in one. */
  ignore?: readonly string[] | undefined;
}

export interface DiffPlan {
  schema: SchemaChange[];
  tables: (TablePlan | OneSidedTable)[];
}

/** `--key items=item_code,bom_lines=parent_item+line_no` (each flag value may hold several, comma-separated). */
export function parseKeySpecs(specs: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const spec of specs.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)) {
    const m = /^([^=]+)=(.+)$/.exec(spec);
    const cols = m ? m[2]!.split('+').map((c) => c.trim()) : [];
    if (!m || cols.some((c) => c === '')) {
      throw new ConfigError(`--key '${spec}': expected TABLE=COLUMN or TABLE=COLUMN1+COLUMN2`, { code: 'usage', hint: 'For example --key machine_events=machine_id+ts.' });
    }
    const table = m[1]!.trim();
    if (out.has(table)) throw new ConfigError(`--key names table ${table} twice`, { code: 'usage', hint: 'Give one key per table.' });
    out.set(table, cols);
  }
  return out;
}

export function planDiff(left: readonly Entity[], right: readonly Entity[], sel: DiffSelection = {}): DiffPlan {
  const L = new Map(left.map((e) => [e.name, e]));
  const R = new Map(right.map((e) => [e.name, e]));
  const all = [...new Set([...L.keys(), ...R.keys()])].sort(compareText);
  let names = all;
  if (sel.tables?.length) {
    const unknown = sel.tables.filter((t) => !L.has(t) && !R.has(t));
    if (unknown.length) {
      throw new ConfigError(`--tables: ${unknown.join(', ')} ${unknown.length > 1 ? 'are tables' : 'is a table'} of neither side`, {
        code: 'diff.unknown-table',
        hint: `Tables: ${all.join(', ') || '(none)'}.`,
      });
    }
    const wanted = new Set(sel.tables);
    names = all.filter((t) => wanted.has(t));
  }
  const chosen = new Set(names);
  for (const t of sel.keys?.keys() ?? []) {
    if (!chosen.has(t)) throw new ConfigError(`--key ${t}: not a table being compared`, { code: 'diff.unknown-table', hint: `Tables: ${names.join(', ') || '(none)'}.` });
  }
  const ignored = ignoreRules(sel.ignore ?? [], names, L, R);

  const schema: SchemaChange[] = [];
  const tables: (TablePlan | OneSidedTable)[] = [];
  for (const name of names) {
    const l = L.get(name);
    const r = R.get(name);
    if (!l || !r) {
      schema.push({ kind: l ? 'table-removed' : 'table-added', table: name });
      tables.push({ table: name, side: l ? 'left' : 'right', entity: (l ?? r)! });
      continue;
    }
    const skip = ignored(name);
    const rPos = new Map(r.columns.map((c, i) => [c.name, i]));
    const lPos = new Map(l.columns.map((c, i) => [c.name, i]));
    for (const c of l.columns) {
      if (skip.has(c.name)) continue;
      const i = rPos.get(c.name);
      if (i === undefined) schema.push({ kind: 'column-removed', table: name, column: c.name, type: typeText(c) });
      else if (typeText(c) !== typeText(r.columns[i]!)) schema.push({ kind: 'type-changed', table: name, column: c.name, left: typeText(c), right: typeText(r.columns[i]!) });
    }
    for (const c of r.columns) if (!skip.has(c.name) && !lPos.has(c.name)) schema.push({ kind: 'column-added', table: name, column: c.name, type: typeText(c) });
    if (l.primaryKey.join('\u0000') !== r.primaryKey.join('\u0000')) schema.push({ kind: 'key-changed', table: name, left: [...l.primaryKey], right: [...r.primaryKey] });

    const common: ColumnPlan[] = l.columns
      .filter((c) => !skip.has(c.name) && rPos.has(c.name))
      .map((c) => {
        const ri = rPos.get(c.name)!;
        const rt = r.columns[ri]!.type;
        return { name: c.name, leftPos: lPos.get(c.name)!, rightPos: ri, kind: commonKind(c.type, rt), leftType: c.type, rightType: rt };
      });
    const byName = new Map(common.map((c) => [c.name, c]));
    const usable = (cols: readonly string[]): boolean => cols.length > 0 && cols.every((c) => byName.has(c));
    let keyNames: readonly string[];
    let keySource: KeySource;
    const given = sel.keys?.get(name);
    if (given) {
      for (const c of given) {
        if (skip.has(c)) throw new ConfigError(`--key ${name}: ${c} is also in --ignore-columns`, { code: 'usage', hint: 'A key column is compared by definition: leave it out of --ignore-columns.' });
        if (!byName.has(c)) {
          const where = !lPos.has(c) && !rPos.has(c) ? 'on either side' : !lPos.has(c) ? 'on the left side' : 'on the right side';
          throw new ConfigError(`--key ${name}: ${name} has no column ${c} ${where}`, {
            code: 'usage',
            hint: `Columns on both sides: ${common.map((c) => c.name).join(', ') || '(none)'}.`,
          });
        }
      }
      keyNames = given;
      keySource = '--key';
    } else if (l.primaryKey.length && l.primaryKey.join('\u0000') === r.primaryKey.join('\u0000')) {
      const hidden = l.primaryKey.find((c) => skip.has(c));
      if (hidden) throw new ConfigError(`--ignore-columns: ${name}.${hidden} is part of the primary key`, { code: 'usage', hint: `Match ${name} by other columns with --key ${name}=COL1+COL2, or compare ${hidden}.` });
      keyNames = l.primaryKey;
      keySource = 'primary key';
    } else if (usable(l.primaryKey)) {
      keyNames = l.primaryKey;
      keySource = 'left primary key';
    } else if (usable(r.primaryKey)) {
      keyNames = r.primaryKey;
      keySource = 'right primary key';
    } else {
      keyNames = common.map((c) => c.name);
      keySource = 'all columns';
    }
    const keySet = new Set(keyNames);
    const key = keyNames.map((k) => byName.get(k)!);
    tables.push({
      table: name,
      left: l,
      right: r,
      keySource,
      key,
      values: common.filter((c) => !keySet.has(c.name)),
      columns: common.map((c) => c.name),
      ignored: l.columns.map((c) => c.name).concat(r.columns.map((c) => c.name).filter((c) => !lPos.has(c))).filter((c) => skip.has(c)),
      unique: keySource !== 'all columns',
      leftInOrder: ordersBy(l, key, 'leftType'),
      rightInOrder: ordersBy(r, key, 'rightType'),
    });
  }
  return { schema, tables };
}

/**
 * Whether a side read in its own canonical order (primary key, or every column in order) is in
 * the merge key's order: the key is a prefix of that order, column for column in the same kind.
 */
function ordersBy(e: Entity, key: readonly ColumnPlan[], typeOf: 'leftType' | 'rightType'): boolean {
  const own = e.primaryKey.length ? e.primaryKey : e.columns.map((c) => c.name);
  if (key.length === 0 || key.length > own.length) return false;
  return key.every((k, i) => own[i] === k.name && kindOf(k[typeOf]) === k.kind);
}

function ignoreRules(specs: readonly string[], names: readonly string[], L: ReadonlyMap<string, Entity>, R: ReadonlyMap<string, Entity>): (table: string) => Set<string> {
  const everywhere = new Set<string>();
  const perTable = new Map<string, Set<string>>();
  const has = (t: string, c: string): boolean => Boolean(L.get(t)?.columns.some((x) => x.name === c) || R.get(t)?.columns.some((x) => x.name === c));
  for (const spec of specs.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)) {
    const dot = spec.indexOf('.');
    const table = dot > 0 ? spec.slice(0, dot) : undefined;
    if (table !== undefined && names.includes(table)) {
      const col = spec.slice(dot + 1);
      if (!has(table, col)) throw new ConfigError(`--ignore-columns: ${table} has no column ${col} on either side`, { code: 'usage', hint: 'Check the column name.' });
      const set = perTable.get(table) ?? new Set<string>();
      set.add(col);
      perTable.set(table, set);
      continue;
    }
    // A bare name applies to every table that has it (a name with a dot that is no table's is a column's).
    if (!names.some((t) => has(t, spec))) {
      throw new ConfigError(`--ignore-columns: no table being compared has a column ${spec}`, {
        code: 'usage',
        hint: table !== undefined ? `${table} is not a table being compared; tables: ${names.join(', ') || '(none)'}.` : 'Write COLUMN for every table that has it, or TABLE.COLUMN for one.',
      });
    }
    everywhere.add(spec);
  }
  return (t) => new Set([...everywhere, ...(perTable.get(t) ?? [])]);
}

export function isTablePlan(t: TablePlan | OneSidedTable): t is TablePlan {
  return 'key' in t;
}
