import { Command, Flags } from '@oclif/core';
import { ConfigError, ForkliftError } from '../core/errors.js';
import { renderError } from './render-error.js';

/**
 * Every command's base: owns the --json envelope, error rendering and the exit codes of SPEC
 * section 8. With --json, stdout holds exactly one JSON document, errors included.
 */
export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true;
  static override baseFlags = {
    debug: Flags.boolean({ description: 'Show stack traces and internal detail on errors.', helpGroup: 'GLOBAL' }),
  };

  /** Ctrl-C or SIGTERM aborts the signal, so the library stops and removes what it half wrote; release() when done. */
  protected interruptible(): { signal: AbortSignal; release: () => void } {
    const controller = new AbortController();
    const onSignal = (): void => controller.abort();
    process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
    return { signal: controller.signal, release: () => void process.off('SIGINT', onSignal).off('SIGTERM', onSignal) };
  }

  /** A comma-separated list flag (SPEC section 1), empty items left out. */
  protected list(value: string | undefined): string[] | undefined {
    return value?.split(',').map((t) => t.trim()).filter(Boolean);
  }

  protected get interactive(): boolean {
    return Boolean(process.stderr.isTTY) && !this.jsonEnabled();
  }

  protected override async catch(err: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    // oclif's own exits (help, version) and parse errors of flags.
    if (err.oclif?.exit === 0) throw err;
    let e: unknown = err;
    if (!(err instanceof ForkliftError) && err.oclif?.exit !== undefined && err.name !== 'Error') {
      e = new ConfigError(err.message.split('\n')[0] ?? err.message, { code: 'usage', hint: `See forklift ${this.id?.replace(/:/g, ' ') ?? ''} --help.` });
    } else if (!(err instanceof ForkliftError) && /^(Unexpected argument|Nonexistent flag|Missing (\d+ )?required|Expected|Parsing --)/.test(err.message)) {
      e = new ConfigError(err.message.split('\n')[0] ?? err.message, { code: 'usage', hint: `See forklift ${this.id?.replace(/:/g, ' ') ?? ''} --help.` });
    }
    const debug = this.argv.includes('--debug') || process.env.FORKLIFT_DEBUG === '1';
    const r = renderError(e, { debug });
    if (this.argv.includes('--json')) {
      const data = e instanceof ForkliftError ? e.data : undefined;
      process.stdout.write(JSON.stringify({ ok: false, error: r.json, ...(data === undefined ? {} : { result: data }) }, null, 2) + '\n');
    } else {
      process.stderr.write(r.text);
    }
    process.exitCode = r.exitCode;
    return undefined;
  }
}
