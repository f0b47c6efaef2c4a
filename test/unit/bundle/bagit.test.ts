import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkBagRelPath,
  decodeBagPath,
  encodeBagPath,
  formatBagInfo,
  formatBagProblem,
  parseBagInfo,
  resolveBagPath,
  safeBagPath,
  validateBag,
  writeBagTags,
  writeTagManifest,
  type BagProblem,
  type BagProgress,
} from '../../../src/bundle/bagit.js';
import { BugError, ConfigError } from '../../../src/core/errors.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'forklift-bagit-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
/** A fresh folder inside the scratch folder (so a path can lead "outside the bag" and stay ours). */
function tmp(): string {
  const dir = path.join(scratch, `t${++n}`);
  mkdirSync(dir);
  return dir;
}

const hash = (algorithm: string, data: string | Buffer): string => createHash(algorithm).update(data).digest('hex');
const read = (dir: string, rel: string): string => readFileSync(path.join(dir, rel), 'utf8');

function put(dir: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, ...rel.split('/'));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
}

function mkfifo(file: string): void {
  execFileSync('mkfifo', [file]);
}

const ITEMS = 'sku,name\nA1,Schraube M6\nA2,Mutter M6\n';
const PAYLOAD = {
  'data/csv/items.csv': ITEMS,
  'data/csv/boms.csv': 'parent,child\nA1,A2\n',
  'data/datapackage.json': '{"resources":[]}\n',
};

async function ourBag(files: Record<string, string | Buffer> = PAYLOAD): Promise<string> {
  const dir = tmp();
  put(dir, files);
  await writeBagTags(dir, { fields: [['Source-Organization', 'Acme GmbH']] }, { now: new Date('2026-11-22T10:00:00Z') });
  return dir;
}

const kinds = (problems: BagProblem[]): string[] => problems.map((p) => p.kind);
const texts = (problems: BagProblem[]): string[] => problems.map(formatBagProblem);

