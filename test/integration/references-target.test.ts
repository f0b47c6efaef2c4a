import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPlan } from '../../src/run/pipeline.js';
import { tempDir } from '../helpers.js';

/**
 * Two columns of one entity that others reference (parts.code, the key, and parts.name, unique),
 * checked against the rows already in the target: only the first referenced column was copied
 * from the target, and the check of the second failed with "internal error: no such column".
 */
describe('references into the target through two columns of one entity', () => {
  it('checks each against the target rows of its own column', async () => {
    const dir = tempDir('forklift-refs-target-');
    writeFileSync(
      path.join(dir, 'model.yaml'),
      [
        'entities:',
        '  parts:',
        '    primary_key: [code]',
        '    columns:',
        '      code: { type: string, length: 16 }',
        '      name: { type: string, length: 32, unique: true }',
        '  uses:',
        '    primary_key: [id]',
        '    columns:',
        '      id: { type: integer }',
        '      by_code: { type: string, length: 16, references: parts.code }',
        '      by_name: { type: string, length: 32, references: parts.name }',
        '',
      ].join('\n'),
    );
    writeFileSync(path.join(dir, 'parts.csv'), 'code,name\nA1,alpha\nB1,beta\n');
    writeFileSync(path.join(dir, 'uses.csv'), 'id,by_code,by_name\n1,A1,beta\n2,B1,alpha\n3,ZZ,alpha\n4,A1,nope\n');
    writeFileSync(path.join(dir, 'parts.yaml'), 'entity: parts\nsource: { format: csv, path: parts.csv, encoding: utf-8 }\nfields:\n  code: { from: code }\n  name: { from: name }\n');
    writeFileSync(path.join(dir, 'uses.yaml'), 'entity: uses\nsource: { format: csv, path: uses.csv, encoding: utf-8 }\nfields:\n  id: { from: id }\n  by_code: { from: by_code }\n  by_name: { from: by_name }\n');
    const target = `sqlite:${path.join(dir, 't.db')}`;
    writeFileSync(path.join(dir, 'p1.yaml'), `name: refs\ntarget: ${target}\nmodel: ./model.yaml\nmappings: [parts.yaml]\n`);
    writeFileSync(path.join(dir, 'p2.yaml'), `name: refs\ntarget: ${target}\nmodel: ./model.yaml\nmappings: [uses.yaml]\nreject_limit: 100%\n`);
    expect((await runPlan({ plan: path.join(dir, 'p1.yaml'), command: 'migrate' })).status).toBe('succeeded');
    const r = await runPlan({ plan: path.join(dir, 'p2.yaml'), command: 'migrate' });
    expect(r.status).toBe('succeeded');
    expect([r.entities[0]!.loaded, r.entities[0]!.rejected, r.entities[0]!.rejects_by_rule]).toEqual([2, 2, { 'foreign-key': 2 }]);
    const rejects = readFileSync(path.join(path.dirname(r.reportFile), 'rejects', 'uses.csv'), 'utf8');
    expect(rejects).toMatch(/3,ZZ,alpha,.*by_code 'ZZ' is not a loaded parts\.code/);
    expect(rejects).toMatch(/4,A1,nope,.*by_name 'nope' is not a loaded parts\.name/);
  });
});
