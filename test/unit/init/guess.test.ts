import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { guessMapping, nameScore, proposeMapping, writeMapping, type Proposed } from '../../../src/init/index.js';
import { columnsOf as exprColumns, parseExpression } from '../../../src/mapping/expr/index.js';
import { exprName } from '../../../src/init/guess.js';
import { detectLayout, findHeader } from '../../../src/init/detect.js';
import { guessEnumMap, guessUnitMap } from '../../../src/init/values.js';
import { factoryModel } from '../../../src/model/factory.js';
import { loadMappingFile } from '../../../src/plan/load.js';
import type { FieldSpec } from '../../../src/plan/schema.js';
import { runPlan } from '../../../src/run/pipeline.js';
import { HAS_SHARED, ROOT, SHARED, tempDir } from '../../helpers.js';

const DEMO = [
  { source: 'fixtures/demo/ITEMMAST.CSV', entity: 'items', expected: 'mappings/demo/items.yaml' },
  { source: 'fixtures/demo/BOM.CSV', entity: 'bom_lines', expected: 'mappings/demo/bom.yaml' },
  { source: 'fixtures/demo/OPENBAL.xlsx', entity: 'stock_balances', expected: 'mappings/demo/balances.yaml' },
  { source: 'fixtures/demo/MACHLOG.CSV', entity: 'machine_events', expected: 'mappings/demo/machine_log.yaml' },
] as const;

/** The source columns a field reads: `from`, or the columns named in `expr`. */
function columnsOf(f: Pick<FieldSpec, 'from' | 'expr'> | undefined, header: readonly string[]): string[] {
  if (f === undefined) return [];
  if (f.from !== undefined) return Array.isArray(f.from) ? f.from : [f.from];
  if (f.expr !== undefined) return header.filter((h) => new RegExp(`(^|[^\\w])${h.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([^\\w]|$)`).test(f.expr as string));
  return [];
}

/** Right when the guessed field reads the same columns the same way (decimal, date, timestamp formats). */
function sameField(expected: FieldSpec, guessed: FieldSpec | undefined, header: readonly string[]): boolean {
  if (guessed === undefined) return false;
  if (columnsOf(expected, header).join('|') !== columnsOf(guessed, header).join('|')) return false;
  return expected.decimal === guessed.decimal && expected.date === guessed.date && expected.timestamp === guessed.timestamp && expected.timezone === guessed.timezone;
}

const written = new Map<string, Proposed>();
const dir = tempDir('forklift-guess-');

describe('the guesser on the demo fixtures', () => {
  let right = 0;
  let total = 0;
  for (const d of DEMO) {
    it(`${d.source} → ${d.entity}: layout, and the fields of ${d.expected}`, async () => {
      const p = await proposeMapping({ source: path.join(ROOT, d.source), entity: d.entity, out: path.join(dir, 'mappings', `${d.entity}.yaml`), cwd: dir });
      written.set(d.entity, p);
      const expected = loadMappingFile(path.join(ROOT, d.expected)).spec;
      const L = p.proposal.layout;
      // The layout: what the demo mapping states explicitly.
      if (expected.source.encoding !== undefined) expect(L.encoding).toBe(expected.source.encoding);
      if (expected.source.delimiter !== undefined) expect(L.delimiter).toBe(expected.source.delimiter);
      expect(L.headerRow).toBe(expected.source.header_row ?? 1);
      if (expected.source.sheet !== undefined) expect(L.sheet).toBe(expected.source.sheet);
      writeMapping(p, true);
      const guessed = loadMappingFile(p.file).spec;
      const rows = Object.entries(expected.fields).map(([name, f]) => [name, sameField(f, guessed.fields[name], L.header)] as const);
      const ok = rows.filter(([, r]) => r).length;
      right += ok;
      total += rows.length;
      console.log(`${d.entity}: ${ok}/${rows.length} fields guessed right${rows.some(([, r]) => !r) ? ` (wrong: ${rows.filter(([, r]) => !r).map(([n]) => n).join(', ')})` : ''}; filter ${JSON.stringify(guessed.filter ?? null)} (demo ${JSON.stringify(expected.filter ?? null)})`);
      expect(ok / rows.length).toBeGreaterThanOrEqual(0.75);
    });
  }
  it('guesses at least 90% of the demo fields right overall', () => {
    console.log(`demo fixtures: ${right}/${total} fields guessed right (${Math.round((100 * right) / total)}%)`);
    expect(total).toBe(31);
    expect(right / total).toBeGreaterThanOrEqual(0.9);
  });

  it('writes mappings that the real pipeline runs: every row accounted for', async () => {
    expect(written.size).toBe(4);
    // The plan beside the guessed mappings; the fixtures are read where they are.
    writeFileSync(path.join(dir, 'forklift.yaml'), 'name: guessed\ntarget: sqlite:./guessed.db\nmappings: [mappings/items.yaml, mappings/bom_lines.yaml, mappings/stock_balances.yaml, mappings/machine_events.yaml]\nreject_limit: 50%\n');
    const r = await runPlan({ plan: path.join(dir, 'forklift.yaml'), command: 'validate' });
    const ledger = Object.fromEntries(r.entities.map((e) => [e.entity, e]));
    for (const e of r.entities) expect(e.read).toBe(e.loaded + e.filtered + e.duplicates_dropped + e.rejected);
    expect(ledger.items!.read).toBe(117);
    expect(ledger.items!.filtered).toBe(4);
    expect(ledger.stock_balances!.filtered).toBe(1);
    expect(ledger.machine_events!.read).toBe(2049);
    console.log(r.entities.map((e) => `${e.entity}: read ${e.read}, loaded ${e.loaded}, filtered ${e.filtered}, rejected ${e.rejected}`).join('\n'));
  });
});

