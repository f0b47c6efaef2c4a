import type Database from 'better-sqlite3';
import { q } from '../util/sql-name.js';
import type { SeqRange } from './rehearse.js';
import type { EntityLoad } from './types.js';
import { ROW_OK } from '../run/row-state.js';

/** Staged rows read from SQLite per call. */
const STAGING_PAGE = 5000;

/**
 * The staged rows a loader sends (`_st` ok), in staging order, read a page at a time: memory
 * holds one page, never the table. Each row is the entity's columns in model order, then `_seq`.
 * Paged `.raw().all()` measured 2.5 s per million machine-log rows against 4.0 s for
 * `.raw().iterate()` (one native call per row), the largest single cost of a load on the Node
 * side; every server store's loader reads through here.
 *
 * `range`: only the rows with _seq in [lo, hi] (a dry run's batch). `safeIntegers`: integers as
 * BigInt, exact beyond 2^53 (SQL Server's bulk path wants them so).
 */
export function* stagedRows(staging: Database.Database, l: EntityLoad, opts: { range?: SeqRange | undefined; safeIntegers?: boolean } = {}): Generator<unknown[]> {
  const cols = l.entity.columns.map((c) => q(c.name)).join(', ');
  const seqAt = l.entity.columns.length;
  const { range } = opts;
  const upTo = range ? ` AND _seq <= ?` : '';
  const stmt = staging.prepare(`SELECT ${cols}, _seq FROM ${l.stagedTable} WHERE _seq > ?${upTo} AND _st = ${ROW_OK} ORDER BY _seq LIMIT ${STAGING_PAGE}`).raw();
  if (opts.safeIntegers) stmt.safeIntegers(true);
  // _seq is an integer (INTEGER PRIMARY KEY): "> lo - 1" is ">= lo".
  let last: unknown = range ? range.lo - 1 : Number.MIN_SAFE_INTEGER;
  for (;;) {
    const page = (range ? stmt.all(last, range.hi) : stmt.all(last)) as unknown[][];
    yield* page;
    if (page.length < STAGING_PAGE) return;
    last = page[page.length - 1]![seqAt];
  }
}
