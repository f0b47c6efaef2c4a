import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { exportBundle } from '../../src/bundle/export.js';
import { parseProfile } from '../../src/bundle/profile-parse.js';
import { verifyBundle } from '../../src/bundle/verify.js';
import { tempDir } from '../helpers.js';

/**
 * An export profile that would make a bundle its own verify rejects is refused before any row is
 * read (exit 2), naming what breaks; what it allows verifies.
 */

const dir = tempDir('forklift-export-profile-');
const file = path.join(dir, 's.db');
const db = new Database(file);
db.exec(`CREATE TABLE p2 (id INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE);
CREATE TABLE c2 (id INTEGER PRIMARY KEY, code TEXT REFERENCES p2 (code));
INSERT INTO p2 VALUES (1, 'X'), (2, 'Y');
INSERT INTO c2 VALUES (10, 'X'), (11, 'Y');`);
db.close();
const source = `sqlite:${file}`;
const profile = (spec: Record<string, unknown>): ReturnType<typeof parseProfile> => parseProfile('p', { p: spec }, 'plan.yaml');

describe('export --profile with drop', () => {
  it('dropping a column another table references is refused before any work; nothing is written', async () => {
    const out = path.join(dir, 'out');
    await expect(exportBundle({ dir: path.join(out, 'pd'), source, profile: profile({ p2: { drop: ['code'] } }) })).rejects.toMatchObject({
      exitCode: 2,
      code: 'profile.invalid',
      message: "profile p, p2: drop: 'code' is referenced by c2.code",
    });
    expect(readdirSync(out)).toEqual([]);
  });

  it('dropping it together with the columns that reference it gives a bundle that verifies', async () => {
    const b = path.join(dir, 'both');
    await exportBundle({ dir: b, source, profile: profile({ p2: { drop: ['code'] }, c2: { drop: ['code'] } }) });
    expect(existsSync(b)).toBe(true);
    expect((await verifyBundle(b)).problems).toEqual([]);
  });
});

describe('export --profile with mask', () => {
  it('says so in the data dictionary and datapackage.json, as a hash is said', async () => {
    const d = tempDir('forklift-export-mask-');
    const f = path.join(d, 'm.db');
    const m = new Database(f);
    m.exec("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, badge INTEGER); INSERT INTO people VALUES (1, 'Ann', 7)");
    m.close();
    const b = path.join(d, 'b');
    await exportBundle({ dir: b, source: `sqlite:${f}`, profile: profile({ people: { mask: ['name', 'badge'] } }) });
    const readme = readFileSync(path.join(b, 'data/README.md'), 'utf8');
    expect(readme).toMatch(/name.*\(masked, profile p\)/);
    expect(readme).toMatch(/badge.*\(masked, profile p\)/);
    const pkg = JSON.parse(readFileSync(path.join(b, 'data/datapackage.json'), 'utf8')) as { resources: { name: string; schema: { fields: { name: string; description?: string }[] } }[] };
    const fields = pkg.resources.find((r) => r.name === 'people')!.schema.fields;
    expect(fields.map((x) => [x.name, x.description])).toEqual([
      ['id', undefined],
      ['name', '(masked, profile p)'],
      ['badge', '(masked, profile p)'],
    ]);
    expect((await verifyBundle(b)).problems).toEqual([]);
  });
});
