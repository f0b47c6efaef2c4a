import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, runCli, tempDir } from '../helpers.js';

/** A one-mapping project in a temp folder: items from data.csv unless the case says otherwise. */
function project(opts: { mapping?: string; data?: string | Buffer; dataName?: string; plan?: string }): { dir: string; plan: string } {
  const dir = tempDir('forklift-bad-');
  const dataName = opts.dataName ?? 'data.csv';
  if (opts.data !== undefined) writeFileSync(path.join(dir, dataName), opts.data);
  writeFileSync(
    path.join(dir, 'items.yaml'),
    opts.mapping ??
      `entity: items
source: { format: csv, path: ${dataName} }
fields:
  item_code: { from: CODE }
  description: { from: NAME }
  uom: { const: EA }
  active: { const: true }
`,
  );
  writeFileSync(path.join(dir, 'forklift.yaml'), opts.plan ?? `name: bad\ntarget: sqlite:./t.db\nmappings: [items.yaml]\nreject_limit: 100%\n`);
  return { dir, plan: path.join(dir, 'forklift.yaml') };
}

/** An items mapping of data.csv: item_code from CODE, description from NAME, these fields (from line 6), active. */
function itemsMapping(fields: string): string {
  return `entity: items\nsource: { format: csv, path: data.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n${fields}  active: { const: true }\n`;
}

function validate(p: { dir: string; plan: string }, json = false): ReturnType<typeof runCli> {
  return runCli(['validate', p.plan, ...(json ? ['--json'] : [])], { cwd: p.dir });
}

function expectUserError(r: ReturnType<typeof runCli>, code: number, pattern: RegExp): void {
  expect(r.stderr, r.stdout).toMatch(pattern);
  expect(r.code, r.stderr).toBe(code);
  expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack trace without --debug
}

