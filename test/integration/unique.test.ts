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
});