describe('writeBagTags', () => {
  it('writes bagit.txt, a byte-ordered manifest, bag-info.txt and a tag manifest over every tag file', async () => {
    const dir = tmp();
    const files = {
      'data/b.csv': 'b',
      'data/B.csv': 'B',
      'data/ä.csv': 'a-umlaut',
      'data/z/x.csv': 'zx',
      'data/😀.csv': 'emoji',
      'data/\uff5e.csv': 'fullwidth tilde, above U+FFFF in UTF-16 order but below the emoji in bytes',
      'data/a b.csv': 'space',
    };
    put(dir, files);
    put(dir, { 'forklift/notes.txt': 'a tag folder' });
    const bag = await writeBagTags(dir, { fields: [['Source-Organization', 'Acme GmbH'], ['Forklift-Ledger-Head', 'ab'.repeat(32)]] }, { now: new Date('2026-11-22T23:30:00Z') });

    expect(read(dir, 'bagit.txt')).toBe('BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n');
    const manifest = read(dir, 'manifest-sha256.txt');
    const lines = manifest.trimEnd().split('\n');
    const paths = lines.map((l) => l.slice(66));
    expect(paths).toEqual(Object.keys(files).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    expect(paths[0]).toBe('data/B.csv');
    expect(paths.indexOf('data/\uff5e.csv')).toBeLessThan(paths.indexOf('data/😀.csv'));
    for (const line of lines) {
      const [sum, rel] = [line.slice(0, 64), line.slice(66)];
      expect(line[64] + (line[65] ?? '')).toBe('  ');
      expect(sum).toBe(hash('sha256', files[rel as keyof typeof files]));
    }
    expect(read(dir, 'bag-info.txt')).toBe(
      `Source-Organization: Acme GmbH\nForklift-Ledger-Head: ${'ab'.repeat(32)}\nPayload-Oxum: ${bag.payloadBytes}.7\nBagging-Date: 2026-11-22\n`,
    );
    expect(bag.payloadFiles).toBe(7);
    expect(bag.payloadBytes).toBe(Object.values(files).reduce((s, v) => s + Buffer.byteLength(v), 0));
    expect(bag.payloadOxum).toBe(`${bag.payloadBytes}.7`);
    expect(bag.manifestSha256).toBe(hash('sha256', manifest));

    const tagManifest = read(dir, 'tagmanifest-sha256.txt');
    expect(bag.tagManifestSha256).toBe(hash('sha256', tagManifest));
    expect(tagManifest).toBe(
      ['bag-info.txt', 'bagit.txt', 'forklift/notes.txt', 'manifest-sha256.txt'].map((f) => `${hash('sha256', readFileSync(path.join(dir, f)))}  ${f}\n`).join(''),
    );
    const report = await validateBag(dir);
    expect(report.problems).toEqual([]);
    expect(report.warnings).toEqual([]);
    expect(report).toMatchObject({ valid: true, complete: true, version: '1.0', encoding: 'UTF-8', payloadFiles: 7, algorithms: ['sha256'], tagAlgorithms: ['sha256'], fetch: [] });
    expect(report.info).toEqual([
      ['Source-Organization', 'Acme GmbH'],
      ['Forklift-Ledger-Head', 'ab'.repeat(32)],
      ['Payload-Oxum', bag.payloadOxum],
      ['Bagging-Date', '2026-11-22'],
    ]);
  });

  it('gives a byte-identical manifest for the same payload, whatever the order and times it was written in', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `data/t${(i * 7919) % 40}/f-${i}.csv`);
    const one = tmp();
    const two = tmp();
    for (const name of names) put(one, { [name]: `content of ${name}` });
    for (const name of [...names].reverse()) put(two, { [name]: `content of ${name}` });
    for (const name of names) utimesSync(path.join(two, name), new Date('2001-01-01'), new Date('2001-01-01'));
    const a = await writeBagTags(one, { fields: [] }, { now: new Date('2026-01-01') });
    const b = await writeBagTags(two, { fields: [] }, { now: new Date('2027-06-30') });
    expect(readFileSync(path.join(two, 'manifest-sha256.txt'))).toEqual(readFileSync(path.join(one, 'manifest-sha256.txt')));
    expect(b.manifestSha256).toBe(a.manifestSha256);
  });

  it('takes precomputed checksums without reading those files again, and hashes the rest', async () => {
    const dir = tmp();
    put(dir, { 'data/a.csv': 'aaa', 'data/b.csv': 'bbbb' });
    // Not a's real checksum: if writeBagTags read a.csv it would write the real one.
    const given = 'f'.repeat(64);
    const payload = new Map([['data/a.csv', { sha256: given.toUpperCase(), bytes: 3 }]]);
    await writeBagTags(dir, { fields: [] }, { payload });
    expect(read(dir, 'manifest-sha256.txt')).toBe(`${given}  data/a.csv\n${hash('sha256', 'bbbb')}  data/b.csv\n`);
    const report = await validateBag(dir);
    expect(texts(report.problems)).toEqual([`data/a.csv: sha256 mismatch (manifest ffffffffffff…, file ${hash('sha256', 'aaa').slice(0, 12)}…)`]);
  });

  it('refuses precomputed checksums that do not describe the payload: a BugError, the exporter miscounted', async () => {
    const dir = tmp();
    put(dir, { 'data/a.csv': 'aaa' });
    await expect(writeBagTags(dir, { fields: [] }, { payload: new Map([['data/a.csv', { sha256: hash('sha256', 'aaa'), bytes: 4 }]]) })).rejects.toThrow(BugError);
    await expect(writeBagTags(dir, { fields: [] }, { payload: new Map([['data/gone.csv', { sha256: hash('sha256', 'x'), bytes: 1 }]]) })).rejects.toThrow(/not a payload file/);
    await expect(writeBagTags(dir, { fields: [['Payload-Oxum', '1.1']] })).rejects.toThrow(/computed/);
    await expect(writeBagTags(tmp(), { fields: [] })).rejects.toThrow(/no data\/ folder/);
  });

  it('percent-encodes CR, LF and % in manifest paths, and reads them back', async () => {
    const dir = tmp();
    put(dir, { 'data/odd\nname\r%20.csv': 'odd', 'data/plain.csv': 'plain' });
    await writeBagTags(dir, { fields: [] });
    expect(read(dir, 'manifest-sha256.txt')).toContain(`${hash('sha256', 'odd')}  data/odd%0Aname%0D%2520.csv\n`);
    const report = await validateBag(dir);
    expect(report.problems).toEqual([]);
    expect(report.payloadFiles).toBe(2);
  });

  it('lists a tag file added later (exit-certificate.json) when the tag manifest is rewritten', async () => {
    const dir = await ourBag();
    put(dir, { 'exit-certificate.json': '{"ok":true}\n' });
    const before = await validateBag(dir);
    expect(before.valid).toBe(true);
    expect(texts(before.warnings)).toEqual(['exit-certificate.json: a tag file no tag manifest lists; its content is not protected']);
    const tag = await writeTagManifest(dir);
    expect(tag.files).toBe(4);
    expect(read(dir, 'tagmanifest-sha256.txt')).toContain(`${hash('sha256', '{"ok":true}\n')}  exit-certificate.json\n`);
    const after = await validateBag(dir);
    expect(after).toMatchObject({ valid: true, warnings: [] });
    writeFileSync(path.join(dir, 'exit-certificate.json'), '{"ok":false}\n');
    expect(texts((await validateBag(dir)).problems)).toEqual([
      `exit-certificate.json: sha256 mismatch (manifest ${hash('sha256', '{"ok":true}\n').slice(0, 12)}…, file ${hash('sha256', '{"ok":false}\n').slice(0, 12)}…)`,
    ]);
  });

  it('reports progress as it hashes', async () => {
    const dir = tmp();
    put(dir, { 'data/a.csv': 'a', 'data/b.csv': 'bb' });
    const seen: BagProgress[] = [];
    await writeBagTags(dir, { fields: [] }, { onProgress: (p) => seen.push(p) });
    expect(seen.at(-1)).toEqual({ phase: 'hash', filesDone: 2, filesTotal: 2, bytesDone: 3, bytesTotal: 3 });
  });
});

