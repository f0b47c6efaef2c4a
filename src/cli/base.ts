import { constants as osConstants } from 'node:os';
import { Command, Flags, type Interfaces } from './oclif.js';
import { ConfigError } from '../core/errors.js';
import { parseUsageError } from './parse-error.js';
import { writeError } from './render-error.js';

/** How long an interrupted command's process may outlive the command (its output written) before it is ended. */
const INTERRUPTED_EXIT_MS = 2000;

/**
 * Every command's base: owns the --json envelope, error rendering and the exit codes of SPEC
 * section 8. With --json, stdout holds exactly one JSON document, errors included.
 */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true;
  static override baseFlags = {
    debug: Flags.boolean({ description: 'Show stack traces and internal detail on errors.', helpGroup: 'GLOBAL' }),
  };

  /**
   * Ctrl-C or SIGTERM aborts the signal, so the library stops and removes what it half wrote;
   * release() when done. A second Ctrl-C (or SIGTERM) while it cleans up ends the process at once,
   * exit 128 + the signal's number (130 for Ctrl-C): a user is never stuck behind a clean-up. Once
   * interrupted, the process ends at most INTERRUPTED_EXIT_MS after the command has finished, even
   * if a connection to a server that hangs is still open.
   */
  protected interruptible(): { signal: AbortSignal; release: () => void } {
    const controller = new AbortController();
    const again = (sig: NodeJS.Signals): void => {
      process.stderr.write(`\n${sig === 'SIGINT' ? 'Ctrl-C' : sig} again: stopped at once, without cleaning up (the next run removes what this one left)\n`);
      process.exit(128 + (osConstants.signals[sig] ?? 2));
    };
    const onSignal = (): void => {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      process.once('SIGINT', again).once('SIGTERM', again);
      controller.abort();
    };
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
    return {
      signal: controller.signal,
      release: () => {
        process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
        // unref: a process with nothing left open ends at once; one held open by a hung socket ends here.
        if (controller.signal.aborted) {
          setTimeout(() => process.exit(), INTERRUPTED_EXIT_MS).unref();
          return;
        }
        // The command is done (a migrate committed): a signal now changes nothing it did, and must not
        // turn its outcome into 130 before its output (the --json document) is written. The process
        // ends as the command's outcome says, at most INTERRUPTED_EXIT_MS later; a second one ends it at once.
        const late = (): void => {
          process.off('SIGINT', late).off('SIGTERM', late);
          process.once('SIGINT', again).once('SIGTERM', again);
          setTimeout(() => process.exit(), INTERRUPTED_EXIT_MS).unref();
        };
        process.once('SIGINT', late).once('SIGTERM', late);
      },
    };
  }

  /**
   * A comma-separated list flag (SPEC section 1), empty items left out. A flag given with nothing
   * in it (`--tables "$TABLES"` with the variable unset) is a usage error: read as the flag left
   * out it would silently mean every table, the opposite of "only these".
   */
  protected list(value: string | undefined, flag: ListFlag): string[] | undefined {
    if (value === undefined) return undefined;
    const items = value.split(',').map((t) => t.trim()).filter(Boolean);
    if (items.length === 0) throw emptyList(flag);
    return items;
  }

  /** A repeatable list flag: each value given must name something (see list). */
  protected checkListValues(values: readonly string[] | undefined, flag: ListFlag): void {
    for (const v of values ?? []) this.list(v, flag);
  }

  protected get interactive(): boolean {
    return Boolean(process.stderr.isTTY) && !this.jsonEnabled();
  }

  /**
   * oclif's parse, with every failure of it (a flag without its value, a bad integer, an unknown
   * flag, a missing argument or required flag) turned into a usage error, exit 2.
   */
  protected override async parse<F extends Record<string, unknown>, B extends Record<string, unknown>, A extends Record<string, unknown>>(
    options?: Interfaces.Input<F, B, A>,
    argv?: string[],
  ): Promise<Interfaces.ParserOutput<F, B, A>> {
    try {
      return await super.parse(options, argv);
    } catch (err) {
      throw parseUsageError(err, { id: this.id, args: this.ctor.args, flags: this.ctor.flags });
    }
  }

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    // oclif's own exits (help, version).
    if (err.oclif?.exit === 0) throw err;
    writeError(err, this.argv);
    return undefined;
  }
}

/** A list flag as its empty-list error names it: `--tables`, what it lists ("table"), what leaving it out means ("for all"), and a list of two. */
export interface ListFlag {
  name: string;
  item: string;
  without: string;
  example: string;
}

/** The --tables flag of export, diff and bundle import. */
export const TABLES_LIST: ListFlag = { name: '--tables', item: 'table', without: 'for all', example: 'items,bom_lines' };

function emptyList(flag: ListFlag): ConfigError {
  return new ConfigError(`${flag.name} is empty: name at least one ${flag.item}, or leave the flag out ${flag.without}`, {
    code: 'usage',
    hint: `Separate the names with commas (${flag.name} ${flag.example}); a shell variable that is empty or unset gives the flag none.`,
  });
}
