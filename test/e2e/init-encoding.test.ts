import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, sqlitePairs, tempDir } from '../helpers.js';
import { HAS_TMUX, keys, killTerminals, screenUntil, start } from './terminal.js';

/**
 * `mapping init` and `init` on a legacy file whose encoding auto cannot decide: no mapping exists
 * yet, so the refusal names the command to run again, and --encoding writes the encoding into the
 * mapping.
 */

function iconvBytes(text: string, encoding: string): Buffer {
  return execFileSync('iconv', ['-f', 'utf-8', '-t', encoding], { input: text });
}

function gbFile(): string {
  const dir = tempDir('forklift-init-enc-');
  writeFileSync(path.join(dir, 'f.csv'), iconvBytes('item_code,description,uom\nA-1,齿轮,EA\n', 'gb18030'));
  return dir;
}

describe('mapping init --encoding', () => {
  it('refuses a short GB18030 file with a hint naming mapping init --encoding, not a mapping', () => {
    const dir = gbFile();
    const r = runCli(['mapping', 'init', 'f.csv', '--entity', 'items', '--yes'], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/cannot tell which encoding/);
    expect(r.stderr).toContain('forklift mapping init f.csv --entity items --encoding gb18030');
    expect(r.stderr).not.toMatch(/in the mapping/);
    expect(existsSync(path.join(dir, 'mappings', 'items.yaml'))).toBe(false);
  });

  it('reads the file in the encoding given and writes it into the mapping, which then previews', () => {
    const dir = gbFile();
    const r = runCli(['mapping', 'init', 'f.csv', '--entity', 'items', '--yes', '--encoding', 'GB18030'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const yaml = readFileSync(path.join(dir, 'mappings', 'items.yaml'), 'utf8');
    expect(yaml).toMatch(/^ {2}encoding: gb18030 +# given to mapping init$/m);
    const p = runCli(['preview', 'mappings/items.yaml', '--json'], { cwd: dir });
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout + p.stderr).toContain('齿轮');
  });

  it('refuses an unknown --encoding as a usage error naming the flag', () => {
    const dir = gbFile();
    const r = runCli(['mapping', 'init', 'f.csv', '--entity', 'items', '--yes', '--encoding', 'gbk-ish'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--encoding: unknown encoding 'gbk-ish'/);
  });

  it('a UTF-8 file named windows-1252 says to leave out --encoding', () => {
    const dir = tempDir('forklift-init-enc-');
    writeFileSync(path.join(dir, 'f.csv'), 'item_code,description\nA-1,Müller\n');
    const r = runCli(['mapping', 'init', 'f.csv', '--entity', 'items', '--yes', '--encoding', 'windows-1252'], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/but it is UTF-8/);
    expect(r.stderr).toMatch(/leave out --encoding/);
    expect(r.stderr).not.toMatch(/in the mapping's source/);
  });
});

/**
 * `forklift init` on a folder holding the demo's Windows-1252 item master (detected) and a short
 * GB18030 stock list (no encoding auto can decide): legacy/ITEMMAST.CSV, legacy/KUCUN.CSV.
 */
function mixedProject(): string {
  const dir = tempDir('forklift-init-enc-');
  mkdirSync(path.join(dir, 'legacy'));
  copyFileSync(path.join(ROOT, 'fixtures', 'demo', 'ITEMMAST.CSV'), path.join(dir, 'legacy', 'ITEMMAST.CSV'));
  writeFileSync(path.join(dir, 'legacy', 'KUCUN.CSV'), iconvBytes('item_code,warehouse,qty\nHP-1001,一号仓库,5\nHP-1002,二号仓库,7\n', 'gb18030'));
  return dir;
}

/** Migrates the project init wrote (every row counted, whatever its TODOs reject) and reads back what was loaded. */
function migrated(dir: string): { items: Record<string, string>; stock: Record<string, string> } {
  const plan = path.join(dir, 'forklift.yaml');
  writeFileSync(plan, readFileSync(plan, 'utf8').replace(/^reject_limit: .*$/m, 'reject_limit: 100%'));
  const m = runCli(['migrate', '--json'], { cwd: dir });
  expect(m.code, m.stderr).toBe(0);
  const db = path.join(dir, 'forklift.db');
  return { items: sqlitePairs(db, 'SELECT item_code, description FROM items'), stock: sqlitePairs(db, 'SELECT item_code, warehouse FROM stock_balances') };
}

describe('init --encoding', () => {
  it('a file auto cannot decide stops init before anything is written, naming the file and the command to run', () => {
    const dir = mixedProject();
    const r = runCli(['init', '.', '--yes'], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/legacy\/KUCUN\.CSV: encoding: auto cannot tell which encoding the file is in.*nothing was written/);
    expect(r.stderr).toContain('forklift init . --encoding gb18030');
    expect(r.stderr).not.toMatch(/in the mapping/);
    expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    expect(readdirSync(dir)).toEqual(['legacy']);
    const j = runCli(['init', '.', '--yes', '--json'], { cwd: dir });
    expect(j.code, j.stderr).toBe(2);
    const doc = JSON.parse(j.stdout) as { ok: boolean; error: { code: string; hint: string; location: string } };
    expect(doc).toMatchObject({ ok: false, error: { code: 'source.encoding', location: 'legacy/KUCUN.CSV:2' } });
    expect(doc.error.hint).toContain('forklift init . --encoding gb18030');
    expect(readdirSync(dir)).toEqual(['legacy']);
  });

  it('--encoding NAME reads the files auto cannot decide; every mapping carries its encoding, and the migration loads the text exactly', () => {
    const dir = mixedProject();
    const r = runCli(['init', '.', '--yes', '--encoding', 'GB18030', '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { mappings: { source: string; entity: string; encoding?: string }[] };
    expect(result.mappings.map((m) => [m.source, m.entity, m.encoding])).toEqual([
      [path.join('legacy', 'ITEMMAST.CSV'), 'items', 'windows-1252'],
      [path.join('legacy', 'KUCUN.CSV'), 'stock_balances', 'gb18030'],
    ]);
    // The item master auto could read keeps the encoding detected: the name applies to KUCUN.CSV alone.
    expect(readFileSync(path.join(dir, 'mappings', 'items.yaml'), 'utf8')).toMatch(/^ {2}encoding: windows-1252 +# detected$/m);
    expect(readFileSync(path.join(dir, 'mappings', 'stock_balances.yaml'), 'utf8')).toMatch(/^ {2}encoding: gb18030 +# given to init$/m);
    const { items, stock } = migrated(dir);
    expect(stock).toEqual({ 'HP-1001': '一号仓库', 'HP-1002': '二号仓库' });
    expect(items['HP-1010']).toBe('Heißwasserpumpe HW 40 bis 140 °C');
    expect(items['BG-2003']).toBe('Laufradbaugruppe Ø 160');
  });

  it('--encoding FILE=NAME names one file; a FILE that is no legacy file is a usage error', () => {
    const dir = mixedProject();
    const typo = runCli(['init', '.', '--yes', '--encoding', 'legacy/KUCUN.TXT=gb18030'], { cwd: dir });
    expect(typo.code, typo.stderr).toBe(2);
    expect(typo.stderr).toMatch(/--encoding legacy\/KUCUN\.TXT=…: not one of the legacy files init reads, did you mean 'legacy\/KUCUN\.CSV'/);
    expect(readdirSync(dir)).toEqual(['legacy']);
    const r = runCli(['init', '.', '--yes', '--encoding', 'legacy/KUCUN.CSV=gb18030'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^mappings\/stock_balances\.yaml\s+legacy\/KUCUN\.CSV\s+stock_balances\s+\d+\/\d+\s+gb18030$/m);
    expect(migrated(dir).stock).toEqual({ 'HP-1001': '一号仓库', 'HP-1002': '二号仓库' });
  });

  it('a file that is not in the encoding named is refused, saying so, and nothing is written', () => {
    const dir = mixedProject();
    writeFileSync(path.join(dir, 'legacy', 'NOTES.CSV'), 'item_code,description\nHP-1001,Müller\n');
    const r = runCli(['init', '.', '--yes', '--encoding', 'legacy/NOTES.CSV=windows-1252', '--encoding', 'gb18030'], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/NOTES\.CSV is read as windows-1252 \(--encoding\), but it is UTF-8/);
    expect(r.stderr).toMatch(/legacy\/NOTES\.CSV is not windows-1252 as named/);
    expect(r.stderr).toMatch(/leave out --encoding to detect it/);
    expect(readdirSync(dir)).toEqual(['legacy']);
  });
});

describe.skipIf(!HAS_TMUX && !process.env.CI)('mapping init --encoding in a terminal (tmux)', () => {
  afterAll(killTerminals);

  it('the review shows the file read in the encoding given, and writes it into the mapping', async () => {
    const dir = gbFile();
    const s = start(dir, 'mapping init f.csv --entity items --encoding gb18030');
    const screen = await screenUntil(s, /Write items mapping\?/);
    expect(screen).toMatch(/csv, gb18030/);
    expect(screen).toMatch(/description\*\s+description\s+high/);
    keys(s, 'Enter');
    expect(await screenUntil(s, /EXIT=\d+/)).toMatch(/EXIT=0/);
    expect(readFileSync(path.join(dir, 'mappings', 'items.yaml'), 'utf8')).toMatch(/^ {2}encoding: gb18030 +# given to mapping init$/m);
  });
});
