import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { loadPlan } from '../../../src/plan/load.js';
import { parseYamlText } from '../../../src/plan/yaml.js';
import { expandEnv } from '../../../src/plan/env.js';
import { tempDir } from '../../helpers.js';

function plan(files: Record<string, string>): string {
  const dir = tempDir('forklift-plan-');
  for (const [n, t] of Object.entries(files)) writeFileSync(path.join(dir, n), t);
  return path.join(dir, 'forklift.yaml');
}

const MAPPING = `entity: items\nsource: { format: csv, path: x.csv }\nfields:\n  item_code: { from: A }\n`;

describe('plan files', () => {
  it('expands ${VAR} and ${VAR:-default} in every string', () => {
    expect(expandEnv('sqlite:${DB:-./a.db}', { file: 'p' }, {})).toBe('sqlite:./a.db');
    expect(expandEnv('postgres://u:${PW}@h/db', { file: 'p' }, { PW: 's3cret' })).toBe('postgres://u:s3cret@h/db');
    expect(() => expandEnv('${NOPE}', { file: 'p.yaml', line: 3, column: 9 }, {})).toThrow(/p\.yaml:3:9 environment variable NOPE is not set/);
  });

  it('keeps decimal numbers as their text, never a float', () => {
    const y = parseYamlText('sum: 12345678901234567.89\nrows: 12\n', 'p.yaml');
    expect(y.value).toEqual({ sum: '12345678901234567.89', rows: 12 });
  });

  it('reports every problem at once, each with file:line:column', () => {
    const p = plan({
      'forklift.yaml': `name: p\nmapings: [m.yaml]\nreject_limit: lots\n`,
    });
    let err: unknown;
    try {
      loadPlan(p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const all = [(err as ConfigError).message, ...(err as ConfigError).details].join('\n');
    expect(all).toMatch(/forklift\.yaml:2:1 mapings: unknown key 'mapings', did you mean 'mappings'\?/);
    expect(all).toMatch(/mappings: required key is missing/);
    expect((err as ConfigError).exitCode).toBe(2);
  });

  it('names a mapping file that is missing, at its line in the plan', () => {
    const p = plan({ 'forklift.yaml': `name: p\nmappings:\n  - items.yaml\n  - gone.yaml\n`, 'items.yaml': MAPPING });
    expect(() => loadPlan(p)).toThrow(/forklift\.yaml:4:5 mappings\[1\]: .*gone\.yaml: file not found/);
  });

  it('refuses two mappings for one entity, and a control total on a text column', () => {
    const p = plan({
      'forklift.yaml': `name: p\nmappings: [a.yaml, b.yaml]\nchecks:\n  - entity: items\n    sum: { description: "1" }\n`,
      'a.yaml': MAPPING,
      'b.yaml': MAPPING,
    });
    let err: ConfigError | undefined;
    try {
      loadPlan(p);
    } catch (e) {
      err = e as ConfigError;
    }
    const all = [err!.message, ...err!.details].join('\n');
    expect(all).toMatch(/entity items is already loaded by/);
    expect(all).toMatch(/items\.description is not a numeric column/);
  });

  it('resolves a sqlite target against the plan folder', () => {
    const p = plan({ 'forklift.yaml': `name: p\nmappings: [a.yaml]\n`, 'a.yaml': MAPPING });
    expect(loadPlan(p).target).toBe(`sqlite:${path.join(path.dirname(p), 'forklift.db')}`);
    expect(loadPlan(p).rejectLimit).toEqual({ kind: 'percent', value: 0 });
  });
});
