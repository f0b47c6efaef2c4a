import Database from 'better-sqlite3';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPlan, type RunResult } from '../../src/run/pipeline.js';
import { reloadRejects } from '../../src/run/reload.js';
import { tempDir } from '../helpers.js';

/**
 * The rejects loop on real files (SQLite target): migrate, a person edits the rejects file (or
 * not), `rejects reload`. A rejects file forklift wrote must read back as it was written, and an
 * unedited one must reload to the same rejects.
 */

interface Project {
  dir: string;
  plan: string;
  migrate(): Promise<RunResult>;
  rejects(run: RunResult): string;
  edit(run: RunResult, f: (text: string) => string): void;
  reload(run: RunResult): Promise<RunResult>;
  rows(sql: string): unknown[];
}

function project(source: string | Buffer, fields: string[], opts: { format?: string; file?: string } = {}): Project {
  const dir = tempDir('forklift-rejects-loop-');
  const file = opts.file ?? 'items.csv';
  writeFileSync(path.join(dir, file), source);
  writeFileSync(path.join(dir, 'items.yaml'), `entity: items\nsource: { format: ${opts.format ?? 'csv'}, path: ${file} }\nfields:\n${fields.map((f) => `  ${f}\n`).join('')}`);
  const plan = path.join(dir, 'forklift.yaml');
  writeFileSync(plan, `name: loop\ntarget: sqlite:${path.join(dir, 't.db')}\nmodel: factory\nmappings: [items.yaml]\nreject_limit: 100%\nload: replace\n`);
  const rejects = (run: RunResult): string => path.join(path.dirname(run.reportFile), 'rejects', 'items.csv');
  return {
    dir,
    plan,
    migrate: () => runPlan({ plan, command: 'migrate' }),
    rejects,
    edit: (run, f) => writeFileSync(rejects(run), f(readFileSync(rejects(run), 'utf8'))),
    reload: (run) => reloadRejects({ runDir: path.dirname(run.reportFile) }),
    rows(sql) {
      const db = new Database(path.join(dir, 't.db'), { readonly: true });
      try {
        return db.prepare(sql).all();
      } finally {
        db.close();
      }
    },
  };
}

const ITEM = ['item_code: { from: CODE }', 'uom: { from: UOM }', 'description: { from: DESC }', 'active: { const: true }'];

describe('rejects files keep line breaks in cells', () => {
  it('quotes a cell with a lone LF or CR, so the fixed row reloads whole', async () => {
    const p = project('CODE,UOM,COST,DESC\nA1,EA,1,fine\nA2,EA,-1,"Pump housing\nincl. gasket"\nA3,EA,-1,"p\rq"\n', [...ITEM, 'standard_cost: { from: COST }']);
    const first = await p.migrate();
    expect(first.entities[0]).toMatchObject({ loaded: 1, rejected: 2 });
    expect(readFileSync(p.rejects(first), 'utf8')).toContain('A2,EA,-1,"Pump housing\nincl. gasket",');
    p.edit(first, (t) => t.replace('A2,EA,-1', 'A2,EA,1').replace('A3,EA,-1', 'A3,EA,2'));
    const reload = await p.reload(first);
    expect(reload.entities[0]).toMatchObject({ read: 2, loaded: 2, rejected: 0 });
    expect(p.rows("SELECT item_code, description FROM items WHERE item_code <> 'A1' ORDER BY item_code")).toEqual([
      { item_code: 'A2', description: 'Pump housing\nincl. gasket' },
      { item_code: 'A3', description: 'p\rq' },
    ]);
  });
});
