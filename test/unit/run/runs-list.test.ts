import { cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandEntry } from '../../../src/audit/entry.js';
import { renderRunsDiffText, renderRunsList } from '../../../src/run/runs-diff-render.js';
import { diffRuns } from '../../../src/run/runs-diff.js';
import { listRuns } from '../../../src/run/runs-list.js';
import { openStore } from '../../../src/stores/index.js';
import { report, runsDir } from './reports.js';

describe('runs list', () => {
  // Two plans side by side share one runs/ folder; their `plan` is the path as given when they ran.
  const a1 = report('20261101T080000Z-aaa1', '2026-11-01T08:00:00.000Z', { items: 2 }, { plan: 'plant/plan_upsert.yaml', plan_name: 'kill' });
  const a2 = report('20261103T080000Z-aaa2', '2026-11-03T08:00:00.000Z', { items: 1 }, { plan: 'plan_upsert.yaml', plan_name: 'kill' });
  const b1 = report('20261102T080000Z-bbb1', '2026-11-02T08:00:00.000Z', { items: 9 }, { plan: 'plant/plan_append.yaml', plan_name: 'kill' });
  const c1 = report('20261102T090000Z-ccc1', '2026-11-02T09:00:00.000Z', { items: 5 }, { plan: 'pre.yaml', plan_name: 'pre' });

  function folder(): string {
    const runs = runsDir([a1, a2, b1, c1]);
    writeFileSync(path.join(runs, '..', 'plan_upsert.yaml'), 'name: kill\n');
    return path.dirname(runs);
  }

  it('lists the runs of the plan only, by its file, and says how many runs of other plans it left out', async () => {
    const dir = folder();
    const l = await listRuns({ plan: path.join(dir, 'plan_upsert.yaml') });
    expect(l.runs.map((r) => r.id)).toEqual([a1.run_id, a2.run_id]);
    expect(l.other_plans).toBe(2);
    expect(renderRunsList(l)).toMatch(/^2 runs of .*plan_upsert\.yaml \(2 runs of other plans in the same runs\/ folder left out\)$/m);
    expect(renderRunsList(await listRuns({ plan: path.join(dir, 'nothing-yet.yaml') }))).toMatch(/^no runs of .*nothing-yet\.yaml yet \(4 runs of other plans in the same runs\/ folder left out\)$/m);
  });

  it('names each folder of runs/ it cannot read as a run (no report.json, a damaged one) instead of leaving it out without a word', async () => {
    const dir = folder();
    writeFileSync(path.join(dir, 'runs', a2.run_id, 'report.json'), '{"run_id":');
    const l = await listRuns({ plan: path.join(dir, 'plan_upsert.yaml') });
    expect(l.runs.map((r) => r.id)).toEqual([a1.run_id]);
    expect(l.unreadable.map((u) => [path.basename(u.run_dir), u.why.replace(/ \(.*$/, '')])).toEqual([
      ['20260101T000000Z-dead', 'no report.json'],
      [a2.run_id, 'report.json: not readable as JSON'],
    ]);
    expect(renderRunsList(l)).toMatch(/^2 folders of runs\/ could not be read as a run, and are left out:\n {2}.*20260101T000000Z-dead: no report\.json \(a run cut short, or a folder of something else\)\n {2}.*20261103T080000Z-aaa2: report\.json: not readable as JSON/m);
  });

  it('lists a run once beside a copy of its folder', async () => {
    const dir = folder();
    cpSync(path.join(dir, 'runs', a1.run_id), path.join(dir, 'runs', `${a1.run_id}-backup`), { recursive: true });
    const l = await listRuns({ plan: path.join(dir, 'plan_upsert.yaml') });
    expect(l.runs.map((r) => [r.id, path.basename(r.run_dir!)])).toEqual([
      [a1.run_id, a1.run_id],
      [a2.run_id, a2.run_id],
    ]);
  });

  it('with --target, leaves out the ledger entries of other plans’ runs, and keeps the ones it knows no folder of', async () => {
    const dir = folder();
    const url = `sqlite:${path.join(dir, 't.db')}`;
    const store = await openStore(url);
    try {
      for (const [id, command] of [
        [b1.run_id, 'migrate'],
        [a2.run_id, 'migrate'],
        ['20261104T080000Z-imp1', 'import'],
      ] as const) {
        await store.recordRun(commandEntry({ id, command, status: 'succeeded', started: new Date('2026-11-04T08:00:00.000Z'), files: {}, counts: {}, message: null }));
      }
    } finally {
      await store.close();
    }
    const l = await listRuns({ plan: path.join(dir, 'plan_upsert.yaml'), target: url });
    expect(l.runs.map((r) => [r.id, r.in_ledger])).toEqual([
      [a1.run_id, false],
      [a2.run_id, true],
      ['20261104T080000Z-imp1', true],
    ]);
    expect(l.other_plans).toBe(2);
  });
});

describe('runs diff', () => {
  it("shows loaded as what each run committed: 0 for a dry run, as runs list and the ledger do, and says that B's fixed rows were not loaded", async () => {
    const a = report('20261101T080000Z-aaa1', '2026-11-01T08:00:00.000Z', { items: 2 });
    const b = report('20261102T080000Z-bbb1', '2026-11-02T08:00:00.000Z', { items: 0 }, { status: 'dry-run', committed: false });
    const runs = runsDir([a, b]);
    const d = await diffRuns({ a: a.run_id, b: b.run_id, plan: path.join(runs, '..', 'forklift.yaml') });
    expect(d.entities[0]!.a).toMatchObject({ loaded: 98 });
    expect(d.entities[0]!.b).toMatchObject({ loaded: 0, would_have_loaded: 100 });
    expect(renderRunsDiffText(d)).toMatch(/^20261102T080000Z-bbb1 committed nothing \(dry-run\): its fixed rows pass the rules but were not loaded/m);
  });
});
