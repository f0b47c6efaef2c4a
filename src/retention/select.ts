import path from 'node:path';
import Database from 'better-sqlite3';
import type { DateTime } from 'luxon';
import type { RowSelection } from '../bundle/export.js';
import { ConfigError } from '../core/errors.js';
import { columnsOf } from '../mapping/expr/index.js';
import { referencedFirst, type Entity, type Model } from '../model/types.js';
import { modelReferences, tableLabel, withModelReferences } from '../stores/delete-common.js';
import { RUNS_ENTITY } from '../stores/runs-entity.js';
import type { DeleteTrigger, KeySets, RowRange, StoreForeignKey, TargetStore } from '../stores/types.js';
import { didYouMean } from '../util/suggest.js';
import { cutoffOf, rowTest, ruleText, type RetentionRule } from './rules.js';
import { allowedTriggers } from './triggers.js';
import { dropWork, scratchDir } from '../util/work-path.js';

/**
 * Which rows a purge lets go, table by table, as the rows stream past (SPEC section 11). A table's
 * rule is a row test (rules.ts); a keep/by rule is also pushed down into the store's read as a
 * cut-off, so only the candidate rows are read.
 *
 * Referential safety: a row that a row staying in the store references is kept, through every
 * foreign key the store's catalog has (composite, self referencing, from tables of other schemas)
 * and every reference of the plan's model the catalog lacks (a self reference, which forklift
 * creates no FOREIGN KEY for), and "references" is decided by the store itself, by
 * its own comparison (collations, types), as its foreign keys decide it: a case-insensitive key
 * 'abc' references 'ABC'. The candidates of every table involved (one that rows reference, or one
 * that references such a table and is purged too) are put into key sets in the store
 * (TargetStore.openKeySets); then, until nothing changes, every candidate that a row outside the
 * candidates references is taken out of its set and kept (and the rows it references in turn, on
 * the next round: a chain or a self reference is followed to its end). What is left may go: rows
 * referenced only by rows that go too. Which candidates were kept, and for whom, is noted in a
 * scratch SQLite file (memory stays flat however many there are), which the export's (or the dry
 * run's count's) row filter consults, so the dry run says exactly what the purge deletes. The
 * delete checks the same again inside its transaction (stores/delete-common.ts).
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

export interface SelectionOptions {
  rules: readonly RetentionRule[];
  asOf: DateTime;
  /** Contract end: every data table, every row. */
  all: boolean;
  /** DELETE triggers (and rules) of purged tables the purge may set off, by name or table.name (triggers.ts); any other is refused. */
  allowTriggers?: readonly string[] | undefined;
  /** The plan's model: its references count as foreign keys where the catalog has none (a self reference). */
  model?: Model | undefined;
  signal?: AbortSignal | undefined;
}

/** The candidates of the tables rows reference, and which of them stay, for whom. */
interface Scratch {
  dir: string;
  db: Database.Database;
  /** Table name to its number in the scratch file. */
  index: Map<string, number>;
}

/** Candidates gathered before they go into the store's key set at once. */
const KEYS_PER_ADD = 20_000;

/** Said of a candidate that appeared after the selection read its table: its references were never checked. */
const UNCHECKED = 'they appeared while the purge selected, so their references were not checked';

export class Selection {
  private constructor(
    /** Children before the tables they reference. */
    readonly tables: SelectedTable[],
    /** Every table of the store (forklift_runs included), as described. */
    readonly described: Entity[],
    /** The DELETE triggers of purged tables that the purge was allowed to set off. */
    readonly triggers: DeleteTrigger[],
    private readonly scratch: Scratch | null,
  ) {}

