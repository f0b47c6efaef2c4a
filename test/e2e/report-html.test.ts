import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, demoCopy, runCli } from '../helpers.js';

/**
 * report.html of the demo, opened from disk in headless Chromium (Debian's package, driven by
 * playwright-core: never a downloaded browser), checked for what a consultant sees. Without
 * /usr/bin/chromium it skips with a message, except under CI, where it fails (.ci/run installs it).
 */
const CHROMIUM = '/usr/bin/chromium';
const HAS_CHROMIUM = existsSync(CHROMIUM);
const CI = Boolean(process.env.CI);
if (!HAS_CHROMIUM) console.warn(`${CHROMIUM} not found (apt-get install -y chromium): the report.html browser test is skipped${CI ? ' (CI: failing instead)' : ''}`);

interface Expected {
  ledger: Record<string, { read: number; filtered: number; duplicates_dropped: number; rejected: number; loaded: number }>;
  not_loaded: Record<string, { line: number; fate: string; field?: string; rule?: string }[]>;
}
interface Report {
  run_dir: string;
  entities: {
    entity: string;
    rejected: number;
    rejects_by_rule: Record<string, number>;
    first_rejects: { position: string; field: string; rule: string; reason: string }[];
    missing_values: Record<string, number>;
  }[];
}
const expected = JSON.parse(readFileSync(path.join(ROOT, 'fixtures', 'demo', 'expected.json'), 'utf8')) as Expected;
const num = (n: number): string => n.toLocaleString('en-US');

describe.runIf(!HAS_CHROMIUM && CI)('report.html in Chromium (CI)', () => {
  it('needs /usr/bin/chromium', () => {
    expect.fail(`${CHROMIUM} is missing: .ci/run installs it with apt-get install -y chromium`);
  });
});