describe('bag-info.txt', () => {
  it('folds long values at single spaces into lines of at most 79 characters, and unfolds them', () => {
    const long = 'Exported from postgres://erp.acme.example/production by forklift for the contract end of 2026, every table with its schema, keys and row counts';
    const text = formatBagInfo([['External-Description', long], ['Short', 'x']]);
    const lines = text.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(2);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(79);
    expect(lines.slice(1, -1).every((l) => l.startsWith('  '))).toBe(true);
    expect(parseBagInfo(text)).toEqual({ fields: [['External-Description', long], ['Short', 'x']], problems: [], warnings: [] });
  });

  it('leaves a value with no place to fold on one line rather than change it', () => {
    const url = `https://example.com/${'x'.repeat(120)}`;
    expect(formatBagInfo([['Source', url]])).toBe(`Source: ${url}\n`);
  });

  it('round-trips any value: fold then unfold gives it back', () => {
    const value = fc.string({ unit: fc.constantFrom('a', 'b', ' ', '\t', 'é', '😀', ':', '-'), maxLength: 300 }).map((s) => s.trim());
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('A', 'Long-Label-Name', 'X-Y'), value), { maxLength: 5 }), (fields) => {
        expect(parseBagInfo(formatBagInfo(fields)).fields).toEqual(fields);
      }),
    );
  });

  it('refuses labels and values it cannot write', () => {
    expect(() => formatBagInfo([['A:B', 'x']])).toThrow(BugError);
    expect(() => formatBagInfo([[' A', 'x']])).toThrow(BugError);
    expect(() => formatBagInfo([['A', 'x\ny']])).toThrow(BugError);
  });

  it('joins continuation lines (space or tab, any line ending) and reports lines that are not Label: value', () => {
    const parsed = parseBagInfo('Contact-Name: Ada\r\nExternal-Description: first part\r\n  second part\r\n\tthird\r\n\r\nno colon here\n  \nInternal-Sender-Identifier:\n   on the next line\n');
    expect(parsed.fields).toEqual([
      ['Contact-Name', 'Ada'],
      ['External-Description', 'first part second part third'],
      ['Internal-Sender-Identifier', 'on the next line'],
    ]);
    expect(parsed.problems).toEqual([{ line: 6, message: `not 'Label: value': "no colon here"` }]);
    expect(parseBagInfo('  orphan\n').problems).toEqual([{ line: 1, message: 'a continuation line with no label above it' }]);
  });
});

describe('paths', () => {
  it('percent-decodes only %0A, %0D and %25, in either case', () => {
    expect(decodeBagPath('data/a%0ab%0D%25%20%41.csv')).toBe('data/a\nb\r%%20%41.csv');
    expect(encodeBagPath('data/a\nb\r%%20.csv')).toBe('data/a%0Ab%0D%25%2520.csv');
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('%', '\r', '\n', '0', 'A', 'a', 'D', '2', '5', 'x') }), (s) => {
        expect(decodeBagPath(encodeBagPath(s))).toBe(s);
      }),
    );
  });

  it('refuses, without touching the disk, every way out of the bag', () => {
    for (const [rel, why] of [
      ['../x', "a '..' segment leads outside the bag"],
      ['data/../../x', "a '..' segment leads outside the bag"],
      ['data\\..\\..\\x', "a '..' segment leads outside the bag"],
      ['data/..\\..\\x', "a '..' segment leads outside the bag"],
      ['data/../bagit.txt', "a '..' segment; a bag path names its file directly"],
      ['/etc/passwd', 'an absolute path leads outside the bag'],
      ['\\\\server\\share\\x', 'an absolute path leads outside the bag'],
      ['C:/Windows/x', 'a drive letter makes the path absolute, outside the bag'],
      ['c:x', 'a drive letter makes the path absolute, outside the bag'],
      ['data/a\0b', 'a NUL character in the path'],
      ['', 'an empty path'],
      ['./.', 'a path naming the bag folder itself'],
    ] as const) {
      expect(checkBagRelPath(rel), rel).toEqual({ ok: false, problem: why });
    }
    expect(checkBagRelPath('./data//csv/./a.csv')).toEqual({ ok: true, rel: 'data/csv/a.csv' });
    expect(checkBagRelPath('data/a\\b.csv')).toEqual({ ok: true, rel: 'data/a\\b.csv' });
  });

  it('resolves symbolic links and refuses one that leads outside, or dangles', () => {
    const root = tmp();
    const bag = path.join(root, 'bag');
    put(bag, { 'data/real.csv': 'x' });
    put(root, { 'secret.txt': 'secret' });
    symlinkSync(path.join(root, 'secret.txt'), path.join(bag, 'data', 'out.csv'));
    symlinkSync(root, path.join(bag, 'data', 'outdir'));
    symlinkSync('real.csv', path.join(bag, 'data', 'in.csv'));
    symlinkSync('/nonexistent/evil', path.join(bag, 'data', 'dangling'));
    const real = path.join(realpathSync(bag), 'data', 'real.csv');
    expect(resolveBagPath(bag, 'data/real.csv')).toEqual({ ok: true, rel: 'data/real.csv', path: real });
    expect(resolveBagPath(bag, 'data/in.csv')).toEqual({ ok: true, rel: 'data/in.csv', path: real });
    expect(resolveBagPath(bag, 'data/out.csv')).toMatchObject({ ok: false, problem: 'a symbolic link leads outside the bag' });
    expect(resolveBagPath(bag, 'data/outdir/secret.txt')).toMatchObject({ ok: false, problem: 'a symbolic link leads outside the bag' });
    expect(resolveBagPath(bag, 'data/outdir/not-there/x')).toMatchObject({ ok: false, problem: 'a symbolic link leads outside the bag' });
    expect(resolveBagPath(bag, 'data/dangling')).toMatchObject({ ok: false, problem: 'a dangling symbolic link on the way' });
    expect(resolveBagPath(bag, 'data/dangling/x')).toMatchObject({ ok: false, problem: 'a dangling symbolic link on the way' });
    expect(resolveBagPath(bag, '../secret.txt')).toMatchObject({ ok: false, problem: "a '..' segment leads outside the bag" });
    // Not there yet: resolved through the nearest existing folder, safe to create.
    expect(resolveBagPath(bag, 'data/new/x%25.csv')).toEqual({ ok: true, rel: 'data/new/x%.csv', path: path.join(realpathSync(bag), 'data', 'new', 'x%.csv') });
    expect(safeBagPath(bag, 'data/new/x%25.csv', { encoded: false })).toBe(path.join(realpathSync(bag), 'data', 'new', 'x%25.csv'));
    expect(safeBagPath(bag, 'data/out.csv')).toBeNull();
  });
});

