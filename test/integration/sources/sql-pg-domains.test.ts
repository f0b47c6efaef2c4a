import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Entity } from '../../../src/model/types.js';
import { runPlan } from '../../../src/run/pipeline.js';
import { openStore } from '../../../src/stores/index.js';
import type { SourceSpec } from '../../../src/sources/types.js';
import { tempDir } from '../../helpers.js';
import { readAll } from '../../unit/sources/read-all.js';
import { PG_DOMAINS_DDL, PG_NON_ISO_DEFAULTS, pgNonIsoDatabase } from '../pg-domains.js';
import { PG_ADMIN_URL, liveServers, pgUrl, withPg } from '../stores/live.js';

/**
 * A legacy PostgreSQL database whose columns are DOMAINs (over date, timestamp, timestamptz,
 * numeric, boolean, integers, text, an enum, an array; a domain over a domain), enums, citext and
 * arrays, on a server whose sessions default to DateStyle 'SQL, DMY' and a zone other than UTC (as
 * the database says: ALTER DATABASE … SET). Every such column reads as its base type does, never
 * as the text the session's defaults give it (`04/03/2024`), and the values land exactly in every
 * target. A LATIN1 database read without `encoding:` runs the source query once, never a probe of
 * it before. The databases are this file's own (fs_dom_…), dropped at the end.
 */

const { pgDown, myDown, pgDbs, myDbs } = await liveServers('sql-pg-domains.test.ts', 'fs_dom_');

const LEGACY_DDL = `${PG_DOMAINS_DDL}
  CREATE TABLE legacy (id int, d day2, ts stamp2, tstz instant2, amt amount2, ok yesno2, q qty2, big bigqty, r ratio,
    st state, st2 state2, nm label2, arr days, darr day[]);
  INSERT INTO legacy VALUES
    (1, '2024-03-04', '2024-03-04 06:07:08.123', '2024-03-04 06:07:08+01', 123456789012.345678, true, 7, 9007199254740993, 0.1,
     'Größe', 'RUN', 'Müller', '{2024-03-04,2024-12-31}', ARRAY['2024-03-04'::day]),
    (2, '1999-12-31', '2024-10-27 02:30:00', '1999-12-31 23:59:59.5-05', -0.000001, false, -3, -1, 1e20,
     'IDLE', 'Größe', '', '{}', NULL),
    (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`;

/** What every column above reads as: exactly what its base type reads as. */
const LEGACY_ROWS = [
  ['1', '2024-03-04', '2024-03-04T06:07:08.123', '2024-03-04T05:07:08+00:00', '123456789012.345678', 'true', '7', '9007199254740993', '0.1', 'Größe', 'RUN', 'Müller', '{2024-03-04,2024-12-31}', '{2024-03-04}'],
  ['2', '1999-12-31', '2024-10-27T02:30:00', '2000-01-01T04:59:59.5+00:00', '-0.000001', 'false', '-3', '-1', '100000000000000000000', 'IDLE', 'Größe', '', '{}', null],
  ['3', null, null, null, null, null, null, null, null, null, null, null, null, null],
];

/** The same columns cast to their base types in the query: the reference the domains must match. */
const BASE_QUERY =
  'SELECT id, d::date, ts::timestamp(3), tstz::timestamptz, amt::numeric(18,6), ok::boolean, q::integer, big::bigint, r::float8, st, st2::state, nm::text, arr::date[], darr::date[] FROM legacy ORDER BY id';

async function legacyDatabase(ddl: string): Promise<string> {
  const url = await pgNonIsoDatabase(pgDbs);
  // A new session takes the database's defaults: the rows are written under them too.
  await withPg(url, (c) => c.query(ddl));
  return url;
}

const cells = async (spec: SourceSpec): Promise<{ header: string[]; rows: unknown[][] }> => {
  const r = await readAll(spec, { batchSize: 2 });
  expect(r.records.every((x) => x.faults === undefined)).toBe(true);
  return { header: r.source.header, rows: r.records.map((x) => x.cells) };
};

