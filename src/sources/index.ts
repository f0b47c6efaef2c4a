/**
 * Source readers: `openSource(spec)` reads just enough of a file to know its header (and what was
 * detected), or starts a SQL query and waits for its columns; then `batches()` streams the records
 * in bounded batches.
 */
import { SourceError } from '../core/errors.js';
import type { OpenOptions } from './common.js';
import { openCsv } from './csv.js';
import { openJsonl } from './jsonl.js';
import { openSql } from './sql.js';
import type { OpenedSource, SourceRecord, SourceSpec } from './types.js';
import { openXlsx } from './xlsx.js';

export type { Cell, OpenedSource, RejectAgainSpec, SourceInfo, SourceRecord, SourceSpec } from './types.js';
export type { OpenOptions } from './common.js';
export { DEFAULT_BATCH_SIZE } from './common.js';
export { DELIMITER_CANDIDATES, sniffDelimiter } from './csv.js';
export { detectEncoding } from './encoding.js';
export { excelSerialToIso, isDateFormat, numberToText } from './xlsx.js';

export async function openSource(spec: SourceSpec, opts?: OpenOptions): Promise<OpenedSource> {
  const opened = await openFormat(spec, opts);
  if (spec.excel_date_system !== undefined) opened.excelDateSystem = spec.excel_date_system;
  return spec.ignore_columns?.length ? withoutColumns(opened, spec.ignore_columns) : opened;
}

/** A source with some columns left out of its header and of every record, as if the file did not have them. */
export function withoutColumns(source: OpenedSource, names: readonly string[]): OpenedSource {
  const keep = source.header.flatMap((h, i) => (names.includes(h) ? [] : [i]));
  if (keep.length === source.header.length) return source;
  // Cells past the header (a ragged row) stay, after the kept ones, so the shape check still sees them.
  const width = source.header.length;
  return mapSourceRecords(source, keep.map((i) => source.header[i]!), (r) => ({ line: r.line, cells: [...keep.map((i) => r.cells[i] ?? null), ...r.cells.slice(width)], ...(r.again === undefined ? {} : { again: r.again }) }));
}

/** `source` with every record passed through `f` (and `header` as its header): the rest as it is. */
export function mapSourceRecords(source: OpenedSource, header: string[], f: (r: SourceRecord) => SourceRecord): OpenedSource {
  return {
    header,
    detected: source.detected,
    label: source.label,
    positionKind: source.positionKind,
    ...(source.excelDateSystem === undefined ? {} : { excelDateSystem: source.excelDateSystem }),
    ...(source.headerLine === undefined ? {} : { headerLine: source.headerLine }),
    get skippedBlank() {
      return source.skippedBlank;
    },
    get sha256() {
      return source.sha256;
    },
    async *batches(signal?: AbortSignal) {
      for await (const batch of source.batches(signal)) yield batch.map(f);
    },
    close: () => source.close(),
    ...(source.checkAhead === undefined ? {} : { checkAhead: source.checkAhead.bind(source) }),
  };
}

async function openFormat(spec: SourceSpec, opts?: OpenOptions): Promise<OpenedSource> {
  switch (spec.format) {
    case 'csv':
      return openCsv(spec, opts);
    case 'xlsx':
      return openXlsx(spec, opts);
    case 'jsonl':
      return openJsonl(spec, opts);
    case 'sql':
      return openSql(spec, opts);
    default: {
      const never: never = spec.format;
      throw new SourceError(`unknown source format '${String(never)}'`, {
        code: 'source.format',
        location: { file: '(mapping)', where: 'source.format' },
        hint: 'use format: csv, xlsx, jsonl or sql',
      });
    }
  }
}
