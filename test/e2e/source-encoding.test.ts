import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, sqlitePairs, tempDir } from '../helpers.js';
import { MysqlDatabases, PG_ADMIN_URL, pgUrl, probeMysql, probePg, withMysql, withPg } from '../integration/stores/live.js';

/**
 * How a source picks its encoding, through the built CLI: a UTF-8 file named in a single-byte
 * encoding, and CJK legacy files under encoding: auto (both loaded as mojibake without a word),
 * and a PostgreSQL SQL_ASCII database holding Windows-1252 text (its query failed at the first
 * such byte).
 */

/** `text` in `encoding` as the iconv program writes it. */
function iconvBytes(text: string, encoding: string): Buffer {
  return execFileSync('iconv', ['-f', 'utf-8', '-t', encoding], { input: text });
}

/** A one-mapping project: items from parts.csv (`bytes`), the source line as given. */
function project(bytes: Buffer, source: string): string {
  const dir = tempDir('forklift-enc-');
  writeFileSync(path.join(dir, 'parts.csv'), bytes);
  writeFileSync(
    path.join(dir, 'items.yaml'),
    `entity: items\nsource: { format: csv, path: parts.csv${source} }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { const: EA }\n  active: { const: true }\n`,
  );
  writeFileSync(path.join(dir, 'forklift.yaml'), `name: enc\ntarget: sqlite:./t.db\nmappings: [items.yaml]\nreject_limit: 100%\n`);
  return dir;
}

function descriptions(dir: string): Record<string, string> {
  return sqlitePairs(path.join(dir, 't.db'), 'SELECT item_code, description FROM items ORDER BY item_code');
}

/** Whether the target holds any item (a refused run creates no table, or leaves no database at all). */
function itemsLoaded(dir: string): boolean {
  if (!existsSync(path.join(dir, 't.db'))) return false;
  const db = new Database(path.join(dir, 't.db'), { readonly: true });
  try {
    return db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'items'").get() !== undefined && (db.prepare('SELECT COUNT(*) FROM items').pluck().get() as number) > 0;
  } finally {
    db.close();
  }
}

function expectRefused(r: ReturnType<typeof runCli>, pattern: RegExp): void {
  expect(r.stderr, r.stdout).toMatch(pattern);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
}

