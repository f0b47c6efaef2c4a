import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { parse as parseCsv } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError } from '../../../src/core/errors.js';
import { runPlan, type RunResult } from '../../../src/run/pipeline.js';
import { stagingTable } from '../../../src/run/staging.js';
import { describePgError } from '../../../src/stores/dialect-postgres.js';
import { openStore } from '../../../src/stores/index.js';
import { asMysqlStoreError } from '../../../src/stores/mysql.js';
import { ROOT, runCli, tempDir, type CliResult } from '../../helpers.js';
import {
  MSSQL_ADMIN_URL,
  MYSQL_ADMIN_URL,
  MssqlDatabases,
  MysqlDatabases,
  PG_ADMIN_URL,
  PgDatabases,
  filesContaining,
  mysqlAdminConfig,
  mysqlUrl,
  pgUrl,
  probeMssql,
  probeMysql,
  probePg,
  reportUnreachable,
  spawnCli,
  withMssql,
  withPg,
} from './live.js';

/**
 * One table of cases, every live store. A custom model entity with every column type is loaded
 * from a CSV through the real pipeline (runPlan, migrate) into SQLite, PostgreSQL, MariaDB and,
 * where FORKLIFT_TEST_MSSQL_URL is set, SQL Server; every row is read back with the store's own
 * driver (better-sqlite3, pg, mysql2, mssql) and turned into canonical text, and every cell must
 * be the canonical value the pipeline stages (src/mapping/coerce.ts):
 *
 *   string/text/enum  the text, Unicode NFC (SPEC section 3), '' kept apart from NULL
 *   integer           decimal digits
 *   decimal(p,s)      exact digits with exactly s fraction digits, no exponent, no -0
 *   boolean           true / false
 *   date              YYYY-MM-DD
 *   timestamp         UTC YYYY-MM-DDTHH:mm:ss.SSSZ
 *
 * and read a second way through forklift itself: store.readColumn must give the staging form of
 * every column. Then the failures a user meets with a server: a wrong password or user, a missing
 * database, and the connection killed in the middle of the bulk load.
 */

const FILE = 'test/integration/stores/matrix.test.ts';

const pgDown = await probePg();
const myDown = await probeMysql();
const msDown = MSSQL_ADMIN_URL ? await probeMssql() : null;
reportUnreachable('PostgreSQL', PG_ADMIN_URL, pgDown, FILE);
reportUnreachable('MariaDB', MYSQL_ADMIN_URL, myDown, FILE);
// A SQL Server URL that was given on purpose must work: no skipping then.
if (MSSQL_ADMIN_URL) reportUnreachable('SQL Server', MSSQL_ADMIN_URL, msDown, FILE, { alwaysFail: true });

const pgDbs = new PgDatabases();
const myDbs = new MysqlDatabases();
const msDbs = new MssqlDatabases();
afterAll(async () => {
  await pgDbs.dropAll().catch((e: unknown) => console.warn(`could not drop the PostgreSQL test databases: ${String(e)}`));
  await myDbs.dropAll().catch((e: unknown) => console.warn(`could not drop the MariaDB test databases: ${String(e)}`));
  await msDbs.dropAll().catch((e: unknown) => console.warn(`could not drop the SQL Server test databases: ${String(e)}`));
});

// ---- the cases -------------------------------------------------------------------------------

const COLS = ['id', 's', 't', 'n', 'd6', 'd2', 'b', 'e', 'day', 'at'] as const;
type Col = (typeof COLS)[number];
type Row = Record<Col, string | null>;
/** Source cells by column; a column not given is an empty cell (missing). */
type Src = Partial<Record<Exclude<Col, 'id'>, string>>;

/** In the CSV, this text stands for the explicit empty string (the mapping maps it to ""). */
const EMPTY = '<empty>';

const MODEL = `entities:
  fidelity:
    description: one probe value per row, every column type
    primary_key: [id]
    columns:
      id:  { type: integer }
      s:   { type: string, length: 64 }
      t:   { type: text }
      n:   { type: integer }
      d6:  { type: decimal, precision: 18, scale: 6 }
      d2:  { type: decimal, precision: 18, scale: 2 }
      b:   { type: boolean }
      e:   { type: enum, values: [RUN, IDLE, DOWN] }
      day: { type: date }
      at:  { type: timestamp }
`;

// An empty cell is missing (NULL); the value map turns the marker into an explicit '' (the way the
// demo's stock_balances.lot gets '' with default: ""); every other text is kept as it is.
const MAPPING = `entity: fidelity
source: { format: csv, path: cases.csv, encoding: utf-8, delimiter: "," }
fields:
  id:  { from: ID }
  s:   { from: S, values: { "${EMPTY}": "" }, unknown: keep }
  t:   { from: T, values: { "${EMPTY}": "" }, unknown: keep }
  n:   { from: N }
  d6:  { from: D6 }
  d2:  { from: D2 }
  b:   { from: B }
  e:   { from: E }
  day: { from: DAY }
  at:  { from: AT, timezone: Europe/Berlin }   # only for a timestamp without an offset
`;

interface Case {
  label: string;
  src: Src;
  /** Expected canonical value of the columns the case sets; every other column must be NULL. */
  want: Partial<Row>;
}

const one = <C extends Exclude<Col, 'id'>>(label: string, col: C, src: string, want: string | null): Case => ({ label, src: { [col]: src }, want: { [col]: want } });

const ZWJ_MECHANIC = '\u{1F469}\u200D\u{1F527}'; // 👩‍🔧: woman, zero width joiner, wrench
const FAMILY = '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}\u200D\u{1F466}';
const LONG_SRC = Array.from({ length: 400 }, (_, i) => `${i}: Größe ${ZWJ_MECHANIC} Cafe\u0301\t\\N "q"\r\n`).join('');

