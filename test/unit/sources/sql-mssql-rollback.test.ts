import tds from 'tedious';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SourceError } from '../../../src/core/errors.js';
import { openSource, type OpenedSource } from '../../../src/sources/index.js';
import { MSSQL_SOURCE_BEGIN, MSSQL_SOURCE_ROLLBACK } from '../../../src/sources/sql.js';

/**
 * A SQL Server source query cannot change the legacy data: what openSql sends through knex and
 * tedious (their own Connection and Request objects) when only the server is played here. The
 * connection's wire methods (connect, execSqlBatch, cancel, close) answer as SQL Server does for
 * the few statements these queries use, keeping a transaction count and the writes it holds:
 * a write is kept when it commits the outermost level or runs outside any transaction, and undone
 * by a ROLLBACK or by the session ending with it open. No SQL Server ran these; the live case is
 * in test/integration/sources/sql.test.ts (FORKLIFT_TEST_MSSQL_URL).
 */

/** What the played server does for one statement of a query. */
type Step = { rows: string[] } | { write: string } | 'commit' | 'rollback' | { error: string };

interface Played {
  /** Every batch sent, in order, with `cancel` where an attention went out. */
  sent: string[];
  /** The writes that persisted in the legacy database. */
  kept: string[];
  closed: number;
}

type FakeConn = tds.Connection & { inTransaction: boolean };
type FakeRequest = tds.Request & { sqlTextOrProcedure: string; callback: (err: Error | null | undefined, rowCount?: number) => void };

function playServer(queries: Record<string, Step[]>): Played {
  const played: Played = { sent: [], kept: [], closed: 0 };
  const session = new WeakMap<object, { depth: number; pending: string[]; cancelled: boolean }>();
  const of = (c: object) => {
    let s = session.get(c);
    if (s === undefined) session.set(c, (s = { depth: 0, pending: [], cancelled: false }));
    return s;
  };
  const meta = { colName: 'x', type: tds.TYPES.NVarChar, dataLength: 200 };
  vi.spyOn(tds.Connection.prototype, 'connect').mockImplementation(function (this: tds.Connection, cb?: (err?: Error) => void) {
    setImmediate(() => cb?.());
  });
  vi.spyOn(tds.Connection.prototype, 'cancel').mockImplementation(function (this: tds.Connection) {
    played.sent.push('cancel');
    of(this).cancelled = true;
    return true;
  });
  vi.spyOn(tds.Connection.prototype, 'close').mockImplementation(function (this: tds.Connection) {
    played.closed++;
    // The session ends: SQL Server rolls back the transaction it left open.
    const s = of(this);
    s.pending = [];
    s.depth = 0;
    (this as FakeConn).inTransaction = false;
    setImmediate(() => this.emit('end'));
  });
  vi.spyOn(tds.Connection.prototype, 'execSqlBatch').mockImplementation(function (this: tds.Connection, request: tds.Request) {
    const c = this as FakeConn;
    const req = request as FakeRequest;
    const text = req.sqlTextOrProcedure;
    played.sent.push(text);
    const s = of(c);
    s.cancelled = false;
    const done = (): void => void req.emit('done', 0, true, []);
    if (text === MSSQL_SOURCE_BEGIN) {
      s.depth += 2;
      c.inTransaction = true;
      return void setImmediate(() => req.callback(null));
    }
    if (text === MSSQL_SOURCE_ROLLBACK) {
      s.pending = [];
      s.depth = 0;
      c.inTransaction = false;
      return void setImmediate(() => req.callback(null));
    }
    const steps = [...(queries[text] ?? [])];
    let metaSent = false;
    const tick = (): void => {
      if (s.cancelled) {
        // The answer to the attention comes a round trip later.
        return void setTimeout(() => req.callback(Object.assign(new Error('Canceled.'), { code: 'ECANCEL' })), 10);
      }
      const step = steps.shift();
      if (step === undefined) return void req.callback(req.error ?? null);
      if (step === 'commit') {
        s.depth--;
        if (s.depth === 0) {
          played.kept.push(...s.pending);
          s.pending = [];
          c.inTransaction = false;
        }
        done();
      } else if (step === 'rollback') {
        s.pending = [];
        s.depth = 0;
        c.inTransaction = false;
        done();
      } else if ('write' in step) {
        if (s.depth > 0) s.pending.push(step.write);
        else played.kept.push(step.write);
        done();
      } else if ('error' in step) {
        req.error = Object.assign(new Error(step.error), { code: 'EREQUEST' });
        done();
      } else {
        // One row a turn of the event loop, as packets arrive.
        if (!metaSent) (req as unknown as NodeJS.EventEmitter).emit('columnMetadata', [meta]);
        metaSent = true;
        const value = step.rows.shift();
        if (value !== undefined) {
          req.emit('row', [{ value, metadata: meta }]);
          steps.unshift(step);
        } else done();
      }
      setImmediate(tick);
    };
    setImmediate(tick);
  });
  return played;
}

