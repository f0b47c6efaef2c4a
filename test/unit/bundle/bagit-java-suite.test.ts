import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateBag, type BagProblem, type BagProblemKind } from '../../../src/bundle/bagit.js';
import { verifyBundle } from '../../../src/bundle/verify.js';
import { ROOT } from '../../helpers.js';

/**
 * The test bags of the Library of Congress bagit-java library (the part of them that could be
 * rebuilt exactly, in test/fixtures/bagit-java, see its README): every valid bag accepted, every
 * invalid bag and every malicious tag file rejected with the RFC 8493 rule named.
 */

const SUITE = path.join(ROOT, 'test', 'fixtures', 'bagit-java');

interface Rule {
  kind: BagProblemKind;
  file: string;
  message: RegExp;
}

/** Each problem the case must raise, and no other. */
function expectProblems(problems: readonly BagProblem[], rules: readonly Rule[]): void {
  expect(problems.map((p) => `${p.kind} ${p.file}`).sort()).toEqual(rules.map((r) => `${r.kind} ${r.file}`).sort());
  for (const r of rules) {
    const p = problems.find((x) => x.kind === r.kind && x.file === r.file)!;
    expect(p.message).toMatch(r.message);
  }
}

const cases = (kind: 'valid' | 'invalid'): string[] => readdirSync(path.join(SUITE, kind)).sort();

describe('bagit-java test bags: valid bags', () => {
  it.each(cases('valid'))('%s is accepted', async (bag) => {
    const dir = path.join(SUITE, 'valid', bag);
    const report = await validateBag(dir);
    expect(report.problems).toEqual([]);
    expect(report.warnings).toEqual([]);
    const r = await verifyBundle(dir);
    expect(r.problems).toEqual([]);
    expect(r).toMatchObject({ valid: true, forklift_bundle: false });
  });

  it('has the nine valid bags', () => {
    expect(cases('valid')).toEqual([
      'ISO-8859-1-encodedBag',
      'bag-with-leading-dot-slash-in-manifest',
      'md5Bag',
      'sha1Bag',
      'sha224Bag',
      'sha256Bag',
      'sha512Bag',
      'v0_97-bag',
      'v1_0-bag',
    ]);
  });

  it('checks md5, sha1, sha224, sha256 and sha512 manifests and tag manifests', async () => {
    for (const algorithm of ['md5', 'sha1', 'sha224', 'sha256', 'sha512']) {
      const r = await validateBag(path.join(SUITE, 'valid', `${algorithm}Bag`));
      expect(r.algorithms).toEqual([algorithm]);
      expect(r.tagAlgorithms).toEqual([algorithm]);
    }
  });

  it('reads each bag as the version and encoding its bagit.txt declares', async () => {
    expect((await validateBag(path.join(SUITE, 'valid', 'v1_0-bag'))).version).toBe('1.0');
    expect((await validateBag(path.join(SUITE, 'valid', 'v0_97-bag'))).version).toBe('0.97');
    const iso = await validateBag(path.join(SUITE, 'valid', 'ISO-8859-1-encodedBag'));
    expect(iso.encoding).toBe('ISO-8859-1');
    expect(iso.info).toContainEqual(['Contact-Name', 'Chris Adams']);
  });

  it('v0_97-bag: CRLF tag files, a tag file in a tag folder, a folded and a repeated bag-info.txt label', async () => {
    const r = await validateBag(path.join(SUITE, 'valid', 'v0_97-bag'));
    expect(r.payloadFiles).toBe(5);
    expect(r.info).toContainEqual(['External-Description', 'Uncompressed greyscale TIFF images from the Yoshimuri papers collection.']);
    expect(r.info.filter(([label]) => label === 'Internal-Sender-Description')).toHaveLength(2);
  });
});

const DOT_BAGIT: Rule[] = [
  { kind: 'declaration', file: 'bagit.txt', message: /missing: every bag starts with bagit\.txt/ },
  { kind: 'structure', file: 'data/', message: /payload directory data\/ is required/ },
  { kind: 'structure', file: 'manifest-<algorithm>.txt', message: /no payload manifest/ },
];

/** Why each invalid bag must fail: the rules this validator names for it (see the README). */
const RULES: Record<string, Rule[]> = {
  // bagit-java: FileNotInManifestException. RFC 8493 3: every payload file in every payload manifest.
  notAllFilesListedInAllManifestsBag: [{ kind: 'extra', file: 'data/ham', message: /not listed in manifest-sha256\.txt/ }],
  // bagit-java: FileNotInPayloadDirectoryException (a fetch.txt item not there). The repository holds
  // no data/ folder for it (git keeps no empty folder), which RFC 8493 2.1.2 names as well.
  'bad-fetch-bag': [
    { kind: 'incomplete', file: 'data/wikipedia.png', message: /listed in fetch\.txt/ },
    { kind: 'structure', file: 'data/', message: /payload directory data\/ is required/ },
  ],
  // bagit-java: valid (its reading of a proposed layout: tag files in .bagit/, payload at the top).
  // RFC 8493 2.1 knows no such bag: no bagit.txt, no data/, no payload manifest at the top.
  'v0_98-bag': DOT_BAGIT,
  'v2_0-bag': DOT_BAGIT,
};

