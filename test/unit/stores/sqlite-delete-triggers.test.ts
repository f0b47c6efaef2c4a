import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { sqliteDeleteTriggers } from '../../../src/stores/read-sqlite.js';

/**
 * SQLite keeps only a trigger's CREATE statement, so a purge reads its event from the head: odd
 * names (quoted, containing BEGIN or DELETE ON), comments, schema-qualified names, the default
 * timing; a trigger of another event is none of the purge's business.
 */
describe('sqliteDeleteTriggers', () => {
  it('finds every DELETE trigger, and only those, whatever its name and layout', () => {
    const db = new Database(':memory:');
    db.exec('create table p (id int primary key, "delete" int); create table log (x int); create view v as select * from p');
    db.exec(`
        create trigger "begin" after delete on p begin insert into log values (1); end;
        create trigger [x delete on] before insert on p begin insert into log values (2); end;
        create trigger "a ""DELETE ON"" b" after update of "delete" on p begin insert into log values (3); end;
        create trigger main.plain delete on p begin insert into log values (4); end;
        create trigger if not exists commented /* after insert */ after -- insert
          delete on p begin insert into log values (5); end;
        create trigger delete_on_ins after insert on p begin delete from log; end;
        create trigger \`q\` instead of delete on v begin select 1; end;
    `);
    const found = sqliteDeleteTriggers(db).map((t) => [t.table, t.name, t.when]);
    expect(found).toEqual([
      ['p', 'begin', 'AFTER DELETE'],
      ['p', 'commented', 'AFTER DELETE'],
      ['p', 'plain', 'BEFORE DELETE'],
      ['v', 'q', 'INSTEAD OF DELETE'],
    ]);
    db.close();
  });
});
