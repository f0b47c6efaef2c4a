import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runPlan } from '../../src/run/pipeline.js';
import { tempDir } from '../helpers.js';

/**
 * A `unique` column (SPEC section 3) that two source rows share: the target's UNIQUE constraint
 * used to refuse the whole load with no line named (and a hint about rows already in the target,
 * which was empty). The rows are now rejected together with their lines, and the rest loads.
 */
describe('a unique column', () => {
  it('rejects the rows that share a value, names their lines, and loads the rest; missing values may repeat', async () => {
    const dir = tempDir('forklift-unique-');
    writeFileSync(
      path.join(dir, 'model.yaml'),
      ['extends: factory', 'entities:', '  tools:', '    primary_key: [tool_id]', '    columns:', '      tool_id: { type: integer, required: true }', '      serial: { type: string, length: 32, unique: true }', ''].join('\n'),
    );
    writeFileSync(path.join(dir, 'tools.csv'), ['ID,SERIAL', '1,S-100', '2,S-200', '3,S-100', '4,', '5,', '6,S-300', ''].join('\n'));
    writeFileSync(path.join(dir, 'tools.yaml'), ['entity: tools', 'source: { format: csv, path: ./tools.csv, encoding: utf-8 }', 'fields:', '  tool_id: { from: ID }', '  serial: { from: SERIAL }', ''].join('\n'));
    writeFileSync(path.join(dir, 'plan.yaml'), ['name: unique', `target: sqlite:${path.join(dir, 't.db')}`, 'model: ./model.yaml', 'mappings:', '  - tools.yaml', 'reject_limit: 50%', ''].join('\n'));
    const r = await runPlan({ plan: path.join(dir, 'plan.yaml'), command: 'migrate' });
    expect(r.status).toBe('succeeded');
    const l = r.entities[0]!;
    expect([l.read, l.loaded, l.rejected, l.rejects_by_rule]).toEqual([6, 4, 2, { unique: 2 }]);
    const db = new Database(path.join(dir, 't.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT tool_id FROM tools ORDER BY tool_id').pluck().all()).toEqual([2, 4, 5, 6]);
    } finally {
      db.close();
    }
    const rejects = readFileSync(path.join(path.dirname(r.reportFile), 'rejects', 'tools.csv'), 'utf8');
    expect(rejects).toMatch(/2 rows of \S*tools\.csv \(lines 2, 4\) have the serial S-100, which must be unique; none is loaded/);
  });
  it('rejects, in an append or an upsert, a row whose value a target row of another key holds, instead of failing the whole load on the UNIQUE constraint', async () => {
    const dir = tempDir('forklift-unique-target-');
    writeFileSync(path.join(dir, 'model.yaml'), ['entities:', '  tools:', '    primary_key: [tool_id]', '    columns:', '      tool_id: { type: integer }', '      serial: { type: string, length: 32, unique: true }', ''].join('\n'));
    const step = async (name: string, rows: string[], load: string): Promise<Awaited<ReturnType<typeof runPlan>>> => {
      writeFileSync(path.join(dir, `${name}.csv`), ['ID,SERIAL', ...rows, ''].join('\n'));
      writeFileSync(path.join(dir, `${name}.yaml`), ['entity: tools', `source: { format: csv, path: ./${name}.csv, encoding: utf-8 }`, 'fields:', '  tool_id: { from: ID }', '  serial: { from: SERIAL }', ''].join('\n'));
      writeFileSync(path.join(dir, `${name}-plan.yaml`), ['name: unique', `target: sqlite:${path.join(dir, 't.db')}`, 'model: ./model.yaml', `mappings: [${name}.yaml]`, `load: ${load}`, 'reject_limit: 100%', ''].join('\n'));
      return runPlan({ plan: path.join(dir, `${name}-plan.yaml`), command: 'migrate' });
    };
    expect((await step('first', ['1,S-100', '2,S-200', '4,S-400'], 'replace')).status).toBe('succeeded');
    const a = await step('append', ['3,S-100', '5,S-500'], 'append');
    expect(a.status).toBe('succeeded');
    expect([a.entities[0]!.loaded, a.entities[0]!.rejected, a.entities[0]!.rejects_by_rule]).toEqual([1, 1, { unique: 1 }]);
    const rejects = readFileSync(path.join(path.dirname(a.reportFile), 'rejects', 'tools.csv'), 'utf8');
    expect(rejects).toMatch(/3,S-100,.*serial S-100 is already held by the target's row tool_id 1, and serial must be unique; the row is not loaded/);
    // Tool 1 gives S-100 up in the same upsert, so tool 3 may take it; S-200 stays with tool 2.
    const u = await step('upsert', ['1,S-999', '3,S-100', '6,S-200'], 'upsert');
    expect(u.status).toBe('succeeded');
    expect([u.entities[0]!.loaded, u.entities[0]!.rejected]).toEqual([2, 1]);
    const db = new Database(path.join(dir, 't.db'), { readonly: true });
    try {
      expect(db.prepare('SELECT tool_id, serial FROM tools ORDER BY tool_id').raw().all()).toEqual([
        [1, 'S-999'],
        [2, 'S-200'],
        [3, 'S-100'],
        [4, 'S-400'],
        [5, 'S-500'],
      ]);
    } finally {
      db.close();
    }
  });
});
