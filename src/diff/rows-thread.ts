import { startThread, type ThreadErrorMessage } from '../core/thread.js';
import type { Entity } from '../model/types.js';

/**
 * One side of a diff read from its store in a thread of its own (exit's scratch SQLite store): the
 * thread opens the store, reads the table in canonical order and hands the batches over, at most
 * CREDITS ahead of the merge, so the two sides are read on the two cores and memory stays a few
 * batches wide. The rows are exactly what the store's readRows gives in this thread.
 */

export interface RowsThreadInput {
  url: string;
  entity: Entity;
}

export type RowsThreadMessage = { type: 'batch'; rows: unknown[][] } | { type: 'end' } | ThreadErrorMessage;

/** Batches the thread may read ahead of the merge. */
export const CREDITS = 4;

function workerUrl(): URL | undefined {
  return import.meta.url.endsWith('.js') ? new URL('./rows-worker.js', import.meta.url) : undefined;
}

/** False under a TypeScript test runner (no compiled worker to start) or with FORKLIFT_DIFF_THREAD=never. */
export function rowsThreadAvailable(): boolean {
  return workerUrl() !== undefined && process.env.FORKLIFT_DIFF_THREAD !== 'never';
}

export async function* rowsInThread(input: RowsThreadInput, signal?: AbortSignal): AsyncGenerator<unknown[][], void, undefined> {
  const thread = startThread<RowsThreadMessage>(workerUrl()!, input, { signal, stopped: () => `the thread reading ${input.entity.name} stopped before the end of the table` });
  try {
    for (;;) {
      const m = await thread.next();
      if (m.type === 'end') return;
      thread.post('ack');
      yield m.rows;
    }
  } finally {
    await thread.stop();
  }
}