const URL = 'mssql://reader:secret@erp.invalid/LEGACY';
const open = (query: string, signal?: AbortSignal): Promise<OpenedSource> => openSource({ format: 'sql', url: URL, query }, { batchSize: 2, ...(signal ? { signal } : {}) });

async function readRows(s: OpenedSource): Promise<unknown[][]> {
  const rows: unknown[][] = [];
  try {
    for await (const batch of s.batches()) for (const r of batch) rows.push(r.cells);
  } finally {
    await s.close();
  }
  return rows;
}

const failure = (p: Promise<unknown>): Promise<unknown> => p.then(() => undefined, (e: unknown) => e);
const ROWS = (n: number): string[] => Array.from({ length: n }, (_, i) => `I-${i + 1}`);

describe('sql source: SQL Server, the query runs in a transaction that is always rolled back', () => {
  beforeEach(() => vi.restoreAllMocks());
  afterEach(() => vi.restoreAllMocks());

  it('a query that deletes then selects: read to the end, then ROLLBACK; the rows stay', async () => {
    const q = 'DELETE FROM ITEMMAST; SELECT 1 AS x';
    const played = playServer({ [q]: [{ write: 'DELETE FROM ITEMMAST' }, { rows: ['1'] }] });
    expect(await readRows(await open(q))).toEqual([['1']]);
    expect(played.sent).toEqual([MSSQL_SOURCE_BEGIN, q, MSSQL_SOURCE_ROLLBACK]);
    expect(played.kept).toEqual([]);
    expect(MSSQL_SOURCE_BEGIN).toMatch(/SET TRANSACTION ISOLATION LEVEL READ COMMITTED;\nBEGIN TRANSACTION;\nBEGIN TRANSACTION;/);
  });

  it('a SELECT whose text holds DELETE is sent as it is and read (no guessing from the words)', async () => {
    const q = "SELECT 'DELETE FROM ITEMMAST' AS x";
    const played = playServer({ [q]: [{ rows: ['DELETE FROM ITEMMAST'] }] });
    expect(await readRows(await open(q))).toEqual([['DELETE FROM ITEMMAST']]);
    expect(played.sent).toEqual([MSSQL_SOURCE_BEGIN, q, MSSQL_SOURCE_ROLLBACK]);
  });

  it('UPDATE … OUTPUT: its rows are read, the update is rolled back', async () => {
    const q = "UPDATE ITEMMAST SET ACTIVE = 0 OUTPUT inserted.ITEMNO WHERE ITEMNO LIKE 'I-%'";
    const played = playServer({ [q]: [{ write: 'UPDATE ITEMMAST' }, { rows: ROWS(3) }] });
    expect(await readRows(await open(q))).toEqual([['I-1'], ['I-2'], ['I-3']]);
    expect(played.kept).toEqual([]);
    expect(played.sent.at(-1)).toBe(MSSQL_SOURCE_ROLLBACK);
  });

  it('a read stopped early: the query is cancelled, then rolled back', async () => {
    const q = 'EXEC dbo.ArchiveAndList';
    const played = playServer({ [q]: [{ write: 'INSERT INTO ITEMARCH' }, { rows: ROWS(50) }] });
    const s = await open(q);
    for await (const batch of s.batches()) {
      expect(batch).toHaveLength(2);
      break;
    }
    await s.close();
    expect(played.sent).toEqual([MSSQL_SOURCE_BEGIN, q, 'cancel', MSSQL_SOURCE_ROLLBACK]);
    expect(played.kept).toEqual([]);
  });

  it('a query that fails after writing: a SourceError, and the write rolled back', async () => {
    const q = 'DELETE FROM ITEMMAST; SELECT 1/0 AS x';
    const played = playServer({ [q]: [{ write: 'DELETE FROM ITEMMAST' }, { error: 'Divide by zero error encountered.' }] });
    const e = await failure(open(q).then(readRows));
    expect(e).toBeInstanceOf(SourceError);
    expect((e as SourceError).message).toMatch(/Divide by zero/);
    // Failed before its first row: the connection is closed, and the session ending rolls back.
    expect(played.sent).toEqual([MSSQL_SOURCE_BEGIN, q]);
    expect(played.closed).toBeGreaterThan(0);
    expect(played.kept).toEqual([]);

    const q2 = 'SELECT ITEMNO FROM ITEMMAST; DELETE FROM ITEMMAST; RAISERROR(...)';
    const played2 = playServer({ [q2]: [{ rows: ROWS(3) }, { write: 'DELETE FROM ITEMMAST' }, { error: 'stop here' }] });
    const e2 = await failure(open(q2).then(readRows));
    expect((e2 as SourceError).message).toMatch(/the query failed after 3 rows: stop here/);
    expect(played2.sent).toEqual([MSSQL_SOURCE_BEGIN, q2, MSSQL_SOURCE_ROLLBACK]);
    expect(played2.kept).toEqual([]);
  });

  it('a query without a result set (a bare DELETE) is refused and rolled back', async () => {
    const q = 'DELETE FROM ITEMMAST';
    const played = playServer({ [q]: [{ write: 'DELETE FROM ITEMMAST' }] });
    const e = await failure(open(q));
    expect(e).toBeInstanceOf(SourceError);
    expect((e as SourceError).message).toMatch(/returns no columns/);
    expect(played.sent).toEqual([MSSQL_SOURCE_BEGIN, q, MSSQL_SOURCE_ROLLBACK]);
    expect(played.kept).toEqual([]);
  });

  it('Ctrl-C: the query is cancelled and its connection closed, which rolls back', async () => {
    const q = 'UPDATE ITEMMAST SET ACTIVE = 0; SELECT ITEMNO FROM ITEMMAST';
    const played = playServer({ [q]: [{ write: 'UPDATE ITEMMAST' }, { rows: ROWS(1000) }] });
    const ac = new AbortController();
    const s = await open(q, ac.signal);
    const e = await failure(
      (async () => {
        for await (const batch of s.batches(ac.signal)) {
          expect(batch).toHaveLength(2);
          ac.abort(new Error('interrupted'));
        }
      })(),
    );
    expect((e as Error).message).toBe('interrupted');
    expect(played.sent).toEqual([MSSQL_SOURCE_BEGIN, q, 'cancel']);
    expect(played.closed).toBeGreaterThan(0);
    expect(played.kept).toEqual([]);
  });

  it('a COMMIT in the query commits nothing (the transaction is two levels deep)', async () => {
    const q = 'DELETE FROM ITEMMAST; COMMIT; SELECT 1 AS x';
    const played = playServer({ [q]: [{ write: 'DELETE FROM ITEMMAST' }, 'commit', { rows: ['1'] }] });
    expect(await readRows(await open(q))).toEqual([['1']]);
    expect(played.kept).toEqual([]);
  });

  it('a query that ends the transaction itself is stopped at once and fails, saying what may have been kept', async () => {
    const q = 'ROLLBACK; DELETE FROM ITEMMAST; SELECT 1 AS x';
    const played = playServer({ [q]: ['rollback', { write: 'DELETE FROM ITEMMAST' }, { rows: ['1'] }] });
    const e = await failure(open(q).then(readRows));
    expect(e).toBeInstanceOf(SourceError);
    expect((e as SourceError).message).toMatch(/the query ended the transaction forklift reads in \(a COMMIT or ROLLBACK of its own\), so a change it made after that may have been kept/);
    expect((e as SourceError).hint).toMatch(/must only read/);
    // Here the attention arrives before the DELETE runs; a real server may have run it already.
    expect(played.sent.slice(0, 3)).toEqual([MSSQL_SOURCE_BEGIN, q, 'cancel']);

    const q2 = 'DELETE FROM ITEMMAST; COMMIT; COMMIT; SELECT 1 AS x';
    const played2 = playServer({ [q2]: [{ write: 'DELETE FROM ITEMMAST' }, 'commit', 'commit', { rows: ['1'] }] });
    const e2 = await failure(open(q2).then(readRows));
    expect((e2 as SourceError).message).toMatch(/ended the transaction/);
    expect(played2.kept).toEqual(['DELETE FROM ITEMMAST']); // committed by the query: told, not hidden
  });
});
