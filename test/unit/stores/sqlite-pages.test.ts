import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { compareText } from '../../../src/bundle/order.js';
import type { Entity } from '../../../src/model/types.js';
import { READ_ROWS_BATCH, RowBatcher, nativeColumnsFor, type NativeColumn } from '../../../src/stores/read-common.js';
import { sqliteReadPlan, sqliteReadRows, sqliteTable } from '../../../src/stores/read-sqlite.js';
import { tempDir } from '../../helpers.js';

/**
 * SQLite tables read a page at a time (keyset pages inside one read transaction: the reader's own,
 * or its caller's, a store snapshot's) must give exactly the rows, batches and order of one
 * statement read row by row, which is the reference here.
 */

const CODES = ['apple', 'Apple', 'äpple', 'b ', 'b!', 'b\t', 'x\u{1F600}', 'x\uFB01', 'x\uFFFD', 'Z', 'z', '0', '10', '9', 'é', 'e'];

function read(db: Database.Database, e: Entity, where?: { column: string; before: string }): unknown[][][] {
  const t = sqliteTable(db, e.name)!;
  const native = nativeColumnsFor(e, t);
  if (!Array.isArray(native)) throw new Error(`no column ${native.missing}`);
  return [...sqliteReadRows(db, e, native, undefined, where)];
}

/** The read plan's statement, row by row, in batches as the reader makes them. */
function reference(db: Database.Database, e: Entity, where?: { column: string; before: string }): unknown[][][] {
  const plan = sqliteReadPlan(e, nativeColumnsFor(e, sqliteTable(db, e.name)!) as NativeColumn[], where);
  const b = new RowBatcher(plan.decode);
  const out: unknown[][][] = [];
  for (const r of db.prepare(plan.sql).raw(true).safeIntegers(true).iterate(...plan.params) as IterableIterator<unknown[]>) {
    const full = b.push(r);
    if (full) out.push(full);
  }
  const last = b.rest();
  if (last) out.push(last);
  return out;
}

const events: Entity = {
  name: 'events',
  columns: [
    { name: 'code', type: 'string', length: 16, required: true },
    { name: 'ts', type: 'timestamp', required: true },
    { name: 'n', type: 'integer', required: false },
    { name: 'note', type: 'text', required: false },
  ],
  primaryKey: ['code', 'ts'],
  rules: [],
};

function eventsDb(): Database.Database {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE events (code TEXT NOT NULL, ts TEXT NOT NULL, n INTEGER, note TEXT, PRIMARY KEY (code, ts)) STRICT, WITHOUT ROWID');
  const ins = db.prepare('INSERT INTO events VALUES (?, ?, ?, ?)');
  db.transaction(() => {
    // 16 codes x 200 instants: pages cut inside a code's run of rows, and the last page is short.
    for (const [i, code] of CODES.entries()) {
      for (let k = 0; k < 200; k++) ins.run(code, `2024-01-01T00:${String(Math.floor(k / 60)).padStart(2, '0')}:${String(k % 60).padStart(2, '0')}.000Z`, k % 7 === 0 ? null : BigInt(i) * 2n ** 53n + BigInt(k), k % 5 === 0 ? '' : `n${k}`);
    }
  })();
  return db;
}

describe('SQLite reads a page at a time', () => {
  it('gives the rows, batches and order of a row-by-row read, the key in code point order', () => {
    const db = eventsDb();
    const paged = read(db, events);
    const rows = paged.flat();
    expect(rows).toHaveLength(CODES.length * 200);
    expect(paged.map((b) => b.length)).toEqual([...Array<number>(Math.floor(rows.length / READ_ROWS_BATCH)).fill(READ_ROWS_BATCH), rows.length % READ_ROWS_BATCH]);
    expect(paged).toEqual(reference(db, events));
    expect([...new Set(rows.map((r) => r[0]))]).toEqual([...CODES].sort(compareText));
    // Integers beyond 2^53 come back exact (as text), and bind back exactly as the next page's start.
    expect(rows.some((r) => typeof r[2] === 'string' && BigInt(r[2]) > 2n ** 53n)).toBe(true);
  });

  it('with a cut-off (purge): only the rows before it, as a row-by-row read gives them', () => {
    const db = eventsDb();
    const where = { column: 'ts', before: '2024-01-01T00:02:00.000Z' };
    const paged = read(db, events, where);
    expect(paged.flat()).toHaveLength(CODES.length * 120);
    expect(paged).toEqual(reference(db, events, where));
  });

  it('is one snapshot: a row committed by another connection between two pages is not read', () => {
    const file = path.join(tempDir('forklift-pages-'), 'store.db');
    eventsDb().exec(`VACUUM INTO '${file}'`);
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    const other = new Database(file);
    const t = sqliteTable(db, 'events')!;
    const native = nativeColumnsFor(events, t) as Exclude<ReturnType<typeof nativeColumnsFor>, { missing: string }>;
    const it = sqliteReadRows(db, events, native);
    const first = it.next();
    expect(first.done).toBe(false);
    other.prepare('INSERT INTO events VALUES (?, ?, ?, ?)').run('zzz', '2024-01-01T00:00:00.000Z', 1, 'late');
    const rest = [...{ [Symbol.iterator]: () => it }].flat();
    expect([...(first.value as unknown[][]), ...rest]).toHaveLength(CODES.length * 200);
    expect(db.inTransaction).toBe(false);
    expect(read(db, events).flat()).toHaveLength(CODES.length * 200 + 1);
    db.close();
    other.close();
  });

  it("pages inside the caller's read transaction too (a store snapshot's), which stays open", () => {
    const db = eventsDb();
    const prepared: string[] = [];
    const prepare = db.prepare.bind(db);
    vi.spyOn(db, 'prepare').mockImplementation((sql: string) => (prepared.push(sql), prepare(sql)));
    db.exec('BEGIN');
    const paged = read(db, events);
    expect(db.inTransaction).toBe(true);
    db.exec('COMMIT');
    expect(prepared.filter((sql) => !sql.startsWith('EXPLAIN') && sql.includes(` LIMIT ${READ_ROWS_BATCH}`))).toHaveLength(2);
    expect(paged).toEqual(reference(db, events));
  });

  it('falls back to one statement where pages would be wrong or slow: another collation, a key that may be NULL', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE nocase (k TEXT COLLATE NOCASE NOT NULL PRIMARY KEY, v INTEGER); CREATE TABLE loose (k TEXT PRIMARY KEY, v INTEGER)');
    const keys = Array.from({ length: 2500 }, (_, i) => (i % 2 ? `K${i}` : `k${i}`));
    db.transaction(() => {
      for (const [i, k] of keys.entries()) {
        db.prepare('INSERT INTO nocase VALUES (?, ?)').run(k, i);
        db.prepare('INSERT INTO loose VALUES (?, ?)').run(i === 3 ? null : k, i);
      }
    })();
    for (const name of ['nocase', 'loose']) {
      const e: Entity = { name, columns: [{ name: 'k', type: 'text', required: name === 'nocase' }, { name: 'v', type: 'integer', required: false }], primaryKey: ['k'], rules: [] };
      const got = read(db, e);
      expect(got, name).toEqual(reference(db, e));
      expect(got.flat(), name).toHaveLength(2500);
    }
  });
});
