import type { ExcelDateSystem } from '../util/excel-dates.js';
import type { AheadCheck } from './encoding.js';

/**
 * What every source adapter yields. Cells are kept as the text the source held (or, for Excel,
 * the canonical text of a typed cell), so rejects can give a person the row as it was and the
 * mapping layer does all type parsing in one place.
 */

/** A cell: the text as read, or null for a cell that is absent (short row, empty Excel cell). */
export type Cell = string | null;

export interface SourceRecord {
  /** 1-based physical line of the record's start (CSV, JSONL) or the sheet row number (Excel). */
  line: number;
  cells: Cell[];
  /** Cells that hold something the source cannot give as a value (absent when there are none). */
  faults?: CellFault[];
  /** A row of a rejects file being reloaded that is rejected again as it is (reload-check.ts): the mapping does not see it. */
  again?: { field: string; rule: string; reason: string };
}

/**
 * A cell whose value the source could not read, such as an Excel formula saved without its result:
 * the cell is null in `cells`, and a row whose mapping uses it is rejected with `rule` and
 * `column <name> (<ref>) <reason>`, never loaded as a missing value.
 */
export interface CellFault {
  /** 0-based index of the cell in `cells`. */
  index: number;
  /** Where the source has it, for the reason: an Excel cell reference such as `D2`. */
  ref: string;
  /** The reject rule. */
  rule: string;
  /** What is wrong and what to do, after the column: `is a formula with no saved result: …`. */
  reason: string;
}

/**
 * How a workbook counts days: serial 1 is 1900-01-01 (Excel's default) or serial 0 is 1904-01-01
 * (`date1904`, old Mac workbooks). Serial numbers mapped with `date: excel` are read in it.
 */
export type { ExcelDateSystem };

export interface SourceSpec {
  format: 'csv' | 'xlsx' | 'jsonl' | 'sql';
  /** Absolute path of the file (already resolved against the mapping file's folder). */
  path?: string;
  encoding?: string; // 'auto' | any iconv-lite encoding name
  /** A single-byte `encoding` holds for a file that is valid UTF-8 too (csv, jsonl). */
  allow_valid_utf8?: boolean;
  delimiter?: string; // 'auto' | ',' | ';' | '\t' | '|'
  header_row?: number; // 1-based; rows above it are skipped
  sheet?: string; // xlsx
  url?: string; // sql (issue 3)
  query?: string; // sql (issue 3)
  /** Columns read but not handed on: the meta columns (file, line, field, rule, reason) of a rejects file being reloaded. */
  ignore_columns?: readonly string[];
  /** The date system of the workbook a CSV was written from (a rejects file being reloaded): its `date: excel` serials count in it. */
  excel_date_system?: ExcelDateSystem;
  /**
   * A rejects file being reloaded: its records to reject again as they are are found as they
   * stream (reload-check.ts), against the run's copy as written; plain data, so an extraction
   * thread gets it too.
   */
  reject_again?: RejectAgainSpec;
}

/** What finds the rows of a fixed rejects file to reject again as they are (reload-check.ts). */
export interface RejectAgainSpec {
  /** The run's copy of the rejects file as written (rejects-as-written/). */
  asWritten: string;
  /** How many source columns the file has before its meta columns. */
  width: number;
  /** The entity's key fields that take one source column as they are, with that column. */
  keys: { field: string; column: string }[] | undefined;
  sourceColumns: readonly string[];
  runId: string;
}

export interface SourceInfo {
  /** Column names from the header row, in order (for JSONL: keys in order of first appearance in the sample). */
  header: string[];
  /** What was detected, for reports and `mapping init`. */
  detected: { encoding?: string; delimiter?: string; sheet?: string };
  /** Human name for messages: the file path relative to the cwd, or the sheet, e.g. `balances.xlsx[Stock]`. */
  label: string;
  /** "line" for text files, "row" for sheet rows: how reject files name a record's position. */
  positionKind: 'line' | 'row';
  /** An Excel workbook's date system; absent for other sources (serial numbers there count from 1900). */
  excelDateSystem?: ExcelDateSystem;
  /**
   * CSV: the line the header record starts on (blank lines above it are passed over). A quoted
   * header cell may hold line breaks, so the line before the first record need not be it.
   */
  headerLine?: number | undefined;
}

export interface OpenedSource extends SourceInfo {
  /**
   * The records after the header, in batches of at most `batchSize` (default 1000), streamed:
   * memory must not grow with the file. Empty lines are skipped and counted in `skippedBlank`.
   * Errors are SourceError with the file and line.
   */
  batches(signal?: AbortSignal): AsyncIterable<SourceRecord[]>;
  /** After batches() finished: how many blank lines/rows were skipped (not data, reported). */
  readonly skippedBlank: number;
  /** SHA-256 (hex) of the file's bytes, computed while streaming; available after batches() finished. */
  readonly sha256: string | undefined;
  /**
   * Text files (CSV, JSON Lines), called between two batches instead of reading on: reads the
   * rest of the file without parsing it, up to `maxBytes` from its start, so the encoding is
   * checked as a whole read checks it (a refusal throws the same SourceError). The batches end there.
   */
  checkAhead?(maxBytes: number): Promise<AheadCheck>;
  close(): Promise<void>;
}
