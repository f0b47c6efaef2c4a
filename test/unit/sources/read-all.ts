import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSource, type OpenedSource, type SourceRecord, type SourceSpec } from '../../../src/sources/index.js';
import { SourceError } from '../../../src/core/errors.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const FIXTURES = path.resolve(here, '../../fixtures/sources');
/** Real public files; tests on them skip visibly where the folder is absent. */
export const SHARED = process.env.FORKLIFT_SHARED_DATA ?? path.resolve(here, '../../../../shared/data');

export const fixture = (name: string): string => path.join(FIXTURES, name);

export interface ReadResult {
  source: OpenedSource;
  records: SourceRecord[];
  batchSizes: number[];
}

/** Open a source and read every record (the batches concatenated). */
export async function readAll(spec: SourceSpec, opts?: { batchSize?: number }): Promise<ReadResult> {
  const source = await openSource(spec, opts);
  const records: SourceRecord[] = [];
  const batchSizes: number[] = [];
  for await (const batch of source.batches()) {
    batchSizes.push(batch.length);
    records.push(...batch);
  }
  await source.close();
  return { source, records, batchSizes };
}

/** The SourceError an operation fails with (fails the test when it does not). */
export async function sourceError(run: () => Promise<unknown>): Promise<SourceError> {
  try {
    await run();
  } catch (e) {
    if (e instanceof SourceError) return e;
    throw e;
  }
  throw new Error('expected a SourceError');
}
