import Database from 'better-sqlite3';
import type { Cell } from '../sources/types.js';

/**
 * The source rows as read, by line, in their own scratch file beside the staging file. The
 * reader thread writes them while it parses (it has idle time; the main thread has none), so a
 * row that a set rule rejects later reaches the rejects file exactly as it was.
 */
export const rawTable = (entity: string): string => `"raw_${entity.replace(/"/g, '""')}"`;

export class RawRowWriter {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;

  constructor(file: string, entity: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = OFF');
    this.db.pragma('synchronous = OFF');
    this.db.exec(`CREATE TABLE IF NOT EXISTS ${rawTable(entity)} (line INTEGER PRIMARY KEY, raw TEXT NOT NULL)`);
    this.insert = this.db.prepare(`INSERT OR REPLACE INTO ${rawTable(entity)} (line, raw) VALUES (?, ?)`);
    this.db.exec('BEGIN');
  }

  add(line: number, cells: readonly Cell[]): void {
    this.insert.run(line, JSON.stringify(cells));
  }

  finish(): void {
    if (this.db.open) {
      if (this.db.inTransaction) this.db.exec('COMMIT');
      this.db.close();
    }
  }
}
