/**
 * How a legacy file is laid out: format, encoding, delimiter, sheet, and where the header row is
 * (title and export lines above it are common). Reads with the real source readers, so what is
 * detected here is what a run will read.
 */
import path from 'node:path';
import { ConfigError, SourceError } from '../core/errors.js';
import { ARGUMENT_NAMING, checkFile, labelOf, readHead, type SourceNaming } from '../sources/common.js';
import { openSource, type Cell, type SourceSpec } from '../sources/index.js';
import { encodingBeyondHead, isUtf8Name } from '../sources/encoding.js';

export type FileFormat = 'csv' | 'xlsx' | 'jsonl';

export interface SourceLayout {
  format: FileFormat;
  /** Absolute path. */
  path: string;
  encoding?: string;
  /** The encoding was named (`--encoding`), not detected. */
  encodingGiven?: boolean;
  delimiter?: string;
  sheet?: string;
  /** 1-based line (CSV) or sheet row (Excel) of the header. */
  headerRow: number;
  /** The text of the rows above the header (titles, export dates), shortened. */
  preamble: string[];
  header: string[];
  /** The first rows after the header, at most `sampleRows`. */
  rows: Cell[][];
  /** The line or row number of each sample row. */
  lines: number[];
}

/** How many records the header search looks at. */
const HEAD_RECORDS = 30;
export const DEFAULT_SAMPLE_ROWS = 1000;

export function formatOfFile(file: string): FileFormat | undefined {
  const ext = path.extname(file).toLowerCase();
  if (['.csv', '.txt', '.tsv', '.tab', '.psv', '.ssv', '.dat'].includes(ext)) return 'csv';
  if (ext === '.xlsx' || ext === '.xlsm') return 'xlsx';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  return undefined;
}

const SAVE_AS = 'open it in Excel or LibreOffice Calc and save it as .xlsx (or each sheet as CSV)';
const EXPORT_AS = 'export its tables as CSV';
const UNREAD: Record<string, UnreadFormat> = {
  '.xls': { what: 'an Excel 97-2003 workbook (.xls)', todo: SAVE_AS },
  '.xlsb': { what: 'an Excel binary workbook (.xlsb)', todo: SAVE_AS },
  '.ods': { what: 'an OpenDocument spreadsheet (.ods)', todo: SAVE_AS },
  '.dbf': { what: 'a dBASE table (.dbf)', todo: EXPORT_AS },
  '.mdb': { what: 'a Microsoft Access database', todo: EXPORT_AS },
  '.accdb': { what: 'a Microsoft Access database', todo: EXPORT_AS },
};

/** A format of files that hold tables, which forklift does not read: what it is, and what to do. */
export interface UnreadFormat {
  what: string;
  todo: string;
}

/**
 * Why a file that holds tables is not one forklift reads, and what to do; undefined for a
 * readable format and for files that may well be no data export (JSON, XML, a README). init names
 * such files rather than pass over them: an old .xls of the bill of materials left out without a
 * word is a BOM missing from the migration.
 */
export function unreadFormatOf(file: string): UnreadFormat | undefined {
  return UNREAD[path.extname(file).toLowerCase()];
}

/** An UnreadFormat as one sentence. */
export const unreadReason = (u: UnreadFormat): string => `${u.what}, which forklift does not read: ${u.todo}`;

const blank = (c: Cell): boolean => c === null || c.trim() === '';
const numericOrDate = (c: string): boolean => /^[+-]?[\d.,:/ -]+$/.test(c.trim());

/**
 * The header among the first records: the first row that is about as wide as the data under it
 * and holds names rather than numbers. Title rows above it are one or two cells wide.
 */