describe.skipIf(pgDown !== null)('sql source: PostgreSQL domains, enums and arrays on a server with DateStyle SQL, DMY', () => {
  let url = '';
  beforeAll(async () => {
    url = await legacyDatabase(LEGACY_DDL);
  });

  it('the database really prints dates as DD/MM/YYYY to a session that does not set its own style', async () => {
    const r = await withPg(url, (c) => c.query<{ d: string; ts: string }>('SELECT d::text AS d, tstz::text AS ts FROM legacy WHERE id = 1'));
    expect(r.rows).toEqual([{ d: '04/03/2024', ts: '04/03/2024 00:07:08 EST' }]);
  });

  it('a domain column (over date, timestamp, timestamptz, numeric, boolean, integers, float, enum, text, an array; a domain over a domain) reads as its base type', async () => {
    const { header, rows } = await cells({ format: 'sql', url, query: 'SELECT * FROM legacy ORDER BY id' });
    expect(header).toEqual(['id', 'd', 'ts', 'tstz', 'amt', 'ok', 'q', 'big', 'r', 'st', 'st2', 'nm', 'arr', 'darr']);
    expect(rows).toEqual(LEGACY_ROWS);
    expect((await cells({ format: 'sql', url, query: BASE_QUERY })).rows).toEqual(LEGACY_ROWS);
  });

  it('an enum, a domain over text and citext read as their text; a function returning a domain reads as its base type', async () => {
    const hasCitext = await withPg(url, async (c) => (await c.query("SELECT 1 FROM pg_available_extensions WHERE name = 'citext'")).rowCount === 1);
    if (hasCitext) {
      await withPg(url, (c) =>
        c.query(`CREATE EXTENSION IF NOT EXISTS citext; CREATE DOMAIN ci_code AS citext;
          CREATE TABLE codes (c citext, dc ci_code); INSERT INTO codes VALUES ('Größe ÄÖÜ', 'a-1 ')`),
      );
      expect((await cells({ format: 'sql', url, query: 'SELECT c, dc FROM codes' })).rows).toEqual([['Größe ÄÖÜ', 'a-1 ']]);
    } else console.warn('citext is not available on this server: its read is not tested');
    await withPg(url, (c) => c.query("CREATE FUNCTION due() RETURNS day2 LANGUAGE sql AS $$ SELECT DATE '2024-03-04' $$"));
    expect((await cells({ format: 'sql', url, query: "SELECT due() AS due, 'Größe'::state2 AS st" })).rows).toEqual([['2024-03-04', 'Größe']]);
  });

  describe('end to end: migrate reads them into every target exactly', () => {
    const plan = (target: string): string => {
      const dir = tempDir('forklift-pgdom-');
      writeFileSync(
        path.join(dir, 'model.yaml'),
        [
          'entities:',
          '  legacy_values:',
          '    primary_key: [id]',
          '    columns:',
          '      id: { type: integer, required: true }',
          '      day: { type: date }',
          '      at: { type: timestamp }',
          '      at_tz: { type: timestamp }',
          '      amount: { type: decimal, precision: 18, scale: 6 }',
          '      ok: { type: boolean }',
          '      qty: { type: integer }',
          '      big: { type: decimal, precision: 19, scale: 0 }',
          "      state: { type: enum, values: [RUN, IDLE, 'Größe'] }",
          '      name: { type: text }',
          '',
        ].join('\n'),
      );
      writeFileSync(
        path.join(dir, 'legacy.yaml'),
        [
          'entity: legacy_values',
          'source:',
          '  format: sql',
          `  url: ${JSON.stringify(url)}`,
          '  query: SELECT * FROM legacy ORDER BY id',
          'fields:',
          '  id: { from: id }',
          '  day: { from: d }',
          '  at: { from: ts, timezone: UTC }',
          '  at_tz: { from: tstz }',
          '  amount: { from: amt }',
          '  ok: { from: ok }',
          '  qty: { from: q }',
          '  big: { from: big }',
          '  state: { from: st }',
          '  name: { from: nm }',
          '',
        ].join('\n'),
      );
      writeFileSync(path.join(dir, 'forklift.yaml'), `name: pg-domains\ntarget: ${JSON.stringify(target)}\nmodel: ./model.yaml\nmappings: [legacy.yaml]\nreject_limit: 0\n`);
      return path.join(dir, 'forklift.yaml');
    };

    /** What the target holds, read back by forklift in the staging form: the same on every store. */
    const loaded = async (target: string): Promise<unknown[][]> => {
      const result = await runPlan({ plan: plan(target), command: 'migrate' });
      expect(result.status).toBe('succeeded');
      expect([result.entities[0]!.loaded, result.entities[0]!.rejected]).toEqual([3, 0]);
      const store = await openStore(target, { existing: true });
      try {
        const e = (await store.describeTables()).find((t) => t.name === 'legacy_values') as Entity;
        const rows: unknown[][] = [];
        for await (const b of store.readRows(e)) rows.push(...b);
        return rows;
      } finally {
        await store.close();
      }
    };

    const EXPECTED = [
      [1, '2024-03-04', '2024-03-04T06:07:08.123Z', '2024-03-04T05:07:08.000Z', '123456789012.345678', 1, 7, '9007199254740993', 'Größe', 'Müller'],
      [2, '1999-12-31', '2024-10-27T02:30:00.000Z', '2000-01-01T04:59:59.500Z', '-0.000001', 0, -3, '-1', 'IDLE', null],
      [3, null, null, null, null, null, null, null, null, null],
    ];

    it('into SQLite', async () => {
      expect(await loaded(`sqlite:${path.join(tempDir('forklift-pgdom-t-'), 't.db')}`)).toEqual(EXPECTED);
    });

    it.skipIf(pgDown !== null)('into PostgreSQL (whose sessions default to DateStyle SQL, DMY too)', async () => {
      expect(await loaded(await pgNonIsoDatabase(pgDbs))).toEqual(EXPECTED);
    });

    it.skipIf(myDown !== null)('into MariaDB', async () => {
      expect(await loaded((await myDbs.create()).url)).toEqual(EXPECTED);
    });
  });
});

