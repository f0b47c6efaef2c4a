import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';

/** A file as read, with the SHA-256 of its bytes: what a run records having read (SPEC section 9). */
export interface HashedFile {
  /** The absolute path. */
  file: string;
  sha256: string;
}

export function sha256Text(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Digest algorithms a bag may use, by their BagIt names (which are also node:crypto's). */
export type DigestAlgorithm = 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

export interface FileDigests {
  /** Lowercase hex digest per algorithm asked for. */
  digests: Partial<Record<DigestAlgorithm, string>>;
  bytes: number;
}

const CHUNK = 1 << 20;
/** Read buffers of finished digests, reused: two fresh 1 MiB buffers per small file cost more than hashing it. */
const pool: Buffer[] = [];
const POOL_MAX = 16;
const take = (): Buffer => pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK);
const give = (b: Buffer): void => {
  if (pool.length < POOL_MAX) pool.push(b);
};

/**
 * Hashes a file with every algorithm asked for in one pass, never holding more than two 1 MiB
 * chunks: the next chunk is read while the current one is hashed, so the disk and the hash overlap.
 * `onBytes` is told of each chunk hashed; the signal is checked between chunks.
 */
export async function digestFile(
  file: string,
  algorithms: readonly DigestAlgorithm[],
  opts: { signal?: AbortSignal | undefined; onBytes?: ((n: number) => void) | undefined } = {},
): Promise<FileDigests> {
  const hashes = algorithms.map((a) => [a, createHash(a)] as const);
  const fh = await open(file, 'r');
  let current = take();
  let spare = take();
  let pending: Promise<{ bytesRead: number }> | undefined;
  try {
    let bytes = 0;
    pending = fh.read(current, 0, CHUNK, null);
    for (;;) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      opts.signal?.throwIfAborted();
      const chunk = current.subarray(0, bytesRead);
      [current, spare] = [spare, current];
      pending = fh.read(current, 0, CHUNK, null);
      for (const [, h] of hashes) h.update(chunk);
      bytes += bytesRead;
      opts.onBytes?.(bytesRead);
    }
    const digests: Partial<Record<DigestAlgorithm, string>> = {};
    for (const [a, h] of hashes) digests[a] = h.digest('hex');
    return { digests, bytes };
  } finally {
    // A read still in flight (after an abort) writes into `current`: wait for it before reusing it.
    await pending?.catch(() => undefined);
    await fh.close();
    give(current);
    give(spare);
  }
}
