import Database from 'better-sqlite3';
import type { Cell, CellFault, SourceRecord } from './types.js';

const bytes = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/**
 * The source rows as read, in a scratch file beside the staging file, so a row that a set rule
 * rejects later (a duplicate key, an orphan, a cycle) reaches the rejects file exactly as it was
 * without a second pass over the source. One packed row per batch keeps the cost of writing them
 * near nothing; reading one back is rare (only for rejects).
 */
/**
 * Records as read, packed for a cheap copy (between threads, into a blob): every cell's text in
 * one string with its end offset. Cloning a few typed arrays and one string costs a fraction of
 * cloning a million small strings, and no JSON is written or parsed on the way.
 */
export interface PackedCells {
  lines: Int32Array;
  widths: Uint16Array;
  ends: Int32Array; // -1: a null cell
  text: string;
  /** The records' faults (rare), by the record's index in the batch; the raw rows table does not keep them. */
  faults?: { record: number; fault: CellFault }[];
}

export function packCells(batch: readonly SourceRecord[]): PackedCells {
  const lines = new Int32Array(batch.length);
  const widths = new Uint16Array(batch.length);
  let n = 0;
  for (const r of batch) n += r.cells.length;
  const ends = new Int32Array(n);
  const parts: string[] = [];
  const faults: NonNullable<PackedCells['faults']> = [];
  let pos = 0;
  let k = 0;
  for (let i = 0; i < batch.length; i++) {
    const r = batch[i]!;
    lines[i] = r.line;
    widths[i] = r.cells.length;
    if (r.faults !== undefined) for (const fault of r.faults) faults.push({ record: i, fault });
    for (const c of r.cells) {
      if (c === null) ends[k++] = -1;
      else {
        parts.push(c);
        pos += c.length;
        ends[k++] = pos;
      }
    }
  }
  const packed: PackedCells = { lines, widths, ends, text: parts.join('') };
  if (faults.length > 0) packed.faults = faults;
  return packed;
}

export function unpackCells(p: PackedCells): SourceRecord[] {
  const out = new Array<SourceRecord>(p.lines.length);
  let k = 0;
  let pos = 0;
  for (let i = 0; i < p.lines.length; i++) {
    const w = p.widths[i]!;
    const cells = new Array<Cell>(w);
    for (let j = 0; j < w; j++) {
      const e = p.ends[k++]!;
      if (e < 0) cells[j] = null;
      else {
        cells[j] = p.text.slice(pos, e);
        pos = e;
      }
    }
    out[i] = { line: p.lines[i]!, cells };
  }
  for (const { record, fault } of p.faults ?? []) (out[record]!.faults ??= []).push(fault);
  return out;
}

export const rawTable = (entity: string): string => `"raw_${entity.replace(/"/g, '""')}"`;

export class RawRowWriter {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;

  constructor(file: string, entity: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = OFF');
    this.db.pragma('synchronous = OFF');
    this.db.exec(`CREATE TABLE IF NOT EXISTS ${rawTable(entity)} (first_line INTEGER PRIMARY KEY, lines BLOB NOT NULL, widths BLOB NOT NULL, ends BLOB NOT NULL, text TEXT NOT NULL)`);
    this.insert = this.db.prepare(`INSERT OR REPLACE INTO ${rawTable(entity)} (first_line, lines, widths, ends, text) VALUES (?, ?, ?, ?, ?)`);
    this.db.exec('BEGIN');
  }

  /** Records in line order, as the reader yields them. */
  addBatch(batch: readonly SourceRecord[]): void {
    if (batch.length > 0) this.addPacked(packCells(batch));
  }

  /** Stores a packed batch; call before its buffers are transferred to another thread. */
  addPacked(p: PackedCells): void {
    if (p.lines.length === 0) return;
    this.insert.run(p.lines[0]!, bytes(p.lines), bytes(p.widths), bytes(p.ends), p.text);
  }

  finish(): void {
    if (this.db.open) {
      if (this.db.inTransaction) this.db.exec('COMMIT');
      this.db.close();
    }
  }
}

/** Finds rows by line in a raw rows table reachable as `raw.<table>` from a connection. */
export class RawRowReader {
  private readonly stmt: Database.Statement;
  private cached: { first: number; rows: Map<number, Cell[]> } | undefined;

  constructor(db: Database.Database, entity: string, schema = 'raw') {
    this.stmt = db.prepare(`SELECT lines, widths, ends, text FROM ${schema}.${rawTable(entity)} WHERE first_line <= ? ORDER BY first_line DESC LIMIT 1`);
  }

  get(line: number): Cell[] | null {
    if (!this.cached || !this.cached.rows.has(line)) {
      const hit = this.stmt.get(line) as { lines: Buffer; widths: Buffer; ends: Buffer; text: string } | undefined;
      if (!hit) return null;
      const view = <T>(b: Buffer, C: new (buf: ArrayBuffer, off: number, len: number) => T, size: number): T => {
        const copy = new Uint8Array(b); // aligned
        return new C(copy.buffer, 0, b.byteLength / size);
      };
      const records = unpackCells({ lines: view(hit.lines, Int32Array, 4), widths: view(hit.widths, Uint16Array, 2), ends: view(hit.ends, Int32Array, 4), text: hit.text });
      this.cached = { first: records[0]?.line ?? 0, rows: new Map(records.map((r) => [r.line, r.cells])) };
    }
    return this.cached.rows.get(line) ?? null;
  }
}
