import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { loadPlan, loadPlanModel } from '../../../src/plan/load.js';
import { parseYamlText } from '../../../src/plan/yaml.js';
import { escapeEnv, expandEnv } from '../../../src/plan/env.js';
import { tempDir } from '../../helpers.js';

function plan(files: Record<string, string>): string {
  const dir = tempDir('forklift-plan-');
  for (const [n, t] of Object.entries(files)) writeFileSync(path.join(dir, n), t);
  return path.join(dir, 'forklift.yaml');
}

/** The error loadPlan throws for this plan; fails the test when it loads. */
function planError(p: string): ConfigError {
  try {
    loadPlan(p);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('the plan loaded without an error');
}

const MAPPING = `entity: items\nsource: { format: csv, path: x.csv }\nfields:\n  item_code: { from: A }\n`;

describe('plan files', () => {
  it('expands ${VAR} and ${VAR:-default} in every string', () => {
    expect(expandEnv('sqlite:${DB:-./a.db}', { file: 'p' }, {})).toBe('sqlite:./a.db');
    expect(expandEnv('postgres://u:${PW}@h/db', { file: 'p' }, { PW: 's3cret' })).toBe('postgres://u:s3cret@h/db');
    expect(() => expandEnv('${NOPE}', { file: 'p.yaml', line: 3, column: 9 }, {})).toThrow(/p\.yaml:3:9 environment variable NOPE is not set/);
    // A flag or argument is a label, not a place in a file.
    expect(() => expandEnv('${NOPE}', { file: '--target' }, {})).toThrow(/^--target: environment variable NOPE is not set$/);
    // set but empty, as in a shell: the empty value; with :- the default
    expect(expandEnv('mysql://root:${PW}@h/db', { file: 'p' }, { PW: '' })).toBe('mysql://root:@h/db');
    expect(expandEnv('${PW:-x}', { file: 'p' }, { PW: '' })).toBe('x');
  });

  it('refuses a ${ that starts no variable (unclosed, or no name) instead of keeping it as text, naming where and never the text', () => {
    for (const [text, at] of [
      ['mysql://root:s3cret@h/${DB:-test', 23],
      ['postgres://${USER:s3cret@h/db', 12],
      ['a ${1X} b', 3],
    ] as const) {
      expect(() => expandEnv(text, { file: '--target' }, {}), text).toThrow(new RegExp(`^--target: the \\$\\{ at character ${at} starts no variable`));
      expect(() => expandEnv(text, { file: '--target' }, {})).not.toThrow(/s3cret/);
    }
    // $${ is still a literal ${, and a closed variable beside an escaped one expands.
    expect(expandEnv('p $${HOME}.csv ${X}', { file: 'p' }, { X: '1' })).toBe('p ${HOME}.csv 1');
  });

  it('keeps decimal numbers as their text, never a float', () => {
    const y = parseYamlText('sum: 12345678901234567.89\nrows: 12\n', 'p.yaml');
    expect(y.value).toEqual({ sum: '12345678901234567.89', rows: 12 });
  });

  it('keeps a number as written unless it is a whole number that prints back the same', () => {
    const y = parseYamlText('a: 0100\nb: 12345678901234567890\nc: 0x1F\nd: 1e3\ne: -12\nf: +5\nm: { 007: x, 1.50: y, True: z, ~: n, 12: t }\n', 'p.yaml');
    expect(y.value).toEqual({ a: '0100', b: '12345678901234567890', c: '0x1F', d: '1e3', e: -12, f: '+5', m: { '007': 'x', '1.50': 'y', True: 'z', '~': 'n', '12': 't' } });
  });

  it('says what to write for a setting that takes a number and got one written otherwise', () => {
    const p = plan({
      'forklift.yaml': `name: p\nmodel: model.yaml\nmappings: [a.yaml]\n`,
      'model.yaml': `entities:\n  t:\n    primary_key: [id]\n    columns:\n      id: { type: integer }\n      a: { type: decimal, precision: 12345678901234567890, scale: 0x1F }\n      b: { type: string, length: 1.5 }\n      c: { type: string, length: "16" }\n      d: { type: string, length: true }\n`,
      'a.yaml': MAPPING,
    });
    const err = planError(p);
    expect(err.exitCode).toBe(2);
    const all = [err.message, ...err.details].join('\n');
    expect(all).toMatch(/model\.yaml:6:\d+ entities\.t\.columns\.a\.precision: '12345678901234567890' is too large for this setting/);
    expect(all).toMatch(/model\.yaml:6:\d+ entities\.t\.columns\.a\.scale: '0x1F' is not a number in plain decimal digits; write 31 if that is what you mean/);
    expect(all).toMatch(/columns\.b\.length: '1\.5' is not a whole number/);
    expect(all).toMatch(/columns\.c\.length: '16' is quoted, so it is text; write it without quotes/);
    // A value of the wrong type is not a missing key.
    expect(all).toMatch(/columns\.d\.length: Invalid input: expected number, received boolean/);
    expect(all).not.toMatch(/required key is missing/);
  });

  it('refuses a model no store can create or no row can pass, at the setting\'s line, instead of a store error or an internal error mid-run', () => {
    const p = plan({
      'forklift.yaml': `name: p\nmodel: model.yaml\nmappings: [a.yaml]\n`,
      'model.yaml':
        `entities:\n  p:\n    primary_key: [code, name]\n    columns:\n      code: { type: string, length: 10 }\n      name: { type: string, length: 10 }\n      amt: { type: decimal, precision: 10, scale: 2, unique: true }\n` +
        `  t:\n    primary_key: [id]\n    columns:\n      id: { type: integer }\n` +
        `      a: { type: string, length: 10, references: p.code }\n` +
        `      b: { type: decimal, references: p.amt }\n` +
        `      c: { type: integer, references: p.amt }\n` +
        `      d: { type: decimal, precision: 3, scale: 5 }\n` +
        `      e: { type: string, pattern: '([a-z' }\n` +
        `      f: { type: integer, min: 10, max: 1 }\n` +
        `      g: { type: date, min: 2020-01-01 }\n` +
        `      h: { type: integer, min: abc }\n` +
        `      ok: { type: decimal, precision: 10, scale: 2, min: -5, max: 1e3, references: p.amt }\n` +
        `  u:\n    primary_key: [id, id]\n    columns:\n      id: { type: integer }\n`,
      'a.yaml': MAPPING,
    });
    const err = planError(p);
    expect(err.exitCode).toBe(2);
    const all = [err.message, ...err.details].join('\n');
    expect(all).toMatch(/model\.yaml:12:\d+ t\.a references p\.code, which is not unique on its own \(it is one column of the key code\+name\)/);
    expect(all).toMatch(/model\.yaml:13:\d+ t\.b is decimal\(18,6\) but references p\.amt, which is decimal\(10,2\); give it the same precision and scale/);
    expect(all).toMatch(/model\.yaml:14:\d+ t\.c is integer but references p\.amt/);
    expect(all).toMatch(/model\.yaml:15:\d+ t\.d: a scale of 5 is more than the precision of 3/);
    expect(all).toMatch(/model\.yaml:16:\d+ t\.e: pattern '\(\[a-z' is not a valid regular expression/);
    expect(all).toMatch(/model\.yaml:17:\d+ t\.f: max 1 is less than min 10/);
    expect(all).toMatch(/model\.yaml:18:\d+ t\.g: min applies to integer and decimal columns, and this one is date/);
    expect(all).toMatch(/model\.yaml:19:\d+ t\.h: min 'abc' is not a number/);
    expect(all).toMatch(/model\.yaml:22:\d+ u: the primary key names id more than once/);
    expect(all).not.toMatch(/t\.ok/);
  });

  it('reads enum values in NFC, as the text they are compared with is', () => {
    const p = plan({
      'forklift.yaml': `name: p\nmodel: model.yaml\nmappings: [a.yaml]\n`,
      'model.yaml': `entities:\n  t:\n    primary_key: [id]\n    columns:\n      id: { type: integer }\n      grade: { type: enum, values: [${'Gu\u0308te'}, A] }\n`,
      'a.yaml': MAPPING,
    });
    const col = loadPlanModel(p).entities.get('t')!.columns.find((c) => c.name === 'grade')!;
    expect(col.values).toEqual(['G\u00fcte', 'A']);
  });

  it('reports every problem at once, each with file:line:column', () => {
    const p = plan({
      'forklift.yaml': `name: p\nmapings: [m.yaml]\nreject_limit: lots\n`,
    });
    const err = planError(p);
    const all = [err.message, ...err.details].join('\n');
    expect(all).toMatch(/forklift\.yaml:2:1 mapings: unknown key 'mapings', did you mean 'mappings'\?/);
    expect(all).toMatch(/mappings: required key is missing/);
    expect(err.exitCode).toBe(2);
  });

  it('names the cleaning steps for an unknown one, with the near miss, and says null_if takes a list', () => {
    const clean = (steps: string[]) => `entity: items\nsource: { format: csv, path: x.csv }\nfields:\n${steps.map((s, i) => `  c${i}: { from: A, clean: ${s} }\n`).join('')}`;
    const p = plan({ 'forklift.yaml': `name: p\nmappings: [a.yaml]\n`, 'a.yaml': clean(['[trim, explode]', '[Trim]', '[trim, {null_if: 5}]', '[{nul_if: [x]}]', '[{null_if: [a], x: 1}]']) });
    const err = planError(p);
    const all = [err.message, ...err.details].join('\n');
    const steps = '"trim", "upper", "lower", "squash_spaces", "strip_leading_zeros", "nfc" or {null_if: [values]}';
    expect(all).toContain(`a.yaml:4:32 fields.c0.clean.1: unknown cleaning step 'explode'; must be one of ${steps}`);
    expect(all).toContain(`a.yaml:5:26 fields.c1.clean.0: unknown cleaning step 'Trim', did you mean 'trim'? It must be one of ${steps}`);
    expect(all).toContain(`fields.c2.clean.1: null_if takes a list of values, such as {null_if: ["-", "n/a"]}; write {null_if: [5]} for the one value`);
    expect(all).toContain(`fields.c3.clean.0: unknown cleaning step {nul_if: …}, did you mean 'null_if'?`);
    expect(all).toMatch(/fields\.c4\.clean\.0\.x: unknown key 'x'/);
    expect(all).not.toMatch(/Invalid input/);
    expect(err.exitCode).toBe(2);
  });

  it('refuses a reject_limit above 100% or below 0, at its line; 0% and 100% are limits', () => {
    const limit = (v: string) => plan({ 'forklift.yaml': `name: p\nmappings: [a.yaml]\nreject_limit: ${v}\n`, 'a.yaml': MAPPING });
    const e150 = planError(limit('150%'));
    expect(e150.exitCode).toBe(2);
    expect(e150.message).toMatch(/forklift\.yaml:3:15 reject_limit: 150% is more than 100%; .*leave out the %: reject_limit: 150$/);
    expect(planError(limit('100.5%')).message).toMatch(/reject_limit: 100\.5% is more than 100%/);
    expect(planError(limit('-5')).message).toMatch(/forklift\.yaml:3:15 reject_limit: -5 is negative; write 0 \(or 0%\) to allow no rejects/);
    expect(planError(limit('-1%')).message).toMatch(/reject_limit: -1% is negative/);
    expect(loadPlan(limit('0%')).rejectLimit).toEqual({ kind: 'percent', value: 0 });
    expect(loadPlan(limit('100%')).rejectLimit).toEqual({ kind: 'percent', value: 100 });
    expect(loadPlan(limit('0')).rejectLimit).toEqual({ kind: 'count', value: 0 });
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
    const err = planError(p);
    const all = [err.message, ...err.details].join('\n');
    expect(all).toMatch(/entity items is already loaded by/);
    expect(all).toMatch(/items\.description is not a numeric column/);
  });

  it('refuses a control total that is not a number in plain digits, with its line, instead of failing mid-run', () => {
    const p = plan({ 'forklift.yaml': `name: p\nmappings: [a.yaml]\nchecks:\n  - entity: items\n    sum: { standard_cost: abc }\n  - entity: items\n    sum: { standard_cost: "12.50" }\n`, 'a.yaml': MAPPING });
    const err = planError(p);
    expect([err.message, ...err.details].join('\n')).toMatch(/forklift\.yaml:5:\d+ checks: the sum of items\.standard_cost 'abc' is not a number in plain digits/);
    expect(err.details).toHaveLength(0);
  });

  it('refuses aliases that multiply into more values than any plan has ("billion laughs"), and names a key given twice', () => {
    const levels = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]'];
    for (const [i, n] of ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].entries()) levels.push(`${n}: &${n} [${Array(9).fill(`*${levels[i]![0]}`).join(', ')}]`);
    const bomb = () => parseYamlText(`${levels.join('\n')}\nname: p\n`, 'bomb.yaml');
    expect(bomb).toThrow(ConfigError);
    expect(bomb).toThrow(/bomb\.yaml: its aliases \(\*name\) stand for more than 100,000 values/);
    // A few aliases are fine.
    expect(parseYamlText('base: &b { from: A }\nx: *b\ny: *b\n', 'ok.yaml').value).toEqual({ base: { from: 'A' }, x: { from: 'A' }, y: { from: 'A' } });
    expect(() => parseYamlText('name: p\nmappings: []\nname: q\n', 'dup.yaml')).toThrow(/^dup\.yaml:3:1 Map keys must be unique: 'name' is given twice/);
  });

  it('resolves a sqlite target against the plan folder', () => {
    const p = plan({ 'forklift.yaml': `name: p\nmappings: [a.yaml]\n`, 'a.yaml': MAPPING });
    expect(loadPlan(p).target).toBe(`sqlite:${path.join(path.dirname(p), 'forklift.db')}`);
    expect(loadPlan(p).rejectLimit).toEqual({ kind: 'percent', value: 0 });
  });
});

