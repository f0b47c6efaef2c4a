import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { exportBundle } from '../../../src/bundle/export.js';
import { importBundle } from '../../../src/bundle/import.js';
import { describePgError } from '../../../src/stores/dialect-postgres.js';
import { checkNameLengths, MSSQL_NAME_LIMIT } from '../../../src/stores/name-limits.js';
import { tempDir } from '../../helpers.js';
import { PG_ADMIN_URL, liveServers, mysqlAdminConfig, withPg } from './live.js';

/**
 * What a target cannot hold is said as such, before anything is written where it can be, and a
 * server's refusal carries a hint that is true of it: names longer than the store takes (which
 * PostgreSQL would cut without a word), text keys on MariaDB, two loads creating the same tables.
 */

const FILE = 'test/integration/stores/target-fit.test.ts';
const { pgDown, myDown, pgDbs, myDbs } = await liveServers(FILE, 'fb_');

const dir = tempDir('forklift-target-fit-');
const LONG_TABLE = 'tbl_name_that_is_quite_long_more_than_sixty_three_characters_long_abcdefghij';
const LONG_COLUMN = 'column_name_that_is_quite_long_more_than_sixty_three_characters_long_xyz';
/** 60 characters: a name MariaDB takes, but not with its foreign key's name `<table>_ibfk_1`. */
const FK_TABLE = `child_${'x'.repeat(54)}`;

/** A bundle of SQLite tables made by hand, exported. */
async function bundleOf(name: string, ddl: string): Promise<string> {
  const file = path.join(dir, `${name}.db`);
  const db = new Database(file);
  db.exec(ddl);
  db.close();
  const b = path.join(dir, name);
  await exportBundle({ dir: b, source: `sqlite:${file}` });
  return b;
}

const longNames = await bundleOf('long', `CREATE TABLE "${LONG_TABLE}" (id INTEGER PRIMARY KEY, "${LONG_COLUMN}" TEXT); INSERT INTO "${LONG_TABLE}" VALUES (1, 'x');`);
const textKey = await bundleOf('textkey', `CREATE TABLE parent (k TEXT PRIMARY KEY, note TEXT); INSERT INTO parent VALUES ('a', 'n');`);
const fkName = await bundleOf('fkname', `CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE "${FK_TABLE}" (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p (id)); INSERT INTO p VALUES (1); INSERT INTO "${FK_TABLE}" VALUES (1, 1);`);

const failure = (p: Promise<unknown>): Promise<unknown> => p.then(
  () => 'imported',
  (e: unknown) => e,
);

describe('names longer than the store takes', () => {
  it('SQL Server: 128 characters (no server needed for the rule)', () => {
    const e = { name: 't'.repeat(129), columns: [{ name: 'c'.repeat(128), type: 'integer' as const, required: true }], primaryKey: [], rules: [] };
    expect(() => checkNameLengths('mssql://h/db', [e], MSSQL_NAME_LIMIT)).toThrow(`mssql://h/db: SQL Server takes names of at most 128 characters, and this name is longer: table ${'t'.repeat(129)} (129 characters); nothing was loaded`);
  });

  it.skipIf(pgDown !== null)('PostgreSQL: refused before the load, naming table and column; no table cut to 63 bytes is made', async () => {
    const { url } = await pgDbs.create();
    const e = await failure(importBundle({ bundle: longNames, target: url }));
    expect(e).toMatchObject({
      code: 'store.name-too-long',
      message: expect.stringContaining(`PostgreSQL takes names of at most 63 bytes, and these names are longer: table ${LONG_TABLE} (76 bytes); column ${LONG_TABLE}.${LONG_COLUMN} (72 bytes); nothing was loaded`),
    });
    const tables = await withPg(url, (c) => c.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'tbl_%'"));
    expect(tables.rows).toEqual([]);
  });

  it.skipIf(myDown !== null)('MariaDB: refused before any DDL, a foreign key name that would be too long included', async () => {
    const { url, name } = await myDbs.create();
    expect(await failure(importBundle({ bundle: longNames, target: url }))).toMatchObject({ code: 'store.name-too-long', message: expect.stringContaining(`MySQL/MariaDB takes names of at most 64 characters, and these names are longer: table ${LONG_TABLE} (76 characters)`) });
    expect(await failure(importBundle({ bundle: fkName, target: url }))).toMatchObject({
      code: 'store.name-too-long',
      message: expect.stringContaining(`table ${FK_TABLE}, whose foreign keys MySQL/MariaDB names ${FK_TABLE}_ibfk_1 and on (67 characters)`),
    });
    const c = await mysql.createConnection(mysqlAdminConfig());
    try {
      const [rows] = await c.query('SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ? AND table_name <> ?', [name, 'forklift_runs']);
      expect(rows).toEqual([]);
    } finally {
      await c.end();
    }
  });
});

describe.skipIf(myDown !== null)('MariaDB: a bundle table keyed by a text column', () => {
  it('is refused saying that MariaDB keys need a length, naming the column, with a hint that fits', async () => {
    const { url } = await myDbs.create();
    const e = await failure(importBundle({ bundle: textKey, target: url }));
    expect(e).toMatchObject({
      code: 'store.text-key',
      message: expect.stringContaining('the table parent cannot be created in MySQL/MariaDB: k is a text column without a length, and MySQL/MariaDB keys (primary, unique, foreign) need one; nothing was loaded'),
      hint: expect.stringMatching(/or load into PostgreSQL or SQLite/),
    });
  });
});

describe.skipIf(pgDown !== null)('PostgreSQL refusals and their hints', () => {
  it('a value out of its type\u2019s range is not called a table that does not match the model', async () => {
    const e = await withPg(PG_ADMIN_URL, (c) => c.query("SELECT '0000-01-01'::date")).catch((x: unknown) => x);
    expect((e as { code: string }).code).toMatch(/^22/);
    expect(describePgError(e).hint).toBe("A value is outside what its column's type holds here: if the table was made by hand or by another model version, compare it with the model. forklift migrate --dry-run names each row the target refuses, with its source line.");
  });

  it('two sessions creating the same table at once: the loser is told so, not "rows with these keys"', async () => {
    const { url } = await pgDbs.create();
    const a = new pg.Client({ connectionString: url });
    const b = new pg.Client({ connectionString: url });
    await a.connect();
    await b.connect();
    try {
      await a.query('BEGIN');
      await a.query('CREATE TABLE IF NOT EXISTS items (k text PRIMARY KEY)');
      const second = b.query('CREATE TABLE IF NOT EXISTS items (k text PRIMARY KEY)').then(
        () => undefined,
        (e: unknown) => e,
      );
      // b waits on a's new catalog rows; once a commits, b finds them taken.
      for (let i = 0; i < 100; i++) {
        const waiting = await a.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
        if (waiting.rows[0]!.n !== '0') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await a.query('COMMIT');
      const e = await second;
      expect(e).toMatchObject({ code: '23505', constraint: expect.stringMatching(/^pg_/) });
      const info = describePgError(e);
      expect(info.message).toMatch(/^another import or migrate was creating the same tables at the same moment, so this one stopped/);
      expect(info.hint).toBe('Nothing was committed: run it again (once the other one is done, its tables are there).');
    } finally {
      await a.end();
      await b.end();
    }
  });
});
