import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/errors.js';
import { runPlan } from '../../src/run/pipeline.js';
import { tempDir } from '../helpers.js';
import { machineLogProject as project } from './machine-log.js';
import { MYSQL_ADMIN_URL, MysqlDatabases, PG_ADMIN_URL, PgDatabases, mysqlAdminConfig, probeMysql, probePg, reportUnreachable, withPg } from './stores/live.js';

/**
 * Incremental loads with a watermark (SPEC section 4): only machine events newer than the target's
 * latest per machine are loaded; the same file twice adds nothing; the ledger still sums. On every
 * live store, since each reads its own watermark back (timestamps in three different types).
 */

const pgDown = await probePg();
const myDown = await probeMysql();
reportUnreachable('PostgreSQL', PG_ADMIN_URL, pgDown, 'incremental.test.ts');
reportUnreachable('MariaDB', MYSQL_ADMIN_URL, myDown, 'incremental.test.ts');
const pgDbs = new PgDatabases();
const myDbs = new MysqlDatabases();
afterAll(async () => {
  await pgDbs.dropAll();
  await myDbs.dropAll();
});

interface Side {
  url: () => Promise<string>;
  count: (url: string) => Promise<number>;
  skip: string | null;
}

const sides: Record<string, Side> = {
  sqlite: {
    skip: null,
    url: async () => `sqlite:${path.join(tempDir('forklift-incr-'), 't.db')}`,
    count: async (url) => {
      const db = new Database(url.slice('sqlite:'.length), { readonly: true });
      try {
        return (db.prepare('SELECT COUNT(*) AS n FROM machine_events').get() as { n: number }).n;
      } finally {
        db.close();
      }
    },
  },
  postgres: {
    skip: pgDown,
    url: async () => (await pgDbs.create()).url,
    count: (url) => withPg(url, async (c) => (await c.query<{ n: number }>('SELECT COUNT(*)::int AS n FROM machine_events')).rows[0]!.n),
  },
  mariadb: {
    skip: myDown,
    url: async () => (await myDbs.create()).url,
    count: async (url) => {
      const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: new URL(url).pathname.slice(1) });
      try {
        const [rows] = await c.query('SELECT COUNT(*) AS n FROM machine_events');
        return Number((rows as { n: number }[])[0]!.n);
      } finally {
        await c.end();
      }
    },
  },
};

const DAY1 = ['CNC-01,2025-11-03 06:00:00,RUN,1', 'CNC-01,2025-11-03 07:00:00,RUN,2', 'CNC-02,2025-11-03 06:30:00,IDLE,0'];

describe.each(Object.entries(sides).filter(([, s]) => s.skip === null))('incremental loads into %s', (_name, side) => {
  it('loads only rows newer than the latest per machine; the same file twice adds nothing; the ledger sums', async () => {
    const url = await side.url();
    const p = project(url);
    p.log(DAY1);
    const first = await runPlan({ plan: p.plan, command: 'migrate' });
    expect(first.entities[0]).toMatchObject({ read: 3, loaded: 3, filtered: 0, watermark: { column: 'ts', group_by: ['machine_id'], groups_in_target: 0, behind: 0 } });

    const again = await runPlan({ plan: p.plan, command: 'migrate' });
    expect(again.entities[0]).toMatchObject({ read: 3, loaded: 0, filtered: 3, rejected: 0, watermark: { groups_in_target: 2, behind: 3 } });
    expect(await side.count(url)).toBe(3);

    // The next export overlaps the last: CNC-01 is behind until 07:00 (Berlin), CNC-02 until 06:30;
    // CNC-03 is new. 06:45 on CNC-02 is newer than its own watermark though older than CNC-01's.
    p.log([
      ...DAY1,
      'CNC-01,2025-11-03 06:59:59,RUN,9',
      'CNC-01,2025-11-03 07:00:01,RUN,3',
      'CNC-02,2025-11-03 06:45:00,RUN,4',
      'CNC-03,2025-11-01 00:00:00,OFF,0',
    ]);
    const next = await runPlan({ plan: p.plan, command: 'migrate' });
    expect(next.entities[0]).toMatchObject({ read: 7, loaded: 3, filtered: 4, duplicates_dropped: 0, rejected: 0, watermark: { behind: 4 } });
    expect(await side.count(url)).toBe(6);
  });
});

describe('incremental load configuration', () => {
  it('load: incremental without a watermark, or a watermark on a column that cannot order rows: exit 2 with the file and line', async () => {
    const p = project(`sqlite:${path.join(tempDir(), 't.db')}`);
    p.log(DAY1);
    const file = p.plan.replace('forklift.yaml', 'machine_log.yaml');
    const yaml = (await import('node:fs')).readFileSync(file, 'utf8');
    writeFileSync(file, yaml.replace('watermark: ts\n', ''));
    let err = await runPlan({ plan: p.plan, command: 'migrate' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/machine_log\.yaml:3:1 load: incremental needs watermark: <column>/);

    writeFileSync(file, yaml.replace('watermark: ts', 'watermark: state'));
    err = await runPlan({ plan: p.plan, command: 'migrate' }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/machine_log\.yaml:4:1 watermark: machine_events\.state is of type enum; a watermark must be a timestamp, date or integer column/);

    writeFileSync(file, yaml.replace('load: incremental', 'load: append'));
    err = await runPlan({ plan: p.plan, command: 'migrate' }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/watermark: is only used by load: incremental/);
  });
});
