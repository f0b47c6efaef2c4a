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
import type { OpenedSource, SourceSpec } from './types.js';
import { openXlsx } from './xlsx.js';

export type { Cell, OpenedSource, SourceInfo, SourceRecord, SourceSpec } from './types.js';
export type { OpenOptions } from './common.js';
export { DEFAULT_BATCH_SIZE } from './common.js';
export { DELIMITER_CANDIDATES, sniffDelimiter } from './csv.js';
export { detectEncoding } from './encoding.js';
export { excelSerialToIso, isDateFormat, numberToText } from './xlsx.js';

export async function openSource(spec: SourceSpec, opts?: OpenOptions): Promise<OpenedSource> {
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
