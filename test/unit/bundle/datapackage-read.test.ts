import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDataPackage, resourcePathProblem } from '../../../src/bundle/datapackage-read.js';
import { parseProfile } from '../../../src/bundle/profile-parse.js';

// Both read through zod/mini (vendor/zod-mini.ts), which has no messages of its own: these are
// the messages a user reads, so they must say what is wrong, in English.
const write = (json: unknown): string => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'fl-dp-')), 'datapackage.json');
  writeFileSync(file, JSON.stringify(json));
  return file;
};

const resource = { name: 'items', path: 'csv/items.csv', schema: { fields: [{ name: 'item_no', type: 'string' }], primaryKey: 'item_no' } };

describe('readDataPackage', () => {
  it('reads a resource back to its entity, a primaryKey given as one name included', () => {
    const r = readDataPackage(write({ name: 'b', resources: [{ ...resource, 'forklift:rows': 3, extra: 'kept' }] }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.entities[0]!.entity).toMatchObject({ name: 'items', primaryKey: ['item_no'], columns: [{ name: 'item_no', type: 'string', required: true }] });
    expect(r.entities[0]!.problems).toEqual([]);
  });

  it('names the path and what is wrong, in English, for a package that breaks its schema', () => {
    const r = readDataPackage(write({ resources: [{ ...resource, name: '', 'forklift:rows': -1, schema: { fields: [] } }] }));
    expect(r).toMatchObject({ ok: false, kind: 'schema' });
    if (r.ok) return;
    expect(r.problem).toContain('resources.0.name: Too small: expected string to have >=1 characters');
    expect(r.problem).toContain('resources.0.forklift:rows: Too small: expected number to be >=0');
    expect(r.problem).toContain('resources.0.schema.fields: Too small: expected array to have >=1 items');
  });

  it('says which value has the wrong type', () => {
    const r = readDataPackage(write({ resources: [{ ...resource, bytes: 1.5, schema: { ...resource.schema, primaryKey: 7 } }] }));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problem).toMatch(/resources\.0\.bytes: Invalid input: expected int, received number/);
    expect(r.problem).toMatch(/resources\.0\.schema\.primaryKey: Invalid input/);
  });

  it('refuses a package without resources', () => {
    const r = readDataPackage(write({ resources: [] }));
    expect(r).toMatchObject({ ok: false, kind: 'schema', problem: 'resources: Too small: expected array to have >=1 items' });
  });
});

describe('parseProfile', () => {
  it('takes drop, mask and hash lists per entity', () => {
    expect(parseProfile('aud', { aud: { items: { drop: ['cost'], hash: ['name'] } } }, 'forklift.yaml').summary).toBe('aud: items drop cost, hash name');
  });

  it('refuses an unknown rule and a rule that is not a list, with the path in English', () => {
    expect(() => parseProfile('aud', { aud: { items: { drop: 'cost', erase: ['x'] } } }, 'forklift.yaml')).toThrow(/profiles\.aud: .*items: Unrecognized key: "erase"|profiles\.aud: .*items\.drop: Invalid input: expected array, received string/);
  });
});

describe('a resource whose name is a path', () => {
  it('is a problem of the Data Package, whatever its path says: verify and import never read outside data/csv', () => {
    for (const name of ['../../x', 'a/b', 'a\\b', '..', 'two\nlines']) {
      expect(resourcePathProblem({ name, path: `csv/${name}.csv` }), JSON.stringify(name)).toMatch(/no table of a forklift bundle has this name/);
    }
    expect(resourcePathProblem({ name: 'items.v2', path: 'csv/items.v2.csv' })).toBeNull();
  });
});
