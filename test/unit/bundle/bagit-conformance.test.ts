import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateBag, type BagProblemKind } from '../../../src/bundle/bagit.js';
import { verifyBundle } from '../../../src/bundle/verify.js';
import { ROOT } from '../../helpers.js';

/**
 * The Library of Congress BagIt conformance suite (the part of it in test/fixtures/bagit-conformance,
 * see its README): every valid bag accepted, every invalid bag rejected with the rule named.
 */

const SUITE = path.join(ROOT, 'test', 'fixtures', 'bagit-conformance');

/** Why each invalid case of the suite must fail: the rule this validator names for it. */
const RULE: Record<string, { kind: BagProblemKind; file: string; message: RegExp }> = {
  'bagit-with-invalid-whitespace': { kind: 'declaration', file: 'bagit.txt', message: /line 1 must be 'BagIt-Version: M\.N'/ },
  'out-of-scope-file-paths-using-dot-notation': { kind: 'unsafe-path', file: '../../../README.md', message: /outside/ },
};

const bags = (kind: 'valid' | 'invalid'): string[] =>
  readdirSync(SUITE).flatMap((v) => {
    try {
      return readdirSync(path.join(SUITE, v, kind)).map((c) => path.join(v, kind, c));
    } catch {
      return [];
    }
  });

describe('BagIt conformance suite: valid bags', () => {
  it.each(bags('valid'))('%s is accepted', async (bag) => {
    const r = await verifyBundle(path.join(SUITE, bag));
    expect(r.problems).toEqual([]);
    expect(r).toMatchObject({ valid: true, forklift_bundle: false });
  });
  it('has the four basic bags', () => expect(bags('valid')).toHaveLength(4));
});

describe('BagIt conformance suite: invalid bags', () => {
  it.each(bags('invalid'))('%s is rejected with the rule named', async (bag) => {
    const rule = RULE[path.basename(bag)];
    expect(rule, `no rule known for ${bag}`).toBeDefined();
    const report = await validateBag(path.join(SUITE, bag));
    expect(report.problems.map((p) => p.kind)).toContain(rule!.kind);
    const p = report.problems.find((x) => x.kind === rule!.kind)!;
    expect(p.file).toBe(rule!.file);
    expect(p.message).toMatch(rule!.message);
    // Nothing else is wrong with it: it fails for the suite's reason.
    expect(report.problems.filter((x) => x.kind !== rule!.kind)).toEqual([]);
    expect((await verifyBundle(path.join(SUITE, bag))).valid).toBe(false);
  });
  it('has the three invalid bags', () => expect(bags('invalid')).toHaveLength(3));
});
