import { describe, expect, it } from 'vitest';
import { applyProfile, parseProfile } from '../../../src/bundle/profile.js';
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
});