  /** The tables and cut-offs of a purge, checked against the store (exit 2 where a rule does not fit it); which candidates stay for the rows that reference them. */
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
    const keyless = chosen.filter((c) => c.entity.primaryKey.length === 0).map((c) => c.entity.name);
    for (const name of keyless) problems.push(`${name} has no primary key: a purge deletes rows by their key, so it cannot purge this table`);
    if (problems.length) {
      // --all uses no rules, so only the store can change: it empties every data table, and none can be left out.
      const hint = opts.all
        ? `Give ${keyless.join(', ')} a primary key (ALTER TABLE … ADD PRIMARY KEY), or drop ${keyless.length === 1 ? 'the table' : 'those tables'} if ${keyless.length === 1 ? 'it is' : 'they are'} not data to archive: purge --all empties every data table of the store and has no option to leave one out.`
        : 'Make the retention rules fit the tables of the store (forklift mapping check checks them against the model).';
      throw new ConfigError(problems[0]!, { code: 'purge.rules', hint, details: problems.slice(1) });
    }
    if (!opts.all && chosen.length === 0) {
      throw new ConfigError('the plan has no retention rules: there is nothing a purge may delete', {
        code: 'purge.no-rules',
        hint: 'Add retention: to the plan (SPEC section 11), or empty every table at contract end with --all --confirm NAME.',
      });
    }
    if (!store.foreignKeys || !store.openKeySets || !store.deleteTriggers) throw new ConfigError(`${store.display}: purge is not supported on this store yet`, { code: 'purge.store', hint: 'Purge works on SQLite, PostgreSQL and MySQL/MariaDB.' });
    const purged = new Map(chosen.map((c) => [c.entity.name, c]));
    // Before anything is read: a trigger the purge may not set off is refused (the dry run too).
    const triggers = allowedTriggers(await store.deleteTriggers(), [...purged.keys()], opts.allowTriggers ?? [], store.display);
    const into = withModelReferences(await store.foreignKeys(), opts.model ? modelReferences(opts.model, described) : undefined).filter((fk) => purged.has(fk.refTable));
    const tables = childrenFirst(
      chosen.map((c) => c.entity.name),
      into,
    ).map((name): SelectedTable => {
      const c = purged.get(name)!;
      return { entity: c.entity, rule: c.rule, cutoff: c.cutoff, rule_text: c.rule ? ruleText(c.rule, c.cutoff) : 'every row (contract end)', selected: 0, kept_referenced: 0, kept_unevaluable: 0, kept_because: [] };
    });

