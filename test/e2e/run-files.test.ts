import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';

/**
 * SPEC section 9: a run's ledger entry holds the SHA-256 of every input file. Two runs that loaded
 * different data because a values_file changed used to record the same files (only the mapping
 * and the source) and the same plan hash; the model file was not there either.
 */

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

function project(): string {
  const dir = tempDir('forklift-files-');
  const write = (name: string, text: string): void => writeFileSync(path.join(dir, name), text);
  write('forklift.yaml', 'name: files\ntarget: sqlite:./t.db\nmodel: model.yaml\nmappings: [items.yaml]\nload: upsert\n');
  write('model.yaml', 'extends: factory\nentities:\n  items:\n    columns:\n      drawing_no: { type: string, length: 32 }\n');
  write(
    'items.yaml',
    'entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { from: U, values_file: uom.csv }\n  drawing_no: { from: DRW }\n  active: { const: true }\n',
  );
  write('items.csv', 'CODE,NAME,U,DRW\nA1,one,PCS,D-1\n');
  write('uom.csv', 'from,to\nPCS,EA\n');
  return dir;
}

describe("a run's ledger entry", () => {
  it('hashes every file the run read: model, mapping, values_file and source; audit verify, audit log and runs diff take them', () => {
    const dir = project();
    const migrate = (thread: string): { run_id: string } => {
      // The worker thread compiles the mapping too: both paths record the values_file.
      const r = runCli(['migrate', '--json'], { cwd: dir, env: { FORKLIFT_EXTRACT_THREAD: thread } });
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { run_id: string };
    };
    const first = migrate('always');
    const before = sha(path.join(dir, 'uom.csv'));
    writeFileSync(path.join(dir, 'uom.csv'), 'from,to\nPCS,KG\n');
    const second = migrate('never');

    const db = new Database(path.join(dir, 't.db'), { readonly: true });
    const runs = db.prepare('SELECT plan_sha256, files FROM forklift_runs ORDER BY seq').all() as { plan_sha256: string; files: string }[];
    expect(db.prepare('SELECT uom FROM items').pluck().all()).toEqual(['KG']);
    db.close();
    expect(runs).toHaveLength(2);
    const [a, b] = runs.map((r) => JSON.parse(r.files) as Record<string, string>);
    const same = { 'model.yaml': sha(path.join(dir, 'model.yaml')), 'items.yaml': sha(path.join(dir, 'items.yaml')), 'items.csv': sha(path.join(dir, 'items.csv')) };
    expect(a).toEqual({ ...same, 'uom.csv': before });
    expect(b).toEqual({ ...same, 'uom.csv': sha(path.join(dir, 'uom.csv')) });
    expect(runs[0]!.plan_sha256).toBe(runs[1]!.plan_sha256);

    const verify = runCli(['audit', 'verify', 'sqlite:./t.db'], { cwd: dir });
    expect(verify.code, verify.stderr + verify.stdout).toBe(0);
    const log = runCli(['audit', 'log', '--target', 'sqlite:./t.db', '--json'], { cwd: dir });
    expect(log.code, log.stderr).toBe(0);
    const diff = runCli(['runs', 'diff', first.run_id, second.run_id, '--json'], { cwd: dir });
    expect(diff.code, diff.stderr).toBe(0);
  });
});
