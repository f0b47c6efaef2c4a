import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { compileMapping } from '../../../src/mapping/compile.js';
import { factoryModel } from '../../../src/model/factory.js';
import { loadMappingFile } from '../../../src/plan/load.js';
import { tempDir } from '../../helpers.js';

const balances = factoryModel().entities.get('stock_balances')!;

/** A stock_balances mapping file (its source need not exist: compile gets the header). */
function mapping(fields: string, source = '{ format: csv, path: bal.csv }', extra = ''): ReturnType<typeof loadMappingFile> {
  const dir = tempDir('forklift-compile-');
  const file = path.join(dir, 'bal.yaml');
  writeFileSync(file, `entity: stock_balances\nsource: ${source}\n${extra}fields:\n${fields}`);
  return loadMappingFile(file);
}

const FIELDS = `  item_code: { from: Item }
  warehouse: { from: WH }
  lot: { default: "" }
  qty: { from: Qty }
  value: { from: Value }
`;

function compileError(m: ReturnType<typeof loadMappingFile>, header: string[]): ConfigError {
  try {
    compileMapping(m, balances, header, { checkShape: true });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('compiled without an error');
}

describe('a column name the header holds more than once', () => {
  it('is a mapping problem naming the file and line, the columns where it appears and what to do', () => {
    const m = mapping(FIELDS);
    const e = compileError(m, ['Item', 'WH', 'Qty', 'Qty', 'Value']);
    expect(e.exitCode).toBe(2);
    // `qty: { from: Qty }` is on line 7 of the mapping.
    expect(e.message).toMatch(/bal\.yaml:7:\d+ column 'Qty' appears 2 times in the header of .*bal\.csv \(columns 3 and 4\)/);
    expect(e.message).toMatch(/rename them in the source so that each name is unique/);
  });

  it('is found in a from list, an expr and a filter too', () => {
    const m = mapping(
      `  item_code: { from: [Item, Qty], join: "-" }
  warehouse: { from: WH }
  lot: { default: "" }
  qty: { expr: 'Qty * 2' }
`,
      '{ format: csv, path: bal.csv }',
      `filter: 'Qty > 0'\n`,
    );
    const e = compileError(m, ['Item', 'WH', 'Qty', 'Qty']);
    const all = [e.message, ...e.details];
    expect(all.filter((p) => /column 'Qty' appears 2 times/.test(p))).toHaveLength(3);
  });

  it('names every position, with the sheet letters for Excel, and suggests an alias for SQL', () => {
    const x = compileError(mapping(FIELDS, '{ format: xlsx, path: bal.xlsx }'), ['Item', 'WH', 'Qty', 'Value', 'Qty', 'Qty']);
    expect(x.message).toMatch(/appears 3 times .*\(columns 3 \(C\), 5 \(E\) and 6 \(F\)\)/);
    const s = compileError(mapping(FIELDS, `{ format: sql, url: "sqlite:legacy.db", query: "SELECT * FROM b" }`), ['Item', 'WH', 'Qty', 'Qty', 'Value']);
    expect(s.message).toMatch(/give them different names with AS in the query/);
  });

  it('matches names as the source gives them: another case is another name', () => {
    const m = mapping(FIELDS);
    const c = compileMapping(m, balances, ['Item', 'WH', 'qty', 'Qty', 'Value'], { checkShape: true });
    const r = c.map(['A1', 'W1', '5', '7', '1.00']);
    expect(r).toMatchObject({ kind: 'ok' });
    expect(r.kind === 'ok' && r.values[3]).toBe('7.000000');
  });

  it('is fine when the mapping does not read it', () => {
    const m = mapping(FIELDS);
    const c = compileMapping(m, balances, ['Item', 'WH', 'Note', 'Qty', 'Note', 'Value'], { checkShape: true });
    const r = c.map(['A1', 'W1', 'x', '7', 'y', '1.00']);
    expect(r.kind).toBe('ok');
  });
});

describe('a rejected row', () => {
  it('keeps the values its other fields mapped to, so preview can show which row it is', () => {
    const m = mapping(FIELDS);
    const c = compileMapping(m, balances, ['Item', 'WH', 'Qty', 'Value'], { checkShape: true });
    const r = c.map(['A1', 'W1', 'lots', '1.00']);
    expect(r.kind).toBe('rejected');
    if (r.kind !== 'rejected') return;
    expect(r.problem.field).toBe('qty');
    expect(r.values?.slice(0, 5)).toEqual(['A1', 'W1', '', null, '1.00']);
  });
});

describe('const: "" on a text column', () => {
  it('is the empty string, as default: "" is, not a missing value', () => {
    const m = mapping(`  item_code: { from: Item }\n  warehouse: { from: WH }\n  lot: { const: "" }\n  qty: { from: Qty }\n`);
    const c = compileMapping(m, balances, ['Item', 'WH', 'Qty'], { checkShape: true });
    const r = c.map(['A1', 'W1', '5']);
    expect(r).toMatchObject({ kind: 'ok' });
    expect(r.kind === 'ok' && r.values[2]).toBe('');
  });
});
