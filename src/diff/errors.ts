import { BugError, ExitCode, ForkliftError, type ForkliftErrorOptions } from '../core/errors.js';

/**
 * A diff exits 0 when the sides are identical and 1 when they differ, so every failure to compare
 * (a side that cannot be opened or read, a store that cannot be reached, a bad flag) is exit 2,
 * "trouble" (SPEC section 7), even where the same error exits 1 from other commands.
 */
export function troubleError(message: string, opts: Omit<ForkliftErrorOptions, 'exitCode'>): ForkliftError {
  return new ForkliftError(message, { ...opts, exitCode: ExitCode.usage });
}

/** Any error as a diff's trouble: a ForkliftError keeps its message, hint and code; a bug stays a bug, at exit 2. */
export function asTrouble(e: unknown): unknown {
  if (e instanceof ForkliftError) {
    if (e.exitCode === ExitCode.usage) return e;
    const t = troubleError(e.message, {
      code: e.code,
      ...(e.hint === undefined ? {} : { hint: e.hint }),
      ...(e.location === undefined ? {} : { location: e.location }),
      details: e.details,
      cause: e,
    });
    if (e.stack) t.stack = e.stack;
    return t;
  }
  if (e instanceof Error && e.name === 'AbortError') return troubleError('the diff was interrupted; no report was written', { code: 'diff.interrupted', cause: e });
  const err = e instanceof Error ? e : new Error(String(e));
  const t = troubleError(err instanceof BugError ? err.message : `internal error: ${err.message}`, {
    code: 'internal',
    hint: 'This is a bug in forklift, not in your data or files. Run again with --debug and report the output.',
    cause: err,
  });
  if (err.stack) t.stack = err.stack;
  return t;
}
