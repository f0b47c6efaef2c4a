import type Database from 'better-sqlite3';
import { ROW_OK } from '../run/row-state.js';
import type { EntityLoad } from './types.js';

/**
 * The store-independent half of a dry run (SPEC section 12): loading an entity's staged rows in
 * batches under savepoints, and narrowing a batch the target refuses down to the rows it refuses
 * by bisection, so a million good rows cost a few bulk statements and k bad rows about
 * k·log2(batch) more, never a statement per row. Each store supplies the statements.
 */

/** Rows per first attempt: one bulk statement each while the target accepts them. */
export const REHEARSAL_BATCH = 50_000;

/** A staged row the target's own constraints refuse, with the database's message. */
export interface Refusal {
  entity: string;
  /** The row's _seq in the staging table. */
  seq: number;
  message: string;
}

/** What a store does for the bisection, on the connection that holds the rehearsal's transaction. */
export interface RehearsalSession {
  savepoint(name: string): Promise<void>;
  rollbackTo(name: string): Promise<void>;
  release(name: string): Promise<void>;
  /** Loads the entity's ok staged rows with `_seq` in [lo, hi] under its load mode; throws the database's error when refused. */
  loadRange(l: EntityLoad, range: SeqRange): Promise<void>;
  /** The database's message for a refusal, without row values. */
  describe(e: unknown): string;
}

/** Staged rows with _seq from lo to hi, both included. */
export interface SeqRange {
  lo: number;
  hi: number;
}

interface Range extends SeqRange {
  n: number;
}

/**
 * Loads every entity's rows through `s`, in the given (dependency) order, and returns the rows the
 * target refused. An error the session cannot roll back to its savepoint from (a lost
 * connection) is not a refusal: it ends the rehearsal.
 */
export async function loadNarrowing(s: RehearsalSession, staging: Database.Database, entities: readonly EntityLoad[], signal?: AbortSignal, batch = REHEARSAL_BATCH): Promise<Refusal[]> {
  const refused: Refusal[] = [];
  let sp = 0;
  for (const l of entities) {
    const t = l.stagedTable;
    const first = staging.prepare(`SELECT MIN(_seq) AS lo, MAX(_seq) AS hi, COUNT(*) AS n FROM (SELECT _seq FROM ${t} WHERE _st = ${ROW_OK} AND _seq > ? ORDER BY _seq LIMIT ?)`);
    const nth = staging.prepare(`SELECT _seq FROM ${t} WHERE _st = ${ROW_OK} AND _seq BETWEEN ? AND ? ORDER BY _seq LIMIT 1 OFFSET ?`).pluck();
    const attempt = async (r: Range): Promise<void> => {
      signal?.throwIfAborted();
      const name = `forklift_sp${++sp}`;
      await s.savepoint(name);
      try {
        await s.loadRange(l, { lo: r.lo, hi: r.hi });
        await s.release(name);
        return;
      } catch (e) {
        signal?.throwIfAborted();
        try {
          await s.rollbackTo(name);
          await s.release(name);
        } catch {
          throw e;
        }
        if (r.n === 1) {
          refused.push({ entity: l.entity.name, seq: r.lo, message: s.describe(e) });
          return;
        }
        const half = Math.floor(r.n / 2);
        const mid = nth.get(r.lo, r.hi, half - 1) as number;
        const next = nth.get(r.lo, r.hi, half) as number;
        await attempt({ lo: r.lo, hi: mid, n: half });
        await attempt({ lo: next, hi: r.hi, n: r.n - half });
      }
    };
    let after = -1;
    for (;;) {
      const r = first.get(after, batch) as { lo: number | null; hi: number | null; n: number };
      if (r.n === 0 || r.lo === null || r.hi === null) break;
      await attempt({ lo: r.lo, hi: r.hi, n: r.n });
      after = r.hi;
    }
  }
  return refused;
}

/** Thrown inside a store's transaction to end a rehearsal with a rollback. */
export class RolledBack extends Error {}

/** A scratch schema's name for a run id (MySQL/MariaDB): `forklift_dryrun_<id>`, lower case, under 64 characters. */
export function scratchSchemaName(runId: string): string {
  return `${SCRATCH_PREFIX}${runId.toLowerCase().replace(/[^a-z0-9]/g, '_')}`.slice(0, 64);
}

export const SCRATCH_PREFIX = 'forklift_dryrun_';
