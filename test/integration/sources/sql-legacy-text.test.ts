import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceError } from '../../../src/core/errors.js';
import { runPlan } from '../../../src/run/pipeline.js';
import { openSource } from '../../../src/sources/index.js';
import type { SourceSpec } from '../../../src/sources/types.js';
import { tempDir } from '../../helpers.js';
import { PG_ADMIN_URL, pgUrl, probePg, withPg } from '../stores/live.js';

/**
 * Text of a legacy PostgreSQL database created with ENCODING 'SQL_ASCII' (old ERP systems): the
 * bytes the application wrote, Windows-1252 here. Asked for UTF-8, the server refused the whole
 * query at the first such byte; now every value is exact (source.encoding) or its row is
 * rejected naming the column and the fix. The database is the file's own (fs_…), dropped at the end.
 */

const pgDown = await probePg();
if (pgDown !== null) console.warn(`PostgreSQL is not reachable (${pgDown}): the SQL_ASCII source tests are skipped`);

describe.skipIf(pgDown !== null && !process.env.CI)('sql source: a SQL_ASCII PostgreSQL database', () => {
  const name = `fs_sqlascii_${randomBytes(5).toString('hex')}`;
  const url = pgUrl(name);
  const utf8Db = `fs_utf8_${randomBytes(5).toString('hex')}`;

  beforeAll(async () => {
    await withPg(PG_ADMIN_URL, async (c) => {
      await c.query(`CREATE DATABASE ${name} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
      await c.query(`CREATE DATABASE ${utf8Db}`);
    });
    await withPg(url, (c) =>
      // E'\xFC' makes the byte itself, as the legacy application wrote it (Windows-1252 ü).
      c.query(`CREATE TABLE itemmast (itemno char(8), descr varchar(40), tags text[], qty numeric(12,3), changed date);
        INSERT INTO itemmast VALUES
          ('A-1', E'M\\xFCller Getriebe \\x80 5', ARRAY[E'Gr\\xF6\\xDFe'], 1.5, '2024-03-01'),
          ('A-2', 'Zahnrad', NULL, NULL, NULL),
          ('A-3', E'real \\xEF\\xBF\\xBD kept', NULL, 2, NULL),
          (E'\\xC4-4', E'Caf\\xC3\\xA9', NULL, 3, NULL),
          ('A-5', E'bad \\x81 byte', NULL, 4, NULL)`),
    );
  });

  afterAll(async () => {
    await withPg(PG_ADMIN_URL, async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.query(`DROP DATABASE IF EXISTS ${utf8Db} WITH (FORCE)`);
    });
  });

  async function rows(extra: Partial<SourceSpec>, query = 'SELECT * FROM itemmast ORDER BY itemno') {
    const s = await openSource({ format: 'sql', url, query, ...extra }, { batchSize: 2 });
    const out: { cells: (string | null)[]; faults: unknown }[] = [];
    try {
      for await (const b of s.batches()) for (const r of b) out.push({ cells: r.cells, faults: r.faults });
    } finally {
      await s.close();
    }
    return { header: s.header, out };
  }

  it('without encoding: every value that is not UTF-8 is a fault of its cell naming its bytes and encoding:, the rest exact (a stored U+FFFD too)', async () => {
    const { header, out } = await rows({});
    expect(header).toEqual(['itemno', 'descr', 'tags', 'qty', 'changed']);
    // ORDER BY itemno in C collation: bytes order, \xC4 last
    expect(out.map((r) => r.cells)).toEqual([
      ['A-1     ', null, null, '1.500', '2024-03-01'],
      ['A-2     ', 'Zahnrad', null, null, null],
      ['A-3     ', 'real \uFFFD kept', null, '2.000', null],
      ['A-5     ', null, null, '4.000', null],
      [null, 'Café', null, '3.000', null],
    ]);
    expect(out[0]!.faults).toEqual([
      { index: 1, ref: 'row 1', rule: 'encoding', reason: expect.stringMatching(/^is not valid UTF-8: "M\\xFCller Getriebe \\x80 5" .*SQL_ASCII.*set encoding: in the mapping's source .*windows-1252/) },
      { index: 2, ref: 'row 1', rule: 'encoding', reason: expect.stringContaining('"{Gr\\xF6\\xDFe}"') },
    ]);
    expect(out[1]!.faults).toBeUndefined();
    expect(out[2]!.faults).toBeUndefined();
    expect(out[3]!.faults).toEqual([{ index: 1, ref: 'row 4', rule: 'encoding', reason: expect.stringContaining('"bad \\x81 byte"') }]);
    expect(out[4]!.faults).toEqual([{ index: 0, ref: 'row 5', rule: 'encoding', reason: expect.stringContaining('"\\xC4-4     "') }]);
  });

  it('encoding: windows-1252 reads every value exactly; UTF-8 in it and a byte undefined there are faults, allow_valid_utf8 insists', async () => {
    const { out } = await rows({ encoding: 'windows-1252' });
    expect(out.map((r) => r.cells)).toEqual([
      ['A-1     ', 'Müller Getriebe € 5', '{Größe}', '1.500', '2024-03-01'],
      ['A-2     ', 'Zahnrad', null, null, null],
      // EF BF BD reads as three letters in windows-1252, and is valid UTF-8: a fault below
      ['A-3     ', null, null, '2.000', null],
      ['A-5     ', null, null, '4.000', null],
      ['Ä-4     ', null, null, '3.000', null],
    ]);
    expect(out[0]!.faults).toBeUndefined();
    expect(out[2]!.faults).toEqual([{ index: 1, ref: 'row 3', rule: 'encoding', reason: expect.stringMatching(/^is UTF-8 \("real \uFFFD kept"\)/) }]);
    expect(out[3]!.faults).toEqual([{ index: 1, ref: 'row 4', rule: 'encoding', reason: expect.stringMatching(/^holds a byte that is no character in windows-1252: "bad \\x81 byte"/) }]);
    expect(out[4]!.faults).toEqual([{ index: 1, ref: 'row 5', rule: 'encoding', reason: expect.stringMatching(/^is UTF-8 \("Café"\), which windows-1252 would read as "CafÃ©": .*allow_valid_utf8: true/) }]);
    const insisted = await rows({ encoding: 'windows-1252', allow_valid_utf8: true }, "SELECT descr FROM itemmast WHERE qty = 3");
    expect(insisted.out).toEqual([{ cells: ['CafÃ©'], faults: undefined }]);
  });

  it('encoding: on a database that declares its encoding, or an unknown name, is refused (exit 2)', async () => {
    const e = await openSource({ format: 'sql', url: pgUrl(utf8Db), query: 'SELECT 1', encoding: 'windows-1252' }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(SourceError);
    expect((e as SourceError).exitCode).toBe(2);
    expect((e as Error).message).toMatch(/this one's encoding is UTF8, which PostgreSQL converts to UTF-8 itself/);
    const unknown = await openSource({ format: 'sql', url, query: 'SELECT 1', encoding: 'klingon' }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect((unknown as Error).message).toBe("unknown encoding 'klingon'");
  });

  it('end to end: rows that are not UTF-8 are rejected (rule encoding), never loaded altered; with encoding: windows-1252 they load exactly', async () => {
    const migrate = async (encoding: string) => {
      const dir = tempDir('fs-sqlascii-run-');
      writeFileSync(
        path.join(dir, 'items.yaml'),
        ['entity: items', 'source:', '  format: sql', `  url: ${JSON.stringify(url)}`, "  query: SELECT * FROM itemmast WHERE itemno IN ('A-1', 'A-2')", encoding, 'fields:', '  item_code: { from: itemno, clean: [trim] }', '  description: { from: descr }', '  uom: { const: EA }', '  active: { const: true }', ''].join('\n'),
      );
      writeFileSync(path.join(dir, 'forklift.yaml'), 'name: enc\ntarget: sqlite:./t.db\nmappings: [items.yaml]\nreject_limit: 100%\n');
      const result = await runPlan({ plan: path.join(dir, 'forklift.yaml'), command: 'migrate' });
      const l = result.entities[0]!;
      const db = new Database(path.join(dir, 't.db'), { readonly: true });
      try {
        const loaded = db.prepare('SELECT item_code, description FROM items ORDER BY item_code').raw().all();
        return { l, loaded, rejects: l.rejects_file ? readFileSync(path.join(dir, l.rejects_file), 'utf8') : '' };
      } finally {
        db.close();
      }
    };
    const plain = await migrate('');
    expect({ read: plain.l.read, loaded: plain.l.loaded, rejected: plain.l.rejected }).toEqual({ read: 2, loaded: 1, rejected: 1 });
    expect(plain.l.rejects_by_rule).toEqual({ encoding: 1 });
    expect(plain.loaded).toEqual([['A-2', 'Zahnrad']]);
    expect(plain.rejects).toContain('column descr (row 1) is not valid UTF-8: ""M\\xFCller Getriebe \\x80 5""');
    const named = await migrate('  encoding: windows-1252');
    expect(named.l.rejected).toBe(0);
    expect(named.loaded).toEqual([
      ['A-1', 'Müller Getriebe € 5'],
      ['A-2', 'Zahnrad'],
    ]);
  });
});
