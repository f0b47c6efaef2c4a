import { ConfigError, ForkliftError } from '../core/errors.js';

/** What a usage error needs to know of the command whose flags or arguments failed to parse. */
export interface CommandShape {
  id: string | undefined;
  args?: Record<string, { required?: boolean }> | undefined;
  flags?: Record<string, { char?: string | undefined }> | undefined;
}

/** A named argument as oclif's RequiredArgsError lists it. */
interface NamedArg {
  name: string;
  description?: string;
}

/** The fields oclif's parse errors carry (their classes are not exported by @oclif/core 4). */
interface OclifParseFields {
  /** RequiredArgsError: the missing args; UnexpectedArgsError: the extra words. */
  args?: unknown;
  /** NonExistentFlagsError: the unknown flags as typed. */
  flags?: unknown;
  /** Every CLIParseError: the parser's input (flag definitions) and output (values found). */
  parse?: { input?: { flags?: Record<string, { required?: boolean; description?: string }> }; output?: { flags?: Record<string, unknown> } };
}

const isNamedArg = (a: unknown): a is NamedArg => typeof a === 'object' && a !== null && typeof (a as NamedArg).name === 'string';
const isStringArray = (a: unknown): a is string[] => Array.isArray(a) && a.every((s) => typeof s === 'string');

/** `forklift export BUNDLE [FLAGS]`: the command line a user should have typed. */
export function commandUsage(cmd: CommandShape): string {
  const name = cmd.id?.replace(/:/g, ' ') ?? '';
  const args = Object.entries(cmd.args ?? {}).map(([n, a]) => (a.required ? n.toUpperCase() : `[${n.toUpperCase()}]`));
  return ['forklift', name, ...args, '[FLAGS]'].filter(Boolean).join(' ');
}

/** An oclif message without its colours. */
// eslint-disable-next-line no-control-regex
const uncoloured = (message: string): string => message.replace(/\u001b\[[0-9;]*m/g, '');

/**
 * A flag as a user may have typed it: `-n/--rows` when it has a short form, since oclif's message
 * names only the long one and the user may have typed `-n`.
 */
function flagLabel(name: string, cmd: CommandShape): string {
  const char = cmd.flags?.[name]?.char;
  return char ? `-${char}/--${name}` : `--${name}`;
}

/**
 * The message of an error thrown by a flag's parse function, which oclif rewrites in place to
 * "Parsing --rows \n\t<message>\nSee more help with --help": the flag, then the message, on one
 * line; undefined when oclif did not wrap it.
 */
function unwrapFlagParse(message: string, cmd: CommandShape): string | undefined {
  const m = /^Parsing --(\S+) *\n\t([\s\S]*?)(?:\nSee more help with --help)?$/.exec(uncoloured(message));
  if (m === null) return undefined;
  const label = flagLabel(m[1]!, cmd);
  const inner = m[2]!.trim();
  // Our own messages (expandEnv) name the flag already: `--target: environment variable X is not set`.
  if (inner.startsWith(`--${m[1]!}`)) return `${label}${inner.slice(m[1]!.length + 2)}`;
  return `${label}: ${inner.split('\n').map((l) => l.trim()).filter(Boolean).join('; ')}`;
}

/**
 * The text of an oclif message without its colours and its "See more help with --help" tail, one
 * problem per line: "Parsing --rows \n\tExpected an integer …" becomes "Parsing --rows: Expected
 * an integer …", and a "The following error occurred:" heading gives way to what it heads.
 */
function plainLines(message: string): string[] {
  return uncoloured(message).split('\n').map((l) => l.trim()).filter((l) => l && l !== 'See more help with --help');
}

function describeParseFailure(err: Error & OclifParseFields, cmd: CommandShape): { message: string; details: string[] } {
  if (Array.isArray(err.args) && err.args.length > 0 && err.args.every(isNamedArg)) {
    const missing = err.args;
    const names = missing.map((a) => a.name.toUpperCase());
    return {
      message: `Missing ${missing.length} required arg${missing.length === 1 ? '' : 's'}: ${names.join(', ')}`,
      details: missing.map((a) => `${a.name.toUpperCase()}: ${a.description ?? ''}`.replace(/: $/, '')),
    };
  }
  if (isStringArray(err.args) && err.args.length > 0) {
    return { message: `Unexpected argument${err.args.length === 1 ? '' : 's'}: ${err.args.join(', ')}`, details: [] };
  }
  if (isStringArray(err.flags) && err.flags.length > 0) {
    return { message: `Unknown flag${err.flags.length === 1 ? '' : 's'}: ${err.flags.join(', ')}`, details: [] };
  }
  const defs = err.parse?.input?.flags;
  const values = err.parse?.output?.flags;
  if (defs && values) {
    const missing = Object.entries(defs).filter(([name, def]) => def.required && values[name] === undefined);
    if (missing.length > 0) {
      return {
        message: `Missing required flag${missing.length === 1 ? '' : 's'}: ${missing.map(([n]) => `--${n}`).join(', ')}`,
        details: missing.map(([n, def]) => `--${n}: ${def.description ?? ''}`.replace(/: $/, '')),
      };
    }
  }
  const flagParse = unwrapFlagParse(err.message, cmd);
  if (flagParse !== undefined) return { message: flagParse, details: [] };
  const lines = plainLines(err.message);
  const [first = err.message, ...rest] = lines;
  if (rest.length === 0) return { message: first, details: [] };
  // A heading ("The following errors occurred:") over its items, or a flag over its reason.
  if (first.endsWith(':')) return { message: rest.join('; '), details: [] };
  return { message: `${first}: ${rest.join('; ')}`, details: [] };
}

/**
 * Any failure of oclif's parser (a flag without its value, a value that is not an integer, an
 * unknown flag, a missing argument or required flag) as a usage error, exit 2, naming the flag or
 * argument and what is wrong, with the command's usage as the hint. A ForkliftError thrown by a
 * flag's own parse function (an unset `${VAR}`) stays what it is, its code, hint and exit code,
 * with the message it had before oclif wrapped it.
 */
export function parseUsageError(err: unknown, cmd: CommandShape): ForkliftError {
  if (err instanceof ForkliftError) {
    err.message = unwrapFlagParse(err.message, cmd) ?? err.message;
    return err;
  }
  const e = err instanceof Error ? (err as Error & OclifParseFields) : new Error(String(err));
  const { message, details } = describeParseFailure(e, cmd);
  const name = cmd.id?.replace(/:/g, ' ') ?? '';
  return new ConfigError(message, {
    code: 'usage',
    details,
    hint: `Usage: ${commandUsage(cmd)}. See forklift ${name}${name ? ' ' : ''}--help.`,
    cause: err,
  });
}
