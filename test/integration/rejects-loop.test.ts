import Database from 'better-sqlite3';
import iconv from 'iconv-lite';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runPlan, type RunResult } from '../../src/run/pipeline.js';
import { reloadRejects } from '../../src/run/reload.js';
import { diffRuns } from '../../src/run/runs-diff.js';
import { renderRunsDiffText } from '../../src/run/runs-diff-render.js';
import { tempDir } from '../helpers.js';

/**
 * The rejects loop on real files (SQLite target): migrate, a person edits the rejects file (or
 * not), `rejects reload`. A rejects file forklift wrote must read back as it was written, and an
 * unedited one must reload to the same rejects.
 */

interface Project {
  dir: string;
  plan: string;
  migrate(): Promise<RunResult>;
  rejects(run: RunResult): string;
  edit(run: RunResult, f: (text: string) => string): void;
  reload(run: RunResult): Promise<RunResult>;
  rows(sql: string): unknown[];
}

function project(source: string | Buffer, fields: string[], opts: { format?: string; file?: string } = {}): Project {
  const dir = tempDir('forklift-rejects-loop-');
  const file = opts.file ?? 'items.csv';
  writeFileSync(path.join(dir, file), source);
  writeFileSync(path.join(dir, 'items.yaml'), `entity: items\nsource: { format: ${opts.format ?? 'csv'}, path: ${file} }\nfields:\n${fields.map((f) => `  ${f}\n`).join('')}`);
  const plan = path.join(dir, 'forklift.yaml');
  writeFileSync(plan, `name: loop\ntarget: sqlite:${path.join(dir, 't.db')}\nmodel: factory\nmappings: [items.yaml]\nreject_limit: 100%\nload: replace\n`);
  const rejects = (run: RunResult): string => path.join(path.dirname(run.reportFile), 'rejects', 'items.csv');
  return {
    dir,
    plan,
    migrate: () => runPlan({ plan, command: 'migrate' }),
    rejects,
    edit: (run, f) => writeFileSync(rejects(run), f(readFileSync(rejects(run), 'utf8'))),
    reload: (run) => reloadRejects({ runDir: path.dirname(run.reportFile) }),
    rows(sql) {
      const db = new Database(path.join(dir, 't.db'), { readonly: true });
      try {
        return db.prepare(sql).all();
      } finally {
        db.close();
      }
    },
  };
}

const ITEM = ['item_code: { from: CODE }', 'uom: { from: UOM }', 'description: { from: DESC }', 'active: { const: true }'];

describe('rejects files keep line breaks in cells', () => {
  it('quotes a cell with a lone LF or CR, so the fixed row reloads whole', async () => {
    const p = project('CODE,UOM,COST,DESC\nA1,EA,1,fine\nA2,EA,-1,"Pump housing\nincl. gasket"\nA3,EA,-1,"p\rq"\n', [...ITEM, 'standard_cost: { from: COST }']);
    const first = await p.migrate();
    expect(first.entities[0]).toMatchObject({ loaded: 1, rejected: 2 });
    expect(readFileSync(p.rejects(first), 'utf8')).toContain('A2,EA,-1,"Pump housing\nincl. gasket",');
    p.edit(first, (t) => t.replace('A2,EA,-1', 'A2,EA,1').replace('A3,EA,-1', 'A3,EA,2'));
    const reload = await p.reload(first);
    expect(reload.entities[0]).toMatchObject({ read: 2, loaded: 2, rejected: 0 });
    expect(p.rows("SELECT item_code, description FROM items WHERE item_code <> 'A1' ORDER BY item_code")).toEqual([
      { item_code: 'A2', description: 'Pump housing\nincl. gasket' },
      { item_code: 'A3', description: 'p\rq' },
    ]);
  });
});

/** A run's rejects as [position, rule, reason], from its report's staging-free rejects file. */
async function rejectsOf(p: Project, run: RunResult): Promise<string[][]> {
  const { openSource } = await import('../../src/sources/index.js');
  const s = await openSource({ format: 'csv', path: p.rejects(run), encoding: 'auto', delimiter: 'auto', header_row: 1 });
  const out: string[][] = [];
  const at = (n: string): number => s.header.indexOf(n);
  for await (const b of s.batches()) for (const r of b) out.push([r.cells[at('forklift_rule')] ?? '', r.cells[at('forklift_reason')] ?? '', ...s.header.slice(0, at('forklift_source')).map((_, i) => r.cells[i] ?? '')]);
  await s.close();
  return out;
}

