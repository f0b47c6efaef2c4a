// Real public files from ../shared/data (see its CATALOGUE.md), read in place and never copied.
// The suite is skipped, visibly, where the folder is absent; FORKLIFT_SHARED_DATA points elsewhere.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectEncoding } from '../../../src/sources/index.js';
import { SHARED, readAll, sourceError } from './read-all.js';
import { openSource } from '../../../src/sources/index.js';

const data = (rel: string): string => path.join(SHARED, rel);
const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

describe.skipIf(!existsSync(SHARED))(`shared data CSV (${SHARED})`, () => {
  it('messytables/utf-16le_encoded.csv: UTF-16LE with BOM', async () => {
    const { source, records } = await readAll({ format: 'csv', path: data('messytables/utf-16le_encoded.csv') });
    expect(source.detected).toEqual({ encoding: 'utf-16le', delimiter: ',' });
    expect(source.header).toHaveLength(19);
    expect(source.header.slice(0, 3)).toEqual(['Organisation_code', 'Organisation_name', 'Organisation_classification']);
    expect(records).toHaveLength(327);
    expect(records[0]).toEqual({
      line: 2,
      cells: ['5C1', 'Enfield PCT', 'NHS Facilities                                    ', '2010-11', '2', '1', '0', '3', '2', '0', '5', '7', '7', '3', '10', '1', '0', '0', '1'],
    });
    expect(records.at(-1)?.line).toBe(328);
    expect(records.at(-1)?.cells[1]).toBe('St Andrews Healthcare - Nottinghamshire');
  });

  it('messytables/mixedGLB.csv: CR-only line endings, header on line 4', async () => {
    const { source, records } = await readAll({ format: 'csv', path: data('messytables/mixedGLB.csv'), header_row: 4 });
    expect(source.header.slice(0, 4)).toEqual(['Year', 'Jan', 'Feb', 'Mar']);
    expect(source.header).toHaveLength(19);
    expect(records).toHaveLength(133);
    expect(records[0]?.line).toBe(5);
    expect(records[0]?.cells.slice(0, 3)).toEqual(['1880', '-43', '-27']);
    expect(records[0]?.cells[14]).toBe('****');
    expect(records.at(-1)).toMatchObject({ line: 137 });
    expect(records.at(-1)?.cells[0]).toBe('2012');
  });

  it('frictionless/table-with-accents.csv: ISO-8859-1, semicolons, decimal commas, CRLF', async () => {
    const file = data('frictionless/table-with-accents.csv');
    const { source, records } = await readAll({ format: 'csv', path: file });
    expect(source.detected).toEqual({ encoding: 'windows-1252', delimiter: ';' });
    expect(source.header).toEqual(['Classement', 'Quartier', 'Date', 'Année', 'Occupancy rate', 'Average Price', 'RevPAR', 'Source']);
    expect(records).toHaveLength(638);
    expect(records[0]).toEqual({ line: 2, cells: ['3 stars', 'All', '01-01-13', '2013', '0,611553068', '81,20416129', '49,66065393', 'Mkg'] });
    expect(records.at(-1)).toEqual({ line: 639, cells: ['All', 'Midi-Lemonnier', '01-10-17', '2017', '0,81255249', '103,1230372', '83,79288068', 'Mkg'] });
    expect(source.sha256).toBe(sha256(file));
  });

  it('ai4i2020/ai4i2020.csv: UTF-8 BOM, 10,000 records', async () => {
    const { source, records, batchSizes } = await readAll({ format: 'csv', path: data('ai4i2020/ai4i2020.csv') });
    expect(source.detected).toEqual({ encoding: 'utf-8', delimiter: ',' });
    expect(source.header[0]).toBe('UDI'); // no BOM glued to the first name
    expect(source.header).toContain('Air temperature [K]');
    expect(records).toHaveLength(10_000);
    expect(batchSizes).toEqual(Array(10).fill(1000));
    expect(records[0]).toEqual({ line: 2, cells: ['1', 'M14860', 'M', '298.1', '308.6', '1551', '42.8', '0', '0', '0', '0', '0', '0', '0'] });
    expect(records.at(-1)?.line).toBe(10_001);
    expect(records.at(-1)?.cells.slice(0, 2)).toEqual(['10000', 'M24859']);
    expect(records.filter((r) => r.cells[8] === '1')).toHaveLength(339);
  });

  it('csv-spectrum/newlines_crlf.csv: start lines of records with quoted CRLF', async () => {
    const { records } = await readAll({ format: 'csv', path: data('csv-spectrum/newlines_crlf.csv') });
    expect(records).toEqual([
      { line: 2, cells: ['1', '2', '3'] },
      { line: 3, cells: ['Once upon \r\na time', '5', '6'] },
      { line: 5, cells: ['7', '8', '9'] },
    ]);
  });

  it('csvkit/test_utf16_big.csv and test_skip_lines.csv', async () => {
    const be = await readAll({ format: 'csv', path: data('csvkit/test_utf16_big.csv') });
    expect(be.source.detected.encoding).toBe('utf-16be');
    expect(be.records.at(-1)?.cells).toEqual(['4', '5', 'ʤ']);
    const skip = await readAll({ format: 'csv', path: data('csvkit/test_skip_lines.csv') });
    expect(skip.source.header).toEqual(['a', 'b', 'c']);
    expect(skip.records).toEqual([{ line: 5, cells: ['1', '2', '3'] }]);
  });

  it('frictionless/table-infer-iso-8859-7.csv: Greek is not Latin-1', async () => {
    const { source, records } = await readAll({ format: 'csv', path: data('frictionless/table-infer-iso-8859-7.csv') });
    expect(source.detected.encoding).toBe('iso-8859-7');
    expect(records[0]?.cells).toEqual(['1', '39', 'Λεωνιδας']);
  });

  it('chardet/windows-1252_github_bug_9.txt: C1 smart quotes and dashes', () => {
    const bytes = readFileSync(data('chardet/windows-1252_github_bug_9.txt'));
    expect(detectEncoding(bytes, true).encoding).toBe('windows-1252');
  });

  it('dod1033/ks_1033_data.csv: the CSV twin of ne_1033_data.xlsx', async () => {
    const { records } = await readAll({ format: 'csv', path: data('dod1033/ks_1033_data.csv') });
    expect(records).toHaveLength(1575);
    expect(records[0]?.cells.slice(3, 10)).toEqual(['1005-00-073-9421', 'RIFLE,5.56 MILLIMETER', '1', 'Each', '499', '499', '5/19/2006 0:00:00']);
  });
});

