import type { Column, Entity } from '../model/types.js';
import { HashedFile, type FileDigest } from './sink.js';

/**
 * The bundle's CSV files (SPEC section 6): RFC 4180 (comma, CRLF, double quotes), UTF-8 without a
 * byte-order mark, a header row, one canonical text per type. A missing value is an empty field
 * and an empty string is `""`, the convention PostgreSQL's CSV COPY reads back exactly, so the
 * difference between "no lot" ('') and "unknown" (NULL) survives the trip out and back in.
 */

const NEEDS_QUOTES = /[",\r\n]/;

export function quoteField(s: string): string {
  if (s === '') return '""';
  return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One column's staged value (mapping/coerce.ts) to its CSV field. */
export function csvEncoder(c: Column): (v: unknown) => string {
  switch (c.type) {
    case 'boolean':
      return (v) => (v === null || v === undefined ? '' : v === 1 || v === true ? 'true' : 'false');
    case 'integer':
    case 'decimal':
    case 'date':
    case 'timestamp':
      // Digits, signs, points, dashes and colons only: never needs quotes.
      return (v) => (v === null || v === undefined ? '' : String(v));
    case 'string':
    case 'text':
    case 'enum':
      return (v) => (v === null || v === undefined ? '' : quoteField(String(v)));
  }
}

export class CsvTableWriter {
  private readonly out: HashedFile;
  private readonly encoders: ((v: unknown) => string)[];
  rows = 0;

  constructor(file: string, readonly entity: Entity) {
    this.out = new HashedFile(file);
    this.encoders = entity.columns.map(csvEncoder);
  }

  async writeHeader(): Promise<void> {
    await this.out.write(this.entity.columns.map((c) => quoteField(c.name)).join(',') + '\r\n');
  }

  async write(rows: readonly (readonly unknown[])[]): Promise<void> {
    const enc = this.encoders;
    const n = enc.length;
    let buf = '';
    for (const row of rows) {
      let line = enc[0]!(row[0]);
      for (let i = 1; i < n; i++) line += ',' + enc[i]!(row[i]);
      buf += line + '\r\n';
    }
    this.rows += rows.length;
    await this.out.write(buf);
  }

  close(): Promise<FileDigest> {
    return this.out.close();
  }

  destroy(): void {
    this.out.destroy();
  }
}

/** A CSV field back to the staged value of its column (bundle verify and import). */
export function csvDecoder(c: Column): (field: string, quoted: boolean) => unknown {
  switch (c.type) {
    case 'boolean':
      return (f) => (f === '' ? null : f === 'true' ? 1 : f === 'false' ? 0 : f);
    case 'integer':
      return (f) => {
        if (f === '') return null;
        const n = Number(f);
        return Number.isSafeInteger(n) && /^-?\d+$/.test(f) ? n : f;
      };
    case 'decimal':
    case 'date':
    case 'timestamp':
      return (f) => (f === '' ? null : f);
    case 'string':
    case 'text':
    case 'enum':
      return (f, quoted) => (f === '' && !quoted ? null : f);
  }
}