describe('a UTF-8 file whose mapping names a single-byte encoding', () => {
  it('is refused (exit 2) naming the file, the line, the word both ways and the fix: windows-1252, latin1, iso-8859-15', () => {
    const utf8 = Buffer.from('CODE,NAME\nA-1,Zahnrad\nA-2,Müller Getriebe\n', 'utf8');
    for (const encoding of ['windows-1252', 'latin1', 'iso-8859-15']) {
      const dir = project(utf8, `, encoding: ${encoding}`);
      const r = runCli(['migrate', 'forklift.yaml'], { cwd: dir });
      const read = encoding === 'iso-8859-15' ? 'MÃŒller' : 'MÃ¼ller';
      expectRefused(r, new RegExp(`parts\\.csv is read as ${encoding} \\(encoding: in the mapping\\), but it is UTF-8: line 3 holds "Müller", which ${encoding} reads as "${read}"`));
      expect(r.stderr).toMatch(/set encoding: utf-8 \(or auto\) in the mapping's source; if the file really is .* set allow_valid_utf8: true there/);
      // preview refuses too: no mojibake on the screen
      expectRefused(runCli(['preview', 'items.yaml'], { cwd: dir }), /but it is UTF-8: line 3/);
    }
  });

  it('is checked whole as it streams: a first umlaut on line 15,001 (past the first 64 KB) is found, and nothing is loaded', () => {
    const rows = ['CODE,NAME', ...Array.from({ length: 20_000 }, (_, i) => `A-${String(i + 1).padStart(5, '0')},Zahnrad ${i + 1}`)];
    rows[15_000] = 'A-15000,Müller Zahnrad';
    const text = rows.join('\n') + '\n';
    expect(Buffer.byteLength(text.slice(0, text.indexOf('ü')))).toBeGreaterThan(64 * 1024);
    const dir = project(Buffer.from(text, 'utf8'), ', encoding: windows-1252');
    const r = runCli(['migrate', 'forklift.yaml'], { cwd: dir });
    expectRefused(r, /parts\.csv is read as windows-1252 \(encoding: in the mapping\), but it is UTF-8: line 15001 holds "Müller", which windows-1252 reads as "MÃ¼ller"/);
    expect(itemsLoaded(dir)).toBe(false);

    // The same file really in Windows-1252 (written by iconv) still loads, the umlaut intact.
    const cp1252 = project(iconvBytes(text, 'windows-1252'), ', encoding: windows-1252');
    const ok = runCli(['migrate', 'forklift.yaml'], { cwd: cp1252 });
    expect(ok.code, ok.stderr).toBe(0);
    expect(descriptions(cp1252)['A-15000']).toBe('Müller Zahnrad');
  });

  it('loads as named with allow_valid_utf8: true (the user insists), and the mapping schema documents the switch', () => {
    const dir = project(Buffer.from('CODE,NAME\nA-1,Ã¼ber\n', 'utf8'), ', encoding: windows-1252, allow_valid_utf8: true');
    const r = runCli(['migrate', 'forklift.yaml'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    // The bytes C3 83 C2 BC read as Windows-1252: four characters, as the user said.
    expect(descriptions(dir)['A-1']).toBe('ÃƒÂ¼ber');
    const schema = JSON.parse(readFileSync(path.join(ROOT, 'schemas', 'mapping.schema.json'), 'utf8')) as {
      properties: { source: { properties: Record<string, { type: string; description: string }> } };
    };
    expect(schema.properties.source.properties.allow_valid_utf8).toMatchObject({ type: 'boolean', description: expect.stringMatching(/^Read the file in the single-byte encoding/) as unknown });
  });
});

describe('encoding: auto on a CJK legacy file', () => {
  it('refuses a short GB18030 or Shift_JIS file it cannot tell apart (exit 2), showing the line each way and asking for encoding:', () => {
    const gb = project(iconvBytes('物料编号,名称\nA-1,齿轮\n', 'gb18030'), '');
    const r = runCli(['preview', 'items.yaml'], { cwd: gb });
    expectRefused(r, /parts\.csv: encoding: auto cannot tell which encoding the file is in: line 1 is no Western text, and it reads as windows-1252: "ÎïÁÏ±àºÅ,Ãû³Æ"; gb18030: "物料编号,名称"/);
    expect(r.stderr).toMatch(/Hint: set encoding: in the mapping to the encoding the file was written in, e\.g\. gb18030/);
    const sjis = project(iconvBytes('CODE,NAME\nA-1,歯車\nA-2,軸受\n', 'shift_jis'), '');
    expectRefused(runCli(['migrate', 'forklift.yaml'], { cwd: sjis }), /parts\.csv: encoding: auto cannot tell .* line 2 is no Western text, .*shift_jis: "A-1,歯車"/);

    // Named in the mapping, the same files load right.
    const named = project(iconvBytes('CODE,NAME\nA-1,齿轮\n', 'gb18030'), ', encoding: gb18030');
    expect(runCli(['migrate', 'forklift.yaml'], { cwd: named }).code).toBe(0);
    expect(descriptions(named)).toEqual({ 'A-1': '齿轮' });
  });

  it('recognises a GB18030 and a Shift_JIS file of a few hundred rows', () => {
    const zh = ['齿轮', '轴承', '螺栓', '螺母', '垫圈', '电机', '减速器', '联轴器', '法兰', '密封圈'];
    const ja = ['歯車', '軸受', 'ボルト', 'ナット', 'ワッシャー', 'モーター', '減速機', 'カップリング', 'フランジ', 'ばね'];
    for (const [words, encoding] of [[zh, 'gb18030'], [ja, 'shift_jis']] as const) {
      const text = ['CODE,NAME', ...Array.from({ length: 300 }, (_, i) => `A-${String(i).padStart(3, '0')},${words[i % words.length]}`)].join('\n') + '\n';
      const dir = project(iconvBytes(text, encoding), '');
      const r = runCli(['migrate', 'forklift.yaml'], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(descriptions(dir)['A-001']).toBe(words[1]);
    }
  });
});

describe('a legacy file holding a byte its encoding leaves undefined', () => {
  it('is refused (exit 2) naming the line and the byte, not loaded with U+FFFD in its place; auto too', () => {
    // 0x81 and 0x9D are no characters in Windows-1252 (a DOS or Central European export, say).
    const rows = `CODE,NAME\n${'A-0,Zahnrad\n'.repeat(5000)}A-1,M\x81ller\nA-2,Gr\x9De\n`;
    for (const source of [', encoding: windows-1252', '']) {
      const dir = project(Buffer.from(rows, 'latin1'), source);
      const r = runCli(['migrate', 'forklift.yaml'], { cwd: dir });
      expectRefused(r, /parts\.csv:5002 is read as windows-1252, but holds byte 0x81, which is no character in windows-1252: "A-1,M\\x81ller"/);
      expect(r.stderr).toMatch(/Hint: the file is in another encoding: set encoding: in the mapping to the one it was written in/);
      expect(itemsLoaded(dir)).toBe(false);
    }
    // Shift_JIS: a lead byte with no trail byte the encoding knows.
    const sjis = project(Buffer.concat([iconvBytes('CODE,NAME\nA-1,歯車\n', 'shift_jis'), Buffer.from([0x41, 0x2d, 0x32, 0x2c, 0x82, 0x20, 0x0a])]), ', encoding: shift_jis');
    expectRefused(runCli(['migrate', 'forklift.yaml'], { cwd: sjis }), /parts\.csv:3 is read as shift_jis, but holds bytes that are no character in shift_jis: "A-2,\uFFFD /);
    expect(itemsLoaded(sjis)).toBe(false);
  });
});

/** The rejects files of the one run in `dir`, as one text. */
function rejectsOf(dir: string): string {
  const run = path.join(dir, 'runs', readdirSync(path.join(dir, 'runs'))[0]!, 'rejects');
  return readdirSync(run)
    .map((f) => readFileSync(path.join(run, f), 'utf8'))
    .join('');
}

const pgDown = await probePg();
if (pgDown !== null) console.warn(`PostgreSQL is not reachable (${pgDown}): the SQL_ASCII source tests are skipped`);

/** A one-mapping project reading items from itemmast of PostgreSQL database `db`, the encoding: part as given. */
function sqlProject(db: string, encoding: string): string {
  const dir = tempDir('fs-sqlascii-e2e-');
  writeFileSync(
    path.join(dir, 'items.yaml'),
    `entity: items\nsource: { format: sql, url: ${JSON.stringify(pgUrl(db))}, query: "SELECT * FROM itemmast ORDER BY itemno"${encoding} }\nfields:\n  item_code: { from: itemno, clean: [trim] }\n  description: { from: descr }\n  uom: { const: EA }\n  active: { const: true }\n`,
  );
  writeFileSync(path.join(dir, 'forklift.yaml'), 'name: enc\ntarget: sqlite:./t.db\nmappings: [items.yaml]\n');
  return dir;
}

describe.skipIf(pgDown !== null && !process.env.CI)('a PostgreSQL SQL_ASCII legacy database holding Windows-1252 text', () => {
  const legacy = `fs_e2e_${randomBytes(5).toString('hex')}`;
  const modern = `fs_e2e_${randomBytes(5).toString('hex')}`;

  beforeAll(async () => {
    await withPg(PG_ADMIN_URL, async (c) => {
      await c.query(`CREATE DATABASE ${legacy} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
      await c.query(`CREATE DATABASE ${modern}`);
    });
    // E'\xFC' stores the byte itself, as the legacy application wrote Windows-1252 ü.
    await withPg(pgUrl(legacy), (c) => c.query(`CREATE TABLE itemmast (itemno char(8), descr varchar(40)); INSERT INTO itemmast VALUES ('A-1', E'M\\xFCller \\x80 5'), ('A-2', 'Zahnrad')`));
  });

  afterAll(async () => {
    await withPg(PG_ADMIN_URL, async (c) => {
      for (const db of [legacy, modern]) await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    });
  });



  it('rejects the row that is not UTF-8 (nothing committed), naming the column, its bytes and encoding: in the rejects file', () => {
    const dir = sqlProject(legacy, '');
    const r = runCli(['migrate', 'forklift.yaml'], { cwd: dir });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/nothing was committed: items: 1 of 2 rows rejected/);
    const rejects = rejectsOf(dir);
    expect(rejects).toContain('description,encoding,"column descr (row 1) is not valid UTF-8: ""M\\xFCller \\x80 5""');
    expect(rejects).toContain("set encoding: in the mapping's source to that encoding, e.g. encoding: windows-1252");
    expect(itemsLoaded(dir)).toBe(false);
  });

  it('loads every value exactly with encoding: windows-1252', () => {
    const dir = sqlProject(legacy, ', encoding: windows-1252');
    const r = runCli(['migrate', 'forklift.yaml'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(descriptions(dir)).toEqual({ 'A-1': 'Müller € 5', 'A-2': 'Zahnrad' });
  });

  it('refuses encoding: on a database that declares its own (exit 2), saying the server converts it', async () => {
    await withPg(pgUrl(modern), (c) => c.query("CREATE TABLE itemmast (itemno char(8), descr varchar(40)); INSERT INTO itemmast VALUES ('A-1', 'Müller')"));
    const r = runCli(['migrate', 'forklift.yaml'], { cwd: sqlProject(modern, ', encoding: windows-1252') });
    expectRefused(r, /encoding: windows-1252 is for a database whose text has no declared encoding \(SQL_ASCII\) or a single-byte one \(LATIN1, WIN1252, …\), but this one's encoding is UTF8/);
    expect(r.stderr).toMatch(/remove encoding: from the mapping's source/);
  });
});

describe.skipIf(pgDown !== null && !process.env.CI)('a PostgreSQL database declared LATIN1 holding Windows-1252 text', () => {
  const name = `fl_e2e_${randomBytes(5).toString('hex')}`;

  beforeAll(async () => {
    await withPg(PG_ADMIN_URL, (c) => c.query(`CREATE DATABASE ${name} ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`));
    // € as the byte 0x80 and „ “ as 0x84 0x93, as a Windows application wrote them; LATIN1 reads them as C1 controls.
    await withPg(pgUrl(name), (c) =>
      c.query(`SET client_encoding TO 'LATIN1'; CREATE TABLE itemmast (itemno char(8), descr varchar(40)); INSERT INTO itemmast VALUES ('A-1', E'\\x84Getriebe\\x93 \\x80 5'), ('A-2', E'Zahnrad gr\\xFCn')`),
    );
  });

  afterAll(() => withPg(PG_ADMIN_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)));

  it('rejects the row whose text holds C1 control characters (nothing committed), saying to set encoding: windows-1252, which loads € „ “ exactly', () => {
    const plain = sqlProject(name, '');
    const r = runCli(['migrate', 'forklift.yaml'], { cwd: plain });
    expect({ code: r.code, committed: itemsLoaded(plain) }, r.stderr).toEqual({ code: 3, committed: false });
    expect(r.stderr).toMatch(/nothing was committed: items: 1 of 2 rows rejected/);
    expect(rejectsOf(plain)).toContain(
      'description,encoding,"column descr (row 1) holds a C1 control character (U+0080–U+009F, invisible): the database is declared LATIN1, and probably holds windows-1252 text (€ „ “ – stored as bytes 0x80–0x9F, which LATIN1 reads as control characters): set encoding: windows-1252 in the mapping\'s source (at character 1 of ""\\u0084Getriebe\\u0093 \\u0080 5"")',
    );
    const named = sqlProject(name, ', encoding: windows-1252');
    expect(runCli(['migrate', 'forklift.yaml'], { cwd: named }).code).toBe(0);
    expect(descriptions(named)).toEqual({ 'A-1': '„Getriebe“ € 5', 'A-2': 'Zahnrad grün' });
  });
});

const myDown = await probeMysql();
if (myDown !== null) console.warn(`MariaDB is not reachable (${myDown}): its legacy text test is skipped`);

describe.skipIf(myDown !== null && !process.env.CI)('a MariaDB ascii column holding a Windows-1252 byte', () => {
  const dbs = new MysqlDatabases('fs_');
  afterAll(() => dbs.dropAll());

  it("rejects the row naming the bytes instead of loading 'M?ller'; encoding: windows-1252 loads it exactly", async () => {
    const db = await dbs.create();
    await withMysql(db.name, async (c) => {
      await c.query('CREATE TABLE itemmast (itemno VARCHAR(8), descr VARCHAR(40) CHARACTER SET ascii)');
      // SET NAMES binary stores the byte as the legacy application wrote it.
      await c.query('SET NAMES binary');
      await c.query("INSERT INTO itemmast VALUES ('A-1', X'4DFC6C6C6572'), ('A-2', 'Zahnrad')");
    });
    const project = (encoding: string): string => {
      const dir = tempDir('fs-mariadb-e2e-');
      writeFileSync(
        path.join(dir, 'items.yaml'),
        `entity: items\nsource: { format: sql, url: ${JSON.stringify(db.url)}, query: "SELECT * FROM itemmast ORDER BY itemno"${encoding} }\nfields:\n  item_code: { from: itemno }\n  description: { from: descr }\n  uom: { const: EA }\n  active: { const: true }\n`,
      );
      writeFileSync(path.join(dir, 'forklift.yaml'), 'name: enc\ntarget: sqlite:./t.db\nmappings: [items.yaml]\nreject_limit: 100%\n');
      return dir;
    };
    const plain = project('');
    const r = runCli(['migrate', 'forklift.yaml', '--json'], { cwd: plain });
    expect(r.code, r.stderr).toBe(0);
    expect(descriptions(plain)).toEqual({ 'A-2': 'Zahnrad' });
    const rejects = rejectsOf(plain);
    expect(rejects).toContain('description,encoding,"column descr (row 1) holds bytes beyond ASCII: ""M\\xFCller""');
    expect(rejects).toContain('set encoding: in the mapping');
    const named = project(', encoding: windows-1252');
    expect(runCli(['migrate', 'forklift.yaml'], { cwd: named }).code).toBe(0);
    expect(descriptions(named)).toEqual({ 'A-1': 'Müller', 'A-2': 'Zahnrad' });
  });
});

describe('a SQLite legacy file whose TEXT holds Windows-1252 bytes', () => {
  function sqliteProject(encoding: string): string {
    const dir = tempDir('fl-sqlite-e2e-');
    const db = new Database(path.join(dir, 'legacy.db'));
    // Müller € 5 as a legacy Windows program stored it: 0xFC, 0x80.
    db.exec("CREATE TABLE itemmast (itemno TEXT, descr TEXT); INSERT INTO itemmast VALUES ('A-1', CAST(X'4DFC6C6C657220802035' AS TEXT)), ('A-2', 'Zahnrad')");
    db.close();
    writeFileSync(
      path.join(dir, 'items.yaml'),
      `entity: items\nsource: { format: sql, url: "sqlite:legacy.db", query: "SELECT * FROM itemmast ORDER BY itemno"${encoding} }\nfields:\n  item_code: { from: itemno }\n  description: { from: descr }\n  uom: { const: EA }\n  active: { const: true }\n`,
    );
    writeFileSync(path.join(dir, 'forklift.yaml'), 'name: enc\ntarget: sqlite:./t.db\nmappings: [items.yaml]\n');
    return dir;
  }

  it('rejects the row (nothing committed) naming the bytes and encoding:; encoding: windows-1252 loads it exactly', () => {
    const plain = sqliteProject('');
    const r = runCli(['migrate', 'forklift.yaml'], { cwd: plain });
    expect(r.code, r.stderr).toBe(3);
    const rejects = rejectsOf(plain);
    expect(rejects).toContain('description,encoding,"column descr (row 1) is not valid UTF-8: ""M\\xFCller \\x80 5""');
    expect(rejects).toContain("set encoding: in the mapping's source to the encoding the legacy application wrote, e.g. encoding: windows-1252");
    const named = sqliteProject(', encoding: windows-1252');
    const ok = runCli(['migrate', 'forklift.yaml'], { cwd: named });
    expect(ok.code, ok.stderr).toBe(0);
    expect(descriptions(named)).toEqual({ 'A-1': 'Müller € 5', 'A-2': 'Zahnrad' });
  });
});