describe('a shape reject stays one until a person fixes the row', () => {
  const fields = ['item_code: { from: CODE }', 'description: { from: DESC }', 'uom: { from: UOM, clean: [trim] }', 'active: { const: true }'];

  it('an unedited rejects file reloads to the same rejects: too many cells and too few', async () => {
    const p = project('CODE,DESC,UOM\nA1,Nut,EA\nA2,Bolt, M8,EA\nA3,Washer\n', fields);
    const first = await p.migrate();
    expect(first.entities[0]).toMatchObject({ loaded: 1, rejected: 2 });
    const before = await rejectsOf(p, first);
    expect(before.map((r) => r[0])).toEqual(['shape', 'shape']);
    const reload = await p.reload(first);
    expect(reload.entities[0]).toMatchObject({ read: 2, loaded: 0, rejected: 2, rejects_by_rule: { shape: 2 } });
    expect(await rejectsOf(p, reload)).toEqual(before);
    expect(p.rows('SELECT item_code FROM items')).toEqual([{ item_code: 'A1' }]);
  });

  it('a fixed row loads, the other stays rejected', async () => {
    const p = project('CODE,DESC,UOM\nA1,Nut,EA\nA2,Bolt, M8,EA\nA3,Washer\n', fields);
    const first = await p.migrate();
    p.edit(first, (t) => t.replace('A2,Bolt, M8,', 'A2,"Bolt, M8",EA,'));
    const reload = await p.reload(first);
    expect(reload.entities[0]).toMatchObject({ read: 2, loaded: 1, rejected: 1, rejects_by_rule: { shape: 1 } });
    expect(p.rows("SELECT item_code, description, uom FROM items WHERE item_code = 'A2'")).toEqual([{ item_code: 'A2', description: 'Bolt, M8', uom: 'EA' }]);
  });
});

describe('a rejects file with rows the run never rejected', () => {
  it('counts them in the share of the reject limit, which never passes 100%', async () => {
    const p = project('CODE,DESC,UOM\nA1,Nut,EA\nA2,Bolt,BOX\n', ['item_code: { from: CODE }', 'description: { from: DESC }', 'uom: { from: UOM, values: { EA: EA } }', 'active: { const: true }']);
    const first = await p.migrate();
    expect(first.entities[0]).toMatchObject({ read: 2, rejected: 1 });
    // Rows a person added to the file: five more BOX rows.
    p.edit(first, (t) => t + [3, 4, 5, 6, 7].map((i) => `A${i},Extra ${i},BOX`).join('\n') + '\n');
    writeFileSync(p.plan, readFileSync(p.plan, 'utf8').replace('reject_limit: 100%', 'reject_limit: 10%'));
    const err = await p.reload(first).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    // Before: "items: 6 of 2 rows rejected (300.00%)", the share of the first run's 2 source rows.
    expect(err?.message).toContain('items: 6 of 6 rows rejected (100.00%), over the reject_limit of 10%');
  });
});

describe('a NUL in a source row', () => {
  it('is written visibly to the rejects file, which reloads: the other fixes load, the NUL row stays rejected', async () => {
    const rows = Array.from({ length: 2000 }, (_, i) => `A${i},d${i},EA\n`).join('');
    const p = project(`CODE,DESC,UOM\n${rows}B1,fine,\nZ,a\u0000b,EA\n`, ITEM.filter((f) => !f.startsWith('uom')).concat('uom: { from: UOM }'));
    const first = await p.migrate();
    expect(first.entities[0]).toMatchObject({ loaded: 2000, rejected: 2 });
    const text = readFileSync(p.rejects(first), 'utf8');
    expect(text).not.toContain('\u0000');
    expect(text).toMatch(/Z,a\u2400b,EA,.*each NUL is written as \u2400 in this file/);
    p.edit(first, (t) => t.replace('B1,fine,,', 'B1,fine,EA,'));
    const reload = await p.reload(first);
    expect(reload.entities[0]).toMatchObject({ read: 2, loaded: 1, rejected: 1, rejects_by_rule: { type: 1 } });
    expect(p.rows("SELECT item_code FROM items WHERE item_code IN ('B1', 'Z')")).toEqual([{ item_code: 'B1' }]);
  });
});

describe('a NUL in the first 8 KB of a source', () => {
  it('rejects its row, as one later in the file does', async () => {
    const p = project('CODE,UOM,DESC\nZ,EA,a\u0000b\nA1,EA,fine\n', ITEM);
    const first = await p.migrate();
    expect(first.entities[0]).toMatchObject({ read: 2, loaded: 1, rejected: 1, rejects_by_rule: { type: 1 } });
  });
});

