import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { DataRejectedError, StoreError } from '../../src/core/errors.js';
import { factoryModel } from '../../src/model/factory.js';
import { runPlan, type RunResult } from '../../src/run/pipeline.js';
import { sqliteCreateTable } from '../../src/stores/sqlite.js';
import { tempDir } from '../helpers.js';
import { MYSQL_ADMIN_URL, MYSQL_HOST, MYSQL_PORT, MysqlDatabases, PG_ADMIN_URL, PgDatabases, mysqlAdminConfig, probeMysql, probePg, reportUnreachable, withPg } from './stores/live.js';

/**
 * `migrate --dry-run` (SPEC section 12) on every live store: the target carries constraints the
 * model does not know (a unique index, a foreign key to a table outside the plan, a CHECK, a
 * trigger); the dry run reports each row they refuse with the database's message, the would
 * insert / update / unchanged / delete figures, and leaves a dump of the store identical but for
 * the one forklift_runs entry that says a dry run took place.
 */

const pgDown = await probePg();
const myDown = await probeMysql();
reportUnreachable('PostgreSQL', PG_ADMIN_URL, pgDown, 'dry-run.test.ts');
reportUnreachable('MariaDB', MYSQL_ADMIN_URL, myDown, 'dry-run.test.ts');
const pgDbs = new PgDatabases();
const myDbs = new MysqlDatabases();
afterAll(async () => {
  await pgDbs.dropAll();
  await myDbs.dropAll();
});

function project(url: string): { plan: string; data: (rows: string[]) => void; dir: string } {
  const dir = tempDir('forklift-dry-');
  writeFileSync(
    path.join(dir, 'items.yaml'),
    `entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { const: EA }\n  standard_cost: { from: COST }\n  category: { from: GRP }\n  lead_time_days: { from: LT }\n  active: { const: true }\n`,
  );
  writeFileSync(path.join(dir, 'forklift.yaml'), `name: dry\ntarget: ${url}\nmappings: [items.yaml]\nload: replace\nreject_limit: 60%\n`);
  return { dir, plan: path.join(dir, 'forklift.yaml'), data: (rows) => writeFileSync(path.join(dir, 'items.csv'), ['CODE,NAME,COST,GRP,LT', ...rows].join('\n') + '\n') };
}

const FIRST = ['A,Alpha,1.5,PUMP,10', 'B,Beta,2,PUMP,10', 'C,Gamma,3,SEAL,10'];
/** A changed, B the same, C gone, D new; E, F, G and H pass validation but not the target's own constraints. */
const SECOND = ['A,Alpha new,1.5,PUMP,10', 'B,Beta,2,PUMP,10', 'D,Delta,4,SEAL,10', 'E,Beta,5,PUMP,10', 'F,Foxtrot,6,NOPE,10', 'G,Golf,7,PUMP,999', 'H,FORBIDDEN,8,PUMP,10'];

interface Store {
  skip: string | null;
  url: () => Promise<string>;
  /** Constraints the model does not know, added to the target before the first load. */
  before?: (url: string) => Promise<void>;
  /** Constraints added after the first load. */
  after: (url: string) => Promise<void>;
  /** Every table (but forklift_runs' rows), index, constraint and trigger, as text. */
  dump: (url: string) => Promise<string>;
  statuses: (url: string) => Promise<string[]>;
  /** The database's message for each kind of refusal. */
  messages: RegExp[];
  /** A table outside the plan, work_orders, whose one row references item C. */
  workOrders: (url: string) => Promise<void>;
  deleteRefused: RegExp;
}

const sqliteFile = (url: string): string => url.slice('sqlite:'.length);

