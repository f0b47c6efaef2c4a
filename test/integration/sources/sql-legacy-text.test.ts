import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SourceError } from '../../../src/core/errors.js';
import { runPlan } from '../../../src/run/pipeline.js';
import { openSource } from '../../../src/sources/index.js';
import type { SourceSpec } from '../../../src/sources/types.js';
import { tempDir } from '../../helpers.js';
import { readAll } from '../../unit/sources/read-all.js';
import { MysqlDatabases, PG_ADMIN_URL, pgUrl, probeMysql, probePg, withMysql, withPg } from '../stores/live.js';

/**
 * Text of a legacy PostgreSQL database created with ENCODING 'SQL_ASCII' (old ERP systems): the
 * bytes the application wrote, Windows-1252 here. Asked for UTF-8, the server refused the whole
 * query at the first such byte; now every value is exact (source.encoding) or its row is
 * rejected naming the column and the fix. MariaDB sent '?' for a byte its column's character set
 * has no character for. The databases are the file's own (fs_…), dropped at the end.
 */

/** The header, and each row's cells and faults, of a source read whole. */
async function cellsAndFaults(spec: SourceSpec, batchSize?: number) {
  const r = await readAll(spec, batchSize === undefined ? {} : { batchSize });
  return { header: r.source.header, out: r.records.map((rec) => ({ cells: rec.cells, faults: rec.faults })) };
}

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

  const rows = (extra: Partial<SourceSpec>, query = 'SELECT * FROM itemmast ORDER BY itemno') => cellsAndFaults({ format: 'sql', url, query, ...extra }, 2);

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

