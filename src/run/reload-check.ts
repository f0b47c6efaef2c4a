import { existsSync } from 'node:fs';
import type { LoadedMapping } from '../plan/load.js';
import type { Entity } from '../model/types.js';
import { mapSourceRecords, openSource, withoutColumns, type OpenOptions } from '../sources/index.js';
import type { OpenedSource, RejectAgainSpec, SourceRecord, SourceSpec } from '../sources/types.js';
import type { RowProblem } from '../validate/row-rules.js';
import { NUL_MARK, REJECT_META } from './rejects.js';

/**
 * What a rejects reload learns from the run's copy of its rejects as written
 * (rejects-as-written/), before the mapping sees the fixed file. Two kinds of row are rejected
 * again instead of mapped:
 *
 * - A row the rejects file cannot hold as read, still as written: a shape reject (the file pads a
 *   short row and moves the extra cells of a long one into the reason, so the row has the header's
 *   width and the shape rule could not fire again) or a row with a NUL (written as NUL_MARK). Its
 *   source cells are compared, not its position: the meta columns may be deleted. Once a person
 *   changes any of its cells the row goes through the mapping like any other.
 * - A row whose key cell Excel changed on the way (00123 saved as 123, a 19-digit code as
 *   4.711E+18 or cut to 15 digits): matched to its row as written by forklift_source and
 *   forklift_position, rule `rekeyed`, naming the value as written. Loaded, it would be a new item
 *   under a key the source never had.
 */

/** The rule of a row whose key Excel changed; `runs diff` counts these apart. */
export const REKEYED_RULE = 'rekeyed';

/** The entity's key fields that take one source column as they are (`from: COLUMN`), with that column. */
export function keySources(m: LoadedMapping | undefined, e: Entity | undefined): { field: string; column: string }[] | undefined {
  if (!m || !e || !e.primaryKey.length) return undefined;
  const out: { field: string; column: string }[] = [];
  for (const k of e.primaryKey) {
    const from = (m.spec.fields[k] as { from?: string | string[] } | undefined)?.from;
    if (from === undefined) return undefined;
    for (const column of Array.isArray(from) ? from : [from]) out.push({ field: k, column });
  }
  return out;
}

interface RejectsRow {
  line: number;
  /** The source columns' cells, '' for an absent one. */
  cells: string[];
  /** forklift_source and forklift_position, when the file still has them. */
  where: string | undefined;
  problem: RowProblem;
}

/** Reads a record of a rejects file with `header` (its meta columns not left out) as a RejectsRow. */
function rowReader(header: readonly string[], width: number): (rec: SourceRecord) => RejectsRow {
  const meta = REJECT_META as readonly string[];
  const [src, pos, field, rule, reason] = REJECT_META.map((n) => header.indexOf(n)) as [number, number, number, number, number];
  const sourceAt = header.flatMap((h, i) => (meta.includes(h) ? [] : [i])).slice(0, width);
  return (rec) => {
    const cell = (i: number): string => (i >= 0 ? (rec.cells[i] ?? '') : '');
    return {
      line: rec.line,
      cells: sourceAt.map(cell),
      where: src >= 0 && pos >= 0 ? `${cell(src)}\u0000${cell(pos)}` : undefined,
      problem: { field: cell(field), rule: cell(rule), reason: cell(reason) },
    };
  };
}

async function readRows(spec: SourceSpec, width: number): Promise<RejectsRow[]> {
  const s = await openSource({ ...spec, ignore_columns: [] });
  try {
    const read = rowReader(s.header, width);
    const rows: RejectsRow[] = [];
    for await (const batch of s.batches()) for (const rec of batch) rows.push(read(rec));
    return rows;
  } finally {
    await s.close();
  }
}

/**
 * How Excel changed a number-like key cell, or undefined when `now` is not such a change of
 * `written`. Only changes Excel makes on its own: a person's correction (B2 to C2) is theirs.
 */
