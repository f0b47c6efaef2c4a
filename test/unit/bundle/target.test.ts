import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkBundleTarget, checkReplaceable } from '../../../src/bundle/target.js';
import { zipFolder, zipHoldsBag } from '../../../src/bundle/zip.js';
import { tempDir } from '../../helpers.js';

/** Where export, exit and purge may write a bundle, and what exit --force may replace: real folders and files. */

const label = { label: '--to x', code: 'test.target' };

function bag(dir: string): string {
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  writeFileSync(path.join(dir, 'bagit.txt'), 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n');
  writeFileSync(path.join(dir, 'data', 'a.csv'), 'a\r\n');
  return dir;
}

describe('checkBundleTarget', () => {
  it('a parent that is a file is a usage error naming it, whatever lies between', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'afile'), '');
    for (const target of ['afile/sub', 'afile/sub/deeper']) {
      expect(() => checkBundleTarget(path.join(dir, target), label)).toThrow(expect.objectContaining({ exitCode: 2, code: 'test.target', message: expect.stringMatching(/^--to x cannot be made: .*afile is a file, not a folder$/) }));
    }
  });

  it('a folder inside a bundle, at any depth, is refused naming the bundle', () => {
    const dir = tempDir();
    bag(path.join(dir, 'ex1'));
    for (const target of ['ex1/inner', 'ex1/data/x', 'ex1/data/new/deeper']) {
      expect(() => checkBundleTarget(path.join(dir, target), label)).toThrow(expect.objectContaining({ exitCode: 2, message: expect.stringMatching(/^--to x is inside the bundle .*ex1$/) }));
    }
  });

  it('a folder inside a bundle being written is refused', () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'b.exit-partial-0123abcd'));
    expect(() => checkBundleTarget(path.join(dir, 'b.exit-partial-0123abcd', 'b'), label)).toThrow(/a bundle being written/);
  });

  it('the target itself may exist (the caller decides); with folder, it must be a folder', () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'afile'), '');
    expect(() => checkBundleTarget(path.join(dir, 'afile'), label)).not.toThrow();
    expect(() => checkBundleTarget(path.join(dir, 'afile'), { ...label, folder: true })).toThrow(expect.objectContaining({ exitCode: 2, message: '--to x is a file, not a folder' }));
    expect(() => checkBundleTarget(path.join(dir, 'new', 'folder'), { ...label, folder: true })).not.toThrow();
    expect(() => checkBundleTarget(bag(path.join(dir, 'old')), label)).not.toThrow();
  });
});

describe('checkReplaceable (exit --force)', () => {
  const opts = (source: string, zip = false): { code: string; source: string; zip: boolean } => ({ code: 'test.target', source, zip });

  it('never a folder that holds the source store file, is it, or holds it deeper down', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'data', 'db'), { recursive: true });
    writeFileSync(path.join(dir, 'data', 'db', 's.db'), '');
    const source = `sqlite:${path.join(dir, 'data', 'db', 's.db')}`;
    await expect(checkReplaceable(path.join(dir, 'data'), opts(source))).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/^--force cannot replace .*data: it holds the source store sqlite:/) });
    await expect(checkReplaceable(path.join(dir, 'data', 'db', 's.db'), opts(source))).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/: it is the source store /) });
    // Even a bundle folder that holds it.
    bag(path.join(dir, 'data'));
    await expect(checkReplaceable(path.join(dir, 'data'), opts(source))).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/holds the source store/) });
  });

  it('never a folder that is not a bundle and holds anything, nor a file', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'notes'));
    writeFileSync(path.join(dir, 'notes', 'notes.txt'), 'my notes');
    writeFileSync(path.join(dir, 'afile'), '');
    const source = 'postgres://u@127.0.0.1/x';
    await expect(checkReplaceable(path.join(dir, 'notes'), opts(source))).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/it is not a bundle \(no bagit\.txt\) and holds notes\.txt$/) });
    await expect(checkReplaceable(path.join(dir, 'afile'), opts(source))).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/it is a file, not a bundle folder/) });
  });

  it('a bundle folder or an empty folder may be replaced', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'empty'));
    const source = `sqlite:${path.join(dir, 's.db')}`;
    await expect(checkReplaceable(bag(path.join(dir, 'old')), opts(source))).resolves.toBeUndefined();
    await expect(checkReplaceable(path.join(dir, 'empty'), opts(source))).resolves.toBeUndefined();
  });

  it('with zip: only a zipped bundle', async () => {
    const dir = tempDir();
    const source = `sqlite:${path.join(dir, 's.db')}`;
    mkdirSync(path.join(dir, 'wrap'));
    bag(path.join(dir, 'wrap', 'b'));
    await zipFolder(path.join(dir, 'wrap'), path.join(dir, 'b.zip'));
    mkdirSync(path.join(dir, 'other'));
    writeFileSync(path.join(dir, 'other', 'f.txt'), 'x');
    await zipFolder(path.join(dir, 'other'), path.join(dir, 'other.zip'));
    writeFileSync(path.join(dir, 'text.zip'), 'not a zip');
    expect(await zipHoldsBag(path.join(dir, 'b.zip'))).toBe(true);
    await expect(checkReplaceable(path.join(dir, 'b.zip'), opts(source, true))).resolves.toBeUndefined();
    for (const f of ['other.zip', 'text.zip']) {
      await expect(checkReplaceable(path.join(dir, f), opts(source, true)), f).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/it is not a zipped bundle$/) });
    }
    await expect(checkReplaceable(path.join(dir, 'wrap'), opts(source, true))).rejects.toMatchObject({ message: expect.stringMatching(/it is not a file$/) });
  });
});
