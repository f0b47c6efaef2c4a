import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { chromium } from 'playwright-core';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import iconv from 'iconv-lite';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoCopy, runCli, tempDir } from '../helpers.js';

/**
 * The rehearsal loop on the demo, through the built CLI: migrate, fix some rejects the way a
 * consultant does (in Excel with a German locale: saved back as ';'-separated Windows-1252),
 * `rejects reload`, `runs list`, `runs diff`, and the link and trend in report.html.
 */

interface Entity {
  entity: string;
  read: number;
  loaded: number;
  filtered: number;
  duplicates_dropped: number;
  rejected: number;
  rejects_file: string | null;
}
interface Report {
  run_id: string;
  started: string;
  run_dir: string;
  command: string;
  status: string;
  committed: boolean;
  follows: { run_id: string; read: Record<string, number> } | null;
  entities: Entity[];
  trend: { run_id: string; rejected: number }[];
}

const META = ['forklift_source', 'forklift_position', 'forklift_field', 'forklift_rule', 'forklift_reason'];

function readRejects(file: string): string[][] {
  return parse(readFileSync(file), { bom: true, relax_column_count: true }) as string[][];
}

/** Writes rows as Excel in a German locale saves "CSV": ';', Windows-1252, CRLF, no BOM. */
function saveAsGermanExcel(file: string, rows: string[][]): void {
  writeFileSync(file, iconv.encode(stringify(rows, { delimiter: ';', record_delimiter: 'windows' }), 'windows-1252'));
}

const entityOf = (r: Report, name: string): Entity => r.entities.find((e) => e.entity === name)!;

