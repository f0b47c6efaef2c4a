import { startThread, type ThreadErrorMessage } from '../core/thread.js';
import { validateBag, type BagReport, type ValidateBagOptions } from './bagit.js';
import type { TailJob, TailLane, TailReport } from './verify-fast.js';

export interface BagThreadInput {
  dir: string;
  digestsUnder?: ValidateBagOptions['digestsUnder'];
  /** After the bag: run the tail lane (verify-fast.ts checkTail) for the tables the data check sends, until stopped. */
  tails?: boolean;
}

export type BagThreadMessage = { type: 'result'; report: BagReport } | { type: 'tail'; id: number; report: TailReport } | ThreadErrorMessage;

/** What the data check sends the bag thread: a table for its tail lane. */
export interface TailRequest {
  type: 'tail';
  id: number;
  job: TailJob;
}

/** Only the compiled build has a .js worker to start; under a TypeScript test runner the bag is checked in this thread. */
function workerUrl(): URL | undefined {
  return import.meta.url.endsWith('.js') ? new URL('./bag-worker.js', import.meta.url) : undefined;
}

export interface BagThread {
  /** validateBag's answer. */
  report: Promise<BagReport>;
  /** The tail lane in the bag thread, once the bag is hashed; undefined where there is no such thread. */
  tail: TailLane | undefined;
  /** Ends the thread; call it in a finally, once the data check is done. */
  stop(): Promise<void>;
}

/**
 * validateBag (the checksums of every file) in a thread of its own, so `bundle verify` checks the
 * data on the other core meanwhile; then, with `tails`, that thread takes record batches from the
 * back of each table the fast lane offers it (it would otherwise wait idle while the data check
 * goes on). Interrupting (the signal) stops the thread.
 * FORKLIFT_VERIFY_THREAD=never keeps the bag check in this thread (and has no tail lane);
 * FORKLIFT_VERIFY_TAIL=never keeps the thread to the bag.
 */
export function startBagThread(dir: string, opts: Pick<ValidateBagOptions, 'signal' | 'digestsUnder'> & { tails?: boolean } = {}): BagThread {
  const url = workerUrl();
  if (url === undefined || process.env.FORKLIFT_VERIFY_THREAD === 'never') return { report: validateBag(dir, opts), tail: undefined, stop: async () => {} };
  const tails = opts.tails === true && process.env.FORKLIFT_VERIFY_TAIL !== 'never';
  const thread = startThread<BagThreadMessage>(url, { dir, digestsUnder: opts.digestsUnder, tails } satisfies BagThreadInput, { signal: opts.signal, stopped: (code) => `the bag thread stopped (exit code ${code}) before it answered` });
  const waiting = new Map<number, { resolve: (r: TailReport) => void; reject: (e: unknown) => void }>();
  let failure: unknown;
  const report = thread.next().then((m) => {
    if (m.type !== 'result') throw new Error(`the bag thread sent ${m.type} before its answer`);
    return m.report;
  });
  // The tail lane's answers, each to the table that asked, until the thread ends.
  void report
    .then(async () => {
      for (;;) {
        const m = await thread.next();
        if (m.type !== 'tail') continue;
        waiting.get(m.id)?.resolve(m.report);
        waiting.delete(m.id);
      }
    })
    .catch((e: unknown) => {
      failure = e;
      for (const w of waiting.values()) w.reject(e);
      waiting.clear();
    });
  let next = 0;
  const tail: TailLane | undefined = tails
    ? (job) =>
        new Promise<TailReport>((resolve, reject) => {
          if (failure !== undefined) return reject(failure);
          const id = next++;
          waiting.set(id, { resolve, reject });
          thread.post({ type: 'tail', id, job } satisfies TailRequest);
        })
    : undefined;
  return { report, tail, stop: () => thread.stop() };
}
