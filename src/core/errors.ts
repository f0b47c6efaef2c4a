/**
 * Typed errors. A ForkliftError is the user's problem, carries what to do about it and the exit
 * code of SPEC section 8; anything else reaching the renderer is our bug and is reported as such.
 */

export const ExitCode = {
  ok: 0,
  runtime: 1,
  usage: 2,
  rejected: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Where in a user's file a problem is. line and column are 1-based. */
export interface Location {
  file: string;
  line?: number;
  column?: number;
  /** A sheet row, key or other locator that is not a line. */
  where?: string;
}

export function formatLocation(loc: Location): string {
  let s = loc.file;
  if (loc.line !== undefined) {
    s += `:${loc.line}`;
    if (loc.column !== undefined) s += `:${loc.column}`;
  }
  if (loc.where !== undefined) s += ` (${loc.where})`;
  return s;
}

export interface ForkliftErrorOptions {
  code: string;
  exitCode: ExitCode;
  hint?: string;
  location?: Location;
  cause?: unknown;
  /** Further problems found in the same pass, so a user fixes them all at once. */
  details?: string[];
  /** A result to show with the error (the run report of a rejected run). */
  data?: unknown;
}

export class ForkliftError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  readonly location: Location | undefined;
  readonly details: string[];
  readonly data: unknown;

  constructor(message: string, opts: ForkliftErrorOptions) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code;
    this.exitCode = opts.exitCode;
    this.hint = opts.hint;
    this.location = opts.location;
    this.details = opts.details ?? [];
    this.data = opts.data;
  }
}

type SubOptions = Omit<ForkliftErrorOptions, 'exitCode'> & { exitCode?: ExitCode };

/** A plan, mapping or model file is wrong, or a flag is. Exit 2. */
export class ConfigError extends ForkliftError {
  constructor(message: string, opts: SubOptions) {
    super(message, { exitCode: ExitCode.usage, ...opts });
  }
}

/** A source file cannot be read as the mapping says (missing, empty, binary, broken quoting). Exit 2. */
export class SourceError extends ForkliftError {
  constructor(message: string, opts: SubOptions) {
    super(message, { exitCode: ExitCode.usage, ...opts });
  }
}

/** Too many rejects or a control total that does not match: nothing committed. Exit 3. */
export class DataRejectedError extends ForkliftError {
  constructor(message: string, opts: SubOptions) {
    super(message, { exitCode: ExitCode.rejected, ...opts });
  }
}

/** A store cannot be reached or refused the load. Exit 1. */
export class StoreError extends ForkliftError {
  constructor(message: string, opts: SubOptions) {
    super(message, { exitCode: ExitCode.runtime, ...opts });
  }
}

/**
 * The user stopped the command (Ctrl-C, SIGTERM) and it stopped cleanly: nothing committed, its
 * scratch work removed; the code names the command (`migrate.interrupted`). Exit 1.
 */
export class InterruptedError extends ForkliftError {
  constructor(message: string, opts: SubOptions) {
    super(message, { exitCode: ExitCode.runtime, ...opts });
  }
}

/** A bundle that fails verification (a changed byte, a missing or extra file, a broken key). Exit 1. */
export class BundleError extends ForkliftError {
  constructor(message: string, opts: SubOptions) {
    super(message, { exitCode: ExitCode.runtime, ...opts });
  }
}

/** A broken invariant inside forklift (an unbalanced ledger, say): always our bug. */
export class BugError extends Error {
  constructor(message: string) {
    super(`internal error: ${message}`);
    this.name = 'BugError';
  }
}

export function isForkliftError(e: unknown): e is ForkliftError {
  return e instanceof ForkliftError;
}

/**
 * Errors thrown after a command began streaming its JSON document to stdout (audit log --json):
 * the document is left open at a key, and the renderer writes the error as that key's value and
 * closes it, so stdout still holds one valid JSON document (`"ok": false, "error": {…}` at its end).
 */
const inOpenJson = new WeakSet<object>();

export function thrownInOpenJson(e: unknown): unknown {
  const err = typeof e === 'object' && e !== null ? e : new Error(String(e));
  inOpenJson.add(err);
  return err;
}

export function isThrownInOpenJson(e: unknown): boolean {
  return typeof e === 'object' && e !== null && inOpenJson.has(e);
}
