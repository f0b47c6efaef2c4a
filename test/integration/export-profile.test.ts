import { existsSync, readdirSync } from 'node:fs';
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
