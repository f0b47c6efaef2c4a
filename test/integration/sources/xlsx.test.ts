import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { runPlan, type RunResult } from '../../../src/run/pipeline.js';
import { reloadRejects } from '../../../src/run/reload.js';
import { tempDir } from '../../helpers.js';
import { num, row, str, writeXlsx } from '../../xlsx-helpers.js';

/** Excel sources through the whole pipeline into SQLite: what loads, what is rejected and why. */

const MODEL = [
  'extends: factory',
  'entities:',
  '  readings:',
  '    primary_key: [id]',
  '    columns:',
  '      id: { type: string, length: 16, required: true }',
  '      qty: { type: decimal, precision: 18, scale: 3 }',
  '      value: { type: decimal, precision: 18, scale: 2 }',
  '      day: { type: date }',
  '      at: { type: timestamp }',
  '',
].join('\n');

interface Run {
  result: RunResult;
  /** The loaded rows, by id. */
  rows: Record<string, unknown>[];
  /** The rejects file's rows: the source cells, then forklift_source … forklift_reason. */
  rejects: Record<string, string>[];
}

async function migrate(rows: string[], fields: string[], opts: { date1904?: boolean; filter?: string } = {}): Promise<Run> {
  const dir = tempDir('forklift-xlsx-');
  await writeXlsx(path.join(dir, 'book.xlsx'), rows, opts);
  writeFileSync(path.join(dir, 'model.yaml'), MODEL);
  const filter = opts.filter === undefined ? [] : [`filter: '${opts.filter}'`];
  writeFileSync(path.join(dir, 'readings.yaml'), ['entity: readings', 'source: { format: xlsx, path: ./book.xlsx }', ...filter, 'fields:', ...fields.map((f) => `  ${f}`), ''].join('\n'));
  writeFileSync(path.join(dir, 'plan.yaml'), ['name: xlsx', `target: sqlite:${path.join(dir, 't.db')}`, 'model: ./model.yaml', 'mappings: [readings.yaml]', 'reject_limit: 100%', ''].join('\n'));
  const result = await runPlan({ plan: path.join(dir, 'plan.yaml'), command: 'migrate' });
  const db = new Database(path.join(dir, 't.db'), { readonly: true });
  let loaded: Record<string, unknown>[];
  try {
    loaded = db.prepare('SELECT * FROM readings ORDER BY id').all() as Record<string, unknown>[];
  } finally {
    db.close();
  }
  let rejects: Record<string, string>[] = [];
  try {
    rejects = parse(readFileSync(path.join(path.dirname(result.reportFile), 'rejects', 'readings.csv')), { bom: true, columns: true }) as Record<string, string>[];
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return { result, rows: loaded, rejects };
}

/** Edits the run's rejects file, reloads it (every row must load), and answers `sql` on the target after. */
async function reloadFixed(r: Run, fix: (text: string) => string, sql: string): Promise<unknown[]> {
  const file = path.join(path.dirname(r.result.reportFile), 'rejects', 'readings.csv');
  writeFileSync(file, fix(readFileSync(file, 'utf8')));
  const reload = await reloadRejects({ runDir: path.dirname(r.result.reportFile) });
  expect(reload.entities[0]).toMatchObject({ read: 2, loaded: 2, rejected: 0 });
  const db = new Database(path.join(path.dirname(r.result.reportFile), '..', '..', 't.db'), { readonly: true });
  try {
    return db.prepare(sql).all();
  } finally {
    db.close();
  }
}

const reasons = (r: Run): string[][] => r.rejects.map((x) => [x.forklift_position!, x.forklift_field!, x.forklift_rule!, x.forklift_reason!]);

describe('xlsx: a formula saved without its result', () => {
  const RECALC = 'is a formula with no saved result: open the workbook in Excel (or LibreOffice) and save it, so its formulas are calculated';

  it('rejects the row when the mapping uses the cell (a field or the filter), naming the column and cell; an unused one does not matter', async () => {
    const r = await migrate(
      [
        row(1, str('A1', 'Item'), str('B1', 'Qty'), str('C1', 'Value'), str('D1', 'Note')),
        row(2, str('A2', 'A1'), num('B2', 3), '<c r="C2"><f>B2*2.5</f></c>'),
        row(3, str('A3', 'A2'), num('B3', 4), '<c r="C3"><f>B3*2.5</f><v>10</v></c>'),
        row(4, str('A4', 'A3'), num('B4', 5), num('C4', 12.5), '<c r="D4" t="str"><f>A4&amp;"!"</f></c>'),
        row(5, str('A5', 'A4'), '<c r="B5"><f>B4+1</f><v></v></c>', num('C5', 1)),
        row(6, str('A6', 'A5'), num('B6', 2), '<c r="C6"><f>B6*2.5</f></c>'),
      ],
      ['id: { from: Item }', 'qty: { from: Qty }', "value: { expr: 'Value', default: 0 }"],
      { filter: 'Qty != 0' },
    );
    expect(r.rows.map((x) => [x.id, x.qty, x.value])).toEqual([
      ['A2', '4.000', '10.00'],
      ['A3', '5.000', '12.50'],
    ]);
    const l = r.result.entities[0]!;
    expect([l.read, l.loaded, l.rejected, l.rejects_by_rule]).toEqual([5, 2, 3, { formula: 3 }]);
    expect(reasons(r)).toEqual([
      ['row 2', 'value', 'formula', `column Value (C2) ${RECALC}`],
      ['row 5', '', 'formula', `column Qty (B5) ${RECALC}`],
      ['row 6', 'value', 'formula', `column Value (C6) ${RECALC}`],
    ]);
    // The rejects file holds the row as it was: the formula cell is empty.
    expect(r.rejects[0]).toMatchObject({ Item: 'A1', Qty: '3', Value: '' });
  });
});

describe('xlsx: an error cell (#N/A, #DIV/0!)', () => {
  it("rejects the row that uses it, naming the cell and the error, instead of loading the text '#N/A'", async () => {
    const r = await migrate(
      [
        row(1, str('A1', 'Item'), str('B1', 'Qty'), str('C1', 'Note')),
        row(2, str('A2', 'E1'), '<c r="B2" t="e"><f>1/0</f><v>#DIV/0!</v></c>'),
        row(3, '<c r="A3" t="e"><f>VLOOKUP(1,X1:X2,1,FALSE)</f><v>#N/A</v></c>', num('B3', 1)),
        row(4, str('A4', 'E3'), num('B4', 2), '<c r="C4" t="e"><v>#REF!</v></c>'),
      ],
      ['id: { from: Item }', 'qty: { from: Qty }'],
    );
    expect(r.rows.map((x) => [x.id, x.qty])).toEqual([['E3', '2.000']]);
    const why = (e: string): string => `is the Excel error ${e}, a formula that failed: correct the formula or the cells it uses in the workbook, and save it`;
    expect(reasons(r)).toEqual([
      ['row 2', 'qty', 'formula', `column Qty (B2) ${why('#DIV/0!')}`],
      ['row 3', 'id', 'formula', `column Item (A3) ${why('#N/A')}`],
    ]);
  });
});

describe("xlsx: Lotus's phantom 1900-02-29 (serial 60 of the 1900 date system)", () => {
  const LOTUS = 'is on Excel’s day 60, 1900-02-29, a date that did not exist (a Lotus 1-2-3 leftover): correct the date in the source';

  it('rejects a date cell on it, and serial 60 under `date: excel`, instead of loading 1900-02-28 (the day before)', async () => {
    const r = await migrate(
      [
        row(1, str('A1', 'Item'), str('B1', 'Day'), str('C1', 'At')),
        row(2, str('A2', 'feb28'), num('B2', 59, 1)),
        row(3, str('A3', 'phantom'), num('B3', 60, 1)),
        row(4, str('A4', 'phantom noon'), num('B4', 61, 1), num('C4', 60.5, 2)),
        row(5, str('A5', 'serial'), num('B5', 60)),
        row(6, str('A6', 'mar1'), num('B6', 61)),
      ],
      ['id: { from: Item }', 'day: { from: Day, date: excel }', 'at: { from: At, timezone: UTC }'],
    );
    expect(r.rows.map((x) => [x.id, x.day])).toEqual([
      ['feb28', '1900-02-28'],
      ['mar1', '1900-03-01'],
    ]);
    expect(reasons(r)).toEqual([
      ['row 3', 'day', 'type', `column Day (B3) ${LOTUS}`],
      ['row 4', 'at', 'type', `column At (C4) ${LOTUS}`],
      ['row 5', 'day', 'type', `day '60' ${LOTUS}`],
    ]);
    // The rejects file holds the day Excel shows.
    expect(r.rejects.map((x) => [x.Item, x.Day, x.At])).toEqual([
      ['phantom', '1900-02-29', ''],
      ['phantom noon', '1900-03-01', '1900-02-29T12:00:00'],
      ['serial', '60', ''],
    ]);
  });
});

describe('xlsx: dates under `date: excel` and `timestamp: excel`', () => {
  // Serial 45657 is 2024-12-31 in the 1900 date system and 2029-01-01 in the 1904 one.
  const book = [
    row(1, str('A1', 'Item'), str('B1', 'Day'), str('C1', 'At')),
    row(2, str('A2', 'date cell'), num('B2', 45657, 1), num('C2', 45657.25, 2)),
    row(3, str('A3', 'serial'), num('B3', 45657), num('C3', 45657.25)),
    row(4, str('A4', 'serial+time'), num('B4', 45657.5)),
    row(5, str('A5', 'date cell+time'), num('B5', 45657.5, 2)),
  ];
  const fields = ['id: { from: Item }', 'day: { from: Day, date: excel }', 'at: { from: At, timestamp: excel, timezone: UTC }'];
  const timeOfDay = 'has a time of day; a date column takes a date only';

  it('reads serial numbers in the workbook\'s 1904 date system, takes date cells in the same column, refuses a time of day in a date', async () => {
    const r = await migrate(book, fields, { date1904: true });
    expect(r.rows.map((x) => [x.id, x.day, x.at])).toEqual([
      ['date cell', '2029-01-01', '2029-01-01T06:00:00.000Z'],
      ['serial', '2029-01-01', '2029-01-01T06:00:00.000Z'],
    ]);
    expect(reasons(r)).toEqual([
      ['row 4', 'day', 'type', `day '45657.5' ${timeOfDay}`],
      ['row 5', 'day', 'type', `day '2029-01-01T12:00:00' ${timeOfDay}`],
    ]);
  });

  it('reads them in the 1900 date system otherwise', async () => {
    const r = await migrate(book.slice(0, 3), fields);
    expect(r.rows.map((x) => [x.id, x.day, x.at])).toEqual([
      ['date cell', '2024-12-31', '2024-12-31T06:00:00.000Z'],
      ['serial', '2024-12-31', '2024-12-31T06:00:00.000Z'],
    ]);
  });

  it('takes a date-time cell at midnight (which the reader gives as the date alone) for that midnight in a timestamp column', async () => {
    const r = await migrate(
      [row(1, str('A1', 'Item'), str('B1', 'At')), row(2, str('A2', 'night'), num('B2', 45351, 2)), row(3, str('A3', 'six'), num('B3', 45351.25, 2))],
      ['id: { from: Item }', 'at: { from: At, timezone: Europe/Berlin }'],
    );
    expect(r.rows.map((x) => [x.id, x.at])).toEqual([
      ['night', '2024-02-28T23:00:00.000Z'],
      ['six', '2024-02-29T05:00:00.000Z'],
    ]);
    expect(r.rejects).toEqual([]);
  });

  it('a reload of the rejects of a (1900) workbook takes the midnight a date-time cell was written as', async () => {
    // Both rows rejected for their qty; the midnight one is written to the rejects file as the date alone.
    const r = await migrate(
      [row(1, str('A1', 'Item'), str('B1', 'At'), str('C1', 'Qty')), row(2, str('A2', 'night'), num('B2', 45351, 2), str('C2', 'x')), row(3, str('A3', 'six'), num('B3', 45351.25, 2), str('C3', 'y'))],
      ['id: { from: Item }', 'at: { from: At, timezone: Europe/Berlin }', 'qty: { from: Qty }'],
    );
    expect(r.rejects.map((x) => x.At)).toEqual(['2024-02-29', '2024-02-29T06:00:00']);
    expect(await reloadFixed(r, (t) => t.replace(',x,', ',1,').replace(',y,', ',2,'), 'SELECT id, at FROM readings ORDER BY id')).toEqual([
      { id: 'night', at: '2024-02-28T23:00:00.000Z' },
      { id: 'six', at: '2024-02-29T05:00:00.000Z' },
    ]);
  });

  it('a reload of the rejects of a 1904 workbook reads its serials in 1904 too', async () => {
    const r = await migrate(book, fields, { date1904: true });
    expect(JSON.parse(readFileSync(path.join(path.dirname(r.result.reportFile), 'report.json'), 'utf8')).entities[0].excel_date_system).toBe(1904);
    // A person fixes the two rows in the rejects file: a whole serial, and the date cell's date.
    const fix = (t: string): string => t.replace(',45657.5,', ',45657,').replace('2029-01-01T12:00:00', '2029-01-01');
    expect(await reloadFixed(r, fix, "SELECT id, day FROM readings WHERE id LIKE '%+time' ORDER BY id")).toEqual([
      { id: 'date cell+time', day: '2029-01-01' },
      { id: 'serial+time', day: '2029-01-01' },
    ]);
  });
});

describe('xlsx: one bad cell that two fields read', () => {
  it('is named once in the reject, not once per field', async () => {
    const r = await migrate([row(1, str('A1', 'Item'), str('B1', 'Day')), row(2, str('A2', 'a'), num('B2', 60, 1))], ['id: { from: Item }', 'day: { from: Day }', 'at: { from: Day, timezone: UTC }']);
    expect(reasons(r)).toEqual([['row 2', 'day', 'type', 'column Day (B2) is on Excel’s day 60, 1900-02-29, a date that did not exist (a Lotus 1-2-3 leftover): correct the date in the source']]);
  });
});
