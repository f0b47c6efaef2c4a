import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, readdirSync, rmSync, writeFileSync, type Dirent } from 'node:fs';
import { openZippedBag } from '../../src/bundle/zip.js';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { tableFromIPC } from 'apache-arrow';
import Database from 'better-sqlite3';
import ExcelJS from 'exceljs';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, demoCopy, runCli, tempDir } from '../helpers.js';
import { editDataPackage, rebag, restateResources } from '../bundle-helpers.js';

/**
 * The exit bundle through the built CLI (SPEC section 6): export, verify, tamper, import, zip,
 * workbook, profiles, an independent reader, and an export killed half way.
 */

let dir: string;
let plan: string;
const db = (): string => path.join(dir, 'mappings', 'demo', 'forklift.db');

beforeAll(() => {
  ({ dir, plan } = demoCopy());
  const r = runCli(['migrate', plan]);
  expect(r.code, r.stderr).toBe(0);
});

const exportTo = (name: string, ...flags: string[]): ReturnType<typeof runCli> => runCli(['export', path.join(dir, 'out', name), '--plan', plan, '--json', ...flags], { cwd: dir });
const json = (s: string): Record<string, unknown> => JSON.parse(s) as Record<string, unknown>;

describe('forklift export and bundle verify', () => {
  it('writes the bundle of SPEC section 6, and the same data gives the same payload bytes', () => {
    const r = exportTo('one', '--parquet', '--xlsx');
    expect(r.code, r.stderr).toBe(0);
    const res = json(r.stdout) as { tables: { name: string; rows: number }[]; rows_total: number; bundle: string };
    expect(res.tables.map((t) => [t.name, t.rows])).toEqual([['bom_lines', 298], ['forklift_runs', 1], ['items', 105], ['machine_events', 2040], ['stock_balances', 141]]);
    const b = path.join(dir, 'out', 'one');
    for (const f of ['bagit.txt', 'bag-info.txt', 'manifest-sha256.txt', 'tagmanifest-sha256.txt', 'data/datapackage.json', 'data/README.md', 'data/workbook.xlsx', 'data/csv/items.csv', 'data/arrow/items.arrow', 'data/parquet/items.parquet']) {
      expect(existsSync(path.join(b, f)), f).toBe(true);
    }
    const info = readFileSync(path.join(b, 'bag-info.txt'), 'utf8');
    expect(info).toMatch(/^Forklift-Source: sqlite:/m);
    expect(info).toMatch(/^Payload-Oxum: \d+\.\d+$/m);
    expect(info).toMatch(/^Forklift-Rows-Total: 2585$/m);
    // RFC 4180 with CRLF; '' is written "" and a missing value is empty.
    const balances = readFileSync(path.join(b, 'data', 'csv', 'stock_balances.csv'), 'utf8');
    expect(balances.split('\r\n')[0]).toBe('item_code,warehouse,lot,qty,value,as_of');
    expect(balances).toMatch(/,"",/);
    const pkg = JSON.parse(readFileSync(path.join(b, 'data', 'datapackage.json'), 'utf8')) as { resources: { name: string; schema: { primaryKey?: string[]; foreignKeys?: unknown[]; fields: { name: string; 'forklift:type': string }[] } }[] };
    const bom = pkg.resources.find((x) => x.name === 'bom_lines')!;
    expect(bom.schema.primaryKey).toEqual(['parent_item', 'line_no']);
    expect(bom.schema.foreignKeys).toHaveLength(2);
    expect(bom.schema.fields.find((f) => f.name === 'qty_per')!['forklift:type']).toBe('decimal(18,6)');
    expect(readFileSync(path.join(b, 'data', 'README.md'), 'utf8')).toMatch(/## machine_events[\s\S]*2040 rows/);

    expect(exportTo('two', '--parquet', '--xlsx').code).toBe(0);
    expect(readFileSync(path.join(dir, 'out', 'two', 'manifest-sha256.txt'), 'utf8')).toBe(readFileSync(path.join(b, 'manifest-sha256.txt'), 'utf8'));

    const v = runCli(['bundle', 'verify', b, '--json']);
    expect(v.code, v.stdout).toBe(0);
    expect(json(v.stdout)).toMatchObject({ valid: true, forklift_bundle: true, problem_count: 0 });
  });

  it('a changed byte, a removed file, an added file: exit 1 naming the file', () => {
    const src = path.join(dir, 'out', 'one');
    const copy = (name: string): string => {
      const to = path.join(dir, 'out', name);
      runCli(['export', to, '--plan', plan], { cwd: dir });
      return to;
    };
    const changed = copy('changed');
    const items = path.join(changed, 'data', 'csv', 'items.csv');
    writeFileSync(items, readFileSync(items, 'utf8').replace('2232.4014', '2232.4015'));
    let v = runCli(['bundle', 'verify', changed]);
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(/data\/csv\/items\.csv: sha256 mismatch/);
    expect(v.stderr).not.toMatch(/\n\s+at /); // no stack trace

    const removed = copy('removed');
    rmSync(path.join(removed, 'data', 'arrow', 'bom_lines.arrow'));
    v = runCli(['bundle', 'verify', removed]);
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(/data\/arrow\/bom_lines\.arrow: missing/);

    const added = copy('added');
    appendFileSync(path.join(added, 'data', 'notes.txt'), 'hello');
    v = runCli(['bundle', 'verify', added, '--json']);
    expect(v.code).toBe(1);
    expect(JSON.stringify(json(v.stdout))).toMatch(/data\/notes\.txt: not listed in any payload manifest/);

    // A bundle that does not verify is never imported: the target stays empty.
    const target = path.join(dir, 'never.db');
    const imp = runCli(['bundle', 'import', changed, '--target', `sqlite:${target}`]);
    expect(imp.code).toBe(1);
    expect(imp.stderr).toMatch(/does not verify, so nothing was imported/);
    // No data table, and the refused attempt on record (SPEC section 9), its chain intact.
    const db = new Database(target, { readonly: true });
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'items'").get()).toEqual({ n: 0 });
    expect(db.prepare('SELECT command, status, message FROM forklift_runs').all()).toEqual([{ command: 'import', status: 'failed', message: expect.stringMatching(/does not verify, so nothing was imported: .*items\.csv/) }]);
    db.close();
    expect(runCli(['audit', 'verify', `sqlite:${target}`]).code).toBe(0);
    expect(existsSync(src)).toBe(true);
  });

  it('a Data Package path that leads outside the bundle is refused, never read', () => {
    const b = path.join(dir, 'out', 'escape');
    runCli(['export', b, '--plan', plan, '--tables', 'items'], { cwd: dir });
    const pkgFile = path.join(b, 'data', 'datapackage.json');
    writeFileSync(pkgFile, readFileSync(pkgFile, 'utf8').replace('"csv/items.csv"', '"../../../../etc/passwd"'));
    const v = runCli(['bundle', 'verify', b]);
    expect(v.code).toBe(1);
    // The path is another than the table's own CSV: refused, and only data/csv/items.csv is read.
    expect(v.stderr).toMatch(/items: path is '..\/..\/..\/..\/etc\/passwd'; a forklift bundle keeps the table's CSV at csv\/items\.csv/);
  });

  it("a resource's hash and bytes in datapackage.json must be its CSV's, even in a bag rebuilt after the edit", async () => {
    const b = path.join(dir, 'out', 'restated');
    expect(runCli(['export', b, '--plan', plan, '--tables', 'items,stock_balances'], { cwd: dir }).code).toBe(0);
    const csv = readFileSync(path.join(b, 'data', 'csv', 'items.csv'));
    const real = createHash('sha256').update(csv).digest('hex');
    const wrong = createHash('sha256').update('another file').digest('hex');
    editDataPackage(b, (pkg) => {
      const items = pkg.resources.find((r) => r.name === 'items')!;
      expect(items).toMatchObject({ hash: `sha256:${real}`, bytes: csv.length });
      items.hash = `sha256:${wrong}`;
      items.bytes = csv.length + 1;
    });
    await rebag(b);
    const v = runCli(['bundle', 'verify', b, '--json']);
    expect(v.code, v.stdout).toBe(1);
    const res = (json(v.stdout) as { result: { problems: string[] } }).result;
    expect(res.problems).toEqual([
      `data/csv/items.csv: datapackage.json gives the resource items ${csv.length + 1} bytes; the file has ${csv.length}`,
      `data/csv/items.csv: datapackage.json gives the resource items the hash sha256:${wrong}; the file's is sha256:${real}`,
    ]);
    // --checksums-only is the BagIt layer alone, which the rebuilt bag passes.
    expect(runCli(['bundle', 'verify', b, '--checksums-only']).code).toBe(0);
  });

  it("an invalid cost of an item that other tables reference is the one problem: the item's key still resolves", async () => {
    const b = path.join(dir, 'out', 'bad-cost');
    expect(exportTo('bad-cost').code).toBe(0);
    const file = path.join(b, 'data', 'csv', 'items.csv');
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('HP-1001,Kreiselpumpe KP 40-160 4 kW,finished,EA,PUMPE,7858.0290,');
    writeFileSync(file, text.replace('7858.0290', '78x8.0290'));
    restateResources(b);
    await rebag(b);
    const v = runCli(['bundle', 'verify', b, '--json']);
    expect(v.code, v.stdout).toBe(1);
    // Not also every bom_lines and stock_balances row of HP-1001, nor the Arrow file's 7858.0290 beside it.
    expect((json(v.stdout) as { result: { problems: string[] } }).result.problems).toEqual(["data/csv/items.csv:26: standard_cost '78x8.0290' is not a decimal(18,4) in canonical form"]);
  });

  it('an existing folder or an unknown table is a usage error (exit 2)', () => {
    expect(exportTo('one').code).toBe(2);
    const r = exportTo('x', '--tables', 'itemz');
    expect(r.code).toBe(2);
    expect(json(r.stdout)).toMatchObject({ ok: false, error: { message: expect.stringMatching(/itemz is not a table/) } });
  });
});

describe('bundle import', () => {
  it('imports into a fresh store; exported again, every data table is the same bytes', () => {
    const target = `sqlite:${path.join(dir, 'restored.db')}`;
    const imp = runCli(['bundle', 'import', path.join(dir, 'out', 'one'), '--target', target, '--json']);
    expect(imp.code, imp.stderr).toBe(0);
    expect(json(imp.stdout)).toMatchObject({ load: 'append', rows_total: 2585 });
    const again = path.join(dir, 'out', 'again');
    expect(runCli(['export', again, '--source', target]).code).toBe(0);
    const lines = (b: string): string[] => readFileSync(path.join(b, 'manifest-sha256.txt'), 'utf8').split('\n').filter((l) => /data\/(csv|arrow)\/(items|bom_lines|stock_balances|machine_events)\./.test(l));
    expect(lines(again)).toEqual(lines(path.join(dir, 'out', 'one')));
    // The same bundle again: keys already there, nothing committed, exit 1, the attempt on record.
    const twice = runCli(['bundle', 'import', path.join(dir, 'out', 'one'), '--target', target]);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/items: the target already holds the key item_code "[^"]+" \(source line \d+\); nothing was committed/);
    expect(twice.stderr).not.toMatch(/INSERT INTO/);
    const db = new Database(path.join(dir, 'restored.db'), { readonly: true });
    expect(db.prepare('SELECT command, status FROM forklift_runs ORDER BY started').raw().all()).toEqual([['import', 'succeeded'], ['import', 'failed']]);
    // The source's ledger came along, kept apart from the target's own chain.
    expect(db.prepare('SELECT command, status FROM forklift_imported_runs').raw().all()).toEqual([['migrate', 'succeeded']]);
    db.close();
  });
});

describe('export --zip, --xlsx and an independent reader', () => {
  it('a zipped bundle is deterministic and verifies and imports as it is', async () => {
    // Same bundle name in two folders: the zip holds a folder named after the bundle.
    expect(exportTo(path.join('za', 'bundle'), '--zip').code).toBe(0);
    expect(exportTo(path.join('zb', 'bundle'), '--zip').code).toBe(0);
    const z1 = path.join(dir, 'out', 'za', 'bundle.zip');
    // bag-info.txt carries the export time (and so does the tag manifest); every other entry,
    // the payload manifest included, is the same bytes at the same place in both zips.
    const [a, b] = await Promise.all([zipEntries(z1), zipEntries(path.join(dir, 'out', 'zb', 'bundle.zip'))]);
    expect([...a.keys()]).toEqual([...b.keys()]);
    const differing = [...a.keys()].filter((k) => !a.get(k)!.equals(b.get(k)!));
    expect(differing.every((k) => /bag-info\.txt$|tagmanifest-sha256\.txt$/.test(k))).toBe(true);
    expect([...a.keys()]).toContain('data/csv/items.csv');
    expect(existsSync(path.join(dir, 'out', 'za', 'bundle'))).toBe(false);
    expect(runCli(['bundle', 'verify', z1]).code).toBe(0);
    expect(runCli(['bundle', 'import', z1, '--target', `sqlite:${path.join(dir, 'fromzip.db')}`]).code).toBe(0);
    expect(exportTo(path.join('za', 'bundle'), '--zip').code).toBe(2); // never overwritten
  });

  it('the workbook has one sheet a table with a styled header', async () => {
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(path.join(dir, 'out', 'one', 'data', 'workbook.xlsx'));
    expect(wb.worksheets.map((w) => w.name)).toEqual(['bom_lines', 'forklift_runs', 'items', 'machine_events', 'stock_balances']);
    const ws = wb.getWorksheet('items')!;
    expect(ws.getRow(1).getCell(1).value).toBe('item_code');
    expect(ws.getRow(1).font?.bold).toBe(true);
    expect(ws.rowCount).toBe(106);
  });

  it('DuckDB reads the Parquet files, apache-arrow the Arrow files: same counts, decimal sums and timestamps as the store', async () => {
    const store = new Database(db(), { readonly: true });
    const want = store.prepare("SELECT count(*) AS n, min(ts) AS first, max(ts) AS last FROM machine_events").get() as { n: number; first: string; last: string };
    const values = store.prepare('SELECT value FROM stock_balances').pluck().all() as string[];
    store.close();
    const cents = values.reduce((s, v) => s + BigInt(v.replace('.', '')), 0n);
    const sum = `${cents / 100n}.${String(cents % 100n).padStart(2, '0')}`;

    const duck = await (await DuckDBInstance.create(':memory:')).connect();
    const pq = (t: string): string => path.join(dir, 'out', 'one', 'data', 'parquet', `${t}.parquet`).replace(/'/g, "''");
    const m = (await duck.runAndReadAll(`SELECT count(*)::INT AS n, strftime(min(ts), '%Y-%m-%dT%H:%M:%S.%gZ') AS first, strftime(max(ts), '%Y-%m-%dT%H:%M:%S.%gZ') AS last FROM read_parquet('${pq('machine_events')}')`)).getRowObjects()[0]!;
    expect([m.n, m.first, m.last]).toEqual([want.n, want.first, want.last]);
    const s = (await duck.runAndReadAll(`SELECT sum(value)::VARCHAR AS s, typeof(value) AS t FROM read_parquet('${pq('stock_balances')}') GROUP BY t`)).getRowObjects()[0]!;
    expect(s.t).toBe('DECIMAL(18,2)');
    expect(s.s).toBe(sum);
    expect(sum).toBe('5263738.60');

    const arrow = tableFromIPC(readFileSync(path.join(dir, 'out', 'one', 'data', 'arrow', 'machine_events.arrow')));
    expect(arrow.numRows).toBe(want.n);
    expect(String(arrow.schema.fields.find((f) => f.name === 'ts')!.type)).toBe('Timestamp<MILLISECOND, UTC>');
  });
});

describe('profiles', () => {
  it('drops, masks and hashes what the plan says, records it, and refuses without a salt', () => {
    appendFileSync(plan, '\nprofiles:\n  auditor:\n    items: { drop: [standard_cost], mask: [description], hash: [category] }\n');
    let r = exportTo('auditor', '--profile', 'auditor');
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/FORKLIFT_HASH_SALT/);
    r = runCli(['export', path.join(dir, 'out', 'auditor'), '--plan', plan, '--profile', 'auditor'], { cwd: dir, env: { FORKLIFT_HASH_SALT: 'pepper-123' } });
    expect(r.code, r.stderr).toBe(0);
    const b = path.join(dir, 'out', 'auditor');
    const items = readFileSync(path.join(b, 'data', 'csv', 'items.csv'), 'utf8').split('\r\n');
    expect(items[0]).toBe('item_code,description,item_type,uom,category,lead_time_days,active');
    expect(items[1]).toMatch(/^BG-2001,\*\*\*,semi,EA,[0-9a-f]{64},14,true$/);
    // bag-info.txt folds long values onto indented lines (RFC 8493): unfold before reading.
    expect(readFileSync(path.join(b, 'bag-info.txt'), 'utf8').replace(/\r?\n[ \t]+/g, ' ')).toMatch(/^Forklift-Profile: auditor: items drop standard_cost, mask description, hash category$/m);
    expect(readdirSync(b).join()).not.toMatch(/pepper/);
    expect(runCli(['bundle', 'verify', b]).code).toBe(0);
    // A key column cannot be masked: the bundle is keyed and ordered by it.
    appendFileSync(plan, '  broken:\n    items: { mask: [item_code] }\n');
    r = exportTo('broken', '--profile', 'broken');
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/part of the primary key/);
    // A table the source does not have (here by its letter case) would mask nothing while
    // bag-info.txt said the profile was applied: export and exit refuse it, and write nothing.
    appendFileSync(plan, '  misspelt:\n    Items: { mask: [description] }\n');
    r = exportTo('misspelt', '--profile', 'misspelt');
    expect(r.code).toBe(2);
    expect(json(r.stdout)).toMatchObject({ ok: false, error: { code: 'profile.unknown-table', message: expect.stringMatching(/profile misspelt: 'Items' is not a table of the source \(did you mean 'items'\?/) } });
    expect(existsSync(path.join(dir, 'out', 'misspelt'))).toBe(false);
    const exit = runCli(['exit', '--to', path.join(dir, 'out', 'misspelt-exit'), '--plan', plan, '--profile', 'misspelt'], { cwd: dir });
    expect(exit.code).toBe(2);
    expect(exit.stderr).toMatch(/'Items' is not a table of the source/);
    expect(existsSync(path.join(dir, 'out', 'misspelt-exit'))).toBe(false);
  });
});

describe('an export killed half way', () => {
  it('leaves nothing that looks like a bundle', async () => {
    const big = path.join(tempDir('forklift-bigexport-'), 'big.db');
    const d = new Database(big);
    d.exec('CREATE TABLE readings (id INTEGER PRIMARY KEY, machine TEXT NOT NULL, note TEXT)');
    const ins = d.prepare('INSERT INTO readings VALUES (?, ?, ?)');
    d.transaction(() => {
      for (let i = 1; i <= 600_000; i++) ins.run(i, `M-${i % 97}`, `reading number ${i} with some text to make the row wider`);
    })();
    d.close();
    const dest = path.join(path.dirname(big), 'bundle');
    const child = spawn(process.execPath, [BIN, 'export', dest, '--source', `sqlite:${big}`, '--parquet'], { stdio: 'ignore' });
    // Kill once the temporary folder holds data: the export is under way.
    const started = Date.now();
    let seen = false;
    while (Date.now() - started < 60_000) {
      const partial = readdirSync(path.dirname(big)).find((f) => f.startsWith('bundle.partial-'));
      if (partial && existsSync(path.join(path.dirname(big), partial, 'data', 'csv', 'readings.csv'))) {
        seen = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(seen).toBe(true);
    expect(existsSync(dest)).toBe(false);
    const left = readdirSync(path.dirname(big)).filter((f) => f.startsWith('bundle'));
    // The work folder and the claim on the bundle folder (the next export there takes it over).
    for (const f of left) {
      expect(f).toMatch(/^bundle\.(partial-|claim$)/);
      expect(existsSync(path.join(path.dirname(big), f, 'bagit.txt'))).toBe(false);
    }
  }, 90_000);
});

/** A zipped bundle's files (relative paths in sorted order) with their bytes, unpacked by forklift's safe reader. */
async function zipEntries(file: string): Promise<Map<string, Buffer>> {
  const z = await openZippedBag(file);
  try {
    const files = (readdirSync(z.dir, { recursive: true, withFileTypes: true }) as Dirent[]).filter((d) => d.isFile()).map((d) => path.relative(z.dir, path.join(d.parentPath, d.name))).sort();
    return new Map(files.map((f) => [f, readFileSync(path.join(z.dir, f))]));
  } finally {
    z.cleanup();
  }
}
