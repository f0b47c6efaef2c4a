import { execFileSync } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { tempDir } from '../helpers.js';
import { MYSQL_HOST, MYSQL_PORT, liveServers, mysqlAdminConfig, withPg, type MysqlDatabases } from './stores/live.js';

/** The stores a purge test runs on (SQLite, PostgreSQL, MariaDB), each a fresh database of the test file's own. */

const hex = (v: unknown): unknown => (Buffer.isBuffer(v) ? `\\x${v.toString('hex')}` : v);

export interface Db {
  url: string;
  exec: (sql: string) => Promise<void>;
  /** One statement on a connection of its own, synchronously (purge's progress callback cannot wait). */
  execSync: (sql: string) => void;
  rows: (sql: string) => Promise<unknown[][]>;
}

export type Kind = 'sqlite' | 'postgres' | 'mariadb';

export interface PurgeStores {
  /** A fresh, empty database on that store. */
  database: (kind: Kind) => Promise<Db>;
  /** Each store with why it is skipped (null: it is up). */
  KINDS: { kind: Kind; down: string | null }[];
  /** The file's MariaDB databases, for one more of them. */
  myDbs: MysqlDatabases;
}

export async function purgeStores(file: string): Promise<PurgeStores> {
  const { pgDown, myDown, pgDbs, myDbs } = await liveServers(file);
  async function database(kind: Kind): Promise<Db> {
    if (kind === 'sqlite') {
      const file = path.join(tempDir(), 'refs.db');
      const open = (): Database.Database => {
        const d = new Database(file);
        d.pragma('foreign_keys = ON');
        return d;
      };
      const execSync = (sql: string): void => {
        const d = open();
        try {
          d.exec(sql);
        } finally {
          d.close();
        }
      };
      return {
        url: `sqlite:${file}`,
        exec: async (sql) => execSync(sql),
        execSync,
        rows: async (sql) => {
          const d = open();
          try {
            return (d.prepare(sql).raw().all() as unknown[][]).map((r) => r.map(hex));
          } finally {
            d.close();
          }
        },
      };
    }
    if (kind === 'postgres') {
      const { url } = await pgDbs.create();
      return {
        url,
        exec: async (sql) => void (await withPg(url, (c) => c.query(sql))),
        execSync: (sql) => void execFileSync('psql', [url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql]),
        rows: async (sql) => ((await withPg(url, (c) => c.query({ text: sql, rowMode: 'array' }))).rows as unknown[][]).map((r) => r.map(hex)),
      };
    }
    const { name, url } = await myDbs.create();
    const admin = mysqlAdminConfig();
    const connect = (): Promise<mysql.Connection> => mysql.createConnection({ ...admin, database: name, multipleStatements: true });
    return {
      url,
      exec: async (sql) => {
        const c = await connect();
        try {
          await c.query(sql);
        } finally {
          await c.end();
        }
      },
      execSync: (sql) => void execFileSync('mysql', ['-h', MYSQL_HOST, '-P', String(MYSQL_PORT), '-u', admin.user!, name, '-e', sql], { env: { ...process.env, MYSQL_PWD: admin.password ?? '' } }),
      rows: async (sql) => {
        const c = await connect();
        try {
          const [rows] = await c.query({ sql, rowsAsArray: true });
          return (rows as unknown[][]).map((r) => r.map(hex));
        } finally {
          await c.end();
        }
      },
    };
  }
  return {
    database,
    myDbs,
    KINDS: [
      { kind: 'sqlite', down: null },
      { kind: 'postgres', down: pgDown },
      { kind: 'mariadb', down: myDown },
    ],
  };
}

/** DDL per store: a text type under a case-insensitive collation (and what it needs first), a binary type and its literals, the table options. */
export const DDL = {
  sqlite: { setup: '', ci: 'TEXT COLLATE NOCASE', bin: 'BLOB', engine: '', hex: (h: string) => `X'${h}'` },
  postgres: { setup: "create collation ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)", ci: 'text collate ci', bin: 'bytea', engine: '', hex: (h: string) => `'\\x${h}'::bytea` },
  mariadb: { setup: '', ci: 'varchar(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci', bin: 'varbinary(16)', engine: ' ENGINE=InnoDB', hex: (h: string) => `X'${h}'` },
} as const;
