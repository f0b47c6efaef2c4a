import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';
import { HAS_TMUX, keys, killTerminals, screenUntil, start } from './terminal.js';

/**
 * `mapping init` on a legacy file whose encoding auto cannot decide: no mapping exists yet, so the
 * refusal names the command to run again, and --encoding writes the encoding into the mapping.
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
