/**
 * Excel (.xlsx) reader. The workbook's parts are read from the zip by random access (./zip.ts, on
 * yauzl) and parsed with saxes, a streaming XML parser (the one exceljs is built on); the chosen
 * sheet's XML is streamed one chunk at a time into rows, so only the shared strings are held in memory.
 *
 * Why not exceljs's streaming WorkbookReader: on Node 18+ it loses zip entries at random
 * (exceljs#1558, #3064: styles.xml went missing in 5 of 6 reads of calamine's 1904.xlsx, turning
 * dates into numbers), it decodes each XML chunk on its own (a UTF-8 character split between two
 * chunks becomes two U+FFFD), drops a formula's cached boolean/error type, reads `date1904="true"`
 * as false and keeps only the phonetic reading of Japanese strings. Each of these silently changes
 * data, which a migration must never do.
 */
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { Decimal } from 'decimal.js';
import { SaxesParser } from 'saxes';
import { BugError, SourceError } from '../core/errors.js';
import {
  QueuedSource,
  batchSizeOf,
  checkFile,
  headerRowOf,
  isBlankRecord,
  labelOf,
  readHead,
  requirePath,
  sha256OfFile,
  checkUnchanged,
  fileStamp,
  type FileStamp,
  namingOf,
  type OpenOptions,
  type SourceNaming,
} from './common.js';
import type { Cell, CellFault, ExcelDateSystem, OpenedSource, SourceRecord, SourceSpec } from './types.js';
import { ZipFile, ZipFormatError } from './zip.js';
import { excelColumnLetters } from '../util/excel-columns.js';
import { LOTUS_LEAP_DAY, excelSerialToMillis, inExcelDateRange, isLotusLeapDay } from '../util/excel-dates.js';

// ---------------------------------------------------------------------------------------------
// Cell text

/**
 * A cell number as the exact decimal of its shortest representation (SPEC section 4), never in
 * exponent notation (1e-7 -> 0.0000001), except for binary floating-point noise, which is read at
 * 15 significant digits as Excel shows it.
 *
 * Noise is what arithmetic leaves in the last digits of a fraction that needs 16 or 17 digits: a
 * run of four or more 0s or 9s, then at most two digits (0.30000000000000004 is 0.3,
 * 274.65999999999997 is 274.66, 68.66499999999999 is 68.665). A value that needs 16 or 17 digits
 * for another reason, written by pandas, openpyxl or exceljs (123456789012.3456,
 * 99999999999999.98), is kept as it is: rounding it to 15 digits changed it without a word. Excel
 * itself keeps 15 digits of what is typed, so its own files hold no such values.
 */
export function numberToText(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const shortest = plainDecimal(String(n));
  if (Number.isInteger(n) || significantDigits(shortest) <= 15) return shortest;
  const fraction = shortest.slice(shortest.indexOf('.') + 1);
  return /(0{4,}|9{4,})\d{0,2}$/.test(fraction) ? plainDecimal(String(Number(n.toPrecision(15)))) : shortest;
}

/** A number's text without an exponent; -0 is 0. */
function plainDecimal(s: string): string {
  if (s === '-0') return '0';
  return s.includes('e') ? new Decimal(s).toFixed() : s;
}

function significantDigits(plain: string): number {
  return plain.replace(/^-/, '').replace('.', '').replace(/^0+/, '').length;
}

export type DateKind = 'date' | 'time' | 'duration';

/**
 * Whether a number format shows a date, a time of day or an elapsed time ([h]:mm), ignoring
 * quoted text, escaped characters, colours and conditions. undefined for a plain number format.
 */
export function dateFormatKind(fmt: string | undefined): DateKind | undefined {
  if (fmt === undefined || fmt === '' || fmt === 'General' || fmt === '@') return undefined;
  const f = fmt
    .replace(/"[^"]*"/g, '')
    .replace(/\\./g, '')
    .replace(/[_*]./g, '');
  if (/\[(h+|m+|s+)\]/i.test(f)) return 'duration';
  const plain = f.replace(/\[[^\]]*\]/g, '');
  if (!/[dmyhs]/i.test(plain)) return undefined;
  if (!/[dy]/i.test(plain) && /[hs]/i.test(plain)) return 'time';
  return 'date';
}