describe.skipIf(pgDown !== null && !process.env.CI)('sql source: a LATIN1 PostgreSQL database that holds Windows-1252 text', () => {
  const name = `fl_latin1_${randomBytes(5).toString('hex')}`;
  const url = pgUrl(name);

  beforeAll(async () => {
    await withPg(PG_ADMIN_URL, (c) => c.query(`CREATE DATABASE ${name} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`));
    // The bytes a legacy Windows application wrote: € as 0x80, „ “ as 0x84 0x93, – as 0x96.
    await withPg(url, (c) =>
      c.query(`SET client_encoding TO 'LATIN1';
        CREATE TABLE itemmast (itemno char(8), descr varchar(40), qty numeric(12,3));
        INSERT INTO itemmast VALUES
          ('A-1', E'M\\xFCller \\x84Getriebe\\x93 \\x96 \\x80 5', 1.5),
          ('A-2', E'Zahnrad gr\\xFCn', 2),
          (E'A-3\\x80', 'plain', NULL);
        -- UTF-8 written into LATIN1 by a newer program: the euro sign as E2 82 AC
        CREATE TABLE doubled (descr text);
        INSERT INTO doubled VALUES (E'Preis \\xE2\\x82\\xAC 5 gr\\xC3\\xBCn')`),
    );
  });

  afterAll(() => withPg(PG_ADMIN_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)));

  const rows = (extra: Partial<SourceSpec>) => cellsAndFaults({ format: 'sql', url, query: 'SELECT * FROM itemmast ORDER BY itemno', ...extra }, 2);

  it('without encoding: a value holding a C1 control character (0x80–0x9F read as LATIN1) rejects its row naming windows-1252; the rest reads as before', async () => {
    const { out } = await rows({});
    expect(out.map((r) => r.cells)).toEqual([
      ['A-1     ', null, '1.500'],
      ['A-2     ', 'Zahnrad grün', '2.000'],
      [null, 'plain', null],
    ]);
    expect(out[0]!.faults).toEqual([
      { index: 1, ref: 'row 1', rule: 'encoding', reason: expect.stringMatching(/^holds a C1 control character .*declared LATIN1, and probably holds windows-1252 .*set encoding: windows-1252 in the mapping's source \(at character 8 of "Müller \\u0084Getriebe\\u0093/) },
    ]);
    expect(out[1]!.faults).toBeUndefined();
    expect(out[2]!.faults).toEqual([{ index: 0, ref: 'row 3', rule: 'encoding', reason: expect.stringContaining('windows-1252') }]);
  });

  it('encoding: windows-1252 reads the stored bytes: € „ “ – exactly', async () => {
    const { out } = await rows({ encoding: 'windows-1252' });
    expect(out.map((r) => r.cells)).toEqual([
      ['A-1     ', 'Müller „Getriebe“ – € 5', '1.500'],
      ['A-2     ', 'Zahnrad grün', '2.000'],
      ['A-3€    ', 'plain', null],
    ]);
    expect(out.every((r) => r.faults === undefined)).toBe(true);
  });

  it('UTF-8 written into it: the reject says encoding: utf-8, which reads it exactly', async () => {
    const plain = await cellsAndFaults({ format: 'sql', url, query: 'SELECT descr FROM doubled' });
    expect(plain.out).toEqual([{ cells: [null], faults: [{ index: 0, ref: 'row 1', rule: 'encoding', reason: expect.stringMatching(/its bytes here are UTF-8 .*set encoding: utf-8 in the mapping's source \(at character 8 of "Preis â\\u0082¬ 5 grÃ¼n"\)$/) }] }]);
    const named = await cellsAndFaults({ format: 'sql', url, query: 'SELECT descr FROM doubled', encoding: 'utf-8' });
    expect(named.out).toEqual([{ cells: ['Preis € 5 grün'], faults: undefined }]);
  });

  it('a query that cannot run as a subquery is checked all the same', async () => {
    const { out } = await cellsAndFaults({ format: 'sql', url, query: "SELECT descr FROM itemmast WHERE itemno = 'A-1' -- last" });
    expect(out[0]!.faults).toEqual([{ index: 0, ref: 'row 1', rule: 'encoding', reason: expect.stringContaining('set encoding: windows-1252') }]);
  });
});

const myDown = await probeMysql();
if (myDown !== null) console.warn(`MariaDB is not reachable (${myDown}): its legacy text tests are skipped`);

describe.skipIf(myDown !== null && !process.env.CI)('sql source: MariaDB text in the character set its column declares', () => {
  const dbs = new MysqlDatabases('fs_');
  let url = '';

  beforeAll(async () => {
    const db = await dbs.create();
    url = db.url;
    await withMysql(db.name, async (c) => {
      // The bytes as a legacy application wrote them: SET NAMES binary stores them unconverted.
      await c.query("SET SESSION sql_mode = ''");
      await c.query(`CREATE TABLE legacy (id INT, a VARCHAR(20) CHARACTER SET ascii, l VARCHAR(20) CHARACTER SET latin1,
        g VARCHAR(20) CHARACTER SET latin2, u VARCHAR(20) CHARACTER SET utf8mb4, t TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_uca1400_ai_ci)`);
      await c.query('SET NAMES binary');
      await c.query(`INSERT INTO legacy VALUES
        (1, X'4DFC6C6C6572', X'4DFC6C6C657220808D', X'B1', X'4DC3BC', X'F09F918B'),
        (2, 'plain', X'4DC3BC6C6C6572', 'x', 'y', 'z')`);
    });
  });

  afterAll(() => dbs.dropAll());

  const rows = async (extra: Partial<SourceSpec>) => (await cellsAndFaults({ format: 'sql', url, query: "SELECT *, 'Grüße' AS lit FROM legacy ORDER BY id", ...extra })).out;

  it("an ascii column holding 0xFC is a fault naming its bytes, never 'M?ller'; latin1 (€, 0x8D), latin2 and 4-byte UTF-8 read exactly", async () => {
    const out = await rows({});
    expect(out.map((r) => r.cells)).toEqual([
      ['1', null, 'Müller €\u008D', 'ą', 'Mü', '👋', 'Grüße'],
      ['2', 'plain', 'MÃ¼ller', 'x', 'y', 'z', 'Grüße'],
    ]);
    expect(out[0]!.faults).toEqual([{ index: 1, ref: 'row 1', rule: 'encoding', reason: expect.stringMatching(/^holds bytes beyond ASCII: "M\\xFCller" \(the column is declared ascii, .*'\?'\): set encoding: .*windows-1252/) }]);
    expect(out[1]!.faults).toBeUndefined();
  });

  it('encoding: names what the latin1 and ascii columns really hold; columns of other sets keep theirs', async () => {
    const cp = await rows({ encoding: 'windows-1252' });
    expect(cp.map((r) => r.cells)).toEqual([
      ['1', 'Müller', null, 'ą', 'Mü', '👋', 'Grüße'],
      ['2', 'plain', null, 'x', 'y', 'z', 'Grüße'],
    ]);
    expect(cp[0]!.faults).toEqual([{ index: 2, ref: 'row 1', rule: 'encoding', reason: expect.stringMatching(/^holds a byte that is no character in windows-1252: "M\\xFCller \\x80\\x8D"/) }]);
    expect(cp[1]!.faults).toEqual([{ index: 2, ref: 'row 2', rule: 'encoding', reason: expect.stringMatching(/^is UTF-8 \("Müller"\)/) }]);
    // A latin1 column filled with UTF-8 (the classic double encoding) reads right as utf-8.
    const u = await rows({ encoding: 'utf-8' });
    expect(u[1]!.cells[2]).toBe('Müller');
    expect(u[0]!.faults).toEqual([
      { index: 1, ref: 'row 1', rule: 'encoding', reason: expect.stringMatching(/^is not valid UTF-8: "M\\xFCller"/) },
      { index: 2, ref: 'row 1', rule: 'encoding', reason: expect.stringMatching(/^is not valid UTF-8: "M\\xFCller \\x80\\x8D"/) },
    ]);
  });
});

describe('sql source: a SQLite file whose TEXT holds Windows-1252 bytes', () => {
  const file = path.join(tempDir('fl-sqlite-enc-'), 'legacy.db');
  const url = `sqlite:${file}`;

  beforeAll(() => {
    const db = new Database(file);
    // The bytes a legacy Windows program stored as TEXT: ü as 0xFC, € as 0x80, „ “ as 0x84 0x93.
    db.exec(`CREATE TABLE itemmast (itemno TEXT, descr TEXT, qty REAL);
      INSERT INTO itemmast VALUES
        ('A-1', CAST(X'${iconv.encode('Müller „Getriebe“ € 5', 'windows-1252').toString('hex')}' AS TEXT), 1.5),
        ('A-2', 'Zahnrad', 2),
        ('A-3', 'Café', 3),
        ('A-4', CAST(X'${Buffer.from('bad \x81 byte', 'latin1').toString('hex')}' AS TEXT), 4),
        ('A-5', 'real \uFFFD kept', 5)`);
    db.close();
  });

  const rows = async (extra: Partial<SourceSpec>) => (await cellsAndFaults({ format: 'sql', url, query: 'SELECT * FROM itemmast ORDER BY itemno', ...extra }, 2)).out;

  it('without encoding: the value that is not UTF-8 rejects its row, naming its bytes and encoding:', async () => {
    const out = await rows({});
    expect(out.map((r) => r.cells[1])).toEqual([null, 'Zahnrad', 'Café', null, 'real \uFFFD kept']);
    expect(out[0]!.faults).toEqual([{ index: 1, ref: 'row 1', rule: 'encoding', reason: expect.stringMatching(/^is not valid UTF-8: "M\\xFCller .*set encoding: in the mapping's source .*e\.g\. encoding: windows-1252/) }]);
  });

  it('encoding: windows-1252 reads its bytes exactly; valid UTF-8 beyond ASCII and a byte undefined there reject their row, allow_valid_utf8 insists', async () => {
    const out = await rows({ encoding: 'windows-1252' });
    expect(out.map((r) => r.cells)).toEqual([
      ['A-1', 'Müller „Getriebe“ € 5', '1.5'],
      ['A-2', 'Zahnrad', '2'],
      ['A-3', null, '3'],
      ['A-4', null, '4'],
      ['A-5', null, '5'],
    ]);
    expect(out[0]!.faults).toBeUndefined();
    expect(out[2]!.faults).toEqual([{ index: 1, ref: 'row 3', rule: 'encoding', reason: expect.stringMatching(/^is UTF-8 \("Café"\), which windows-1252 would read as "CafÃ©": .*allow_valid_utf8: true/) }]);
    expect(out[3]!.faults).toEqual([{ index: 1, ref: 'row 4', rule: 'encoding', reason: expect.stringMatching(/^holds a byte that is no character in windows-1252: "bad \\x81 byte"/) }]);
    expect(out[4]!.faults).toEqual([{ index: 1, ref: 'row 5', rule: 'encoding', reason: expect.stringMatching(/^is UTF-8 \("real \uFFFD kept"\)/) }]);
    const insisted = await rows({ encoding: 'windows-1252', allow_valid_utf8: true });
    expect(insisted.map((r) => r.cells[1])).toEqual(['Müller „Getriebe“ € 5', 'Zahnrad', 'CafÃ©', null, 'real ï¿½ kept']);
  });
});