export function findHeader(records: readonly { line: number; cells: readonly Cell[] }[]): number {
  const widths = records.map((r) => r.cells.filter((c) => !blank(c)).length);
  const freq = new Map<number, number>();
  for (const w of widths) if (w >= 2) freq.set(w, (freq.get(w) ?? 0) + 1);
  let mode = 0;
  let modeFreq = 0;
  for (const [w, f] of freq) if (f > modeFreq || (f === modeFreq && w > mode)) [mode, modeFreq] = [w, f];
  if (mode === 0) return 0;
  let firstWide = true;
  for (let i = 0; i < records.length; i++) {
    const cells = (records[i] as { cells: readonly Cell[] }).cells.filter((c): c is string => !blank(c));
    if (cells.length < Math.max(2, Math.ceil(mode * 0.6))) continue;
    const names = cells.filter((c) => !numericOrDate(c) && !NULL_WORDS.test(c.trim())).length;
    if (names / cells.length >= 0.5) return i;
    // Column names that are years or months ("Musei,2011,2010"): the first wide row, with a name
    // and no name twice, is the header; taking a data row below for it lost the rows between.
    if (firstWide && names > 0 && new Set(cells.map((c) => c.trim())).size === cells.length) return i;
    firstWide = false;
  }
  return 0;
}

/** Words that stand for a missing value, not for a column's name. */
const NULL_WORDS = /^(null|nil|none|n\/a|na|nan|-)$/i;

/**
 * Reads the layout and a sample of rows of a legacy file. The file was named on the command line
 * or found by init, not in a mapping, so the hints name the path given and `--sheet` unless
 * `naming` says otherwise.
 */
export async function detectLayout(file: string, opts: { sheet?: string; sampleRows?: number; encoding?: string; naming?: SourceNaming } = {}): Promise<SourceLayout> {
  const abs = path.resolve(file);
  const naming = opts.naming ?? ARGUMENT_NAMING;
  const unread = unreadFormatOf(abs);
  if (unread !== undefined) throw new ConfigError(`${path.basename(abs)} is ${unread.what}, which forklift does not read`, { code: 'usage', hint: `${unread.todo[0]!.toUpperCase()}${unread.todo.slice(1)}, then name that file.` });
  // Before the format is sniffed from its first bytes: a missing file is said as such, whatever its extension.
  await checkFile(abs, labelOf(abs), naming);
  const format = formatOfFile(abs) ?? (await sniffFormat(abs));
  if (format === 'xlsx' && opts.encoding !== undefined) {
    throw new ConfigError(`--encoding ${opts.encoding}: ${path.basename(abs)} is an Excel workbook, whose text carries its own encoding`, {
      code: 'usage',
      hint: 'Leave out --encoding for an Excel file; it names the encoding of a CSV or JSON Lines file.',
    });
  }
  const base: SourceSpec = {
    format,
    path: abs,
    ...(opts.sheet === undefined ? {} : { sheet: opts.sheet }),
    ...(opts.encoding === undefined ? {} : { encoding: opts.encoding }),
  };

  // First pass: everything from line 1, to find the header.
  const head = await openSource({ ...base, header_row: 1 }, { batchSize: HEAD_RECORDS, naming });
  const records: { line: number; cells: Cell[] }[] = [{ line: 0, cells: head.header }];
  let firstLine = 1;
  try {
    for await (const batch of head.batches()) {
      records.push(...batch);
      if (records.length >= HEAD_RECORDS) break;
    }
  } finally {
    await head.close();
  }
  // The header record's own line: where the source knows it (a quoted header cell may span lines), else the line before the first record, or 1.
  firstLine = head.headerLine ?? (records.length > 1 ? Math.max(1, (records[1] as { line: number }).line - 1) : 1);
  (records[0] as { line: number }).line = firstLine;
  const h = format === 'jsonl' ? 0 : findHeader(records);
  const headerRow = (records[h] as { line: number }).line;
  const preamble = records
    .slice(0, h)
    .map((r) => r.cells.filter((c): c is string => !blank(c)).join(' ').trim())
    .filter((t) => t !== '')
    .map((t) => (t.length > 80 ? `${t.slice(0, 77)}...` : t));

  // Second pass: from the header on, with the encoding found; the delimiter sniffed from the table itself.
  // The sample rows may all lie before the file's first byte beyond ASCII.
  const late = opts.encoding === undefined && head.detected.encoding !== undefined && isUtf8Name(head.detected.encoding) ? await encodingBeyondHead(abs) : undefined;
  const encoding = late ?? head.detected.encoding;
  const spec: SourceSpec = { ...base, header_row: headerRow, ...(encoding === undefined ? {} : { encoding }) };
  if (head.detected.sheet !== undefined) spec.sheet = head.detected.sheet;
  const src = await openSource(spec, { batchSize: 500, naming });
  const rows: Cell[][] = [];
  const lines: number[] = [];
  const want = opts.sampleRows ?? DEFAULT_SAMPLE_ROWS;
  try {
    outer: for await (const batch of src.batches()) {
      for (const r of batch) {
        rows.push(r.cells);
        lines.push(r.line);
        if (rows.length >= want) break outer;
      }
    }
  } finally {
    await src.close();
  }
  if (format === 'csv') refuseSpaceSeparated(path.basename(abs), src.header, rows);
  return {
    format,
    path: abs,
    ...(src.detected.encoding === undefined ? {} : { encoding: src.detected.encoding }),
    ...(opts.encoding === undefined ? {} : { encodingGiven: true }),
    ...(src.detected.delimiter === undefined ? {} : { delimiter: src.detected.delimiter }),
    ...(src.detected.sheet === undefined ? {} : { sheet: src.detected.sheet }),
    headerRow,
    preamble,
    header: src.header,
    rows,
    lines,
  };
}