describe('bad input: a clear message, the file and place, a defined exit code', () => {
  it('a missing source file: exit 2, names the file', () => {
    const p = project({});
    expectUserError(validate(p), 2, /data\.csv.*(not found|does not exist|no such)/i);
  });

  it('an empty file: exit 2', () => {
    const p = project({ data: '' });
    expectUserError(validate(p), 2, /data\.csv.*(empty|no header)/i);
  });

  it('a header only: exit 0 and a ledger of zeros', () => {
    const p = project({ data: 'CODE,NAME\n' });
    const r = validate(p, true);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as { entities: { read: number; loaded: number }[] };
    expect(rep.entities[0]).toMatchObject({ read: 0, loaded: 0 });
  });

  it('a mapped column missing from the header: exit 2, names the nearest column', () => {
    const p = project({ data: 'CODE,NAMES\nA,x\n' });
    expectUserError(validate(p), 2, /items\.yaml:\d+:\d+ column 'NAME' is not in the header.*nearest is 'NAMES'/);
  });

  it('a mapped column the header names twice: exit 2 in mapping check and before any run reads a row, naming both positions', () => {
    // `Qty` twice (the second holds the values): reading the first one silently lost the second.
    const p = project({
      data: ' CODE ,NAME,QTY,QTY \nA,one,,7\nB,two,6,8\n',
      mapping: itemsMapping('  uom: { const: EA }\n  lead_time_days: { from: QTY }\n'),
    });
    const message = /items\.yaml:7:\d+ column 'QTY' appears 2 times in the header of data\.csv \(columns 3 and 4\).*rename them in the source/;
    expectUserError(runCli(['mapping', 'check', p.plan], { cwd: p.dir }), 2, message);
    expectUserError(validate(p), 2, message);
    // The worker thread that maps large files compiles the same mapping: the same refusal.
    const m = runCli(['migrate', p.plan], { cwd: p.dir, env: { FORKLIFT_EXTRACT_THREAD: 'always' } });
    expectUserError(m, 2, message);
    expect(existsSync(path.join(p.dir, 'runs')) ? readdirSync(path.join(p.dir, 'runs')) : []).toEqual([]);
  });

  it('a values_file that maps one key to two values: exit 2 everywhere, naming the file, both lines and the key', () => {
    // The later line used to win without a word: the run loaded KG for every PCS.
    const p = project({
      data: 'CODE,NAME,U\nA1,one,PCS\n',
      mapping: itemsMapping('  uom: { from: U, values_file: uom.csv }\n'),
    });
    writeFileSync(path.join(p.dir, 'uom.csv'), 'from,to\nPCS,EA\nKGS,KG\nPCS,KG\n');
    const message = /items\.yaml:6:\d+ values_file uom\.csv: a key maps to two values: 'PCS' on line 2 \(to 'EA'\) and line 4 \(to 'KG'\)/;
    expectUserError(runCli(['mapping', 'check', p.plan], { cwd: p.dir }), 2, message);
    expectUserError(runCli(['preview', 'items.yaml'], { cwd: p.dir }), 2, message);
    expectUserError(validate(p), 2, message);
    expectUserError(runCli(['migrate', p.plan], { cwd: p.dir, env: { FORKLIFT_EXTRACT_THREAD: 'always' } }), 2, message);
    expect(existsSync(path.join(p.dir, 't.db'))).toBe(false);
  });

  it('a column the header names twice that the mapping does not read is fine', () => {
    const p = project({ data: 'CODE,NAME,NOTE,NOTE\nA,one,x,y\n' });
    const r = runCli(['mapping', 'check', p.plan], { cwd: p.dir });
    expect(r.code, r.stderr).toBe(0);
    expect(validate(p).code).toBe(0);
  });

  it('ragged rows are rejected with the line, never dropped silently', () => {
    const p = project({ data: 'CODE,NAME\nA,one\nB,two,extra\nC\nD,four\n' });
    const r = validate(p, true);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as { entities: { read: number; loaded: number; rejected: number; rejects_by_rule: Record<string, number> }[] };
    expect(rep.entities[0]).toMatchObject({ read: 4, loaded: 2, rejected: 2 });
    expect(rep.entities[0]!.rejects_by_rule).toEqual({ shape: 2 });
  });

  it('an unclosed quote: exit 2, names the line where the quote opened', () => {
    const p = project({ data: 'CODE,NAME\nA,one\nB,"two\nC,three\n' });
    expectUserError(validate(p), 2, /data\.csv.*(line 3|:3).*quote/i);
  });

  it('a binary file given as CSV: exit 2 with a hint', () => {
    const p = project({ data: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 1, 2, 3]) });
    expectUserError(validate(p), 2, /data\.csv.*(binary|image|not a CSV)/i);
  });

  it('an Excel file given as CSV: exit 2, says to use format: xlsx', () => {
    const p = project({ dataName: 'data.csv' });
    copyFileSync(path.join(ROOT, 'fixtures', 'demo', 'OPENBAL.xlsx'), path.join(p.dir, 'data.csv'));
    expectUserError(validate(p), 2, /xlsx/);
  });

  it('a wrong sheet name: exit 2, lists the sheets', () => {
    const p = project({
      mapping: `entity: stock_balances\nsource: { format: xlsx, path: ${path.join(ROOT, 'fixtures', 'demo', 'OPENBAL.xlsx')}, sheet: Stock, header_row: 3 }\nfields:\n  item_code: { from: Artikel }\n  warehouse: { from: Lager }\n  lot: { from: Charge, default: "" }\n`,
    });
    expectUserError(validate(p), 2, /Stock.*Bestand.*Info|Bestand, Info/s);
  });

  it('invalid YAML: exit 2 with file:line:column', () => {
    const p = project({ data: 'CODE,NAME\n', mapping: 'entity: items\nsource: { format: csv, path: data.csv\nfields: {}\n' });
    expectUserError(validate(p), 2, /items\.yaml:\d+:\d+/);
  });

  it('an unknown key in a mapping: exit 2, suggests the right one', () => {
    const p = project({
      data: 'CODE,NAME\n',
      mapping: `entity: items\nsource: { format: csv, path: data.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { from: CODE, vales: { A: EA } }\n  active: { const: true }\n`,
    });
    expectUserError(validate(p), 2, /items\.yaml:6:\d+ fields\.uom\.vales: unknown key 'vales', did you mean 'values'\?/);
  });

  it('an expression that does not parse: exit 2 with file, line and column', () => {
    const p = project({
      data: 'CODE,NAME,LT\n',
      mapping: `entity: items\nsource: { format: csv, path: data.csv }\nfilter: 'LT > (3'\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { const: EA }\n  active: { const: true }\n`,
    });
    expectUserError(validate(p), 2, /items\.yaml:3:\d+ expression/);
  });

  it('a plan whose mapping names an unknown entity: exit 2, suggests one', () => {
    const p = project({ data: 'CODE,NAME\n', mapping: `entity: item\nsource: { format: csv, path: data.csv }\nfields: {}\n` });
    expectUserError(validate(p), 2, /entity: 'item' is not an entity of the model factory, did you mean 'items'\?/);
  });

  it('a missing plan: exit 2', () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'x'));
    expectUserError(runCli(['migrate', 'nope.yaml'], { cwd: dir }), 2, /nope\.yaml: file not found/);
  });

  it('an unknown flag: exit 2, also with --json', () => {
    expect(runCli(['migrate', '--frobnicate']).code).toBe(2);
    const r = runCli(['migrate', '--frobnicate', '--json']);
    expect(r.code).toBe(2);
    expect((JSON.parse(r.stdout) as { error: { exit_code: number } }).error.exit_code).toBe(2);
  });

  it('exit codes are the same with --json, and stdout holds one JSON document', () => {
    const p = project({ data: 'CODE,NAMES\n' });
    const r = validate(p, true);
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; location?: string } };
    expect(doc.ok).toBe(false);
    expect(doc.error.code).toBe('mapping.invalid');
  });
});

