import type Database from 'better-sqlite3';
import { BugError } from '../core/errors.js';

/**
 * Rows into one SQLite table through multi-row INSERTs of `perInsert` rows, the rest one by one
 * at flush(): fewer calls into SQLite, measured about 20% faster than one by one. The migrate's
 * staging and exit's scratch re-import both write through it.
 */
export class RowInserter {
  private readonly many: Database.Statement;
  private readonly one: Database.Statement;
  private readonly width: number;
  private readonly pending: unknown[] = [];
  private count = 0;

  /** `table` and `columns` as SQL (quoted). */
  constructor(
    db: Database.Database,
    table: string,
    columns: readonly string[],
    private readonly perInsert = 16,
  ) {
    const sql = `INSERT INTO ${table} (${columns.join(', ')}) VALUES `;
    const tuple = `(${columns.map(() => '?').join(', ')})`;
    this.width = columns.length;
    this.one = db.prepare(sql + tuple);
    this.many = db.prepare(sql + Array<string>(perInsert).fill(tuple).join(', '));
  }

  /** One row: `lead` (when given) for the first column, then `values` for the others. */
  add(values: readonly unknown[], lead?: unknown): void {
    const pending = this.pending;
    if (lead !== undefined) pending.push(lead);
    for (const v of values) pending.push(v);
    if (pending.length === this.width * this.perInsert) {
      this.count += this.many.run(pending).changes;
      pending.length = 0;
    }
  }

  /** Whole rows, each exactly as wide as the table's columns. */
  rows(batch: readonly (readonly unknown[])[]): void {
    for (const r of batch) {
      if (r.length !== this.width) throw new BugError(`a row of ${r.length} values for a table of ${this.width} columns`);
      this.add(r);
    }
  }

  /** Writes the rows still pending; the rows inserted in all so far. */
  flush(): number {
    for (let i = 0; i < this.pending.length; i += this.width) this.count += this.one.run(this.pending.slice(i, i + this.width)).changes;
    this.pending.length = 0;
    return this.count;
  }
}
