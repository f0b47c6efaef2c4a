import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Entity } from '../model/types.js';
import { openArrowRows } from './arrow.js';
import { safeBagPath } from './bagit.js';
import { tableFiles } from './layout.js';
import { sameValue } from './verify-data.js';

/**
 * The copies of each table a bundle may hold beside its CSV and Arrow file (SPEC section 6:
 * `--parquet`, `--xlsx`), checked by `bundle verify`. Always, since it reads a footer only: that
 * every table has its Parquet file where the bundle has any, holding the table's row count. With
 * `formats` (`bundle verify --formats`), since it reads every value again: each Parquet row equal
 * to the Arrow file's (which the data check has held to the CSV), and the workbook holding each
 * table's header and rows on its sheets. A module of its own so that parquet-wasm and the
 * workbook reader load only for a bundle that has such files.
 */

export interface TableRows {
  entity: Entity;
  /** The rows the CSV holds (counted by the data check). */
  rows: number;
}

const PER_FILE = 10;

/** Each table's Parquet file, where the bundle has a data/parquet folder. */
export async function checkParquet(dir: string, tables: readonly TableRows[], deep: boolean, add: (p: string) => void, signal?: AbortSignal): Promise<void> {
  const { parquetRowCount, readParquetBatches } = await import('./parquet.js');
  for (const { entity, rows } of tables) {
    signal?.throwIfAborted();
    const rel = tableFiles(entity.name).parquet;
    const file = safeBagPath(dir, rel, { encoded: false });
    if (file === null || !existsSync(file)) {
      add(`${rel}: missing (the bundle has Parquet files, and one for every table)`);
      continue;
    }
    let count: number;
    try {
      count = await parquetRowCount(file);
    } catch (e) {
      add(`${rel}: cannot be read as a Parquet file (${e instanceof Error ? e.message.replace(/^.*?: /, '') : String(e)})`);
      continue;
    }
    if (count !== rows) {
      add(`${rel}: ${count} rows, ${tableFiles(entity.name).csv} holds ${rows}`);
      continue;
    }
    if (deep) await compareWithArrow(dir, entity, file, rel, readParquetBatches, add, signal);
  }
}

/** Every Parquet row against the Arrow file's, value by value (both decoded to the staging form). */
async function compareWithArrow(
  dir: string,
  entity: Entity,
  file: string,
  rel: string,
  read: (file: string) => AsyncGenerator<unknown[][]>,
  add: (p: string) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  const arrowRel = tableFiles(entity.name).arrow;
  const arrowFile = safeBagPath(dir, arrowRel, { encoded: false });
  // A table without its Arrow file is a problem of its own (verify-data.ts); nothing to compare with.
  if (arrowFile === null || !existsSync(arrowFile)) return;
  const arrow = openArrowRows(arrowFile);
  let row = 0;
  let problems = 0;
  const say = (p: string): boolean => {
    if (++problems <= PER_FILE) add(p);
    return problems < PER_FILE;
  };
  try {
    for await (const batch of read(file)) {
      signal?.throwIfAborted();
      for (const p of batch) {
        row++;
        const a = arrow.next() ?? ((await arrow.advance()) ? arrow.next() : undefined);
        if (a === undefined) {
          say(`${rel}: more rows than ${path.basename(arrowRel)}`);
          return;
        }
        const i = p.length === a.length ? p.findIndex((v, k) => !sameValue(v, a[k])) : 0;
        if (i !== -1 && !say(`${rel}: row ${row}, ${entity.columns[i]?.name ?? `column ${i + 1}`}: ${JSON.stringify(p[i])} here, ${JSON.stringify(a[i])} in ${path.basename(arrowRel)}`)) return;
      }
    }
    if (arrow.next() !== undefined || (await arrow.advance())) say(`${rel}: fewer rows than ${path.basename(arrowRel)}`);
  } catch (e) {
    if (e instanceof Error && e.name === 'AbortError') throw e;
    say(`${rel}: cannot be read (${e instanceof Error ? e.message.replace(/^.*?: /, '') : String(e)})`);
  } finally {
    await arrow.close();
  }
}

/** Plainly: data/workbook.xlsx is a workbook (a zip with xl/workbook.xml); what its sheets hold is checked with --formats. */
export async function checkWorkbookFile(dir: string, add: (p: string) => void): Promise<void> {
  const rel = 'data/workbook.xlsx';
  const { ZipFile } = await import('../sources/zip.js');
  try {
    const zip = await ZipFile.open(path.join(dir, rel));
    const ok = zip.has('xl/workbook.xml');
    zip.close();
    if (!ok) add(`${rel}: not an Excel workbook (no xl/workbook.xml in it)`);
  } catch (e) {
    add(`${rel}: not an Excel workbook (${e instanceof Error ? e.message : String(e)})`);
  }
}

/**
 * data/workbook.xlsx: a sheet per table (`<table>`, then `<table> (2)` and on beyond Excel's row
 * limit, named as the writer names them), each with the table's header, and the table's rows in
 * all. Its values are for people (decimals beyond a double as text, long texts cut), so they are
 * not compared: the CSV and Arrow file are the record.
 */
export async function checkWorkbook(dir: string, tables: readonly TableRows[], add: (p: string) => void, signal?: AbortSignal): Promise<void> {
  const rel = 'data/workbook.xlsx';
  const file = path.join(dir, rel);
  const { openXlsx } = await import('../sources/xlsx.js');
  const { SHEET_ROWS, sheetName } = await import('./xlsx.js');
  const used = new Set<string>();
  for (const { entity, rows } of tables) {
    const parts = Math.max(1, Math.ceil(rows / SHEET_ROWS));
    let seen = 0;
    for (let part = 1; part <= parts; part++) {
      signal?.throwIfAborted();
      const sheet = sheetName(entity.name, part, used);
      let source;
      try {
        source = await openXlsx({ format: 'xlsx', path: file, sheet });
      } catch (e) {
        add(`${rel}: sheet '${sheet}' of ${entity.name} cannot be read (${e instanceof Error ? e.message : String(e)})`);
        return;
      }
      try {
        const want = entity.columns.map((c) => c.name);
        if (source.header.join('\u0000') !== want.join('\u0000')) add(`${rel}: sheet '${sheet}' has the header ${source.header.join(',')}; ${entity.name} has ${want.join(',')}`);
        for await (const batch of source.batches(signal)) seen += batch.length;
        seen += source.skippedBlank;
      } finally {
        await source.close();
      }
    }
    if (seen !== rows) add(`${rel}: ${entity.name} has ${seen} rows on its sheet${parts > 1 ? 's' : ''}, ${tableFiles(entity.name).csv} holds ${rows}`);
  }
}