async function sniffFormat(file: string): Promise<FileFormat> {
  let head: Buffer;
  try {
    head = await readHead(file, 64 * 1024);
  } catch (e) {
    throw new SourceError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, {
      code: 'source.missing',
      location: { file },
      hint: 'Check the path of the legacy file.',
      cause: e,
    });
  }
  if (head[0] === 0x50 && head[1] === 0x4b) return 'xlsx';
  // A JSON document (an ERP's export as one array of objects) read as CSV was one column named `[`.
  const text = head.toString('utf8').replace(/^\uFEFF/, '').trimStart();
  if (text.startsWith('[') || text.startsWith('{')) {
    const firstLine = text.split(/\r?\n/, 1)[0]!;
    if (text.startsWith('{') && isJsonObject(firstLine)) return 'jsonl';
    const name = path.basename(file);
    throw new ConfigError(`${name} is a JSON document${text.startsWith('[') ? ' (an array)' : ''}, which forklift does not read: it reads JSON Lines, one object per line`, {
      code: 'usage',
      hint: `Convert it first, e.g. jq -c '${text.startsWith('[') ? '.[]' : '.'}' ${name} > ${name.replace(/\.[^.]*$/, '')}.jsonl, then name that file.`,
    });
  }
  return 'csv';
}

function isJsonObject(line: string): boolean {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v);
  } catch {
    return false;
  }
}

/**
 * A text file in which none of `,` `;` tab `|` separates columns but runs of spaces do (a
 * fixed-width or space-separated export, NASA's C-MAPSS logs): read as CSV it is one column, and
 * the mapping written from it would map nothing. Said as such instead.
 */
function refuseSpaceSeparated(name: string, header: readonly Cell[], rows: readonly Cell[][]): void {
  if (header.length !== 1 || rows.some((r) => r.length !== 1)) return;
  const widths = [header, ...rows].map((r) => (typeof r[0] === 'string' ? r[0].trim().split(/\s+/).length : 0));
  const first = widths[0]!;
  if (first < 2 || widths.filter((w) => w === first).length < widths.length * 0.9) return;
  throw new ConfigError(`${name} has no delimiter forklift reads (, ; tab |): its ${first} columns are separated by spaces`, {
    code: 'usage',
    hint: `Convert it to CSV first, e.g. sed -E 's/^ +//; s/ +$//; s/ +/,/g' ${name} > ${name.replace(/\.[^.]*$/, '')}.csv, then name that file.`,
  });
}
