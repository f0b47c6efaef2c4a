import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import ExcelJS from 'exceljs';
import yauzl from 'yauzl';
import yazl from 'yazl';
import type { Column, Entity } from '../model/types.js';

/**
 * data/workbook.xlsx (`--xlsx`): the bundle for people, written with exceljs's streaming writer so
 * memory stays flat: one sheet a table, the header bold and frozen, a table beyond Excel's row
 * limit continued on further sheets. The CSV and Arrow files are the exact record; here a decimal
 * is an Excel number only where a double holds it exactly (else its text), a date or timestamp an
 * Excel date only where Excel shows that very day (1900-03-01 to 9999-12-31; else its text), and
 * a text longer than an Excel cell holds is cut with a note. The zip is rewritten with fixed times
 * afterwards, since exceljs stamps the current time into it and the payload must not change
 * between exports.
 */

/** Rows per sheet: Excel's 1,048,576 less the header. */
export const SHEET_ROWS = 1_048_575;
const CELL_MAX = 32_767;
const FIXED_TIME = new Date(Date.UTC(2000, 0, 1));

export interface XlsxTableWriter {
  write(rows: readonly (readonly unknown[])[]): Promise<void>;
  close(): Promise<void>;
}

export interface XlsxWriter {
  table(entity: Entity): Promise<XlsxTableWriter>;
  close(): Promise<void>;
}

export async function openXlsxWriter(file: string, opts: { sheetRows?: number } = {}): Promise<XlsxWriter> {
  const raw = `${file}.raw`;
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ filename: raw, useStyles: true, useSharedStrings: false });
  wb.creator = 'forklift';
  wb.created = FIXED_TIME;
  wb.modified = FIXED_TIME;
  const used = new Set<string>();
  const perSheet = opts.sheetRows ?? SHEET_ROWS;
  return {
    async table(entity) {
      const toCell = entity.columns.map(cellOf);
      let sheet: ExcelJS.Worksheet | undefined;
      let inSheet = 0;
      let part = 0;
      const next = (): ExcelJS.Worksheet => {
        sheet?.commit();
        part++;
        const ws = wb.addWorksheet(sheetName(entity.name, part, used), { views: [{ state: 'frozen', ySplit: 1 }] });
        ws.columns = entity.columns.map((c) => ({ header: c.name, key: c.name, width: Math.min(Math.max(c.name.length + 2, widthOf(c)), 60), style: styleOf(c) }));
        const head = ws.getRow(1);
        head.font = { bold: true };
        head.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFDDE5F0' } };
        head.commit();
        inSheet = 0;
        return ws;
      };
      sheet = next();
      return {
        async write(rows) {
          for (const r of rows) {
            if (inSheet === perSheet) sheet = next();
            sheet!.addRow(toCell.map((f, i) => f(r[i]))).commit();
            inSheet++;
          }
        },
        async close() {
          sheet?.commit();
        },
      };
    },
    async close() {
      await wb.commit();
      await rezipWithFixedTimes(raw, file);
      rmSync(raw, { force: true });
    },
  };
}

/** The sheet of `part` of a table (Excel's 31 characters, its forbidden ones replaced, unique in the workbook); bundle verify finds them so. */
export function sheetName(table: string, part: number, used: Set<string>): string {
  const clean = table.replace(/[[\]:*?/\\]/g, '_');
  const suffix = part > 1 ? ` (${part})` : '';
  let name = clean.slice(0, 31 - suffix.length) + suffix;
  for (let i = 2; used.has(name.toLowerCase()); i++) name = `${clean.slice(0, 25)}~${i}${suffix}`.slice(0, 31);
  used.add(name.toLowerCase());
  return name;
}

function widthOf(c: Column): number {
  if (c.type === 'timestamp') return 24;
  if (c.type === 'date') return 12;
  if (c.type === 'string') return Math.min(c.length ?? 20, 40);
  return 14;
}

function styleOf(c: Column): Partial<ExcelJS.Style> {
  if (c.type === 'timestamp') return { numFmt: 'yyyy-mm-dd hh:mm:ss.000' };
  if (c.type === 'date') return { numFmt: 'yyyy-mm-dd' };
  if (c.type === 'decimal') return { numFmt: c.scale ? `0.${'0'.repeat(Math.min(c.scale, 30))}` : '0' };
  return {};
}

function cellOf(c: Column): (v: unknown) => ExcelJS.CellValue {
  switch (c.type) {
    case 'boolean':
      return (v) => (v === null || v === undefined ? null : v === 1 || v === true);
    case 'integer':
      return (v) => (v === null || v === undefined ? null : typeof v === 'number' ? v : String(v));
    case 'decimal':
      return (v) => {
        if (v === null || v === undefined) return null;
        const s = String(v);
        const n = Number(s);
        // Only where the double is that decimal exactly: otherwise Excel would show another number.
        return Number.isFinite(n) && n.toFixed(c.scale ?? 0) === s && Math.abs(n) < 2 ** 53 / 10 ** (c.scale ?? 0) ? n : s;
      };
    case 'date':
      return (v) => (v === null || v === undefined ? null : excelDateOr(String(v), new Date(`${String(v)}T00:00:00Z`)));
    case 'timestamp':
      return (v) => (v === null || v === undefined ? null : excelDateOr(String(v), new Date(String(v))));
    default:
      return (v) => {
        if (v === null || v === undefined) return null;
        const s = String(v);
        return s.length > CELL_MAX ? `${s.slice(0, CELL_MAX - 40)}… (cut: the full text is in the CSV)` : s;
      };
  }
}

// exceljs counts serials from 1899-12-30 without Lotus's phantom 1900-02-29, which Excel counts:
// a day before 1900-03-01 (serial 61) would show a day late, or as the day that never was, and
// one before 1900-01-01 or after 9999-12-31 as #####. Those stay the canonical text, as a decimal
// beyond a double does, so the sheet never shows another date.
const EXCEL_FIRST_TRUE_DAY = Date.UTC(1900, 2, 1);
const EXCEL_PAST_LAST_DAY = Date.UTC(10000, 0, 1);

function excelDateOr(text: string, d: Date): Date | string {
  const t = d.getTime();
  return Number.isFinite(t) && t >= EXCEL_FIRST_TRUE_DAY && t < EXCEL_PAST_LAST_DAY ? d : text;
}

/** Copies a zip entry by entry, in the same order, with one fixed time and no varying extras. */
async function rezipWithFixedTimes(from: string, to: string): Promise<void> {
  const zin = await new Promise<yauzl.ZipFile>((res, rej) => yauzl.open(from, { lazyEntries: true, autoClose: true }, (e, z) => (e ? rej(e) : res(z))));
  const zout = new yazl.ZipFile();
  const partial = `${to}.partial`;
  const out = createWriteStream(partial);
  zout.outputStream.pipe(out);
  await new Promise<void>((resolve, reject) => {
    zin.on('error', reject);
    zin.on('end', () => resolve());
    zin.on('entry', (entry: yauzl.Entry) => {
      if (entry.fileName.endsWith('/')) {
        zin.readEntry();
        return;
      }
      zin.openReadStream(entry, (err, stream) => {
        if (err) return reject(err);
        // Streamed through (a sheet can be hundreds of megabytes); the next entry once this one is read.
        stream.on('error', reject);
        stream.on('end', () => zin.readEntry());
        zout.addReadStream(stream, entry.fileName, { mtime: FIXED_TIME, mode: 0o100644, compress: true });
      });
    });
    zin.readEntry();
  });
  zout.end();
  await once(out, 'close');
  renameSync(partial, to);
}
