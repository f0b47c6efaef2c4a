import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';

/**
 * `rejects reload` on a rejects file a person re-saved in an encoding auto cannot take: the reload
 * detects a rejects file's encoding and reads no mapping's `encoding:`, so the refusal says how to
 * save the file.
 */

/** A project whose migrate rejects B1 (unit BOX): the run's folder. */
function rejectedRun(): { dir: string; runDir: string } {
  const dir = tempDir('forklift-reload-enc-');
  writeFileSync(path.join(dir, 'forklift.yaml'), 'name: renc\ntarget: sqlite:./t.db\nmappings: [items.yaml]\nreject_limit: 100%\n');
  writeFileSync(path.join(dir, 'items.yaml'), 'entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: DESC }\n  uom: { from: UOM, values: { EA: EA } }\n  active: { const: true }\n');
  writeFileSync(path.join(dir, 'items.csv'), 'CODE,DESC,UOM\nA1,fine,EA\nB1,gear,BOX\n');
  const r = runCli(['migrate', '--json'], { cwd: dir });
  const report = JSON.parse(r.stdout) as { run_dir: string };
  return { dir, runDir: path.join(dir, report.run_dir) };
}

function expectRejectsFileHint(r: ReturnType<typeof runCli>): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(/rejects reload detects the encoding of a rejects file/);
  expect(r.stderr).toMatch(/Save the file as CSV UTF-8/);
  expect(r.stderr).not.toMatch(/in the mapping/);
  expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
}

describe('rejects reload of a rejects file saved in another encoding', () => {
  it('a short file saved as GB18030: refused with a hint about the rejects file, naming the encodings that read it', () => {
    const { dir, runDir } = rejectedRun();
    const file = path.join(runDir, 'rejects', 'items.csv');
    writeFileSync(file, execFileSync('iconv', ['-f', 'utf-8', '-t', 'gb18030'], { input: 'CODE,DESC,UOM\nB1,齿轮,EA\n' }));
    const r = runCli(['rejects', 'reload', runDir], { cwd: dir });
    expectRejectsFileHint(r);
    expect(r.stderr).toMatch(/cannot tell which encoding/);
    expect(r.stderr).toMatch(/it reads whole as gb18030/);
  });

  it('a file UTF-8 in its first 64 KiB and Windows-1252 further on: refused at that line, with the same hint', () => {
    const { dir, runDir } = rejectedRun();
    const file = path.join(runDir, 'rejects', 'items.csv');
    const filler = Array.from({ length: 2000 }, (_, i) => `F${i},filler row number ${i} with some text to pass 64 KiB,BOX\n`).join('');
    writeFileSync(file, Buffer.concat([Buffer.from(`CODE,DESC,UOM\n${filler}`), Buffer.from('B1,M\xfcller,EA\n', 'latin1')]));
    const r = runCli(['rejects', 'reload', runDir], { cwd: dir });
    expectRejectsFileHint(r);
    expect(r.stderr).toMatch(/:2002 is not valid UTF-8/);
  });
});
