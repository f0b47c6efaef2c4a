import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/core/errors.js';
import { purge, type PurgeResult } from '../../src/retention/purge.js';
import { parseExpression } from '../../src/mapping/expr/index.js';
import { parseKeep, type RetentionRule } from '../../src/retention/rules.js';
import { tempDir } from '../helpers.js';
import { DDL, purgeStores, type Db } from './purge-stores.js';

/**
 * A purge deletes only the rows it archived and never makes the database delete or change another
 * one (SPEC section 11): whatever foreign keys the store has (composite, self-referencing, under a
 * case-insensitive collation, with ON DELETE CASCADE or SET NULL), a row that a kept row references
 * is kept, by the store's own comparison, the dry run says exactly what the purge then does, and a
 * row that comes to reference an archived row after the archive was written makes the purge roll
 * back. Tables of every shape, on SQLite, PostgreSQL and MariaDB.
 */

const { database, KINDS, myDbs } = await purgeStores('purge-references.test.ts');

const AS_OF = '2026-06-01';

function run(db: Db, rules: RetentionRule[], opts: { dryRun?: boolean; onDelete?: () => void } = {}): Promise<PurgeResult> {
  let fired = false;
  return purge({
    target: db.url,
    archive: opts.dryRun ? undefined : path.join(tempDir(), 'archive'),
    rules,
    asOf: AS_OF,
    dryRun: opts.dryRun,
    progress: (p) => {
      if (p.step !== 'delete' || !opts.onDelete || fired) return;
      fired = true;
      opts.onDelete();
    },
  });
}

/** The dry run and the purge agree, table by table: rows that go, rows kept because others reference them. */
async function purgeBoth(db: Db, rules: RetentionRule[]): Promise<{ dry: PurgeResult; done: PurgeResult }> {
  const dry = await run(db, rules, { dryRun: true });
  const done = await run(db, rules);
  const shape = (r: PurgeResult): unknown => r.tables.map((t) => ({ name: t.name, rows: t.rows, kept_referenced: t.kept_referenced }));
  expect(shape(done)).toEqual(shape(dry));
  for (const t of done.tables) expect(t.deleted, t.name).toBe(t.rows);
  return { dry, done };
}

const table = (r: PurgeResult, name: string): PurgeResult['tables'][number] => r.tables.find((t) => t.name === name)!;

