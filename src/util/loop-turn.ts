import { setImmediate } from 'node:timers/promises';

/**
 * How long a synchronous stretch (better-sqlite3 reads and writes block the thread) may run
 * before the event loop gets a turn. Ctrl-C and SIGTERM reach a command only through the event
 * loop (its handler aborts the signal every loop checks), and `await` of a value or of an async
 * generator's next batch never gives the loop a turn: a diff of two SQLite stores once ran to its
 * end, 7 s, after the user pressed Ctrl-C. 50 ms is below what a person notices and costs one
 * setImmediate (microseconds) per 50 ms of work.
 */
export const LOOP_TURN_MS = 50;

/**
 * One full turn of the event loop, its poll phase included. A signal that came during synchronous
 * work is read in a poll phase; one setImmediate may run in the check phase that follows the poll
 * phase under way, before the signal has been read (a load then ran one more chunk before it heard
 * Ctrl-C). An immediate set from an immediate runs only after the next poll phase.
 */
export async function loopTurn(): Promise<void> {
  await setImmediate();
  await setImmediate();
}

/**
 * A function to await between batches: it gives the event loop a turn (signal handlers, timers,
 * progress output) once `everyMs` have passed since the last turn, and resolves at once otherwise.
 */
export function loopTurns(everyMs = LOOP_TURN_MS): () => Promise<void> | undefined {
  let last = performance.now();
  return () => {
    if (performance.now() - last < everyMs) return undefined;
    return loopTurn().then(() => {
      last = performance.now();
    });
  };
}
