import { StoreError } from '../core/errors.js';
import type { Column, Entity, Model } from '../model/types.js';
import type { DeleteAction, StoreForeignKey } from './types.js';

/**
 * What every store's purge delete (TargetStore.deleteRows) shares: the key columns it joins on, the
 * other columns it compares, and the checks inside its transaction. A row whose values changed
 * after the archive was written (an update between the export and the delete) no longer matches,
 * so the counts differ and everything rolls back: a purge never deletes a row it did not archive
 * as it is, and never claims to have deleted one it did not.
 *
 * Nor does it make the database delete or change any other row: a foreign key's ON DELETE acts only
 * on rows that reference a deleted row, so the delete is refused (DeleteGuard.checkReferences)
 * where any row that stays references an archived one, through any foreign key of the catalog,
 * by the store's own comparison, after the archived rows are locked (a row that comes to reference
 * one later waits for the commit and then fails its own check). Every purged table and every table
 * referencing one is counted before and after as well: a purged table must lose exactly its
 * archived rows, any other none.
 */

/**
 * The catalog's foreign keys and the model's references it lacks (the same table, columns and
 * referenced table and columns count as one). A purge must keep a row that rows staying in the
 * store reference by either.
 */
export function withModelReferences(catalog: readonly StoreForeignKey[], model: readonly StoreForeignKey[] | undefined): StoreForeignKey[] {
  const sig = (fk: StoreForeignKey): string => JSON.stringify([fk.schema, fk.table, fk.columns, fk.refTable, fk.refColumns]);
  const have = new Set(catalog.map(sig));
  return [...catalog, ...(model ?? []).filter((fk) => !have.has(sig(fk)))];
}

/**
 * The model's single-column references as foreign keys of the store (no ON DELETE of their own),
 * where the store holds both tables with those columns.
 */
export function modelReferences(model: Model, described: readonly Entity[]): StoreForeignKey[] {
  const byName = new Map(described.map((e) => [e.name, e]));
  const has = (table: string, column: string): boolean => byName.get(table)?.columns.some((c) => c.name === column) ?? false;
  const out: StoreForeignKey[] = [];
  for (const e of model.entities.values()) {
    for (const c of e.columns) {
      if (!c.references || !has(e.name, c.name) || !has(c.references.entity, c.references.column)) continue;
      out.push({ name: `${e.name}.${c.name} references ${c.references.entity}.${c.references.column} (model)`, schema: null, table: e.name, columns: [c.name], refTable: c.references.entity, refColumns: [c.references.column], onDelete: 'no action' });
    }
  }
  return out;
}

/** Rows per multi-row INSERT into a temporary table of archived rows (SQLite and MySQL; PostgreSQL COPYs them). */
export const ROWS_PER_INSERT = 500;

/** The primary-key columns of an entity, which a purge deletes by. */
export function keyColumns(e: Entity): Column[] {
  return e.primaryKey.map((k) => {
    const c = e.columns.find((x) => x.name === k);
    if (!c) throw new StoreError(`${e.name}: primary key column ${k} is not one of its columns`, { code: 'purge.key' });
    return c;
  });
}

export function assertDeleted(table: string, expected: number, deleted: number, before: number, after: number): void {
  if (deleted === expected && before - after === expected) return;
  throw new StoreError(
    `${table}: the archive holds ${expected} rows, but the delete removed ${deleted} (${before} rows before, ${after} after; a row is deleted only where the table still holds it exactly as archived); the purge was rolled back and nothing was deleted`,
    { code: 'purge.count', hint: 'The table changed during the purge (rows added, changed or deleted by someone else): stop writes to it and run the same command again.' },
  );
}

/** The columns of an entity that are not in its primary key: a purge compares them with the archive's values. */
export function valueColumns(e: Entity): Column[] {
  return e.columns.filter((c) => !e.primaryKey.includes(c.name));
}

/** Row batches cut into pieces of at most ROWS_PER_INSERT rows. */
export async function* rowPieces(rows: AsyncIterable<unknown[][]>, signal?: AbortSignal): AsyncGenerator<unknown[][]> {
  for await (const batch of rows) {
    signal?.throwIfAborted();
    for (let i = 0; i < batch.length; i += ROWS_PER_INSERT) yield batch.slice(i, i + ROWS_PER_INSERT);
  }
}