describe('bagit-java test bags: invalid bags', () => {
  it.each(cases('invalid'))('%s is rejected with the rule named', async (bag) => {
    const rules = RULES[bag];
    expect(rules, `no rule known for ${bag}`).toBeDefined();
    const dir = path.join(SUITE, 'invalid', bag);
    const report = await validateBag(dir);
    expect(report.valid).toBe(false);
    expectProblems(report.problems, rules!);
    expect((await verifyBundle(dir)).valid).toBe(false);
  });

  it('has the four invalid bags', () => {
    expect(cases('invalid')).toEqual(['bad-fetch-bag', 'notAllFilesListedInAllManifestsBag', 'v0_98-bag', 'v2_0-bag']);
  });
});

// ------------------------------------------------------------------------------------------------
// Single tag files: each is put into a copy of the valid md5Bag, which is otherwise left valid, so
// the bag fails for that file alone.

const TAGS = path.join(SUITE, 'tag-files');
const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

/** A copy of a valid bag of the suite, changed by `edit`. */
function validBagWith(bag: string, edit: (dir: string) => void): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'forklift-bagit-java-'));
  scratch.push(dir);
  cpSync(path.join(SUITE, 'valid', bag), dir, { recursive: true });
  edit(dir);
  return dir;
}
const md5BagWith = (edit: (dir: string) => void): string => validBagWith('md5Bag', edit);

/** The payload manifest of md5Bag as manifest-sha256.txt, so manifest-md5.txt is free for the case. */
function withManifest(file: string): string {
  return md5BagWith((dir) => {
    const readme = readFileSync(path.join(dir, 'data', 'readme.txt'));
    writeFileSync(path.join(dir, 'manifest-sha256.txt'), `${createHash('sha256').update(readme).digest('hex')}  data/readme.txt\n`);
    cpSync(path.join(TAGS, 'maliciousManifestFile', file), path.join(dir, 'manifest-md5.txt'));
    // tagmanifest-md5.txt protects the manifest the case replaces.
    rmSync(path.join(dir, 'tagmanifest-md5.txt'));
  });
}

