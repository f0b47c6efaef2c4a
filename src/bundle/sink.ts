import { createHash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';

export interface FileDigest {
  sha256: string;
  bytes: number;
}

/**
 * A payload file written and hashed in one pass: the exporter knows each file's SHA-256 and size
 * when it closes it, so the BagIt manifest never reads the payload a second time.
 */
export class HashedFile {
  private readonly out: WriteStream;
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private failed: Error | undefined;

  constructor(readonly file: string) {
    this.out = createWriteStream(file);
    this.out.on('error', (e) => {
      this.failed = e;
    });
  }

  /** Resolves once the file is open, or rejects with the reason it could not be created. */
  async opened(): Promise<void> {
    if (this.failed) throw this.failed;
    if (this.out.pending) await once(this.out, 'ready');
  }

  /** Resolves once the file descriptor is closed (after close() or destroy()). */
  async closed(): Promise<void> {
    if (!this.out.closed) await once(this.out, 'close').catch(() => undefined);
  }

  async write(chunk: string | Uint8Array): Promise<void> {
    if (this.failed) throw this.failed;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (buf.length === 0) return;
    this.hash.update(buf);
    this.bytes += buf.length;
    if (!this.out.write(buf)) {
      await new Promise<void>((resolve, reject) => {
        const onDrain = (): void => {
          this.out.off('error', onError);
          resolve();
        };
        const onError = (e: Error): void => {
          this.out.off('drain', onDrain);
          reject(e);
        };
        this.out.once('drain', onDrain).once('error', onError);
      });
    }
    if (this.failed) throw this.failed;
  }

  async close(): Promise<FileDigest> {
    if (this.failed) throw this.failed;
    this.out.end();
    await once(this.out, 'finish');
    if (this.failed) throw this.failed;
    return { sha256: this.hash.digest('hex'), bytes: this.bytes };
  }

  /** Stops writing after a failure elsewhere; the file is removed with its temporary folder. */
  destroy(): void {
    this.out.destroy();
  }
}
