import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';

/**
 * Every failure of oclif's parser is a usage error (SPEC section 8: exit 2) that names the flag or
 * argument and what is wrong, with the command's usage as the hint; never "internal error".
 */
function expectUsageError(args: string[], names: RegExp, what: RegExp): void {
  const r = runCli(args);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).not.toMatch(/internal error|bug in forklift/);
  expect(r.stderr).toMatch(names);
  expect(r.stderr).toMatch(what);
  expect(r.stderr).toMatch(new RegExp(`Hint: Usage: forklift ${args[0]}.*See forklift ${args[0]}.* --help`));
  expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace without --debug
}

describe('flag and argument errors are usage errors (exit 2) that say what is wrong', () => {
  it('a flag given without its value', () => {
    expectUsageError(['migrate', '--target'], /--target/, /expects a value/);
    expectUsageError(['export', 'x', '--tables'], /--tables/, /expects a value/);
    expectUsageError(['purge', '--archive'], /--archive/, /expects a value/);
  });

  it('an option flag without its value lists the values it takes', () => {
    expectUsageError(['diff', 'a', 'b', '--format'], /--format/, /text, json, csv, html/);
  });

  it('a missing required flag', () => {
    expectUsageError(['bundle', 'import', 'SOMEBUNDLE'], /Missing required flag: --target/, /--target: Store URL/);
  });

  it('a missing argument is named, with its description', () => {
    expectUsageError(['export'], /Missing 1 required arg: BUNDLE/, /BUNDLE: The bundle folder to create/);
  });

  it('an integer flag given something else names the flag and the value', () => {
    expectUsageError(['preview', 'x.yaml', '-n', 'abc'], /Error: -n\/--rows: Expected an integer but received: abc\n/, /./);
    expectUsageError(['preview', 'x.yaml', '--rows', '0'], /Error: -n\/--rows: Expected an integer greater than or equal to 1 but received: 0\n/, /./);
    expect(runCli(['preview', 'x.yaml', '-n', 'abc']).stderr).not.toMatch(/Parsing|See more help/);
  });

  it('an unknown flag and an extra argument', () => {
    expectUsageError(['migrate', '--nope'], /Unknown flag: --nope/, /./);
    expectUsageError(['migrate', 'a.yaml', 'b.yaml'], /Unexpected argument: b\.yaml/, /./);
  });

  it('--json puts the usage error on stdout as the one JSON document', () => {
    const r = runCli(['export', '--json']);
    expect(r.code, r.stderr).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      error: { code: 'usage', exit_code: 2, message: 'Missing 1 required arg: BUNDLE', hint: expect.stringMatching(/forklift export BUNDLE/) },
    });
  });
});