    // Only a table that may keep rows can keep the rows it references: one not purged, one whose
    // rule leaves rows, and (in turn) one referenced by those. At contract end nothing is kept
    // unless a table beyond the purge (another schema's) references it.
    const goes = (fk: StoreForeignKey): boolean => fk.schema === null && purged.has(fk.table);
    const mayKeep = new Set<string>([...into.filter((fk) => !goes(fk)).map((fk) => tableLabel(fk.schema, fk.table)), ...chosen.filter((c) => c.rule !== null).map((c) => c.entity.name)]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const fk of into) {
        if (!mayKeep.has(tableLabel(fk.schema, fk.table)) || mayKeep.has(fk.refTable)) continue;
        mayKeep.add(fk.refTable);
        grew = true;
      }
    }
    const edges = into.filter((fk) => mayKeep.has(tableLabel(fk.schema, fk.table)));
    if (edges.length === 0) return new Selection(tables, described, triggers, null);

    const parents = new Set(edges.map((fk) => fk.refTable));
    const involved = tables.filter((t) => parents.has(t.entity.name) || edges.some((fk) => goes(fk) && fk.table === t.entity.name));
    const dir = scratchDir('forklift-purge-', 'purge');
    const db = new Database(path.join(dir, 'kept-references.sqlite'));
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.exec('CREATE TABLE cand (t INTEGER NOT NULL, k TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (t, k)) WITHOUT ROWID');
    db.exec('CREATE TABLE kept (n INTEGER PRIMARY KEY, child TEXT NOT NULL)');
    const selection = new Selection(tables, described, triggers, { dir, db, index: new Map(tables.filter((t) => parents.has(t.entity.name)).map((t, i) => [t.entity.name, i])) });
    try {
      const sets = await store.openKeySets();
      try {
        await selection.candidates(store, sets, involved, opts.signal);
        await selection.keepReferenced(sets, edges, goes);
      } finally {
        await sets.close();
      }
    } catch (e) {
      selection.close();
      throw e;
    }
    return selection;
  }

  /** Every candidate of the involved tables into its key set; those of referenced tables numbered in the scratch file too. */
  private async candidates(store: TargetStore, sets: KeySets, involved: readonly SelectedTable[], signal: AbortSignal | undefined): Promise<void> {
    const { db, index } = this.scratch!;
    const record = db.prepare('INSERT INTO cand (t, k, n) VALUES (?, ?, ?)');
    let next = 0;
    for (const t of involved) {
      const test = t.rule ? rowTest(t.rule, t.entity, t.cutoff) : (): boolean => true;
      const key = t.entity.primaryKey.map((k) => t.entity.columns.findIndex((c) => c.name === k));
      const ti = index.get(t.entity.name);
      let keys: unknown[][] = [];
      const flush = async (): Promise<void> => {
        if (ti !== undefined) db.transaction(() => keys.forEach((k, i) => record.run(ti, JSON.stringify(k), next + i)))();
        await sets.add(t.entity, keys, next);
        next += keys.length;
        keys = [];
      };
      for await (const batch of store.readRows(t.entity, { signal, where: cutoffRange(t) })) {
        for (const row of batch) if (test(row) === true) keys.push(key.map((i) => row[i]));
        // Fewer, larger writes into the store's set (a read batch is a thousand rows).
        if (keys.length >= KEYS_PER_ADD) await flush();
      }
      await flush();
    }
  }

  /**
   * Takes out of the sets, until nothing changes, every candidate that a row outside the sets
   * references. Edges are taken parents last, so an acyclic purge settles in one round (and one
   * more to see that it did); a self reference or a cycle takes a round per step of its chains.
   */
  private async keepReferenced(sets: KeySets, edges: readonly StoreForeignKey[], goes: (fk: StoreForeignKey) => boolean): Promise<void> {
    const { db } = this.scratch!;
    const keep = db.prepare('INSERT OR IGNORE INTO kept (n, child) VALUES (?, ?)');
    const rank = new Map(this.tables.map((t, i) => [t.entity.name, i]));
    const ordered = [...edges].sort((a, b) => rank.get(a.refTable)! - rank.get(b.refTable)!);
    let dirty: Set<string> | null = null;
    for (;;) {
      const changed = new Set<string>();
      for (const fk of ordered) {
        // After the first round only the references from rows newly kept can keep more.
        if (dirty && !(goes(fk) && dirty.has(fk.table))) continue;
        const kept = await sets.referenced(fk);
        if (kept.length === 0) continue;
        await sets.remove(fk.refTable, kept);
        const child = tableLabel(fk.schema, fk.table);
        db.transaction(() => kept.forEach((n) => keep.run(n, child)))();
        changed.add(fk.refTable);
      }
      if (changed.size === 0) return;
      dirty = changed;
    }
  }

  /** How the export (or a count) reads a table: its cut-off pushed down where it may be, and the row filter. */
  rowsFor(entity: Entity): RowSelection | undefined {
    const t = this.tables.find((x) => x.entity.name === entity.name);
    if (!t) return undefined;
    const ti = this.scratch?.index.get(t.entity.name);
    if (!t.rule && ti === undefined) {
      return {
        filter: (batch) => {
          t.selected += batch.length;
          return batch;
        },
      };
    }
    const test = t.rule ? rowTest(t.rule, t.entity, t.cutoff) : (): boolean => true;
    const db = this.scratch?.db;
    const lookup = ti !== undefined ? db!.prepare('SELECT c.n, k.child FROM cand c LEFT JOIN kept k ON k.n = c.n WHERE c.t = ? AND c.k = ?').raw() : undefined;
    const key = t.entity.primaryKey.map((k) => t.entity.columns.findIndex((c) => c.name === k));
    const because = new Set<string>();
    const filter = (batch: unknown[][]): unknown[][] => {
      const out: unknown[][] = [];
      for (const row of batch) {
        let go = test(row);
        if (go === undefined) {
          t.kept_unevaluable++;
          go = false;
        }
        if (go && lookup) {
          const hit = lookup.get(ti, JSON.stringify(key.map((i) => row[i]))) as [number, string | null] | undefined;
          const child = hit === undefined ? UNCHECKED : hit[1];
          if (child !== null) {
            go = false;
            t.kept_referenced++;
            because.add(child);
          }
        }
        if (go) out.push(row);
      }
      t.selected += out.length;
      t.kept_because = [
        ...[...because].map((c) => (c === UNCHECKED ? c : `rows of ${c} that stay reference them`)),
        ...(t.kept_unevaluable ? ['the where expression could not be evaluated on them'] : []),
      ];
      return out;
    };
    return { where: cutoffRange(t), filter };
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

/** A keep/by rule's cut-off, pushed down into the store's read. */
function cutoffRange(t: SelectedTable): RowRange | undefined {
  return t.rule?.keep && t.rule.by && t.cutoff !== null ? { column: t.rule.by, before: t.cutoff } : undefined;
}

/**
 * The purged tables, every one before the tables it references (by the catalog's foreign keys):
 * the selection of a parent depends on its children's kept rows, and the delete takes children
 * first. In a cycle the order is the one the rules give.
 */
function childrenFirst(names: readonly string[], fks: readonly StoreForeignKey[]): string[] {
  return referencedFirst(names, (n) => fks.filter((fk) => fk.schema === null && fk.table === n).map((fk) => fk.refTable)).reverse();
}
