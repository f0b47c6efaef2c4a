/**
 * Waiting that Ctrl-C can end. An `await` on a server (a connect, a statement waiting for a lock,
 * a query that has not sent its first row) does not look at an AbortSignal: the run would sit
 * there until the server answered, however long the user pressed Ctrl-C before.
 */

/** The reason a signal was aborted with, as the error to throw (an AbortError when it has none). */
export function abortReason(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  return new DOMException('This operation was aborted', 'AbortError');
}

/**
 * `p`, or a rejection with the signal's reason as soon as it aborts, whichever comes first. `p` is
 * left to settle on its own (its failure is not reported twice): the caller cancels or closes
 * what it waits for, so it does not run on.
 */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) {
    p.catch(() => {});
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      p.catch(() => {});
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** How often a cancel is sent again while the work it should end runs on. */
const CANCEL_AGAIN_MS = 1000;

/**
 * Runs `work`; once the signal aborts, `cancel` is called (it stops the statement in flight on the
 * server, whose failure then ends `work`), and again every second until `work` has ended: a cancel
 * that reached the server between two statements stopped nothing, and the next statement may be
 * the one that waits for a lock. Never waits for `cancel` itself.
 */
export async function cancelOnAbort<T>(signal: AbortSignal | undefined, cancel: () => Promise<void> | void, work: () => Promise<T>): Promise<T> {
  if (!signal) return work();
  if (signal.aborted) throw abortReason(signal);
  let timer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    void (async () => cancel())().catch(() => {});
    timer = setInterval(() => void (async () => cancel())().catch(() => {}), CANCEL_AGAIN_MS);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await work();
  } finally {
    signal.removeEventListener('abort', onAbort);
    clearInterval(timer);
  }
}

/** Resolves true when `p` settled within `ms`, false otherwise (then `p` is left to settle on its own). */
export async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
