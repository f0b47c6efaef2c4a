import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readBundleLedger } from '../../src/audit/ledger.js';
import { CsvTableWriter } from '../../src/bundle/csv.js';
import { entityOf } from '../../src/bundle/datapackage-read.js';
import { exportBundle } from '../../src/bundle/export.js';
import { openParquetWriter, readParquetFile } from '../../src/bundle/parquet.js';
import { openXlsxWriter } from '../../src/bundle/xlsx.js';
import { importBundle } from '../../src/bundle/import.js';
import { verifyBundle } from '../../src/bundle/verify.js';
import { openSnapshot } from '../../src/diff/snapshot.js';
import { runExit } from '../../src/exit/exit.js';
import { runPlan } from '../../src/run/pipeline.js';
import { editDataPackage, readArrowRows, rebag, restateResources, writeArrowRows } from '../bundle-helpers.js';
import type { Entity } from '../../src/model/types.js';
import { demoCopy, tempDir } from '../helpers.js';

/**
 * Bundles edited after export with their checksums written again, as any bag editor does: only
 * forklift's own checks of the data can see the edit. `bundle verify` must tell the truth about
 * each, and `bundle import` must load exactly what verify checked or nothing.
 */
const { plan } = demoCopy();
const out = tempDir('forklift-tampered-');
const source = `sqlite:${path.join(out, 'store.db')}`;
await runPlan({ plan, command: 'migrate', target: source });
const bundle = path.join(out, 'b0');
await exportBundle({ dir: bundle, source });

let n = 0;
function copyBundle(): string {
  const dir = path.join(out, `t${++n}`);
  cpSync(bundle, dir, { recursive: true });
  return dir;
}

const csvFile = (dir: string, table: string): string => path.join(dir, 'data', 'csv', `${table}.csv`);

async function importInto(dir: string): Promise<unknown> {
  return importBundle({ bundle: dir, target: `sqlite:${path.join(out, `imp${++n}.db`)}` }).then(
    () => 'imported',
    (e: unknown) => e,
  );
}

describe('bundle verify and import read one file per table', () => {
  it('the bundle as exported verifies', async () => {
    const v = await verifyBundle(bundle);
    expect(v.problems).toEqual([]);
  });

  it("a resource whose path names another file than data/csv/<name>.csv does not verify, and is not imported", async () => {
    const dir = copyBundle();
    // A clean copy for the path to name, and the table's own CSV changed: import would load that one.
    copyFileSync(csvFile(dir, 'items'), path.join(dir, 'data', 'csv', 'items_v.csv'));
    editDataPackage(dir, (pkg) => {
      pkg.resources.find((r) => r.name === 'items')!.path = 'csv/items_v.csv';
    });
    writeFileSync(csvFile(dir, 'items'), readFileSync(csvFile(dir, 'items'), 'utf8').replace('7858.0290', '9999999.9999'));
    await rebag(dir);
    const v = await verifyBundle(dir);
    expect(v.valid).toBe(false);
    expect(v.problems).toContain("data/datapackage.json: items: path is 'csv/items_v.csv'; a forklift bundle keeps the table's CSV at csv/items.csv");
    expect(await importInto(dir)).toMatchObject({ code: 'bundle.invalid' });
    // diff reads the tables as import does, so it refuses the other path too.
    await expect(openSnapshot(dir, 'LEFT')).rejects.toMatchObject({ code: 'diff.side', message: expect.stringMatching(/items: path is 'csv\/items_v\.csv'/) });
  });

  it('a primaryKey, foreignKey or reference naming a field the table lacks is a problem naming it, not a crash', async () => {
    const dir = copyBundle();
    editDataPackage(dir, (pkg) => {
      const items = pkg.resources.find((r) => r.name === 'items')!;
      items.schema.primaryKey = ['nope'];
      const bom = pkg.resources.find((r) => r.name === 'bom_lines')!;
      bom.schema.foreignKeys = [...(bom.schema.foreignKeys ?? []), { fields: ['gone'], reference: { resource: 'items', fields: ['item_code'] } }, { fields: ['parent_item'], reference: { resource: 'items', fields: ['missing_col'] } }];
    });
    await rebag(dir);
    const v = await verifyBundle(dir);
    expect(v.valid).toBe(false);
    expect(v.problems).toEqual(
      expect.arrayContaining([
        "data/datapackage.json: items: primaryKey names 'nope', which is not a field",
        "data/datapackage.json: bom_lines: a foreignKey names 'gone', which is not a field",
        'data/datapackage.json: bom_lines.parent_item references items.missing_col, which is not a field of items',
      ]),
    );
    expect(await importInto(dir)).toMatchObject({ code: 'bundle.invalid' });
  });
});

