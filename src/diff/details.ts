import { closeSync, createReadStream, ftruncateSync, openSync, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { DiffRecord } from './types.js';

/**
 * The row-level records of a diff, kept on disk (one JSON document a line) instead of in memory,
 * so a diff of millions of changed cells holds none of them: the renderers read them back in the
 * order they were found (table by table, in key order). A table compared again (a side found out
 * of order part way) truncates what it had written, back to its mark.
 */
export class DetailFile {
  private readonly fd: number;
  private pending: string[] = [];
  private pendingBytes = 0;
  private size = 0;
  count = 0;

  constructor(readonly file: string) {
    this.fd = openSync(file, 'w+');
  }

  write(r: DiffRecord): void {
    const line = JSON.stringify(r) + '\n';
    this.pending.push(line);
    this.pendingBytes += line.length;
    this.count++;
    if (this.pendingBytes >= 1 << 20) this.flush();
  }

  /** Where the file stands now (bytes and records), for truncate. */
  mark(): { size: number; count: number } {
    this.flush();
    return { size: this.size, count: this.count };
  }

  truncate(m: { size: number; count: number }): void {
    this.flush();
    ftruncateSync(this.fd, m.size);
    this.size = m.size;
    this.count = m.count;
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const buf = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    this.pendingBytes = 0;
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off, this.size + off);
    this.size += buf.length;
  }

  /** Every record written, in order (the file is flushed first). */
  read(): AsyncGenerator<DiffRecord> {
    this.flush();
    return readRecords(this.file, this.size);
  }

  close(): void {
    try {
      this.flush();
      closeSync(this.fd);
    } catch {
      // already closed
    }
  }
}

/** The records of a detail file (its first `size` bytes, or all of it). */
export async function* readRecords(file: string, size?: number): AsyncGenerator<DiffRecord> {
  if (size === 0) return;
  const input = createReadStream(file, size === undefined ? {} : { start: 0, end: size - 1 });
  const lines = createInterface({ input, crlfDelay: Infinity });
  for await (const line of lines) if (line !== '') yield JSON.parse(line) as DiffRecord;
}