describe('a mapping file that is not valid YAML', () => {
  it('is reported as itself: its place, its count, and what to quote', () => {
    const p = plan({
      'forklift.yaml': `name: p\nmappings: [ok.yaml, bad.yaml]\n`,
      'ok.yaml': MAPPING,
      'bad.yaml': 'entity: items\nsource: { format: csv, path: ${PART:-part1.csv} }\nfields:\n  item_code: { from: A }\n',
    });
    const e = planError(p);
    expect(e.code).toBe('config.yaml');
    expect(e.message).toMatch(/bad\.yaml:2:\d+ Unexpected/);
    expect(e.location?.file).toMatch(/bad\.yaml$/);
    // Not "(N problems, all listed)" beside "(M more that probably follow from the first)".
    expect(e.hint).toBe('This is not valid YAML: inside { } or [ ], quote a value that holds ${…}, such as path: "${DATA_DIR}/items.csv".');
    const plain = planError(plan({ 'forklift.yaml': `name: p\nmappings: [bad.yaml]\n`, 'bad.yaml': 'entity: items\n  fields: [\n' }));
    expect(plain.hint).toBe('This is not valid YAML: check indentation, colons and quotes near that line.');
  });
});

describe('the model of a plan, for one mapping', () => {
  it('is read without the plan\'s other mappings, missing or broken', () => {
    const p = plan({ 'forklift.yaml': `name: p\nmappings: [a.yaml, not-yet.yaml, broken.yaml]\n`, 'a.yaml': MAPPING, 'broken.yaml': 'entity: items\nfields:\n  x: { frm: A }\n' });
    expect(planError(p).message).toMatch(/not-yet\.yaml: file not found/);
    expect([...loadPlanModel(p).entities.keys()]).toContain('items');
  });
});

