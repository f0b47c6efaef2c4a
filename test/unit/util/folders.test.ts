import { existsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeFolders } from '../../../src/util/folders.js';
import { tempDir } from '../../helpers.js';

describe('makeFolders', () => {
  it('makes a folder and its missing parents, returning the first it made, as mkdirSync(recursive) does', () => {
    const base = tempDir('forklift-folders-');
    expect(makeFolders(path.join(base, 'a', 'b', 'c'))).toBe(path.join(base, 'a'));
    expect(statSync(path.join(base, 'a', 'b', 'c')).isDirectory()).toBe(true);
    expect(makeFolders(path.join(base, 'a', 'b'))).toBeUndefined();
  });

  it('fails, never loops, where the parent exists but refuses the entry (under /proc Node’s recursive mkdir spins for ever)', () => {
    // Under /proc a mkdir fails with ENOENT although /proc is there.
    if (existsSync('/proc/self')) expect(() => makeFolders('/proc/forklift-nope/x')).toThrow(/ENOENT/);
    const base = tempDir('forklift-folders-');
    writeFileSync(path.join(base, 'file'), '');
    expect(() => makeFolders(path.join(base, 'file', 'x'))).toThrow(/ENOTDIR/);
    // The folder itself a file: EEXIST, as mkdirSync(recursive) says.
    expect(() => makeFolders(path.join(base, 'file'))).toThrow(expect.objectContaining({ code: 'EEXIST' }));
  });
});
