import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { BIN, ROOT, demoCopy, runCli, tempDir } from '../helpers.js';

describe('forklift mapping check', () => {
  it('checks the demo plan and every mapping against the real headers', () => {
    const r = runCli(['mapping', 'check', 'mappings/demo/forklift.yaml', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { mappings: { entity: string; columns: number }[] };
    expect(doc.mappings.map((m) => m.entity)).toEqual(['items', 'bom_lines', 'stock_balances', 'machine_events']);
    expect(doc.mappings[0]!.columns).toBe(9);
  });

  it('reports every problem of every mapping at once, with positions', () => {
    const dir = tempDir('forklift-check-');
    writeFileSync(path.join(dir, 'a.csv'), 'CODE,NAME\n');
    writeFileSync(path.join(dir, 'a.yaml'), `entity: items\nsource: { format: csv, path: a.csv }\nfields:\n  item_code: { from: COD }\n  description: { from: NAME }\n  uom: { const: EA }\n  active: { const: true }\n  colour: { const: red }\n`);
    writeFileSync(path.join(dir, 'b.yaml'), `entity: bom_lines\nsource: { format: csv, path: a.csv }\nfields:\n  parent_item: { from: CODE }\n  line_no: { expr: 'LINE +' }\n  component_item: { from: CODE }\n  qty_per: { const: 1 }\n`);
    writeFileSync(path.join(dir, 'forklift.yaml'), 'name: c\nmappings: [a.yaml, b.yaml]\n');
    const r = runCli(['mapping', 'check'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a\.yaml:4:\d+ column 'COD' is not in the header of a\.csv; the nearest is 'CODE'/);
    expect(r.stderr).toMatch(/a\.yaml:8:\d+ fields\.colour: items has no column 'colour'/);
    expect(r.stderr).toMatch(/b\.yaml:5:\d+ expression/);
  });

  it('refuses values written in the mapping that the column cannot take: value map targets, const, default', () => {
    const dir = tempDir('forklift-check-');
    writeFileSync(path.join(dir, 'a.csv'), 'CODE,TYPE,ACT\n');
    writeFileSync(
      path.join(dir, 'a.yaml'),
      [
        'entity: items',
        'source: { format: csv, path: a.csv }',
        'fields:',
        '  item_code: { from: CODE }',
        '  item_type: { from: TYPE, values: { R: rawx, S: semi } }',
        '  active: { from: ACT, values: { Y: maybe, N: false }, default: Y }',
        '  lead_time_days: { const: "abc" }',
        '  category: { from: CODE, default: "" }',
        '',
      ].join('\n'),
    );
    writeFileSync(path.join(dir, 'forklift.yaml'), 'name: c\nmappings: [a.yaml]\n');
    const r = runCli(['mapping', 'check'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/a\.yaml:5:\d+ fields\.item_type: the value map sends 'R' to 'rawx', which items\.item_type \(enum\) cannot take: it is not one of raw, semi, finished, consumable, service; map it to a value the column takes/);
    expect(r.stderr).toMatch(/a\.yaml:6:\d+ fields\.active: the value map sends 'Y' to 'maybe', which items\.active \(boolean\) cannot take/);
    expect(r.stderr).toMatch(/a\.yaml:6:\d+ fields\.active\.default: 'maybe', which items\.active \(boolean\) cannot take/);
    expect(r.stderr).toMatch(/a\.yaml:7:\d+ fields\.lead_time_days\.const: 'abc', which items\.lead_time_days \(integer\) cannot take: it is not a whole number; no row could load/);
    expect(r.stderr).not.toMatch(/category/);
    expect(r.stderr).not.toMatch(/'semi'|'false'/);
  });

  it('checks a single mapping file too', () => {
    const r = runCli(['mapping', 'check', 'mappings/demo/balances.yaml']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/stock_balances/);
  });
});

describe('forklift preview', () => {
  it('shows the first mapped rows and the errors they would get, and writes nothing', () => {
    const demo = demoCopy();
    const r = runCli(['preview', path.join(demo.dir, 'mappings/demo/items.yaml'), '-n', '120', '--json'], { cwd: demo.dir });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { rows: { line: number; status: string; values?: Record<string, unknown>; rule?: string }[] };
    expect(doc.rows).toHaveLength(117);
    expect(doc.rows[0]!.line).toBe(5);
    expect(doc.rows.filter((x) => x.status === 'filtered')).toHaveLength(4);
    const ok = doc.rows.find((x) => x.status === 'ok')!;
    expect(ok.values!.standard_cost).toMatch(/^\d+\.\d{4}$/);
    expect(doc.rows.find((x) => x.line === 101)).toMatchObject({ status: 'rejected', rule: 'value-map' });
    // A rejected row shows what its other fields mapped to (the failed one empty), so a person sees which row it is.
    expect(doc.rows.find((x) => x.line === 101)!.values).toMatchObject({ item_code: 'TN-3091', item_type: 'raw', uom: null });
    expect(existsSync(path.join(demo.dir, 'mappings/demo/runs'))).toBe(false);
  });

  it('prints a table for people', () => {
    const r = runCli(['preview', 'mappings/demo/balances.yaml', '-n', '3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^line\s+item_code\s+warehouse\s+lot\s+qty\s+value\s+as_of\s+status/);
    expect(r.stdout).toMatch(/2025-12-31/);
  });
});

describe('forklift --help', () => {
  it('lists the commands', () => {
    const r = runCli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['migrate', 'validate', 'preview', 'mapping']) expect(r.stdout).toMatch(new RegExp(`\\b${c}\\b`));
  });

  it("describes each topic by all of its commands, not by the first one's help", () => {
    // A topic missing from package.json took the description of one of its commands: `bundle`
    // read as if it only imported.
    const r = runCli(['--help']);
    expect(r.code).toBe(0);
    const topics = r.stdout.slice(r.stdout.indexOf('TOPICS'), r.stdout.indexOf('COMMANDS')).replace(/\s+/g, ' ');
    expect(topics).toMatch(/bundle Exit bundles: verify one, or import it/);
    expect(topics).toMatch(/mapping Mapping files: guess one for a legacy file, or check them/);
    expect(topics).toMatch(/audit The audit trail: list and verify .*make a signing key, start the chain on an old ledger/);
  });

  it('--keep-staging names both staging files a run folder keeps', () => {
    for (const cmd of [['migrate'], ['validate'], ['rejects', 'reload']]) {
      const r = runCli([...cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout.replace(/\s+/g, ' '), cmd.join(' ')).toMatch(/--keep-staging Keep the run’s staging files \(staging\.sqlite, and staging-raw\.sqlite/);
    }
  });
});

describe('a run killed in the middle leaves the target as it was', () => {
  it('SIGKILL during a migrate: no data committed, the next run completes with no duplicate and no loss', async () => {
    const dir = tempDir('forklift-kill-');
    const ROWS = 120_000;
    const rows = ['M,TS,S,G'];
    for (let i = 0; i < ROWS; i++) rows.push(`M${i % 7},${new Date(Date.UTC(2025, 0, 1) + i * 1000).toISOString()},RUN,${i}`);
    writeFileSync(path.join(dir, 'log.csv'), rows.join('\n') + '\n');
    writeFileSync(path.join(dir, 'log.yaml'), `entity: machine_events\nsource: { format: csv, path: log.csv }\nfields:\n  machine_id: { from: M }\n  ts: { from: TS }\n  state: { from: S }\n  good_count: { from: G }\n`);
    writeFileSync(path.join(dir, 'forklift.yaml'), 'name: k\ntarget: sqlite:./t.db\nmappings: [log.yaml]\n');
    // A first, small committed state to compare against.
    writeFileSync(path.join(dir, 'small.csv'), 'M,TS,S,G\nX,2024-01-01T00:00:00Z,IDLE,0\n');
    writeFileSync(path.join(dir, 'small.yaml'), `entity: machine_events\nsource: { format: csv, path: small.csv }\nfields:\n  machine_id: { from: M }\n  ts: { from: TS }\n  state: { from: S }\n  good_count: { from: G }\n`);
    writeFileSync(path.join(dir, 'small-plan.yaml'), 'name: s\ntarget: sqlite:./t.db\nmappings: [small.yaml]\n');
    expect(runCli(['migrate', 'small-plan.yaml'], { cwd: dir }).code).toBe(0);

    for (const delay of [300, 1000, 2000]) {
      const child = spawn(process.execPath, [BIN, 'migrate'], { cwd: dir, stdio: 'ignore' });
      const exited = new Promise((r) => child.on('exit', r)); // before the kill: it may finish first
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await exited;
      // Not read-only: a kill inside the write leaves a hot journal, which only a connection that
      // may write can roll back (as the next run would) before it reads.
      const db = new Database(path.join(dir, 't.db'));
      const n = db.prepare('SELECT COUNT(*) FROM machine_events').pluck().get() as number;
      db.close();
      // Either untouched (1 row) or, had the run finished before the kill, complete.
      expect([1, ROWS]).toContain(n);
    }
    const again = runCli(['migrate', '--json'], { cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    const db = new Database(path.join(dir, 't.db'), { readonly: true });
    expect(db.prepare('SELECT COUNT(*) FROM machine_events').pluck().get()).toBe(ROWS);
    expect(db.prepare('SELECT COUNT(DISTINCT machine_id || ts) FROM machine_events').pluck().get()).toBe(ROWS);
    db.close();
  }, 240_000);
});

void ROOT;