const CASES: Case[] = [
  // strings and text
  one('plain ASCII', 's', 'Hello, World', 'Hello, World'),
  one('explicit empty string stays empty (string)', 's', EMPTY, ''),
  one('explicit empty string stays empty (text)', 't', EMPTY, ''),
  { label: 'missing stays NULL in every column', src: {}, want: {} },
  one('spaces only are a value', 's', '   ', '   '),
  one('trailing spaces are kept', 's', 'pad  ', 'pad  '),
  one('the same text without them is another value', 's', 'pad', 'pad'),
  one('lower case', 's', 'mixed case', 'mixed case'),
  one('upper case is another value', 's', 'MIXED CASE', 'MIXED CASE'),
  one('the text NULL is not NULL', 's', 'NULL', 'NULL'),
  one('a lone \\N is text, not the bulk formats\u2019 NULL', 's', '\\N', '\\N'),
  one('4-byte emoji', 's', '\u{1F600} \u{1F680} \u{1F9EA}', '\u{1F600} \u{1F680} \u{1F9EA}'),
  one('ZWJ sequences, flags, skin tones', 's', `${ZWJ_MECHANIC} ${FAMILY} \u{1F1E9}\u{1F1EA} \u{1F44D}\u{1F3FD}`, `${ZWJ_MECHANIC} ${FAMILY} \u{1F1E9}\u{1F1EA} \u{1F44D}\u{1F3FD}`),
  // SPEC section 3: strings are Unicode NFC. e + U+0301 composes to U+00E9; a mark without a
  // precomposed form stays a combining mark (in canonical order); NFKC-only foldings do not happen.
  one('e + U+0301 is stored in NFC as U+00E9', 's', 'Cafe\u0301', 'Caf\u00e9'),
  one('combining marks without a precomposed form stay combining, canonically ordered', 's', 'q\u0307\u0323 x\u0336', 'q\u0323\u0307 x\u0336'),
  one('NFC, not NFKC: ligature, half-width kana, circled digit, Angstrom sign to Å', 's', '\uFB01 \uFF76 \u2460 \u212B', '\uFB01 \uFF76 \u2460 \u00C5'),
  one('German, Euro, CJK', 's', 'Größe ÄÖÜ ß € 漢字かな', 'Größe ÄÖÜ ß € 漢字かな'),
  one('tab, LF, CRLF, backslash, quotes, delimiters', 's', 'a\tb\nc\r\nd \\ \\t "q" \'s\', ;', 'a\tb\nc\r\nd \\ \\t "q" \'s\', ;'),
  one('long text with everything in it', 't', LONG_SRC, LONG_SRC.replaceAll('e\u0301', '\u00e9')),
  // integers
  one('2^53-1', 'n', '9007199254740991', '9007199254740991'),
  one('-(2^53-1)', 'n', '-9007199254740991', '-9007199254740991'),
  one('integer zero', 'n', '0', '0'),
  one('integer -0 is 0', 'n', '-0', '0'),
  one('integer with .000 and spaces', 'n', ' 42.000 ', '42'),
  // decimals
  one('decimal(18,6) largest', 'd6', '999999999999.999999', '999999999999.999999'),
  one('decimal(18,6) smallest', 'd6', '-999999999999.999999', '-999999999999.999999'),
  one('decimal(18,6) -0.000001', 'd6', '-0.000001', '-0.000001'),
  one('decimal(18,6) 0', 'd6', '0', '0.000000'),
  one('decimal(18,6) -0 is 0', 'd6', '-0.0', '0.000000'),
  one('decimal(18,6) exponent', 'd6', '1E-6', '0.000001'),
  one('decimal(18,6) plus sign', 'd6', '+12.5', '12.500000'),
  one('decimal(18,6) leading point', 'd6', '.5', '0.500000'),
  one('decimal(18,6) leading zeros', 'd6', '000123.450000', '123.450000'),
  one('decimal(18,2) largest', 'd2', '9999999999999999.99', '9999999999999999.99'),
  one('decimal(18,2) -0.01', 'd2', '-0.01', '-0.01'),
  one('decimal(18,2) pads its scale', 'd2', '1234.5', '1234.50'),
  one('decimal(18,2) drops zeros beyond its scale', 'd2', '1.230', '1.23'),
  // booleans
  one('boolean true', 'b', 'true', 'true'),
  one('boolean false', 'b', 'false', 'false'),
  one('boolean ja', 'b', ' JA ', 'true'),
  one('boolean nein', 'b', 'nein', 'false'),
  // enum
  one('enum RUN', 'e', 'RUN', 'RUN'),
  one('enum IDLE', 'e', 'IDLE', 'IDLE'),
  // dates
  one('date 1900-01-01', 'day', '1900-01-01', '1900-01-01'),
  one('date 1899-12-31', 'day', '1899-12-31', '1899-12-31'),
  one('date 1969-12-31', 'day', '1969-12-31', '1969-12-31'),
  one('date 1970-01-01', 'day', '1970-01-01', '1970-01-01'),
  one('date 2000-02-29', 'day', '2000-02-29', '2000-02-29'),
  one('date 2038-01-20', 'day', '2038-01-20', '2038-01-20'),
  one('date 2100-02-28', 'day', '2100-02-28', '2100-02-28'),
  one('date 0001-01-01', 'day', '0001-01-01', '0001-01-01'),
  one('date 9999-12-31', 'day', '9999-12-31', '9999-12-31'),
  // timestamps
  one('timestamp +05:45', 'at', '2025-03-01T06:00:00+05:45', '2025-03-01T00:15:00.000Z'),
  one('timestamp -09:30', 'at', '2025-03-01T06:00:00-09:30', '2025-03-01T15:30:00.000Z'),
  one('timestamp Z', 'at', '2025-03-01T06:00:00Z', '2025-03-01T06:00:00.000Z'),
  one('timestamp +14:00 across the date line', 'at', '2025-01-01T00:00:00+14:00', '2024-12-31T10:00:00.000Z'),
  one('timestamp 1901-12-14', 'at', '1901-12-14T00:00:00Z', '1901-12-14T00:00:00.000Z'),
  one('timestamp 1 ms before the 32-bit epoch minimum', 'at', '1901-12-13T20:45:51.999Z', '1901-12-13T20:45:51.999Z'),
  one('timestamp 1969-12-31T23:59:59.999Z', 'at', '1969-12-31T23:59:59.999Z', '1969-12-31T23:59:59.999Z'),
  one('timestamp epoch', 'at', '1970-01-01T00:00:00.000Z', '1970-01-01T00:00:00.000Z'),
  one('timestamp 2038-01-19T03:14:07.999', 'at', '2038-01-19T03:14:07.999+00:00', '2038-01-19T03:14:07.999Z'),
  one('timestamp 2038-01-19T03:14:08Z', 'at', '2038-01-19T03:14:08Z', '2038-01-19T03:14:08.000Z'),
  one('timestamp 2099-12-31', 'at', '2099-12-31T00:00:00Z', '2099-12-31T00:00:00.000Z'),
  one('timestamp 2099-12-31 -01:00 into 2100', 'at', '2099-12-31T23:59:59.999-01:00', '2100-01-01T00:59:59.999Z'),
  one('timestamp without offset in the mapping\u2019s zone (CEST)', 'at', '2025-07-01 12:00:00', '2025-07-01T10:00:00.000Z'),
  one('timestamp with a decimal comma', 'at', '2025-01-01T00:00:00,5+01:00', '2024-12-31T23:00:00.500Z'),
  one('timestamp 1000-01-01 (MySQL\u2019s documented minimum)', 'at', '1000-01-01T00:00:00Z', '1000-01-01T00:00:00.000Z'),
  one('timestamp 0100-01-01', 'at', '0100-01-01T00:00:00Z', '0100-01-01T00:00:00.000Z'),
  one('timestamp 9999-12-31T23:59:59.999Z', 'at', '9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'),
];

