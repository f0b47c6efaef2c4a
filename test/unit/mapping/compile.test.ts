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

describe('values written in the mapping', () => {
  // Unquoted, YAML reads 0100 as 100, 007 as 7, 0x1F as 31, 1.50 as 1.5, a 16-digit number as the
  // nearest double and TRUE as true: each is data here, so its text as written must be what counts.
  const fields = `  item_code: { from: Item, clean: [{ null_if: [FALSE, 0010] }] }
  warehouse: { from: WH, values: { 007: bolts, 0x1F: nuts, 1.50: washers, TRUE: yes, 12: twelve }, unknown: keep }
  lot: { default: 0100 }
  qty: { from: Qty }
  value: { const: 9007199254740993 }
`;
  const c = compileMapping(mapping(fields), balances, ['Item', 'WH', 'Qty'], { checkShape: true });
  const mapped = (cells: string[]): unknown[] => {
    const r = c.map(cells);
    if (r.kind !== 'ok') throw new Error(JSON.stringify(r));
    return r.values.slice(0, 5);
  };

  it('keeps a default and a const as written: leading zeros, every digit', () => {
    expect(mapped(['A1', 'W', '1'])).toEqual(['A1', 'W', '0100', '1.000000', '9007199254740993.00']);
  });

  it('matches value-map keys as written, not as the number YAML reads', () => {
    expect(mapped(['A', '007', '1'])[1]).toBe('bolts');
    expect(mapped(['A', '7', '1'])[1]).toBe('7');
    expect(mapped(['A', '0x1F', '1'])[1]).toBe('nuts');
    expect(mapped(['A', '31', '1'])[1]).toBe('31');
    expect(mapped(['A', '1.50', '1'])[1]).toBe('washers');
    expect(mapped(['A', '1.5', '1'])[1]).toBe('1.5');
    expect(mapped(['A', 'TRUE', '1'])[1]).toBe('yes');
    expect(mapped(['A', 'true', '1'])[1]).toBe('true');
    expect(mapped(['A', '12', '1'])[1]).toBe('twelve');
  });

  it('compares null_if as written', () => {
    expect(c.map(['FALSE', 'W', '1'])).toMatchObject({ kind: 'rejected', problem: { field: 'item_code', rule: 'required' } });
    expect(c.map(['0010', 'W', '1'])).toMatchObject({ kind: 'rejected', problem: { field: 'item_code', rule: 'required' } });
    expect(mapped(['false', 'W', '1'])[0]).toBe('false');
    expect(mapped(['10', 'W', '1'])[0]).toBe('10');
  });

  it('names a problem with a key written as a number at that key', () => {
    const m = mapping(`${FIELDS}  item_type:\n    from: Item\n    values:\n      X: raw\n      007: semi\n`);
    expect(m.yaml.locateKey(['fields', 'item_type', 'values', '007'])).toMatchObject({ line: 13, column: 7 });
    expect(m.yaml.locate(['fields', 'item_type', 'values', '007'])).toMatchObject({ line: 13, column: 12 });
  });
});

describe('a values_file', () => {
  function withValues(csv: string): ReturnType<typeof loadMappingFile> {
    const m = mapping(FIELDS.replace('warehouse: { from: WH }', 'warehouse: { from: WH, values_file: wh.csv }'));
    writeFileSync(path.join(m.dir, 'wh.csv'), csv);
    return m;
  }

  it('with a key on two lines that map it to different values is a mapping problem naming the file, both lines and the key', () => {
    // A quoted line break and a blank line before the clash: the lines are those an editor shows.
    const e = compileError(withValues('from,to\r\nPCS,EA\r\n"K\r\nGS",KG\r\n\r\nPCS,KG\r\nBOX,\r\nBOX,BX\r\n'), ['Item', 'WH', 'Qty', 'Value']);
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(
      /bal\.yaml:5:\d+ values_file wh\.csv: a key maps to two values: 'PCS' on line 2 \(to 'EA'\) and line 6 \(to 'KG'\); 'BOX' on line 7 \(to nothing \(empty\)\) and line 8 \(to 'BX'\); keep one line for each key/,
    );
  });

  it('may repeat a line exactly: the key still means one thing', () => {
    const c = compileMapping(withValues('from,to\nPCS,EA\nKGS,KG\nPCS,EA\n'), balances, ['Item', 'WH', 'Qty', 'Value'], { checkShape: true });
    const r = c.map(['A1', 'PCS', '1', '1']);
    expect(r.kind === 'ok' && r.values.slice(0, 2)).toEqual(['A1', 'EA']);
  });
});

