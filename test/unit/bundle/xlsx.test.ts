import { readFileSync } from 'node:fs';
import path from 'node:path';
import ExcelJS from 'exceljs';
import { describe, expect, it } from 'vitest';
import { openXlsxWriter } from '../../../src/bundle/xlsx.js';
import type { Entity } from '../../../src/model/types.js';
import { tempDir } from '../../helpers.js';

const entity: Entity = {
  name: 'readings',
  columns: [
    { name: 'id', type: 'integer', required: true },
    { name: 'at', type: 'timestamp', required: false },
    { name: 'amount', type: 'decimal', precision: 18, scale: 6, required: false },
    { name: 'ok', type: 'boolean', required: false },
    { name: 'note', type: 'text', required: false },
  ],
  primaryKey: ['id'],
  rules: [],
};

const rows = Array.from({ length: 7 }, (_, i) => [i + 1, `2025-01-0${i + 1}T10:00:00.250Z`, i === 6 ? '123456789012.123456' : `${i}.500000`, i % 2, i === 3 ? '' : `row ${i + 1}`]);

async function write(file: string, sheetRows: number): Promise<void> {
  const w = await openXlsxWriter(file, { sheetRows });
  const t = await w.table(entity);
  await t.write(rows.slice(0, 4));
  await t.write(rows.slice(4));
  await t.close();
  await w.close();
}

describe('the bundle workbook', () => {
  it('continues a table on further sheets beyond the row limit, header on each, and is the same bytes every time', async () => {
    const dir = tempDir('forklift-xlsx-');
    const a = path.join(dir, 'a.xlsx');
    const b = path.join(dir, 'b.xlsx');
    await write(a, 3);
    await new Promise((r) => setTimeout(r, 1100)); // a second later: no clock in the bytes
    await write(b, 3);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);

    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(a);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['readings', 'readings (2)', 'readings (3)']);
    expect(wb.worksheets.map((w) => w.rowCount)).toEqual([4, 4, 2]);
    const first = wb.worksheets[0]!;
    expect(first.getRow(1).values).toEqual([undefined, 'id', 'at', 'amount', 'ok', 'note']);
    expect(first.getRow(2).getCell(2).value).toEqual(new Date('2025-01-01T10:00:00.250Z'));
    expect(first.getRow(2).getCell(3).value).toBe(0.5);
    expect(first.getRow(2).getCell(4).value).toBe(false);
    // A decimal a double cannot hold exactly stays text, so Excel never shows another number.
    expect(wb.worksheets[2]!.getRow(2).getCell(3).value).toBe('123456789012.123456');
    // Excel has no empty text apart from a blank cell: the workbook is for reading; the CSV keeps "".
    expect(wb.worksheets[1]!.getRow(2).getCell(5).value).toBeNull();
  });

  it('writes a date or timestamp Excel would show as another day (before 1900-03-01, Lotus leap day) as its text', async () => {
    const dated: Entity = {
      name: 'dated',
      columns: [
        { name: 'id', type: 'integer', required: true },
        { name: 'd', type: 'date', required: false },
        { name: 'ts', type: 'timestamp', required: false },
      ],
      primaryKey: ['id'],
      rules: [],
    };
    const cases = [
      [1, '1900-01-01', '1900-01-01T00:00:00.000Z'],
      [2, '1900-02-28', '1900-02-28T23:59:59.999Z'],
      [3, '0001-01-01', '0001-01-01T00:00:00.000Z'],
      [4, '1900-03-01', '1900-03-01T00:00:00.000Z'],
      [5, '9999-12-31', '9999-12-31T23:59:59.999Z'],
      [6, '2025-11-03', '2025-11-03T05:00:47.000Z'],
    ];
    const file = path.join(tempDir('forklift-xlsx-'), 'd.xlsx');
    const w = await openXlsxWriter(file);
    const t = await w.table(dated);
    await t.write(cases);
    await t.close();
    await w.close();

    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(file);
    const ws = wb.worksheets[0]!;
    const cell = (r: number, c: number): unknown => ws.getRow(r + 1).getCell(c).value;
    for (const r of [1, 2, 3]) {
      expect(cell(r, 2)).toBe(cases[r - 1]![1]);
      expect(cell(r, 3)).toBe(cases[r - 1]![2]);
    }
    expect(cell(4, 2)).toEqual(new Date('1900-03-01T00:00:00Z'));
    expect(cell(4, 3)).toEqual(new Date('1900-03-01T00:00:00Z'));
    expect(cell(5, 2)).toEqual(new Date('9999-12-31T00:00:00Z'));
    expect(cell(6, 3)).toEqual(new Date('2025-11-03T05:00:47Z'));

    // The serial in the sheet is Excel's own: 1900-03-01 is 61 (as Excel counts, with 1900-02-29).
    const { default: yauzl } = await import('yauzl');
    const xml = await new Promise<string>((resolve, reject) =>
      yauzl.open(file, { lazyEntries: true }, (e, z) => {
        if (e) return reject(e);
        z.on('entry', (entry: { fileName: string }) => {
          if (entry.fileName !== 'xl/worksheets/sheet1.xml') return z.readEntry();
          z.openReadStream(entry as never, (err, s) => {
            if (err) return reject(err);
            const parts: Buffer[] = [];
            s.on('data', (b: Buffer) => parts.push(b));
            s.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
          });
        });
        z.readEntry();
      }),
    );
    expect(xml).toMatch(/<c r="B5"[^>]*><v>61<\/v><\/c>/);
    expect(xml).toMatch(/<c r="B2" s="\d+" t="str"><v>1900-01-01<\/v><\/c>/);
    // No number (a serial) in the cells before 1900-03-01, only text.
    expect(xml).not.toMatch(/<c r="[BC][234]" s="\d+"><v>/);
  });
});
