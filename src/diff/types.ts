import type { StoreKind } from '../stores/url.js';

/**
 * A diff is data (STYLE 11): the comparison produces these records, and separate renderers
 * (render/text.ts, json.ts, csv.ts, html.ts) turn the same data into each format. Values are shown
 * in their canonical text (the bundle's CSV text: decimals at their column's scale, booleans
 * true/false, dates `YYYY-MM-DD`, instants `YYYY-MM-DDTHH:mm:ss.SSSZ`), null where the value is
 * missing, so nothing is lost to a float or a locale.
 */

/** A value in canonical text; null is a missing value (SQL NULL), distinct from ''. */
export type Cell = string | null;

/** What a side of the diff is, as shown to an auditor. */
export type SideDescription =
  | {
      kind: 'bundle';
      /** The folder or .zip as given (relative to the working folder). */
      location: string;
      zipped: boolean;
      /** bag-info.txt's Payload-Oxum (bytes.files of the payload), null where absent. */
      payload_oxum: string | null;
      /** SHA-256 of manifest-sha256.txt: one value that pins every payload file's checksum. */
      manifest_sha256: string | null;
      /** The bag-info.txt fields forklift writes (source, export time, tool version, profile, ...). */
      bag_info: Record<string, string>;
    }
  | {
      kind: 'store';
      store: StoreKind;
      /** The URL without its password. */
      url: string;
    };

/** One difference in the shape of the two snapshots. "added" is on the right only, "removed" on the left only. */
export type SchemaChange =
  | { kind: 'table-added'; table: string }
  | { kind: 'table-removed'; table: string }
  | { kind: 'column-added'; table: string; column: string; type: string }
  | { kind: 'column-removed'; table: string; column: string; type: string }
  | { kind: 'type-changed'; table: string; column: string; left: string; right: string }
  | { kind: 'key-changed'; table: string; left: string[]; right: string[] };

/** How a table's rows were matched: by whose key, and how each side came to be in key order. */
export type KeySource = 'primary key' | 'left primary key' | 'right primary key' | '--key' | 'all columns';

/**
 * `streamed`: the side arrived in canonical key order and was merged as it was read; `sorted`: it
 * did not (or could not, its order being another key's), so it was sorted on disk first.
 */
export type SideOrder = 'streamed' | 'sorted';

export interface TableDiff {
  table: string;
  /** compared: on both sides; added: on the right only; removed: on the left only. */
  status: 'compared' | 'added' | 'removed';
  /** The columns rows are matched by (empty for a table on one side only). */
  key: string[];
  key_source: KeySource | null;
  /** The columns whose values were compared (key columns included), in the left side's order. */
  columns: string[];
  /** Columns left out by --ignore-columns. */
  ignored: string[];
  left_rows: number | null;
  right_rows: number | null;
  /** Rows on the right only. */
  added: number;
  /** Rows on the left only. */
  removed: number;
  /** Rows on both sides with at least one cell that differs. */
  changed: number;
  unchanged: number;
  changed_cells: number;
  order: { left: SideOrder | null; right: SideOrder | null };
}

export interface DiffTotals {
  tables: number;
  tables_with_differences: number;
  schema_changes: number;
  added: number;
  removed: number;
  changed: number;
  unchanged: number;
  changed_cells: number;
}

/** The whole comparison but the per-row records (those stream: see DiffRecord). */
export interface DiffResult {
  format: 'forklift-diff';
  version: 1;
  identical: boolean;
  left: SideDescription;
  right: SideDescription;
  schema: SchemaChange[];
  tables: TableDiff[];
  totals: DiffTotals;
  /** Whether the per-row records were collected (--details). */
  details: boolean;
  tool_version: string;
  started: string;
  duration_ms: number;
}

/**
 * One row-level difference. `key` holds the key columns' values (TableDiff.key order); `values`
 * the row's other compared columns (TableDiff.columns without the key, in that order); a changed
 * row gives one record per changed cell.
 */
export type DiffRecord =
  | { kind: 'added'; table: string; key: Cell[]; values: Cell[] }
  | { kind: 'removed'; table: string; key: Cell[]; values: Cell[] }
  | { kind: 'changed'; table: string; key: Cell[]; column: string; left: Cell; right: Cell };

export type DiffFormat = 'text' | 'json' | 'csv' | 'html';
export const DIFF_FORMATS: readonly DiffFormat[] = ['text', 'json', 'csv', 'html'];
