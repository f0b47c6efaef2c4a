import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CsvTableWriter } from '../../../src/bundle/csv.js';
import { dataPackage } from '../../../src/bundle/datapackage.js';
import { checkData } from '../../../src/bundle/verify-data.js';
import type { TableCheck } from '../../../src/bundle/verify.js';
import type { Column, Entity } from '../../../src/model/types.js';
import { writeArrowRows } from '../../bundle-helpers.js';
import { tempDir } from '../../helpers.js';

/**
 * The data half of `bundle verify` names an invalid cell once: the row it is in still holds its
 * key, so the references to that row resolve, its key order and unique values are checked, and
 * the Arrow value beside the cell is not reported as a second difference. Only an invalid key
 * cell itself stays out of the key checks. Both lanes give the same problems (the fast lane hands
 * a table with an invalid value to the slow one).
 */

const col = (name: string, type: Column['type'], more: Partial<Column> = {}): Column => ({ name, type, required: false, ...more });

const PART: Entity = {
  name: 'part',
  columns: [col('code', 'string', { length: 8, required: true }), col('cost', 'decimal', { precision: 18, scale: 4 }), col('tag', 'string', { length: 8, unique: true })],
  primaryKey: ['code'],
  rules: [],
};

const LINE: Entity = {
  name: 'line',
  columns: [col('id', 'integer', { required: true }), col('part', 'string', { length: 8, references: { entity: 'part', column: 'code' } }), col('qty', 'integer', { min: '0' })],
  primaryKey: ['id'],
  rules: [],
};

const PARTS: unknown[][] = [
  ['P1', '10.0000', 't1'],
  ['P2', '7858.0290', 't2'],
  ['P3', '1.5000', 't3'],
];
const LINES: unknown[][] = [
  [1, 'P1', 1],
  [2, 'P2', 2],
  [3, 'P2', 3],
  [4, 'P3', 4],
];

const root = tempDir('forklift-verify-data-');
let n = 0;

/** A bundle's data folder as export writes it (CSV, Arrow, datapackage.json; no bag: checkData reads none). */
async function writeData(edit: (csv: Record<string, string>) => void): Promise<string> {
  const dir = path.join(root, `b${++n}`);
  mkdirSync(path.join(dir, 'data', 'csv'), { recursive: true });
  mkdirSync(path.join(dir, 'data', 'arrow'), { recursive: true });
  const files = [];
  const csv: Record<string, string> = {};
  for (const [entity, rows] of [[PART, PARTS], [LINE, LINES]] as const) {
    const file = path.join(dir, 'data', 'csv', `${entity.name}.csv`);
    const w = new CsvTableWriter(file, entity);
    await w.writeHeader();
    await w.write(rows.map((r) => [...r]));
    const d = await w.close();
    await writeArrowRows(path.join(dir, 'data', 'arrow', `${entity.name}.arrow`), entity, rows.map((r) => [...r]));
    files.push({ entity, rows: rows.length, csv: { path: `csv/${entity.name}.csv`, sha256: d.sha256, bytes: d.bytes } });
    csv[entity.name] = readFileSync(file, 'utf8');
  }
  writeFileSync(path.join(dir, 'data', 'datapackage.json'), `${JSON.stringify(dataPackage(files), null, 2)}\n`);
  edit(csv);
  for (const [name, text] of Object.entries(csv)) writeFileSync(path.join(dir, 'data', 'csv', `${name}.csv`), text);
  return dir;
}

function replaceOnce(text: string, from: string, to: string): string {
  expect(text.split(from)).toHaveLength(2);
  return text.replace(from, to);
}

/** The problems checkData reports, the same in both lanes. */
async function problems(dir: string): Promise<string[]> {
  const out: Record<'auto' | 'slow', string[]> = { auto: [], slow: [] };
  for (const lane of ['auto', 'slow'] as const) {
    const tables: TableCheck[] = [];
    await checkData(dir, path.join(dir, 'data', 'datapackage.json'), tables, (p) => out[lane].push(p), { lane });
  }
  expect(out.auto).toEqual(out.slow);
  return out.slow;
}

describe('bundle verify: an invalid cell is named once', () => {
  it('the data as written has no problem', async () => {
    expect(await problems(await writeData(() => undefined))).toEqual([]);
  });

  it("a referenced row's invalid cost is the one problem: the references to the row resolve, and the Arrow value beside it is not a second one", async () => {
    const dir = await writeData((csv) => {
      csv.part = replaceOnce(csv.part!, '7858.0290', '78x8.0290');
    });
    expect(await problems(dir)).toEqual(["data/csv/part.csv:3: cost '78x8.0290' is not a decimal(18,4) in canonical form"]);
  });

  it('a row with an invalid cell still has its key order, its unique values, its references and its valid cells against Arrow checked', async () => {
    const dir = await writeData((csv) => {
      // P3 becomes P1 again (a repeated key, out of order) with a bad cost and P1's tag.
      csv.part = replaceOnce(csv.part!, 'P3,1.5000,t3', 'P1,1.5x00,t1');
      // A line with a bad quantity that points at a part no row has.
      csv.line = replaceOnce(csv.line!, '2,P2,2', '2,P9,-2');
    });
    expect(await problems(dir)).toEqual([
      "data/csv/part.csv:4: cost '1.5x00' is not a decimal(18,4) in canonical form",
      'data/arrow/part.arrow: row 3, code: "P3" here, "P1" in part.csv',
      'data/csv/part.csv:4: rows are not in primary-key order',
      "data/csv/part.csv:4: tag 't1' repeats line 2, and the column is unique",
      'data/csv/line.csv:3: qty -2 is below the minimum 0',
      'data/arrow/line.arrow: row 2, part: "P2" here, "P9" in line.csv',
      "data/csv/line.csv:3: part 'P9' has no part row with code 'P9'",
      "data/csv/line.csv:5: part 'P3' has no part row with code 'P3'",
    ]);
  });

  it('an invalid key cell stays out: no key to resolve to, and an invalid reference is not reported again as dangling', async () => {
    const dir = await writeData((csv) => {
      // The code too long for its column: the row's references have nothing to resolve to.
      csv.part = replaceOnce(csv.part!, 'P2,7858.0290', 'P2-too-long,7858.0290');
      csv.line = replaceOnce(csv.line!, '4,P3,4', '4,P3-too-long,4');
    });
    expect(await problems(dir)).toEqual([
      'data/csv/part.csv:3: code is 11 characters long; the column holds 8',
      'data/csv/line.csv:5: part is 11 characters long; the column holds 8',
      "data/csv/line.csv:3: part 'P2' has no part row with code 'P2'",
      "data/csv/line.csv:4: part 'P2' has no part row with code 'P2'",
    ]);
  });
});
