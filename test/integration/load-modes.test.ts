import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/core/errors.js';
import { runPlan } from '../../src/run/pipeline.js';
import { tempDir } from '../helpers.js';

function project(load: string): { dir: string; plan: string; data: (rows: string[]) => void } {
  const dir = tempDir('forklift-modes-');
  writeFileSync(
    path.join(dir, 'items.yaml'),
    `entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { const: EA }\n  standard_cost: { from: COST }\n  active: { const: true }\n`,
  );
  writeFileSync(path.join(dir, 'forklift.yaml'), `name: modes\ntarget: sqlite:./t.db\nmappings: [items.yaml]\nload: ${load}\n`);
  return {
    dir,
    plan: path.join(dir, 'forklift.yaml'),
    data: (rows) => writeFileSync(path.join(dir, 'items.csv'), ['CODE,NAME,COST', ...rows].join('\n') + '\n'),
  };
}

const table = (dir: string): unknown[] => {
  const db = new Database(path.join(dir, 't.db'), { readonly: true });
  try {
    return db.prepare('SELECT item_code, description, standard_cost FROM items ORDER BY item_code').raw().all();
  } finally {
    db.close();
  }
};

describe('load modes into SQLite', () => {
  it('replace: the table holds exactly the last run', async () => {
    const p = project('replace');
    p.data(['A,Alpha,1.5', 'B,Beta,2']);
    await runPlan({ plan: p.plan, command: 'migrate' });
    p.data(['B,Beta two,3', 'C,Gamma,4']);
    await runPlan({ plan: p.plan, command: 'migrate' });
    expect(table(p.dir)).toEqual([
      ['B', 'Beta two', '3.0000'],
      ['C', 'Gamma', '4.0000'],
    ]);
  });

  it('append: adds rows; a key already there fails the whole run and leaves the target as it was', async () => {
    const p = project('append');
    p.data(['A,Alpha,1.5']);
    await runPlan({ plan: p.plan, command: 'migrate' });
    p.data(['B,Beta,2']);
    await runPlan({ plan: p.plan, command: 'migrate' });
    const before = table(p.dir);
    expect(before).toHaveLength(2);
    p.data(['C,Gamma,3', 'A,Alpha again,9']);
    const err = await runPlan({ plan: p.plan, command: 'migrate' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).hint).toMatch(/replace or upsert/);
    expect(table(p.dir)).toEqual(before); // C was not committed either
    const db = new Database(path.join(p.dir, 't.db'), { readonly: true });
    expect(db.prepare('SELECT status FROM forklift_runs ORDER BY started').pluck().all()).toEqual(['succeeded', 'succeeded', 'failed']);
    db.close();
  });

  it('a load the target refuses still writes the run report and rejects files, and cleans its staging', async () => {
    const p = project('append');
    p.data(['A,Alpha,1.5']);
    await runPlan({ plan: p.plan, command: 'migrate' });
    writeFileSync(p.plan, readFileSync(p.plan, 'utf8') + 'reject_limit: 50%\n');
    p.data(['C,Gamma,3', 'A,Alpha again,9', 'D,,4']);
    const err = (await runPlan({ plan: p.plan, command: 'migrate' }).catch((e: unknown) => e)) as StoreError;
    expect(err).toBeInstanceOf(StoreError);
    // Run ids of one second sort by their random suffix: the failed run is the one that says so.
    const failed = readdirSync(path.join(p.dir, 'runs'))
      .map((id) => path.join(p.dir, 'runs', id))
      .find((d) => existsSync(path.join(d, 'report.json')) && readFileSync(path.join(d, 'report.json'), 'utf8').includes('"status": "failed"'))!;
    expect(failed).toBeDefined();
    const report = JSON.parse(readFileSync(path.join(failed, 'report.json'), 'utf8')) as { status: string; committed: boolean; message: string; entities: { rejected: number; rejects_file: string | null }[] };
    expect(report).toMatchObject({ status: 'failed', committed: false });
    expect(report.message).toMatch(/items: the target already holds the key item_code "A" \(source line 3\); nothing was committed/);
    expect(report.entities[0]!.rejected).toBe(1);
    expect(existsSync(path.join(p.dir, report.entities[0]!.rejects_file!))).toBe(true);
    expect(existsSync(path.join(failed, 'report.html'))).toBe(true);
    expect(existsSync(path.join(failed, 'staging.sqlite'))).toBe(false);
    expect(err.details.join('\n')).toContain('report.html');
  });

  it('upsert: updates rows whose key exists and inserts the rest', async () => {
    const p = project('upsert');
    p.data(['A,Alpha,1.5', 'B,Beta,2']);
    await runPlan({ plan: p.plan, command: 'migrate' });
    p.data(['B,Beta two,3', 'C,Gamma,4']);
    await runPlan({ plan: p.plan, command: 'migrate' });
    expect(table(p.dir)).toEqual([
      ['A', 'Alpha', '1.5000'],
      ['B', 'Beta two', '3.0000'],
      ['C', 'Gamma', '4.0000'],
    ]);
  });

  it('upsert of a mapping that provides only the key: a key already there keeps its row, the new key is added', async () => {
    const dir = tempDir('forklift-keyonly-');
    writeFileSync(path.join(dir, 'model.yaml'), 'extends: factory\nentities:\n  tags:\n    primary_key: [code]\n    columns:\n      code: { type: string, length: 8 }\n      note: { type: string, length: 32 }\n');
    writeFileSync(path.join(dir, 'full.yaml'), 'entity: tags\nsource: { format: csv, path: full.csv }\nfields:\n  code: { from: C }\n  note: { from: N }\n');
    writeFileSync(path.join(dir, 'keys.yaml'), 'entity: tags\nsource: { format: csv, path: keys.csv }\nfields:\n  code: { from: C }\n');
    writeFileSync(path.join(dir, 'full.csv'), 'C,N\nT1,kept\n');
    writeFileSync(path.join(dir, 'keys.csv'), 'C\nT1\nT2\n');
    for (const m of ['full', 'keys']) writeFileSync(path.join(dir, `${m}-plan.yaml`), `name: ${m}\ntarget: sqlite:./t.db\nmodel: ./model.yaml\nmappings: [${m}.yaml]\nload: upsert\n`);
    await runPlan({ plan: path.join(dir, 'full-plan.yaml'), command: 'migrate' });
    const r = await runPlan({ plan: path.join(dir, 'keys-plan.yaml'), command: 'migrate' });
    expect(r.entities[0]).toMatchObject({ read: 2, loaded: 2 });
    const db = new Database(path.join(dir, 't.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT code, note FROM tags ORDER BY code').raw().all()).toEqual([
        ['T1', 'kept'],
        ['T2', null],
      ]);
    } finally {
      db.close();
    }
  });

  it('a reference to a row already in the target (append) resolves; one to nowhere is rejected', async () => {
    const dir = tempDir('forklift-fk-');
    writeFileSync(path.join(dir, 'items.csv'), 'CODE,NAME\nP,Pump\nS,Shaft\n');
    writeFileSync(path.join(dir, 'bom.csv'), 'PARENT,LINE,COMP,QTY\nP,10,S,1\nP,20,X,2\n');
    writeFileSync(path.join(dir, 'items.yaml'), `entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { const: EA }\n  active: { const: true }\n`);
    writeFileSync(path.join(dir, 'bom.yaml'), `entity: bom_lines\nsource: { format: csv, path: bom.csv }\nload: append\nfields:\n  parent_item: { from: PARENT }\n  line_no: { from: LINE }\n  component_item: { from: COMP }\n  qty_per: { from: QTY }\n`);
    writeFileSync(path.join(dir, 'a.yaml'), `name: a\ntarget: sqlite:./t.db\nmappings: [items.yaml]\n`);
    writeFileSync(path.join(dir, 'b.yaml'), `name: b\ntarget: sqlite:./t.db\nmappings: [bom.yaml]\nreject_limit: 50%\n`);
    await runPlan({ plan: path.join(dir, 'a.yaml'), command: 'migrate' });
    const r = await runPlan({ plan: path.join(dir, 'b.yaml'), command: 'migrate' });
    expect(r.entities[0]).toMatchObject({ read: 2, loaded: 1, rejected: 1, rejects_by_rule: { 'foreign-key': 1 } });
  });
});
