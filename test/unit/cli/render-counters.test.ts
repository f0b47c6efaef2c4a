import { describe, expect, it } from 'vitest';
import { renderRunReport } from '../../../src/cli/render.js';
import type { RunReport } from '../../../src/run/report.js';

/** A dry run whose rehearsal moved a counter for good says so under its table (report.html: test/integration/dry-run.test.ts). */

function dryRun(moved: RunReport['counters_advanced']): RunReport {
  const entity = { entity: 'items', read: 4, loaded: 4, filtered: 0, duplicates_dropped: 0, rejected: 0, blank_skipped: 0, rejects_by_rule: {}, rejects_file: null, dry_run: { would_insert: 1, would_update: 0, unchanged: 3, would_delete: 0, refused: 0 } };
  return {
    run_id: 'r1', command: 'migrate', status: 'dry-run', committed: false, dry_run: true, counters_advanced: moved, plan: 'forklift.yaml', plan_name: 'dry', target: 'postgres://u@h/db',
    started: '2026-12-01T00:00:00.000Z', finished: '2026-12-01T00:00:01.000Z', duration_ms: 1000, reject_limit: '0', entities: [entity], checks: [], message: null, ledger_head: null, run_dir: 'runs/r1', tool_version: '0.1.0', timings_ms: {},
  } as unknown as RunReport;
}

describe('counters a dry run moved', () => {
  it('are listed with both values, and why forklift leaves them', () => {
    const text = renderRunReport(dryRun([{ counter: 'public.audit_log_id_seq', before: '1', after: '5' }, { counter: 'public."New seq"', before: null, after: '3' }]));
    expect(text).toContain('the rollback did not take back these counters of the target');
    expect(text).toContain('The numbers the dry run drew stay unused; the real migrate draws the next ones.');
    expect(text).toContain('\n  public.audit_log_id_seq: 1 → 5\n  public."New seq": unused → 3\n');
  });

  it('are not mentioned when none moved', () => {
    expect(renderRunReport(dryRun([]))).not.toContain('counter');
    expect(renderRunReport({ ...dryRun([]), counters_advanced: undefined } as unknown as Parameters<typeof renderRunReport>[0])).not.toContain('counter');
  });
});
