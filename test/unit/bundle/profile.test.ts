import { describe, expect, it } from 'vitest';
import { applyProfile } from '../../../src/bundle/profile.js';
import { parseProfile } from '../../../src/bundle/profile-parse.js';
import type { Entity } from '../../../src/model/types.js';

/** Export profiles: what a profile may do to a column, and what it writes. */

const u: Entity = {
  name: 'u',
  primaryKey: ['id'],
  rules: [],
  columns: [
    { name: 'id', type: 'integer', required: true },
    { name: 'email', type: 'string', length: 50, required: false, unique: true },
    { name: 'badge', type: 'integer', required: false, unique: true },
    { name: 'note', type: 'text', required: false },
  ],
};

const profile = (rules: Record<string, unknown>): ReturnType<typeof parseProfile> => parseProfile('aud', { aud: { u: rules } }, 'forklift.yaml');

describe('applyProfile', () => {
  it('refuses to mask a unique text column (every value would be ***), as it refuses key columns, pointing to hash', () => {
    expect(() => applyProfile(profile({ mask: ['email'] }), u, [u])).toThrow(
      expect.objectContaining({
        exitCode: 2,
        code: 'profile.invalid',
        message: "profile aud, u: mask: 'email' is unique, and masking writes *** for every value of it",
        hint: expect.stringMatching(/hash the column \(hash: \[email\]\), which keeps distinct values distinct/),
      }),
    );
    expect(() => applyProfile(profile({ mask: ['id'] }), u, [u])).toThrow(/part of the primary key/);
  });

  it('hashes a unique text column (distinct values stay distinct) and masks a unique number to missing values, which may repeat', () => {
    const hashed = applyProfile(profile({ hash: ['email'] }), u, [u], { FORKLIFT_HASH_SALT: 'pepper' });
    const a = hashed.row([1, 'a@x', 7, 'n'])[1];
    const b = hashed.row([2, 'b@x', 8, 'n'])[1];
    expect(a).not.toBe(b);
    const masked = applyProfile(profile({ mask: ['badge', 'note'] }), u, [u]);
    expect(masked.row([1, 'a@x', 7, 'n'])).toEqual([1, 'a@x', null, '***']);
    expect(masked.row([2, 'b@x', 8, null])).toEqual([2, 'b@x', null, null]);
  });

  it('says in the description of a masked column, as of a hashed one, that the profile changed it', () => {
    const e: Entity = { ...u, columns: u.columns.map((c) => (c.name === 'note' ? { ...c, description: 'from the operator' } : c)) };
    const masked = applyProfile(profile({ mask: ['badge', 'note'] }), e, [e]);
    expect(masked.entity.columns.map((c) => c.description)).toEqual([undefined, undefined, '(masked, profile aud)', 'from the operator (masked, profile aud)']);
    const hashed = applyProfile(profile({ hash: ['email'] }), e, [e], { FORKLIFT_HASH_SALT: 'pepper' });
    expect(hashed.entity.columns[1]!.description).toBe('(HMAC-SHA-256, profile aud)');
  });
});

describe('applyProfile: dropping a column other columns reference', () => {
  const parent: Entity = {
    name: 'p2',
    primaryKey: ['id'],
    rules: [],
    columns: [
      { name: 'id', type: 'integer', required: true },
      { name: 'code', type: 'string', length: 8, required: true, unique: true },
    ],
  };
  const child: Entity = {
    name: 'c2',
    primaryKey: ['id'],
    rules: [],
    columns: [
      { name: 'id', type: 'integer', required: true },
      { name: 'code', type: 'string', length: 8, required: false, references: { entity: 'p2', column: 'code' } },
    ],
  };
  const drops = (spec: Record<string, string[]>): ReturnType<typeof parseProfile> => parseProfile('aud', { aud: Object.fromEntries(Object.entries(spec).map(([t, d]) => [t, { drop: d }])) }, 'forklift.yaml');

  it('is refused (exit 2) naming the referencing column, as mask and hash are', () => {
    expect(() => applyProfile(drops({ p2: ['code'] }), parent, [parent, child])).toThrow(
      expect.objectContaining({
        exitCode: 2,
        code: 'profile.invalid',
        message: "profile aud, p2: drop: 'code' is referenced by c2.code",
        hint: expect.stringMatching(/drop that column too, leave its table out with --tables, or keep 'code'/),
      }),
    );
  });

  it('is allowed where every referencing column is dropped too, or its table is not exported', () => {
    expect(applyProfile(drops({ p2: ['code'], c2: ['code'] }), parent, [parent, child]).entity.columns.map((c) => c.name)).toEqual(['id']);
    expect(applyProfile(drops({ p2: ['code'] }), parent, [parent]).entity.columns.map((c) => c.name)).toEqual(['id']);
    expect(applyProfile(drops({ c2: ['code'] }), child, [parent, child]).entity.columns.map((c) => c.name)).toEqual(['id']);
  });
});
