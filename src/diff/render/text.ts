import { table } from '../../cli/render.js';
import type { DiffRecord, DiffResult } from '../types.js';
import { buffered, columnsByTable, describeChange, describeSide, fmtInt, keyLabel, showCell, unreachable, verdict, type ReportWriter } from './common.js';

/** For a terminal or a log: the verdict, both sides, schema changes, a summary table of every table, then each record on a line. */
export async function renderText(r: DiffResult, records: AsyncIterable<DiffRecord>, sink: ReportWriter): Promise<void> {
  const out = buffered(sink);
  const lines: string[] = [`diff: ${verdict(r)}`, `left:  ${describeSide(r.left)}`, `right: ${describeSide(r.right)}`, ''];
  if (r.schema.length) lines.push('schema changes:', ...r.schema.map((s) => `  ${describeChange(s)}`), '');
  lines.push(
    table(
      ['table', 'key', 'left rows', 'right rows', 'added', 'removed', 'changed', 'unchanged', 'changed cells'],
      r.tables.map((t) => [t.table + (t.status === 'compared' ? '' : t.status === 'added' ? ' (right only)' : ' (left only)'), keyLabel(t), fmtInt(t.left_rows), fmtInt(t.right_rows), fmtInt(t.added), fmtInt(t.removed), fmtInt(t.changed), fmtInt(t.unchanged), fmtInt(t.changed_cells)]),
      (c) => c > 1,
    ),
  );
  const notes = r.tables.flatMap((t) => [
    ...(t.key_source && t.key_source !== 'primary key' ? [`${t.table}: rows matched by ${t.key_source} (${keyLabel(t)})`] : []),
    ...(t.ignored.length ? [`${t.table}: not compared: ${t.ignored.join(', ')}`] : []),
  ]);
  if (notes.length) lines.push('', ...notes);
  await out.write(lines.join('\n') + '\n');
  if (r.details) {
    const cols = columnsByTable(r);
    let current: string | undefined;
    for await (const rec of records) {
      if (rec.table !== current) {
        current = rec.table;
        await out.write(`\n${rec.table} (${cols.get(rec.table)?.key.join(', ') ?? ''}):\n`);
      }
      await out.write(`  ${recordLine(rec, cols.get(rec.table)?.values ?? [])}\n`);
    }
  } else if (!r.identical && r.totals.added + r.totals.removed + r.totals.changed > 0) {
    await out.write('\n(--details lists every added and removed row and every changed cell)\n');
  }
  await out.flush();
}

function recordLine(rec: DiffRecord, values: string[]): string {
  const key = `[${rec.key.map(showCell).join(', ')}]`;
  switch (rec.kind) {
    case 'added':
      return `+ ${key}${rec.values.length ? ' ' + rec.values.map((v, i) => `${values[i]}=${showCell(v)}`).join(', ') : ''}`;
    case 'removed':
      return `- ${key}${rec.values.length ? ' ' + rec.values.map((v, i) => `${values[i]}=${showCell(v)}`).join(', ') : ''}`;
    case 'changed':
      return `~ ${key} ${rec.column}: ${showCell(rec.left)} → ${showCell(rec.right)}`;
    default:
      return unreachable(rec);
  }
}
