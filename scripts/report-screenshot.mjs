// Writes docs/report.png, the README's picture of a run report (the top of the page: the run, the
// ledger and the first two entities): migrates a copy of the demo into a scratch SQLite file with
// the built CLI, then screenshots its report.html in Debian's chromium (playwright-core, never a
// downloaded browser). Usage: npm run build && node scripts/report-screenshot.mjs
/* global document -- page.evaluate() runs in the browser */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(path.join(tmpdir(), 'forklift-shot-'));
try {
  const skip = (src) => !/[\\/]runs([\\/]|$)|\.db(-journal|-wal|-shm)?$/.test(src);
  cpSync(path.join(root, 'mappings', 'demo'), path.join(dir, 'mappings', 'demo'), { recursive: true, filter: skip });
  cpSync(path.join(root, 'fixtures', 'demo'), path.join(dir, 'fixtures', 'demo'), { recursive: true });
  const out = execFileSync(process.execPath, [path.join(root, 'bin', 'run.js'), 'migrate', 'mappings/demo/forklift.yaml', '--json'], { cwd: dir, encoding: 'utf8' });
  const html = path.join(dir, JSON.parse(out).run_dir, 'report.html');
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium' });
  try {
    const page = await browser.newPage({ viewport: { width: 1180, height: 800 }, deviceScaleFactor: 1 });
    await page.route('**/*', (r) => (r.request().url().startsWith('file://') ? r.continue() : r.abort()));
    await page.goto(pathToFileURL(html).href);
    const file = path.join(root, 'docs', 'report.png');
    // The top of the page: run, ledger, control totals and the first two entities in full.
    const third = await page.locator('section.entity').nth(2).boundingBox();
    const height = third ? Math.ceil(third.y) - 8 : (await page.evaluate(() => document.body.scrollHeight));
    await page.screenshot({ path: file, fullPage: true, clip: { x: 0, y: 0, width: await page.evaluate(() => document.documentElement.scrollWidth), height } });
    console.log(`${path.relative(root, file)}`);
  } finally {
    await browser.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
