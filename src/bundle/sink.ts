import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';

export interface FileDigest {
  sha256: string;
  bytes: number;
}

/**
 * A payload file written and hashed in one pass: the exporter knows each file's SHA-256 and size
 * when it closes it, so the BagIt manifest never reads the payload a second time.
 *
 * Written with synchronous writes: the exporter waits for each batch's bytes before it goes on
 * anyway (flat memory), and a write stream made it wait for a turn of the thread pool too. For
 * the 1M-row machine log that was 2,000 waits of about 0.4 ms each (0.8 s of a 3.3 s export)
 * against well under 0.1 s of writing into the page cache.
 */
export class HashedFile {
  private fd: number | undefined;
  private readonly hash = createHash('sha256');
  private bytes = 0;
  private failed: Error | undefined;

  constructor(readonly file: string) {
    try {
      this.fd = openSync(file, 'w');
    } catch (e) {
      // Reported by opened() or the first write, as the stream it replaces did.
      this.failed = e as Error;
    }
  }

  /** Resolves once the file is open, or rejects with the reason it could not be created. */
  async opened(): Promise<void> {
    if (this.failed) throw this.failed;
  }

  async write(chunk: string | Uint8Array): Promise<void> {
    if (this.failed) throw this.failed;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (buf.length === 0) return;
    this.hash.update(buf);
    this.bytes += buf.length;
    try {
      let at = 0;
      while (at < buf.length) at += writeSync(this.fd!, buf, at, buf.length - at);
    } catch (e) {
      this.failed = e as Error;
      this.destroy();
      throw e;
    }
  }

  async close(): Promise<FileDigest> {
    if (this.failed) throw this.failed;
    const fd = this.fd!;
    this.fd = undefined;
    closeSync(fd);
    return { sha256: this.hash.digest('hex'), bytes: this.bytes };
  }

  /** Stops writing after a failure elsewhere; the file is removed with its temporary folder. */
  destroy(): void {
    const fd = this.fd;
    this.fd = undefined;
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // Closing is all that is left to do; the folder goes with the file.
      }
    }
  }
}