/** Values no store should ever hold: refused by the pipeline, row by row, with a reason. */
const REFUSED: { label: string; src: Src; rule: string; reason: RegExp }[] = [
  { label: '2^53 is beyond an exact integer', src: { n: '9007199254740992' }, rule: 'type', reason: /too large for an integer/ },
  { label: '13 integer digits in decimal(18,6)', src: { d6: '1234567890123' }, rule: 'type', reason: /too large for decimal\(18,6\)/ },
  { label: 'a 7th decimal place', src: { d6: '0.0000001' }, rule: 'type', reason: /more than 6 decimal places/ },
  { label: 'an instant in year 10000', src: { at: '9999-12-31T23:30:00-01:00' }, rule: 'type', reason: /is 10000-01-01T00:30:00Z in UTC \(at its offset -01:00\): the year 10000, after 9999-12-31T23:59:59\.999Z, which no store holds/ },
  { label: 'digits below a millisecond', src: { at: '2025-01-01T00:00:00.0001Z' }, rule: 'type', reason: /below a millisecond/ },
  { label: 'no 29 February in 2023', src: { day: '2023-02-29' }, rule: 'type', reason: /not a real calendar date/ },
  { label: 'a date in year 0000', src: { day: '0000-06-15' }, rule: 'type', reason: /outside the years 0001 to 9999/ },
  { label: '65 characters in string(64)', src: { s: 'x'.repeat(65) }, rule: 'length', reason: /65 characters long; at most 64/ },
  { label: 'a value outside the enum', src: { e: 'BOGUS' }, rule: 'enum', reason: /not one of RUN, IDLE, DOWN/ },
];

const ids = CASES.map((_, i) => String(i + 1));
const refusedIds = REFUSED.map((_, i) => String(901 + i));
const EXPECTED: Row[] = CASES.map((c, i) => {
  const row = Object.fromEntries(COLS.map((col) => [col, null])) as Row;
  row.id = ids[i]!;
  for (const [col, v] of Object.entries(c.want)) row[col as Col] = v;
  return row;
});

/** A project folder: model, mapping, CSV of the cases (and the refused rows), plan. */
function matrixProject(): { dir: string; plan: string } {
  const dir = tempDir('forklift-matrix-');
  const header = ['ID', 'S', 'T', 'N', 'D6', 'D2', 'B', 'E', 'DAY', 'AT'];
  const line = (id: string, src: Src): string[] => [id, ...COLS.slice(1).map((c) => src[c as keyof Src] ?? '')];
  writeFileSync(path.join(dir, 'cases.csv'), stringify([header, ...CASES.map((c, i) => line(ids[i]!, c.src)), ...REFUSED.map((r, i) => line(refusedIds[i]!, r.src))]));
  writeFileSync(path.join(dir, 'model.yaml'), MODEL);
  writeFileSync(path.join(dir, 'fidelity.yaml'), MAPPING);
  // Every refused row is on purpose: a reject limit that lets the run commit the rest.
  writeFileSync(path.join(dir, 'forklift.yaml'), `name: type-matrix\ntarget: sqlite:./unused.db\nmodel: ./model.yaml\nmappings: [fidelity.yaml]\nreject_limit: 100%\nload: replace\n`);
  return { dir, plan: path.join(dir, 'forklift.yaml') };
}

/** 64 characters beyond U+FFFF (128 UTF-16 code units, 256 UTF-8 bytes) in string(64). */
const ASTRAL_64 = '\u{1F600}'.repeat(60) + ZWJ_MECHANIC + '\u{1F680}';
function astralProject(): { dir: string; plan: string } {
  const dir = tempDir('forklift-matrix-astral-');
  writeFileSync(path.join(dir, 'astral.csv'), stringify([['ID', 'S'], ['1', ASTRAL_64]]));
  writeFileSync(path.join(dir, 'model.yaml'), MODEL);
  writeFileSync(path.join(dir, 'astral.yaml'), `entity: fidelity\nsource: { format: csv, path: astral.csv, encoding: utf-8, delimiter: "," }\nfields:\n  id: { from: ID }\n  s: { from: S }\n`);
  writeFileSync(path.join(dir, 'forklift.yaml'), `name: astral\ntarget: sqlite:./unused.db\nmodel: ./model.yaml\nmappings: [astral.yaml]\nload: replace\n`);
  return { dir, plan: path.join(dir, 'forklift.yaml') };
}

