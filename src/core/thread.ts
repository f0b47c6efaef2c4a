import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { revive, type SerializedError } from './thread-errors.js';
import { sweepThreadWork } from '../util/work-path.js';

/** How each of our workers reports what it threw (serializeError), the last message it sends. */
export interface ThreadErrorMessage {
  type: 'error';
  error: SerializedError;
}

export interface ThreadOptions {
  signal?: AbortSignal | undefined;
  /** The error's text when the thread ends before the caller had what it waits for. */
  stopped: (exitCode: number) => string;
}

/** A worker seen from the thread that started it. */
export interface Thread<M> {
  /** The next message in the order sent; a worker's error message, an uncaught error, the abort or an exit with no message left throws. */
  next(): Promise<M>;
  post(value: unknown): void;
  /** Terminates the worker; call it in a finally, whether the answer came or not. */
  stop(): Promise<void>;
}

/**
 * Starts a worker whose messages are read one at a time, for one answer or for a stream (with
 * post() to grant credits). They are queued so that none is lost while the caller is busy, and so
 * that a worker that sent its error and exited is reported by that error, not by its exit.
 */
export function startThread<M extends { type: string }>(url: URL, workerData: unknown, opts: ThreadOptions): Thread<Exclude<M, ThreadErrorMessage>> {
  const { signal } = opts;
  signal?.throwIfAborted();
  // A young generation of 8 MiB per thread: the rows each thread handles die young in batches of
  // 1,000, and exit runs three threads beside the main one (peak RSS 227-233 MiB against 269-278
  // MiB with V8's default, at the same speed).
  const worker = new Worker(fileURLToPath(url), { workerData, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
  const queue: (M | ThreadErrorMessage)[] = [];
  let failure: unknown;
  let exitCode: number | undefined;
  let wake: (() => void) | undefined;
  const poke = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  worker.on('message', (m: M | ThreadErrorMessage) => {
    queue.push(m);
    poke();
  });
  worker.on('error', (e) => {
    failure ??= e;
    poke();
  });
  worker.on('exit', (code) => {
    exitCode = code;
    poke();
  });
  const onAbort = (): void => {
    failure ??= signal!.reason;
    poke();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  return {
    async next() {
      while (queue.length === 0 && failure === undefined && exitCode === undefined) await new Promise<void>((r) => (wake = r));
      if (failure !== undefined) throw failure;
      const m = queue.shift();
      if (m === undefined) throw new Error(opts.stopped(exitCode!));
      if (m.type === 'error') throw revive((m as ThreadErrorMessage).error);
      return m as Exclude<M, ThreadErrorMessage>;
    },
    post: (value) => worker.postMessage(value),
    async stop() {
      signal?.removeEventListener('abort', onAbort);
      const thread = worker.threadId;
      await worker.terminate();
      // A thread terminated mid-work ran no finally block: its scratch files are removed here.
      sweepThreadWork(thread);
    },
  };
}
