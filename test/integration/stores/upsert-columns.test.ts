import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportBundle } from '../../../src/bundle/export.js';
import { importBundle } from '../../../src/bundle/import.js';
import { factoryModel } from '../../../src/model/factory.js';
import { runPlan } from '../../../src/run/pipeline.js';
import { reloadRejects } from '../../../src/run/reload.js';
import { openStore } from '../../../src/stores/index.js';
import { tempDir } from '../../helpers.js';
import { liveServers } from './live.js';

/**
 * An upsert whose mapping leaves columns out updates, where the key exists, only the columns the
 * mapping provides (from, const, expr or default): the rest keep their values. New rows get every
 * column, the unmapped ones NULL. The same on SQLite, PostgreSQL and MariaDB, through migrate, its
 * dry run (unchanged is judged on the provided columns) and a rejects reload (the mapping's columns).
 */

const FILE = 'test/integration/stores/upsert-columns.test.ts';
const { pgDown, myDown, pgDbs, myDbs } = await liveServers(FILE);

/** Plan a: every column of interest, replace. Plan b: no category or standard_cost, lead time by default only, upsert. */
function project(target: string): { dir: string; a: string; b: string; bData: (rows: string[]) => void } {
  const dir = tempDir('forklift-upsert-cols-');
  writeFileSync(path.join(dir, 'a.csv'), 'CODE,NAME,GRP,LT,COST\nK1,full row,PUMPS,14,2.5\nK2,second,SEALS,30,1\n');
  writeFileSync(
    path.join(dir, 'a.yaml'),
    'entity: items\nsource: { format: csv, path: a.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  category: { from: GRP }\n  lead_time_days: { from: LT }\n  standard_cost: { from: COST }\n  uom: { const: EA }\n  active: { const: true }\n',
  );
  writeFileSync(
    path.join(dir, 'b.yaml'),
    'entity: items\nsource: { format: csv, path: b.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  lead_time_days: { default: 30 }\n  uom: { const: EA }\n  active: { const: true }\n',
  );
  writeFileSync(path.join(dir, 'pa.yaml'), `name: a\ntarget: ${target}\nmappings: [a.yaml]\nload: replace\n`);
  writeFileSync(path.join(dir, 'pb.yaml'), `name: b\ntarget: ${target}\nmappings: [b.yaml]\nload: upsert\nreject_limit: 50%\n`);
  return { dir, a: path.join(dir, 'pa.yaml'), b: path.join(dir, 'pb.yaml'), bData: (rows) => writeFileSync(path.join(dir, 'b.csv'), ['CODE,NAME', ...rows].join('\n') + '\n') };
}

const items = factoryModel().entities.get('items')!;
const at = (name: string): number => items.columns.findIndex((c) => c.name === name);

/** item_code, description, uom, category, standard_cost, lead_time_days of every item, in key order (staging form). */
async function rows(url: string): Promise<unknown[][]> {
  const store = await openStore(url);
  try {
    const out: unknown[][] = [];
    for await (const batch of store.readRows(items)) for (const r of batch) out.push(['item_code', 'description', 'uom', 'category', 'standard_cost', 'lead_time_days'].map((c) => r[at(c)]));
    return out;
  } finally {
    await store.close();
  }
}

async function scenario(url: string): Promise<void> {
  const p = project(url);
  await runPlan({ plan: p.a, command: 'migrate' });

  // K1 changes its description, K2 is the same in every column b provides, K3 is new.
  p.bData(['K1,new description', 'K2,second', 'K3,third']);
  const dry = await runPlan({ plan: p.b, command: 'migrate', dryRun: true });
  expect(dry.entities[0]!.dry_run).toEqual({ would_insert: 1, would_update: 1, unchanged: 1, would_delete: 0, refused: 0 });

  const migrated = await runPlan({ plan: p.b, command: 'migrate' });
  expect(migrated.entities[0]).toMatchObject({ read: 3, loaded: 3, rejected: 0 });
  expect(await rows(url)).toEqual([
    ['K1', 'new description', 'EA', 'PUMPS', '2.5000', 30],
    ['K2', 'second', 'EA', 'SEALS', '1.0000', 30],
    ['K3', 'third', 'EA', null, null, 30],
  ]);

  // The same file again: nothing b provides would change, whatever b leaves out.
  const again = await runPlan({ plan: p.b, command: 'migrate', dryRun: true });
  expect(again.entities[0]!.dry_run).toEqual({ would_insert: 0, would_update: 0, unchanged: 3, would_delete: 0, refused: 0 });

  // A reload upserts the fixed rows with b's columns: K2's category and cost stay.
  p.bData(['K2,', 'K1,new description']);
  const withReject = await runPlan({ plan: p.b, command: 'migrate' });
  expect(withReject.entities[0]).toMatchObject({ loaded: 1, rejected: 1 });
  const runDir = path.dirname(withReject.reportFile);
  const rejects = path.join(runDir, 'rejects', 'items.csv');
  writeFileSync(rejects, readFileSync(rejects, 'utf8').replace(/^K2,,/m, 'K2,second fixed,'));
  const reload = await reloadRejects({ runDir });
  expect(reload.entities[0]).toMatchObject({ read: 1, loaded: 1, rejected: 0 });
  expect(await rows(url)).toEqual([
    ['K1', 'new description', 'EA', 'PUMPS', '2.5000', 30],
    ['K2', 'second fixed', 'EA', 'SEALS', '1.0000', 30],
    ['K3', 'third', 'EA', null, null, 30],
  ]);
}

describe('an upsert updates only the columns its mapping provides', () => {
  it('SQLite', async () => {
    const dir = tempDir('forklift-upsert-sqlite-');
    await scenario(`sqlite:${path.join(dir, 't.db')}`);
  });

  it('SQLite: bundle import --load upsert still writes every column (a bundle holds them all)', async () => {
    const p = project(`sqlite:${path.join(tempDir('forklift-upsert-sqlite-'), 't.db')}`);
    const target = `sqlite:${path.join(p.dir, 'target.db')}`;
    const source = `sqlite:${path.join(p.dir, 'source.db')}`;
    await runPlan({ plan: p.a, command: 'migrate', target });
    p.bData(['K1,from the bundle']);
    await runPlan({ plan: p.b, command: 'migrate', target: source });
    await exportBundle({ dir: path.join(p.dir, 'bundle'), source, tables: ['items'] });
    await importBundle({ bundle: path.join(p.dir, 'bundle'), target, load: 'upsert', tables: ['items'] });
    expect(await rows(target)).toEqual([
      ['K1', 'from the bundle', 'EA', null, null, 30],
      ['K2', 'second', 'EA', 'SEALS', '1.0000', 30],
    ]);
  });

  it.skipIf(pgDown !== null)('PostgreSQL', async () => {
    await scenario((await pgDbs.create()).url);
  });

  it.skipIf(myDown !== null)('MariaDB', async () => {
    await scenario((await myDbs.create()).url);
  });
});
