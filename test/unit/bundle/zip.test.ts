import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { openPromise, type Entry } from 'yauzl';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { validateBag, writeBagTags } from '../../../src/bundle/bagit.js';
import { openZippedBag, zipFolder } from '../../../src/bundle/zip.js';
import { BundleError, ConfigError } from '../../../src/core/errors.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'forklift-zip-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
function tmp(): string {
  const dir = path.join(scratch, `t${++n}`);
  mkdirSync(dir);
  return dir;
}

function put(dir: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, ...rel.split('/'));
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
}

const FILES = {
  'bundle/bagit.txt': 'BagIt-Version: 1.0\n',
  'bundle/data/csv/items.csv': 'sku,name\n' + 'A1,Schraube\n'.repeat(500),
  'bundle/data/csv/Boms.csv': 'parent,child\n',
  'bundle/data/ä/ü.csv': 'umlaut',
  'bundle/data/😀.txt': 'emoji',
};

async function entries(zipFile: string): Promise<Entry[]> {
  const zip = await openPromise(zipFile, { lazyEntries: true, autoClose: false });
  const out: Entry[] = [];
  for await (const e of zip.eachEntry()) out.push(e);
  zip.close();
  return out;
}

describe('zipFolder', () => {
  const tz = process.env.TZ;
  afterEach(() => {
    if (tz === undefined) delete process.env.TZ;
    else process.env.TZ = tz;
  });

  it('gives byte-identical zips of the same files: after touch and chmod, in another order, in another timezone', async () => {
    const one = tmp();
    put(one, FILES);
    const a = await zipFolder(one, path.join(scratch, `a${n}.zip`));
    const b = await zipFolder(one, path.join(scratch, `b${n}.zip`));
    const bytesA = readFileSync(path.join(scratch, `a${n}.zip`));
    expect(readFileSync(path.join(scratch, `b${n}.zip`))).toEqual(bytesA);
    expect(b).toEqual(a);
    expect(a.bytes).toBe(bytesA.length);
    expect(a.files).toBe(5);

    // The same files written in reverse order, touched, made executable, zipped in two other timezones.
    const two = tmp();
    for (const [rel, content] of Object.entries(FILES).reverse()) put(two, { [rel]: content });
    for (const rel of Object.keys(FILES)) {
      utimesSync(path.join(two, rel), new Date('2031-07-04T12:34:56Z'), new Date('2031-07-04T12:34:56Z'));
      chmodSync(path.join(two, rel), 0o755);
    }
    for (const zone of ['Pacific/Kiritimati', 'America/Los_Angeles', 'UTC']) {
      process.env.TZ = zone;
      const out = path.join(scratch, `tz-${zone.replace('/', '-')}.zip`);
      await zipFolder(two, out);
      expect(readFileSync(out), zone).toEqual(bytesA);
    }
  });

  it('writes entries in byte order, dated 1980-01-01 00:00:00, mode 0644, with no extra fields', async () => {
    const dir = tmp();
    put(dir, FILES);
    const out = path.join(scratch, `order${n}.zip`);
    await zipFolder(dir, out);
    const list = await entries(out);
    expect(list.map((e) => e.fileName)).toEqual(Object.keys(FILES).sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
    for (const e of list) {
      expect(e.lastModFileDate).toBe((0 << 9) | (1 << 5) | 1);
      expect(e.lastModFileTime).toBe(0);
      expect(e.extraFieldLength).toBe(0);
      expect(e.externalFileAttributes >>> 16).toBe(0o100644);
      expect(e.fileCommentLength).toBe(0);
    }
    // Deflated where it pays.
    expect(list.find((e) => e.fileName.endsWith('items.csv'))?.compressionMethod).toBe(8);
  });

  it('stores without compression when asked, and leaves no temporary file behind', async () => {
    const dir = tmp();
    put(dir, FILES);
    const out = path.join(dir, '..', `stored${n}.zip`);
    await zipFolder(dir, out, { compress: false });
    expect((await entries(out)).every((e) => e.compressionMethod === 0)).toBe(true);
    expect(readdirSync(scratch).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('openZippedBag', () => {
  it('unpacks a zipped bag into a temporary folder that validates, and cleans it up', async () => {
    const parent = tmp();
    put(parent, { 'acme-exit/data/csv/items.csv': 'sku\nA1\n', 'acme-exit/data/datapackage.json': '{}' });
    await writeBagTags(path.join(parent, 'acme-exit'), { fields: [['Source-Organization', 'Acme']] });
    const zipFile = path.join(scratch, `bag${n}.zip`);
    await zipFolder(parent, zipFile);
    const opened = await openZippedBag(zipFile);
    expect(path.basename(opened.dir)).toBe('acme-exit');
    expect(path.dirname(opened.dir)).toBe(opened.root);
    expect(await validateBag(opened.dir)).toMatchObject({ valid: true, problems: [], payloadFiles: 2 });
    opened.cleanup();
    expect(existsSync(opened.root)).toBe(false);
  });

  it('returns the extraction folder itself when bagit.txt is at the top of the archive', async () => {
    const dir = tmp();
    put(dir, { 'data/a.txt': 'a' });
    await writeBagTags(dir, { fields: [] });
    const zipFile = path.join(scratch, `flat${n}.zip`);
    await zipFolder(dir, zipFile);
    const opened = await openZippedBag(zipFile);
    try {
      expect(opened.dir).toBe(opened.root);
      expect((await validateBag(opened.dir)).valid).toBe(true);
    } finally {
      opened.cleanup();
    }
  });

  const hostile: [string, RawEntry[], RegExp][] = [
    ['a path with ..', [{ name: '../evil.txt', data: 'x' }], /refused: invalid relative path: \.\.\/evil\.txt/],
    ['an absolute path', [{ name: '/etc/evil', data: 'x' }], /refused: absolute path: \/etc\/evil/],
    ['a backslash path', [{ name: 'bag\\..\\..\\evil', data: 'x' }], /refused: invalid characters in fileName/],
    ['a symbolic link', [{ name: 'bag/data/link', data: '/etc/passwd', mode: 0o120777 }], /refused entry "bag\/data\/link": a symbolic link/],
    ['a device', [{ name: 'bag/data/dev', data: '', mode: 0o020644 }], /not a regular file or folder/],
    ['two entries with one path', [{ name: 'bag/a.txt', data: 'x' }, { name: 'bag/./a.txt', data: 'y' }], /a second entry with the same path/],
    ['a stored entry bigger than its header says', [{ name: 'bag/a.txt', data: 'x'.repeat(100), declaredSize: 10 }], /refused: compressed\/uncompressed size mismatch/],
    ['a deflated entry that inflates beyond its header', [{ name: 'bag/bomb.txt', data: '0'.repeat(1_000_000), deflate: true, declaredSize: 1000 }], /refused entry "bag\/bomb.txt": (too many bytes|inflates to more)/],
  ];
  for (const [what, list, message] of hostile) {
    it(`refuses ${what}, and leaves nothing behind`, async () => {
      const tmpDir = tmp();
      const zipFile = path.join(tmpDir, 'hostile.zip');
      writeFileSync(zipFile, rawZip(list));
      const err = await openZippedBag(zipFile, { tmpDir }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BundleError);
      expect((err as BundleError).message).toMatch(message);
      expect((err as BundleError).exitCode).toBe(1);
      expect(readdirSync(tmpDir)).toEqual(['hostile.zip']);
    });
  }

  it('accepts a hand-made archive with folder entries and plain DOS attributes', async () => {
    const tmpDir = tmp();
    const zipFile = path.join(tmpDir, 'ok.zip');
    writeFileSync(zipFile, rawZip([{ name: 'bag/', data: '', mode: 0o040755 }, { name: 'bag/a.txt', data: 'hello', deflate: true }, { name: 'bag/b.txt', data: 'b', madeBy: 0 }]));
    const opened = await openZippedBag(zipFile, { tmpDir });
    try {
      expect(readFileSync(path.join(opened.dir, 'a.txt'), 'utf8')).toBe('hello');
      expect(readFileSync(path.join(opened.dir, 'b.txt'), 'utf8')).toBe('b');
    } finally {
      opened.cleanup();
    }
  });

  it('refuses more entries or bytes than allowed', async () => {
    const tmpDir = tmp();
    const zipFile = path.join(tmpDir, 'big.zip');
    writeFileSync(zipFile, rawZip([{ name: 'bag/a.txt', data: 'a'.repeat(600) }, { name: 'bag/b.txt', data: 'b'.repeat(600) }]));
    await expect(openZippedBag(zipFile, { tmpDir, maxEntries: 1 })).rejects.toThrow(/2 entries, more than the 1 allowed/);
    await expect(openZippedBag(zipFile, { tmpDir, maxBytes: 1000 })).rejects.toThrow(/refused entry "bag\/b.txt": the entries declare more than 1000 bytes/);
    expect(readdirSync(tmpDir)).toEqual(['big.zip']);
  });

  it('tells a missing file (usage) from a file that is not a zip (a bad bundle)', async () => {
    await expect(openZippedBag(path.join(scratch, 'nope.zip'))).rejects.toThrow(ConfigError);
    const notZip = path.join(tmp(), 'not.zip');
    writeFileSync(notZip, 'PK but not really a zip');
    await expect(openZippedBag(notZip)).rejects.toMatchObject({ code: 'bundle.zip-invalid', exitCode: 1 });
  });
});

interface RawEntry {
  name: string;
  data: string;
  /** Unix mode in the external attributes (made by Unix). */
  mode?: number;
  /** Version-made-by host: 3 Unix (default), 0 MS-DOS. */
  madeBy?: number;
  deflate?: boolean;
  /** The uncompressed size written in the headers, when it should lie. */
  declaredSize?: number;
}

/** A minimal zip writer that writes what yazl refuses to: hostile names, modes and sizes. */
function rawZip(list: RawEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of list) {
    const name = Buffer.from(e.name, 'utf8');
    const raw = Buffer.from(e.data, 'utf8');
    const body = e.deflate ? deflateRawSync(raw) : raw;
    const method = e.deflate ? 8 : 0;
    const size = e.declaredSize ?? raw.length;
    const crc = crc32(raw);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(33, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(((e.madeBy ?? 3) << 8) | 63, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(33, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((e.mode ?? 0o100644) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(list.length, 8);
  eocd.writeUInt16LE(list.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}
