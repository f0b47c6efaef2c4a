import path from 'node:path';
import Database from 'better-sqlite3';
import type { DateTime } from 'luxon';
import type { RowSelection } from '../bundle/export.js';
import { ConfigError } from '../core/errors.js';
import { columnsOf } from '../mapping/expr/index.js';
import { dependencyOrder, type Entity } from '../model/types.js';
import { RUNS_ENTITY } from '../stores/runs-entity.js';
import type { RowRange, TargetStore } from '../stores/types.js';
import { didYouMean } from '../util/suggest.js';
import { cutoffOf, rowTest, ruleText, type RetentionRule } from './rules.js';
import { dropWork, scratchDir } from '../util/work-path.js';

/**
 * Which rows a purge lets go, table by table, as the rows stream past (SPEC section 11). A table's
 * rule is a row test (rules.ts); a keep/by rule is also pushed down into the store's read as a
 * cut-off, so only the candidate rows are read, unless the table's own kept rows matter to another
 * table (below).
 *
 * Referential safety: a row that a kept row references is kept. Tables are taken children first;
 * for every reference child.col -> parent.col into a purged parent, the values of col in the
 * child's KEPT rows are gathered in a scratch SQLite file (memory stays flat however many there
 * are): for a child without a rule that is every distinct value of the column, for a purged child
 * the values of the rows its own selection keeps (it is then read whole, not just its candidates).
 * A parent's candidate row whose key is among them is kept and counted as kept_referenced. So a
 * chain grandchild -> child -> parent keeps the parent of a kept child, and nothing is ever left
 * dangling. A self reference is not followed (forklift's tables have none; the model leaves them
 * to validation).
 */

export interface SelectedTable {
  /** The table as the store describes it. */
  entity: Entity;
  /** null: contract end (--all), every row goes. */
  rule: RetentionRule | null;
  cutoff: string | null;
  /** The rule in words, for the report and the deletion record. */
  rule_text: string;
  /** Rows the rules let go (after referential safety). */
  selected: number;
  /** Candidates kept because rows that stay reference them. */
  kept_referenced: number;
  /** Candidates kept because the `where` expression could not be evaluated on them. */
  kept_unevaluable: number;
  /** Why rows were kept, in words (empty when none were). */
  kept_because: string[];
}

interface Edge {
  child: string;
  column: string;
  parent: string;
  parentColumn: string;
  table: string;
}

export interface SelectionOptions {
  rules: readonly RetentionRule[];
  asOf: DateTime;
  /** Contract end: every data table, every row. */
  all: boolean;
}

export class Selection {
  private constructor(
    /** Children before the tables they reference. */
    readonly tables: SelectedTable[],
    /** Every table of the store (forklift_runs included), as described. */
    readonly described: Entity[],
    private readonly edges: Edge[],
    private readonly scratch: { dir: string; db: Database.Database } | null,
  ) {}

  /** The tables and cut-offs of a purge, checked against the store (exit 2 where a rule does not fit it). */
  static async plan(store: TargetStore, opts: SelectionOptions): Promise<Selection> {
    const described = await store.describeTables();
    const byName = new Map(described.map((e) => [e.name, e]));
    const data = described.filter((e) => e.name !== RUNS_ENTITY.name);
    const problems: string[] = [];
    const chosen: { entity: Entity; rule: RetentionRule | null; cutoff: string | null }[] = [];
    if (opts.all) {
      for (const e of data) chosen.push({ entity: e, rule: null, cutoff: null });
    } else {
      for (const rule of opts.rules) {
        const entity = byName.get(rule.entity);
        if (!entity || entity.name === RUNS_ENTITY.name) {
          problems.push(`retention: ${store.display} has no table ${rule.entity}${didYouMean(rule.entity, data.map((e) => e.name))}`);
          continue;
        }
        const missing = [rule.by, ...(rule.where ? columnsOf(rule.where.node) : [])].filter((c): c is string => c !== undefined && !entity.columns.some((x) => x.name === c));
        for (const c of missing) problems.push(`retention: table ${entity.name} of ${store.display} has no column ${c}`);
        const by = entity.columns.find((c) => c.name === rule.by);
        if (by && by.type !== 'date' && by.type !== 'timestamp') problems.push(`retention: ${entity.name}.${by.name} is of type ${by.type} in ${store.display}, not a date or timestamp`);
        if (missing.length || (by && by.type !== 'date' && by.type !== 'timestamp')) continue;
        chosen.push({ entity, rule, cutoff: by ? cutoffOf(rule, opts.asOf, by.type as 'date' | 'timestamp') : null });
      }
    }
    for (const c of chosen) {
      if (c.entity.primaryKey.length === 0) problems.push(`${c.entity.name} has no primary key: a purge deletes rows by their key, so it cannot purge this table`);
    }
    if (problems.length) {
      throw new ConfigError(problems[0]!, { code: 'purge.rules', hint: 'Make the retention rules fit the tables of the store (forklift mapping check checks them against the model).', details: problems.slice(1) });
    }
    if (!opts.all && chosen.length === 0) {
      throw new ConfigError('the plan has no retention rules: there is nothing a purge may delete', {
        code: 'purge.no-rules',
        hint: 'Add retention: to the plan (SPEC section 11), or empty every table at contract end with --all --confirm NAME.',
      });
    }
    const model = { name: 'store', entities: byName };
    const order = dependencyOrder(model, chosen.map((c) => c.entity.name)).reverse();
    const byChosen = new Map(chosen.map((c) => [c.entity.name, c]));
    const tables = order.map((name): SelectedTable => {
      const c = byChosen.get(name)!;
      return { entity: c.entity, rule: c.rule, cutoff: c.cutoff, rule_text: c.rule ? ruleText(c.rule, c.cutoff) : 'every row (contract end)', selected: 0, kept_referenced: 0, kept_unevaluable: 0, kept_because: [] };
    });
    // Contract end takes every row of every table: no reference can be left dangling.
    if (opts.all) return new Selection(tables, described, [], null);

    const purged = new Set(tables.map((t) => t.entity.name));
    const edges: Edge[] = [];
    for (const e of data) {
      for (const c of e.columns) {
        const r = c.references;
        if (!r || r.entity === e.name || !purged.has(r.entity)) continue;
        edges.push({ child: e.name, column: c.name, parent: r.entity, parentColumn: r.column, table: `r${edges.length}` });
      }
    }
    if (edges.length === 0) return new Selection(tables, described, [], null);
    const dir = scratchDir('forklift-purge-', 'purge');
    const db = new Database(path.join(dir, 'kept-references.sqlite'));
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    const selection = new Selection(tables, described, edges, { dir, db });
    try {
      for (const edge of edges) db.exec(`CREATE TABLE ${edge.table} (v TEXT PRIMARY KEY) WITHOUT ROWID`);
      // A child without a rule keeps every row: every value it references is kept.
      for (const edge of edges.filter((x) => !purged.has(x.child))) {
        const insert = db.prepare(`INSERT OR IGNORE INTO ${edge.table} (v) VALUES (?)`);
        const many = db.transaction((vs: unknown[]) => {
          for (const v of vs) if (v !== null && v !== undefined) insert.run(String(v));
        });
        for await (const batch of store.readColumn(edge.child, edge.column)) many(batch);
      }
    } catch (e) {
      selection.close();
      throw e;
    }
    return selection;
  }

