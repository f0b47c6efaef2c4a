import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { checkRejectsHeader } from '../../../src/run/reload.js';
import { REJECT_META } from '../../../src/run/rejects.js';

const SOURCE = ['ITEMNO', 'DESC1', 'DESC2', 'UOM'];
const META = [...REJECT_META];
const how = { encoding: 'utf-8', delimiter: ',' };

function problem(header: string[]): ConfigError {
  try {
    checkRejectsHeader(SOURCE, header, 'runs/x/rejects/items.csv', how);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('no problem found');
}

describe('checkRejectsHeader: the source columns of an edited rejects file', () => {
  it('accepts the source columns as written, with or without the meta columns after them', () => {
    expect(() => checkRejectsHeader(SOURCE, [...SOURCE, ...META], 'f', how)).not.toThrow();
    expect(() => checkRejectsHeader(SOURCE, SOURCE, 'f', how)).not.toThrow();
    expect(() => checkRejectsHeader(SOURCE, [...SOURCE, ...META.slice(0, 2)], 'f', how)).not.toThrow();
    // an unnamed empty column a spreadsheet saved after the data
    expect(() => checkRejectsHeader(SOURCE, [...SOURCE, ...META, ''], 'f', how)).not.toThrow();
  });

  it('names a renamed column and its new name', () => {
    const e = problem(['ITEMNO', 'Beschreibung', 'DESC2', 'UOM', ...META]);
    expect(e.message).toBe("runs/x/rejects/items.csv: column 'DESC1' was renamed to 'Beschreibung' (column 2)");
    expect(e.exitCode).toBe(2);
    expect(e.details).toEqual([`header read as utf-8 with delimiter ",": ITEMNO | Beschreibung | DESC2 | UOM | ${META.join(' | ')}`, 'source columns: ITEMNO | DESC1 | DESC2 | UOM']);
  });

  it('names a moved column', () => {
    expect(problem(['ITEMNO', 'DESC2', 'DESC1', 'UOM']).message).toContain("column 'DESC1' was moved: it is column 3, the source has it as column 2");
  });

  it('names a removed column, also the last one', () => {
    expect(problem(['ITEMNO', 'DESC2', 'UOM']).message).toContain("column 'DESC1' was removed");
    expect(problem(['ITEMNO', 'DESC1', 'DESC2', ...META]).message).toContain("column 'UOM' was removed");
  });

  it('names an added column', () => {
    expect(problem([...SOURCE, 'Kommentar', ...META]).message).toContain("column 'Kommentar' is not a column of the source");
  });

  it('says what was found when the whole header is one column (an unrecognised delimiter)', () => {
    const e = problem(['ITEMNO#DESC1#DESC2#UOM']);
    expect(e.message).toContain("the header is one column 'ITEMNO#DESC1#DESC2#UOM' (read as utf-8 with delimiter \",\")");
  });
});
