import { describe, expect, it } from 'vitest';
import { namesSchema, unqualifiedTrigger } from '../../../src/stores/mysql.js';

/**
 * A dry run on MySQL/MariaDB makes each trigger of the copied tables again in the scratch schema,
 * from SHOW CREATE TRIGGER's statement: the database comes off the trigger's name and its table's
 * (a Workbench-made trigger names both), the body stays as written.
 */
describe('unqualifiedTrigger', () => {
  it('takes the database off the name and the table, however quoted, with or without a definer', () => {
    expect(unqualifiedTrigger('CREATE DEFINER=`root`@`localhost` trigger dr_a.items_audit after insert on dr_a.items for each row insert into dr_b.audit (item) values (NEW.item_code)')).toBe(
      'CREATE DEFINER=`root`@`localhost` trigger items_audit after insert on items for each row insert into dr_b.audit (item) values (NEW.item_code)',
    );
    expect(unqualifiedTrigger('CREATE DEFINER=`root`@`localhost` TRIGGER `my db`.`items_BEFORE_INSERT` BEFORE INSERT ON `my db`.`items` FOR EACH ROW SET NEW.x = 1')).toBe(
      'CREATE DEFINER=`root`@`localhost` TRIGGER `items_BEFORE_INSERT` BEFORE INSERT ON `items` FOR EACH ROW SET NEW.x = 1',
    );
    expect(unqualifiedTrigger("CREATE DEFINER='app user'@'%' TRIGGER `d`.`t.1` AFTER UPDATE ON `d` . `it``ems` FOR EACH ROW SET @x = 1")).toBe("CREATE DEFINER='app user'@'%' TRIGGER `t.1` AFTER UPDATE ON `it``ems` FOR EACH ROW SET @x = 1");
    expect(unqualifiedTrigger('CREATE TRIGGER "d"."t" BEFORE DELETE ON "d"."items" FOR EACH ROW SET @x = 1')).toBe('CREATE TRIGGER "t" BEFORE DELETE ON "items" FOR EACH ROW SET @x = 1');
    expect(unqualifiedTrigger('CREATE DEFINER=CURRENT_USER TRIGGER d.t BEFORE INSERT ON d.items FOR EACH ROW SET @x = 1')).toBe('CREATE DEFINER=CURRENT_USER TRIGGER t BEFORE INSERT ON items FOR EACH ROW SET @x = 1');
  });

  it('leaves a statement that names neither alone, and never touches the body', () => {
    const plain = 'CREATE DEFINER=`root`@`localhost` TRIGGER items_audit AFTER INSERT ON items FOR EACH ROW CALL audit_item(audit_code(NEW.item_code))';
    expect(unqualifiedTrigger(plain)).toBe(plain);
    const body = 'CREATE TRIGGER t BEFORE INSERT ON items FOR EACH ROW INSERT INTO other.log SELECT * FROM other.items';
    expect(unqualifiedTrigger(body)).toBe(body);
  });
});

/** The databases whose AUTO_INCREMENT counters a dry run reads: those its triggers' and routines' text names before a dot. */
describe('namesSchema', () => {
  it('finds a database named before a dot, quoted or not, in any letter case', () => {
    expect(namesSchema('insert into erp.audit (item) values (NEW.item_code)', 'erp')).toBe(true);
    expect(namesSchema('INSERT INTO `erp` . `audit` VALUES (1)', 'erp')).toBe(true);
    expect(namesSchema('CALL ERP.log_it(1)', 'erp')).toBe(true);
    expect(namesSchema('INSERT INTO `my db`.audit VALUES (1)', 'my db')).toBe(true);
  });

  it('not as part of another name, nor a table or column of that name', () => {
    expect(namesSchema('insert into myerp.audit values (1)', 'erp')).toBe(false);
    expect(namesSchema('insert into erp_old.audit values (1)', 'erp')).toBe(false);
    expect(namesSchema('insert into audit (erp) values (NEW.erp)', 'erp')).toBe(false);
    expect(namesSchema('SET NEW.x = 1', 'x')).toBe(false);
  });
});