  /** How the export (or a count) reads a table: its cut-off pushed down where it may be, and the row filter. */
  rowsFor(entity: Entity): RowSelection | undefined {
    const t = this.tables.find((x) => x.entity.name === entity.name);
    if (!t) return undefined;
    if (!t.rule) {
      return {
        filter: (batch) => {
          t.selected += batch.length;
          return batch;
        },
      };
    }
    const test = rowTest(t.rule, t.entity, t.cutoff);
    const outgoing = this.edges.filter((e) => e.child === t.entity.name);
    const incoming = this.edges.filter((e) => e.parent === t.entity.name);
    const db = this.scratch?.db;
    const pos = (name: string): number => t.entity.columns.findIndex((c) => c.name === name);
    const record = outgoing.map((e) => ({ at: pos(e.column), stmt: db!.prepare(`INSERT OR IGNORE INTO ${e.table} (v) VALUES (?)`) }));
    const lookup = incoming.map((e) => ({ at: pos(e.parentColumn), stmt: db!.prepare(`SELECT 1 FROM ${e.table} WHERE v = ?`).pluck(), child: e.child }));
    const because = new Set<string>();
    // The kept rows of a table referencing a purged parent must be seen: then it is read whole.
    const where: RowRange | undefined = outgoing.length === 0 && t.rule.keep && t.rule.by && t.cutoff !== null ? { column: t.rule.by, before: t.cutoff } : undefined;
    const filter = (batch: unknown[][]): unknown[][] => {
      const out: unknown[][] = [];
      for (const row of batch) {
        let go = test(row);
        if (go === undefined) {
          t.kept_unevaluable++;
          go = false;
        }
        if (go) {
          for (const l of lookup) {
            const v = row[l.at];
            if (v !== null && v !== undefined && l.stmt.get(String(v)) !== undefined) {
              go = false;
              t.kept_referenced++;
              because.add(l.child);
              break;
            }
          }
        }
        if (go) {
          out.push(row);
          continue;
        }
        for (const r of record) {
          const v = row[r.at];
          if (v !== null && v !== undefined) r.stmt.run(String(v));
        }
      }
      t.selected += out.length;
      t.kept_because = [
        ...[...because].map((c) => `rows of ${c} that stay reference them`),
        ...(t.kept_unevaluable ? ['the where expression could not be evaluated on them'] : []),
      ];
      return out;
    };
    return { where, filter: db && record.length ? (batch) => db.transaction(filter)(batch) : filter };
  }

  /** Counts only (--dry-run): every table read through its selection, nothing written. */
  async count(store: TargetStore, opts: { signal?: AbortSignal | undefined; progress?: (p: { table: string; rows: number }) => void } = {}): Promise<void> {
    for (const t of this.tables) {
      const sel = this.rowsFor(t.entity)!;
      for await (const batch of store.readRows(t.entity, { signal: opts.signal, where: sel.where })) {
        sel.filter!(batch);
        opts.progress?.({ table: t.entity.name, rows: t.selected });
      }
    }
  }

  close(): void {
    if (!this.scratch) return;
    this.scratch.db.close();
    dropWork(this.scratch.dir);
  }
}
