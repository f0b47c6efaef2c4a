import { writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CsvShapeError, quoteField, readBundleCsv, type CsvField } from '../../../src/bundle/csv.js';
import { tempDir } from '../../helpers.js';

/** The bundle CSV reader against the writer's own quoting: every record back exactly, '' apart from missing. */

const write = (rows: CsvField[][], eol = '\r\n'): string => rows.map((r) => r.map((f) => (f === null ? '' : quoteField(f))).join(',') + eol).join('');

async function readAll(file: string, chunk: number): Promise<CsvField[][]> {
  const out: CsvField[][] = [];
  for await (const batch of readBundleCsv(file, 7, chunk)) out.push(...batch);
  return out;
}

const field = fc.oneof(fc.constant(null), fc.constant(''), fc.string({ unit: 'grapheme' }), fc.constantFrom('a,b', '"', '""', 'line\r\nbreak', 'lf\nonly', 'cr\r', ' ', 'é😀', '\u0065\u0301'));

describe('readBundleCsv', () => {
  it('reads back what the writer wrote, at any chunk size (property)', async () => {
    const dir = tempDir('forklift-csv-');
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }).chain((w) => fc.array(fc.array(field, { minLength: w, maxLength: w }), { minLength: 1, maxLength: 30 })), fc.integer({ min: 1, max: 64 }), async (rows, chunk) => {
        // A record of one missing field would be a blank line, which a CSV cannot hold apart from nothing.
        const safe = rows.map((r) => (r.length === 1 && r[0] === null ? [''] : r));
        const file = path.join(dir, 'p.csv');
        writeFileSync(file, write(safe));
        expect(await readAll(file, chunk)).toEqual(safe);
      }),
      { numRuns: 200 },
    );
  });

  it('accepts LF line ends and a last line without one', async () => {
    const file = path.join(tempDir(), 'lf.csv');
    writeFileSync(file, 'a,b\n1,""\n2,');
    expect(await readAll(file, 3)).toEqual([['a', 'b'], ['1', ''], ['2', null]]);
  });

  it('refuses what is not RFC 4180, naming the line', async () => {
    const dir = tempDir();
    for (const [text, line, reason] of [
      ['a,b\r\n1,x"y\r\n', 2, /quote inside an unquoted field/],
      ['a,b\r\n1,"x"y\r\n', 2, /goes on after its closing quote/],
      ['a,b\r\n1,\r\n2,"never closed\r\n', 3, /not closed/],
    ] as const) {
      const file = path.join(dir, 'bad.csv');
      writeFileSync(file, text);
      const err = await readAll(file, 4).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CsvShapeError);
      expect((err as CsvShapeError).line).toBe(line);
      expect((err as Error).message).toMatch(reason);
    }
  });
});