describe('rejects reload, runs list and runs diff on the demo (built CLI)', () => {
  let demo: { dir: string; plan: string };
  let target: string;
  let db: string;
  let first: Report;
  let reload: Report;
  let reloadRun: ReturnType<typeof runCli>;
  const runDir = (r: Report): string => path.join(demo.dir, r.run_dir);

  beforeAll(() => {
    demo = demoCopy();
    db = path.join(demo.dir, 'demo.db');
    target = `sqlite:${db}`;
    const m = runCli(['migrate', demo.plan, '--target', target, '--json'], { cwd: demo.dir });
    expect(m.code, m.stderr).toBe(0);
    first = JSON.parse(m.stdout) as Report;

    // The consultant fixes three of the seven item rejects and leaves the others.
    const file = path.join(runDir(first), 'rejects', 'items.csv');
    const rows = readRejects(file);
    const [header, ...data] = rows as [string[], ...string[][]];
    const col = (name: string): number => header.indexOf(name);
    const fixed = data
      // of the two conflicting rows of TN-3050 the second (0,0920) is the wrong one
      .filter((r) => !(r[col('ITEMNO')] === 'TN-3050' && r[col('STDCOST')] === '0,0920'))
      .map((r) => {
        const out = [...r];
        if (out[col('ITEMNO')] === 'TN-3091') out[col('UOM')] = 'PCS';
        if (out[col('ITEMNO')] === 'TN-3092') out[col('DESC1')] = 'Passscheibe Ø 12 für Welle';
        return out;
      });
    saveAsGermanExcel(file, [header, ...fixed]);
    reloadRun = runCli(['rejects', 'reload', runDir(first), '--target', target, '--json'], { cwd: demo.dir });
    reload = JSON.parse(reloadRun.stdout) as Report;
  });

  it('loads the rows that now pass and links the new run to the old one', () => {
    expect(reloadRun.code, reloadRun.stderr).toBe(0);
    expect(reload.command).toBe('rejects reload');
    expect(reload.status).toBe('succeeded');
    expect(reload.follows?.run_id).toBe(first.run_id);
    const items = entityOf(reload, 'items');
    expect({ read: items.read, loaded: items.loaded, rejected: items.rejected }).toEqual({ read: 6, loaded: 3, rejected: 3 });
    // BG-2012/100 was rejected only because its component TN-3050 was: it passes now.
    const bom = entityOf(reload, 'bom_lines');
    expect({ read: bom.read, loaded: bom.loaded, rejected: bom.rejected }).toEqual({ read: 11, loaded: 1, rejected: 10 });
    for (const e of reload.entities) expect(e.read).toBe(e.loaded + e.filtered + e.duplicates_dropped + e.rejected);
  });

  it('reads the ;-separated Windows-1252 file right: the umlaut and Ø arrive intact in the store', () => {
    const d = new Database(db, { readonly: true });
    try {
      expect((d.prepare('SELECT COUNT(*) AS n FROM items').get() as { n: number }).n).toBe(entityOf(first, 'items').loaded + 3);
      expect(d.prepare("SELECT description, standard_cost FROM items WHERE item_code = 'TN-3092'").get()).toEqual({ description: 'Passscheibe Ø 12 für Welle', standard_cost: '1.1000' });
      expect(d.prepare("SELECT uom FROM items WHERE item_code = 'TN-3091'").get()).toEqual({ uom: 'EA' });
      expect(d.prepare("SELECT standard_cost FROM items WHERE item_code = 'TN-3050'").get()).toEqual({ standard_cost: '0.0850' });
      expect((d.prepare("SELECT COUNT(*) AS n FROM bom_lines WHERE parent_item = 'BG-2012' AND line_no = 100").get() as { n: number }).n).toBe(1);
      const entry = d.prepare('SELECT command, status, counts FROM forklift_runs WHERE id = ?').get(reload.run_id) as { command: string; status: string; counts: string };
      expect(entry.command).toBe('rejects reload');
      expect(JSON.parse(entry.counts)).toMatchObject({ follows: first.run_id, items: { read: 6, loaded: 3, rejected: 3 } });
    } finally {
      d.close();
    }
  });

  it('writes the rows still failing to new rejects files: UTF-8 with a BOM, the source columns exactly, then the meta columns', () => {
    const file = path.join(runDir(reload), 'rejects', 'items.csv');
    const bytes = readFileSync(file);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const original = readRejects(path.join(runDir(first), 'rejects', 'bom_lines.csv'))[0]!;
    const rows = readRejects(file);
    expect(rows[0]).toEqual(['ITEMNO', 'DESC1', 'DESC2', 'TYPE', 'UOM', 'GRP', 'STDCOST', 'LT_WEEKS', 'STATUS', ...META]);
    expect(rows.slice(1).map((r) => r[0]).sort()).toEqual(['TN-3093', 'TN-3094', 'VM-4090']);
    // text as read: the decimal comma stays a decimal comma
    expect(rows.find((r) => r[0] === 'TN-3093')![6]).toBe('-12,5000');
    expect(readRejects(path.join(runDir(reload), 'rejects', 'bom_lines.csv'))[0]).toEqual(original);
  });

  it('runs diff: per entity the ledgers side by side and the rejects fixed, still failing and new, by source key', () => {
    const r = runCli(['runs', 'diff', first.run_id, reload.run_id, '--plan', demo.plan, '--json'], { cwd: demo.dir });
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as {
      totals: { rejected_a: number; rejected_b: number; fixed: number; still_failing: number; new: number; deleted_from_file: number };
      entities: { entity: string; in: string; key: string[]; a: Entity; b: Entity; fixed: { key: string }[]; still_failing: { key: string }[]; new: { key: string }[]; deleted_from_file: number }[];
    };
    const items = d.entities.find((e) => e.entity === 'items')!;
    expect(items.key).toEqual(['ITEMNO']);
    // The wrong TN-3050 row was deleted from A's rejects file in place: counted as such, not as fixed.
    expect(items.fixed.map((x) => x.key).sort()).toEqual(['TN-3050', 'TN-3091', 'TN-3092']);
    expect(items.deleted_from_file).toBe(1);
    expect(items.still_failing.map((x) => x.key).sort()).toEqual(['TN-3093', 'TN-3094', 'VM-4090']);
    expect(items.new).toEqual([]);
    expect([items.a.rejected, items.b.rejected]).toEqual([7, 3]);
    const bom = d.entities.find((e) => e.entity === 'bom_lines')!;
    expect(bom.key).toEqual(['PARENT', 'LINE']);
    expect(bom.fixed.map((x) => x.key)).toEqual(['BG-2012 | 100']);
    expect(d.totals).toEqual({ rejected_a: 27, rejected_b: 22, fixed: 4, still_failing: 22, new: 0, deleted_from_file: 1, rekeyed: 0, only_in_a: { rejects: 0, entities: [] }, only_in_b: { rejects: 0, entities: [] } });

    const text = runCli(['runs', 'diff', first.run_id, reload.run_id, '--plan', demo.plan], { cwd: demo.dir });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain("rejects 27 → 22: 4 fixed, 22 still failing, 0 new, 1 deleted from run A's rejects file by hand");
    expect(text.stdout).toMatch(/items\s+117 → 6\s+105 → 3\s+4 → 0\s+1 → 0\s+7 → 3\s+3\s+3\s+0$/m);

    const html = runCli(['runs', 'diff', runDir(first), runDir(reload), '--format', 'html'], { cwd: demo.dir });
    expect(html.code, html.stderr).toBe(0);
    expect(html.stdout).toMatch(/^<!doctype html>/);
    expect(html.stdout).toContain('<table class="fixed">');
    expect(html.stdout).not.toMatch(/<script|https?:\/\//);
  });

  it('runs list: both runs with per-entity counts, from the run folders and the target’s ledger', () => {
    const r = runCli(['runs', 'list', '--plan', demo.plan, '--target', target, '--json'], { cwd: demo.dir });
    expect(r.code, r.stderr).toBe(0);
    const l = JSON.parse(r.stdout) as { runs: { id: string; command: string; follows: string | null; in_ledger: boolean; entities: Record<string, { rejected: number }> }[] };
    expect(l.runs.map((x) => [x.id, x.command, x.follows, x.in_ledger])).toEqual([
      [first.run_id, 'migrate', null, true],
      [reload.run_id, 'rejects reload', first.run_id, true],
    ]);
    expect(l.runs[1]!.entities.items!.rejected).toBe(3);
    const text = runCli(['runs', 'list', '--plan', demo.plan], { cwd: demo.dir });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`${reload.run_id}\\s+rejects reload\\s+succeeded\\s+\\S+\\s+${first.run_id}\\s+3/3\\s+1/10\\s+0/3\\s+0/6$`, 'm'));
    // The plan as an argument, as migrate takes it (oclif read it as a subcommand before: "command runs:list:… not found").
    const positional = runCli(['runs', 'list', demo.plan], { cwd: demo.dir });
    expect(positional.code, positional.stderr).toBe(0);
    expect(positional.stdout).toBe(text.stdout);
    const twice = runCli(['runs', 'list', demo.plan, '--plan', 'other.yaml'], { cwd: demo.dir });
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/^Error: two plans given: .*forklift\.yaml and --plan other\.yaml\nHint: Give the plan once/);
  });

  it('report.html of the reload links to the run it follows and shows the trend of rejects', () => {
    expect(reload.trend.map((t) => [t.run_id, t.rejected])).toEqual([
      [first.run_id, 27],
      [reload.run_id, 22],
    ]);
    const html = readFileSync(path.join(runDir(reload), 'report.html'), 'utf8');
    expect(html).toContain(`<a href="../${first.run_id}/report.html">${first.run_id}</a>`);
    expect(existsSync(path.join(runDir(reload), '..', first.run_id, 'report.html'))).toBe(true);
    expect(html).toMatch(/<svg class="trend"[^>]*>.*data-run="[^"]+" data-count="27".*class="run current" data-run="[^"]+" data-count="22"/s);
  });

  it('a second reload of only items, fixing the rest, leaves a run with no rejects; reloading that says so', () => {
    const file = path.join(runDir(reload), 'rejects', 'items.csv');
    const [header, ...data] = readRejects(file) as [string[], ...string[][]];
    const col = (n: string): number => header.indexOf(n);
    const fixed = data.map((r) => {
      const out = [...r];
      if (out[0] === 'TN-3093') out[col('STDCOST')] = '12,5000';
      if (out[0] === 'TN-3094') out[col('TYPE')] = 'C';
      if (out[0] === 'VM-4090') out[col('UOM')] = 'PCS';
      return out;
    });
    // This time without the meta columns: they are ignored anyway, and may be deleted.
    writeFileSync(file, '\ufeff' + stringify([header.slice(0, -META.length), ...fixed.map((r) => r.slice(0, -META.length))]));
    // The extraction thread (used for large sources) reads the rejects file too, not the mapping's source.
    const r = runCli(['rejects', 'reload', runDir(reload), '--entity', 'items', '--target', target, '--json'], { cwd: demo.dir, env: { FORKLIFT_EXTRACT_THREAD: 'always' } });
    expect(r.code, r.stderr).toBe(0);
    const third = JSON.parse(r.stdout) as Report;
    expect(third.entities.map((e) => [e.entity, e.loaded, e.rejected])).toEqual([['items', 3, 0]]);
    // still open: items 0, the others as the run before left them
    expect(third.trend.map((t) => t.rejected)).toEqual([27, 22, 19]);
    const again = runCli(['rejects', 'reload', runDir(third)], { cwd: demo.dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(`run ${third.run_id} has no rejects: nothing to reload`);
  });

  it("runs diff compares run B's rejects as B wrote them, not its rejects file as since fixed in place for the next reload", () => {
    // The reload before fixed B's items file in place (cells changed); a row deleted from it too.
    const file = path.join(runDir(reload), 'rejects', 'items.csv');
    const [header, ...data] = readRejects(file) as [string[], ...string[][]];
    writeFileSync(file, '\ufeff' + stringify([header, ...data.filter((r) => r[0] !== 'VM-4090')]));
    const r = runCli(['runs', 'diff', first.run_id, reload.run_id, '--plan', demo.plan, '--json'], { cwd: demo.dir });
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as { totals: Record<string, unknown>; entities: { entity: string; fixed: { key: string }[]; still_failing: { key: string }[] }[] };
    const items = d.entities.find((e) => e.entity === 'items')!;
    expect(items.fixed.map((x) => x.key).sort()).toEqual(['TN-3050', 'TN-3091', 'TN-3092']);
    expect(items.still_failing.map((x) => x.key).sort()).toEqual(['TN-3093', 'TN-3094', 'VM-4090']);
    expect(d.totals).toMatchObject({ rejected_a: 27, rejected_b: 22, fixed: 4, still_failing: 22, new: 0, deleted_from_file: 1 });
  });

  it('reloads rows of an Excel source (stock balances): the cells as written in the rejects file, exact decimals and dates', () => {
    const file = path.join(runDir(first), 'rejects', 'stock_balances.csv');
    const [header, ...rows] = readRejects(file) as [string[], ...string[][]];
    expect(header.slice(0, 7)).toEqual(['Artikel', 'Lager', 'Charge', 'Menge', 'Wert', 'Stichtag', 'Bemerkung']);
    const fixed = rows.map((r) => (r[0] === 'TN-3018' ? [r[0], r[1]!, r[2]!, '24', '19.43', ...r.slice(5)] : r));
    writeFileSync(file, '\ufeff' + stringify([header, ...fixed]));
    const r = runCli(['rejects', 'reload', runDir(first), '--entity', 'stock_balances', '--target', target, '--json'], { cwd: demo.dir });
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as Report).entities.map((e) => [e.entity, e.read, e.loaded, e.rejected])).toEqual([['stock_balances', 3, 1, 2]]);
    const d = new Database(db, { readonly: true });
    try {
      expect(d.prepare("SELECT qty, value, as_of, lot FROM stock_balances WHERE item_code = 'TN-3018' AND warehouse = 'L150'").get()).toEqual({ qty: '24.000000', value: '19.43', as_of: '2025-12-31', lot: '' });
    } finally {
      d.close();
    }
  });
});

