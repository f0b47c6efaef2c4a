import { openArrowRows, openArrowWriter } from '../src/bundle/arrow.js';
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
