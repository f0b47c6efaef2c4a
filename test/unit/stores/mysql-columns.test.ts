import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { factoryModel } from '../../../src/model/factory.js';
import type { Column, Entity } from '../../../src/model/types.js';
import { checkMysqlKeyLengths, mysqlColumnTypes, mysqlCreateTable, mysqlHeldKeysSql, mysqlHoldsExactly } from '../../../src/stores/mysql.js';
import { pgHeldKeysSql } from '../../../src/stores/postgres.js';
import { mysqlNativeColumn, type MysqlColumnRow } from '../../../src/stores/read-mysql.js';

/**
 * MySQL/MariaDB's limits on text, without a server: which string columns become text so a row
 * fits its 65535 bytes, which keys no index holds, which existing columns hold the model's
 * strings; and the key lookup a load that met a key already there sends.
 */

const str = (name: string, length: number, more: Partial<Column> = {}): Column => ({ name, type: 'string', length, required: false, ...more });
const wide = (...columns: Column[]): Entity => ({ name: 'wide', primaryKey: ['id'], rules: [], columns: [{ name: 'id', type: 'integer', required: true }, ...columns] });

describe('MySQL/MariaDB column types of long strings', () => {
  it('keeps varchar where the row fits, and makes the longest strings text (mediumtext beyond 16383 characters) until it does', () => {
    expect(Object.fromEntries(mysqlColumnTypes(wide(str('s1', 10000), str('s2', 10000), str('s3', 20000))))).toEqual({ id: 'bigint', s1: 'text', s2: 'varchar(10000)', s3: 'mediumtext' });
    expect(Object.fromEntries(mysqlColumnTypes(wide(str('a', 4000), str('b', 12000), str('c', 9000))))).toEqual({ id: 'bigint', a: 'varchar(4000)', b: 'text', c: 'varchar(9000)' });
    // The longest varchar that fits beside the bigint key (MariaDB 10.11 takes 16380, refuses 16383): as earlier versions made it.
    expect(Object.fromEntries(mysqlColumnTypes(wide(str('s', 16380))))).toEqual({ id: 'bigint', s: 'varchar(16380)' });
    expect(Object.fromEntries(mysqlColumnTypes(wide(str('s', 16383))))).toEqual({ id: 'bigint', s: 'text' });
    expect(Object.fromEntries(mysqlColumnTypes(wide(str('s', 16384))))).toEqual({ id: 'bigint', s: 'mediumtext' });
    // The factory model is as it was.
    for (const e of factoryModel().entities.values()) for (const t of mysqlColumnTypes(e).values()) expect(t).not.toMatch(/text/);
  });

  it('never makes a key, unique or referencing column text', () => {
    const e = wide(str('k', 700, { unique: true }), str('r', 700, { references: { entity: 'other', column: 'k' } }), str('s1', 15000), str('s2', 15000));
    expect(Object.fromEntries(mysqlColumnTypes(e))).toEqual({ id: 'bigint', k: 'varchar(700)', r: 'varchar(700)', s1: 'text', s2: 'text' });
    expect(mysqlCreateTable(e)).toContain('`s1` text NULL');
  });
});

