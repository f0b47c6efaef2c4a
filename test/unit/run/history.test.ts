import { cpSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findRunFolder, readRunFolders, rejectsTrend } from '../../../src/run/history.js';
import { report, runsDir } from './reports.js';

describe('run history', () => {
  const a = report('20261101T080000Z-aaaa', '2026-11-01T08:00:00.000Z', { items: 20, bom_lines: 11 });
  const b = report('20261102T080000Z-bbbb', '2026-11-02T08:00:00.000Z', { items: 4 }, { command: 'rejects reload', follows: { run_id: a.run_id, read: { items: 100, bom_lines: 100 } } });
  // Another plan file of the same folder, with the same name (a copy tried beside the main plan).
  const other = report('20261102T090000Z-cccc', '2026-11-02T09:00:00.000Z', { items: 99 }, { plan: 'other.yaml' });

  it('reads the run folders oldest first, leaving out folders without a report', () => {
    expect(readRunFolders(runsDir([b, a, other])).map((f) => f.report.run_id)).toEqual([a.run_id, b.run_id, other.run_id]);
    expect(readRunFolders('/nonexistent/runs')).toEqual([]);
  });

  it('counts a reload by the rejects still open after it: the run it follows, its own entities replaced', () => {
    const c = report('20261103T080000Z-cccc', '2026-11-03T08:00:00.000Z', { items: 3, bom_lines: 2 });
    const trend = rejectsTrend(runsDir([a, b, other]), c);
    expect(trend.map((t) => [t.run_id, t.rejected])).toEqual([
      [a.run_id, 31],
      [b.run_id, 15],
      [c.run_id, 5],
    ]);
  });

  it('follows the plan file: a run of it under an earlier name is in its trend, a run of another file of that name is not', () => {
    const renamed = report('20261103T080000Z-dddd', '2026-11-03T08:00:00.000Z', { items: 1 }, { plan_name: 'acme 2026', plan: 'mappings/forklift.yaml' });
    expect(rejectsTrend(runsDir([a, other]), renamed).map((t) => t.run_id)).toEqual([a.run_id, renamed.run_id]);
    expect(rejectsTrend(runsDir([a, other]), report('20261103T090000Z-eeee', '2026-11-03T09:00:00.000Z', {}, { plan: 'other.yaml' })).map((t) => t.run_id)).toEqual([other.run_id, '20261103T090000Z-eeee']);
  });

  it('keeps the last runs only', () => {
    expect(rejectsTrend(runsDir([a, b]), report('20261103T080000Z-dddd', '2026-11-03T08:00:00.000Z', {}), 2).map((t) => t.rejected)).toEqual([15, 0]);
  });

  it('finds a run by id, by the unique start of its id, or by folder; says so when it cannot', () => {
    const dir = runsDir([a, b]);
    expect(findRunFolder(a.run_id, dir).report.run_id).toBe(a.run_id);
    expect(findRunFolder('20261102', dir).report.run_id).toBe(b.run_id);
    expect(findRunFolder(path.join(dir, a.run_id), dir).report.run_id).toBe(a.run_id);
    expect(() => findRunFolder('2026110', dir)).toThrow(/run '2026110' is ambiguous/);
    expect(() => findRunFolder('1999', dir)).toThrow(/no run '1999'/);
    expect(() => findRunFolder(path.join(dir, '20260101T000000Z-dead'), dir)).toThrow(/not a run folder \(it has no report.json\)/);
  });

  it('takes a complete run id as that run, even beside a copy of its folder whose name it begins', () => {
    const dir = runsDir([a, b]);
    // A copy made before fixing its rejects in place: the same report under another folder name.
    cpSync(path.join(dir, a.run_id), path.join(dir, `${a.run_id}-backup`), { recursive: true });
    expect(findRunFolder(a.run_id, dir).dir).toBe(path.join(dir, a.run_id));
    expect(findRunFolder(`${a.run_id}-b`, dir).dir).toBe(path.join(dir, `${a.run_id}-backup`));
    // A start of both is still ambiguous.
    expect(() => findRunFolder('20261101T080000Z-aa', dir)).toThrow(/is ambiguous/);
  });
});
