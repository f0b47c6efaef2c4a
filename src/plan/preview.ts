import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import { compileMapping, compileOptionsOf } from '../mapping/compile.js';
import type { StoredValue } from '../mapping/coerce.js';
import { openSource } from '../sources/index.js';
import { modelForMapping } from './check.js';
import { loadMappingFile, sourceSpecOf } from './load.js';

export interface PreviewRow {
  line: number;
  status: 'ok' | 'filtered' | 'rejected';
  values?: Record<string, StoredValue>;
  field?: string;
  rule?: string;
  reason?: string;
}

export interface PreviewResult {
  mapping: string;
  entity: string;
  source: string;
  columns: string[];
  rows: PreviewRow[];
}

/**
 * The first N source rows through the mapping and the row rules, nothing written. Reads only as
 * far as it needs, so it answers at once on any file size. Rules that need every row (keys,
 * foreign keys, BOM cycles) are for validate.
 */
export async function previewMapping(mappingFile: string, opts: { rows: number; plan?: string | undefined }): Promise<PreviewResult> {
  const m = loadMappingFile(path.resolve(mappingFile));
  const model = modelForMapping(mappingFile, opts.plan);
  const entity = model.entities.get(m.spec.entity);
  if (!entity) throw new ConfigError(`${m.display}: entity '${m.spec.entity}' is not in the model`, { code: 'mapping.entity', hint: 'Use an entity of the model.' });
  const source = await openSource(sourceSpecOf(m), { batchSize: Math.min(opts.rows, 1000) });
  const rows: PreviewRow[] = [];
  const columns = entity.columns.map((c) => c.name);
  try {
    const compiled = compileMapping(m, entity, source.header, compileOptionsOf(source));
    outer: for await (const batch of source.batches()) {
      for (const rec of batch) {
        const r = compiled.map(rec.cells, rec.faults);
        if (r.kind === 'ok') rows.push({ line: rec.line, status: 'ok', values: Object.fromEntries(columns.map((c, i) => [c, r.values[i] ?? null])) });
        else if (r.kind === 'filtered') rows.push({ line: rec.line, status: 'filtered' });
        else {
          // What the row's other fields mapped to (the failed ones blank), so a person sees which row it is.
          const row: PreviewRow = { line: rec.line, status: 'rejected', field: r.problem.field, rule: r.problem.rule, reason: r.problem.reason };
          const mapped = r.values;
          if (mapped) row.values = Object.fromEntries(columns.map((c, i) => [c, mapped[i] ?? null]));
          rows.push(row);
        }
        if (rows.length >= opts.rows) break outer;
      }
    }
  } finally {
    await source.close();
  }
  return { mapping: m.display, entity: entity.name, source: source.label, columns, rows };
}