describe('a date or timestamp format luxon cannot read', () => {
  it('is a mapping problem at its line (HH with the meridiem a), not an internal error at the first row', () => {
    const e = compileError(mapping(`${FIELDS}  as_of: { from: D, date: "dd.MM.yyyy HH a" }\n`), ['Item', 'WH', 'Qty', 'Value', 'D']);
    expect([e.message, ...e.details].join('\n')).toMatch(/bal\.yaml:9:\d+ fields\.as_of\.date: the format 'dd\.MM\.yyyy HH a' cannot be read: Can't include meridiem when specifying 24-hour format/);
    expect(() => compileMapping(mapping(`${FIELDS}  as_of: { from: D, date: "dd.MM.yyyy" }\n`), balances, ['Item', 'WH', 'Qty', 'Value', 'D'], { checkShape: true })).not.toThrow();
  });
});

describe('a reject of an expression', () => {
  it('names the field it was computing, as every other rule does', () => {
    const m = mapping(`  item_code: { from: Item }
  warehouse: { from: WH }
  lot: { default: "" }
  qty: { expr: "Qty * 2" }
  value: { expr: "Qty * Value" }
`);
    const c = compileMapping(m, balances, ['Item', 'WH', 'Qty', 'Value'], { checkShape: true });
    const r = c.map(['P-1', 'A', '1,5', '3']);
    expect(r).toMatchObject({ kind: 'rejected', problem: { field: 'qty', rule: 'expr', reason: "qty: Qty is '1,5', not a number; value: Qty is '1,5', not a number" } });
  });
});

describe('a value map and Unicode forms', () => {
  const header = ['Item', 'WH', 'Qty', 'Value'];
  const withMap = (warehouse: string): ReturnType<typeof loadMappingFile> => mapping(FIELDS.replace('warehouse: { from: WH }', `warehouse: ${warehouse}`));

  it('finds a source value written decomposed under the key typed composed, and the other way round', () => {
    for (const [key, cell] of [
      ['Café', 'Cafe\u0301'],
      ['Cafe\u0301', 'Café'],
    ]) {
      const c = compileMapping(withMap(`{ from: WH, values: { "${key}": COFFEE } }`), balances, header, { checkShape: true });
      const r = c.map(['A1', cell!, '1', '1']);
      expect(r.kind === 'ok' && r.values[1]).toBe('COFFEE');
    }
  });

  it('with two keys that are one text in NFC sent to different values is a mapping problem', () => {
    const e = compileError(withMap(`{ from: WH, values: { "Café": COFFEE, "Cafe\u0301": TEA } }`), header);
    expect(e.exitCode).toBe(2);
    expect(e.message).toMatch(/bal\.yaml:5:\d+ fields\.warehouse\.values: keys written in two Unicode forms of one text \(composed and decomposed\) map to different values/);
  });

  it('reads a values_file saved as Windows-1252 (Excel on Windows) as such, not as U+FFFD', () => {
    const m = withMap('{ from: WH, values_file: wh.csv }');
    writeFileSync(path.join(m.dir, 'wh.csv'), Buffer.from('from,to\nA,M\xfcller\nB,Stra\xdfe\n', 'latin1'));
    const c = compileMapping(m, balances, header, { checkShape: true });
    const r = c.map(['A1', 'A', '1', '1']);
    expect(r.kind === 'ok' && r.values[1]).toBe('Müller');
  });

  it('names the values_file, not `values:`, in a reject of a value it lacks', () => {
    const m = withMap('{ from: WH, values_file: wh.csv }');
    writeFileSync(path.join(m.dir, 'wh.csv'), 'from,to\nA,X\n');
    const r = compileMapping(m, balances, header, { checkShape: true }).map(['A1', 'Q', '1', '1']);
    expect(r).toMatchObject({ kind: 'rejected', problem: { rule: 'value-map', reason: expect.stringMatching(/add it to the values_file wh\.csv or set `unknown: keep`/) } });
  });
});

describe('unknown: null', () => {
  it('as SPEC section 4 writes it (YAML null, unquoted) makes an unknown value missing, as "null" does', () => {
    for (const written of ['null', '"null"']) {
      const m = mapping(`${FIELDS}  as_of: { from: WH, values: { A: "2024-01-31" }, unknown: ${written} }\n`);
      const c = compileMapping(m, balances, ['Item', 'WH', 'Qty', 'Value'], { checkShape: true });
      const r = c.map(['A1', 'Z', '1', '1']);
      expect(r).toMatchObject({ kind: 'ok' });
      expect(r.kind === 'ok' && r.values[balances.columns.findIndex((col) => col.name === 'as_of')]).toBe(null);
    }
  });
});

describe('a key __proto__', () => {
  it('in a value map is a mapping problem saying to use a values_file, not an entry silently dropped', () => {
    expect(() => mapping(FIELDS.replace('warehouse: { from: WH }', 'warehouse: { from: WH, values: { A: X, __proto__: Y } }'))).toThrow(
      /bal\.yaml:5:\d+ fields\.warehouse\.values\.__proto__: the key '__proto__' cannot be read \(JavaScript reserves it\); put this value map in a values_file/,
    );
  });
});

describe('a mapping whose fields: holds only comments (mapping init guessed no field)', () => {
  it('names each required column that is not mapped, not "expected record, received null"', () => {
    const e = compileError(mapping('  # item_code: { from: TODO }\n'), ['Item', 'WH']);
    expect(e.exitCode).toBe(2);
    expect([e.message, ...e.details].join('\n')).toMatch(/the required column stock_balances\.item_code is not mapped; add a field for it/);
  });
});
