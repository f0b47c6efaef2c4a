import { randomBytes } from 'node:crypto';

/**
 * A run's id: its start instant (UTC, to the second) and eight hex digits. In a module of its own
 * so the commands that only record a run (import, exit, purge, audit init) do not load the
 * migrate pipeline and every source reader with it.
 *
 * The id is the ledger's primary key in the target, which runs of many plans and machines share:
 * four hex digits (before) let two runs in one second collide once in 65,536 pairs, and the
 * second run failed at its commit on a duplicate key. Eight make that once in 4 billion.
 */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(4).toString('hex')}`;
}
