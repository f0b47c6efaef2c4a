import type { RunReport } from '../run/report.js';
import { escapeControl } from '../util/unicode.js';
import { sweptText, type SweptWork } from '../util/work-path.js';

const n = (v: number): string => v.toLocaleString('en-US');

export function table(head: string[], rows: string[][], alignRight: (col: number) => boolean = (c) => c > 0): string {
  const widths = head.map((h) => cellText(h).length);
  for (const r of rows) columnWidths(widths, r);
  const lines = tableLines(head, widths, alignRight);
  return [lines.head, ...rows.map(lines.row)].join('\n');
}

/** Widens `widths` (one per column) to fit a row's cells. */
export function columnWidths(widths: number[], row: readonly string[]): void {
  for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i]!, cellText(row[i] ?? '').length);
}

/**
 * A cell as a table shows it: a line break or another control character in a value (a
 * description typed with Alt+Enter in Excel, a column name from a quoted header cell) would break
 * the row across lines, so it is shown escaped (`\n`, `\t`, `\u000b`).
 */
export const cellText = (c: string): string => escapeControl(c);

/**
 * The lines of a table whose column widths are known beforehand (a first pass over rows that are
 * streamed): the heading with its rule, and each row, as `table` prints them.
 */
export function tableLines(head: string[], widths: readonly number[], alignRight: (col: number) => boolean = (c) => c > 0): { head: string; row: (r: string[]) => string } {
  const row = (r: string[]): string =>
    r
      .map(cellText)
      .map((c, i) => (alignRight(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return { head: `${row(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`, row };
}

/** A run's outcome for the terminal; first, what killed runs of the plan left and this one removed (`swept`). */
export function renderRunReport(r: RunReport & { swept?: readonly SweptWork[] }): string {
  const loadedHead = r.committed ? 'loaded' : r.command === 'validate' ? 'valid' : 'not loaded';
  const rows = r.entities.map((l) => [l.entity, n(l.read), n(l.loaded), n(l.filtered), n(l.duplicates_dropped), n(l.rejected)]);
  const outcome = r.dry_run ? 'dry run: nothing was written' : `${r.status}${r.committed ? ', committed' : ', nothing committed'}`;
  const out = [...sweptText(r.swept ?? []), `${r.command} ${r.plan_name} → ${r.target}: ${outcome} (${(r.duration_ms / 1000).toFixed(1)} s)`, '', table(['entity', 'read', r.dry_run ? 'would load' : loadedHead, 'filtered', 'duplicates', 'rejected'], rows)];
  if (r.dry_run) {
    const dry = r.entities.map((l) => [l.entity, n(l.dry_run?.would_insert ?? 0), n(l.dry_run?.would_update ?? 0), n(l.dry_run?.unchanged ?? 0), n(l.dry_run?.would_delete ?? 0), n(l.dry_run?.refused ?? 0)]);
    out.push('', 'on the target (rehearsed and rolled back):', table(['entity', 'would insert', 'would update', 'unchanged', 'would delete', 'refused'], dry));
    const moved = r.counters_advanced ?? [];
    if (moved.length) {
      out.push('', `the rollback did not take back ${moved.length === 1 ? 'this counter' : 'these counters'} of the target (moved while the dry run rehearsed: by its inserts, a trigger's, or another session's):`);
      for (const c of moved) out.push(`  ${c.counter}: ${c.before ?? 'unused'} → ${c.after ?? 'unused'}`);
      out.push(`  forklift leaves ${moved.length === 1 ? 'it' : 'them'} so: setting one back could hand out again a number another session has taken. The numbers the dry run drew stay unused; the real migrate draws the next ones.`);
    }
  }
  for (const l of r.entities) {
    const w = l.watermark;
    if (w) {
      const per = w.group_by.length ? ` per ${w.group_by.join(', ')}` : '';
      out.push(`incremental ${l.entity}: ${n(w.behind)} rows at or before the target's latest ${w.column}${per} were skipped (counted as filtered): an incremental load takes only newer rows, so a late row that was never loaded is skipped too (load those with load: upsert)`);
    }
  }
  // Not rows, so not in the ledger's sum; said here so that a count of the file's lines agrees.
  for (const l of r.entities) if (l.blank_skipped > 0) out.push(`${l.entity}: ${n(l.blank_skipped)} blank ${l.blank_skipped === 1 ? 'row' : 'rows'} in the source skipped (no value in any column; not counted as read)`);
  for (const c of r.checks) out.push(`control total ${c.entity} ${c.measure}: expected ${c.expected}, got ${c.actual} ${c.ok ? 'ok' : 'MISMATCH'}`);
  const withRejects = r.entities.filter((l) => l.rejected > 0);
  if (withRejects.length) {
    out.push('', 'rejects by rule:');
    for (const l of withRejects) {
      const file = l.rejects_file === null ? '' : `${r.run_dir}/rejects/${l.entity}.csv`;
      out.push(`  ${l.entity}: ${Object.entries(l.rejects_by_rule).map(([k, v]) => `${k} ${v}`).join(', ')}  → ${file}`);
    }
  }
  out.push('', `report: ${r.run_dir}/report.html`);
  return out.join('\n');
}