describe('MySQL/MariaDB keys longer than an index holds', () => {
  const refused = (entities: Entity[], file?: string): ConfigError => {
    try {
      checkMysqlKeyLengths(entities, 'mysql://root@h/db', file);
    } catch (e) {
      return e as ConfigError;
    }
    throw new Error('not refused');
  };

  it('takes keys of up to 768 characters, alone or together up to 3072 bytes', () => {
    expect(() => checkMysqlKeyLengths([wide(str('k', 768, { unique: true }))], 'x')).not.toThrow();
    expect(() => checkMysqlKeyLengths([{ ...wide(str('a', 380), str('b', 380)), primaryKey: ['a', 'b'] }], 'x')).not.toThrow();
    expect(() => checkMysqlKeyLengths([...factoryModel().entities.values()], 'x')).not.toThrow();
    // A text key is createTables' to name (a bundle's), in its own words.
    expect(() => checkMysqlKeyLengths([{ ...wide({ name: 't', type: 'text', required: true }), primaryKey: ['t'] }], 'x')).not.toThrow();
  });

  it('refuses a longer one as a configuration error (exit 2) naming entity, column and the length to give', () => {
    const e = refused([wide(str('code', 1000, { unique: true }))], '/p/model.yaml');
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.exitCode).toBe(2);
    expect(e.code).toBe('store.key-too-long');
    expect(e.message).toBe('mysql://root@h/db: MySQL/MariaDB indexes at most 3072 bytes of a key (768 characters of utf8mb4 text), and this key is longer: wide.code (unique) is a string of 1000 characters; nothing was loaded');
    expect(e.hint).toBe('Give wide.code a shorter length in the model (/p/model.yaml): at most 768 characters for a key of one column (length: 768), less for a key of several; or load into PostgreSQL or SQLite.');
    const two = refused([{ ...wide(str('a', 500), str('b', 300), str('r', 20000, { references: { entity: 'o', column: 'k' } })), primaryKey: ['a', 'b'] }]);
    expect(two.message).toContain('these keys are longer: the primary key of wide (a, b) takes up to 3200 bytes; wide.r (a reference to o.k) is a string of 20000 characters; nothing was loaded');
    expect(two.hint).toMatch(/^Give wide\.a, wide\.b, wide\.r a shorter length in the model: /);
  });
});

describe('MySQL/MariaDB existing text columns against the model', () => {
  const row = (c: string, dt: string, ct: string, len: number | null, cs = 'utf8mb4'): MysqlColumnRow => ({ t: 'wide', c, dt, ct, len, p: null, s: null, nl: 'YES', cs, cm: null });

  it('a text (65535 bytes) holds a string of up to 16383 characters in utf8mb4; varchar and mediumtext as before', () => {
    const rows = [row('a', 'varchar', 'varchar(10000)', 10000), row('b', 'text', 'text', 65535), row('c', 'mediumtext', 'mediumtext', 16777215), row('d', 'tinytext', 'tinytext', 255), row('e', 'text', 'text', 65535, 'utf8mb3'), row('f', 'text', 'text', 65535, 'latin1')];
    const holds = mysqlHoldsExactly(rows);
    const at = (i: number): ReturnType<typeof mysqlNativeColumn> => mysqlNativeColumn(rows[i]!);
    expect(holds(str('a', 10000), at(0))).toBe(true);
    expect(holds(str('a', 10001), at(0))).toBe(false);
    expect(holds(str('b', 16383), at(1))).toBe(true);
    expect(holds(str('b', 16384), at(1))).toBe(false);
    expect(holds({ name: 'b', type: 'text', required: false }, at(1))).toBe(true);
    expect(holds(str('c', 20000), at(2))).toBe(true);
    expect(holds(str('d', 63), at(3))).toBe(true);
    expect(holds(str('d', 64), at(3))).toBe(false);
    expect(holds(str('e', 21845), at(4))).toBe(true);
    expect(holds(str('e', 21846), at(4))).toBe(false);
    expect(holds(str('f', 65535), at(5))).toBe(true);
  });
});

describe('the key lookup of a load that met a key already there', () => {
  const events = factoryModel().entities.get('machine_events')!;

  it('MariaDB: the staged values as the load writes them (instants as datetime(3) in UTC)', () => {
    expect(mysqlHeldKeysSql(events, [['M1', '2024-01-01T00:00:00.250Z'], ["it's", '2024-01-02T00:00:00.000Z']])).toBe(
      "SELECT 1 FROM `machine_events` WHERE (`machine_id` = 'M1' AND `ts` = '2024-01-01 00:00:00.250') OR (`machine_id` = 'it\\'s' AND `ts` = '2024-01-02 00:00:00.000') LIMIT 1",
    );
  });

  it('PostgreSQL: parameters in key order, row after row', () => {
    expect(pgHeldKeysSql('machine_events', ['machine_id', 'ts'], 2)).toBe('SELECT 1 FROM "machine_events" WHERE ("machine_id" = $1 AND "ts" = $2) OR ("machine_id" = $3 AND "ts" = $4) LIMIT 1');
  });
});