// ---- reading back with each store's own driver, as canonical text ----------------------------

const boolText = (v: unknown): string | null => (v === null ? null : v === true || v === 1 || v === 1n || v === '1' || v === 't' ? 'true' : v === false || v === 0 || v === 0n || v === '0' || v === 'f' ? 'false' : `?${String(v)}`);
const SELECT = `SELECT ${COLS.join(', ')} FROM fidelity ORDER BY id`;

function readSqlite(url: string): Row[] {
  const db = new Database(url.slice('sqlite:'.length), { readonly: true });
  try {
    // safeIntegers: integers as BigInt, so nothing depends on a float on the way back.
    const rows = db.prepare(SELECT).safeIntegers(true).raw().all() as unknown[][];
    return rows.map((r) => toRow(r, (col, v) => (col === 'b' ? boolText(v) : typeof v === 'bigint' ? v.toString() : (v as string))));
  } finally {
    db.close();
  }
}

/** timestamptz text as the server sends it (TimeZone UTC, DateStyle ISO) to the canonical form. */
function pgInstant(v: string): string {
  const m = /^(\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?\+00$/.exec(v);
  return m ? `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${(m[7] ?? '').padEnd(3, '0')}Z` : `?${v}`;
}

async function readPg(url: string): Promise<Row[]> {
  // Every type as the text the server sends (no driver parsing): the wire value itself.
  const raw = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
  const c = new pg.Client({ connectionString: url, types: raw });
  await c.connect();
  try {
    await c.query("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'");
    const res = await c.query<unknown[]>({ text: SELECT, rowMode: 'array' });
    return res.rows.map((r) => toRow(r, (col, v) => (v === null ? null : col === 'b' ? boolText(v) : col === 'at' ? pgInstant(v as string) : (v as string))));
  } finally {
    await c.end();
  }
}

/** datetime(3) text (the session is UTC; forklift stores UTC) to the canonical form. */
function mysqlInstant(v: string): string {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\.(\d{3})$/.exec(v);
  return m ? `${m[1]}T${m[2]}.${m[3]}Z` : `?${v}`;
}

async function readMysql(db: string): Promise<Row[]> {
  const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: db });
  try {
    const [rows] = await c.query({ sql: SELECT, rowsAsArray: true });
    return (rows as unknown[][]).map((r) => toRow(r, (col, v) => (v === null ? null : col === 'b' ? boolText(v) : col === 'at' ? mysqlInstant(v as string) : String(v))));
  } finally {
    await c.end();
  }
}

async function readMssql(url: string): Promise<Row[]> {
  return withMssql(url, async (p) => {
    const cols = 'CAST(id AS nvarchar(20)), s, t, CAST(n AS nvarchar(20)), CONVERT(nvarchar(50), d6), CONVERT(nvarchar(50), d2), b, e, CONVERT(nvarchar(10), day, 23), at';
    const res = await p.request().query(`SELECT ${cols.split(', ').map((x, i) => `${x} AS c${i}`).join(', ')} FROM [dbo].[fidelity] ORDER BY id`);
    return (res.recordset as Record<string, unknown>[]).map((r) =>
      toRow(
        COLS.map((_, i) => r[`c${i}`]),
        (col, v) => (v === null ? null : col === 'b' ? boolText(v) : col === 'at' ? (v as Date).toISOString() : String(v)),
      ),
    );
  });
}

function toRow(values: readonly unknown[], conv: (col: Col, v: unknown) => string | null): Row {
  return Object.fromEntries(COLS.map((col, i) => [col, values[i] === null || values[i] === undefined ? null : conv(col, values[i])])) as Row;
}

/** Every cell that differs, named by case and column (a readable failure instead of a giant diff). */
function differences(got: Row[], want: Row[]): string[] {
  const out: string[] = [];
  const byId = new Map(got.map((r) => [r.id, r]));
  want.forEach((w, i) => {
    const g = byId.get(w.id);
    if (!g) {
      out.push(`${CASES[i]!.label}: row ${w.id} is missing`);
      return;
    }
    for (const col of COLS) if (g[col] !== w[col]) out.push(`${CASES[i]!.label} [${col}]: got ${JSON.stringify(g[col])}, want ${JSON.stringify(w[col])}`);
  });
  for (const r of got) if (!want.some((w) => w.id === r.id)) out.push(`row ${r.id} should not be there`);
  return out;
}

