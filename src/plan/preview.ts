import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import { compileMapping, compileOptionsOf } from '../mapping/compile.js';
import type { StoredValue } from '../mapping/coerce.js';
import type { AheadCheck } from '../sources/encoding.js';
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
  /**
   * The rows are read in a single-byte encoding named in the mapping, and the first
   * PREVIEW_CHECK_BYTES of a larger file are valid UTF-8: validate and migrate refuse the file if
   * the rest is too, and the rows shown are then wrong text. Says so, with that refusal.
   */
  warning?: string;
}

/**
 * How much of a text file preview reads to check its encoding as validate does (a UTF-8 file
 * named windows-1252 is known only at its end; a bad byte may come after the rows shown). A
 * smaller file gets validate's answer exactly; a larger one is not read whole.
 */
export const PREVIEW_CHECK_BYTES = 64 * 1024 * 1024;

/**
 * The first N source rows through the mapping and the row rules, nothing written. Parses only as
 * far as it needs; of a text file it then reads on up to PREVIEW_CHECK_BYTES, unparsed, for the
 * encoding check validate makes, so it answers at once on any file size. Rules that need every
 * row (keys, foreign keys, BOM cycles) are for validate.
 */
export async function previewMapping(mappingFile: string, opts: { rows: number; plan?: string | undefined; checkBytes?: number }): Promise<PreviewResult> {
  const m = loadMappingFile(path.resolve(mappingFile));
  const model = modelForMapping(mappingFile, opts.plan);
  const entity = model.entities.get(m.spec.entity);
  if (!entity) throw new ConfigError(`${m.display}: entity '${m.spec.entity}' is not in the model`, { code: 'mapping.entity', hint: 'Use an entity of the model.' });
  const source = await openSource(sourceSpecOf(m), { batchSize: Math.min(opts.rows, 1000) });
  const rows: PreviewRow[] = [];
  const columns = entity.columns.map((c) => c.name);
  let warning: string | undefined;
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
        if (rows.length >= opts.rows) {
          // The rest of the file is not parsed, but its encoding is checked, so a file validate
          // refuses is refused here too (with the same message), never shown as mojibake.
          warning = aheadWarning(await source.checkAhead?.(opts.checkBytes ?? PREVIEW_CHECK_BYTES));
          break outer;
        }
      }
    }
  } finally {
    await source.close();
  }
  return { mapping: m.display, entity: entity.name, source: source.label, columns, rows, ...(warning === undefined ? {} : { warning }) };
}

function aheadWarning(check: AheadCheck | undefined): string | undefined {
  if (check?.utf8Suspect === undefined) return undefined;
  const mib = (n: number): string => `${(n / 1048576).toFixed(n < 10 * 1048576 ? 1 : 0)} MiB`;
  return (
    `preview read the first ${mib(check.checkedBytes)} of ${mib(check.size)} and found only valid UTF-8: the rows above may be wrong text. ` +
    `validate reads the whole file and, if the rest is UTF-8 too, refuses it: ${check.utf8Suspect.message}` +
    (check.utf8Suspect.hint === undefined ? '' : `\nHint: ${check.utf8Suspect.hint}`)
  );
}