// ---------------------------------------------------------------------------------------------
// References: the SQL every store shares (each quotes and names tables its own way)

/** How a store writes the SQL of a purge's reference checks. */
export interface RefDialect {
  /** A quoted identifier. */
  id(name: string): string;
  /** A table as a FROM names exactly the rows its foreign keys answer for (PostgreSQL: ONLY an ordinary table). */
  rows(schema: string | null, table: string): string;
  /**
   * `row` (a column of a table) is the same key value as `set` (that column in a key set or an
   * archive table). `set = row` unless the store keeps the set's value in another form (SQLite
   * keeps a BLOB or REAL key as the text it reads).
   */
  keyEquals?(table: string, column: string, row: string, set: string): string;
}

function keyMatch(d: RefDialect, table: string, key: readonly string[], row: string, set: string): string {
  const eq = d.keyEquals ?? ((_t: string, _c: string, r: string, s: string): string => `${s} = ${r}`);
  return key.map((k) => eq(table, k, `${row}.${d.id(k)}`, `${set}.${d.id(k)}`)).join(' AND ');
}

/** The referencing row `c` references the row `p` through fk: the store's own `=` (its collations, its types), as its foreign key compares. */
function referenceMatch(d: RefDialect, fk: StoreForeignKey): string {
  return fk.refColumns.map((r, i) => `p.${d.id(r)} = c.${d.id(fk.columns[i]!)}`).join(' AND ');
}

/** A set of rows of a table held in a (temporary) table of the store, by the table's primary key. */
export interface RowSet {
  /** The set's table, as a FROM names it. */
  table: string;
  /** The key columns (the primary key of the rows' table). */
  key: readonly string[];
}

/**
 * The numbers (`forklift_n`) of the rows of `parent` (rows of fk.refTable) that a row of fk.table
 * references, where that row is not in `child` (the rows of fk.table that go; null: none go).
 */
export function referencedSql(d: RefDialect, fk: StoreForeignKey, parent: RowSet, child: RowSet | null): string {
  const notGoing = child ? ` AND NOT EXISTS (SELECT 1 FROM ${child.table} h WHERE ${keyMatch(d, fk.table, child.key, 'c', 'h')})` : '';
  return (
    `SELECT s.forklift_n FROM ${parent.table} s JOIN ${d.rows(null, fk.refTable)} p ON ${keyMatch(d, fk.refTable, parent.key, 'p', 's')} ` +
    `WHERE EXISTS (SELECT 1 FROM ${d.rows(fk.schema, fk.table)} c WHERE ${referenceMatch(d, fk)}${notGoing})`
  );
}

/** How many rows of fk.table that are not in `child` reference a row of fk.refTable that is in `parent`. */
export function referencingCountSql(d: RefDialect, fk: StoreForeignKey, parent: RowSet, child: RowSet | null): string {
  const notGoing = child ? ` AND NOT EXISTS (SELECT 1 FROM ${child.table} h WHERE ${keyMatch(d, fk.table, child.key, 'c', 'h')})` : '';
  return (
    `SELECT count(*) FROM ${d.rows(fk.schema, fk.table)} c ` +
    `WHERE EXISTS (SELECT 1 FROM ${parent.table} s JOIN ${d.rows(null, fk.refTable)} p ON ${keyMatch(d, fk.refTable, parent.key, 'p', 's')} WHERE ${referenceMatch(d, fk)})${notGoing}`
  );
}

/** A table's rows joined with its archived rows by key, as the lock and the DELETE of a purge join them. */
export function archivedKeyMatch(d: RefDialect, e: Entity, row: string, archive: string): string {
  return keyMatch(d, e.name, e.primaryKey, row, archive);
}

/** A table's label in messages: its name, with its schema where it is another one. */
export function tableLabel(schema: string | null, table: string): string {
  return schema === null ? table : `${schema}.${table}`;
}

/** One purged table inside the delete's transaction. */
export interface ArchivedTable {
  entity: Entity;
  /** Its archived rows (every column), in a temporary table, as a FROM names it. */
  archive: string;
  /**
   * The same rows where a statement names them a second time (a self reference: MySQL cannot open
   * one temporary table twice in a statement), their key columns at least.
   */
  again: string;
  expected: number;
}

/**
 * The purged tables some foreign key references: their archived rows are locked before the checks
 * (a table no foreign key references has no references to guard, and its DELETE locks its rows).
 */