describe('validateBag: what it catches', () => {
  it('names a changed file with both checksums', async () => {
    const dir = await ourBag();
    writeFileSync(path.join(dir, 'data/csv/items.csv'), ITEMS.replace('A2', 'A3'));
    const report = await validateBag(dir);
    const expected = hash('sha256', ITEMS);
    const actual = hash('sha256', ITEMS.replace('A2', 'A3'));
    expect(report.valid).toBe(false);
    expect(report.complete).toBe(true);
    expect(report.problems).toEqual([
      { kind: 'mismatch', file: 'data/csv/items.csv', message: `sha256 mismatch (manifest ${expected.slice(0, 12)}…, file ${actual.slice(0, 12)}…)`, expected, actual },
    ]);
  });

  it('payloadHashed (exit\'s last look): payload files are not re-read, tag files and every other rule still are', async () => {
    const dir = await ourBag();
    // The same length, another byte: only a checksum could tell.
    writeFileSync(path.join(dir, 'data/csv/items.csv'), ITEMS.replace('A2', 'A3'));
    expect(kinds((await validateBag(dir, { payloadHashed: true })).problems)).toEqual([]);
    writeFileSync(path.join(dir, 'bag-info.txt'), read(dir, 'bag-info.txt').replace('Acme', 'Acne'));
    put(dir, { 'data/csv/stray.csv': 'stray' });
    expect(texts((await validateBag(dir, { payloadHashed: true })).problems)).toEqual([
      'data/csv/stray.csv: not listed in any payload manifest',
      expect.stringMatching(/^bag-info.txt: Payload-Oxum .* does not match the payload/),
      expect.stringMatching(/^bag-info.txt: sha256 mismatch/),
    ]);
    expect(kinds((await validateBag(dir)).problems)).toContain('mismatch');
  });

  it('reports a missing file, an extra file and the Payload-Oxum that no longer matches', async () => {
    const dir = await ourBag();
    rmSync(path.join(dir, 'data/csv/boms.csv'));
    put(dir, { 'data/csv/stray.csv': 'stray' });
    const report = await validateBag(dir);
    const oxum = report.info.find(([k]) => k === 'Payload-Oxum')?.[1];
    expect(texts(report.problems)).toEqual([
      'data/csv/boms.csv: missing (listed in manifest-sha256.txt)',
      'data/csv/stray.csv: not listed in any payload manifest',
      `bag-info.txt: Payload-Oxum ${oxum} does not match the payload: ${report.payloadBytes}.3 (${report.payloadBytes} bytes in 3 files)`,
    ]);
    expect(report).toMatchObject({ valid: false, complete: false });
  });

  it('never reads a manifest path that leads outside the bag, and says so', async () => {
    const root = tmp();
    const dir = path.join(root, 'bag');
    mkdirSync(dir);
    put(dir, PAYLOAD);
    await writeBagTags(dir, { fields: [] });
    // A FIFO outside the bag: opening it for reading would block the validator forever.
    mkfifo(path.join(root, 'fifo'));
    const z = '0'.repeat(64);
    const extra = ['../fifo', 'data/../../fifo', 'data\\..\\..\\fifo', '/etc/passwd', 'C:/fifo', 'bagit.txt', 'data/../data/csv/items.csv'].map((p) => `${z}  ${p}\n`).join('');
    writeFileSync(path.join(dir, 'manifest-sha256.txt'), read(dir, 'manifest-sha256.txt') + extra);
    symlinkSync(path.join(root, 'fifo'), path.join(dir, 'data', 'link.csv'));
    await writeTagManifest(dir);
    const report = await validateBag(dir);
    expect(texts(report.problems)).toEqual([
      'data/link.csv: a symbolic link leading outside the bag; not read',
      "../fifo: a '..' segment leads outside the bag (manifest-sha256.txt line 4); not read",
      "data/../../fifo: a '..' segment leads outside the bag (manifest-sha256.txt line 5); not read",
      "data\\..\\..\\fifo: a '..' segment leads outside the bag (manifest-sha256.txt line 6); not read",
      '/etc/passwd: an absolute path leads outside the bag (manifest-sha256.txt line 7); not read',
      'C:/fifo: a drive letter makes the path absolute, outside the bag (manifest-sha256.txt line 8); not read',
      'bagit.txt: not in the payload directory data/, yet listed in payload manifest manifest-sha256.txt line 9',
      "data/../data/csv/items.csv: a '..' segment; a bag path names its file directly (manifest-sha256.txt line 10); not read",
    ]);
    expect(kinds(report.problems)).toEqual(['unsafe-path', 'unsafe-path', 'unsafe-path', 'unsafe-path', 'unsafe-path', 'unsafe-path', 'misplaced', 'unsafe-path']);
  });

  it('never opens a FIFO, device or socket inside the bag, and does not follow a link to a folder', async () => {
    const dir = await ourBag();
    mkfifo(path.join(dir, 'data', 'pipe.csv'));
    symlinkSync('csv', path.join(dir, 'data', 'csv-link'));
    const lines = `${'0'.repeat(64)}  data/pipe.csv\n${'0'.repeat(64)}  data/csv-link/items.csv\n`;
    writeFileSync(path.join(dir, 'manifest-sha256.txt'), read(dir, 'manifest-sha256.txt') + lines);
    await writeTagManifest(dir);
    const report = await validateBag(dir);
    expect(texts(report.problems)).toEqual([
      'data/csv-link: a symbolic link to a directory; not followed',
      'data/pipe.csv: not a regular file (a FIFO, socket or device); not read',
    ]);
  });

  it('follows a symbolic link to a file inside the bag', async () => {
    const dir = tmp();
    put(dir, { 'data/real.csv': 'x' });
    symlinkSync('real.csv', path.join(dir, 'data', 'alias.csv'));
    writeFileSync(path.join(dir, 'bagit.txt'), 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n');
    writeFileSync(path.join(dir, 'manifest-sha256.txt'), `${hash('sha256', 'x')}  data/alias.csv\n${hash('sha256', 'x')}  data/real.csv\n`);
    expect(await validateBag(dir)).toMatchObject({ valid: true, payloadFiles: 2, payloadBytes: 2 });
  });

  it('reports a file listed twice in one manifest', async () => {
    const dir = await ourBag();
    const manifest = read(dir, 'manifest-sha256.txt');
    writeFileSync(path.join(dir, 'manifest-sha256.txt'), manifest + manifest.split('\n')[0] + '\n');
    await writeTagManifest(dir);
    expect(texts((await validateBag(dir)).problems)).toEqual(['data/csv/boms.csv: listed twice in manifest-sha256.txt (lines 1 and 4)']);
  });

  it('checks bagit.txt: a byte-order mark, an unknown version, a missing declaration, a malformed one', async () => {
    const dir = await ourBag();
    writeFileSync(path.join(dir, 'bagit.txt'), '\ufeffBagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n');
    expect(texts((await validateBag(dir)).problems)).toEqual([
      'bagit.txt: starts with a byte-order mark, which RFC 8493 2.1.1 forbids',
      expect.stringMatching(/^bagit.txt: sha256 mismatch/),
    ]);

    writeFileSync(path.join(dir, 'bagit.txt'), 'BagIt-Version: 0.96\nTag-File-Character-Encoding: UTF-8\n');
    await writeTagManifest(dir);
    const old = await validateBag(dir);
    expect(texts(old.problems)).toEqual(['bagit.txt: unknown BagIt version 0.96 (this validator knows 0.97 and 1.0)']);
    expect(old.version).toBe('0.96');

    writeFileSync(path.join(dir, 'bagit.txt'), 'BagIt-Version: 0.97\r\nTag-File-Character-Encoding: UTF-8\r\n');
    await writeTagManifest(dir);
    expect(await validateBag(dir)).toMatchObject({ valid: true, version: '0.97' });

    writeFileSync(path.join(dir, 'bagit.txt'), 'Tag-File-Character-Encoding: UTF-8\nBagIt-Version: 1.0\nExtra: line\n');
    await writeTagManifest(dir);
    expect(texts((await validateBag(dir)).problems)).toEqual([
      `bagit.txt: line 1 must be 'BagIt-Version: M.N', found "Tag-File-Character-Encoding: UTF-8"`,
      `bagit.txt: line 2 must be 'Tag-File-Character-Encoding: ENCODING', found "BagIt-Version: 1.0"`,
      'bagit.txt: 3 lines; a bag declaration has exactly two',
    ]);

    rmSync(path.join(dir, 'bagit.txt'));
    await writeTagManifest(dir);
    const none = await validateBag(dir);
    expect(texts(none.problems)).toEqual(['bagit.txt: missing: every bag starts with bagit.txt (RFC 8493 2.1.1)']);
    expect(none).toMatchObject({ valid: false, complete: false });
  });

  it('needs a data/ folder and a payload manifest', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'bagit.txt'), 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n');
    expect(texts((await validateBag(dir)).problems)).toEqual([
      'data/: missing: the payload directory data/ is required (RFC 8493 2.1.2)',
      'manifest-<algorithm>.txt: no payload manifest: a bag needs at least one (RFC 8493 2.1.3)',
    ]);
    put(dir, { 'data/a.csv': 'a' });
    expect(texts((await validateBag(dir)).problems)).toEqual(['manifest-<algorithm>.txt: no payload manifest: a bag needs at least one (RFC 8493 2.1.3)']);
  });

  it('reports malformed manifest lines and checksums of the wrong length', async () => {
    const dir = await ourBag();
    writeFileSync(path.join(dir, 'manifest-sha256.txt'), `${read(dir, 'manifest-sha256.txt')}just-one-field\n${'a'.repeat(40)}  data/csv/items.csv\n`);
    await writeTagManifest(dir);
    expect(texts((await validateBag(dir)).problems)).toEqual([
      `manifest-sha256.txt: line 4: expected '<checksum> <path>', found "just-one-field"`,
      `manifest-sha256.txt: line 5: "${'a'.repeat(40)}" is not a sha256 checksum (64 hex digits)`,
    ]);
  });

  it('reports a manifest of an algorithm it does not know, and still checks what it lists', async () => {
    const dir = await ourBag();
    writeFileSync(path.join(dir, 'manifest-blake3.txt'), `${'0'.repeat(64)}  data/csv/items.csv\n`);
    const report = await validateBag(dir);
    expect(texts(report.problems)).toEqual([
      'manifest-blake3.txt: cannot be checked: blake3 is not an algorithm this validator knows (md5, sha1, sha224, sha256, sha384, sha512)',
      'data/csv/boms.csv: not listed in manifest-blake3.txt (BagIt 1.0: every payload manifest lists every payload file)',
      'data/datapackage.json: not listed in manifest-blake3.txt (BagIt 1.0: every payload manifest lists every payload file)',
    ]);
    expect(report.algorithms).toEqual(['blake3', 'sha256']);
  });

  it('reports a payload file in a tag manifest', async () => {
    const dir = await ourBag();
    writeFileSync(path.join(dir, 'tagmanifest-sha256.txt'), `${read(dir, 'tagmanifest-sha256.txt')}${hash('sha256', ITEMS)}  data/csv/items.csv\n`);
    expect(texts((await validateBag(dir)).problems)).toEqual(['data/csv/items.csv: a payload file listed in tag manifest tagmanifest-sha256.txt line 4 (RFC 8493 2.2.1)']);
  });

  it('reports a tag file its tag manifest lists but that is gone', async () => {
    const dir = await ourBag();
    rmSync(path.join(dir, 'bag-info.txt'));
    expect(texts((await validateBag(dir)).problems)).toEqual(['bag-info.txt: missing (listed in tagmanifest-sha256.txt)']);
  });

  it('stops when aborted', async () => {
    const dir = await ourBag();
    await expect(validateBag(dir, { signal: AbortSignal.abort() })).rejects.toThrow(/abort/i);
  });

  it('throws a ConfigError for a folder that is not there', async () => {
    await expect(validateBag(path.join(scratch, 'nope'))).rejects.toThrow(ConfigError);
  });

  it('reports progress: a scan, then bytes hashed', async () => {
    const dir = await ourBag();
    const seen: BagProgress[] = [];
    await validateBag(dir, { onProgress: (p) => seen.push(p) });
    expect(seen[0]?.phase).toBe('scan');
    const bytes = Object.values(PAYLOAD).reduce((s, v) => s + v.length, 0) + ['bagit.txt', 'bag-info.txt', 'manifest-sha256.txt'].reduce((s, f) => s + read(dir, f).length, 0);
    expect(seen.at(-1)).toEqual({ phase: 'hash', filesDone: 6, filesTotal: 6, bytesDone: bytes, bytesTotal: bytes });
  });
});

