import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { revive, type SerializedError } from '../core/thread-errors.js';
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

export type RowsThreadMessage = { type: 'batch'; rows: unknown[][] } | { type: 'end' } | { type: 'error'; error: SerializedError };

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
  signal?.throwIfAborted();
  const worker = new Worker(fileURLToPath(workerUrl()!), { workerData: input });
  const queue: RowsThreadMessage[] = [];
  let failure: unknown;
  let exited = false;
  let wake: (() => void) | undefined;
  const poke = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  worker.on('message', (m: RowsThreadMessage) => {
    queue.push(m);
    poke();
  });
  worker.on('error', (e) => {
    failure ??= e;
    poke();
  });
  worker.on('exit', () => {
    exited = true;
    poke();
  });
  const onAbort = (): void => {
    failure ??= signal!.reason;
    poke();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      while (queue.length === 0 && failure === undefined && !exited) await new Promise<void>((r) => (wake = r));
      if (failure !== undefined) throw failure;
      const m = queue.shift();
      if (m === undefined) throw new Error(`the thread reading ${input.entity.name} stopped before the end of the table`);
      if (m.type === 'end') return;
      if (m.type === 'error') throw revive(m.error);
      worker.postMessage('ack');
      yield m.rows;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await worker.terminate();
  }
}