const byJson = (a: unknown, b: unknown): number => {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/** The staged form (what the pipeline hands to every store) of the accepted rows. */
function stagedRows(res: RunResult, dir: string): unknown[][] {
  const db = new Database(path.join(dir, 'runs', res.run_id, 'staging.sqlite'), { readonly: true });
  try {
    return db.prepare(`SELECT ${COLS.join(', ')} FROM ${stagingTable('fidelity')} WHERE _st = 0 ORDER BY id`).raw().all() as unknown[][];
  } finally {
    db.close();
  }
}

// ---- the matrix ------------------------------------------------------------------------------

interface LiveStore {
  name: string;
  down: string | null;
  target(): Promise<string>;
  read(url: string): Promise<Row[]>;
  /** A store that cannot hold ASTRAL_64 in string(64) by design: the error it must give. */
  astralRefused?: { hint: RegExp };
}

const STORES: LiveStore[] = [
  {
    name: 'SQLite',
    down: null,
    target: () => Promise.resolve(`sqlite:${path.join(tempDir('forklift-matrix-db-'), 'matrix.db')}`),
    read: (url) => Promise.resolve(readSqlite(url)),
  },
  { name: 'PostgreSQL', down: pgDown, target: async () => (await pgDbs.create()).url, read: readPg },
  {
    name: 'MariaDB',
    down: myDown,
    target: async () => (await myDbs.create()).url,
    read: (url) => readMysql(decodeURIComponent(new URL(url).pathname.slice(1))),
  },
];
if (MSSQL_ADMIN_URL) {
  STORES.push({ name: 'SQL Server', down: msDown, target: async () => (await msDbs.create()).url, read: readMssql, astralRefused: { hint: /UTF-16/ } });
}

describe('the case table', () => {
  it('has one canonical expectation per case, ids unique, refused rows apart', () => {
    expect(new Set(ids).size).toBe(CASES.length);
    expect(CASES.length).toBeGreaterThanOrEqual(60);
    for (const c of CASES) expect(Object.keys(c.want).sort(), c.label).toEqual(Object.keys(c.src).sort());
  });
});

for (const store of STORES) {
  describe.skipIf(store.down !== null)(`type fidelity: ${store.name}`, () => {
    let project: { dir: string; plan: string };
    let url: string;
    let res: RunResult;

    beforeAll(async () => {
      project = matrixProject();
      url = await store.target();
      res = await runPlan({ plan: project.plan, command: 'migrate', target: url, keepStaging: true });
    });

    it('commits every case; each refused value is a reject with its rule and reason', () => {
      expect(res.status).toBe('succeeded');
      expect(res.committed).toBe(true);
      expect(res.entities[0]).toMatchObject({ read: CASES.length + REFUSED.length, loaded: CASES.length, rejected: REFUSED.length, rejects_by_rule: { type: 7, length: 1, enum: 1 } });
      const rejects = parseCsv(readFileSync(path.join(project.dir, res.entities[0]!.rejects_file!)), { bom: true, columns: true }) as Record<string, string>[];
      expect(rejects.map((r) => r.ID)).toEqual(refusedIds);
      REFUSED.forEach((r, i) => {
        expect(rejects[i]!.forklift_rule, r.label).toBe(r.rule);
        expect(rejects[i]!.forklift_reason, r.label).toMatch(r.reason);
      });
    });

    it('the staging form is the canonical form of every case', () => {
      const staged = stagedRows(res, project.dir).map((r) => toRow(r, (col, v) => (col === 'b' ? boolText(v) : typeof v === 'number' ? String(v) : (v as string))));
      expect(differences(staged, EXPECTED)).toEqual([]);
    });

    it(`every cell reads back through ${store.name}'s own driver as its canonical value`, async () => {
      expect(differences(await store.read(url), EXPECTED)).toEqual([]);
    });

    it('store.readColumn gives the staging form of every column', async () => {
      const staged = stagedRows(res, project.dir);
      const s = await openStore(url);
      try {
        const problems: string[] = [];
        for (const [i, col] of COLS.entries()) {
          const want = [...new Map(staged.map((r) => [JSON.stringify(r[i]), r[i]])).values()].filter((v) => v !== null).sort(byJson);
          const got: unknown[] = [];
          for await (const batch of s.readColumn('fidelity', col)) got.push(...batch);
          // NULL references nothing: stores may leave it out (PostgreSQL does).
          const values = got.filter((v) => v !== null).sort(byJson);
          const missing = want.filter((w) => !values.some((v) => v === w));
          const extra = values.filter((v) => !want.some((w) => w === v));
          if (missing.length || extra.length || values.length !== want.length) {
            problems.push(`${col}: ${values.length} values for ${want.length}; missing ${JSON.stringify(missing).slice(0, 300)}; not staged ${JSON.stringify(extra).slice(0, 300)}`);
          }
        }
        expect(problems).toEqual([]);
      } finally {
        await s.close();
      }
    });

    const astral = store.astralRefused;
    it(astral ? '64 characters beyond U+FFFF in string(64): refused with a clear StoreError (nvarchar counts UTF-16 units)' : '64 characters beyond U+FFFF fill string(64) exactly', async () => {
      const p = astralProject();
      const run = runPlan({ plan: p.plan, command: 'migrate', target: url });
      if (astral) {
        const err = await run.catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreError);
        expect((err as StoreError).hint).toMatch(astral.hint);
        return;
      }
      expect((await run).entities[0]).toMatchObject({ loaded: 1, rejected: 0 });
      const rows = await store.read(url);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.s).toBe(ASTRAL_64);
      expect([...rows[0]!.s!]).toHaveLength(64);
    });
  });
}

if (!MSSQL_ADMIN_URL) {
  describe.skip('type fidelity: SQL Server (skipped: set FORKLIFT_TEST_MSSQL_URL)', () => {
    it('every cell reads back as its canonical value', () => {});
  });
}

describe('timestamps in the years 0001 to 0099 (the pipeline, whatever the store)', () => {
  // Date.UTC(y, …) reads a year 0-99 as 1900-1999; an instant that falls in year 0 is refused.
  it('timestamps in the years 0001-0099 stay in those years (Date.UTC would read them as 1901-1999)', async () => {
    const dir = tempDir('forklift-matrix-y1-');
    writeFileSync(path.join(dir, 'y.csv'), stringify([['ID', 'AT'], ['1', '0001-01-01T00:00:00Z'], ['2', '0099-12-31T23:59:59.999Z'], ['3', '0001-01-01T00:30:00+01:00']]));
    writeFileSync(path.join(dir, 'model.yaml'), MODEL);
    writeFileSync(path.join(dir, 'y.yaml'), `entity: fidelity\nsource: { format: csv, path: y.csv, encoding: utf-8, delimiter: "," }\nfields:\n  id: { from: ID }\n  at: { from: AT }\n`);
    writeFileSync(path.join(dir, 'forklift.yaml'), `name: y1\ntarget: sqlite:./y.db\nmodel: ./model.yaml\nmappings: [y.yaml]\nreject_limit: 100%\n`);
    const res = await runPlan({ plan: path.join(dir, 'forklift.yaml'), command: 'migrate' });
    const rows = readSqlite(`sqlite:${path.join(dir, 'y.db')}`);
    expect(rows.map((r) => [r.id, r.at])).toEqual([
      ['1', '0001-01-01T00:00:00.000Z'],
      ['2', '0099-12-31T23:59:59.999Z'],
    ]);
    expect(res.entities[0]).toMatchObject({ loaded: 2, rejected: 1 });
  });
});

