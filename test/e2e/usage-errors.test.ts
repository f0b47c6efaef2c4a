import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';

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

describe('a list flag given empty is a usage error, never "all"', () => {
  it.each([
    [['export', 'out', '--tables', ''], '--tables is empty: name at least one table, or leave the flag out for all'],
    [['export', 'out', '--tables= , '], '--tables is empty: name at least one table, or leave the flag out for all'],
    [['bundle', 'import', 'b', '--target', 'sqlite:t.db', '--tables', ''], '--tables is empty: name at least one table'],
    [['diff', 'a', 'b', '--tables', ''], '--tables is empty: name at least one table'],
    [['diff', 'a', 'b', '--ignore-columns', 'note', '--ignore-columns', ''], '--ignore-columns is empty: name at least one column, or leave the flag out to compare every column'],
    [['diff', 'a', 'b', '--key', ''], '--key is empty: name at least one TABLE=COLUMN'],
    [['exit', '--to', 'out', '--skip-schemas', ''], '--skip-schemas is empty: name at least one schema, or leave the flag out to skip none'],
    [['purge', '--allow-trigger', ''], '--allow-trigger is empty: name at least one trigger, or leave the flag out to allow none'],
    [['rejects', 'reload', 'runs/x', '--entity', ''], '--entity is empty: name at least one entity, or leave the flag out for every entity with rejects'],
  ])('%j', (args, message) => {
    const dir = tempDir('forklift-empty-list-');
    const r = runCli(args, { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain(`Error: ${message}`);
    expect(r.stderr).toMatch(/Hint: Separate the names with commas \(--[a-z-]+ \S+\); a shell variable that is empty or unset gives the flag none\./);
    // Refused before anything was read or written.
    expect(readdirSync(dir)).toEqual([]);
    const json = runCli([...args, '--json'], { cwd: dir });
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'usage', exit_code: 2, message: expect.stringContaining(message) } });
  });
});

describe('an unknown command is a usage error (exit 2) like any other', () => {
  it('with --json: one JSON document on stdout, in the shape of every error', () => {
    const r = runCli(['nosuchcmd', '--json']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({
      ok: false,
      error: { code: 'usage', exit_code: 2, message: 'forklift nosuchcmd: no such command', hint: 'Run forklift --help for the commands.' },
    });
  });

  it('without: a clean message with the closest command and forklift --help', () => {
    const r = runCli(['exprot', 'out']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('Error: forklift exprot: no such command\nHint: Did you mean `forklift export`? Run forklift --help for the commands.\n');
    // A command of a topic, named with its space.
    const sub = runCli(['mapping', 'chek', '--json']);
    expect(sub.code).toBe(2);
    expect(JSON.parse(sub.stdout)).toMatchObject({ ok: false, error: { code: 'usage', message: 'forklift mapping chek: no such command', hint: expect.stringContaining('Did you mean `forklift mapping check`?') } });
  });
});
