import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { openArrowRows, openArrowWriter } from '../src/bundle/arrow.js';
import { parseBagInfo, writeBagTags } from '../src/bundle/bagit.js';
import type { DataPackageResource } from '../src/bundle/datapackage-read.js';
import type { Entity } from '../src/model/types.js';

/** Every row of an Arrow file, through the cursor `bundle verify` reads it with. */
export async function readArrowRows(file: string): Promise<unknown[][]> {
  const cursor = openArrowRows(file);
  const rows: unknown[][] = [];
  for (;;) {
    const r = cursor.next();
    if (r) rows.push(r);
    else if (!(await cursor.advance())) break;
  }
  await cursor.close();
  return rows;
}

/** Writes an Arrow file in record batches of 7 rows, so that even a small table makes a reader cross batch boundaries. */
export async function writeArrowRows(file: string, entity: Entity, rows: unknown[][]): Promise<void> {
  const w = await openArrowWriter(file, entity, { batchRows: 7 });
  await w.write(rows);
  await w.close();
}

/** Rewrites an Arrow file from its own rows, changed by `edit`. */
export async function editArrowRows(file: string, entity: Entity, edit: (rows: unknown[][]) => unknown[][]): Promise<void> {
  await writeArrowRows(file, entity, edit(await readArrowRows(file)));
}

/**
 * The bag's manifests, Payload-Oxum and tag manifest recomputed over the bag as it is now, as any
 * bag editor does after an edit: only forklift's own checks of the data can then see the change.
 */
export async function rebag(dir: string): Promise<void> {
  const info = parseBagInfo(readFileSync(path.join(dir, 'bag-info.txt'), 'utf8')).fields.filter(([k]) => !/^(payload-oxum|bagging-date)$/i.test(k));
  await writeBagTags(dir, { fields: info });
}

/** datapackage.json of a bundle folder, changed by `edit` (in place). */
export function editDataPackage(dir: string, edit: (pkg: { resources: DataPackageResource[] }) => void): void {
  const file = path.join(dir, 'data', 'datapackage.json');
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as { resources: DataPackageResource[] };
  edit(pkg);
  writeFileSync(file, `${JSON.stringify(pkg, null, 2)}\n`);
}

/**
 * Each resource's hash and bytes in datapackage.json restated from its CSV as it is now, as a tool
 * that rewrites a CSV and its Data Package does: only the checks of the data can then see the edit.
 */
export function restateResources(dir: string): void {
  editDataPackage(dir, (pkg) => {
    for (const r of pkg.resources) {
      const file = path.join(dir, 'data', 'csv', `${r.name}.csv`);
      if (!existsSync(file)) continue;
      const bytes = readFileSync(file);
      r.hash = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      r.bytes = bytes.length;
    }
  });
}
