import { startThread, type ThreadErrorMessage } from '../core/thread.js';
import { validateBag, type BagReport, type ValidateBagOptions } from './bagit.js';

export interface BagThreadInput {
  dir: string;
  digestsUnder?: ValidateBagOptions['digestsUnder'];
}

export type BagThreadMessage = { type: 'result'; report: BagReport } | ThreadErrorMessage;

/** Only the compiled build has a .js worker to start; under a TypeScript test runner the bag is checked in this thread. */
function workerUrl(): URL | undefined {
  return import.meta.url.endsWith('.js') ? new URL('./bag-worker.js', import.meta.url) : undefined;
}

/**
 * validateBag (the checksums of every file) in a thread of its own, so `bundle verify` checks the
 * data on the other core meanwhile. Interrupting (the signal) stops the thread.
 * FORKLIFT_VERIFY_THREAD=never keeps it in this thread.
 */
export async function validateBagInThread(dir: string, opts: Pick<ValidateBagOptions, 'signal' | 'digestsUnder'> = {}): Promise<BagReport> {
  const url = workerUrl();
  if (url === undefined || process.env.FORKLIFT_VERIFY_THREAD === 'never') return validateBag(dir, opts);
  const thread = startThread<BagThreadMessage>(url, { dir, digestsUnder: opts.digestsUnder } satisfies BagThreadInput, { signal: opts.signal, stopped: (code) => `the bag thread stopped (exit code ${code}) before it answered` });
  try {
    return (await thread.next()).report;
  } finally {
    await thread.stop();
  }
}