function excelChange(written: string, now: string): string | undefined {
  const w = written.trim();
  const n = now.trim();
  if (w === n || !/^\d+$/.test(w)) return undefined;
  if (/^0+\d/.test(w) && n === w.replace(/^0+(?=\d)/, '')) return 'its leading zeros dropped';
  if (scientificOf(w, n)) return 'in scientific notation';
  if (w.length > 15 && n.length === w.length && /^\d+$/.test(n) && n.slice(0, 15) === w.slice(0, 15) && /^0+$/.test(n.slice(15))) return 'cut to 15 significant digits';
  return undefined;
}

/**
 * Whether `now` is `written` (digits) in the scientific notation Excel shows a long number in:
 * `4.711E+18`, with a decimal comma where the locale has one (German Excel saves `4,711E+18`),
 * the mantissa rounded to as many digits as the column was wide (`5E+18`).
 */
function scientificOf(written: string, now: string): boolean {
  const m = /^(\d)(?:[.,](\d+))?E\+?(\d+)$/i.exec(now);
  if (!m) return false;
  const mantissa = `${m[1]}${m[2] ?? ''}`;
  const digits = written.replace(/^0+(?=\d)/, '');
  if (digits.length < mantissa.length) return false;
  // The written number rounded to the mantissa's digits: the mantissa, at the exponent.
  let kept = digits.slice(0, mantissa.length);
  let exponent = digits.length - 1;
  if ((digits[mantissa.length] ?? '0') >= '5') kept = String(BigInt(kept) + 1n);
  if (kept.length > mantissa.length) {
    kept = kept.slice(0, mantissa.length);
    exponent += 1;
  }
  return kept === mantissa && exponent === Number(m[3]);
}

/**
 * The source of a mapping, as the load reads it: a fixed rejects file (`reject_again` in its spec)
 * with each record to reject again as it is marked (`again`) as it streams, so the file is read
 * once for the check and the load. The run's copy as written is read first.
 */
export async function openForLoad(spec: SourceSpec, opts?: OpenOptions): Promise<OpenedSource> {
  const check = spec.reject_again;
  const again = check === undefined ? undefined : await againOf(check);
  if (check === undefined || again === undefined) return openSource(spec, opts);
  const full = await openSource({ ...spec, ignore_columns: [] }, opts);
  const read = rowReader(full.header, check.width);
  const marked = mapSourceRecords(full, full.header, (rec) => {
    const problem = again(read(rec));
    return problem === undefined ? rec : { ...rec, again: problem };
  });
  return spec.ignore_columns?.length ? withoutColumns(marked, spec.ignore_columns) : marked;
}

/**
 * What a row of the fixed rejects file is rejected again with, if anything; undefined when the
 * run kept no copy as written (a run from before it was kept): then no row is.
 */
async function againOf(opts: RejectAgainSpec): Promise<((row: RejectsRow) => RowProblem | undefined) | undefined> {
  if (!existsSync(opts.asWritten)) return undefined;
  const written = await readRows({ format: 'csv', path: opts.asWritten, encoding: 'auto', delimiter: 'auto', header_row: 1 }, opts.width);
  const frozen = new Map<string, RowProblem>();
  const byPlace = new Map<string, RejectsRow>();
  for (const w of written) {
    if (w.problem.rule === 'shape' || w.cells.some((c) => c.includes(NUL_MARK))) frozen.set(JSON.stringify(w.cells), w.problem);
    if (w.where !== undefined) byPlace.set(w.where, w);
  }
  const keyAt = (opts.keys ?? []).map((k) => ({ ...k, at: opts.sourceColumns.indexOf(k.column) })).filter((k) => k.at >= 0);
  return (row) => {
    const same = frozen.size === 0 ? undefined : frozen.get(JSON.stringify(row.cells));
    if (same) return same;
    const w = row.where === undefined ? undefined : byPlace.get(row.where);
    if (!w) return undefined;
    for (const k of keyAt) {
      const how = excelChange(w.cells[k.at] ?? '', row.cells[k.at] ?? '');
      if (how === undefined) continue;
      return {
        field: k.field,
        rule: REKEYED_RULE,
        reason: `${k.column} '${row.cells[k.at]}' was '${w.cells[k.at]}' when run ${opts.runId} wrote this row: Excel saved it ${how}, and loaded it would be another key. Put '${w.cells[k.at]}' back (format the column as Text in Excel first, or edit the file in a text editor)`,
      };
    }
    return undefined;
  };
}
