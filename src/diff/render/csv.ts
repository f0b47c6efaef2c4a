import { quoteField } from '../../bundle/csv.js';
import type { Cell, DiffRecord, DiffResult, SchemaChange } from '../types.js';
import { buffered, columnsByTable, unreachable, type ReportWriter } from './common.js';

/**
 * For a spreadsheet: RFC 4180 (comma, CRLF, double quotes), UTF-8 with a byte-order mark (Excel
 * reads it as UTF-8 then, as with the rejects files), one row per changed cell:
 * `table,change,key,column,left,right`. `key` is the row's key as a JSON array (unambiguous
 * whatever the values hold); a missing value is an empty field and an empty text `""`, as in a
 * bundle. Schema changes come first (left and right hold the types or keys); an added or removed
 * row gives one line per column besides the key.
 */
export async function renderCsv(r: DiffResult, records: AsyncIterable<DiffRecord>, sink: ReportWriter): Promise<void> {
  const out = buffered(sink);
  await out.write('\ufefftable,change,key,column,left,right\r\n');
  for (const s of r.schema) await out.write(line(schemaRow(s)));
  const cols = columnsByTable(r);
  for await (const rec of records) {
    const names = cols.get(rec.table)?.values ?? [];
    const key = JSON.stringify(rec.key);
    switch (rec.kind) {
      case 'added':
      case 'removed':
        if (rec.values.length === 0) await out.write(line([rec.table, rec.kind, key, null, null, null]));
        for (let i = 0; i < rec.values.length; i++) {
          const v = rec.values[i] ?? null;
          await out.write(line([rec.table, rec.kind, key, names[i] ?? null, rec.kind === 'removed' ? v : null, rec.kind === 'added' ? v : null]));
        }
        break;
      case 'changed':
        await out.write(line([rec.table, 'changed', key, rec.column, rec.left, rec.right]));
        break;
      default:
        unreachable(rec);
    }
  }
  await out.flush();
}

function schemaRow(s: SchemaChange): Cell[] {
  switch (s.kind) {
    case 'table-added':
    case 'table-removed':
      return [s.table, s.kind, null, null, null, null];
    case 'column-added':
      return [s.table, s.kind, null, s.column, null, s.type];
    case 'column-removed':
      return [s.table, s.kind, null, s.column, s.type, null];
    case 'type-changed':
      return [s.table, s.kind, null, s.column, s.left, s.right];
    case 'key-changed':
      return [s.table, s.kind, null, null, s.left.join('+'), s.right.join('+')];
    default:
      return unreachable(s);
  }
}

function line(cells: readonly Cell[]): string {
  return cells.map((c) => (c === null ? '' : quoteField(c))).join(',') + '\r\n';
}
