import { copyFileSync, createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import { stringify } from 'csv-stringify/sync';
import type { Staging } from './staging.js';

/**
 * csv-stringify quotes a field holding the record delimiter (CRLF) but not a lone LF or CR, which
 * Excel writes for every Alt+Enter line break: unquoted, the row splits in two on a reload.
 */
const CSV_OPTIONS = { record_delimiter: 'windows', quoted_match: /[\r\n]/ } as const;

/**
 * What a rejects file holds for a NUL character: a raw NUL makes the file binary to every reader
 * (the reload included, which would refuse the person's other fixes with it). An unedited row
 * holding the mark is rejected again on a reload (reload-check.ts), never loaded with the mark.
 */
export const NUL_MARK = '\u2400';

const visible = (s: string): string => (s.includes('\u0000') ? s.replaceAll('\u0000', NUL_MARK) : s);

export const REJECT_META = ['forklift_source', 'forklift_position', 'forklift_field', 'forklift_rule', 'forklift_reason'] as const;

/**
 * Writes rejects/<entity>.csv: the source columns exactly as read (names, order, text), then the
 * meta columns. UTF-8 with a byte-order mark, so Excel opens it right and a fixed file reloads.
 */
export async function writeRejectsFile(
  staging: Staging,
  entity: string,
  header: readonly string[],
  sourceLabel: string,
  positionKind: 'line' | 'row',
  file: string,
): Promise<number> {
  const out = createWriteStream(file);
  const write = async (s: string): Promise<void> => {
    if (!out.write(s)) await once(out, 'drain');
  };
  await write('\ufeff' + stringify([[...header, ...REJECT_META]], CSV_OPTIONS));
  let n = 0;
  const rows = staging.db.prepare('SELECT line, field, rule, reason, raw FROM rejects WHERE entity = ? ORDER BY line').iterate(entity) as IterableIterator<{
    line: number;
    field: string;
    rule: string;
    reason: string;
    raw: string | null;
  }>;
  let batch: unknown[][] = [];
  for (const r of rows) {
    const raw = r.raw === null ? [] : (JSON.parse(r.raw) as (string | null)[]);
    const cells = header.map((_, i) => visible(raw[i] ?? ''));
    // Cells beyond the header (a ragged row) are kept in the reason's row, never dropped.
    const extra = raw.length > header.length ? ` [extra cells: ${JSON.stringify(raw.slice(header.length))}]` : '';
    const marked = raw.some((c) => c?.includes('\u0000')) ? ` (each NUL is written as ${NUL_MARK} in this file)` : '';
    batch.push([...cells, sourceLabel, `${positionKind} ${r.line}`, r.field, r.rule, visible(r.reason + extra) + marked]);
    n++;
    if (batch.length >= 1000) {
      await write(stringify(batch, CSV_OPTIONS));
      batch = [];
    }
  }
  if (batch.length) await write(stringify(batch, CSV_OPTIONS));
  out.end();
  await once(out, 'close');
  return n;
}

/** The folder of a run's rejects files as the run wrote them (AS_WRITTEN_DIR/<entity>.csv). */
export const AS_WRITTEN_DIR = 'rejects-as-written';

/**
 * Keeps a copy of a rejects file as written: the file itself is what a person fixes in place to
 * feed a reload (rows corrected, deleted, re-keyed, added), so afterwards only the copy says what
 * the run rejected, which `runs diff` compares with.
 */
export function keepAsWritten(runDir: string, file: string): void {
  const dir = path.join(runDir, AS_WRITTEN_DIR);
  mkdirSync(dir, { recursive: true });
  copyFileSync(file, path.join(dir, path.basename(file)));
}
