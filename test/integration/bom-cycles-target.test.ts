import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runPlan } from '../../src/run/pipeline.js';
import { openStore } from '../../src/stores/index.js';
import { factoryModel } from '../../src/model/factory.js';
import { tempDir } from '../helpers.js';
import { MYSQL_ADMIN_URL, MysqlDatabases, PG_ADMIN_URL, PgDatabases, probeMysql, probePg, reportUnreachable } from './stores/live.js';

/**
 * SPEC section 3: no BOM cycle through any number of levels, counting the lines already in the
 * target when a run adds to them (append, upsert, incremental). The target holds A → B → C; a run
 * appending C → A closes A → B → C → A and its line is rejected naming the cycle. Upsert replaces
 * the target's line of the same key, so only what stays counts; replace empties the table, so only
 * the run's lines count.
 */

const pgDown = await probePg();
const myDown = await probeMysql();
reportUnreachable('PostgreSQL', PG_ADMIN_URL, pgDown, 'test/integration/bom-cycles-target.test.ts');
reportUnreachable('MariaDB', MYSQL_ADMIN_URL, myDown, 'test/integration/bom-cycles-target.test.ts');
const pgDbs = new PgDatabases();
const myDbs = new MysqlDatabases();

afterAll(async () => {
  await pgDbs.dropAll().catch(() => {});
  await myDbs.dropAll().catch(() => {});
});

function project(target: string): { dir: string; run: (load: string, bom: string[]) => ReturnType<typeof runPlan> } {
  const dir = tempDir('forklift-bom-target-');
  writeFileSync(path.join(dir, 'items.csv'), 'CODE,NAME\nA,Alpha\nB,Beta\nC,Gamma\nD,Delta\nX,Other\n');
  writeFileSync(path.join(dir, 'items.yaml'), `entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { const: EA }\n  active: { const: true }\n`);
  writeFileSync(path.join(dir, 'items-plan.yaml'), `name: items\ntarget: ${target}\nmappings: [items.yaml]\n`);
  return {
    dir,
    run: async (load, bom) => {
      const watermark = load === 'incremental' ? 'watermark: line_no\n' : '';
      writeFileSync(path.join(dir, 'bom.yaml'), `entity: bom_lines\nsource: { format: csv, path: bom.csv }\n${watermark}fields:\n  parent_item: { from: PARENT }\n  line_no: { from: LINE }\n  component_item: { from: COMP }\n  qty_per: { from: QTY }\n`);
      writeFileSync(path.join(dir, 'bom.csv'), ['PARENT,LINE,COMP,QTY', ...bom].join('\n') + '\n');
      writeFileSync(path.join(dir, 'bom-plan.yaml'), `name: bom\ntarget: ${target}\nmappings: [bom.yaml]\nload: ${load}\nreject_limit: 100%\n`);
      return runPlan({ plan: path.join(dir, 'bom-plan.yaml'), command: 'migrate' });
    },
  };
}

async function lines(url: string): Promise<string[]> {
  const store = await openStore(url, { existing: true });
  try {
    const entity = factoryModel().entities.get('bom_lines')!;
    const out: string[] = [];
    for await (const batch of store.readRows(entity)) for (const r of batch) out.push(`${String(r[0])}>${String(r[2])}`);
    return out;
  } finally {
    await store.close();
  }
}

function rejectsOf(dir: string, runId: string): string {
  const folder = path.join(dir, 'runs', runId, 'rejects');
  return readdirSync(folder)
    .map((f) => readFileSync(path.join(folder, f), 'utf8'))
    .join('');
}

async function scenario(url: string): Promise<void> {
  const p = project(url);
  await runPlan({ plan: path.join(p.dir, 'items-plan.yaml'), command: 'migrate' });
  // The target: A → B → C.
  const first = await p.run('append', ['A,10,B,1', 'B,10,C,1']);
  expect(first.entities[0]).toMatchObject({ loaded: 2, rejected: 0 });

  // append C → A closes A → B → C → A through two levels already in the target.
  const closing = await p.run('append', ['C,10,A,1', 'C,20,D,1']);
  expect(closing.entities[0]).toMatchObject({ read: 2, loaded: 1, rejected: 1, rejects_by_rule: { 'bom-cycle': 1 } });
  const reason = rejectsOf(p.dir, closing.run_id);
  expect(reason).toContain('this line is part of a BOM cycle: C → A → B → C');
  expect(reason).toContain('through lines already in the target: A → B, B → C');
  expect(await lines(url)).toEqual(['A>B', 'B>C', 'C>D']);

  // incremental adds like append: the same line is rejected.
  const inc = await p.run('incremental', ['B,50,A,1']);
  expect(inc.entities[0]).toMatchObject({ loaded: 0, rejected: 1, rejects_by_rule: { 'bom-cycle': 1 } });

  // upsert: the target's A,10 → B is replaced by A,10 → X, so C → A closes nothing;
  // D → B with B → C → D in place does.
  const up = await p.run('upsert', ['A,10,X,1', 'C,30,A,1', 'D,10,B,1']);
  expect(up.entities[0]).toMatchObject({ read: 3, loaded: 2, rejected: 1, rejects_by_rule: { 'bom-cycle': 1 } });
  expect(rejectsOf(p.dir, up.run_id)).toContain('D → B → C → D');
  expect(await lines(url)).toEqual(['A>X', 'B>C', 'C>D', 'C>A']);

  // replace: the target's lines go, so only the run's count.
  const rep = await p.run('replace', ['D,10,B,1', 'B,10,A,1']);
  expect(rep.entities[0]).toMatchObject({ loaded: 2, rejected: 0 });
  expect(await lines(url)).toEqual(['B>A', 'D>B']);
}

describe('BOM cycles through lines already in the target', () => {
  it('SQLite: append, incremental and upsert count the target’s lines; replace does not', async () => {
    const dir = tempDir('forklift-bom-target-db-');
    await scenario(`sqlite:${path.join(dir, 't.db')}`);
  });

  it.skipIf(pgDown !== null)('PostgreSQL: the same', async () => {
    const { url } = await pgDbs.create();
    await scenario(url);
  });

  it.skipIf(myDown !== null)('MariaDB: the same', async () => {
    const { url } = await myDbs.create();
    await scenario(url);
  });
});