describe.each(KINDS)('purge and foreign keys on $kind', ({ kind, down }) => {
  const d = DDL[kind];
  // Keep two years by a date column; SQLite's catalog has no date type, so there the same by `where`.
  const keep2y = (entity: string, by: string): RetentionRule => {
    if (kind !== 'sqlite') return { entity, keep: parseKeep('2 years'), by };
    const text = `${by} < "2024-06-01"`;
    return { entity, where: { text, node: parseExpression(text, { file: 'test', line: 1, column: 1 }) } };
  };

  it.skipIf(down !== null)('a composite foreign key with ON DELETE CASCADE: the referenced parent is kept, no child row is lost', async () => {
    const db = await database(kind);
    await db.exec(`create table p (a int not null, b int not null, ts date, primary key (a, b))${d.engine}`);
    await db.exec(`create table c (id int primary key, a int, b int, note text, foreign key (a, b) references p (a, b) on delete cascade)${d.engine}`);
    await db.exec("insert into p values (1, 1, '2020-01-01'), (2, 2, '2020-01-01'), (3, 3, '2026-01-01')");
    await db.exec("insert into c values (10, 1, 1, 'keeps p 1,1'), (11, 3, 3, 'keeps p 3,3')");
    const { dry, done } = await purgeBoth(db, [keep2y('p', 'ts')]);
    expect(table(dry, 'p')).toMatchObject({ rows: 1, kept_referenced: 1, kept_because: ['rows of c that stay reference them'] });
    expect(done.deleted_total).toBe(1);
    expect(await db.rows('select a, b from p order by a')).toEqual([
      [1, 1],
      [3, 3],
    ]);
    expect(await db.rows('select id from c order by id')).toEqual([[10], [11]]);
  });

  it.skipIf(down !== null)('a case-insensitive key: a child row that the store matches to its parent keeps it', async () => {
    const db = await database(kind);
    if (d.setup) await db.exec(d.setup);
    await db.exec(`create table p (code ${d.ci} primary key, ts date)${d.engine}`);
    await db.exec(`create table c (id int primary key, code ${d.ci}, foreign key (code) references p (code) on delete cascade)${d.engine}`);
    await db.exec("insert into p values ('ABC', '2020-01-01'), ('XYZ', '2020-01-01')");
    await db.exec("insert into c values (1, 'abc')");
    const { dry } = await purgeBoth(db, [keep2y('p', 'ts')]);
    expect(table(dry, 'p')).toMatchObject({ rows: 1, kept_referenced: 1 });
    expect(await db.rows('select code from p')).toEqual([['ABC']]);
    expect(await db.rows('select id, code from c')).toEqual([[1, 'abc']]);
  });

  for (const action of ['set null', 'cascade', 'no action', 'restrict']) {
    it.skipIf(down !== null)(`a self-reference (ON DELETE ${action}): a row a kept row references stays, rows referenced only by rows that go may go`, async () => {
      const db = await database(kind);
      await db.exec(`create table node (id int primary key, parent int, created date, foreign key (parent) references node (id) on delete ${action})${d.engine}`);
      // 1 is kept for 2 (which stays); 4 <- 5 <- 6 all go; 7 goes, 8 stays and keeps nothing.
      await db.exec(
        "insert into node values (1, null, '2020-01-01'), (2, 1, '2026-01-01'), (3, null, '2020-01-01'), (4, null, '2020-01-01'), (5, 4, '2020-01-01'), (6, 5, '2020-01-01'), (7, null, '2020-01-01'), (8, null, '2026-01-01')",
      );
      const { dry } = await purgeBoth(db, [keep2y('node', 'created')]);
      expect(table(dry, 'node')).toMatchObject({ rows: 5, kept_referenced: 1, kept_because: ['rows of node that stay reference them'] });
      expect(await db.rows('select id, parent from node order by id')).toEqual([
        [1, null],
        [2, 1],
        [8, null],
      ]);
    });
  }

  it.skipIf(down !== null)('a chain of kept references through a self-reference keeps every row up the chain', async () => {
    const db = await database(kind);
    await db.exec(`create table node (id int primary key, parent int, created date, foreign key (parent) references node (id))${d.engine}`);
    // 4 stays and references 3, which references 2, which references 1: all old, all kept.
    await db.exec("insert into node values (1, null, '2020-01-01'), (2, 1, '2020-01-01'), (3, 2, '2020-01-01'), (4, 3, '2026-01-01'), (5, null, '2020-01-01')");
    const { dry } = await purgeBoth(db, [keep2y('node', 'created')]);
    expect(table(dry, 'node')).toMatchObject({ rows: 1, kept_referenced: 3 });
    expect(await db.rows('select id from node order by id')).toEqual([[1], [2], [3], [4]]);
  });

  it.skipIf(down !== null)('a parent goes with the children that go; a purged child that stays keeps its parent', async () => {
    const db = await database(kind);
    await db.exec(`create table orders (id int primary key, placed date)${d.engine}`);
    await db.exec(`create table order_lines (order_id int not null, n int not null, placed date, primary key (order_id, n), foreign key (order_id) references orders (id) on delete cascade)${d.engine}`);
    await db.exec("insert into orders values (1, '2020-01-01'), (2, '2020-01-01'), (3, '2026-01-01')");
    // Order 1: every line old (all go); order 2: one line new (kept, so the order stays).
    await db.exec("insert into order_lines values (1, 1, '2020-01-01'), (1, 2, '2020-01-01'), (2, 1, '2020-01-01'), (2, 2, '2026-01-01'), (3, 1, '2026-01-01')");
    const { dry } = await purgeBoth(db, [keep2y('orders', 'placed'), keep2y('order_lines', 'placed')]);
    expect(table(dry, 'orders')).toMatchObject({ rows: 1, kept_referenced: 1 });
    expect(table(dry, 'order_lines')).toMatchObject({ rows: 3, kept_referenced: 0 });
    expect(await db.rows('select id from orders order by id')).toEqual([[2], [3]]);
    expect(await db.rows('select order_id, n from order_lines order by order_id, n')).toEqual([
      [2, 2],
      [3, 1],
    ]);
  });

  it.skipIf(down !== null)('two purged tables that reference each other: rows that reference only each other go together', async () => {
    const db = await database(kind);
    if (kind === 'sqlite') {
      await db.exec("create table a (id int primary key, b_id int, ts date, foreign key (b_id) references b (id))");
    } else {
      await db.exec(`create table a (id int primary key, b_id int, ts date)${d.engine}`);
    }
    await db.exec(`create table b (id int primary key, a_id int, ts date, foreign key (a_id) references a (id))${d.engine}`);
    if (kind !== 'sqlite') await db.exec(`alter table a add foreign key (b_id) references b (id)`);
    // a1 <-> b1 both old: they go; a2 (old) is referenced by b2 (new): a2 stays, and so does b3 (old), which a2 references.
    await db.exec("insert into a values (1, null, '2020-01-01'), (2, null, '2020-01-01')");
    await db.exec("insert into b values (1, 1, '2020-01-01'), (2, 2, '2026-01-01'), (3, null, '2020-01-01')");
    await db.exec('update a set b_id = 1 where id = 1');
    await db.exec('update a set b_id = 3 where id = 2');
    const { dry } = await purgeBoth(db, [keep2y('a', 'ts'), keep2y('b', 'ts')]);
    expect(table(dry, 'a')).toMatchObject({ rows: 1, kept_referenced: 1 });
    expect(table(dry, 'b')).toMatchObject({ rows: 1, kept_referenced: 1 });
    expect(await db.rows('select id from a order by id')).toEqual([[2]]);
    expect(await db.rows('select id from b order by id')).toEqual([[2], [3]]);
  });

  it.skipIf(down !== null || kind === 'sqlite')('a table of another schema (database) that references a purged table keeps its rows', async () => {
    const db = await database(kind);
    // PostgreSQL: a schema of the same database; MariaDB: another database on the server.
    const other = kind === 'postgres' ? 'elsewhere' : (await myDbs.create()).name;
    if (kind === 'postgres') await db.exec(`create schema ${other}`);
    const parent = kind === 'postgres' ? 'public.p' : `\`${db.url.split('/').pop()}\`.p`;
    await db.exec(`create table p (id int primary key, ts date)${d.engine}`);
    await db.exec(`create table ${kind === 'postgres' ? other : `\`${other}\``}.c (id int primary key, p_id int, foreign key (p_id) references ${parent} (id) on delete cascade)${d.engine}`);
    await db.exec("insert into p values (1, '2020-01-01'), (2, '2020-01-01')");
    await db.exec(`insert into ${kind === 'postgres' ? other : `\`${other}\``}.c values (1, 1)`);
    const { dry } = await purgeBoth(db, [keep2y('p', 'ts')]);
    expect(table(dry, 'p')).toMatchObject({ rows: 1, kept_referenced: 1, kept_because: [`rows of ${other}.c that stay reference them`] });
    expect(await db.rows('select id from p')).toEqual([[1]]);
    expect(await db.rows(`select id, p_id from ${kind === 'postgres' ? other : `\`${other}\``}.c`)).toEqual([[1, 1]]);
    // MariaDB drops no database whose table another one's foreign key references.
    if (kind === 'mariadb') await db.exec(`drop table \`${other}\`.c`);
  });

  it.skipIf(down !== null)('a binary column: the archived rows are deleted', async () => {
    const db = await database(kind);
    await db.exec(`create table blobby (id int primary key, data ${d.bin}, d date)${d.engine}`);
    await db.exec(`insert into blobby values (1, ${d.hex('deadbeef')}, '2020-01-01'), (2, ${d.hex('00')}, '2026-01-01'), (3, ${d.hex('')}, '2020-01-01'), (4, null, '2020-01-01')`);
    const { done } = await purgeBoth(db, [keep2y('blobby', 'd')]);
    expect(done.deleted_total).toBe(3);
    expect(await db.rows('select id, data from blobby')).toEqual([[2, '\\x00']]);
  });

  it.skipIf(down !== null)('a binary primary key: the archived rows are deleted', async () => {
    const db = await database(kind);
    const key = kind === 'mariadb' ? 'varbinary(16)' : d.bin;
    await db.exec(`create table bk (k ${key} primary key, d date)${d.engine}`);
    await db.exec(`insert into bk values (${d.hex('deadbeef')}, '2020-01-01'), (${d.hex('01')}, '2026-01-01')`);
    const { done } = await purgeBoth(db, [keep2y('bk', 'd')]);
    expect(done.deleted_total).toBe(1);
    expect(await db.rows('select k from bk')).toEqual([['\\x01']]);
  });

  // SQLite alone matches names this way: the test is defined for it only (not a skip on the servers).
  if (kind === 'sqlite') it('SQLite: a foreign key that spells the table and its columns in another case (REFERENCES P (ID)) keeps the rows it references', async () => {
    const db = await database(kind);
    await db.exec('create table p (id int primary key, ts date)');
    await db.exec('create table c (id int primary key, p_id int, foreign key (P_ID) references P (ID) on delete cascade)');
    await db.exec("insert into p values (1, '2020-01-01'), (2, '2020-01-01'), (3, '2026-01-01'); insert into c values (10, 1)");
    const { dry } = await purgeBoth(db, [keep2y('p', 'ts')]);
    expect(table(dry, 'p')).toMatchObject({ rows: 1, kept_referenced: 1, kept_because: ['rows of c that stay reference them'] });
    expect(await db.rows('select id from p order by id')).toEqual([[1], [3]]);
    expect(await db.rows('select id, p_id from c')).toEqual([[10, 1]]);
    expect(await db.rows('pragma foreign_key_check')).toEqual([]);
  });

  it.skipIf(down !== null)('a row that comes to reference an archived row before the delete: rolled back, nothing deleted or changed', async () => {
    const db = await database(kind);
    await db.exec(`create table p (id int primary key, ts date)${d.engine}`);
    await db.exec(`create table c (id int primary key, p_id int, foreign key (p_id) references p (id) on delete cascade)${d.engine}`);
    await db.exec(`create table s (id int primary key, p_id int, foreign key (p_id) references p (id) on delete set null)${d.engine}`);
    await db.exec("insert into p values (1, '2020-01-01'), (2, '2020-01-01'), (3, '2026-01-01')");
    for (const [child, action] of [
      ['c', 'CASCADE'],
      ['s', 'SET NULL'],
    ] as const) {
      const err = await run(db, [keep2y('p', 'ts')], { onDelete: () => db.execSync(`insert into ${child} values (${child === 'c' ? 1 : 2}, ${child === 'c' ? 1 : 2})`) }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe('purge.referenced');
      expect((err as StoreError).message).toContain(`${child}: 1 row that stays references rows of p that the purge would delete (ON DELETE ${action}, `);
      expect(await db.rows('select id from p order by id')).toEqual([[1], [2], [3]]);
      expect(await db.rows(`select id, p_id from ${child}`)).toEqual([[child === 'c' ? 1 : 2, child === 'c' ? 1 : 2]]);
      await db.exec(`delete from ${child}`);
    }
  });
});
