import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';

/**
 * A reference to a row that did not load says what became of that row, at its own line: the one
 * rejected, not a duplicate of its key that on_duplicate dropped (the reject of a usage row named
 * line 2 of parts.csv, which was dropped, and not line 3, which was rejected).
 */
describe('the reason of a foreign-key reject', () => {
  it('names the line of the referenced key that was rejected, with its reason, or what else became of it', () => {
    const dir = tempDir('forklift-fk-');
    const files: Record<string, string> = {
      'forklift.yaml': 'name: fk\ntarget: sqlite:./fk.db\nmodel: ./model.yaml\nmappings: [parts.yaml, usage.yaml]\nreject_limit: 100%\n',
      'model.yaml':
        'entities:\n  parts:\n    primary_key: [pn]\n    columns:\n      pn: { type: string, length: 10, required: true }\n      ean: { type: string, length: 13, unique: true }\n' +
        '  usage:\n    primary_key: [pn, seq]\n    columns:\n      pn: { type: string, length: 10, required: true, references: parts.pn }\n      seq: { type: integer, required: true }\n',
      'parts.yaml': 'entity: parts\nsource: { format: csv, path: parts.csv }\nfields:\n  pn: { from: PN, clean: [trim, upper] }\n  ean: { from: EAN }\non_duplicate: last\n',
      'usage.yaml': 'entity: usage\nsource: { format: csv, path: usage.csv }\nfields:\n  pn: { from: PN }\n  seq: { from: SEQ }\n',
      // P-1 twice: line 2 dropped (on_duplicate: last), line 3 kept but rejected (its ean is line 4's too).
      'parts.csv': 'PN,EAN\nP-1,111\np-1 ,222\nP-2,222\nP-3,333\n',
      'usage.csv': 'PN,SEQ\nP-1,1\nP-3,1\n',
    };
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
    const r = runCli(['migrate'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const run = readdirSync(path.join(dir, 'runs'))[0]!;
    const rejects = readFileSync(path.join(dir, 'runs', run, 'rejects', 'usage.csv'), 'utf8');
    expect(rejects).toMatch(/pn 'P-1' is not a loaded parts\.pn: it was rejected at line 3 of parts\.csv \(2 rows of parts\.csv \(lines 3, 4\) have the ean 222/);
    expect(rejects).not.toMatch(/line 2 of parts\.csv/);
  });
});