describe.skipIf(pgDown !== null)('sql source: a LATIN1 PostgreSQL database', () => {
  const name = `fs_dom_latin1_${randomBytes(5).toString('hex')}`;
  const url = pgUrl(name);
  afterAll(() => withPg(PG_ADMIN_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)));
  beforeAll(async () => {
    await withPg(PG_ADMIN_URL, async (c) => {
      await c.query(`CREATE DATABASE ${name} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
      for (const s of PG_NON_ISO_DEFAULTS) await c.query(`ALTER DATABASE ${name} ${s}`);
    });
    // 0x80: the euro sign a Windows application wrote (Windows-1252), a C1 control character in LATIN1.
    await withPg(url, (c) =>
      c.query(`SET client_encoding TO 'LATIN1';
        ${PG_DOMAINS_DDL}
        CREATE TABLE itemmast (itemno char(6), descr label2, st state2, changed day2, n qty2);
        INSERT INTO itemmast VALUES ('A-1', E'Preis \\x80 5', E'Gr\\xF6\\xDFe', '2024-03-04', 1), ('A-2', E'gr\\xFCn', 'RUN', NULL, 2)`),
    );
  });

  const queries: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    queries.length = 0;
  });
  /** Records the text of every query a pg client sends (the source's connection among them). */
  const recordQueries = (): void => {
    const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
    vi.spyOn(pg.Client.prototype, 'query').mockImplementation(function (this: pg.Client, ...args: unknown[]) {
      // A cursor (pg-query-stream) holds its text in its cursor.
      const q = args[0] as string | { text?: string; cursor?: { text?: string } } | undefined;
      queries.push(typeof q === 'string' ? q : (q?.text ?? q?.cursor?.text ?? ''));
      return query.apply(this, args);
    } as never);
  };

  it('without encoding: the query runs once, as written, never a LIMIT 0 probe before; the C1 check still finds the text columns (domains, enums)', async () => {
    recordQueries();
    const query = 'SELECT * FROM itemmast ORDER BY itemno';
    const r = await readAll({ format: 'sql', url, query });
    expect(queries.filter((q) => q.includes('itemmast'))).toEqual([query]);
    expect(r.records.map((x) => x.cells)).toEqual([
      ['A-1   ', null, 'Größe', '2024-03-04', '1'],
      ['A-2   ', 'grün', 'RUN', null, '2'],
    ]);
    expect(r.records[0]!.faults).toEqual([{ index: 1, ref: 'row 1', rule: 'encoding', reason: expect.stringContaining('set encoding: windows-1252') }]);
  });

  it('encoding: windows-1252 reads a domain over date as a date, and the text of a domain over text and of an enum as their bytes', async () => {
    const { rows } = await cells({ format: 'sql', url, query: 'SELECT * FROM itemmast ORDER BY itemno', encoding: 'windows-1252' });
    expect(rows).toEqual([
      ['A-1   ', 'Preis € 5', 'Größe', '2024-03-04', '1'],
      ['A-2   ', 'grün', 'RUN', null, '2'],
    ]);
  });
});
