import { BugError, ForkliftError, formatLocation, isThrownInOpenJson } from '../core/errors.js';
import { redactText } from '../stores/url.js';

/**
 * The one place errors become text. A ForkliftError shows its message, hint and further problems;
 * anything else is our bug and says so. Stack traces only with --debug. Every line goes through
 * password redaction, in case a message quoted a URL.
 */
export interface RenderedError {
  exitCode: number;
  text: string;
  json: { code: string; message: string; hint?: string; location?: string; details?: string[]; exit_code: number };
}

export function renderError(err: unknown, opts: { debug: boolean }): RenderedError {
  if (err instanceof ForkliftError) {
    const lines = [`Error: ${err.message}`, ...err.details.map((d) => `  ${d}`)];
    if (err.hint) lines.push(`Hint: ${err.hint}`);
    if (opts.debug && err.stack) lines.push(err.stack);
    const json: RenderedError['json'] = { code: err.code, message: redactText(err.message), exit_code: err.exitCode };
    if (err.hint) json.hint = err.hint;
    if (err.location) json.location = formatLocation(err.location);
    if (err.details.length) json.details = err.details.map(redactText);
    return { exitCode: err.exitCode, text: lines.map(redactText).join('\n') + '\n', json };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const bug = e instanceof BugError ? e.message : `internal error: ${e.message}`;
  const lines = [`Error: ${bug}`, 'This is a bug in forklift, not in your data or files. Run again with --debug and report the output.'];
  if (opts.debug && e.stack) lines.push(e.stack);
  return { exitCode: 1, text: lines.map(redactText).join('\n') + '\n', json: { code: 'internal', message: redactText(bug), exit_code: 1 } };
}

/** The end of a JSON document a command left open at its "error" key (core/errors.ts thrownInOpenJson): the error, then the closing brace. */
export function closeOpenJson(r: RenderedError): string {
  return `${JSON.stringify(r.json, null, 2).replace(/\n/g, '\n  ')}\n}\n`;
}

/**
 * Writes an error where it belongs and sets the exit code: with --json in `argv` the one JSON
 * document on stdout (or the end of the one a command left open), else the text on stderr; with
 * --debug (or FORKLIFT_DEBUG=1) the internal detail too.
 */
export function writeError(err: unknown, argv: readonly string[]): void {
  const json = argv.includes('--json');
  const r = renderError(err, { debug: argv.includes('--debug') || process.env.FORKLIFT_DEBUG === '1' });
  if (json && isThrownInOpenJson(err)) {
    process.stdout.write(closeOpenJson(r));
  } else if (json) {
    const data = err instanceof ForkliftError ? err.data : undefined;
    process.stdout.write(JSON.stringify({ ok: false, error: r.json, ...(data === undefined ? {} : { result: data }) }, null, 2) + '\n');
  } else {
    process.stderr.write(r.text);
  }
  process.exitCode = r.exitCode;
}