const mysqlDb = (url: string): string => decodeURIComponent(new URL(url).pathname.slice(1));
async function withMysql<T>(url: string, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection({ ...mysqlAdminConfig(), database: mysqlDb(url), multipleStatements: true });
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const stores: Record<string, Store> = {
  sqlite: {
    skip: null,
    url: async () => `sqlite:${path.join(tempDir('forklift-dry-db-'), 't.db')}`,
    before: async (url) => {
      const db = new Database(sqliteFile(url));
      // SQLite adds neither a CHECK nor a foreign key to a table that exists: the table is made by hand, as a DBA would.
      const items = sqliteCreateTable(factoryModel().entities.get('items')!).replace(/\n\) STRICT/, ',\n  CHECK (lead_time_days <= 365),\n  FOREIGN KEY (category) REFERENCES categories (code)\n) STRICT');
      db.exec(`CREATE TABLE categories (code TEXT PRIMARY KEY) STRICT; INSERT INTO categories VALUES ('PUMP'), ('SEAL'); ${items};`);
      db.close();
    },
    after: async (url) => {
      const db = new Database(sqliteFile(url));
      db.exec(`CREATE UNIQUE INDEX items_description ON items (description);
        CREATE TRIGGER items_forbidden BEFORE INSERT ON items WHEN NEW.description = 'FORBIDDEN' BEGIN SELECT RAISE(ABORT, 'forbidden description'); END;`);
      db.close();
    },
    dump: async (url) => {
      const db = new Database(sqliteFile(url), { readonly: true });
      try {
        const schema = db.prepare("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").all() as { type: string; name: string }[];
        const rows = schema.filter((s) => s.type === 'table' && s.name !== 'forklift_runs').map((s) => [s.name, db.prepare(`SELECT * FROM "${s.name}" ORDER BY 1`).raw().all()]);
        return JSON.stringify({ schema, rows }, null, 1);
      } finally {
        db.close();
      }
    },
    statuses: async (url) => {
      const db = new Database(sqliteFile(url), { readonly: true });
      try {
        return db.prepare('SELECT status FROM forklift_runs ORDER BY seq').pluck().all() as string[];
      } finally {
        db.close();
      }
    },
    messages: [/UNIQUE constraint failed: items\.description/, /FOREIGN KEY constraint failed/, /CHECK constraint failed/, /forbidden description/],
    workOrders: async (url) => {
      const db = new Database(sqliteFile(url));
      db.exec("CREATE TABLE work_orders (id INTEGER PRIMARY KEY, item_code TEXT REFERENCES items (item_code)); INSERT INTO work_orders VALUES (1, 'C');");
      db.close();
    },
    deleteRefused: /FOREIGN KEY constraint failed/,
  },
  postgres: {
    skip: pgDown,
    url: async () => (await pgDbs.create()).url,
    after: (url) =>
      withPg(url, async (c) => {
        await c.query(`CREATE TABLE categories (code text PRIMARY KEY); INSERT INTO categories VALUES ('PUMP'), ('SEAL');
          ALTER TABLE items ADD CONSTRAINT items_category_fk FOREIGN KEY (category) REFERENCES categories (code);
          ALTER TABLE items ADD CONSTRAINT items_lead_time CHECK (lead_time_days <= 365);
          CREATE UNIQUE INDEX items_description ON items (description);
          CREATE FUNCTION forbid() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.description = 'FORBIDDEN' THEN RAISE EXCEPTION 'forbidden description'; END IF; RETURN NEW; END $$;
          CREATE TRIGGER items_forbidden BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION forbid();`);
      }),
    // \restrict and \unrestrict carry a random key per dump.
    dump: async (url) => execFileSync('pg_dump', ['--no-owner', '--exclude-table-data=forklift_runs', '-d', url], { encoding: 'utf8' }).replace(/^\\(un)?restrict .*$/gm, ''),
    statuses: (url) => withPg(url, async (c) => (await c.query<{ status: string }>('SELECT status FROM forklift_runs ORDER BY seq')).rows.map((r) => r.status)),
    messages: [/duplicate key value violates unique constraint "items_description"/, /violates foreign key constraint "items_category_fk"/, /violates check constraint "items_lead_time"/, /forbidden description/],
    workOrders: (url) => withPg(url, async (c) => void (await c.query("CREATE TABLE work_orders (id int PRIMARY KEY, item_code varchar(64) REFERENCES items (item_code)); INSERT INTO work_orders VALUES (1, 'C');"))),
    deleteRefused: /violates foreign key constraint "work_orders_item_code_fkey" on table "work_orders"/,
  },
  mariadb: {
    skip: myDown,
    url: async () => (await myDbs.create()).url,
    after: (url) =>
      withMysql(url, async (c) => {
        await c.query(`CREATE TABLE categories (code varchar(64) PRIMARY KEY) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin; INSERT INTO categories VALUES ('PUMP'), ('SEAL');
          ALTER TABLE items ADD CONSTRAINT items_category_fk FOREIGN KEY (category) REFERENCES categories (code);
          ALTER TABLE items ADD CONSTRAINT items_lead_time CHECK (lead_time_days <= 365);
          CREATE UNIQUE INDEX items_description ON items (description);
          CREATE TRIGGER items_forbidden BEFORE INSERT ON items FOR EACH ROW BEGIN IF NEW.description = 'FORBIDDEN' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'forbidden description'; END IF; END`);
      }),
    dump: async (url) =>
      execFileSync('mariadb-dump', ['-h', MYSQL_HOST, '-P', String(MYSQL_PORT), '-u', 'root', '--skip-dump-date', '--routines', '--triggers', `--ignore-table=${mysqlDb(url)}.forklift_runs`, mysqlDb(url)], { encoding: 'utf8' }),
    statuses: (url) => withMysql(url, async (c) => ((await c.query('SELECT status FROM forklift_runs ORDER BY seq'))[0] as { status: string }[]).map((r) => r.status)),
    messages: [/Duplicate entry '…' for key 'items_description'/, /foreign key constraint fails \(`forklift_t_\w+`\.`items`/, /CONSTRAINT `items_lead_time` failed/, /forbidden description/],
    workOrders: (url) =>
      withMysql(url, async (c) => void (await c.query("CREATE TABLE work_orders (id int PRIMARY KEY, item_code varchar(64), FOREIGN KEY (item_code) REFERENCES items (item_code)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin; INSERT INTO work_orders VALUES (1, 'C');"))),
    // The scratch copy's name is replaced by the target's own.
    deleteRefused: /Cannot delete or update a parent row: a foreign key constraint fails \(`forklift_t_\w+`\.`work_orders`/,
  },
};

const scratchSchemas = (): Promise<string[]> =>
  withMysql(`mysql://root@${MYSQL_HOST}/information_schema`, async (c) => ((await c.query("SELECT SCHEMA_NAME AS s FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'forklift\\_dryrun\\_%'"))[0] as { s: string }[]).map((r) => r.s));

for (const [name, store] of Object.entries(stores)) {
  describe.skipIf(store.skip !== null)(`migrate --dry-run on ${name}`, () => {
    it('reports what the load would do and every row the target refuses, and leaves the store as it was', async () => {
      const url = await store.url();
      const p = project(url);
      await store.before?.(url);
      p.data(FIRST);
      await runPlan({ plan: p.plan, command: 'migrate' });
      await store.after(url);
      p.data(SECOND);
      const before = await store.dump(url);

      const err = await runPlan({ plan: p.plan, command: 'migrate', dryRun: true }).catch((e: unknown) => e);
      // A real migrate would fail on the refused rows: the dry run says so with exit 3.
      expect(err).toBeInstanceOf(DataRejectedError);
      expect((err as DataRejectedError).message).toMatch(/^dry run: nothing was written.*items: the target refuses 4 rows \(target-constraint\)$/);
      const r = (err as DataRejectedError).data as RunResult;
      expect(r).toMatchObject({ status: 'dry-run', committed: false, dry_run: true });
      expect(r.entities[0]).toMatchObject({
        read: 7,
        loaded: 3,
        rejected: 4,
        rejects_by_rule: { 'target-constraint': 4 },
        dry_run: { would_insert: 1, would_update: 1, unchanged: 1, would_delete: 1, refused: 4 },
      });
      const rows = parse(readFileSync(path.join(p.dir, r.entities[0]!.rejects_file!)), { bom: true, columns: true }) as Record<string, string>[];
      expect(rows.map((x) => [x.CODE, x.forklift_position, x.forklift_rule])).toEqual([
        ['E', 'line 5', 'target-constraint'],
        ['F', 'line 6', 'target-constraint'],
        ['G', 'line 7', 'target-constraint'],
        ['H', 'line 8', 'target-constraint'],
      ]);
      store.messages.forEach((m, i) => expect(rows[i]!.forklift_reason).toMatch(new RegExp(`^the target refuses this row: .*${m.source}`)));

      expect(await store.dump(url)).toBe(before);
      expect(await store.statuses(url)).toEqual(['succeeded', 'dry-run']);
      if (name === 'mariadb') expect(await scratchSchemas()).toEqual([]);
      // No counter moved: none of the target's tables has one, and no trigger names another database.
      expect(r.counters_advanced).toEqual([]);
    });

    it("upsert counts updates and inserts and deletes nothing; append: a key already there is the target's refusal", async () => {
      const url = await store.url();
      const p = project(url);
      p.data(['A,Alpha,1.5,PUMP,10', 'B,Beta,2,PUMP,10']);
      await runPlan({ plan: p.plan, command: 'migrate' });
      const before = await store.dump(url);
      p.data(['B,Beta two,2,PUMP,10', 'C,Gamma,3,SEAL,10', 'A,Alpha,1.5,PUMP,10']);
      writeFileSync(p.plan, readFileSync(p.plan, 'utf8').replace('load: replace', 'load: upsert'));
      const up = await runPlan({ plan: p.plan, command: 'migrate', dryRun: true });
      expect(up.entities[0]!.dry_run).toEqual({ would_insert: 1, would_update: 1, unchanged: 1, would_delete: 0, refused: 0 });
      writeFileSync(p.plan, readFileSync(p.plan, 'utf8').replace('load: upsert', 'load: append'));
      const err = await runPlan({ plan: p.plan, command: 'migrate', dryRun: true }).catch((e: unknown) => e);
      const r = (err as DataRejectedError).data as RunResult;
      expect(r.entities[0]!.dry_run).toEqual({ would_insert: 1, would_update: 0, unchanged: 0, would_delete: 0, refused: 2 });
      expect(await store.dump(url)).toBe(before);
      expect(await store.statuses(url)).toEqual(['succeeded', 'dry-run', 'dry-run']);
    });

    it('a replace that a table outside the plan forbids (its rows reference a row that would go) fails as migrate would, changing nothing', async () => {
      const url = await store.url();
      const p = project(url);
      p.data(FIRST);
      await runPlan({ plan: p.plan, command: 'migrate' });
      await store.workOrders(url);
      const before = await store.dump(url);
      p.data(FIRST.slice(0, 2));
      const err = await runPlan({ plan: p.plan, command: 'migrate', dryRun: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).message).toMatch(store.deleteRefused);
      expect(await store.dump(url)).toBe(before);
      if (name === 'mariadb') expect(await scratchSchemas()).toEqual([]);
    });

    it('on a target with no tables yet: every row would insert, and no table is left behind', async () => {
      const url = await store.url();
      const p = project(url);
      p.data(FIRST);
      const r = await runPlan({ plan: p.plan, command: 'migrate', dryRun: true });
      expect(r.status).toBe('dry-run');
      expect(r.entities[0]!.dry_run).toEqual({ would_insert: 3, would_update: 0, unchanged: 0, would_delete: 0, refused: 0 });
      // Only the ledger exists: the dry run's entry.
      expect(await store.statuses(url)).toEqual(['dry-run']);
      expect(await store.dump(url)).not.toMatch(/items/);
    });
  });
}

describe.skipIf(pgDown !== null)('PostgreSQL: a column narrower than the model (a hand-made integer for its bigint)', () => {
  it('refuses only the row whose value it cannot hold, as MariaDB does, instead of failing the whole rehearsal', async () => {
    const { url } = await pgDbs.create();
    await withPg(url, async (c) => {
      await c.query(`CREATE TABLE items (item_code varchar(64) PRIMARY KEY, description varchar(255) NOT NULL, item_type text, uom varchar(16) NOT NULL,
        category varchar(64), standard_cost numeric(18,4), lead_time_days integer, active boolean NOT NULL)`);
    });
    const p = project(url);
    p.data(['A,Alpha,1.5,PUMP,10', 'B,Beta,2,PUMP,3000000000', 'C,Gamma,3,SEAL,10']);
    const err = await runPlan({ plan: p.plan, command: 'migrate', dryRun: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataRejectedError);
    const r = (err as DataRejectedError).data as RunResult;
    expect(r.entities[0]).toMatchObject({ loaded: 2, rejects_by_rule: { 'target-constraint': 1 }, dry_run: { would_insert: 2, refused: 1 } });
    const rows = parse(readFileSync(path.join(p.dir, r.entities[0]!.rejects_file!)), { bom: true, columns: true }) as Record<string, string>[];
    expect(rows.map((x) => [x.CODE, x.forklift_position, x.forklift_reason])).toEqual([['B', 'line 3', 'the target refuses this row: integer out of range']]);
    expect(await withPg(url, async (c) => (await c.query('SELECT count(*)::int AS n FROM items')).rows[0])).toEqual({ n: 0 });
  });
});

describe.skipIf(pgDown !== null)('PostgreSQL sequences under a dry run', () => {
  it('a sequence that the rehearsal advanced (a trigger writing to an audit table) is reported with both values; the rest of the store is as it was', async () => {
    const { url } = await pgDbs.create();
    const p = project(url);
    p.data(FIRST);
    await runPlan({ plan: p.plan, command: 'migrate' });
    await withPg(url, async (c) => {
      await c.query(`CREATE TABLE audit_log (id serial PRIMARY KEY, item text NOT NULL); INSERT INTO audit_log (item) VALUES ('A');
        CREATE SEQUENCE "Untouched seq"; SELECT nextval('"Untouched seq"');
        CREATE FUNCTION audit_item() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit_log (item) VALUES (NEW.item_code); RETURN NEW; END $$;
        CREATE TRIGGER items_audit AFTER INSERT ON items FOR EACH ROW EXECUTE FUNCTION audit_item();`);
    });
    const setval = /^SELECT pg_catalog\.setval\('public\.audit_log_id_seq', \d+, true\);$/m;
    const dump = stores.postgres!.dump;
    const before = await dump(url);
    expect(before).toMatch(/^SELECT pg_catalog\.setval\('public\.audit_log_id_seq', 1, true\);$/m);
    p.data([...FIRST, 'D,Delta,4,SEAL,10']);
    // Another session draws from "Untouched seq" all through the dry run: that is not the dry run's doing.
    let drawing = true;
    const other = withPg(url, async (c) => {
      while (drawing) await c.query(`SELECT nextval('"Untouched seq"')`);
    });
    const r = await runPlan({ plan: p.plan, command: 'migrate', dryRun: true }).finally(() => (drawing = false));
    await other;
    expect(r.entities[0]!.dry_run).toEqual({ would_insert: 1, would_update: 0, unchanged: 3, would_delete: 0, refused: 0 });
    // replace: the four rows go in again under the rehearsal, each through the trigger.
    expect(r.counters_advanced).toEqual([{ counter: 'public.audit_log_id_seq', before: '1', after: '5' }]);
    const report = JSON.parse(readFileSync(r.reportFile, 'utf8')) as RunResult;
    expect(report.counters_advanced).toEqual(r.counters_advanced);
    expect(readFileSync(r.htmlFile, 'utf8')).toMatch(/<table id="counters-advanced">.*<code>public\.audit_log_id_seq<\/code><\/th><td>1<\/td><td>5<\/td>/s);
    // The store is as it was but for that one sequence, which PostgreSQL never rolls back.
    const after = await dump(url);
    expect(after).toMatch(/^SELECT pg_catalog\.setval\('public\.audit_log_id_seq', 5, true\);$/m);
    const untouched = /^SELECT pg_catalog\.setval\('public\."Untouched seq"', \d+, true\);$/m;
    expect(after.replace(setval, '').replace(untouched, '')).toBe(before.replace(setval, '').replace(untouched, ''));
  });
});

/** A MariaDB target holding FIRST after a migrate, and a second database on the server (an ERP's). */
async function migratedWithErp(): Promise<{ url: string; erp: { name: string; url: string }; p: ReturnType<typeof project>; db: string }> {
  const { url } = await myDbs.create();
  const erp = await myDbs.create();
  const p = project(url);
  p.data(FIRST);
  await runPlan({ plan: p.plan, command: 'migrate' });
  return { url, erp, p, db: mysqlDb(url) };
}

describe.skipIf(myDown !== null)('MariaDB scratch schemas', () => {
  it("a replace whose DELETE a table in another database forbids (its rows reference a row that would go) fails as migrate would, naming that table; both databases stay as they were", async () => {
    const { url } = await myDbs.create();
    const erp = await myDbs.create();
    const p = project(url);
    p.data(FIRST);
    await runPlan({ plan: p.plan, command: 'migrate' });
    await withMysql(erp.url, (c) => c.query(`CREATE TABLE orders (id int PRIMARY KEY, item varchar(64), CONSTRAINT orders_item_fk FOREIGN KEY (item) REFERENCES \`${mysqlDb(url)}\`.items (item_code)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin; INSERT INTO orders VALUES (1, 'C');`));
    try {
      const before = (await stores.mariadb!.dump(url)) + (await stores.mariadb!.dump(erp.url));
      p.data(FIRST.slice(0, 2));
      // Before: exit 0 and "would delete 1": the scratch copy of items knew nothing of orders, and the real migrate then failed.
      const err = await runPlan({ plan: p.plan, command: 'migrate', dryRun: true }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).message).toContain(`Cannot delete or update a parent row: a foreign key constraint fails (\`${erp.name}\`.\`orders\`, CONSTRAINT \`orders_item_fk\``);
      expect((err as StoreError).message).not.toMatch(/forklift_dryrun|forklift_x/);
      const real = await runPlan({ plan: p.plan, command: 'migrate' }).catch((e: unknown) => e);
      expect(real).toBeInstanceOf(StoreError);
      expect((await stores.mariadb!.dump(url)) + (await stores.mariadb!.dump(erp.url))).toBe(before);
      expect(await scratchSchemas()).toEqual([]);
      // With the order's row gone the same dry run passes, and says so.
      await withMysql(erp.url, (c) => c.query('DELETE FROM orders'));
      const ok = await runPlan({ plan: p.plan, command: 'migrate', dryRun: true });
      expect(ok.entities[0]!.dry_run).toEqual({ would_insert: 0, would_update: 0, unchanged: 2, would_delete: 1, refused: 0 });
    } finally {
      await withMysql(erp.url, (c) => c.query('DROP TABLE IF EXISTS orders'));
    }
  });

  it('a trigger writing to a table outside the plan (an audit log, through a procedure and a function) refuses no row, as the real migrate would not; the audit log is left as it was', async () => {
    const url = await stores.mariadb!.url();
    const p = project(url);
    p.data(FIRST);
    await runPlan({ plan: p.plan, command: 'migrate' });
    await withMysql(url, async (c) => {
      await c.query(`CREATE TABLE audit_log (id int AUTO_INCREMENT PRIMARY KEY, item varchar(64) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin; INSERT INTO audit_log (item) VALUES ('A');
        CREATE TABLE item_groups (code varchar(64) PRIMARY KEY) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin; INSERT INTO item_groups VALUES ('PUMP'), ('SEAL');
        CREATE FUNCTION audit_code(c varchar(64)) RETURNS varchar(64) DETERMINISTIC RETURN CONCAT('item ', c);
        CREATE PROCEDURE audit_item(c varchar(64)) INSERT INTO audit_log (item) VALUES (c);
        CREATE TRIGGER items_audit AFTER INSERT ON items FOR EACH ROW CALL audit_item(audit_code(NEW.item_code));
        CREATE TRIGGER items_group BEFORE INSERT ON items FOR EACH ROW BEGIN IF NOT EXISTS (SELECT 1 FROM \`item_groups\` WHERE code = NEW.category) THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'unknown group'; END IF; END`);
    });
    const before = await stores.mariadb!.dump(url);
    p.data([...FIRST, 'D,Delta,4,NOPE,10', 'E,Echo,5,SEAL,10']);
    const err = await runPlan({ plan: p.plan, command: 'migrate', dryRun: true }).catch((e: unknown) => e);
    // Before: every row refused with "Table '<target>.audit_log' doesn't exist" or "PROCEDURE <target>.audit_item does not exist" (the scratch schema had no copy), which the target has.
    expect(err).toBeInstanceOf(DataRejectedError);
    const r = (err as DataRejectedError).data as RunResult;
    expect(r.entities[0]!.dry_run).toEqual({ would_insert: 1, would_update: 0, unchanged: 3, would_delete: 0, refused: 1 });
    const rows = parse(readFileSync(path.join(p.dir, r.entities[0]!.rejects_file!)), { bom: true, columns: true }) as Record<string, string>[];
    expect(rows.map((x) => [x.CODE, x.forklift_reason])).toEqual([['D', 'the target refuses this row: unknown group']]);
    expect(await stores.mariadb!.dump(url)).toBe(before);
    expect(await scratchSchemas()).toEqual([]);
  });

  it("a trigger made as MySQL Workbench makes it (database-qualified name and table) writing to another database's table: the dry run copies it, and names the AUTO_INCREMENT it moved", async () => {
    const { url, erp, p, db } = await migratedWithErp();
    await withMysql(url, (c) =>
      c.query(`CREATE TABLE \`${erp.name}\`.audit (id int AUTO_INCREMENT PRIMARY KEY, item varchar(64) NOT NULL) ENGINE=InnoDB;
        CREATE DEFINER = CURRENT_USER TRIGGER \`${db}\`.\`items_AFTER_INSERT\` AFTER INSERT ON \`${db}\`.\`items\` FOR EACH ROW INSERT INTO \`${erp.name}\`.audit (item) VALUES (NEW.item_code)`),
    );
    const before = (await stores.mariadb!.dump(url)) + (await stores.mariadb!.dump(erp.url));
    p.data([...FIRST, 'D,Delta,4,SEAL,10']);
    // Before: "Trigger '…' already exists" (its statement, run from the scratch schema, made it in the target again).
    const r = await runPlan({ plan: p.plan, command: 'migrate', dryRun: true });
    expect(r.entities[0]!.dry_run).toEqual({ would_insert: 1, would_update: 0, unchanged: 3, would_delete: 0, refused: 0 });
    // The four rows of the replace went through the trigger: the audit's rows are rolled back, its numbers are not.
    expect(r.counters_advanced).toEqual([{ counter: `${erp.name}.audit`, before: '1', after: '5' }]);
    const after = (await stores.mariadb!.dump(url)) + (await stores.mariadb!.dump(erp.url));
    const autoInc = / AUTO_INCREMENT=\d+/g;
    expect(after.replace(autoInc, '')).toBe(before.replace(autoInc, ''));
    expect(await scratchSchemas()).toEqual([]);
  });

  it('a trigger made under ANSI_QUOTES (double-quoted names in its body) is copied under that sql_mode, and runs', async () => {
    const { url } = await myDbs.create();
    const p = project(url);
    p.data(FIRST);
    await runPlan({ plan: p.plan, command: 'migrate' });
    await withMysql(url, (c) =>
      c.query(`SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',ANSI_QUOTES');
        CREATE TRIGGER "items_no_delta" BEFORE INSERT ON "items" FOR EACH ROW BEGIN IF NEW."description" = 'Delta' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'no deltas here'; END IF; END`),
    );
    p.data([...FIRST, 'D,Delta,4,SEAL,10']);
    // Before: a syntax error near '"description"' (the copy was made under the session's sql_mode, where "…" is a string).
    const err = await runPlan({ plan: p.plan, command: 'migrate', dryRun: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataRejectedError);
    // The trigger ran on the copy and refused D.
    const r = (err as DataRejectedError).data as RunResult;
    expect(r.entities[0]!.dry_run).toEqual({ would_insert: 0, would_update: 0, unchanged: 3, would_delete: 0, refused: 1 });
    const rows = parse(readFileSync(path.join(p.dir, r.entities[0]!.rejects_file!)), { bom: true, columns: true }) as Record<string, string>[];
    expect(rows.map((x) => [x.CODE, x.forklift_reason])).toEqual([['D', 'the target refuses this row: no deltas here']]);
    expect(await scratchSchemas()).toEqual([]);
  });

  it('a trigger that reads a view (itself reading another view and a table outside the plan) finds them in the scratch schema; only the row it refuses is refused', async () => {
    const url = await stores.mariadb!.url();
    const p = project(url);
    p.data(FIRST);
    await runPlan({ plan: p.plan, command: 'migrate' });
    await withMysql(url, (c) =>
      c.query(`CREATE TABLE item_groups (code varchar(64) PRIMARY KEY, retired tinyint NOT NULL DEFAULT 0) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin; INSERT INTO item_groups (code) VALUES ('PUMP'), ('SEAL'); INSERT INTO item_groups VALUES ('OLD', 1);
        CREATE VIEW v_groups AS SELECT code, retired FROM item_groups;
        CREATE VIEW v_active_groups AS SELECT code FROM v_groups WHERE retired = 0;
        CREATE TRIGGER items_group BEFORE INSERT ON items FOR EACH ROW BEGIN IF NOT EXISTS (SELECT 1 FROM v_active_groups WHERE code = NEW.category) THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'unknown group'; END IF; END`),
    );
    const before = await stores.mariadb!.dump(url);
    p.data([...FIRST, 'D,Delta,4,OLD,10']);
    const err = await runPlan({ plan: p.plan, command: 'migrate', dryRun: true }).catch((e: unknown) => e);
    // Before: A, B, C and D all refused with "Table '<target>.v_active_groups' doesn't exist".
    expect(err).toBeInstanceOf(DataRejectedError);
    const r = (err as DataRejectedError).data as RunResult;
    expect(r.entities[0]!.dry_run).toEqual({ would_insert: 0, would_update: 0, unchanged: 3, would_delete: 0, refused: 1 });
    const rows = parse(readFileSync(path.join(p.dir, r.entities[0]!.rejects_file!)), { bom: true, columns: true }) as Record<string, string>[];
    expect(rows.map((x) => [x.CODE, x.forklift_reason])).toEqual([['D', 'the target refuses this row: unknown group']]);
    expect(await stores.mariadb!.dump(url)).toBe(before);
    expect(await scratchSchemas()).toEqual([]);
  });

  it("a foreign key from the target's table to another database's table holds on the copy: the row it refuses is refused, as the real migrate refuses it", async () => {
    const { url, erp, p, db } = await migratedWithErp();
    await withMysql(erp.url, (c) =>
      c.query(`CREATE TABLE cats (code varchar(64) PRIMARY KEY) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin; INSERT INTO cats VALUES ('PUMP'), ('SEAL');
        ALTER TABLE \`${db}\`.items ADD CONSTRAINT items_cat_fk FOREIGN KEY (category) REFERENCES \`${erp.name}\`.cats (code)`),
    );
    const before = (await stores.mariadb!.dump(url)) + (await stores.mariadb!.dump(erp.url));
    p.data([...FIRST, 'D,Delta,4,NOPE,10']);
    // Before: would insert 1, refused 0, exit 0 (the copy had no such key), and then the migrate failed.
    const err = await runPlan({ plan: p.plan, command: 'migrate', dryRun: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataRejectedError);
    const r = (err as DataRejectedError).data as RunResult;
    expect(r.entities[0]!.dry_run).toEqual({ would_insert: 0, would_update: 0, unchanged: 3, would_delete: 0, refused: 1 });
    const rows = parse(readFileSync(path.join(p.dir, r.entities[0]!.rejects_file!)), { bom: true, columns: true }) as Record<string, string>[];
    expect(rows.map((x) => x.CODE)).toEqual(['D']);
    expect(rows[0]!.forklift_reason).toContain(`a foreign key constraint fails (\`${db}\`.\`items\`, CONSTRAINT \`items_cat_fk\` FOREIGN KEY (\`category\`) REFERENCES \`${erp.name}\`.\`cats\` (\`code\`)`);
    const real = await runPlan({ plan: p.plan, command: 'migrate' }).catch((e: unknown) => e);
    expect((real as StoreError).message).toContain('CONSTRAINT `items_cat_fk`');
    expect((await stores.mariadb!.dump(url)) + (await stores.mariadb!.dump(erp.url))).toBe(before);
    expect(await scratchSchemas()).toEqual([]);
    await withMysql(url, (c) => c.query('ALTER TABLE items DROP FOREIGN KEY items_cat_fk'));
  });

  it('a scratch schema left by a killed dry run is dropped by the next one; one whose run is alive is kept', async () => {
    const url = await stores.mariadb!.url();
    const p = project(url);
    p.data(FIRST);
    const admin = await mysql.createConnection(mysqlAdminConfig());
    try {
      await admin.query('CREATE DATABASE forklift_dryrun_left_by_a_kill');
      await admin.query('CREATE DATABASE forklift_dryrun_still_running');
      // A live run holds its schema's lock for as long as its connection lives.
      await admin.query("SELECT GET_LOCK('forklift_dryrun_still_running', 0)");
      await runPlan({ plan: p.plan, command: 'migrate', dryRun: true });
      expect(await scratchSchemas()).toEqual(['forklift_dryrun_still_running']);
    } finally {
      await admin.query('DROP DATABASE IF EXISTS forklift_dryrun_left_by_a_kill');
      await admin.query('DROP DATABASE IF EXISTS forklift_dryrun_still_running');
      await admin.end();
    }
  });
});
