import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';

/**
 * A hint names what the person wrote: `mapping init`'s file is its argument and its sheet
 * `--sheet` (no mapping exists yet), and `rejects reload` reads the run's rejects file; none of
 * them names a mapping's `path:` or `sheet:`.
 */
describe('hints for a file named by a command, not by a mapping', () => {
  it('mapping init of a missing file names the path given, relative to the current folder', () => {
    const dir = tempDir('forklift-hint-');
    const r = runCli(['mapping', 'init', 'nope.csv', '--entity', 'items'], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('source file nope.csv does not exist');
    expect(r.stderr).toContain('check the path given: it is relative to the current folder');
    expect(r.stderr).not.toMatch(/path:|mapping file/);
    // Without an extension the file was sniffed for its format, and failed with ENOENT and an absolute path.
    const bare = runCli(['mapping', 'init', 'nope', '--entity', 'items'], { cwd: dir });
    expect(bare.stderr).toContain('source file nope does not exist');
  });

  it('mapping init with a wrong --sheet names --sheet', () => {
    const book = 'fixtures/demo/OPENBAL.xlsx'; // relative to ROOT, where runCli runs
    const r = runCli(['mapping', 'init', book, '--entity', 'stock_balances', '--sheet', 'Nope', '--out', path.join(tempDir('forklift-hint-'), 'b.yaml')]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('set --sheet to one of "Bestand", "Info"');
    const near = runCli(['mapping', 'init', book, '--entity', 'stock_balances', '--sheet', 'bestand', '--out', path.join(tempDir('forklift-hint-'), 'b.yaml')]);
    expect(near.stderr).toContain('did you mean --sheet "Bestand"?');
    expect(`${r.stderr}${near.stderr}`).not.toMatch(/sheet:/);
  });

  it('rejects reload of a rejects file that is a folder names the rejects file, not path:', () => {
    const dir = tempDir('forklift-hint-');
    writeFileSync(path.join(dir, 'forklift.yaml'), 'name: h\ntarget: sqlite:./t.db\nmappings: [items.yaml]\nreject_limit: 100%\n');
    writeFileSync(path.join(dir, 'items.yaml'), 'entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: DESC }\n  uom: { from: UOM, values: { EA: EA } }\n  active: { const: true }\n');
    writeFileSync(path.join(dir, 'items.csv'), 'CODE,DESC,UOM\nA1,fine,EA\nB1,gear,BOX\n');
    const run = JSON.parse(runCli(['migrate', '--json'], { cwd: dir }).stdout) as { run_dir: string };
    const rejects = path.join(dir, run.run_dir, 'rejects', 'items.csv');
    rmSync(rejects);
    mkdirSync(rejects);
    const r = runCli(['rejects', 'reload', run.run_dir, '--entity', 'items'], { cwd: dir });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('rejects/items.csv is not a file');
    expect(r.stderr).toMatch(/It must be the rejects file of items, a CSV file: run \S+ wrote it; put it back \(saved as CSV\) or leave items out with --entity\./);
    expect(r.stderr).not.toMatch(/path:/);
  });
});