/** Real files the guesser has never seen, with what a person would map by hand (a list: any of these). */
const REAL: { file: string; entity: string; expect: Record<string, string | string[]> }[] = [
  { file: 'openboxes/products.csv', entity: 'items', expect: { item_code: 'ProductCode', description: 'Name', item_type: 'ProductType', uom: 'UnitOfMeasure', category: 'Category', standard_cost: 'UnitCost', active: 'Active' } },
  { file: 'openboxes/mainWarehouseInventory.csv', entity: 'stock_balances', expect: { item_code: 'Product code', lot: 'Lot number', warehouse: 'Bin location', qty: 'Physical QOH' } },
  { file: 'odoo17/External_id_3rd_party_application_products.csv', entity: 'items', expect: { item_code: 'Internal Reference', description: 'Name', item_type: 'Product Type', category: 'Category/External ID', standard_cost: 'Cost' } },
  { file: 'odoo17/stock_quant.xlsx', entity: 'stock_balances', expect: { item_code: 'Product', lot: 'Lot/Serial Number', qty: ['Quantity', 'Counted Quantity'], as_of: 'Scheduled Date' } },
  { file: 'dod1033/ks_1033_data.csv', entity: 'items', expect: { item_code: 'nsn', description: 'item_name', uom: 'ui', standard_cost: 'acquisition_cost' } },
  { file: 'pybom/SKA-100.xlsx', entity: 'bom_lines', expect: { component_item: 'PN', qty_per: 'QTY' } },
  { file: 'pybom/Parts List.xlsx', entity: 'items', expect: { item_code: 'PN', description: ['Name', 'Description'], standard_cost: 'Cost' } },
  { file: 'openboxes/inventoryLevels.csv', entity: 'stock_balances', expect: { item_code: 'Product code', warehouse: 'Preferred bin location', qty: 'Current quantity' } },
  { file: 'dod1033/ne_1033_data.xlsx', entity: 'items', expect: { item_code: 'nsn', description: 'item_name', uom: 'ui', standard_cost: 'acquisition_cost' } },
  { file: 'ai4i2020/ai4i2020.csv', entity: 'machine_events', expect: { temperature_c: ['Air temperature [K]', 'Process temperature [K]'] } },
  { file: 'frictionless/issue-1138.csv', entity: 'machine_events', expect: { ts: 'Zeit [MEZ]', state: 'Status' } },
];

describe.skipIf(!HAS_SHARED)('the guesser on real files it has never seen (../shared/data)', () => {
  let right = 0;
  let total = 0;
  for (const r of REAL) {
    it(`${r.file} → ${r.entity}`, async () => {
      const file = path.join(SHARED, r.file);
      if (!existsSync(file)) {
        console.log(`skipped: ${file} is absent`);
        return;
      }
      const layout = await detectLayout(file);
      const p = guessMapping(layout, factoryModel().entities.get(r.entity)!);
      const rows = Object.entries(r.expect).map(([field, want]) => {
        const got = p.fields.find((f) => f.field === field)?.from?.[0];
        return [field, got !== undefined && (Array.isArray(want) ? want : [want]).includes(got), got] as const;
      });
      const ok = rows.filter(([, x]) => x).length;
      right += ok;
      total += rows.length;
      console.log(`${r.file} → ${r.entity}: ${ok}/${rows.length} right${rows.some(([, x]) => !x) ? ` (wrong: ${rows.filter(([, x]) => !x).map(([f, , g]) => `${f} ← ${g ?? 'nothing'}`).join(', ')})` : ''}`);
      // The written file is valid, whatever was guessed.
      const out = path.join(dir, 'real', `${path.basename(r.file)}.yaml`);
      mkdirSync(path.dirname(out), { recursive: true });
      writeMapping({ proposal: p, entity: factoryModel().entities.get(r.entity)!, file: out }, true);
      expect(() => loadMappingFile(out)).not.toThrow();
    });
  }
  it('guesses at least 75% of the hand-mapped fields of real files right', () => {
    console.log(`real files: ${right}/${total} fields guessed right (${Math.round((100 * right) / Math.max(1, total))}%)`);
    expect(right / Math.max(1, total)).toBeGreaterThanOrEqual(0.75);
  });
});

