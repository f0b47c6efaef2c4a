import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAPPING_NAMING, checkFile } from '../../../src/sources/common.js';
import { SourceError } from '../../../src/core/errors.js';

/**
 * A source path naming a named pipe (`path: /dev/stdin`, a FIFO made with mkfifo) was refused
 * with "is not a file" and the hint "point `path:` at the data file itself, not a folder", which
 * named a folder where there was none and gave no way out.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'check-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('checkFile on what is not a regular file', () => {
  it.skipIf(process.platform === 'win32')('a named pipe: says so, and to save what it gives to a file (without opening it: no wait)', async () => {
    const fifo = path.join(dir, 'items.csv');
    execFileSync('mkfifo', [fifo]);
    const e = await checkFile(fifo, 'items.csv', MAPPING_NAMING).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(SourceError);
    expect((e as SourceError).exitCode).toBe(2);
    expect((e as SourceError).message).toBe('items.csv is a named pipe (FIFO), not a file');
    expect((e as SourceError).hint).toMatch(/save what it gives to a file/);
    expect((e as SourceError).hint).not.toMatch(/folder/);
  });

  it('a folder: the hint of the naming, as before', async () => {
    const folder = path.join(dir, 'folder.csv');
    mkdirSync(folder);
    await expect(checkFile(folder, 'folder.csv', MAPPING_NAMING)).rejects.toMatchObject({ message: 'folder.csv is not a file', hint: MAPPING_NAMING.notAFile });
  });
});