describe('a run stopped by a configuration error leaves nothing behind', () => {
  it('no run folder for a mapping that does not match its source', () => {
    const dir = tempDir('forklift-clean-');
    writeFileSync(path.join(dir, 'data.csv'), 'CODE,NAMES\n');
    writeFileSync(path.join(dir, 'items.yaml'), `entity: items\nsource: { format: csv, path: data.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { const: EA }\n  active: { const: true }\n`);
    writeFileSync(path.join(dir, 'forklift.yaml'), 'name: c\nmappings: [items.yaml]\n');
    expect(runCli(['migrate'], { cwd: dir }).code).toBe(2);
    // Not even the runs folder this first run made.
    expect(existsSync(path.join(dir, 'runs'))).toBe(false);
  });
});

describe('an unreachable target', () => {
  it('fails at once with exit 1, no password shown and no run folder, before reading the sources', () => {
    const dir = tempDir('forklift-unreach-');
    writeFileSync(path.join(dir, 'data.csv'), 'CODE,NAME\nA,x\n');
    writeFileSync(path.join(dir, 'items.yaml'), `entity: items\nsource: { format: csv, path: data.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { const: EA }\n  active: { const: true }\n`);
    writeFileSync(path.join(dir, 'forklift.yaml'), 'name: u\nmappings: [items.yaml]\n');
    const r = runCli(['migrate', '--target', 'postgres://forklift:Sup3rSecret@127.0.0.1:1/test'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/postgres:\/\/forklift:\*\*\*@127\.0\.0\.1:1\/test/);
    expect(r.stderr + r.stdout).not.toMatch(/Sup3rSecret/);
    expect(existsSync(path.join(dir, 'runs'))).toBe(false);
    // A runs folder that was there before stays, with what it held.
    mkdirSync(path.join(dir, 'runs', 'earlier'), { recursive: true });
    expect(runCli(['migrate', '--target', 'postgres://forklift@127.0.0.1:1/test'], { cwd: dir }).code).toBe(1);
    expect(readdirSync(path.join(dir, 'runs'))).toEqual(['earlier']);
  });
});

describe('blank rows in a source', () => {
  it('are named in the summary and the HTML report, so the counts agree with the file', () => {
    const { dir, plan } = project({ data: 'CODE,NAME\nA-1,Pump\n\n,\n  ,  \nA-2,Valve\n' });
    const r = runCli(['validate', plan], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/items\s+2\s+2\s/);
    expect(r.stdout).toContain('items: 3 blank rows in the source skipped (no value in any column; not counted as read)');
    const runDir = readdirSync(path.join(dir, 'runs'))[0]!;
    const html = readFileSync(path.join(dir, 'runs', runDir, 'report.html'), 'utf8');
    expect(html).toContain('<p class="blank-line">3 blank rows in the source skipped');
  });
});