describe('names and value maps', () => {
  it('knows ERP synonyms in English and German, whatever the case and separators', () => {
    for (const [col, field] of [['ITEMNO', 'item_code'], ['Artikel-Nr.', 'item_code'], ['MATNR', 'item_code'], ['part_no', 'item_code'], ['Bezeichnung', 'description'], ['MENGE', 'qty_per'], ['Mengeneinheit', 'uom'], ['Lagerort', 'warehouse'], ['Chargennummer', 'lot'], ['Maschine', 'machine_id'], ['Zeitstempel', 'ts'], ['Gültig ab', 'valid_from']] as const) {
      expect(nameScore(col, field).score, `${col} → ${field}`).toBeGreaterThanOrEqual(0.65);
    }
    expect(nameScore('Bemerkung', 'item_code').score).toBe(0);
  });

  it('maps legacy codes that are first letters of the enum values, and lists the rest', () => {
    const g = guessEnumMap([['R', 10], ['I', 5], ['D', 2], ['W', 1]], ['RUN', 'IDLE', 'DOWN', 'SETUP', 'OFF']);
    expect(g.map).toEqual({ R: 'RUN', I: 'IDLE', D: 'DOWN' });
    expect(g.unmapped).toEqual([['W', 1]]);
    expect(guessEnumMap([['Störung', 3], ['Rüsten', 1]], ['RUN', 'IDLE', 'DOWN', 'SETUP', 'OFF']).map).toEqual({ Störung: 'DOWN', Rüsten: 'SETUP' });
    expect(guessUnitMap([['STK', 3], ['Each', 2], ['KGS', 1]]).map).toEqual({ STK: 'EA', Each: 'EA', KGS: 'KG' });
    expect(guessUnitMap([['EA', 3], ['KG', 1]]).map).toEqual({});
  });

  it('a column whose name the header holds twice gets a TODO to rename them, not a sure field', async () => {
    const d = tempDir('forklift-guess-twice-');
    writeFileSync(path.join(d, 'bal.csv'), 'Item,WH,Qty,Qty,Value\nA1,W1,,7,10.00\nA2,W1,6,8,11.00\nA3,W2,1,2,3.00\n');
    const p = guessMapping(await detectLayout(path.join(d, 'bal.csv')), factoryModel().entities.get('stock_balances')!);
    const qty = p.fields.find((f) => f.field === 'qty')!;
    expect(qty.from).toEqual(['Qty']);
    expect(qty.confidence).not.toBe('high');
    expect(qty.todo.join('\n')).toMatch(/the header names Qty in columns 3, 4: rename them in the source/);
    expect(p.fields.find((f) => f.field === 'value')!.todo).toEqual([]);
  });

  it('copies nothing it should not: a copy of a fixture is guessed the same', async () => {
    const d = tempDir('forklift-guess-copy-');
    cpSync(path.join(ROOT, 'fixtures/demo/BOM.CSV'), path.join(d, 'stueckliste.csv'));
    const p = await proposeMapping({ source: 'stueckliste.csv', entity: 'bom_lines', cwd: d });
    expect(p.file).toBe(path.join(d, 'mappings', 'bom_lines.yaml'));
    expect(p.proposal.fields.find((f) => f.field === 'valid_from')?.date).toBe('dd.MM.yyyy');
  });
});

