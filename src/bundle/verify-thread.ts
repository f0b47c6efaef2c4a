import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { revive, type SerializedError } from '../core/thread-errors.js';
import { verifyBundleDir, type VerifyOptions, type VerifyResult } from './verify.js';

export interface VerifyThreadInput {
  dir: string;
  display: string;
}

export type VerifyThreadMessage = { type: 'progress'; table: string; rows: number } | { type: 'result'; result: VerifyResult } | { type: 'error'; error: SerializedError };

/** Only the compiled build has a .js worker to start; under a TypeScript test runner the verify runs in this thread. */
function workerUrl(): URL | undefined {
  return import.meta.url.endsWith('.js') ? new URL('./verify-worker.js', import.meta.url) : undefined;
}

/**
 * The full verify of a bundle folder in a thread of its own, so the caller can read the same
 * bundle meanwhile (import stages its CSVs, exit re-imports and compares) on the other core.
 * Interrupting (the signal) stops the thread. FORKLIFT_VERIFY_THREAD=never keeps it in this thread.
 */
export function verifyInThread(dir: string, display: string, opts: Pick<VerifyOptions, 'signal' | 'progress'> = {}): Promise<VerifyResult> {
  const url = workerUrl();
  if (url === undefined || process.env.FORKLIFT_VERIFY_THREAD === 'never') return verifyBundleDir(dir, display, opts);
  return new Promise<VerifyResult>((resolve, reject) => {
    opts.signal?.throwIfAborted();
    const worker = new Worker(fileURLToPath(url), { workerData: { dir, display } satisfies VerifyThreadInput });
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
    worker.on('message', (m: VerifyThreadMessage) => {
      if (m.type === 'progress') opts.progress?.({ table: m.table, rows: m.rows });
      else if (m.type === 'result') settle(() => resolve(m.result));
      else settle(() => reject(revive(m.error)));
    });
    worker.on('error', (e) => settle(() => reject(e)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the verify thread stopped (exit code ${code}) before it answered`))));
  });
}
