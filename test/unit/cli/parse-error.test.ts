import { Parser } from '@oclif/core';
import { describe, expect, it } from 'vitest';
import { Flags } from '../../../src/cli/oclif.js';
import { parseUsageError } from '../../../src/cli/parse-error.js';
import { storeUrlFlag } from '../../../src/cli/store-url.js';
import { ConfigError, ExitCode } from '../../../src/core/errors.js';

/**
 * A flag's parse function that throws (an integer that is not one, an unset ${VAR} in a store URL)
 * reaches parseUsageError with oclif's "Parsing --flag \n\t… See more help with --help" around its
 * message: the usage error names the flag as the user may have typed it, on one line.
 */
const flags = {
  rows: Flags.integer({ char: 'n', min: 1, description: 'Rows to show' }),
  target: storeUrlFlag('target', { description: 'Target store URL' }),
};
const cmd = { id: 'preview', args: { mapping: { required: true } }, flags };

async function parseError(argv: string[]): Promise<unknown> {
  try {
    await Parser.parse(argv, { flags, strict: true });
  } catch (e) {
    return parseUsageError(e, cmd);
  }
  throw new Error(`${argv.join(' ')} parsed`);
}

describe('parseUsageError', () => {
  it('names a flag with a short form by both, whichever was typed', async () => {
    for (const argv of [['-n', 'abc'], ['--rows', 'abc'], ['--rows=abc']]) {
      const e = (await parseError(argv)) as ConfigError;
      expect(e).toBeInstanceOf(ConfigError);
      expect(e.message).toBe('-n/--rows: Expected an integer but received: abc');
      expect(e.exitCode).toBe(ExitCode.usage);
      expect(e.hint).toBe('Usage: forklift preview MAPPING [FLAGS]. See forklift preview --help.');
    }
    expect(((await parseError(['-n', '0'])) as ConfigError).message).toBe('-n/--rows: Expected an integer greater than or equal to 1 but received: 0');
  });

  it("keeps a flag's own error (an unset ${VAR}) with its code and hint, its message without oclif's wrapping", async () => {
    const saved = process.env.FL_UNIT_NOPE;
    delete process.env.FL_UNIT_NOPE;
    try {
      const e = (await parseError(['--target', 'postgres://postgres:${FL_UNIT_NOPE}@127.0.0.1:5432/x'])) as ConfigError;
      expect(e).toBeInstanceOf(ConfigError);
      expect(e.message).toBe('--target: environment variable FL_UNIT_NOPE is not set');
      expect(e.code).toBe('config.env');
      expect(e.exitCode).toBe(ExitCode.usage);
      expect(e.hint).toBe('Set FL_UNIT_NOPE, or give a default: ${FL_UNIT_NOPE:-value}.');
    } finally {
      if (saved !== undefined) process.env.FL_UNIT_NOPE = saved;
    }
  });

  it('leaves a message oclif did not wrap as it is', () => {
    const own = new ConfigError('--target: something', { code: 'x' });
    expect(parseUsageError(own, cmd).message).toBe('--target: something');
    expect(parseUsageError(new Error('Parsing --rows \n\tfirst\n\tsecond\nSee more help with --help'), cmd).message).toBe('-n/--rows: first; second');
  });
});
