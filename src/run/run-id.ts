import { randomBytes } from 'node:crypto';

/**
 * A run's id: its start instant (UTC, to the second) and four hex digits. In a module of its own
 * so the commands that only record a run (import, exit, purge, audit init) do not load the
 * migrate pipeline and every source reader with it.
 */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(2).toString('hex')}`;
}
