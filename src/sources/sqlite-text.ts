/**
 * SQLite TEXT that is not UTF-8. SQLite keeps whatever bytes a program stored as TEXT (a legacy
 * application writing Latin-1, a `CAST(X'…' AS TEXT)`), and better-sqlite3 decodes them with
 * U+FFFD in place of every invalid sequence: the value would load altered, without a word. A
 * decoded string holds U+FFFD only then, or where the database holds that very character; only
 * such values (rare) are read again, as bytes, so valid text costs one search per value.
 *
 * The bytes come from the same query as a subquery, `WITH q(c0, …) AS (<query>) SELECT *,
 * CAST(cN AS BLOB) FROM q`, one cursor per column that needed it, opened at the row (OFFSET) and
 * then read forward in step with the source: a table full of such values is read twice, not once
 * per value. The row it gives must equal the row the source read, every value: a query whose rows
 * come in another order the second time cannot be checked, and stops the read.
 */
import { isUtf8 } from 'node:buffer';
import type Database from 'better-sqlite3';
import { showNonUtf8Cut } from './encoding.js';
import type { CellFault } from './types.js';

interface BytesCursor {
  it: IterableIterator<unknown[]>;
  /** The 1-based row of the source the next `it.next()` gives. */
  next: number;
}

/** The bytes of a value could not be read again to tell U+FFFD from bytes that are not UTF-8. */
export class TextRereadError extends Error {
  readonly dbHint: string;
  constructor(row: number, column: string, why: string, cause?: unknown) {
    super(`row ${row}, column ${column} holds U+FFFD (the replacement character), and its bytes cannot be read again to tell whether the database holds that character or text that is not UTF-8: ${why}`, { cause });
    this.name = 'TextRereadError';
    this.dbHint = 'write the query as one SELECT (no trailing comment) whose ORDER BY gives every row one place';
  }
}

export class SqliteTextCheck {
  private readonly cursors = new Map<number, BytesCursor>();

  constructor(
    private readonly db: Database.Database,
    private readonly sql: string,
    private readonly header: readonly string[],
  ) {}

  /** The bytes of row `row`'s value in column `col` when they are not UTF-8; undefined when the text is what the database holds. */
  nonUtf8(row: number, col: number, values: readonly unknown[]): Buffer | undefined {
    const bytes = this.bytesAt(row, col, values);
    return isUtf8(bytes) ? undefined : bytes;
  }

  close(): void {
    for (const c of this.cursors.values()) c.it.return?.();
    this.cursors.clear();
  }

  private bytesAt(row: number, col: number, values: readonly unknown[]): Buffer {
    for (let attempt = 0; attempt < 2; attempt++) {
      let c = this.cursors.get(col);
      // A second attempt starts afresh at the row: the first cursor may have drifted.
      if (c === undefined || c.next > row || attempt > 0) {
        c?.it.return?.();
        c = this.open(row, col);
        this.cursors.set(col, c);
      }
      while (c.next < row && c.it.next().done !== true) c.next++;
      const r = c.next === row ? c.it.next() : undefined;
      c.next++;
      if (r !== undefined && r.done !== true && sameRow(r.value, values)) return r.value[values.length] as Buffer;
    }
    throw new TextRereadError(row, this.name(col), 'the query gave another row there when it ran again');
  }

  private open(row: number, col: number): BytesCursor {
    const names = this.header.map((_, i) => `c${i}`);
    let stmt: Database.Statement;
    try {
      // The query on lines of its own: a `--` comment at its end stays inside.
      stmt = this.db.prepare(`WITH forklift_q(${names.join(', ')}) AS (\n${this.sql}\n) SELECT *, CAST(c${col} AS BLOB) FROM forklift_q LIMIT -1 OFFSET ?`);
    } catch (e) {
      throw new TextRereadError(row, this.name(col), `the query cannot run as a subquery (${e instanceof Error ? e.message : String(e)})`, e);
    }
    return { it: stmt.raw(true).safeIntegers(true).iterate(row - 1) as IterableIterator<unknown[]>, next: row };
  }

  private name(col: number): string {
    return this.header[col] ?? String(col + 1);
  }
}

function sameRow(again: readonly unknown[], values: readonly unknown[]): boolean {
  for (let i = 0; i < values.length; i++) {
    const a = again[i];
    const v = values[i];
    if (a === v) continue;
    if (!(a instanceof Uint8Array && v instanceof Uint8Array && Buffer.compare(a, v) === 0)) return false;
  }
  return true;
}

/** Why a row that uses a TEXT value that is not UTF-8 is rejected: the value, its bad bytes as `\xE9`. */
export function nonUtf8Fault(index: number, row: number, bytes: Buffer): CellFault {
  const shown = showNonUtf8Cut(bytes);
  return {
    index,
    ref: `row ${row}`,
    rule: 'encoding',
    reason: `is not valid UTF-8: "${shown}" (\\xNN: a byte that begins no UTF-8 character, text written in another encoding such as Windows-1252): set encoding: in the mapping's source to the encoding the legacy application wrote, e.g. encoding: windows-1252, or correct the value in the database`,
  };
}