describe("bundle verify checks each resource's hash and bytes against its CSV", () => {
  /** The bag rebuilt with a SHA-512 payload manifest only, as another bagging tool may: the CSVs' SHA-256 is then not at hand, and verify reads them for it. */
  async function rebagSha512(dir: string): Promise<void> {
    await rebag(dir);
    const listed = readFileSync(path.join(dir, 'manifest-sha256.txt'), 'utf8').trim().split('\n').map((l) => l.slice(l.indexOf('  ') + 2));
    writeFileSync(path.join(dir, 'manifest-sha512.txt'), listed.map((f) => `${createHash('sha512').update(readFileSync(path.join(dir, f))).digest('hex')}  ${f}\n`).join(''));
    rmSync(path.join(dir, 'manifest-sha256.txt'));
    rmSync(path.join(dir, 'tagmanifest-sha256.txt'));
  }

  it('in a bag with a SHA-512 manifest only, whether the hash is SHA-256 or MD5 (a Frictionless hash without prefix)', async () => {
    const dir = copyBundle();
    const items = readFileSync(csvFile(dir, 'items'));
    const of = (algorithm: string): string => createHash(algorithm).update(items).digest('hex');
    const withHash = async (hash: string): Promise<string[]> => {
      editDataPackage(dir, (pkg) => {
        pkg.resources.find((r) => r.name === 'items')!.hash = hash;
      });
      await rebagSha512(dir);
      const v = await verifyBundle(dir);
      expect(v.bag.algorithms).toEqual(['sha512']);
      return v.problems;
    };
    expect(await withHash(`sha256:${of('sha256')}`)).toEqual([]);
    expect(await withHash(of('md5'))).toEqual([]);
    expect(await withHash(`sha256:${'0'.repeat(64)}`)).toEqual([`data/csv/items.csv: datapackage.json gives the resource items the hash sha256:${'0'.repeat(64)}; the file's is sha256:${of('sha256')}`]);
    expect(await withHash('0'.repeat(32))).toEqual([`data/csv/items.csv: datapackage.json gives the resource items the hash ${'0'.repeat(32)}; the file's is md5:${of('md5')}`]);
    expect(await withHash('sha3:00')).toEqual(["data/datapackage.json: items: hash 'sha3:00' is not <algorithm>:<hex digits> (md5, sha1, sha256 or sha512), so a Frictionless reader cannot check data/csv/items.csv"]);
  });
});

