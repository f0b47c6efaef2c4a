import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { revive, type SerializedError } from '../core/thread-errors.js';
import { validateBag, type BagReport } from './bagit.js';

export interface BagThreadInput {
  dir: string;
}

export type BagThreadMessage = { type: 'result'; report: BagReport } | { type: 'error'; error: SerializedError };

/** Only the compiled build has a .js worker to start; under a TypeScript test runner the bag is checked in this thread. */
function workerUrl(): URL | undefined {
  return import.meta.url.endsWith('.js') ? new URL('./bag-worker.js', import.meta.url) : undefined;
}

/**
 * validateBag (the checksums of every file) in a thread of its own, so `bundle verify` checks the
 * data on the other core meanwhile. Interrupting (the signal) stops the thread.
 * FORKLIFT_VERIFY_THREAD=never keeps it in this thread.
 */
export function validateBagInThread(dir: string, opts: { signal?: AbortSignal | undefined } = {}): Promise<BagReport> {
  const url = workerUrl();
  if (url === undefined || process.env.FORKLIFT_VERIFY_THREAD === 'never') return validateBag(dir, { signal: opts.signal });
  return new Promise<BagReport>((resolve, reject) => {
    opts.signal?.throwIfAborted();
    const worker = new Worker(fileURLToPath(url), { workerData: { dir } satisfies BagThreadInput });
    let settled = false;
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      f();
    };
    const onAbort = (): void => {
      settle(() => reject(opts.signal!.reason));
      void worker.terminate();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: BagThreadMessage) => {
      if (m.type === 'result') settle(() => resolve(m.report));
      else settle(() => reject(revive(m.error)));
    });
    worker.on('error', (e) => settle(() => reject(e)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the bag thread stopped (exit code ${code}) before it answered`))));
  });
}
