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
});