describe('bundle verify reads each CSV as UTF-8, and each table has its Arrow file', () => {
  /** A Latin-1 ä where the CSV has the UTF-8 one, as a spreadsheet saving the file would write it. */
  function latin1(dir: string): void {
    const file = csvFile(dir, 'items');
    const bytes = readFileSync(file);
    const at = bytes.indexOf('Gehäuse komplett KP 40-160');
    expect(at).toBeGreaterThan(0);
    writeFileSync(file, Buffer.concat([bytes.subarray(0, at), Buffer.from('Geh\xe4use komplett KP 40-160', 'latin1'), bytes.subarray(at + Buffer.byteLength('Gehäuse komplett KP 40-160'))]));
  }

  it('a byte that is not UTF-8 is named with its line, with the Arrow file and without it; nothing is imported', async () => {
    for (const withArrow of [true, false]) {
      const dir = copyBundle();
      latin1(dir);
      if (!withArrow) rmSync(path.join(dir, 'data', 'arrow', 'items.arrow'));
      // Saved by a tool that restates the Data Package too: the CSV's bytes alone are at fault.
      restateResources(dir);
      await rebag(dir);
      const v = await verifyBundle(dir);
      expect(v.valid, `with Arrow: ${withArrow}`).toBe(false);
      // The file named once: not its row count, nor every reference to items, which would only repeat it.
      expect(v.problems).toEqual([
        ...(withArrow ? [] : ["data/arrow/items.arrow: missing (a forklift bundle has an Arrow file beside each table's CSV)"]),
        expect.stringMatching(/^data\/csv\/items\.csv:2: not valid UTF-8 \(the byte e4 at byte offset \d+; a file saved as Latin-1/),
      ]);
      expect(await importInto(dir)).toMatchObject({ code: 'bundle.invalid' });
    }
  });

  it('a table whose Arrow file is gone does not verify', async () => {
    const dir = copyBundle();
    rmSync(path.join(dir, 'data', 'arrow', 'stock_balances.arrow'));
    await rebag(dir);
    const v = await verifyBundle(dir);
    expect(v.problems).toEqual(["data/arrow/stock_balances.arrow: missing (a forklift bundle has an Arrow file beside each table's CSV)"]);
  });
});

describe('bundle verify checks what bag-info.txt and the exit certificate say against the payload', () => {
  it('a table datapackage.json leaves out is named (its CSV and Arrow file), and the counts bag-info states are checked', async () => {
    const dir = copyBundle();
    editDataPackage(dir, (pkg) => {
      pkg.resources = pkg.resources.filter((r) => r.name !== 'machine_events');
    });
    await rebag(dir);
    const v = await verifyBundle(dir);
    expect(v.valid).toBe(false);
    expect(v.problems).toEqual([
      'data/csv/machine_events.csv: no resource of datapackage.json describes it, so an import would leave it out',
      'data/arrow/machine_events.arrow: no resource of datapackage.json describes it, so an import would leave it out',
      'bag-info.txt: Forklift-Tables is 5; the bundle holds 4 tables',
      'bag-info.txt: Forklift-Rows-Total is 2585; the bundle\'s tables hold 545 rows',
      'bag-info.txt: Forklift-Table-Rows names machine_events, which is not a table of the bundle',
    ]);
    expect(await importInto(dir)).toMatchObject({ code: 'bundle.invalid' });
  });

  it("a table's row count edited in bag-info.txt is named", async () => {
    const dir = copyBundle();
    const info = path.join(dir, 'bag-info.txt');
    writeFileSync(info, readFileSync(info, 'utf8').replace('Forklift-Table-Rows: items 105', 'Forklift-Table-Rows: items 99999'));
    await rebag(dir);
    expect((await verifyBundle(dir)).problems).toEqual(['bag-info.txt: Forklift-Table-Rows says items has 99999 rows; data/csv/items.csv holds 105']);
  });

  it("an exit's bag-info.txt and certificate page must say what the certificate says", async () => {
    const ex = path.join(out, 'exit');
    await runExit({ source, to: ex });
    expect((await verifyBundle(ex)).problems).toEqual([]);
    const edits: [string, RegExp, string, string][] = [
      ['bag-info.txt', /Forklift-Table-Rows: items 105/, 'Forklift-Table-Rows: items 99999', 'bag-info.txt: Forklift-Table-Rows says items has 99999 rows; data/csv/items.csv holds 105'],
      ['bag-info.txt', /Forklift-Source: .*/, 'Forklift-Source: postgres://elsewhere/db', 'exit-certificate.json: bag-info.txt has Forklift-Source postgres://elsewhere/db, the certificate states'],
      ['bag-info.txt', /Forklift-Ledger-Head: .*/, `Forklift-Ledger-Head: ${'0'.repeat(64)}`, `exit-certificate.json: bag-info.txt has Forklift-Ledger-Head ${'0'.repeat(64)}, the certificate states`],
      ['exit-certificate.html', />2,585 in 5 tables</, '>9,999 in 5 tables<', 'exit-certificate.html: does not say what exit-certificate.json says (it was changed after the exit)'],
    ];
    for (const [file, from, to, problem] of edits) {
      const dir = path.join(out, `ex${++n}`);
      cpSync(ex, dir, { recursive: true });
      const f = path.join(dir, file);
      const text = readFileSync(f, 'utf8');
      expect(text, `${file} holds ${String(from)}`).toMatch(from);
      writeFileSync(f, text.replace(from, to));
      await rebag(dir);
      const v = await verifyBundle(dir);
      expect(v.valid, file).toBe(false);
      expect(v.problems.join('\n')).toContain(problem);
    }
    // The certificate removed, its page left: the page would stand unchecked beside any payload.
    const dir = path.join(out, `ex${++n}`);
    cpSync(ex, dir, { recursive: true });
    rmSync(path.join(dir, 'exit-certificate.json'));
    await rebag(dir);
    const v = await verifyBundle(dir);
    expect(v.valid).toBe(false);
    expect(v.problems.join('\n')).toContain('exit-certificate.json: missing, while exit-certificate.html is there');
  });
});

describe('bundle verify refuses values no store can hold', () => {
  it('a year 0000, an integer beyond 64 bits and a NUL in text are named with file, line and column', async () => {
    const dir = copyBundle();
    const edit = (table: string, from: string, to: string): void => {
      const text = readFileSync(csvFile(dir, table), 'utf8');
      expect(text).toContain(from);
      writeFileSync(csvFile(dir, table), text.replace(from, to));
    };
    edit('stock_balances', ',2025-12-31\r\n', ',0000-12-31\r\n');
    edit('machine_events', 'CNC-01,2025-11-03T05:00:47.000Z,', 'CNC-01,0000-11-03T05:00:47.000Z,');
    edit('items', 'BAUGR,2232.4014,14,', 'BAUGR,2232.4014,99999999999999999999999,');
    edit('items', 'Gehäuse komplett', 'Gehäuse\u0000komplett');
    await rebag(dir);
    const v = await verifyBundle(dir);
    expect(v.valid).toBe(false);
    expect(v.problems).toEqual(
      expect.arrayContaining([
        "data/csv/stock_balances.csv:2: as_of '0000-12-31' is in the year 0000, outside the years 0001 to 9999 that every store holds",
        "data/csv/machine_events.csv:2: ts '0000-11-03T05:00:47.000Z' is in the year 0000, outside the years 0001 to 9999 that every store holds",
        'data/csv/items.csv:2: lead_time_days 99999999999999999999999 is beyond a 64-bit integer (-9223372036854775808 to 9223372036854775807), which no store\'s integer column holds',
        'data/csv/items.csv:2: description holds the NUL character (U+0000) at character 8, which no text of a store holds (PostgreSQL cannot store it)',
      ]),
    );
    expect(await importInto(dir)).toMatchObject({ code: 'bundle.invalid' });
  });
});

describe("bundle verify holds the bundle's ledger to the head bag-info.txt records", () => {
  /** forklift_runs rewritten (CSV, Arrow, datapackage.json) without the chain's columns, as from a store without the chain. */
  async function withoutChain(dir: string): Promise<void> {
    const chainCols = new Set(['seq', 'prev_hash', 'entry_hash', 'signature']);
    let full: Entity | undefined;
    editDataPackage(dir, (pkg) => {
      const r = pkg.resources.find((x) => x.name === 'forklift_runs')!;
      full = entityOf(r).entity;
      r.schema.fields = r.schema.fields.filter((f) => !chainCols.has(f.name));
    });
    const keep = full!.columns.map((c, i) => (chainCols.has(c.name) ? -1 : i)).filter((i) => i >= 0);
    const entity: Entity = { ...full!, columns: keep.map((i) => full!.columns[i]!) };
    const arrow = path.join(dir, 'data', 'arrow', 'forklift_runs.arrow');
    const rows = (await readArrowRows(arrow)).map((r) => keep.map((i) => r[i]));
    const csv = new CsvTableWriter(csvFile(dir, 'forklift_runs'), entity);
    await csv.writeHeader();
    await csv.write(rows);
    await csv.close();
    await writeArrowRows(arrow, entity, rows);
  }

  it('a ledger stripped of its chain columns does not verify when bag-info records a head', async () => {
    const dir = copyBundle();
    await withoutChain(dir);
    editDataPackage(dir, (pkg) => {
      // The Data Package's own hash of the CSV would tell too; the check must not depend on it.
      delete pkg.resources.find((x) => x.name === 'forklift_runs')!.hash;
      delete pkg.resources.find((x) => x.name === 'forklift_runs')!.bytes;
    });
    await rebag(dir);
    const v = await verifyBundle(dir);
    expect(v.problems).toEqual([expect.stringMatching(/^data\/csv\/forklift_runs\.csv: has no audit chain \(no seq, prev_hash and entry_hash\), yet bag-info\.txt records the head [0-9a-f]{12} as Forklift-Ledger-Head$/)]);
  });

  it('entries after the head bag-info records were added after the export', async () => {
    const store = path.join(out, 'two-runs.db');
    await runPlan({ plan, command: 'migrate', target: `sqlite:${store}` });
    await runPlan({ plan, command: 'migrate', target: `sqlite:${store}` });
    const dir = path.join(out, 'two-runs');
    await exportBundle({ dir, source: `sqlite:${store}` });
    expect((await verifyBundle(dir)).problems).toEqual([]);
    const ledger = await readBundleLedger(dir);
    expect(ledger.records).toHaveLength(2);
    const info = path.join(dir, 'bag-info.txt');
    // The first entry's hash: as if the second had been appended to the bundle's copy afterwards.
    // By seq, not file order: the bundle lists runs by run id, and two runs within one second order by its random tail.
    const first = [...ledger.records].sort((a, b) => Number(BigInt(a.seq!) - BigInt(b.seq!)))[0]!;
    const firstHash = first.entry_hash!;
    writeFileSync(info, readFileSync(info, 'utf8').replace(/Forklift-Ledger-Head: .*/, `Forklift-Ledger-Head: ${firstHash}`));
    await rebag(dir);
    expect((await verifyBundle(dir)).problems).toEqual(['data/csv/forklift_runs.csv: 1 entry follows the head bag-info.txt records as Forklift-Ledger-Head, which is the last entry when the bundle is exported: added since']);
  });
});

describe('bundle verify checks the Parquet files and the workbook', () => {
  const withFormats = path.join(out, 'formats');
  const itemsEntity = (dir: string): Entity => {
    let e: Entity | undefined;
    editDataPackage(dir, (pkg) => {
      e = entityOf(pkg.resources.find((r) => r.name === 'items')!).entity;
    });
    return e!;
  };
  async function rewriteParquet(dir: string, edit: (rows: unknown[][]) => unknown[][]): Promise<void> {
    const file = path.join(dir, 'data', 'parquet', 'items.parquet');
    const rows: unknown[][] = [];
    for await (const r of readParquetFile(file)) rows.push(r);
    const w = await openParquetWriter(file, itemsEntity(dir));
    await w.write(edit(rows));
    await w.close();
  }

  it('as exported they verify, plainly and with --formats', async () => {
    await exportBundle({ dir: withFormats, source, parquet: true, xlsx: true });
    expect((await verifyBundle(withFormats)).problems).toEqual([]);
    expect((await verifyBundle(withFormats, { formats: true })).problems).toEqual([]);
  });

  it("another table's Parquet file and a workbook that is none are named without --formats", async () => {
    const dir = path.join(out, 'formats-swapped');
    cpSync(withFormats, dir, { recursive: true });
    copyFileSync(path.join(dir, 'data', 'parquet', 'bom_lines.parquet'), path.join(dir, 'data', 'parquet', 'items.parquet'));
    writeFileSync(path.join(dir, 'data', 'workbook.xlsx'), 'garbage\n');
    rmSync(path.join(dir, 'data', 'parquet', 'stock_balances.parquet'));
    await rebag(dir);
    const v = await verifyBundle(dir);
    expect(v.problems).toEqual([
      'data/parquet/items.parquet: 298 rows, data/csv/items.csv holds 105',
      'data/parquet/stock_balances.parquet: missing (the bundle has Parquet files, and one for every table)',
      expect.stringMatching(/^data\/workbook\.xlsx: not an Excel workbook \(/),
    ]);
  });

  it('a changed Parquet value, and a workbook short of a row, are named with --formats', async () => {
    const dir = path.join(out, 'formats-values');
    cpSync(withFormats, dir, { recursive: true });
    await rewriteParquet(dir, (rows) => rows.map((r, i) => (i === 4 ? [r[0], `${String(r[1])} (edited)`, ...r.slice(2)] : r)));
    const w = await openXlsxWriter(path.join(dir, 'data', 'workbook.xlsx'));
    for (const name of ['bom_lines', 'forklift_runs', 'items', 'machine_events', 'stock_balances']) {
      let e: Entity | undefined;
      editDataPackage(dir, (pkg) => {
        e = entityOf(pkg.resources.find((r) => r.name === name)!).entity;
      });
      const t = await w.table(e!);
      const rows = await readArrowRows(path.join(dir, 'data', 'arrow', `${name}.arrow`));
      await t.write(name === 'stock_balances' ? rows.slice(1) : rows);
      await t.close();
    }
    await w.close();
    await rebag(dir);
    expect((await verifyBundle(dir)).problems).toEqual([]);
    const v = await verifyBundle(dir, { formats: true });
    expect(v.problems).toEqual([
      expect.stringMatching(/^data\/parquet\/items\.parquet: row 5, description: ".* \(edited\)" here, ".*" in items\.arrow$/),
      'data/workbook.xlsx: stock_balances has 140 rows on its sheet, data/csv/stock_balances.csv holds 141',
    ]);
  });
});