describe('keys Excel changed in the rejects file', () => {
  it('are rejected on reload (rule rekeyed), naming the key as written', async () => {
    const p = project('CODE,DESC,UOM,GRP\n00123,Bolt,,1-2\n4711000012345678901,Nut,,A\n4711000012345678902,Pin,,A\nA1,ok,EA,B\nB7,Cap,,C\n', [...ITEM, 'category: { from: GRP }']);
    const first = await p.migrate();
    expect(first.entities[0]).toMatchObject({ loaded: 1, rejected: 4 });
    // What en-US Excel saves after the person fills in UOM (and corrects a key on purpose).
    p.edit(first, (t) =>
      t
        .replace('00123,Bolt,,1-2,', '123,Bolt,EA,2-Jan,')
        .replace('4711000012345678901,Nut,,', '4.711E+18,Nut,EA,')
        .replace('4711000012345678902,Pin,,', '4711000012345670000,Pin,EA,')
        .replace('B7,Cap,,', 'B8,Cap,EA,'),
    );
    const reload = await p.reload(first);
    expect(reload.entities[0]).toMatchObject({ read: 4, loaded: 1, rejected: 3, rejects_by_rule: { rekeyed: 3 } });
    const r = await rejectsOf(p, reload);
    expect(r.map((x) => x[1])).toEqual([
      expect.stringContaining("CODE '123' was '00123' when run") as unknown as string,
      expect.stringContaining("CODE '4.711E+18' was '4711000012345678901' when run") as unknown as string,
      expect.stringContaining('cut to 15 significant digits') as unknown as string,
    ]);
    expect(r[0]![1]).toContain('leading zeros dropped');
    expect(p.rows("SELECT item_code FROM items WHERE item_code <> 'A1'")).toEqual([{ item_code: 'B8' }]);
    // runs diff counts the three as re-keyed, not as new rejects and deleted rows; B7 corrected to B8 by hand stays "deleted".
    const d = await diffRuns({ a: first.run_id, b: reload.run_id, plan: p.plan });
    expect(d.totals).toMatchObject({ fixed: 0, still_failing: 0, new: 0, deleted_from_file: 1, rekeyed: 3 });
    expect(renderRunsDiffText(d)).toContain("0 new, 1 deleted from run A's rejects file by hand, 3 re-keyed by Excel");
  });
});

describe('keys a German Excel changed in the rejects file', () => {
  it("are rejected on reload (rule rekeyed): '4,711E+18' with a decimal comma in a ';'-separated Windows-1252 save, and a mantissa cut short", async () => {
    const p = project('CODE,DESC,UOM\n4711000012345678901,Nut,\n4711000012345678902,Pin,\n4759000000000000001,Cap,\nA1,ok,EA\n', ITEM);
    const first = await p.migrate();
    expect(first.entities[0]).toMatchObject({ loaded: 1, rejected: 3 });
    // What de-DE Excel saves after the person fills in UOM: ';', Windows-1252, CRLF, numbers shown as the column's width allows.
    const [header, ...rows] = parse(readFileSync(p.rejects(first)), { bom: true }) as string[][];
    const excel: Record<string, string> = { '4711000012345678901': '4,711E+18', '4711000012345678902': '4,7E+18', '4759000000000000001': '4,8E+18' };
    const saved = rows.map(([code, desc, , ...meta]) => [excel[code!] ?? code!, desc!, 'EA', ...meta]);
    writeFileSync(p.rejects(first), iconv.encode(stringify([header!, ...saved], { delimiter: ';', record_delimiter: 'windows' }), 'windows-1252'));
    const reload = await p.reload(first);
    expect(reload.entities[0]).toMatchObject({ read: 3, loaded: 0, rejected: 3, rejects_by_rule: { rekeyed: 3 } });
    const r = await rejectsOf(p, reload);
    expect(r.map((x) => x[1])).toEqual([
      expect.stringContaining("CODE '4,711E+18' was '4711000012345678901' when run") as unknown as string,
      expect.stringContaining("CODE '4,7E+18' was '4711000012345678902' when run") as unknown as string,
      expect.stringContaining("CODE '4,8E+18' was '4759000000000000001' when run") as unknown as string,
    ]);
    expect(p.rows("SELECT item_code FROM items WHERE item_code <> 'A1'")).toEqual([]);
  });
});

describe('the encoding a source was read in', () => {
  it('is detected right on a short Windows-1252 file and written to the report', async () => {
    const p = project(Buffer.from('CODE,UOM,DESC\n1,EA,Caf\xe9 cr\xe8me\n2,EA,Se\xf1or Ni\xf1o\n', 'latin1'), ITEM);
    const run = await p.migrate();
    expect(run.entities[0]!.source_encoding).toBe('windows-1252');
    expect(JSON.parse(readFileSync(run.reportFile, 'utf8')).entities[0].source_encoding).toBe('windows-1252');
    expect(readFileSync(run.htmlFile, 'utf8')).toContain('(windows-1252)');
    expect(p.rows('SELECT description FROM items ORDER BY item_code')).toEqual([{ description: 'Café crème' }, { description: 'Señor Niño' }]);
  });
});

describe('a header read as one column', () => {
  it('names the delimiter it was read with', async () => {
    const p = project('CODE#UOM#DESC\nA1#EA#x\n', ITEM);
    const e = await runPlan({ plan: p.plan, command: 'validate' }).then(
      () => undefined,
      (x: unknown) => x as Error,
    );
    expect(e?.message).toContain(`the header was read as one column with the delimiter "," (sniffed): set delimiter: in the mapping's source to the file's`);
  });
});