const MANIFEST_RULES: Record<string, Rule> = {
  // bagit-java: MaliciousPathException for each. RFC 8493 2.1.3: a manifest names files of the bag,
  // by a path relative to the bag folder, payload files under data/.
  'manifest-md5.txt': { kind: 'unsafe-path', file: '../data/dir1/test3.txt', message: /'\.\.' segment leads outside the bag/ },
  // Read by the RFC a relative path (folder `file:`), not a URL: outside data/, so not a payload file.
  'fileUrl.txt': { kind: 'misplaced', file: 'file:///foo/bar/ham.txt', message: /not in the payload directory data\// },
  // `~` is a folder name to the RFC, not a home directory: outside data/ again.
  'tildeReference.txt': { kind: 'misplaced', file: '~/foo/bar/ham.txt', message: /not in the payload directory data\// },
  'windowsSpecialDirectoryName.txt': { kind: 'unsafe-path', file: '\\\\?\\C:\\foo\\bar\\ham.txt', message: /absolute path/ },
};

describe('bagit-java test files: malicious manifests', () => {
  it.each(Object.keys(MANIFEST_RULES))('maliciousManifestFile/%s is rejected with the rule named', async (file) => {
    const report = await validateBag(withManifest(file));
    expectProblems(report.problems, [MANIFEST_RULES[file]!]);
  });

  it('has a rule for every file of the folder', () => {
    expect(readdirSync(path.join(TAGS, 'maliciousManifestFile')).sort()).toEqual(Object.keys(MANIFEST_RULES).sort());
  });

  it('the copy of md5Bag they are put in is valid without them', async () => {
    const dir = withManifest('manifest-md5.txt');
    rmSync(path.join(dir, 'manifest-md5.txt'));
    expect((await validateBag(dir)).problems).toEqual([]);
  });
});

const FETCH_RULES: Record<string, Rule> = {
  // bagit-java: MaliciousPathException for each. RFC 8493 2.2.3: fetch.txt lists payload files, by
  // a path relative to the bag folder.
  'fileUrl.txt': { kind: 'misplaced', file: 'file:///foo/bar/ham.txt', message: /outside data\// },
  'tildeReference.txt': { kind: 'misplaced', file: '~/foo/bar/ham.txt', message: /outside data\// },
  'upAdirectoryReference.txt': { kind: 'unsafe-path', file: '../foo/bar/ham.txt', message: /'\.\.' segment leads outside the bag/ },
  'windowsSpecialDirectoryName.txt': { kind: 'unsafe-path', file: '\\\\?\\C:\\data\\dir1\\test3.txt', message: /absolute path/ },
};

describe('bagit-java test files: malicious fetch.txt', () => {
  it.each(Object.keys(FETCH_RULES))('maliciousFetchFile/%s is rejected with the rule named', async (file) => {
    const dir = md5BagWith((d) => cpSync(path.join(TAGS, 'maliciousFetchFile', file), path.join(d, 'fetch.txt')));
    const report = await validateBag(dir);
    expectProblems(report.problems, [FETCH_RULES[file]!]);
    expect(report.fetch).toEqual([]);
  });

  it('has a rule for every file of the folder', () => {
    expect(readdirSync(path.join(TAGS, 'maliciousFetchFile')).sort()).toEqual(Object.keys(FETCH_RULES).sort());
  });
});

const BAG_INFO_RULES: Record<string, Rule> = {
  // bagit-java: InvalidBagMetadataException for both. RFC 8493 2.2.2: `Label: value` lines, a
  // continuation line starting with blank space.
  'badIndent.txt': { kind: 'syntax', file: 'bag-info.txt', message: /^line 2: not 'Label: value'/ },
  'badKeyValueSeparator.txt': { kind: 'syntax', file: 'bag-info.txt', message: /^line 1: not 'Label: value'/ },
};

describe('bagit-java test files: bad bag-info.txt', () => {
  it.each(Object.keys(BAG_INFO_RULES))('badBagMetadata/%s is rejected with the rule named', async (file) => {
    const dir = md5BagWith((d) => {
      cpSync(path.join(TAGS, 'badBagMetadata', file), path.join(d, 'bag-info.txt'));
      rmSync(path.join(d, 'tagmanifest-md5.txt'));
    });
    const report = await validateBag(dir);
    expectProblems(report.problems, [BAG_INFO_RULES[file]!]);
  });

  it('has a rule for every file of the folder', () => {
    expect(readdirSync(path.join(TAGS, 'badBagMetadata')).sort()).toEqual(Object.keys(BAG_INFO_RULES).sort());
  });
});

// bagit-java's FetchReaderTest reads these three files; they list the payload of bags/v0_97/bag
// (plus `data/test 1.txt`), so they go into a copy of v0_97-bag as its fetch.txt. That bag's
// manifest does not list `data/test 1.txt`, which RFC 8493 2.2.3 requires of a fetch.txt entry:
// that one problem comes from the pairing, the rest from the file.
const TEST_1: Rule = { kind: 'misplaced', file: 'data/test 1.txt', message: /^listed in fetch\.txt but not in manifest-md5\.txt$/ };
const FETCHED = ['data/dir1/test3.txt', 'data/dir2/dir3/test5.txt', 'data/dir2/test4.txt', 'data/test 1.txt', 'data/test2.txt'];

describe('bagit-java test files: fetch.txt', () => {
  const withFetch = (file: string): string =>
    validBagWith('v0_97-bag', (d) => cpSync(path.join(TAGS, 'fetchFiles', file), path.join(d, 'fetch.txt')));

  it('fetchWithNoSizeSpecified.txt: five entries of unknown length', async () => {
    const report = await validateBag(withFetch('fetchWithNoSizeSpecified.txt'));
    expectProblems(report.problems, [TEST_1]);
    expect(report.fetch.map((f) => f.path)).toEqual(FETCHED);
    expect(report.fetch.map((f) => f.length)).toEqual([null, null, null, null, null]);
    expect(report.fetch[3]?.url).toBe('http://localhost/foo/data/test%201.txt');
  });

  it('fetchWithSizeSpecified.txt: five entries with their lengths', async () => {
    const report = await validateBag(withFetch('fetchWithSizeSpecified.txt'));
    expectProblems(report.problems, [TEST_1]);
    expect(report.fetch.map((f) => [f.path, f.length])).toEqual(FETCHED.map((p, i) => [p, i + 1]));
  });

  it('fetchWithBlankLines.txt: rejected for its two blank lines (bagit-java: InvalidBagitFileFormatException)', async () => {
    const report = await validateBag(withFetch('fetchWithBlankLines.txt'));
    expect(report.problems.filter((p) => p.kind === 'syntax').map((p) => [p.file, p.message])).toEqual([
      ['fetch.txt', `line 6: expected '<url> <length> <path>', found " "`],
      ['fetch.txt', `line 7: expected '<url> <length> <path>', found " "`],
    ]);
    expect(report.problems.filter((p) => p.kind !== 'syntax')).toEqual([expect.objectContaining({ kind: TEST_1.kind, file: TEST_1.file })]);
    expect(report.fetch).toHaveLength(5);
  });

  it('has a case for every file of the folder', () => {
    expect(readdirSync(path.join(TAGS, 'fetchFiles')).sort()).toEqual(['fetchWithBlankLines.txt', 'fetchWithNoSizeSpecified.txt', 'fetchWithSizeSpecified.txt']);
  });
});