describe.skipIf(!HAS_CHROMIUM)('report.html of the demo in headless Chromium', () => {
  let browser: Browser;
  let page: Page;
  let report: Report;
  let html: string;
  let db: string;
  const requests: string[] = [];

  beforeAll(async () => {
    const demo = demoCopy();
    db = path.join(demo.dir, 'demo.db');
    const r = runCli(['migrate', demo.plan, '--target', `sqlite:${db}`, '--json'], { cwd: demo.dir });
    expect(r.code, r.stderr).toBe(0);
    report = JSON.parse(r.stdout) as Report;
    html = path.join(demo.dir, report.run_dir, 'report.html');
    browser = await chromium.launch({ executablePath: CHROMIUM });
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    // Every request the page makes is recorded; anything but file:// is refused (and fails below).
    await context.route('**/*', (route) => {
      const url = route.request().url();
      requests.push(url);
      return url.startsWith('file://') ? route.continue() : route.abort();
    });
    page = await context.newPage();
    await page.goto(pathToFileURL(html).href);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('is one file with no script and no URL that leaves file://', () => {
    const text = readFileSync(html, 'utf8');
    expect(text).not.toMatch(/<script|<link|<img|<iframe|@import|url\(/i);
    expect(text).not.toMatch(/https?:\/\//);
    expect(requests.length).toBeGreaterThan(0);
    expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
  });

  it('shows the ledger numbers of every entity', async () => {
    for (const [entity, l] of Object.entries(expected.ledger)) {
      const row = page.locator(`#ledger tr[data-entity="${entity}"]`);
      await expect.poll(() => row.count()).toBe(1);
      expect(await row.locator('td.read').innerText()).toBe(num(l.read));
      expect(await row.locator('td.loaded').innerText()).toBe(num(l.loaded));
      expect(await row.locator('td.filtered').innerText()).toBe(num(l.filtered));
      expect(await row.locator('td.duplicates').innerText()).toBe(num(l.duplicates_dropped));
      expect(await row.locator('td.rejected').innerText()).toBe(num(l.rejected));
      const section = page.locator(`section#entity-${entity}`);
      expect(await section.locator('.ledger-line').innerText()).toBe(
        `read ${num(l.read)} = loaded ${num(l.loaded)} + filtered ${num(l.filtered)} + duplicates ${num(l.duplicates_dropped)} + rejected ${num(l.rejected)}`,
      );
    }
  });

  it('draws rejects by rule as bars, one per rule with its count, longest for the largest count', async () => {
    for (const e of report.entities) {
      const expectedRules: Record<string, number> = {};
      for (const x of expected.not_loaded[e.entity] ?? []) if (x.fate === 'rejected') expectedRules[x.rule!] = (expectedRules[x.rule!] ?? 0) + 1;
      expect(e.rejects_by_rule).toEqual(expectedRules);
      const bars = page.locator(`section#entity-${e.entity} svg.rules g.rule`);
      expect(await bars.count()).toBe(Object.keys(expectedRules).length);
      const shown: Record<string, number> = {};
      const widths: [number, number][] = [];
      for (const g of await bars.all()) {
        const rule = (await g.getAttribute('data-rule'))!;
        shown[rule] = Number(await g.locator('text.n').textContent());
        const box = await g.locator('rect').boundingBox();
        expect(box, rule).not.toBeNull();
        widths.push([shown[rule], box!.width]);
      }
      expect(shown).toEqual(expectedRules);
      // Bar length follows the count: the largest count has the longest bar, equal counts equal bars.
      for (const [n1, w1] of widths) for (const [n2, w2] of widths) if (n1 > n2) expect(w1).toBeGreaterThan(w2);
    }
  });

  it('lists the first rejects with position, field, rule and reason, as the rejects files have them', async () => {
    for (const e of report.entities) {
      const rows = page.locator(`section#entity-${e.entity} table.rejects tr:has(td)`);
      const wanted = (expected.not_loaded[e.entity] ?? []).filter((x) => x.fate === 'rejected');
      expect(await rows.count()).toBe(Math.min(20, e.rejected));
      expect(e.first_rejects).toHaveLength(Math.min(20, e.rejected));
      const seen = [];
      for (const [i, row] of (await rows.all()).entries()) {
        const cells = await row.locator('td').allInnerTexts();
        const x = e.first_rejects[i]!;
        expect(cells).toEqual([x.position, x.field, x.rule, x.reason]);
        seen.push({ line: Number(x.position.replace(/^(line|row) /, '')), field: x.field, rule: x.rule });
      }
      expect(seen.sort((a, b) => a.line - b.line || String(a.rule).localeCompare(String(b.rule)))).toEqual(
        wanted.map((w) => ({ line: w.line, field: w.field, rule: w.rule })).sort((a, b) => a.line - b.line || String(a.rule).localeCompare(String(b.rule))),
      );
    }
    const bom = page.locator('section#entity-bom_lines table.rejects');
    expect(await bom.innerText()).toContain("qty_per '0' must be greater than 0");
    expect(await bom.innerText()).toContain('this line is part of a BOM cycle: BG-2021 → BG-2022 → BG-2023 → BG-2021');
  });

  it('shows per column the share of missing values among the loaded rows, as the target holds them', async () => {
    const target = new Database(db, { readonly: true });
    try {
      for (const e of report.entities) {
        const loaded = (target.prepare(`SELECT COUNT(*) AS n FROM "${e.entity}"`).get() as { n: number }).n;
        for (const col of Object.keys(e.missing_values)) {
          const nulls = (target.prepare(`SELECT COUNT(*) AS n FROM "${e.entity}" WHERE "${col}" IS NULL`).get() as { n: number }).n;
          expect(e.missing_values[col], `${e.entity}.${col}`).toBe(nulls);
          const row = page.locator(`section#entity-${e.entity} table.missing tr[data-column="${col}"]`);
          expect(await row.locator('td.count').innerText()).toBe(num(nulls));
          expect(await row.locator('.pct').innerText()).toBe(`${((nulls * 100) / loaded).toFixed(1)}%`);
        }
      }
    } finally {
      target.close();
    }
    // The demo's open-ended BOM lines and the machine log's empty downtime reasons.
    expect(await page.locator('section#entity-bom_lines tr[data-column="valid_to"] .pct').innerText()).toBe('90.6%');
    expect(await page.locator('section#entity-machine_events tr[data-column="downtime_reason"] .pct').innerText()).toBe('94.3%');
  });
});