describe('validateBag: bags from other tools', () => {
  /** In the style of bagit-python (Library of Congress) output: sha256 + sha512, tag manifests for both. */
  function locBag(lineEnd = '\n'): string {
    const dir = tmp();
    const payload: Record<string, string> = {
      'data/README.txt': 'Scanned ledgers, 1923-1931.\n',
      'data/images/ledger 001.tif': 'II*\0 not really a tiff',
      'data/images/ledger 002.tif': 'II*\0 not really a tiff either',
    };
    put(dir, payload);
    const bytes = Object.values(payload).reduce((s, v) => s + Buffer.byteLength(v), 0);
    const files = Object.keys(payload).sort();
    const manifest = (alg: string, rels: string[]): string => rels.map((rel) => `${hash(alg, readFileSync(path.join(dir, rel)))}  ${rel}${lineEnd}`).join('');
    writeFileSync(path.join(dir, 'bagit.txt'), `BagIt-Version: 1.0${lineEnd}Tag-File-Character-Encoding: UTF-8${lineEnd}`);
    writeFileSync(
      path.join(dir, 'bag-info.txt'),
      [
        'Bag-Software-Agent: bagit.py v1.8.1 <https://github.com/LibraryOfCongress/bagit-python>',
        'Bagging-Date: 2024-05-01',
        'Contact-Email: archives@example.org',
        'External-Description: Ledgers of the Acme foundry, scanned at 600 dpi by the',
        '  county archive in the spring of 2024, with the original box labels',
        '\tkept as the file names.',
        `Payload-Oxum: ${bytes}.${files.length}`,
        'Source-Organization: County Archive',
        '',
      ].join(lineEnd),
    );
    writeFileSync(path.join(dir, 'manifest-sha256.txt'), manifest('sha256', files));
    writeFileSync(path.join(dir, 'manifest-sha512.txt'), manifest('sha512', files));
    const tags = ['bag-info.txt', 'bagit.txt', 'manifest-sha256.txt', 'manifest-sha512.txt'];
    writeFileSync(path.join(dir, 'tagmanifest-sha256.txt'), manifest('sha256', tags));
    writeFileSync(path.join(dir, 'tagmanifest-sha512.txt'), manifest('sha512', tags));
    return dir;
  }

  it('validates a bagit-python style bag: sha256 and sha512 manifests and tag manifests, folded bag-info', async () => {
    const report = await validateBag(locBag());
    expect(report.problems).toEqual([]);
    expect(report.warnings).toEqual([]);
    expect(report).toMatchObject({ valid: true, complete: true, algorithms: ['sha256', 'sha512'], tagAlgorithms: ['sha256', 'sha512'], payloadFiles: 3 });
    expect(report.info.find(([k]) => k === 'External-Description')?.[1]).toBe(
      'Ledgers of the Acme foundry, scanned at 600 dpi by the county archive in the spring of 2024, with the original box labels kept as the file names.',
    );
  });

  it('validates the same bag with CRLF line endings', async () => {
    expect(await validateBag(locBag('\r\n'))).toMatchObject({ valid: true, problems: [] });
  });

  it('checks every manifest: a changed file fails both sha256 and sha512, an edited bag-info.txt both tag manifests', async () => {
    const dir = locBag();
    writeFileSync(path.join(dir, 'data/images/ledger 002.tif'), 'changed');
    writeFileSync(path.join(dir, 'bag-info.txt'), read(dir, 'bag-info.txt').replace('County Archive', 'Someone Else'));
    const report = await validateBag(dir);
    expect(report.problems.map((p) => `${p.file} ${p.message.split(' ')[0] ?? ''}`)).toEqual([
      'bag-info.txt Payload-Oxum',
      'bag-info.txt sha256',
      'bag-info.txt sha512',
      'data/images/ledger 002.tif sha256',
      'data/images/ledger 002.tif sha512',
    ]);
  });

  it('validates an older md5 + sha1 bag (0.97, manifests listing different files is allowed there)', async () => {
    const dir = tmp();
    put(dir, { 'data/a.txt': 'a', 'data/b.txt': 'b' });
    writeFileSync(path.join(dir, 'bagit.txt'), 'BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n');
    // md5sum -b style `*` markers, tab separator.
    writeFileSync(path.join(dir, 'manifest-md5.txt'), `${hash('md5', 'a')} *data/a.txt\n${hash('md5', 'b')}\tdata/b.txt\n`);
    writeFileSync(path.join(dir, 'manifest-sha1.txt'), `${hash('sha1', 'a').toUpperCase()}  data/a.txt\n`);
    writeFileSync(path.join(dir, 'tagmanifest-md5.txt'), `${hash('md5', readFileSync(path.join(dir, 'bagit.txt')))}  bagit.txt\n`);
    const report = await validateBag(dir);
    expect(report).toMatchObject({ valid: true, problems: [], algorithms: ['md5', 'sha1'], tagAlgorithms: ['md5'] });
    // The same bag declared 1.0: every payload manifest must list every payload file.
    writeFileSync(path.join(dir, 'bagit.txt'), 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n');
    writeFileSync(path.join(dir, 'tagmanifest-md5.txt'), `${hash('md5', readFileSync(path.join(dir, 'bagit.txt')))}  bagit.txt\n`);
    expect(texts((await validateBag(dir)).problems)).toEqual(['data/b.txt: not listed in manifest-sha1.txt (BagIt 1.0: every payload manifest lists every payload file)']);
  });

  it('reads percent-encoded names (%0A %0D %25) and leaves other %xx literal', async () => {
    const dir = tmp();
    const names = ['data/line\nbreak.txt', 'data/carriage\rreturn.txt', 'data/100%.txt', 'data/literal%20.txt'];
    for (const name of names) put(dir, { [name]: name });
    writeFileSync(path.join(dir, 'bagit.txt'), 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n');
    writeFileSync(
      path.join(dir, 'manifest-sha512.txt'),
      [
        `${hash('sha512', names[0] ?? '')}  data/line%0abreak.txt`,
        `${hash('sha512', names[1] ?? '')}  data/carriage%0Dreturn.txt`,
        `${hash('sha512', names[2] ?? '')}  data/100%25.txt`,
        `${hash('sha512', names[3] ?? '')}  data/literal%2520.txt`,
        '',
      ].join('\n'),
    );
    expect(await validateBag(dir)).toMatchObject({ valid: true, problems: [], payloadFiles: 4 });
    rmSync(path.join(dir, 'data', 'line\nbreak.txt'));
    expect(texts((await validateBag(dir)).problems)).toEqual(['data/line%0Abreak.txt: missing (listed in manifest-sha512.txt)']);
  });

  it('reports fetch.txt entries, never fetches them, and calls a bag with absent fetch files incomplete, not damaged', async () => {
    const dir = tmp();
    put(dir, { 'data/here.txt': 'here' });
    writeFileSync(path.join(dir, 'bagit.txt'), 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n');
    writeFileSync(
      path.join(dir, 'manifest-sha256.txt'),
      `${hash('sha256', 'here')}  data/here.txt\n${hash('sha256', 'remote')}  data/remote.txt\n${hash('sha256', 'sized')}  data/big%25.bin\n`,
    );
    // Port 1 on loopback: a validator that fetched would fail loudly, not slowly.
    writeFileSync(path.join(dir, 'fetch.txt'), 'http://127.0.0.1:1/remote.txt - data/remote.txt\nhttps://127.0.0.1:1/big.bin 5 data/big%25.bin\n');
    writeFileSync(path.join(dir, 'bag-info.txt'), 'Payload-Oxum: 15.3\n');
    const report = await validateBag(dir);
    expect(report.fetch).toEqual([
      { url: 'http://127.0.0.1:1/remote.txt', length: null, path: 'data/remote.txt' },
      { url: 'https://127.0.0.1:1/big.bin', length: 5, path: 'data/big%.bin' },
    ]);
    expect(texts(report.problems)).toEqual([
      'data/big%25.bin: not present, listed in fetch.txt: the bag is not complete (fetch.txt is never followed)',
      'data/remote.txt: not present, listed in fetch.txt: the bag is not complete (fetch.txt is never followed)',
    ]);
    expect(kinds(report.problems)).toEqual(['incomplete', 'incomplete']);
    expect(report).toMatchObject({ valid: false, complete: false });

    // Once the files are there, the bag is complete and valid, fetch.txt or not.
    put(dir, { 'data/remote.txt': 'remote', 'data/big%.bin': 'sized' });
    expect(await validateBag(dir)).toMatchObject({ valid: true, complete: true, problems: [] });

    // A fetch.txt entry must be a payload file listed in the manifests.
    writeFileSync(path.join(dir, 'fetch.txt'), 'http://127.0.0.1:1/x - data/unlisted.txt\nhttp://127.0.0.1:1/y - bag-info.txt\nnot a fetch line\n');
    expect(texts((await validateBag(dir)).problems)).toEqual([
      'bag-info.txt: fetch.txt line 2 lists a file outside data/; fetch.txt lists payload files only (RFC 8493 2.2.3)',
      `fetch.txt: line 3: expected '<url> <length> <path>', found "not a fetch line"`,
      'data/unlisted.txt: listed in fetch.txt but not in manifest-sha256.txt',
    ]);

    // Every line is `URL LENGTH FILENAME` (RFC 8493 2.2.3): a blank line is not skipped (bagit-java's
    // fetchWithBlankLines.txt), nor is an empty one; the final line break ends the last line.
    writeFileSync(path.join(dir, 'fetch.txt'), 'http://127.0.0.1:1/remote.txt - data/remote.txt\n \n\nhttp://127.0.0.1:1/big.bin 5 data/big%25.bin\n');
    expect(texts((await validateBag(dir)).problems)).toEqual([
      `fetch.txt: line 2: expected '<url> <length> <path>', found " "`,
      `fetch.txt: line 3: expected '<url> <length> <path>', found ""`,
    ]);
  });

  it('reads tag files in the declared Tag-File-Character-Encoding', async () => {
    const dir = tmp();
    put(dir, { 'data/a.txt': 'a' });
    writeFileSync(path.join(dir, 'bagit.txt'), 'BagIt-Version: 1.0\nTag-File-Character-Encoding: ISO-8859-1\n');
    writeFileSync(path.join(dir, 'bag-info.txt'), Buffer.from('Source-Organization: Müller & Söhne\nPayload-Oxum: 1.1\n', 'latin1'));
    writeFileSync(path.join(dir, 'manifest-md5.txt'), `${hash('md5', 'a')}  data/a.txt\n`);
    const report = await validateBag(dir);
    expect(report.problems).toEqual([]);
    expect(report.info[0]).toEqual(['Source-Organization', 'Müller & Söhne']);
    // The same bytes declared UTF-8 are not valid UTF-8.
    writeFileSync(path.join(dir, 'bagit.txt'), 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n');
    expect(texts((await validateBag(dir)).problems)).toEqual(['bag-info.txt: not valid utf-8 text (Tag-File-Character-Encoding)']);
  });

  it('matches a name stored decomposed (macOS) against a manifest that lists it composed', async () => {
    const dir = tmp();
    const nfd = 'data/Mu\u0308ller.txt';
    put(dir, { [nfd]: 'm' });
    writeFileSync(path.join(dir, 'bagit.txt'), 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n');
    writeFileSync(path.join(dir, 'manifest-sha256.txt'), `${hash('sha256', 'm')}  ${nfd.normalize('NFC')}\n`);
    expect(await validateBag(dir)).toMatchObject({ valid: true, problems: [] });
  });
});
