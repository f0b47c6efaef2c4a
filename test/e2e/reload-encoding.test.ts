import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, sqlitePairs, tempDir } from '../helpers.js';

/**
 * `rejects reload` on a rejects file a person re-saved in an encoding auto cannot take: the reload
 * reads no mapping's `encoding:`, so the refusal names `--encoding` and how to save the file, and
 * with --encoding the file is read in the encoding named, exactly or not at all.
 */

/** 2000 rows whose unit BOX is rejected, more than 64 KiB: an encoding's first bytes come after them. */
const FILLER = Array.from({ length: 2000 }, (_, i) => `F${i},filler row number ${i} with some text to pass 64 KiB,BOX\n`).join('');

/** A project whose migrate rejects B1 (unit BOX), and the FILLER rows before it with `filler`: the run's folder. */
function rejectedRun(filler = false): { dir: string; runDir: string } {
  const dir = tempDir('forklift-reload-enc-');
  writeFileSync(path.join(dir, 'forklift.yaml'), 'name: renc\ntarget: sqlite:./t.db\nmappings: [items.yaml]\nreject_limit: 100%\n');
  writeFileSync(path.join(dir, 'items.yaml'), 'entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: DESC }\n  uom: { from: UOM, values: { EA: EA } }\n  active: { const: true }\n');
  writeFileSync(path.join(dir, 'items.csv'), `CODE,DESC,UOM\nA1,fine,EA\n${filler ? FILLER : ''}B1,gear,BOX\n`);
  const r = runCli(['migrate', '--json'], { cwd: dir });
  const report = JSON.parse(r.stdout) as { run_dir: string };
  return { dir, runDir: path.join(dir, report.run_dir) };
}

function expectRejectsFileHint(r: ReturnType<typeof runCli>, runDir: string, encoding: string): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toContain(`forklift rejects reload ${path.relative(path.resolve(runDir, '..', '..'), runDir)} --encoding ${encoding}`);
  expect(r.stderr).toMatch(/save the file as CSV UTF-8/);
  expect(r.stderr).not.toMatch(/in the mapping/);
  expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
}

/** The description of each item in the run's target. */
const descriptions = (dir: string): Record<string, string> => sqlitePairs(path.join(dir, 't.db'), 'SELECT item_code, description FROM items');

describe('rejects reload of a rejects file saved in another encoding', () => {
  it('a short file saved as GB18030: refused naming the encodings that read it and --encoding gb18030, which then loads it exactly', () => {
    const { dir, runDir } = rejectedRun();
    const file = path.join(runDir, 'rejects', 'items.csv');
    writeFileSync(file, execFileSync('iconv', ['-f', 'utf-8', '-t', 'gb18030'], { input: 'CODE,DESC,UOM\nB1,齿轮,EA\n' }));
    const r = runCli(['rejects', 'reload', path.relative(dir, runDir)], { cwd: dir });
    expectRejectsFileHint(r, runDir, 'gb18030');
    expect(r.stderr).toMatch(/cannot tell which encoding/);
    expect(r.stderr).toMatch(/it reads whole as gb18030/);
    // The command to run again keeps the flags given.
    const some = runCli(['rejects', 'reload', path.relative(dir, runDir), '--entity', 'items'], { cwd: dir });
    expect(some.stderr).toContain(`forklift rejects reload ${path.relative(dir, runDir)} --entity items --encoding gb18030`);
    const ok = runCli(['rejects', 'reload', runDir, '--encoding', 'GB18030'], { cwd: dir });
    expect(ok.code, ok.stderr).toBe(0);
    expect(descriptions(dir)).toEqual({ A1: 'fine', B1: '齿轮' });
  });

  it('a file UTF-8 in its first 64 KiB and Windows-1252 further on: refused at that line; --encoding windows-1252 loads it exactly', () => {
    const { dir, runDir } = rejectedRun(true);
    const file = path.join(runDir, 'rejects', 'items.csv');
    writeFileSync(file, Buffer.concat([Buffer.from(`CODE,DESC,UOM\n${FILLER}`), Buffer.from('B1,M\xfcller \x80 5,EA\n', 'latin1')]));
    const r = runCli(['rejects', 'reload', path.relative(dir, runDir)], { cwd: dir });
    expectRejectsFileHint(r, runDir, 'NAME');
    expect(r.stderr).toMatch(/:2002 is not valid UTF-8/);
    expect(r.stderr).toMatch(/windows-1252 for Excel's "CSV \(Comma delimited\)"/);
    const ok = runCli(['rejects', 'reload', runDir, '--encoding', 'windows-1252', '--json'], { cwd: dir });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ entities: [{ entity: 'items', read: 2001, loaded: 1, rejected: 2000 }] });
    expect(descriptions(dir).B1).toBe('Müller € 5');
  });

  it('--encoding windows-1252 on a file that is UTF-8: refused as elsewhere, saying --encoding, not the mapping; nothing loaded', () => {
    const { dir, runDir } = rejectedRun();
    writeFileSync(path.join(runDir, 'rejects', 'items.csv'), 'CODE,DESC,UOM\nB1,Müller,EA\n');
    for (const json of [false, true]) {
      const r = runCli(['rejects', 'reload', runDir, '--encoding', 'windows-1252', ...(json ? ['--json'] : [])], { cwd: dir });
      expect(r.code, r.stderr).toBe(2);
      const text = json ? r.stdout : r.stderr;
      expect(text).toMatch(/is read as windows-1252 \(--encoding\), but it is UTF-8: line 2 holds \\?"Müller\\?"/);
      expect(text).toMatch(/not windows-1252 as --encoding says: leave out --encoding/);
      expect(text).not.toMatch(/in the mapping/);
    }
    expect(descriptions(dir)).toEqual({ A1: 'fine' });
  });

  it('--encoding windows-1252 on a file holding a byte Windows-1252 leaves undefined: refused at its line, never loaded as U+FFFD', () => {
    const { dir, runDir } = rejectedRun();
    writeFileSync(path.join(runDir, 'rejects', 'items.csv'), Buffer.from('CODE,DESC,UOM\nB1,M\x81ller,EA\n', 'latin1'));
    const r = runCli(['rejects', 'reload', runDir, '--encoding', 'windows-1252'], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/items\.csv:2 is read as windows-1252, but holds byte 0x81, which is no character in windows-1252: "B1,M\\x81ller,EA"/);
    expect(descriptions(dir)).toEqual({ A1: 'fine' });
  });

  it('an unknown --encoding is a usage error naming the flag', () => {
    const { dir, runDir } = rejectedRun();
    const r = runCli(['rejects', 'reload', runDir, '--encoding', 'latin-9000'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--encoding: unknown encoding 'latin-9000'/);
  });
});