export function isDateFormat(fmt: string | undefined): boolean {
  return dateFormatKind(fmt) !== undefined;
}

/** Excel's built-in number formats (ids below 164) that show dates and times. */
function builtinFormatKind(id: number): DateKind | undefined {
  if ((id >= 14 && id <= 17) || id === 22 || (id >= 27 && id <= 36) || (id >= 50 && id <= 58)) return 'date';
  if ((id >= 18 && id <= 21) || id === 45 || id === 47) return 'time';
  if (id === 46) return 'duration';
  return undefined;
}

const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;
const pad3 = (n: number): string => (n < 10 ? '00' : n < 100 ? '0' : '') + n;

function clock(msOfDay: number): string {
  const ms = msOfDay % 1000;
  const s = Math.floor(msOfDay / 1000);
  const t = `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)}`;
  return ms === 0 ? t : `${t}.${pad3(ms)}`;
}

/**
 * An Excel date serial as ISO text without a zone (Excel stores wall-clock time): `YYYY-MM-DD` at
 * midnight, else `YYYY-MM-DDTHH:mm:ss` (`.SSS` when the milliseconds are not 0). `kind` 'time'
 * gives `HH:mm:ss` for a serial below 1 (a time of day), 'duration' gives elapsed `H:mm:ss`.
 */
export function excelSerialToIso(serial: number, date1904: boolean, kind: DateKind = 'date'): string {
  if (!Number.isFinite(serial)) return numberToText(serial);
  if (kind === 'duration' || (kind === 'time' && serial >= 0 && serial < 1)) {
    const totalMs = Math.round(Math.abs(serial) * 86_400_000);
    const h = Math.floor(totalMs / 3_600_000);
    const rest = clock(totalMs % 3_600_000).slice(3); // mm:ss[.SSS]
    const text = kind === 'time' ? `${pad2(h)}:${rest}` : `${h}:${rest}`;
    return serial < 0 ? `-${text}` : text;
  }
  if (isLotusLeapDay(serial, date1904 ? 1904 : 1900)) {
    // The day Excel shows, which never was: counted as the day before, it became another date.
    const msOfDay = Math.min(Math.round((serial - 60) * 86_400_000), 86_399_999);
    return msOfDay === 0 ? '1900-02-29' : `1900-02-29T${clock(msOfDay)}`;
  }
  const ms = excelSerialToMillis(serial, date1904 ? 1904 : 1900);
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) return numberToText(serial);
  const y = d.getUTCFullYear();
  const year = y >= 0 && y <= 9999 ? String(y).padStart(4, '0') : String(y);
  const date = `${year}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
  const msOfDay = ((ms % 86_400_000) + 86_400_000) % 86_400_000;
  return msOfDay === 0 ? date : `${date}T${clock(msOfDay)}`;
}

/** OOXML escapes characters XML cannot hold as `_xHHHH_` (`_x000D_` is a CR; `_x005F_` a `_`). */
function unescapeOoxml(s: string): string {
  if (!s.includes('_x')) return s;
  return s.replace(/_x([0-9A-Fa-f]{4})_/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/**
 * Why a row that uses a formula cell saved without its result is rejected: openpyxl, exceljs and
 * Apache POI write formulas so, and only a spreadsheet program calculates them.
 */
export const UNCALCULATED_FORMULA: Pick<CellFault, 'rule' | 'reason'> = {
  rule: 'formula',
  reason: 'is a formula with no saved result: open the workbook in Excel (or LibreOffice) and save it, so its formulas are calculated',
};

/** Why a row that uses a date cell on Lotus's phantom 1900-02-29 is rejected: the cell holds no real date. */
export const LOTUS_LEAP_DAY_CELL: Pick<CellFault, 'rule' | 'reason'> = { rule: 'type', reason: LOTUS_LEAP_DAY };

/** Why a row that uses a date cell holding no date of Excel's range is rejected. */
function outOfRangeDateCell(serial: number): Pick<CellFault, 'rule' | 'reason'> {
  return { rule: 'type', reason: `is a date cell holding ${numberToText(serial)}, outside Excel’s dates (Excel shows ##### for it), so no date: correct the date in the workbook` };
}

