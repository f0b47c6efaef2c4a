import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, StoreError } from '../../src/core/errors.js';
import { parseExpression } from '../../src/mapping/expr/index.js';
import { purge, type PurgeResult } from '../../src/retention/purge.js';
import type { RetentionRule } from '../../src/retention/rules.js';
import { tempDir } from '../helpers.js';
import { DDL, purgeStores, type Db, type Kind } from './purge-stores.js';

/**
 * A purge never sets off what it cannot see (SPEC section 11): a DELETE trigger of a purged table
 * (one that writes an audit row, deletes rows of another table that were never archived, or refuses
 * the delete) is refused by name before anything is archived, by the dry run too, unless allowed
 * with allowTriggers; an allowed trigger that raises rolls the delete back cleanly and leaves a
 * complete archive that the same purge finishes from. On SQLite, PostgreSQL and MariaDB.
 */

const { database, KINDS } = await purgeStores('purge-triggers.test.ts');

const AS_OF = '2026-06-01';
const OLD = { entity: 'p', where: { text: 'ts < "2024-01-01"', node: parseExpression('ts < "2024-01-01"', { file: 'test', line: 1, column: 1 }) } } satisfies RetentionRule;

/** A row-level trigger of table p, `when` DELETE, whose body is `body` (one statement naming OLD.id). */
function triggerSql(kind: Kind, name: string, when: 'BEFORE' | 'AFTER', body: string): string[] {
  if (kind === 'sqlite') return [`create trigger ${name} ${when} delete on p begin ${body}; end`];
  if (kind === 'mariadb') return [`create trigger ${name} ${when} delete on p for each row ${body}`];
  return [
    `create function ${name}_fn() returns trigger language plpgsql as $$ begin ${body}; return old; end $$`,
    `create trigger ${name} ${when} delete on p for each row execute function ${name}_fn()`,
  ];
}

/** A statement that refuses the delete with `message`. */
function raise(kind: Kind, message: string): string {
  if (kind === 'sqlite') return `select raise(abort, '${message}')`;
  if (kind === 'mariadb') return `signal sqlstate '45000' set message_text = '${message}'`;
  return `raise exception '${message}'`;
}

function run(db: Db, opts: { dryRun?: boolean; allow?: string[]; archive?: string } = {}): Promise<PurgeResult> {
  return purge({ target: db.url, archive: opts.dryRun ? undefined : (opts.archive ?? path.join(tempDir(), 'archive')), rules: [OLD], asOf: AS_OF, dryRun: opts.dryRun, allowTriggers: opts.allow });
}

