import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runPlan, type RunResult } from '../../src/run/pipeline.js';
import { tempDir } from '../helpers.js';

/**
 * Numbers from source files into SQLite, as an adversarial tester fed them: an exponent that
 * would take gigabytes to write out, an integer column beside a cost column with a decimal comma,
 * a quotient of a large number, and item numbers that only look like numbers.
 */

interface Setup {
  csv: string[];
  mapping: string[];
  model?: string[];
}

async function migrate(s: Setup): Promise<{ r: RunResult; rows: (sql: string) => unknown[]; rejects: () => string }> {
  const dir = tempDir('forklift-numbers-');
  writeFileSync(path.join(dir, 'data.csv'), [...s.csv, ''].join('\n'));
  writeFileSync(path.join(dir, 'data.yaml'), [...s.mapping, ''].join('\n'));
  if (s.model) writeFileSync(path.join(dir, 'model.yaml'), [...s.model, ''].join('\n'));
  const plan = ['name: numbers', `target: sqlite:${path.join(dir, 't.db')}`, ...(s.model ? ['model: ./model.yaml'] : []), 'mappings: [data.yaml]', 'reject_limit: 100%', ''];
  writeFileSync(path.join(dir, 'plan.yaml'), plan.join('\n'));
  const r = await runPlan({ plan: path.join(dir, 'plan.yaml'), command: 'migrate' });
  const rows = (sql: string): unknown[] => {
    const db = new Database(path.join(dir, 't.db'), { readonly: true });
    try {
      return db.prepare(sql).raw().all();
    } finally {
      db.close();
    }
  };
  const entity = r.entities[0]!.entity;
  return { r, rows, rejects: () => readFileSync(path.join(path.dirname(r.reportFile), 'rejects', `${entity}.csv`), 'utf8') };
}

const items = (fields: string[], extra: string[] = []): string[] => [
  'entity: items',
  `source: { format: csv, path: data.csv, encoding: utf-8${extra.includes('semicolon') ? ', delimiter: ";"' : ''} }`,
  ...extra.filter((e) => e !== 'semicolon'),
  'fields:',
  '  item_code: { from: CODE }',
  '  description: { from: DESC }',
  '  uom: { const: EA }',
  '  active: { const: true }',
  ...fields,
];

describe('numbers from a source file', () => {
  it('rejects a decimal with a huge exponent at once, naming the value, instead of running out of memory', async () => {
    const long = `1${'0'.repeat(100)}e900000000`;
    const { r, rows, rejects } = await migrate({
      csv: ['CODE,DESC,COST', 'A1,tiny,1e-900000000', 'A2,huge,1e900000000', `A3,long,${long}`, 'A4,fine,1.5E+3'],
      mapping: items(['  standard_cost: { from: COST }']),
    });
    expect(r.status).toBe('succeeded');
    expect([r.entities[0]!.loaded, r.entities[0]!.rejected]).toEqual([1, 3]);
    expect(rows('SELECT item_code, standard_cost FROM items')).toEqual([['A4', '1500.0000']]);
    const text = rejects();
    expect(text).toContain("standard_cost '1e-900000000' has more than 4 decimal places");
    expect(text).toContain("standard_cost '1e900000000' is too large for decimal(18,4)");
    // a long value is named by its start: the row itself is in the rejects file
    expect(text).toContain(`standard_cost '${long.slice(0, 60)}…' is too large for decimal(18,4)`);
  });

  it('reads an integer field with the decimal comma its mapping declares, as the cost beside it', async () => {
    const { r, rows, rejects } = await migrate({
      csv: ['CODE;DESC;COST;LT_DAYS', 'A1;pump;1.250,00;1.000', 'A2;valve;2.000,00;2.500', 'A3;seal;3,00;5', 'A4;ring;4,00;1,5'],
      mapping: items(['  standard_cost: { from: COST, decimal: "," }', '  lead_time_days: { from: LT_DAYS, decimal: "," }'], ['semicolon']),
    });
    expect(r.status).toBe('succeeded');
    expect(rows('SELECT item_code, standard_cost, lead_time_days FROM items ORDER BY item_code')).toEqual([
      ['A1', '1250.0000', 1000],
      ['A2', '2000.0000', 2500],
      ['A3', '3.0000', 5],
    ]);
    expect(rejects()).toContain("lead_time_days '1,5' is not a whole number");
  });

  it('divides a large number to every decimal place of the column', async () => {
    const { r, rows, rejects } = await migrate({
      model: [
        'entities:',
        '  t:',
        '    primary_key: [id]',
        '    columns:',
        '      id: { type: integer, required: true }',
        '      q: { type: decimal, precision: 38, scale: 10 }',
      ],
      csv: ['ID,X,Y', '1,100000000000000000000000000,7', '2,100000000000000000000000000,8', '3,100000000000000000000000000,1'],
      mapping: ['entity: t', 'source: { format: csv, path: data.csv, encoding: utf-8 }', 'fields:', '  id: { from: ID }', '  q: { expr: "if(Y = 1, X / 7, round(X / Y, 10))" }'],
    });
    expect(r.status).toBe('succeeded');
    expect(rows('SELECT id, q FROM t ORDER BY id')).toEqual([
      [1, '14285714285714285714285714.2857142857'],
      [2, '12500000000000000000000000.0000000000'],
    ]);
    // unrounded, a quotient that does not end has more places than any column
    expect(rejects()).toMatch(/q '14285714285714285714285714\.2857142857142857\S*' has more than 10 decimal places/);
  });

  it('filters text against text exactly: item 0100 is not item 100', async () => {
    const { r, rows } = await migrate({
      csv: ['CODE,DESC,QTY', '0100,obsolete dummy item,1', '100,real pump,10', '100.0,real valve,9', '+100,real seal,2', '0101,other,3'],
      mapping: items([], ['filter: \'CODE != "0100" and QTY > 2\'']),
    });
    expect(r.status).toBe('succeeded');
    expect(r.entities[0]!.filtered).toBe(2);
    expect(rows('SELECT item_code FROM items ORDER BY item_code')).toEqual([['0101'], ['100'], ['100.0']]);
  });
});