describe('a lost connection says so in the message (no server needed)', () => {
  it('PostgreSQL: a bare socket error is named as a lost connection; the server\u2019s own words are kept', () => {
    const epipe = describePgError(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    expect(epipe.message).toBe('the connection to the server was lost (write EPIPE)');
    expect(epipe.hint).toMatch(/lost during the load: nothing was committed/);
    const killed = describePgError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }));
    expect(killed.message).toBe('terminating connection due to administrator command');
    expect(killed.hint).toBe(epipe.hint);
  });

  it('MariaDB: likewise, and a killed connection (ER_CONNECTION_KILLED, 1927) gets the same hint', () => {
    const epipe = asMysqlStoreError(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }), 'mysql://u:***@h:3306/db') as StoreError;
    expect(epipe).toBeInstanceOf(StoreError);
    expect(epipe.message).toBe('mysql://u:***@h:3306/db: the connection to the server was lost (write EPIPE)');
    expect(epipe.hint).toMatch(/lost during the load: nothing was committed/);
    const killed = asMysqlStoreError(Object.assign(new Error('Connection was killed'), { code: 'ER_CONNECTION_KILLED', errno: 1927, sqlMessage: 'Connection was killed' }), 'mysql://h/db') as StoreError;
    expect(killed.message).toBe('mysql://h/db: Connection was killed');
    expect(killed.hint).toBe(epipe.hint);
  });
});

// ---- failures: credentials, a missing database, a connection lost mid-load --------------------

const noStackTrace = (r: CliResult): void => {
  expect(r.stderr + r.stdout).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(r.stderr + r.stdout).not.toMatch(/internal error|This is a bug in forklift/);
};

/** A one-mapping items project aimed at nothing in particular: the target comes with --target. */
function itemsProject(): { dir: string; plan: string } {
  const dir = tempDir('forklift-matrix-fail-');
  writeFileSync(path.join(dir, 'items.csv'), 'CODE,NAME\nA,Alpha\nB,Beta\n');
  writeFileSync(path.join(dir, 'items.yaml'), 'entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { const: EA }\n  active: { const: true }\n');
  writeFileSync(path.join(dir, 'forklift.yaml'), 'name: failures\ntarget: sqlite:./unused.db\nmappings: [items.yaml]\n');
  return { dir, plan: path.join(dir, 'forklift.yaml') };
}

/** A refused connection through the CLI: exit 1, message and hint, no secret anywhere, no run folder. */
function expectRefused(r: CliResult, json: CliResult, dir: string, secrets: string[], hint: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^Error: /);
  expect(r.stderr).toMatch(hint);
  noStackTrace(r);
  expect(json.code).toBe(1);
  const doc = JSON.parse(json.stdout) as { ok: boolean; error: { code: string; message: string; hint: string; exit_code: number } };
  expect(doc.ok).toBe(false);
  expect(doc.error.exit_code).toBe(1);
  expect(doc.error.hint).toMatch(hint);
  for (const s of secrets) {
    for (const out of [r.stdout, r.stderr, json.stdout, json.stderr]) expect(out).not.toContain(s);
  }
  // Nothing was reached: no run folder is left, so no report could carry the secret either.
  const runs = path.join(dir, 'runs');
  expect(existsSync(runs) ? readdirSync(runs) : []).toEqual([]);
  expect(filesContaining(dir, secrets)).toEqual([]);
}

/** The bench machine log: generated once (fixtures/generate.mjs --bench), about 16 MiB. */
const MACHINE_ROWS = 300_000;
let bench: { dir: string; ledger: Record<string, number> } | undefined;
function benchData(): { dir: string; ledger: Record<string, number> } {
  if (bench) return bench;
  const dir = tempDir('forklift-matrix-bench-');
  const g = spawnSync(process.execPath, [path.join(ROOT, 'fixtures', 'generate.mjs'), '--bench', dir, '--machine-rows', String(MACHINE_ROWS), '--items', '200'], { encoding: 'utf8' });
  if (g.status !== 0) throw new Error(`fixtures/generate.mjs failed: ${g.stderr}`);
  const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { ledger: { machine_events: Record<string, number> } };
  // The seed: the log's first 2,000 events (no duplicate among them), a small earlier load.
  const lines = readFileSync(path.join(dir, 'MACHLOG.CSV'), 'utf8').split('\n');
  writeFileSync(path.join(dir, 'SEED.CSV'), lines.slice(0, 2001).join('\n') + '\n');
  const mapping = readFileSync(path.join(dir, 'machine_log.yaml'), 'utf8');
  expect(mapping).toContain('MACHLOG.CSV');
  writeFileSync(path.join(dir, 'seed_log.yaml'), mapping.replace('MACHLOG.CSV', 'SEED.CSV'));
  const plan = (name: string, m: string): void => writeFileSync(path.join(dir, `${name}.yaml`), `name: ${name}\ntarget: sqlite:./unused.db\nmappings: [${m}]\nreject_limit: 1%\nload: replace\n`);
  plan('seed', 'seed_log.yaml');
  plan('big', 'machine_log.yaml');
  bench = { dir, ledger: expected.ledger.machine_events };
  return bench;
}
afterAll(() => {
  if (bench) rmSync(bench.dir, { recursive: true, force: true });
});

interface Snapshot {
  rows: number;
  sha256: string;
}
const snapshotOf = (rows: unknown[][]): Snapshot => ({ rows: rows.length, sha256: createHash('sha256').update(JSON.stringify(rows)).digest('hex') });

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const KILL_AFTER_MS = 200;

/**
 * Runs the big machine-log migrate through the CLI and, from a second (admin) connection, ends
 * the loading session as soon as its bulk statement shows up on the server.
 */