export function referencedTables(tables: readonly ArchivedTable[], fks: readonly StoreForeignKey[]): ArchivedTable[] {
  return tables.filter((t) => fks.some((fk) => fk.refTable === t.entity.name));
}

const EFFECT: Record<DeleteAction, string> = {
  cascade: 'which would delete them too',
  'set null': 'which would set their reference to NULL',
  'set default': 'which would change their reference',
  restrict: 'which refuses the delete',
  'no action': 'which refuses the delete',
};

/**
 * The checks of a purge's delete around its DELETE statements: `start` counts every purged table
 * and every table that references one (before any DELETE, after the archived rows are locked),
 * `checkReferences` refuses where a row that stays references an archived row, `checkCounts`
 * counts again after the DELETEs.
 */
export class DeleteGuard {
  private constructor(
    private readonly d: RefDialect,
    private readonly count: (sql: string) => Promise<number>,
    private readonly tables: readonly ArchivedTable[],
    /** The foreign keys into the purged tables. */
    private readonly fks: readonly StoreForeignKey[],
    /** Every table counted, by label: the purged ones and every one referencing them. */
    private readonly counted: Map<string, { schema: string | null; table: string; before: number }>,
  ) {}

  static async start(d: RefDialect, count: (sql: string) => Promise<number>, tables: readonly ArchivedTable[], fks: readonly StoreForeignKey[]): Promise<DeleteGuard> {
    const purged = new Set(tables.map((t) => t.entity.name));
    const into = fks.filter((fk) => purged.has(fk.refTable));
    const counted = new Map<string, { schema: string | null; table: string; before: number }>();
    for (const { schema, table } of [...tables.map((t) => ({ schema: null, table: t.entity.name })), ...into.map((fk) => ({ schema: fk.schema, table: fk.table }))]) {
      const label = tableLabel(schema, table);
      if (!counted.has(label)) counted.set(label, { schema, table, before: await count(`SELECT count(*) FROM ${d.rows(schema, table)}`) });
    }
    return new DeleteGuard(d, count, tables, into, counted);
  }

  /** Refuses (StoreError purge.referenced) where a row that stays references a row about to be deleted. */
  async checkReferences(): Promise<void> {
    const byName = new Map(this.tables.map((t) => [t.entity.name, t]));
    for (const fk of this.fks) {
      const parent = byName.get(fk.refTable)!;
      const child = fk.schema === null ? byName.get(fk.table) : undefined;
      const n = await this.count(
        referencingCountSql(this.d, fk, { table: parent.archive, key: parent.entity.primaryKey }, child ? { table: child === parent ? child.again : child.archive, key: child.entity.primaryKey } : null),
      );
      if (n === 0) continue;
      const label = tableLabel(fk.schema, fk.table);
      throw new StoreError(
        `${label}: ${n === 1 ? '1 row that stays references' : `${n} rows that stay reference`} rows of ${fk.refTable} that the purge would delete (ON DELETE ${fk.onDelete.toUpperCase()}, ${EFFECT[fk.onDelete]}; foreign key ${fk.name}); the purge was rolled back and nothing was deleted`,
        {
          code: 'purge.referenced',
          hint: `Rows of ${label} were added or changed since the archive was written: run the purge again with a new archive folder (its selection keeps the rows they reference).`,
        },
      );
    }
  }

  /** Counts again after the DELETEs: a purged table lost exactly its archived rows, any other table none. */
  async checkCounts(deleted: ReadonlyMap<string, number>): Promise<void> {
    const archived = new Map(this.tables.map((t) => [t.entity.name, t]));
    for (const [label, c] of this.counted) {
      const after = await this.count(`SELECT count(*) FROM ${this.d.rows(c.schema, c.table)}`);
      const t = c.schema === null ? archived.get(c.table) : undefined;
      if (t) {
        assertDeleted(t.entity.name, t.expected, deleted.get(t.entity.name) ?? 0, c.before, after);
        continue;
      }
      if (after === c.before) continue;
      throw new StoreError(
        `${label}: the purge archived none of its rows, but it held ${c.before} rows before the delete and ${after} after (a foreign key or a trigger acted on it); the purge was rolled back and nothing was deleted`,
        { code: 'purge.count', hint: `Check the foreign keys and triggers of ${label}, and stop writes to it while the purge runs; then run the same command again.` },
      );
    }
  }
}
