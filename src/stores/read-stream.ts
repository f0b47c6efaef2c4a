import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';

/**
 * A table's rows streamed from a server's result (PostgreSQL's COPY, MySQL's SELECT), and what a
 * consumer that stops early leaves: the rest of the result is still on its way, and the connection
 * runs nothing else until it has been read. A store snapshot reads every table on one connection
 * and must go on (a diff starts a table over when the other side is out of order), so it parks
 * the rest (`park`) and reads it off before its next statement (ParkedResult). Any other reader,
 * and every read that fails, is abandoned with its connection (`abandon`).
 */
export async function* streamedRows<T>(stream: Readable, decode: (source: AsyncIterable<unknown>) => AsyncIterable<T>, opts: { park?: ((rest: Readable) => void) | undefined; abandon: () => void }): AsyncGenerator<T> {
  let done = false;
  let failed = false;
  try {
    yield* decode(stream.iterator({ destroyOnReturn: opts.park === undefined }));
    done = true;
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    if (!done) {
      stream.on('error', () => {});
      if (opts.park && !failed) opts.park(stream);
      else {
        stream.destroy();
        opts.abandon();
      }
    }
  }
}

/** The rest of a result a snapshot's consumer stopped reading, until it is read off or dropped. */
export class ParkedResult {
  private rest: Readable | undefined;

  readonly park = (rest: Readable): void => {
    this.rest = rest;
  };

  /** Whether the connection is mid-result: it cannot be reused, only closed. */
  get pending(): boolean {
    return this.rest !== undefined;
  }

  /** Reads the rest off: the connection is free for the next statement. */
  async settle(): Promise<void> {
    const rest = this.rest;
    this.rest = undefined;
    if (rest) await finished(rest.resume());
  }

  /** Drops the rest (the connection is being closed). */
  drop(): void {
    this.rest?.destroy();
    this.rest = undefined;
  }
}
