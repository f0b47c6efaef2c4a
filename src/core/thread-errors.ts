import { BugError, BundleError, ConfigError, ForkliftError, SourceError, StoreError, type ExitCode } from './errors.js';

/**
 * An error as it crosses from a worker thread to the main thread (structured clone keeps no class):
 * a user error keeps its kind, code, exit code, hint, location and details; anything else stays a
 * bug with its stack.
 */
export interface SerializedError {
  kind: 'config' | 'source' | 'store' | 'bundle' | 'bug' | 'other';
  message: string;
  code?: string;
  exitCode?: number;
  hint?: string | undefined;
  location?: ForkliftError['location'];
  details?: string[];
  stack?: string | undefined;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof ForkliftError) {
    const kind = e instanceof ConfigError ? 'config' : e instanceof BundleError ? 'bundle' : e instanceof StoreError ? 'store' : 'source';
    return { kind, message: e.message, code: e.code, exitCode: e.exitCode, hint: e.hint, location: e.location, details: e.details };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { kind: e instanceof BugError ? 'bug' : 'other', message: err.message, stack: err.stack };
}

export function revive(s: SerializedError): Error {
  if (s.kind === 'other' || s.kind === 'bug') {
    // A BugError's message already says it is one.
    const e = s.kind === 'bug' ? new BugError('') : new Error();
    e.message = s.message;
    if (s.stack) e.stack = s.stack;
    return e;
  }
  const opts: ConstructorParameters<typeof SourceError>[1] = { code: s.code ?? s.kind, details: s.details ?? [] };
  if (s.exitCode !== undefined) opts.exitCode = s.exitCode as ExitCode;
  if (s.hint !== undefined) opts.hint = s.hint;
  if (s.location !== undefined) opts.location = s.location;
  return s.kind === 'config' ? new ConfigError(s.message, opts) : s.kind === 'bundle' ? new BundleError(s.message, opts) : s.kind === 'store' ? new StoreError(s.message, opts) : new SourceError(s.message, opts);
}