async function migrateAndKill(target: string, find: () => Promise<number | undefined>, kill: (id: number) => Promise<void>): Promise<{ result: CliResult & { hung: boolean }; killed: boolean }> {
  const { dir } = benchData();
  const cli = spawnCli(['migrate', path.join(dir, 'big.yaml'), '--target', target], { cwd: dir, timeoutMs: 120_000 });
  let finished = false;
  void cli.done.then(() => (finished = true));
  let killed = false;
  while (!finished) {
    const id = await find();
    if (id !== undefined) {
      // Into the data stream, not at its first byte (the load of 300,000 rows takes about a second).
      await sleep(KILL_AFTER_MS);
      await kill(id);
      killed = true;
      break;
    }
    await sleep(10);
  }
  return { result: await cli.done, killed };
}

/** What a connection lost mid-load must look like to the user, and what must stay on disk. */
function expectLostConnection(r: CliResult & { hung: boolean }, secret: string): void {
  expect(r.hung, 'the CLI hung after the connection was lost').toBe(false);
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toMatch(/^Error: .+/);
  expect(r.stderr).toMatch(/^Hint: The connection to the server was lost during the load: nothing was committed[.;] [Rr]un the same command again\.$/m);
  noStackTrace(r);
  expect(r.stdout + r.stderr).not.toContain(secret);
  expect(filesContaining(benchData().dir, [secret])).toEqual([]);
}