const CHROMIUM = '/usr/bin/chromium';

describe('runs diff of two rehearsals: the source fixed between two migrate runs', () => {
  let demo: { dir: string; plan: string };
  let a: Report;
  let b: Report;

  beforeAll(() => {
    demo = demoCopy();
    const target = `sqlite:${path.join(demo.dir, 'rehearsal.db')}`;
    const first = runCli(['migrate', demo.plan, '--target', target, '--json'], { cwd: demo.dir });
    expect(first.code, first.stderr).toBe(0);
    a = JSON.parse(first.stdout) as Report;
    // Between the rehearsals the legacy export is corrected (TN-3091's unit), and the machine log
    // export, run again, breaks a row that was fine (CNC-02's first state).
    const file = path.join(demo.dir, 'fixtures', 'demo', 'ITEMMAST.CSV');
    const text = iconv.decode(readFileSync(file), 'windows-1252');
    const edited = text.replace('TN-3091;Dichtungsband PTFE;12 mm;R;XYZ;', 'TN-3091;Dichtungsband PTFE;12 mm;R;PCS;');
    expect(edited).not.toBe(text);
    writeFileSync(file, iconv.encode(edited, 'windows-1252'));
    const log = path.join(demo.dir, 'fixtures', 'demo', 'MACHLOG.CSV');
    writeFileSync(log, readFileSync(log, 'utf8').replace('CNC-02,2025-11-03 06:01:13,R,', 'CNC-02,2025-11-03 06:01:13,Z,'));
    const second = runCli(['migrate', demo.plan, '--target', target, '--json'], { cwd: demo.dir });
    expect(second.code, second.stderr).toBe(0);
    b = JSON.parse(second.stdout) as Report;
  });

  it('shows per entity the two ledgers and the rejects fixed, still failing and new, by source key', () => {
    const r = runCli(['runs', 'diff', a.run_id, b.run_id, '--plan', demo.plan, '--json'], { cwd: demo.dir });
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as { entities: { entity: string; a: Entity; b: Entity; fixed: { key: string }[]; still_failing: { key: string }[]; new: { key: string; rule: string; reason: string }[] }[] };
    const items = d.entities.find((e) => e.entity === 'items')!;
    expect(items.fixed.map((x) => x.key)).toEqual(['TN-3091']);
    expect(items.still_failing).toHaveLength(6);
    expect(items.new).toEqual([]);
    const events = d.entities.find((e) => e.entity === 'machine_events')!;
    expect(events.new.map((x) => [x.key, x.rule])).toEqual([['CNC-02 | 2025-11-03 06:01:13', 'value-map']]);
    expect(events.still_failing).toHaveLength(6);
    expect([items.a.loaded, items.b.loaded]).toEqual([105, 106]);
    expect(d.entities.find((e) => e.entity === 'bom_lines')!.fixed).toEqual([]);
    const text = runCli(['runs', 'diff', a.run_id, b.run_id, '--plan', demo.plan], { cwd: demo.dir });
    expect(text.stdout).toMatch(/^items\s+117 → 117\s+105 → 106\s+4 → 4\s+1 → 1\s+7 → 6\s+1\s+6\s+0$/m);
    expect(text.stdout).toContain("  new 1:\n    CNC-02 | 2025-11-03 06:01:13  value-map: 'Z' is not in the value map of state");
    expect(text.stdout).toContain('rejects 27 → 27: 1 fixed, 26 still failing, 1 new');
  });

  it("counts no row as deleted by hand from A's rejects file: B read the sources, not that file", () => {
    // A consultant fixing A's file in place deleted TN-3091's row; the source fix reached B, not the edit.
    const file = path.join(demo.dir, a.run_dir, 'rejects', 'items.csv');
    const [header, ...data] = readRejects(file) as [string[], ...string[][]];
    writeFileSync(file, '\ufeff' + stringify([header, ...data.filter((r) => r[0] !== 'TN-3091')]));
    const r = runCli(['runs', 'diff', a.run_id, b.run_id, '--plan', demo.plan, '--json'], { cwd: demo.dir });
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as { totals: Record<string, unknown>; entities: { entity: string; fixed: { key: string }[]; deleted_from_file: number }[] };
    const items = d.entities.find((e) => e.entity === 'items')!;
    expect(items.fixed.map((x) => x.key)).toEqual(['TN-3091']);
    expect(items.deleted_from_file).toBe(0);
    expect(d.totals).toMatchObject({ rejected_a: 27, rejected_b: 27, fixed: 1, still_failing: 26, new: 1, deleted_from_file: 0 });
    const text = runCli(['runs', 'diff', a.run_id, b.run_id, '--plan', demo.plan], { cwd: demo.dir });
    expect(text.stdout).toContain('rejects 27 → 27: 1 fixed, 26 still failing, 1 new');
    expect(text.stdout).not.toContain('deleted from run A');
  });

  it.skipIf(!existsSync(CHROMIUM))('report.html of the second rehearsal shows the trend across both runs in Chromium', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM });
    try {
      const page = await browser.newPage();
      await page.goto(pathToFileURL(path.join(demo.dir, b.run_dir, 'report.html')).href);
      const bars = page.locator('svg.trend g.run');
      expect(await bars.count()).toBe(2);
      const total = (r: Report): number => r.entities.reduce((n, e) => n + e.rejected, 0);
      expect(await bars.evaluateAll((gs) => gs.map((g) => [g.getAttribute('data-run'), g.querySelector('text.n')?.textContent]))).toEqual([
        [a.run_id, String(total(a))],
        [b.run_id, String(total(b))],
      ]);
      expect(await page.locator('svg.trend g.current').getAttribute('data-run')).toBe(b.run_id);
      const box = await page.locator('svg.trend g.current rect').boundingBox();
      expect(box?.width).toBeGreaterThan(100);
      expect(await page.locator('.trend-line').innerText()).toBe(`${total(a)} → ${total(b)} rejects over the last 2 runs (this run in dark red).`);
    } finally {
      await browser.close();
    }
  });
});