/** Why a row that uses an error cell is rejected. */
export function errorCell(error: string): Pick<CellFault, 'rule' | 'reason'> {
  return { rule: 'formula', reason: `is the Excel error ${error}, a formula that failed: correct the formula or the cells it uses in the workbook, and save it` };
}

/** Column number (1-based) of a cell reference like `AB12`. */
function columnOf(ref: string): number {
  let n = 0;
  for (let i = 0; i < ref.length; i++) {
    const c = ref.charCodeAt(i);
    if (c >= 65 && c <= 90) n = n * 26 + (c - 64);
    else if (c >= 97 && c <= 122) n = n * 26 + (c - 96);
    else break;
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// XML

interface XmlHandler {
  /** Tag names arrive without namespace prefix (`x:row` -> `row`). */
  open(name: string, attrs: Record<string, string>): void;
  text(text: string): void;
  close(name: string): void;
}

const localName = (name: string): string => {
  const i = name.indexOf(':');
  return i === -1 ? name : name.slice(i + 1);
};

/** An XML parser feeding `h`; `failure()` returns the first well-formedness error. */
function xmlParser(h: XmlHandler): { write(chunk: string): void; end(): void } {
  // Without xmlns, tag and attribute names are plain strings (prefixes kept, cut by localName).
  const p = new SaxesParser<{ xmlns: false; position: false }>({ xmlns: false, position: false });
  let error: Error | undefined;
  p.on('error', (e) => {
    error ??= e;
  });
  p.on('opentag', (t) => h.open(localName(t.name), t.attributes));
  p.on('closetag', (t) => h.close(localName(t.name)));
  p.on('text', (t) => h.text(t));
  return {
    write(chunk: string): void {
      p.write(chunk);
      if (error !== undefined) throw error;
    },
    end(): void {
      p.close();
      if (error !== undefined) throw error;
    },
  };
}

/** Parse a whole (small) workbook part. */
async function parsePart(zip: ZipFile, name: string, h: XmlHandler): Promise<void> {
  const stream = await zip.stream(name);
  stream.setEncoding('utf8');
  const parser = xmlParser(h);
  for await (const chunk of stream as AsyncIterable<string>) parser.write(chunk);
  parser.end();
}

const handler = (partial: Partial<XmlHandler>): XmlHandler => ({
  open: partial.open ?? (() => undefined),
  text: partial.text ?? (() => undefined),
  close: partial.close ?? (() => undefined),
});

interface Relationship {
  id: string;
  type: string;
  target: string;
}

/** Relationships of `part` (from its `_rels/<name>.rels`), targets resolved to zip paths. */
async function relationships(zip: ZipFile, part: string): Promise<Relationship[]> {
  const dir = posix.dirname(part);
  const relsPath = posix.join(dir === '.' ? '' : dir, '_rels', `${posix.basename(part)}.rels`);
  if (!zip.has(relsPath)) return [];
  const rels: Relationship[] = [];
  await parsePart(
    zip,
    relsPath,
    handler({
      open(name, a) {
        if (name !== 'Relationship' || a.TargetMode === 'External') return;
        const target = a.Target ?? '';
        const resolved = target.startsWith('/') ? target.slice(1) : posix.normalize(posix.join(dir === '.' ? '' : dir, target));
        rels.push({ id: a.Id ?? '', type: a.Type ?? '', target: resolved });
      },
    }),
  );
  return rels;
}

interface SheetInfo {
  name: string;
  state: string;
  path: string | undefined;
}

interface WorkbookInfo {
  sheets: SheetInfo[];
  date1904: boolean;
  stylesPath: string | undefined;
  sharedStringsPath: string | undefined;
}

async function readWorkbook(zip: ZipFile): Promise<WorkbookInfo> {
  const root = await relationships(zip, '');
  const workbookPath = root.find((r) => r.type.endsWith('/officeDocument'))?.target ?? 'xl/workbook.xml';
  if (!zip.has(workbookPath)) throw new ZipFormatError(`the workbook part ${workbookPath} is missing`);
  const rels = await relationships(zip, workbookPath);
  const byId = new Map(rels.map((r) => [r.id, r]));
  const sheets: SheetInfo[] = [];
  let date1904 = false;
  await parsePart(
    zip,
    workbookPath,
    handler({
      open(name, a) {
        if (name === 'workbookPr') {
          const v = (a.date1904 ?? '').toLowerCase();
          date1904 = v === '1' || v === 'true';
        } else if (name === 'sheet') {
          const rid = Object.keys(a).find((k) => k === 'r:id' || k.endsWith(':id'));
          const rel = rid !== undefined ? byId.get(a[rid] ?? '') : undefined;
          const isWorksheet = rel !== undefined && rel.type.endsWith('/worksheet');
          sheets.push({ name: a.name ?? '', state: a.state ?? 'visible', path: isWorksheet ? rel.target : undefined });
        }
      },
    }),
  );
  return {
    sheets,
    date1904,
    stylesPath: rels.find((r) => r.type.endsWith('/styles'))?.target,
    sharedStringsPath: rels.find((r) => r.type.endsWith('/sharedStrings'))?.target,
  };
}

/**
 * The sheets of a workbook a person sees that hold cells (not hidden, not chart sheets), in the
 * workbook's order: `init` reads each, so that a BOM on the second sheet is not left out unseen.
 */
export async function visibleWorksheets(file: string): Promise<string[]> {
  const zip = await ZipFile.open(file);
  try {
    const wb = await readWorkbook(zip);
    return wb.sheets.filter((s) => s.path !== undefined && zip.has(s.path) && s.state !== 'hidden' && s.state !== 'veryHidden').map((s) => s.name);
  } finally {
    zip.close();
  }
}

/** For each cell style (index into cellXfs): whether its number format shows a date or time. */
async function readStyleKinds(zip: ZipFile, path: string | undefined): Promise<(DateKind | undefined)[]> {
  if (path === undefined || !zip.has(path)) return [];
  const formats = new Map<number, string>();
  const xfFormats: number[] = [];
  let inCellXfs = false;
  await parsePart(
    zip,
    path,
    handler({
      open(name, a) {
        if (name === 'numFmt') formats.set(Number(a.numFmtId), a.formatCode ?? '');
        else if (name === 'cellXfs') inCellXfs = true;
        else if (name === 'xf' && inCellXfs) xfFormats.push(Number(a.numFmtId ?? 0));
      },
      close(name) {
        if (name === 'cellXfs') inCellXfs = false;
      },
    }),
  );
  return xfFormats.map((id) => {
    const code = formats.get(id);
    return code !== undefined ? dateFormatKind(code) : builtinFormatKind(id);
  });
}

/** The shared string table: rich text runs joined, phonetic guides (rPh) left out. */
async function readSharedStrings(zip: ZipFile, path: string | undefined): Promise<(string | null)[]> {
  if (path === undefined || !zip.has(path)) return [];
  const strings: (string | null)[] = [];
  let text = '';
  let inT = false;
  let phonetic = 0;
  await parsePart(
    zip,
    path,
    handler({
      open(name) {
        if (name === 'si') text = '';
        else if (name === 't' && phonetic === 0) inT = true;
        else if (name === 'rPh') phonetic++;
      },
      text(t) {
        if (inT) text += t;
      },
      close(name) {
        if (name === 't') inT = false;
        else if (name === 'rPh') phonetic--;
        else if (name === 'si') strings.push(text === '' ? null : unescapeOoxml(text));
      },
    }),
  );
  return strings;
}

// ---------------------------------------------------------------------------------------------

function xlsxError(label: string, e: unknown): Error {
  if (e instanceof SourceError || e instanceof BugError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new SourceError(`${label} cannot be read as an Excel workbook: ${msg}`, {
    code: 'source.xlsx',
    location: { file: label },
    hint: 'open it in Excel or LibreOffice and save it again as .xlsx (Excel Workbook)',
    cause: e,
  });
}

class XlsxSource extends QueuedSource {
  private zip: ZipFile | undefined;
  private sheetStream: Readable | undefined;
  private chunks: AsyncIterator<string> | undefined;
  private parser: { write(chunk: string): void; end(): void } | undefined;
  private hash: Promise<string> | undefined;
  private stamp: FileStamp | undefined;
  private readonly hashAbort = new AbortController();
  private sheetName = '';
  excelDateSystem: ExcelDateSystem = 1900;

  // workbook data
  private styleKinds: (DateKind | undefined)[] = [];
  private shared: (string | null)[] = [];

  // sheet parse state
  private width = -1;
  private lastRow = 0;
  private pendingBlank = 0;
  /** Rows whose only content is formulas without a saved result, waiting like blank rows (accept). */
  private pendingFormulaRows: SourceRecord[] = [];
  private rowNum = 0;
  private cells: Cell[] = [];
  private col = 0;
  private cType = 'n';
  private cStyle = 0;
  private cRef: string | undefined;
  private cFormula = false;
  /** What is wrong with the cell's value, found while reading it. */
  private cFault: Pick<CellFault, 'rule' | 'reason'> | undefined;
  private faults: CellFault[] = [];
  private vText: string | undefined;
  private inlineText: string | undefined;
  private capture: 'v' | 't' | undefined;
  private inIs = false;
  private phonetic = 0;
  private sheetDone = false;

  constructor(
    private readonly file: string,
    private readonly fileLabel: string,
    private readonly wanted: string | undefined,
    private readonly headerRow: number,
    batchSize: number,
    private readonly naming: SourceNaming,
  ) {
    super(fileLabel, 'row', batchSize);
  }

  private get where(): string {
    return `sheet "${this.sheetName}"`;
  }

  async start(): Promise<void> {
    this.stamp = await fileStamp(this.file);
    this.hash = sha256OfFile(this.file, this.hashAbort.signal, this.fileLabel);
    this.hash.catch(() => undefined); // awaited in finish(); must not crash when abandoned

    const zip = await ZipFile.open(this.file);
    this.zip = zip;
    const wb = await readWorkbook(zip);
    const sheet = this.chooseSheet(wb.sheets);
    this.sheetName = sheet.name;
    this.label = `${this.fileLabel}[${sheet.name}]`;
    this.detected = { sheet: sheet.name };
    this.excelDateSystem = wb.date1904 ? 1904 : 1900;
    this.styleKinds = await readStyleKinds(zip, wb.stylesPath);
    this.shared = await readSharedStrings(zip, wb.sharedStringsPath);
    if (sheet.path === undefined || !zip.has(sheet.path)) {
      throw new SourceError(`${this.where} of ${this.fileLabel} is not a worksheet with cells (a chart sheet?)`, {
        code: 'source.sheet',
        location: { file: this.fileLabel },
        hint: `set ${this.naming.sheet} to a sheet that holds the table; the workbook has ${quoteList(wb.sheets.map((s) => s.name))}`,
      });
    }
    const stream = await zip.stream(sheet.path);
    stream.setEncoding('utf8');
    this.sheetStream = stream;
    this.chunks = (stream as AsyncIterable<string>)[Symbol.asyncIterator]();
    this.parser = xmlParser({
      open: (name, attrs) => this.onOpen(name, attrs),
      text: (t) => this.onText(t),
      close: (name) => this.onClose(name),
    });

    let header: SourceRecord | undefined;
    for (;;) {
      const r = await this.nextRecord();
      if (r === undefined) break;
      if (r.line < this.headerRow || isBlankRecord(r.cells)) continue;
      header = r;
      break;
    }
    if (header === undefined) {
      const last = this.lastRow;
      if (last > 0 && last < this.headerRow) {
        throw new SourceError(`header_row is ${this.headerRow} but ${this.where} of ${this.fileLabel} ends at row ${last}`, {
          code: 'source.header-row',
          location: { file: this.fileLabel, where: this.where },
          hint: 'set header_row: to the row that holds the column names (1 = the first row)',
        });
      }
      throw new SourceError(
        `${this.where} of ${this.fileLabel} has no header row: it is empty${this.headerRow > 1 ? ` from row ${this.headerRow} on` : ''}`,
        {
          code: 'source.empty',
          location: { file: this.fileLabel, where: this.where },
          hint: `pick the sheet with the data (${this.naming.sheet}) and the row with the column names (header_row:)`,
        },
      );
    }
    this.header = header.cells.map((c) => (c ?? '').trim());
    this.width = this.header.length;
    this.lastRow = header.line;
    const rest = this.queue.slice(this.queueStart);
    this.queue = [];
    this.queueStart = 0;
    for (const r of rest) this.accept(r);
  }

  private chooseSheet(sheets: SheetInfo[]): SheetInfo {
    if (sheets.length === 0) {
      throw new SourceError(`${this.fileLabel} has no sheets`, {
        code: 'source.sheet',
        location: { file: this.fileLabel },
        hint: this.naming.empty,
      });
    }
    if (this.wanted === undefined) {
      // The first sheet a person sees: hidden sheets and chart sheets do not count.
      return (
        sheets.find((s) => s.path !== undefined && s.state !== 'hidden' && s.state !== 'veryHidden') ??
        sheets.find((s) => s.path !== undefined) ??
        (sheets[0] as SheetInfo)
      );
    }
    const found = sheets.find((s) => s.name === this.wanted);
    if (found !== undefined) return found;
    const names = sheets.map((s) => s.name);
    const wanted = this.wanted;
    const near = names.find((n) => n.trim().toLowerCase() === wanted.trim().toLowerCase());
    throw new SourceError(`${this.fileLabel} has no sheet named "${wanted}"; it has ${quoteList(names)}`, {
      code: 'source.sheet',
      location: { file: this.fileLabel },
      hint: near !== undefined ? `did you mean ${this.naming.sheet} "${near}"?` : `set ${this.naming.sheet} to one of ${quoteList(names)}`,
    });
  }

  /**
   * A row after the header: queued, or counted when blank. Blank rows (empty or absent) count only
   * when data follows them: rows that merely carry formatting below the table are not news.
   */
  private accept(r: SourceRecord): void {
    if (r.line > this.lastRow + 1) this.pendingBlank += r.line - this.lastRow - 1;
    this.lastRow = r.line;
    if (isBlankRecord(r.cells)) {
      // Formulas without saved results and nothing else: template rows below a table, left out
      // like blank rows; but where data follows they are rows of the table whose values were
      // never computed, and go on (the mapping rejects them by their faults), never counted blank.
      if (r.faults?.length) this.pendingFormulaRows.push(r);
      else this.pendingBlank++;
      return;
    }
    this.blank += this.pendingBlank;
    this.pendingBlank = 0;
    for (const f of this.pendingFormulaRows) this.enqueue(f);
    this.pendingFormulaRows = [];
    this.enqueue(r);
  }

  private enqueue(r: SourceRecord): void {
    for (let i = r.cells.length; i < this.width; i++) r.cells.push(null);
    this.queue.push(r);
  }

  protected async fill(signal?: AbortSignal): Promise<void> {
    const chunks = this.chunks;
    const parser = this.parser;
    if (chunks === undefined || parser === undefined) throw new BugError('xlsx source not started');
    signal?.throwIfAborted();
    try {
      const r = await chunks.next();
      if (r.done === true) {
        this.ended = true;
        parser.end();
        return;
      }
      parser.write(r.value);
      if (this.sheetDone) {
        // The rest of the sheet (merged cells, print setup) holds no rows.
        this.ended = true;
        this.sheetStream?.destroy();
      }
    } catch (e) {
      this.ended = true;
      throw xlsxError(this.label, e);
    }
  }

  /**
   * Whether the cell is a formula saved without its result: no `<v>`, or an empty one (openpyxl
   * writes `<v></v>`). A text formula (`t="str"`) with an empty `<v>` did calculate: to "".
   */
  private uncalculated(): boolean {
    if (!this.cFormula) return false;
    const v = this.vText;
    return v === undefined || (this.cType !== 'str' && v.trim() === '');
  }

  private cellValue(): Cell {
    const v = this.vText;
    switch (this.cType) {
      case 's': {
        if (v === undefined) return null;
        const i = Number(v);
        // A damaged workbook: read as empty, the cell's text would be lost without a word.
        if (!Number.isInteger(i) || i < 0 || i >= this.shared.length) {
          throw new SourceError(`cell ${this.cRef ?? `in column ${this.col} of row ${this.rowNum}`} of ${this.where} of ${this.fileLabel} refers to shared text ${v}, and the workbook holds ${this.shared.length} of them: the file is damaged`, {
            code: 'source.xlsx',
            location: { file: this.fileLabel, where: `${this.where}, row ${this.rowNum}` },
            hint: 'Open the workbook in Excel (or LibreOffice) and save it again, or export the sheet as CSV.',
          });
        }
        return this.shared[i] ?? null;
      }
      case 'inlineStr': {
        const s = this.inlineText ?? v;
        return s === undefined || s === '' ? null : unescapeOoxml(s);
      }
      case 'str':
        return v === undefined || v === '' ? null : unescapeOoxml(v);
      case 'b':
        if (v === undefined || v === '') return null;
        return v === '1' || v.toLowerCase() === 'true' ? 'true' : 'false';
      case 'e':
        return v === undefined || v === '' ? null : v;
      case 'd': {
        if (v === undefined || v === '') return null;
        const m = /^(\d{4}-\d{2}-\d{2})(?:T(\d{2}:\d{2}:\d{2}(?:\.\d+)?))?/.exec(v);
        if (m === null) return v;
        const time = m[2];
        return time === undefined || /^00:00:00(\.0*)?$/.test(time) ? (m[1] as string) : `${m[1] as string}T${time}`;
      }
      default: {
        if (v === undefined) return null;
        const t = v.trim();
        if (t === '') return null;
        const n = Number(t);
        if (Number.isNaN(n)) return v;
        const kind = this.styleKinds[this.cStyle];
        if (kind === undefined) return numberToText(n);
        if (kind !== 'duration' && isLotusLeapDay(n, this.excelDateSystem)) this.cFault = LOTUS_LEAP_DAY_CELL;
        // A date cell whose number is no date Excel shows (it shows #####): read as one, it became a date nobody wrote.
        else if (kind !== 'duration' && !(kind === 'time' && n >= 0 && n < 1) && !inExcelDateRange(n, this.excelDateSystem)) {
          this.cFault = outOfRangeDateCell(n);
          return numberToText(n);
        }
        return excelSerialToIso(n, this.excelDateSystem === 1904, kind);
      }
    }
  }

  // The sheet's XML events

  private onOpen(name: string, a: Record<string, string>): void {
    switch (name) {
      case 'row': {
        const r = a.r;
        this.rowNum = r !== undefined ? parseInt(r, 10) : this.rowNum + 1;
        this.cells = [];
        this.faults = [];
        this.col = 0;
        break;
      }
      case 'c': {
        const ref = a.r;
        this.cRef = ref;
        this.cFormula = false;
        this.cFault = undefined;
        this.col = ref !== undefined ? columnOf(ref) : this.col + 1;
        this.cType = a.t ?? 'n';
        const s = a.s;
        this.cStyle = s !== undefined ? parseInt(s, 10) : 0;
        this.vText = undefined;
        this.inlineText = undefined;
        break;
      }
      case 'v':
        this.capture = 'v';
        this.vText = '';
        break;
      case 'f':
        this.cFormula = true;
        break;
      case 'is':
        this.inIs = true;
        this.inlineText = '';
        break;
      case 'rPh':
        this.phonetic++;
        break;
      case 't':
        if (this.inIs && this.phonetic === 0) this.capture = 't';
        break;
      default:
        break;
    }
  }

  private onText(t: string): void {
    if (this.capture === 'v') this.vText += t;
    else if (this.capture === 't') this.inlineText += t;
  }

  private onClose(name: string): void {
    switch (name) {
      case 'v':
      case 't':
        this.capture = undefined;
        break;
      case 'rPh':
        this.phonetic--;
        break;
      case 'is':
        this.inIs = false;
        break;
      case 'c': {
        const value = this.cellValue();
        const col = this.col;
        const ref = (): string => this.cRef ?? `${excelColumnLetters(col)}${this.rowNum}`;
        if (value !== null && col > 0 && this.cType === 'e') {
          // An error cell (#N/A, #DIV/0!, #REF!) is no value of the column: loaded as text it
          // became a description '#N/A', or was rejected as "not a number" with no word of why.
          // Its text stays in the cells (a header may say #N/A; the row is not blank).
          this.faults.push({ index: col - 1, ref: ref(), ...errorCell(value) });
        }
        if (value !== null && col > 0 && this.cFault !== undefined) this.faults.push({ index: col - 1, ref: ref(), ...this.cFault });
        if (value !== null && col > 0) {
          const cells = this.cells;
          while (cells.length < col - 1) cells.push(null);
          if (cells.length === col - 1) cells.push(value);
          else cells[col - 1] = value;
        } else if (col > 0 && this.uncalculated()) {
          this.faults.push({ index: col - 1, ref: ref(), ...UNCALCULATED_FORMULA });
        }
        break;
      }
      case 'row': {
        const record: SourceRecord = { line: this.rowNum, cells: this.cells };
        if (this.faults.length > 0) record.faults = this.faults;
        this.cells = [];
        this.faults = [];
        if (this.width >= 0) this.accept(record);
        else {
          this.lastRow = record.line;
          this.queue.push(record);
        }
        break;
      }
      case 'sheetData':
        this.sheetDone = true;
        break;
      default:
        break;
    }
  }

  protected async finish(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    try {
      this.digest = await this.hash;
    } catch (e) {
      throw xlsxError(this.fileLabel, e);
    }
    // The hash may have finished long before the last row was read.
    if (this.stamp) await checkUnchanged(this.file, this.fileLabel, this.stamp);
  }

  protected async dispose(): Promise<void> {
    this.sheetStream?.destroy();
    this.sheetStream = undefined;
    this.chunks = undefined;
    this.zip?.close();
    this.zip = undefined;
    if (this.digest === undefined) this.hashAbort.abort();
  }
}

function quoteList(names: string[]): string {
  return names.map((n) => `"${n}"`).join(', ');
}

export async function openXlsx(spec: SourceSpec, opts?: OpenOptions): Promise<OpenedSource> {
  const file = requirePath(spec);
  const label = labelOf(file);
  const batchSize = batchSizeOf(opts);
  const headerRow = headerRowOf(spec, label);
  const naming = namingOf(opts);
  const size = await checkFile(file, label, naming);
  if (size === 0) {
    throw new SourceError(`${label} is empty (0 bytes), not an Excel workbook`, {
      code: 'source.empty',
      location: { file: label },
      hint: naming.empty,
    });
  }
  const head = await readHead(file, 8);
  if (!(head[0] === 0x50 && head[1] === 0x4b)) {
    const ole = head[0] === 0xd0 && head[1] === 0xcf && head[2] === 0x11 && head[3] === 0xe0;
    throw new SourceError(
      ole
        ? `${label} is a password-protected workbook or an old .xls file, which forklift cannot read`
        : `${label} is not an .xlsx workbook`,
      {
        code: 'source.xlsx',
        location: { file: label },
        hint: ole
          ? 'remove the password, or open it in Excel and save it as .xlsx (Excel Workbook)'
          : 'if it is CSV text use format: csv; otherwise save it from Excel as .xlsx',
      },
    );
  }
  const source = new XlsxSource(file, label, spec.sheet, headerRow, batchSize, naming);
  try {
    await source.start();
  } catch (e) {
    await source.close();
    throw xlsxError(label, e);
  }
  return source;
}