describe.skipIf(pgDown !== null)('failures: PostgreSQL', () => {
  const role = `forklift_t_role_${randomBytes(4).toString('hex')}`;
  let trust = false;

  beforeAll(async () => {
    await withPg(PG_ADMIN_URL, (c) => c.query(`CREATE ROLE ${role} LOGIN PASSWORD 'Right-pw-${role}'`));
    // Does the server check passwords at all? Under trust authentication a wrong one connects.
    const wrong = new pg.Client({ connectionString: pgUrl('postgres', { name: role, password: 'Wr0ng-pw-probe' }), connectionTimeoutMillis: 5000 });
    trust = await wrong.connect().then(
      () => true,
      () => false,
    );
    await wrong.end().catch(() => {});
  });
  afterAll(async () => {
    await withPg(PG_ADMIN_URL, (c) => c.query(`DROP ROLE IF EXISTS ${role}`));
  });

  it('a wrong password (or, under trust authentication, a user that does not exist): exit 1, a hint, the password nowhere', async () => {
    const p = itemsProject();
    const secret = `S3cret-${randomBytes(4).toString('hex')}`;
    let url: string;
    if (trust) {
      // pg_hba.conf trusts this host: any password is accepted, so the password cannot be wrong.
      // A role that does not exist is refused all the same, and the password must stay hidden.
      console.info(`note: PostgreSQL trusts ${new URL(PG_ADMIN_URL).hostname} (pg_hba.conf), so a wrong password connects; testing a user that does not exist instead`);
      url = pgUrl('postgres', { name: `${role}_nobody`, password: secret });
    } else {
      url = pgUrl('postgres', { name: role, password: secret });
    }
    const r = runCli(['migrate', p.plan, '--target', url], { cwd: p.dir });
    const json = runCli(['migrate', p.plan, '--target', url, '--json'], { cwd: p.dir });
    expectRefused(r, json, p.dir, [secret], /user name and password/);
    expect(r.stderr).toMatch(trust ? /role ".+_nobody" does not exist/ : /password authentication failed/);
    expect(r.stderr).toContain(':***@');
  });

  it('a database that does not exist: exit 1 and how to create it', () => {
    const p = itemsProject();
    const secret = `S3cret-${randomBytes(4).toString('hex')}`;
    // Under trust the password is ignored; with password authentication it is the role's own.
    const url = pgUrl(`forklift_t_missing_${randomBytes(4).toString('hex')}`, { name: role, password: trust ? secret : `Right-pw-${role}` });
    const r = runCli(['migrate', p.plan, '--target', url], { cwd: p.dir });
    const json = runCli(['migrate', p.plan, '--target', url, '--json'], { cwd: p.dir });
    expectRefused(r, json, p.dir, [secret, `Right-pw-${role}`], /database does not exist: create it/);
    expect(r.stderr).toMatch(/database "forklift_t_missing_\w+" does not exist/);
  });

  it('the connection killed during COPY: StoreError (exit 1), target unchanged, the rerun loads all', { timeout: 240_000 }, async () => {
    const { dir, ledger } = benchData();
    const { name, url } = await pgDbs.create();
    // A password in the URL (ignored under trust) that must not surface anywhere.
    const secret = `S3cret-${randomBytes(4).toString('hex')}`;
    const target = trust ? pgUrl(name, { name: new URL(PG_ADMIN_URL).username || 'postgres', password: secret }) : url;
    const seed = await runPlan({ plan: path.join(dir, 'seed.yaml'), command: 'migrate', target });
    expect(seed.entities[0]).toMatchObject({ read: 2000, loaded: 2000 });
    const dump = (): Promise<Snapshot> =>
      withPg(url, async (c) => snapshotOf((await c.query({ text: 'SELECT * FROM machine_events ORDER BY machine_id COLLATE "C", ts', rowMode: 'array', types: { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig })).rows as unknown[][]));
    const before = await dump();
    expect(before.rows).toBe(2000);

    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    let killed: boolean;
    let result: CliResult & { hung: boolean };
    try {
      ({ result, killed } = await migrateAndKill(
        target,
        async () => (await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'forklift' AND state = 'active' AND query ILIKE 'COPY%'", [name])).rows[0]?.pid,
        async (pid) => {
          await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        },
      ));
    } finally {
      await admin.end();
    }
    expect(killed, `the load finished before its session could be ended: ${result.stderr}`).toBe(true);
    expectLostConnection(result, secret);
    expect(result.stderr).toMatch(/^Error: postgres:\/\/.+: (terminating connection due to administrator command|the connection to the server was lost \(.+\))/m);

    expect(await dump()).toEqual(before);
    const runs = async (): Promise<{ status: string; message: string | null }[]> => withPg(url, async (c) => (await c.query<{ status: string; message: string | null }>('SELECT status, message FROM forklift_runs ORDER BY started')).rows);
    const afterKill = await runs();
    expect(afterKill.map((r) => r.status)).toEqual(['succeeded', 'failed']);
    expect(afterKill[1]!.message).toMatch(/terminating connection due to administrator command|the connection to the server was lost/);
    expect(afterKill[1]!.message).not.toContain(secret);

    const again = runCli(['migrate', path.join(dir, 'big.yaml'), '--target', target, '--json'], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout) as RunResult;
    const l = report.entities[0]!;
    expect({ read: l.read, loaded: l.loaded, filtered: l.filtered, duplicates_dropped: l.duplicates_dropped, rejected: l.rejected }).toEqual(ledger);
    const after = await dump();
    expect(after.rows).toBe(ledger.loaded);
    expect((await runs()).map((r) => r.status)).toEqual(['succeeded', 'failed', 'succeeded']);
    expect(again.stdout).not.toContain(secret);
  });
});

describe.skipIf(myDown !== null)('failures: MariaDB', () => {
  const user = `forklift_t_u_${randomBytes(4).toString('hex')}`;
  // Characters a URL must percent-encode: the redaction must hide the decoded and the encoded form.
  const password = `p@ss:w/rd%${randomBytes(4).toString('hex')}`;
  const secrets = [password, encodeURIComponent(password)];
  let root: mysql.Connection;

  beforeAll(async () => {
    root = await mysql.createConnection(mysqlAdminConfig());
    for (const host of ['%', 'localhost']) {
      await root.query(`CREATE USER '${user}'@'${host}' IDENTIFIED BY '${password}'`);
      await root.query(`GRANT ALL PRIVILEGES ON ${myDbs.grantPattern}.* TO '${user}'@'${host}'`);
    }
  });
  afterAll(async () => {
    if (!root) return;
    await root.query(`DROP USER IF EXISTS '${user}'@'%', '${user}'@'localhost'`);
    await root.end();
  });

  it('a wrong password: exit 1, a hint, neither password nor its URL form anywhere', async () => {
    const { name } = await myDbs.create();
    const p = itemsProject();
    const wrong = `Wr0ng/p@ss%${randomBytes(4).toString('hex')}`;
    const url = mysqlUrl(name, { name: user, password: wrong });
    const r = runCli(['migrate', p.plan, '--target', url], { cwd: p.dir });
    const json = runCli(['migrate', p.plan, '--target', url, '--json'], { cwd: p.dir });
    expectRefused(r, json, p.dir, [wrong, encodeURIComponent(wrong), ...secrets], /user name and password/);
    expect(r.stderr).toMatch(/Access denied for user/);
    expect(r.stderr).toContain(':***@');
  });

  it('a database that does not exist: exit 1 and the CREATE DATABASE to run', () => {
    const p = itemsProject();
    const url = mysqlUrl(`${myDbs.prefix}_missing`, { name: user, password });
    const r = runCli(['migrate', p.plan, '--target', url], { cwd: p.dir });
    const json = runCli(['migrate', p.plan, '--target', url, '--json'], { cwd: p.dir });
    expectRefused(r, json, p.dir, secrets, /CREATE DATABASE `forklift_t_\w+_missing`/);
  });

  it('the connection killed during LOAD DATA: StoreError (exit 1), target unchanged, the rerun loads all', { timeout: 240_000 }, async () => {
    const { dir, ledger } = benchData();
    const { name } = await myDbs.create();
    const target = mysqlUrl(name, { name: user, password });
    const seed = await runPlan({ plan: path.join(dir, 'seed.yaml'), command: 'migrate', target });
    expect(seed.entities[0]).toMatchObject({ read: 2000, loaded: 2000 });
    const dump = async (): Promise<Snapshot> => {
      const [rows] = await root.query({ sql: `SELECT * FROM \`${name}\`.machine_events ORDER BY machine_id, ts`, rowsAsArray: true });
      return snapshotOf(rows as unknown[][]);
    };
    const before = await dump();
    expect(before.rows).toBe(2000);

    const { result, killed } = await migrateAndKill(
      target,
      async () => {
        const [rows] = await root.query(
          "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ? AND USER = ? AND ID <> CONNECTION_ID() AND (INFO LIKE 'LOAD DATA%' OR INFO LIKE 'INSERT INTO `machine_events`%')",
          [name, user],
        );
        const id = (rows as { id: unknown }[])[0]?.id;
        return id === undefined ? undefined : Number(id);
      },
      async (id) => {
        await root.query(`KILL CONNECTION ${id}`);
      },
    );
    expect(killed, `the load finished before its connection could be killed: ${result.stderr}`).toBe(true);
    expectLostConnection(result, password);
    for (const s of secrets) expect(result.stderr).not.toContain(s);
    expect(result.stderr).toMatch(/^Error: mysql:\/\/forklift_t_u_\w+:\*\*\*@.+: .*(connection|Connection).*$/m);

    expect(await dump()).toEqual(before);
    const runs = async (): Promise<{ status: string; message: string | null }[]> => {
      const [rows] = await root.query(`SELECT status, message FROM \`${name}\`.forklift_runs ORDER BY started`);
      return rows as { status: string; message: string | null }[];
    };
    const afterKill = await runs();
    expect(afterKill.map((r) => r.status)).toEqual(['succeeded', 'failed']);
    for (const s of secrets) expect(String(afterKill[1]!.message)).not.toContain(s);

    const again = runCli(['migrate', path.join(dir, 'big.yaml'), '--target', target, '--json'], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout) as RunResult;
    const l = report.entities[0]!;
    expect({ read: l.read, loaded: l.loaded, filtered: l.filtered, duplicates_dropped: l.duplicates_dropped, rejected: l.rejected }).toEqual(ledger);
    expect((await dump()).rows).toBe(ledger.loaded);
    expect((await runs()).map((r) => r.status)).toEqual(['succeeded', 'failed', 'succeeded']);
    for (const s of secrets) expect(again.stdout).not.toContain(s);
  });
});
