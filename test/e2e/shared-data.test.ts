import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { HAS_SHARED, SHARED, runCli, tempDir } from '../helpers.js';

/**
 * Real public files nobody here wrote (../shared/data, see its CATALOGUE.md). Read in place,
 * never copied. Skips visibly where the folder is absent.
 */
if (!HAS_SHARED) console.warn(`shared data not found at ${SHARED}: the real-file suites are skipped`);

function write(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
}

describe.skipIf(!HAS_SHARED)('real files: OpenBoxes item master and opening stock (EPL-1.0)', () => {
  it('migrates all 57 products and 57 balances, lots with leading zeros and slashes kept exactly', () => {
    const dir = tempDir('forklift-ob-');
    write(dir, {
      'forklift.yaml': `name: openboxes\ntarget: sqlite:./ob.db\nmappings: [items.yaml, balances.yaml]\nreject_limit: 0%\n`,
      'items.yaml': `entity: items
source: { format: csv, path: ${SHARED}/openboxes/products.csv }
fields:
  item_code: { from: ProductCode, clean: [trim] }
  description: { from: Name, clean: [trim, squash_spaces] }
  uom: { from: UnitOfMeasure, values: { Each: EA }, unknown: keep, default: EA }
  category: { from: Category, default: UNCATEGORIZED }
  standard_cost: { from: UnitCost }
  active: { from: Active }
`,
      'balances.yaml': `entity: stock_balances
source: { format: csv, path: ${SHARED}/openboxes/mainWarehouseInventory.csv }
fields:
  item_code: { from: Product code, clean: [trim] }
  warehouse: { const: MAIN }
  lot: { from: Lot number, clean: [trim], default: "" }
  qty: { from: Physical QOH }
  as_of: { const: "2025-01-01" }
`,
    });
    const r = runCli(['migrate', '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as { entities: { entity: string; read: number; loaded: number }[] };
    expect(rep.entities.map((e) => [e.entity, e.read, e.loaded])).toEqual([
      ['items', 57, 57],
      ['stock_balances', 57, 57],
    ]);
    const db = new Database(path.join(dir, 'ob.db'), { readonly: true });
    try {
      const lots = db.prepare("SELECT lot FROM stock_balances WHERE lot <> '' ORDER BY lot").pluck().all() as string[];
      expect(lots).toContain('00392/174');
      expect(lots).toContain('0898984');
      expect(lots).toHaveLength(57 - 41);
      expect(db.prepare("SELECT COUNT(*) FROM stock_balances WHERE lot = ''").pluck().get()).toBe(41);
      expect(db.prepare("SELECT standard_cost FROM items WHERE item_code = 'QX039'").pluck().get()).toBe('0.2500');
      expect(db.prepare("SELECT description FROM items WHERE item_code = 'TS894'").pluck().get()).toBe('Morphine injection, 10mg/mL in 1mL ampoule');
    } finally {
      db.close();
    }
  });
});

describe.skipIf(!HAS_SHARED)('real files: AI4I 2020 machine data into a custom model entity (CC BY 4.0)', () => {
  it('loads 10,000 process runs exactly, UTF-8 BOM and bracketed headers included', () => {
    const dir = tempDir('forklift-ai4i-');
    write(dir, {
      'forklift.yaml': `name: ai4i\ntarget: sqlite:./ai4i.db\nmodel: ./model.yaml\nmappings: [runs.yaml]\nreject_limit: 0%\nchecks:\n  - entity: process_runs\n    rows: 10000\n`,
      // The model file example of SPEC section 3.
      'model.yaml': `extends: factory
entities:
  process_runs:
    description: one run of a machine on a product
    primary_key: [run_id]
    columns:
      run_id:      { type: integer, required: true }
      product_id:  { type: string, length: 32, required: true }
      item_code:   { type: string, length: 64, references: items.item_code }
      air_temp_k:  { type: decimal, precision: 6, scale: 1, min: 0 }
      quality:     { type: enum, values: [L, M, H] }
      failed:      { type: boolean }
      started_at:  { type: timestamp }
      note:        { type: text, description: free text from the operator }
`,
      'runs.yaml': `entity: process_runs
source: { format: csv, path: ${SHARED}/ai4i2020/ai4i2020.csv }
fields:
  run_id:     { from: UDI }
  product_id: { from: Product ID }
  air_temp_k: { from: "Air temperature [K]" }  # quoted: [ ] mean a list in YAML
  quality:    { from: Type }
  failed:     { from: Machine failure }
  note:       { expr: 'if(TWF = 1, "tool wear failure", null)' }
`,
    });
    const r = runCli(['migrate', '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as { entities: { read: number; loaded: number }[] };
    expect(rep.entities[0]).toMatchObject({ read: 10000, loaded: 10000 });
    const db = new Database(path.join(dir, 'ai4i.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT product_id, air_temp_k, quality, failed FROM process_runs WHERE run_id = 1').get()).toEqual({ product_id: 'M14860', air_temp_k: '298.1', quality: 'M', failed: 0 });
      expect(db.prepare('SELECT SUM(failed) FROM process_runs').pluck().get()).toBe(339);
      expect(db.prepare('SELECT quality, COUNT(*) n FROM process_runs GROUP BY quality ORDER BY quality').all()).toEqual([
        { quality: 'H', n: 1003 },
        { quality: 'L', n: 6000 },
        { quality: 'M', n: 2997 },
      ]);
      expect(db.prepare("SELECT COUNT(*) FROM process_runs WHERE note = 'tool wear failure'").pluck().get()).toBe(46);
    } finally {
      db.close();
    }
  });
});

describe.skipIf(!HAS_SHARED)('real files: a European CSV (latin1, semicolons, decimal comma)', () => {
  it('previews frictionless table-with-accents.csv with detected encoding and delimiter', () => {
    const dir = tempDir('forklift-fr-');
    write(dir, {
      'items.yaml': `entity: items
source: { format: csv, path: ${SHARED}/frictionless/table-with-accents.csv }
fields:
  item_code: { expr: 'Classement & "/" & Date' }
  description: { expr: '\`Année\` & " " & Quartier' }
  uom: { const: EA }
  standard_cost: { from: Average Price, decimal: "," }
  active: { const: true }
`,
    });
    const r = runCli(['preview', 'items.yaml', '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as { rows: { status: string; rule?: string; reason?: string; values?: Record<string, unknown> }[] };
    expect(rep.rows.length).toBeGreaterThan(0);
    expect(rep.rows[0]).toMatchObject({ status: 'rejected', rule: 'type', reason: expect.stringMatching(/81,20416129' has more than 4 decimal places/) as unknown });
    // A rejected row shows what its other fields mapped to (the accents read right); the failed field is empty.
    expect(rep.rows[0]!.values).toMatchObject({ item_code: '3 stars/01-01-13', description: '2013 All', uom: 'EA', standard_cost: null });
  });
});
