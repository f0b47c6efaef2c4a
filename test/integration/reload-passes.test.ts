import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SourceError } from '../../src/core/errors.js';
import { runPlan } from '../../src/run/pipeline.js';
import { reloadRejects } from '../../src/run/reload.js';
import { HashingFileReader } from '../../src/sources/common.js';
import { tempDir } from '../helpers.js';

/**
 * How often `rejects reload` reads a fixed rejects file: its first bytes to detect its encoding
 * and delimiter and check its header, then once whole to load it, finding the rows to reject again
 * as they are (rejects-as-written/) as it goes. It read the whole file twice before.
 */

afterEach(() => {
  vi.restoreAllMocks();
});

/** Every read of `file` through HashingFileReader (each source reads its file through one), as the bytes each read. */
function watchReads(file: string): number[] {
  const reads: number[] = [];
  const chunks = HashingFileReader.prototype.chunks;
  vi.spyOn(HashingFileReader.prototype, 'chunks').mockImplementation(function (this: HashingFileReader, signal?: AbortSignal) {
    if ((this as unknown as { file: string }).file !== file) return chunks.call(this, signal);
    const at = reads.push(0) - 1;
    const inner = chunks.call(this, signal);
    return (async function* () {
      for await (const c of inner) {
        reads[at] = (reads[at] ?? 0) + c.length;
        yield c;
      }
    })();
  });
  return reads;
}

/** A migrate of 40,000 items all rejected (unit BOX): its run folder and rejects file (over 2 MiB). */
async function migrated(): Promise<{ runDir: string; file: string }> {
  const dir = tempDir('forklift-reload-passes-');
  const rows = Array.from({ length: 40_000 }, (_, i) => `A-${String(i).padStart(6, '0')},Zahnrad Getriebe Welle Nummer ${i},BOX\n`);
  writeFileSync(path.join(dir, 'items.csv'), `CODE,DESC,UOM\n${rows.join('')}`);
  writeFileSync(path.join(dir, 'items.yaml'), 'entity: items\nsource: { format: csv, path: items.csv }\nfields:\n  item_code: { from: CODE }\n  description: { from: DESC }\n  uom: { from: UOM, values: { EA: EA }, unknown: reject }\n  active: { const: true }\n');
  const plan = path.join(dir, 'forklift.yaml');
  writeFileSync(plan, `name: passes\ntarget: sqlite:${path.join(dir, 't.db')}\nmodel: factory\nmappings: [items.yaml]\nreject_limit: 100%\n`);
  const first = await runPlan({ plan, command: 'migrate' });
  expect(first.entities[0]).toMatchObject({ rejected: 40_000 });
  const runDir = path.dirname(first.reportFile);
  return { runDir, file: path.join(runDir, 'rejects', 'items.csv') };
}

describe('rejects reload reads a rejects file of some MiB', () => {
  it('once whole: its header first, then one pass that finds the rows to reject again and loads the rest', async () => {
    const { runDir, file } = await migrated();
    const size = statSync(file).size;
    expect(size).toBeGreaterThan(2 * 1024 * 1024);

    const reads = watchReads(file);
    const reload = await reloadRejects({ runDir });
    expect(reload.entities[0]).toMatchObject({ read: 40_000, rejected: 40_000 });
    expect(reads).toHaveLength(2);
    expect(reads[0]).toBeLessThanOrEqual(256 * 1024);
    expect(reads[1]).toBe(size);
  });

  it('refuses a byte that is no UTF-8 far into the file as before: the message of a read in the encoding detected', async () => {
    const { runDir, file } = await migrated();
    const bytes = readFileSync(file);
    bytes[bytes.indexOf('Nummer 30000,') + 1] = 0xfc; // Nümmer in Windows-1252, on line 30,002
    writeFileSync(file, bytes);
    const err = await reloadRejects({ runDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    expect((err as SourceError).message).toMatch(/[\\/]rejects[\\/]items\.csv:30002 is not valid UTF-8$/);
  });
});
