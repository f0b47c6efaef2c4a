import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { StoreError } from '../../src/core/errors.js';
import { runPlan } from '../../src/run/pipeline.js';
import { TRIGGER_REFUSAL_HINT } from '../../src/stores/key-clash.js';
import { demoCopy } from '../helpers.js';

describe('a trigger of a SQLite target that refuses a row of the load', () => {
  it('fails the load naming the table it refused a row of, with a hint that points at --dry-run (not at the connection)', async () => {
    const demo = demoCopy();
    const target = `sqlite:${path.join(demo.dir, 't.db')}`;
    await runPlan({ plan: demo.plan, command: 'migrate', target });
    const db = new Database(target.slice('sqlite:'.length));
    db.exec("CREATE TRIGGER boom BEFORE INSERT ON machine_events WHEN NEW.good_count > 50 BEGIN SELECT RAISE(ABORT, 'too many good parts'); END;");
    db.close();
    const err = await runPlan({ plan: demo.plan, command: 'migrate', target }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).message).toMatch(/^sqlite:.*t\.db: machine_events: too many good parts$/);
    expect((err as StoreError).hint).toBe(TRIGGER_REFUSAL_HINT);
  });
});