const failure = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe.each(KINDS)('purge and DELETE triggers on $kind', ({ kind, down }) => {
  const d = DDL[kind];

  /** p (two old rows, one new), notes (a row per p row, no foreign key), audit (empty). */
  async function setup(): Promise<Db> {
    const db = await database(kind);
    await db.exec(`create table p (id int primary key, ts varchar(10))${d.engine}`);
    await db.exec(`create table notes (id int primary key, p_id int)${d.engine}`);
    await db.exec(`create table audit (p_id int)${d.engine}`);
    await db.exec("insert into p values (1, '2020-01-01'), (2, '2020-01-01'), (3, '2026-01-01')");
    await db.exec('insert into notes values (10, 1), (20, 2), (30, 3)');
    return db;
  }

  it.skipIf(down !== null)('a trigger that deletes rows of another table is refused by name, dry run too; nothing archived, nothing deleted', async () => {
    const db = await setup();
    for (const sql of triggerSql(kind, 'drop_notes', 'AFTER', 'delete from notes where p_id = old.id')) await db.exec(sql);
    for (const sql of triggerSql(kind, 'audit_p', 'AFTER', 'insert into audit values (old.id)')) await db.exec(sql);
    // A trigger of another event or another table is none of the purge's business.
    await db.exec(kind === 'postgres' ? 'create trigger on_insert after insert on p for each row execute function audit_p_fn()' : kind === 'sqlite' ? 'create trigger on_insert after insert on p begin select 1; end' : 'create trigger on_insert after insert on p for each row set @x = 1');
    await db.exec(kind === 'postgres' ? 'create trigger notes_del after delete on notes for each row execute function audit_p_fn()' : kind === 'sqlite' ? 'create trigger notes_del after delete on notes begin select 1; end' : 'create trigger notes_del after delete on notes for each row set @x = 1');
    const archive = path.join(tempDir(), 'archive');
    for (const dryRun of [true, false]) {
      const err = await failure(run(db, { dryRun, archive }));
      expect(err, `dry run: ${dryRun}`).toBeInstanceOf(ConfigError);
      const e = err as ConfigError;
      expect(e.code).toBe('purge.trigger');
      expect(e.exitCode).toBe(2);
      expect(e.message).toMatch(/^p: trigger (audit_p|drop_notes) \(AFTER DELETE\) of .* runs for the rows the purge deletes, and forklift cannot see what it changes elsewhere or whether it refuses the delete; nothing was archived or deleted$/);
      expect(e.details).toHaveLength(1);
      expect(e.hint).toMatch(kind === 'postgres' ? /^Disable it while the purge runs \(ALTER TABLE p DISABLE TRIGGER (audit_p|drop_notes), and ENABLE it after the purge\)/ : /^Disable it while the purge runs \(DROP TRIGGER (audit_p|drop_notes), and create it again after the purge\)/);
      expect(e.hint).toMatch(/--allow-trigger (audit_p|drop_notes) if what it does is wanted\.$/);
    }
    expect(existsSync(archive)).toBe(false);
    expect(await db.rows('select id from p order by id')).toEqual([[1], [2], [3]]);
    expect(await db.rows('select id from notes order by id')).toEqual([[10], [20], [30]]);
    expect(Number((await db.rows('select count(*) from audit'))[0]![0])).toBe(0);
  });

  it.skipIf(down !== null)('an allowed trigger runs and is recorded; an unknown allowed name is refused', async () => {
    const db = await setup();
    for (const sql of triggerSql(kind, 'audit_p', 'AFTER', 'insert into audit values (old.id)')) await db.exec(sql);
    const unknown = await failure(run(db, { allow: ['audit_q'] }));
    expect(unknown).toBeInstanceOf(ConfigError);
    expect((unknown as ConfigError).code).toBe('purge.allow-trigger');
    expect((unknown as ConfigError).message).toContain("did you mean 'audit_p'");
    const dry = await run(db, { dryRun: true, allow: ['audit_p'] });
    expect(dry.triggers_allowed).toEqual(['p.audit_p (AFTER DELETE trigger)']);
    const done = await run(db, { allow: ['p.audit_p'] });
    expect(done).toMatchObject({ deleted_total: 2, triggers_allowed: ['p.audit_p (AFTER DELETE trigger)'] });
    expect(await db.rows('select p_id from audit order by p_id')).toEqual([[1], [2]]);
    const [entry] = await db.rows("select message from forklift_runs where command = 'purge'");
    expect(entry![0]).toBe('let DELETE triggers run (--allow-trigger): p.audit_p (AFTER DELETE trigger)');
  });

  it.skipIf(down !== null)('an allowed trigger that refuses the delete: a clean message, nothing deleted, the archive stays and the same purge finishes from it', async () => {
    const db = await setup();
    for (const sql of triggerSql(kind, 'keep_p', 'BEFORE', raise(kind, 'p rows are kept by policy'))) await db.exec(sql);
    const archive = path.join(tempDir(), 'archive');
    const err = await failure(run(db, { allow: ['keep_p'], archive }));
    expect(err).toBeInstanceOf(StoreError);
    const e = err as StoreError;
    expect(e.code).toBe('purge.delete');
    expect(e.exitCode).toBe(1);
    expect(e.message).toContain('p rows are kept by policy');
    expect(e.message).toMatch(/; it was rolled back and nothing was deleted; the archive .*archive is complete and stays$/);
    expect(e.message).not.toMatch(/\n\s+at /);
    expect(await db.rows('select id from p order by id')).toEqual([[1], [2], [3]]);
    expect(existsSync(path.join(archive, 'deletion-record.json'))).toBe(true);
    await db.exec(kind === 'postgres' ? 'drop trigger keep_p on p' : 'drop trigger keep_p');
    const again = await run(db, { archive });
    expect(again).toMatchObject({ resumed: true, deleted_total: 2 });
    expect(await db.rows('select id from p order by id')).toEqual([[3]]);
  });

  it.skipIf(down !== null)('a trigger made after the archive was written is refused inside the delete; the archive stays', async () => {
    const db = await setup();
    const archive = path.join(tempDir(), 'archive');
    let made = false;
    const err = await failure(
      purge({
        target: db.url,
        archive,
        rules: [OLD],
        asOf: AS_OF,
        progress: (p) => {
          if (p.step !== 'delete' || made) return;
          made = true;
          for (const sql of triggerSql(kind, 'late_p', 'AFTER', 'insert into audit values (old.id)')) db.execSync(sql);
        },
      }),
    );
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('purge.trigger');
    expect((err as StoreError).message).toMatch(/^p: trigger late_p \(AFTER DELETE\) of .*; nothing was deleted; the archive .*archive is complete and stays$/);
    expect(await db.rows('select id from p order by id')).toEqual([[1], [2], [3]]);
    expect(Number((await db.rows('select count(*) from audit'))[0]![0])).toBe(0);
  });

  if (kind === 'postgres') it.skipIf(down !== null)('PostgreSQL: a DELETE rule is refused; a disabled trigger is not', async () => {
    const db = await setup();
    for (const sql of triggerSql(kind, 'audit_p', 'AFTER', 'insert into audit values (old.id)')) await db.exec(sql);
    await db.exec('alter table p disable trigger audit_p');
    await db.exec('create rule keep_p as on delete to p where old.id = 1 do instead nothing');
    const err = await failure(run(db, { dryRun: true }));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/^p: rule keep_p \(ON DELETE\) of .* rewrites every DELETE of it/);
    expect((err as ConfigError).hint).toContain('ALTER TABLE p DISABLE RULE keep_p');
    await db.exec('alter table p disable rule keep_p');
    const done = await run(db);
    expect(done).toMatchObject({ deleted_total: 2, triggers_allowed: [] });
    expect(Number((await db.rows('select count(*) from audit'))[0]![0])).toBe(0);
  });

  if (kind === 'postgres') it.skipIf(down !== null)('PostgreSQL: a trigger of a partition of a purged table is refused, naming the partition; the table\'s own trigger once', async () => {
    const db = await database(kind);
    await db.exec("create table p (id int, ts varchar(10), primary key (id, ts)) partition by range (ts)");
    await db.exec("create table p_old partition of p for values from ('2000') to ('2025')");
    await db.exec("create table p_new partition of p for values from ('2025') to ('2100')");
    await db.exec('create table audit (p_id int)');
    await db.exec("insert into p values (1, '2020-01-01'), (2, '2020-01-01'), (3, '2026-01-01')");
    await db.exec('create function audit_fn() returns trigger language plpgsql as $$ begin insert into audit values (old.id); return old; end $$');
    await db.exec('create trigger on_old after delete on p_old for each row execute function audit_fn()');
    const err = await failure(run(db, { dryRun: true }));
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/^p: trigger on_old \(AFTER DELETE on its partition p_old\) of /);
    expect((err as ConfigError).hint).toContain('ALTER TABLE p_old DISABLE TRIGGER on_old');
    await db.exec('drop trigger on_old on p_old');
    await db.exec('create trigger on_all after delete on p for each row execute function audit_fn()');
    const dry = await run(db, { dryRun: true, allow: ['on_all'] });
    expect(dry.triggers_allowed).toEqual(['p.on_all (AFTER DELETE trigger)']);
    const done = await run(db, { allow: ['on_all'] });
    expect(done.deleted_total).toBe(2);
    expect(await db.rows('select p_id from audit order by p_id')).toEqual([[1], [2]]);
  });
});
