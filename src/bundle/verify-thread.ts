import { startThread, type ThreadErrorMessage } from '../core/thread.js';
import { verifyBundleDir, type VerifyOptions, type VerifyResult } from './verify.js';

export interface VerifyThreadInput {
  dir: string;
  display: string;
}

export type VerifyThreadMessage = { type: 'progress'; table: string; rows: number } | { type: 'result'; result: VerifyResult } | ThreadErrorMessage;

/** Only the compiled build has a .js worker to start; under a TypeScript test runner the verify runs in this thread. */
function workerUrl(): URL | undefined {
  return import.meta.url.endsWith('.js') ? new URL('./verify-worker.js', import.meta.url) : undefined;
}

/**
 * The full verify of a bundle folder in a thread of its own, so the caller can read the same
 * bundle meanwhile (import stages its CSVs, exit re-imports and compares) on the other core.
 * Interrupting (the signal) stops the thread. FORKLIFT_VERIFY_THREAD=never keeps it in this thread.
 */
export async function verifyInThread(dir: string, display: string, opts: Pick<VerifyOptions, 'signal' | 'progress'> = {}): Promise<VerifyResult> {
  const url = workerUrl();
  if (url === undefined || process.env.FORKLIFT_VERIFY_THREAD === 'never') return verifyBundleDir(dir, display, opts);
  const thread = startThread<VerifyThreadMessage>(url, { dir, display } satisfies VerifyThreadInput, { signal: opts.signal, stopped: (code) => `the verify thread stopped (exit code ${code}) before it answered` });
  try {
    for (;;) {
      const m = await thread.next();
      if (m.type === 'result') return m.result;
      opts.progress?.({ table: m.table, rows: m.rows });
    }
  } finally {
    await thread.stop();
  }
}