describe('detectLayout: a file whose first byte beyond ASCII lies past the 64 KiB detection reads', () => {
  const write = (name: string, tail: string, encoding: BufferEncoding | 'cp1252'): string => {
    const file = path.join(tempDir('forklift-late-enc-'), name);
    const rows = ['ITEMNO;DESCRIPTION;UOM'];
    for (let i = 0; i < 3000; i++) rows.push(`A-${String(i).padStart(5, '0')};Plain ascii description number ${i};EA`);
    rows.push(tail);
    const text = `${rows.join('\r\n')}\r\n`;
    // Windows-1252 for the letters used here is Latin-1 but for the euro sign, which this text has not.
    writeFileSync(file, encoding === 'cp1252' ? Buffer.from(text, 'latin1') : Buffer.from(text, encoding));
    return file;
  };

  it('takes the encoding from where that byte is, so the mapping it writes reads the whole file', async () => {
    const layout = await detectLayout(write('late.csv', 'B-1;Müller Getriebe, Größe 3;EA', 'cp1252'));
    expect(layout.encoding).toBe('windows-1252');
    expect(layout.rows).toHaveLength(1000);
  });

  it('keeps UTF-8 when the late text is UTF-8, and for a file that is ASCII throughout', async () => {
    expect((await detectLayout(write('late-utf8.csv', 'B-1;Müller Getriebe;EA', 'utf8'))).encoding).toBe('utf-8');
    expect((await detectLayout(write('ascii.csv', 'B-1;Mueller;EA', 'utf8'))).encoding).toBe('utf-8');
  });
});

describe('exprName', () => {
  it('writes any header as a column the expression language reads back as that header', () => {
    for (const header of ['LT_WEEKS', 'Lead `time` weeks', '`', 'a``b', 'if', 'Menge (Stk.)', '2024']) {
      const node = parseExpression(`${exprName(header)} * 7`, { file: 'm.yaml', line: 1, column: 1 });
      expect(exprColumns(node), header).toEqual([header]);
    }
  });
});

describe('detectLayout: a space-separated text file', () => {
  it('is refused, saying how to make it CSV, instead of read as one column that maps nothing', async () => {
    const file = path.join(tempDir('forklift-spaces-'), 'engine.txt');
    writeFileSync(file, Array.from({ length: 40 }, (_, i) => `1 ${i + 1} -0.0027 100.0 518.67 `).join('\n') + '\n');
    await expect(detectLayout(file)).rejects.toMatchObject({
      code: 'usage',
      message: 'engine.txt has no delimiter forklift reads (, ; tab |): its 5 columns are separated by spaces',
      hint: expect.stringMatching(/^Convert it to CSV first, e\.g\. sed .* engine\.txt > engine\.csv, then name that file\.$/),
    });
    // One column of text with spaces in it, not all alike, is a one-column file.
    const notes = path.join(tempDir('forklift-spaces-'), 'notes.csv');
    writeFileSync(notes, 'note\nPump seal replaced\nok\nCheck motor bearing next week\n');
    expect((await detectLayout(notes)).header).toEqual(['note']);
  });
});

describe('findHeader', () => {
  const rec = (rows: string[][]) => rows.map((cells, i) => ({ line: i + 1, cells }));
  it('takes a first row whose column names are years, rather than a data row below it', () => {
    expect(findHeader(rec([['Musei', '2011', '2010'], ['Galleria', '23.824', '17.518'], ['Museo Pitrè', 'in restauro', 'in restauro']]))).toBe(0);
    expect(findHeader(rec([['Item', '2023', '2024', '2025'], ['P-1', '4', '5', '6'], ['P-2', '7', '8', '9']]))).toBe(0);
  });

  it('still passes over title rows, and takes no row of "null"s for a header', () => {
    expect(findHeader(rec([['Stock list'], ['printed 2026-11-30'], ['ITEM', 'QTY', 'WH'], ['P-1', '3', 'A']]))).toBe(2);
    // messytables/null.csv: no header at all; the fourth row is data too.
    expect(findHeader(rec([['1', 'null', '0', '0'], ['2', '0', '0', 'null'], ['3', 'null', '', ''], ['4', 'null', '0', 'null']]))).toBe(0);
  });
});

describe('detectLayout: a JSON document', () => {
  it('is refused, saying how to make it JSON Lines, instead of read as a CSV whose header is "["', async () => {
    const dir = tempDir('forklift-json-');
    const file = path.join(dir, 'Item.json');
    writeFileSync(file, '[\n  {"item_code": "A", "qty": 1},\n  {"item_code": "B", "qty": 2}\n]\n');
    await expect(detectLayout(file)).rejects.toMatchObject({
      code: 'usage',
      message: 'Item.json is a JSON document (an array), which forklift does not read: it reads JSON Lines, one object per line',
      hint: "Convert it first, e.g. jq -c '.[]' Item.json > Item.jsonl, then name that file.",
    });
    // One object per line is JSON Lines, whatever the file is called.
    const lines = path.join(dir, 'export.json');
    writeFileSync(lines, '{"item_code": "A", "qty": 1}\n{"item_code": "B", "qty": 2}\n');
    expect((await detectLayout(lines)).header).toEqual(['item_code', 'qty']);
  });
});
