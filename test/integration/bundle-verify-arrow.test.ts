import { cpSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { entityOf, type DataPackageResource } from '../../src/bundle/datapackage-read.js';
import { exportBundle } from '../../src/bundle/export.js';
import { verifyBundle } from '../../src/bundle/verify.js';
import { runPlan } from '../../src/run/pipeline.js';
import { editArrowRows } from '../bundle-helpers.js';
import { demoCopy, tempDir } from '../helpers.js';

/**
 * `bundle verify` reads each Arrow file row by row beside its CSV (a row decoded only when it is
 * compared): a changed value, a row missing and a row too many are each named, with the file.
 */
const { plan } = demoCopy();
const source = `sqlite:${path.join(tempDir('forklift-verify-arrow-'), 'store.db')}`;
await runPlan({ plan, command: 'migrate', target: source });
const out = tempDir('forklift-verify-arrow-out-');
const bundle = path.join(out, 'b');
const exported = await exportBundle({ dir: bundle, source, tables: ['items'] });
const items = exported.tables.find((t) => t.name === 'items')!;

/** Rewrites data/arrow/items.arrow from the bundle's own rows, changed by `edit`. */
async function rewriteArrow(dir: string, edit: (rows: unknown[][]) => unknown[][]): Promise<void> {
  const pkg = JSON.parse(readFileSync(path.join(dir, 'data', 'datapackage.json'), 'utf8')) as { resources: DataPackageResource[] };
  const { entity } = entityOf(pkg.resources.find((r) => r.name === 'items')!);
  await editArrowRows(path.join(dir, 'data', 'arrow', 'items.arrow'), entity, edit);
}

function copyBundle(name: string): string {
  const dir = path.join(out, name);
  cpSync(bundle, dir, { recursive: true });
  return dir;
}

describe('bundle verify: Arrow beside CSV', () => {
  it('accepts the bundle as exported, every row compared', async () => {
    expect(items.rows).toBeGreaterThan(20);
    const v = await verifyBundle(bundle);
    expect(v.problems).toEqual([]);
    expect(v.valid).toBe(true);
  });

  it('names a changed value, a missing row and a row too many', async () => {
    const cases: [string, (rows: unknown[][]) => unknown[][], RegExp][] = [
      ['changed', (rows) => rows.map((r, i) => (i === 13 ? [r[0], `${String(r[1])} (edited)`, ...r.slice(2)] : r)), /data\/arrow\/items\.arrow: row 14, \w+: .*\(edited\).* here/],
      ['fewer', (rows) => rows.slice(0, -1), /data\/arrow\/items\.arrow: fewer rows than items\.csv/],
      ['more', (rows) => [...rows, rows.at(-1)!], /data\/arrow\/items\.arrow: more rows than items\.csv/],
    ];
    for (const [name, edit, want] of cases) {
      const dir = copyBundle(name);
      await rewriteArrow(dir, edit);
      const v = await verifyBundle(dir);
      expect(v.valid, name).toBe(false);
      expect(v.problems.join('\n'), name).toMatch(want);
    }
  });
});