describe('rejects reload: bad input', () => {
  let demo: { dir: string; plan: string };
  let run: string;
  let original: Buffer;
  const items = (): string => path.join(run, 'rejects', 'items.csv');

  beforeAll(() => {
    demo = demoCopy();
    const m = runCli(['migrate', demo.plan, '--target', `sqlite:${path.join(demo.dir, 'bad.db')}`, '--json'], { cwd: demo.dir });
    expect(m.code, m.stderr).toBe(0);
    run = path.join(demo.dir, (JSON.parse(m.stdout) as Report).run_dir);
    original = readFileSync(items());
  });

  const withHeader = (change: (h: string[]) => string[], rows?: (r: string[]) => string[]): ReturnType<typeof runCli> => {
    const [header, ...data] = readRejects(items()) as [string[], ...string[][]];
    writeFileSync(items(), '\ufeff' + stringify([change(header), ...data.map(rows ?? ((r) => r))]));
    try {
      return runCli(['rejects', 'reload', run, '--entity', 'items', '--target', `sqlite:${path.join(demo.dir, 'bad.db')}`], { cwd: demo.dir });
    } finally {
      writeFileSync(items(), original);
    }
  };

  it('a renamed source column: exit 2 naming it and its new name', () => {
    const r = withHeader((h) => h.map((c) => (c === 'DESC1' ? 'Beschreibung 1' : c)));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("column 'DESC1' was renamed to 'Beschreibung 1' (column 2)");
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it('reordered source columns: exit 2 naming the column that moved', () => {
    const swap = (r: string[]): string[] => [r[0]!, r[2]!, r[1]!, ...r.slice(3)];
    const r = withHeader(swap, swap);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("column 'DESC1' was moved: it is column 3, the source has it as column 2");
  });

  it('a removed source column: exit 2 naming it', () => {
    const drop = (r: string[]): string[] => r.filter((_, i) => i !== 5);
    const r = withHeader(drop, drop);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("column 'GRP' was removed");
  });

  it('an added column: exit 2 naming it; --json carries the same error', () => {
    const r = withHeader((h) => [...h.slice(0, 9), 'Kommentar', ...h.slice(9)], (x) => [...x.slice(0, 9), 'ok', ...x.slice(9)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("column 'Kommentar' is not a column of the source");
  });

  it('a file saved as Excel "Unicode Text" (UTF-16LE with a BOM, tab-separated) is detected and read right', () => {
    const rows = readRejects(items());
    writeFileSync(items(), Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(stringify(rows, { delimiter: '\t', record_delimiter: 'windows' }), 'utf16le')]));
    try {
      const r = runCli(['rejects', 'reload', run, '--entity', 'items', '--target', `sqlite:${path.join(demo.dir, 'bad.db')}`, '--json'], { cwd: demo.dir });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as Report;
      // nothing fixed: the same seven rows fail for the same reasons
      expect(report.entities.map((e) => [e.entity, e.read, e.rejected])).toEqual([['items', 7, 7]]);
      expect(readRejects(path.join(demo.dir, report.run_dir, 'rejects', 'items.csv')).slice(1).map((x) => x.slice(0, 9))).toEqual(rows.slice(1).map((x) => x.slice(0, 9)));
    } finally {
      writeFileSync(items(), original);
    }
  });

  it('an unnamed empty column a spreadsheet saved after the data is not taken for a source column', () => {
    const rows = readRejects(items()).map((r) => [...r, '']);
    writeFileSync(items(), '\ufeff' + stringify(rows));
    try {
      const r = runCli(['rejects', 'reload', run, '--entity', 'items', '--target', `sqlite:${path.join(demo.dir, 'bad.db')}`, '--json'], { cwd: demo.dir });
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as Report & { entities: { source_columns: string[] }[] };
      expect(report.entities[0]!.source_columns).toEqual(['ITEMNO', 'DESC1', 'DESC2', 'TYPE', 'UOM', 'GRP', 'STDCOST', 'LT_WEEKS', 'STATUS']);
      expect(readRejects(path.join(demo.dir, report.run_dir, 'rejects', 'items.csv'))[0]).toEqual(['ITEMNO', 'DESC1', 'DESC2', 'TYPE', 'UOM', 'GRP', 'STDCOST', 'LT_WEEKS', 'STATUS', ...META]);
    } finally {
      writeFileSync(items(), original);
    }
  });

  it('a run folder that does not exist, and a folder that is not a run: exit 2 with a clear message', () => {
    const r = runCli(['rejects', 'reload', path.join(demo.dir, 'runs', 'nope')], { cwd: demo.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Error: .*nope: no such run folder/);
    const j = runCli(['rejects', 'reload', demo.dir, '--json'], { cwd: demo.dir });
    expect(j.code).toBe(2);
    expect((JSON.parse(j.stdout) as { error: { message: string } }).error.message).toContain('not a run folder (it has no report.json)');
  });

  it('a reload without --target into a plan whose target is not the run’s: exit 2 naming both, nothing loaded', () => {
    const r = runCli(['rejects', 'reload', run, '--entity', 'items'], { cwd: demo.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`loaded into sqlite:${path.join(demo.dir, 'bad.db')}, the plan's target is sqlite:${path.join(demo.dir, 'mappings', 'demo', 'forklift.db')}: the reload would load into another store`);
    expect(r.stderr).toContain(`Hint: Give the run's target: --target sqlite:${path.join(demo.dir, 'bad.db')}`);
    expect(existsSync(path.join(demo.dir, 'mappings', 'demo', 'forklift.db'))).toBe(false);
  });

  it('a store that does not hold the run: a SQLite file gone is exit 1 as for every store to read, one recreated or another store exit 2 naming the run; nothing created or loaded', () => {
    const bad = path.join(demo.dir, 'bad.db');
    const moved = path.join(demo.dir, 'bad-moved.db');
    renameSync(bad, moved);
    try {
      // The file is gone: the reload would create an empty database holding only the fixed rows.
      const gone = runCli(['rejects', 'reload', run, '--entity', 'items', '--target', `sqlite:${bad}`], { cwd: demo.dir });
      expect(gone.code, gone.stdout + gone.stderr).toBe(1);
      expect(gone.stderr).toContain('no such database file');
      expect(gone.stderr).not.toMatch(/\n\s+at /);
      expect(existsSync(bad)).toBe(false);
      // A database that is there but never saw the run (recreated, or another store given with --target).
      const other = path.join(demo.dir, 'other.db');
      new Database(other).close();
      const r = runCli(['rejects', 'reload', run, '--entity', 'items', '--target', `sqlite:${other}`, '--json'], { cwd: demo.dir });
      expect(r.code, r.stdout + r.stderr).toBe(2);
      const err = (JSON.parse(r.stdout) as { error: { message: string; hint: string } }).error;
      expect(err.message).toContain(`does not hold run ${path.basename(run)}`);
      expect(err.hint).toContain(`--target sqlite:${bad}`);
      const db = new Database(other, { readonly: true });
      try {
        expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all()).toEqual([]);
      } finally {
        db.close();
      }
    } finally {
      renameSync(moved, bad);
    }
  });

  it('--entity of an entity without rejects, or not in the run: exit 2', () => {
    const r = runCli(['rejects', 'reload', run, '--entity', 'itemz'], { cwd: demo.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("has no entity itemz, did you mean 'items'?");
  });

  it('a run that committed nothing (validate): exit 2, nothing loaded', () => {
    const v = runCli(['validate', demo.plan, '--json'], { cwd: demo.dir });
    expect(v.code, v.stderr).toBe(0);
    const dir = path.join(demo.dir, (JSON.parse(v.stdout) as Report).run_dir);
    const r = runCli(['rejects', 'reload', dir], { cwd: demo.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('committed nothing (validate, validated)');
  });

  it("runs diff of a reload of one entity counts the other entities' rejects as still open, not as gone", () => {
    const r = runCli(['rejects', 'reload', run, '--entity', 'items', '--target', `sqlite:${path.join(demo.dir, 'bad.db')}`, '--json'], { cwd: demo.dir });
    expect(r.code, r.stderr).toBe(0);
    const reload = JSON.parse(r.stdout) as Report;
    const first = path.basename(run);
    const json = runCli(['runs', 'diff', first, reload.run_id, '--plan', demo.plan, '--json'], { cwd: demo.dir });
    expect(json.code, json.stderr).toBe(0);
    const d = JSON.parse(json.stdout) as { totals: { rejected_a: number; rejected_b: number; still_failing: number; only_in_a: unknown; only_in_b: unknown } };
    expect(d.totals).toMatchObject({ rejected_a: 27, rejected_b: 7, still_failing: 7, only_in_a: { rejects: 20, entities: ['bom_lines', 'stock_balances', 'machine_events'] }, only_in_b: { rejects: 0, entities: [] } });
    const text = runCli(['runs', 'diff', first, reload.run_id, '--plan', demo.plan], { cwd: demo.dir });
    expect(text.stdout).toContain("rejects 27 → 7: 0 fixed, 7 still failing, 0 new; 20 of run A's rejects still open, not reloaded (bom_lines, stock_balances, machine_events)");
  });
});

describe('rejects reload over the reject limit', () => {
  it('commits nothing, exits 3 (also with --json) and puts the attempt on record, linked to the run it follows', () => {
    const demo = demoCopy();
    writeFileSync(demo.plan, readFileSync(demo.plan, 'utf8').replace('reject_limit: 10%', 'reject_limit: 6.5%'));
    const db = path.join(demo.dir, 'limit.db');
    const m = runCli(['migrate', demo.plan, '--target', `sqlite:${db}`, '--json'], { cwd: demo.dir });
    expect(m.code, m.stderr).toBe(0);
    const first = JSON.parse(m.stdout) as Report;
    const file = path.join(demo.dir, first.run_dir, 'rejects', 'items.csv');
    const [header, ...rows] = readRejects(file) as [string[], ...string[][]];
    // Fix one row, but paste in two more that fail: 8 of the 117 source rows = 6.8% > 6.5%
    const fixed = rows.map((r) => (r[0] === 'TN-3091' ? r.map((c, i) => (header[i] === 'UOM' ? 'PCS' : c)) : r));
    const extra = [rows[1]!.map((c, i) => (i === 0 ? 'TN-3097' : c)), rows[1]!.map((c, i) => (i === 0 ? 'TN-3098' : c))];
    writeFileSync(file, '\ufeff' + stringify([header, ...fixed, ...extra]));
    const r = runCli(['rejects', 'reload', path.join(demo.dir, first.run_dir), '--entity', 'items', '--target', `sqlite:${db}`, '--json'], { cwd: demo.dir });
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout) as { error: { message: string }; result: Report };
    expect(out.error.message).toBe('nothing was committed: items: 8 of 117 rows rejected (6.84%), over the reject_limit of 6.5%');
    expect(out.result.committed).toBe(false);
    const d = new Database(db, { readonly: true });
    try {
      expect(d.prepare("SELECT COUNT(*) AS n FROM items WHERE item_code = 'TN-3091'").get()).toEqual({ n: 0 });
      const entry = d.prepare('SELECT command, status, counts FROM forklift_runs WHERE id = ?').get(out.result.run_id) as { command: string; status: string; counts: string };
      expect([entry.command, entry.status, (JSON.parse(entry.counts) as { follows: string }).follows]).toEqual(['rejects reload', 'rejected', first.run_id]);
    } finally {
      d.close();
    }
    const text = runCli(['rejects', 'reload', path.join(demo.dir, first.run_dir), '--entity', 'items', '--target', `sqlite:${db}`], { cwd: demo.dir });
    expect(text.code).toBe(3);
  });
});

describe('runs diff after a rejects file was edited beyond fixing: rows re-keyed and added', () => {
  it('compares with the rejects as run A wrote them: 1 fixed, 1 deleted or re-keyed, 1 new; the fixed one with its rule', () => {
    const dir = tempDir('forklift-rekey-');
    writeFileSync(path.join(dir, 'forklift.yaml'), 'name: rekey\ntarget: sqlite:./t.db\nmappings: [items.yaml]\nreject_limit: 100%\n');
    writeFileSync(path.join(dir, 'items.yaml'), 'entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: DESC }\n  uom: { from: UOM, values: { EA: EA, PCS: EA } }\n  active: { const: true }\n');
    writeFileSync(path.join(dir, 'items.csv'), 'CODE,DESC,UOM\nA1,fine,EA\nB1,bad one,BOX\nB2,bad two,XYZ\n');
    const a = JSON.parse(runCli(['migrate', '--json'], { cwd: dir }).stdout) as Report;
    expect(entityOf(a, 'items').rejected).toBe(2);
    const file = path.join(dir, a.run_dir, 'rejects', 'items.csv');
    const [header] = readRejects(file) as [string[]];
    // B1 fixed; B2 re-keyed to C2 and fixed; two rows added, one of them still wrong.
    writeFileSync(file, '\ufeff' + stringify([header.slice(0, 3), ['B1', 'bad one', 'PCS'], ['C2', 'bad two fixed', 'EA'], ['N1', 'new one', 'EA'], ['N2', 'new two', 'QQQ']]));
    const b = JSON.parse(runCli(['rejects', 'reload', path.join(dir, a.run_dir), '--json'], { cwd: dir }).stdout) as Report;
    expect(entityOf(b, 'items')).toMatchObject({ read: 4, loaded: 3, rejected: 1 });
    const r = runCli(['runs', 'diff', a.run_id, b.run_id, '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as { totals: Record<string, unknown>; entities: { fixed: { key: string; rule: string }[]; still_failing: unknown[]; new: { key: string }[]; deleted_from_file: number }[] };
    expect(d.totals).toMatchObject({ rejected_a: 2, rejected_b: 1, fixed: 1, still_failing: 0, new: 1, deleted_from_file: 1 });
    expect(d.entities[0]!.fixed).toEqual([expect.objectContaining({ key: 'B1', rule: 'value-map' })]);
    expect(d.entities[0]!.new.map((x) => x.key)).toEqual(['N2']);
    // The copy is the run's, untouched by the edit.
    expect(readRejects(path.join(dir, a.run_dir, 'rejects-as-written', 'items.csv')).map((row) => row[0])).toEqual(['CODE', 'B1', 'B2']);
  });
});

describe('runs diff across a chain of reloads: rows deleted from the first rejects file by hand', () => {
  it('counts them as deleted by hand, not as fixed, where B reloads a reload of A', () => {
    const dir = tempDir('forklift-chain-');
    writeFileSync(path.join(dir, 'forklift.yaml'), 'name: chain\ntarget: sqlite:./t.db\nmappings: [items.yaml]\nreject_limit: 100%\n');
    writeFileSync(path.join(dir, 'items.yaml'), 'entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: DESC }\n  uom: { from: UOM, values: { EA: EA, PCS: EA } }\n  active: { const: true }\n');
    writeFileSync(path.join(dir, 'items.csv'), 'CODE,DESC,UOM\nA1,fine,EA\nB1,bad one,BOX\nB2,bad two,XYZ\nB3,bad three,QQ\n');
    const a = JSON.parse(runCli(['migrate', '--json'], { cwd: dir }).stdout) as Report;
    expect(entityOf(a, 'items').rejected).toBe(3);
    // B1 fixed, B2 left as it is, B3 deleted by hand; then B2 fixed in the reload's own file.
    const fileA = path.join(dir, a.run_dir, 'rejects', 'items.csv');
    const [header] = readRejects(fileA) as [string[]];
    writeFileSync(fileA, '\ufeff' + stringify([header.slice(0, 3), ['B1', 'bad one', 'PCS'], ['B2', 'bad two', 'XYZ']]));
    const b1 = JSON.parse(runCli(['rejects', 'reload', path.join(dir, a.run_dir), '--json'], { cwd: dir }).stdout) as Report;
    expect(entityOf(b1, 'items')).toMatchObject({ read: 2, loaded: 1, rejected: 1 });
    writeFileSync(path.join(dir, b1.run_dir, 'rejects', 'items.csv'), '\ufeff' + stringify([header.slice(0, 3), ['B2', 'bad two', 'EA']]));
    const b = JSON.parse(runCli(['rejects', 'reload', path.join(dir, b1.run_dir), '--json'], { cwd: dir }).stdout) as Report;
    expect(entityOf(b, 'items')).toMatchObject({ read: 1, loaded: 1, rejected: 0 });
    const r = runCli(['runs', 'diff', a.run_id, b.run_id, '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const d = JSON.parse(r.stdout) as { totals: Record<string, unknown>; entities: { fixed: { key: string }[] }[] };
    expect(d.totals).toMatchObject({ rejected_a: 3, rejected_b: 0, fixed: 2, still_failing: 0, new: 0, deleted_from_file: 1 });
    expect(d.entities[0]!.fixed.map((x) => x.key).sort()).toEqual(['B1', 'B2']);
  });
});

describe('the rejects trend of report.html, with two plans of the same name in one folder', () => {
  it('is the runs of this plan file, across its edits, and none of the other plan', () => {
    const { dir, plan } = demoCopy();
    const text = readFileSync(plan, 'utf8');
    expect(text).toMatch(/^name: hanse-pumpen-demo$/m);
    // A variant tried beside the main plan, its name: copied with the rest.
    const other = path.join(path.dirname(plan), 'other.yaml');
    writeFileSync(other, text.replace('reject_limit: 10%', 'reject_limit: 50%'));
    const validate = (file: string): Report => {
      const r = runCli(['validate', file, '--json'], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Report;
    };
    const a = validate(plan);
    const b = validate(other);
    // The plan edited between its runs: still its trend.
    writeFileSync(plan, text.replace('reject_limit: 10%', 'reject_limit: 12%'));
    const c = validate(plan);
    expect(c.trend.map((t) => t.run_id)).toEqual([a.run_id, c.run_id]);
    const d = validate(other);
    expect(d.trend.map((t) => t.run_id)).toEqual([b.run_id, d.run_id]);
    const html = readFileSync(path.join(dir, c.run_dir, 'report.html'), 'utf8');
    expect(html).toContain(`data-run="${a.run_id}"`);
    expect(html).not.toContain(`data-run="${b.run_id}"`);
  });
});

describe('rejects reload of a run the target has since loaded over', () => {
  it('says which later migrate loaded those entities, and reloads', () => {
    const demo = demoCopy();
    const target = `sqlite:${path.join(demo.dir, 'over.db')}`;
    const a = runCli(['migrate', demo.plan, '--target', target, '--json'], { cwd: demo.dir });
    expect(a.code, a.stderr).toBe(0);
    const c = runCli(['migrate', demo.plan, '--target', target, '--json'], { cwd: demo.dir });
    expect(c.code, c.stderr).toBe(0);
    const first = JSON.parse(a.stdout) as Report;
    const later = JSON.parse(c.stdout) as Report;
    const r = runCli(['rejects', 'reload', path.join(demo.dir, first.run_dir), '--entity', 'items', '--target', target], { cwd: demo.dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('rejects reload hanse-pumpen-demo');
    expect(r.stderr).toContain(`run ${later.run_id} (migrate, ${later.started}) loaded items into this store after run ${first.run_id}: the reload upserts the fixed rows of run ${first.run_id} over what it loaded`);
    // The reload of the latest run says nothing of the kind.
    const latest = runCli(['rejects', 'reload', path.join(demo.dir, later.run_dir), '--entity', 'items', '--target', target], { cwd: demo.dir });
    expect(latest.code, latest.stderr).toBe(0);
    expect(latest.stderr).not.toContain('into this store after run');
  });
});
