import type { DiffRecord, DiffResult } from '../types.js';
import { buffered, columnsByTable, unreachable, type ReportWriter } from './common.js';

/**
 * One JSON document: the DiffResult, then (with details) `records`, one per line, each with its key
 * and values named by column. Values are canonical text or null. Streamed: the records are never
 * all in memory.
 */
export async function renderJson(r: DiffResult, records: AsyncIterable<DiffRecord>, sink: ReportWriter): Promise<void> {
  const out = buffered(sink);
  const head = JSON.stringify(r, null, 2);
  if (!r.details) {
    await out.write(head + '\n');
    await out.flush();
    return;
  }
  // The summary's closing brace is reopened for the records array.
  await out.write(`${head.slice(0, head.lastIndexOf('}')).trimEnd()},\n  "records": [`);
  const cols = columnsByTable(r);
  let first = true;
  for await (const rec of records) {
    const c = cols.get(rec.table) ?? { key: [], values: [] };
    await out.write(`${first ? '\n' : ',\n'}    ${JSON.stringify(recordJson(rec, c.key, c.values))}`);
    first = false;
  }
  await out.write(`${first ? '' : '\n  '}]\n}\n`);
  await out.flush();
}

const named = (names: readonly string[], cells: readonly (string | null)[]): Record<string, string | null> => {
  const o: Record<string, string | null> = {};
  names.forEach((n, i) => (o[n] = cells[i] ?? null));
  return o;
};

export function recordJson(rec: DiffRecord, key: readonly string[], values: readonly string[]): Record<string, unknown> {
  switch (rec.kind) {
    case 'added':
    case 'removed':
      return { table: rec.table, kind: rec.kind, key: named(key, rec.key), row: named(values, rec.values) };
    case 'changed':
      return { table: rec.table, kind: rec.kind, key: named(key, rec.key), column: rec.column, left: rec.left, right: rec.right };
    default:
      return unreachable(rec);
  }
}