describe('$${ in a plan or mapping', () => {
  it('is a literal ${, never expanded', () => {
    const env = { HOME: '/root', PART: 'p1' };
    expect(expandEnv('p $${HOME}.csv', { file: 'm.yaml' }, env)).toBe('p ${HOME}.csv');
    expect(expandEnv('$${HOME} and ${HOME}', { file: 'm.yaml' }, env)).toBe('${HOME} and /root');
    expect(expandEnv('cost $${ in a header', { file: 'm.yaml' }, env)).toBe('cost ${ in a header');
    expect(expandEnv('${PART:-x}.csv', { file: 'm.yaml' }, env)).toBe('p1.csv');
    expect(expandEnv(escapeEnv('a ${B} $${C}'), { file: 'm.yaml' }, {})).toBe('a ${B} $${C}');
  });
});

describe('the location of a plan problem', () => {
  it('is the place its message names: the mapping file and the unknown key itself', () => {
    const p = plan({
      'forklift.yaml': `name: p\nmappings: [a.yaml]\n`,
      'a.yaml': 'entity: items\nsource: { format: csv, path: x.csv }\nfields:\n  item_code:\n    from: A\n    vales: { X: Y }\n',
    });
    const e = planError(p);
    expect(e.message).toMatch(/a\.yaml:6:5 fields\.item_code\.vales: unknown key 'vales', did you mean 'values'\?/);
    expect(e.location).toMatchObject({ line: 6, column: 5 });
    expect(e.location?.file).toMatch(/a\.yaml$/);
  });
});
