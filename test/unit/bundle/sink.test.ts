import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HashedFile } from '../../../src/bundle/sink.js';
import { tempDir } from '../../helpers.js';

describe('HashedFile', () => {
  it('writes text and bytes and knows the SHA-256 and size of what it wrote', async () => {
    const file = path.join(tempDir(), 'out.csv');
    const out = new HashedFile(file);
    await out.opened();
    const big = Buffer.alloc(3 << 20, 0x61);
    await out.write('id,name\r\n');
    await out.write(big);
    await out.write('');
    await out.write('1,Presse\u00e9\r\n');
    const digest = await out.close();
    const bytes = readFileSync(file);
    expect(digest).toEqual({ sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length });
    expect(bytes.length).toBe(9 + big.length + 12);
  });

  it('reports a file it cannot create when asked, not when made', async () => {
    const out = new HashedFile(path.join(tempDir(), 'no-such-folder', 'out.csv'));
    await expect(out.opened()).rejects.toThrow(/ENOENT/);
    await expect(out.write('x')).rejects.toThrow(/ENOENT/);
    await expect(out.close()).rejects.toThrow(/ENOENT/);
  });

  it('stops writing once destroyed', async () => {
    const out = new HashedFile(path.join(tempDir(), 'out.csv'));
    await out.write('a');
    out.destroy();
    out.destroy();
    await expect(out.write('b')).rejects.toThrow();
  });
});