describe.skipIf(!existsSync(SHARED))(`shared data XLSX (${SHARED})`, () => {
  it('exceljs/1519293514-KRISHNAPATNAM_LINE_UP.xlsx: merged title block, header on row 5', async () => {
    const file = data('exceljs/1519293514-KRISHNAPATNAM_LINE_UP.xlsx');
    const { source, records } = await readAll({ format: 'xlsx', path: file, header_row: 5 });
    expect(source.detected.sheet).toBe('KRISHNAPATNAM');
    expect(source.header).toEqual(['', 'VESSELS NAME:', 'ARRVD', 'BRTHED', 'ETC/D', 'QTY(IMP)', 'QTY (EXP)', 'CARGO', 'REMARKS']);
    expect(records[0]).toEqual({ line: 6, cells: ['AT BERTH', null, null, null, null, null, null, null, null] });
    expect(records[1]?.cells.slice(0, 2)).toEqual(['B1A', 'V A C A N T']);
    expect(records[4]).toEqual({ line: 10, cells: ['B3', 'MV. ORIENTE GLORIA', '01/11/2017', '01/11/2017', '05/11/2017', '59793 MT', null, 'COAL ', 'COAL'] });
    expect(records).toHaveLength(29);
    expect(records.at(-1)?.line).toBe(39);
    // Rows 40-333 are empty but formatted: not counted; 5 blank rows inside the table are.
    expect(source.skippedBlank).toBe(5);
    expect(source.sha256).toBe(sha256(file));
  });

  it('dod1033/ne_1033_data.xlsx: float numbers and date serials', async () => {
    const { source, records } = await readAll({ format: 'xlsx', path: data('dod1033/ne_1033_data.xlsx') });
    expect(source.detected.sheet).toBe('NE data');
    expect(source.header).toHaveLength(14);
    expect(source.header[9]).toBe('ship_date');
    expect(records).toHaveLength(1036);
    expect(records[0]).toEqual({
      line: 2,
      cells: ['NE', 'ADAMS', '31001', '1005-00-589-1271', 'RIFLE,7.62 MILLIMETER', '1', 'Each', '138', '138', '2008-07-11', '10', 'WEAPONS', '1005', 'Guns, through 30 mm'],
    });
    expect(records.at(-1)?.line).toBe(1037);
    expect(records.at(-1)?.cells[9]).toBe('2012-04-20');
  });

  it('calamine/errors.xlsx: cached formula errors', async () => {
    const { source, records } = await readAll({ format: 'xlsx', path: data('calamine/errors.xlsx'), sheet: 'Feuil1' });
    expect([source.header[0], ...records.map((r) => r.cells[0])]).toEqual(['#DIV/0!', '#NAME?', '#VALUE!', '#NULL!', '#REF!', '#NUM!', '#N/A']);
    // Each is a fault of its row: a mapping that uses the cell rejects the row (rule formula).
    expect(records.map((r) => r.faults?.map((f) => [f.ref, f.rule]))).toEqual(['A2', 'A3', 'A4', 'A5', 'A6', 'A7'].map((ref) => [[ref, 'formula']]));
  });

  it('calamine/date.xlsx and date_1904.xlsx (date1904="true") give the same dates', async () => {
    for (const name of ['calamine/date.xlsx', 'calamine/date_1904.xlsx']) {
      const { source, records } = await readAll({ format: 'xlsx', path: data(name) });
      expect(source.header).toEqual(['2021-01-01', '15']);
      expect(records).toEqual([
        { line: 2, cells: ['2021-01-02', '16'] },
        { line: 3, cells: ['255:10:10', '17'] }, // [hh]:mm:ss is elapsed time
      ]);
    }
  });

  it('exceljs/1904.xlsx reads the same every time (styles come after the sheets in the zip)', async () => {
    for (let i = 0; i < 5; i++) {
      const { source } = await readAll({ format: 'xlsx', path: data('exceljs/1904.xlsx') });
      expect(source.header).toEqual(['', '1904-01-01']);
    }
  });

  it('calamine: float artefacts, OOXML escapes and XML special characters', async () => {
    const t = await readAll({ format: 'xlsx', path: data('calamine/table-multiple.xlsx'), sheet: 'Sheet2' });
    expect(t.source.header).toEqual(['Item', 'Price']);
    expect(t.records.map((r) => r.cells[1])).toEqual(['0.85', '0.75', '0.55', '0.45']);
    const x = await readAll({ format: 'xlsx', path: data('calamine/has_x000D_.xlsx') });
    expect(x.source.header).toEqual(['ABC\r\nDEF']);
    const s = await readAll({ format: 'xlsx', path: data('calamine/issues.xlsx'), sheet: 'spc_chrs' });
    expect([s.source.header[0], ...s.records.map((r) => r.cells[0])].slice(0, 5)).toEqual(['&', '<', '>', "aaa ' aaa", '"']);
  });

  it('frictionless/adjust-floating-point-error.xlsx: numbers as Excel shows them', async () => {
    const { records } = await readAll({ format: 'xlsx', path: data('frictionless/adjust-floating-point-error.xlsx') });
    expect(records[1]?.cells.slice(1)).toEqual(['68.665', '274.66', '274.66']);
  });

  it('a wrong sheet, an encrypted workbook and a broken one', async () => {
    const wrong = await sourceError(() => openSource({ format: 'xlsx', path: data('calamine/table-multiple.xlsx'), sheet: 'Sheet9' }));
    expect(wrong.message).toContain('it has "Sheet1", "Sheet2", "Sheet3"');
    const enc = await sourceError(() => openSource({ format: 'xlsx', path: data('calamine/pass_protected.xlsx') }));
    expect(enc.message).toContain('password-protected');
    const bad = await sourceError(() => openSource({ format: 'xlsx', path: data('exceljs/invalid-xml.xlsx') }));
    expect(bad.code).toBe('source.xlsx');
  });
});
