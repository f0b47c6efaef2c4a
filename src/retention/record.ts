import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { operator } from '../core/operator.js';
import { toolVersion } from '../core/version.js';

/**
 * deletion-record.json, a tag file of the purge's archive (listed in tagmanifest-sha256.txt): what
 * was deleted and why, written before the delete. With the ledger entry that names the archive's
 * manifest hash it is the proof a factory keeps: rule and cut-off per table, rows per table, who
 * and when. A rerun of the same purge recognises its own archive by it.
 */

export const DELETION_RECORD = 'deletion-record.json';

export interface DeletionRecordTable {
  name: string;
  rule: string;
  cutoff: string | null;
  rows: number;
  kept_referenced: number;
  kept_unevaluable: number;
  kept_because: string[];
}

export interface DeletionRecord {
  format: 'forklift-deletion-record';
  version: 1;
  mode: 'retention' | 'all';
  store: string;
  as_of: string;
  tables: DeletionRecordTable[];
  rows_total: number;
  /** Rows of this archive may reference rows that stay in the store. */
  references: string;
  operator: string;
  host: string;
  tool_version: string;
  created: string;
}

export function deletionRecord(r: { mode: DeletionRecord['mode']; store: string; as_of: string; tables: readonly DeletionRecordTable[] }): DeletionRecord {
  return {
    format: 'forklift-deletion-record',
    version: 1,
    mode: r.mode,
    store: r.store,
    as_of: r.as_of,
    tables: r.tables.map((t) => ({ name: t.name, rule: t.rule, cutoff: t.cutoff, rows: t.rows, kept_referenced: t.kept_referenced, kept_unevaluable: t.kept_unevaluable, kept_because: t.kept_because })),
    rows_total: r.tables.reduce((s, t) => s + t.rows, 0),
    references:
      r.mode === 'all'
        ? 'complete: every table of the store, foreign keys included'
        : 'the rows deleted, no more: they may reference rows that stay in the store, so the Data Package names no foreign keys',
    operator: operator(),
    host: hostname(),
    tool_version: toolVersion(),
    created: new Date().toISOString(),
  };
}

/** The record of an archive folder, or undefined where it has none (or not one of ours). */
export function readDeletionRecord(dir: string): DeletionRecord | undefined {
  const file = path.join(dir, DELETION_RECORD);
  if (!existsSync(file)) return undefined;
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as DeletionRecord;
    return r.format === 'forklift-deletion-record' && Array.isArray(r.tables) ? r : undefined;
  } catch {
    return undefined;
  }
}

/** What differs between the purge an archive records and the purge asked for now (mode, store, rules, cut-offs), or null. */
export function sameSelection(archived: DeletionRecord, now: DeletionRecord): string | null {
  if (archived.mode !== now.mode) return `it empties ${archived.mode === 'all' ? 'every table' : 'by retention rules'}`;
  if (archived.store !== now.store) return `it is of ${archived.store}`;
  const rules = (r: DeletionRecord): string => r.tables.map((t) => `${t.name}: ${t.rule}`).sort().join('; ');
  if (rules(archived) !== rules(now)) return `its rules were ${rules(archived)}`;
  return null;
}
