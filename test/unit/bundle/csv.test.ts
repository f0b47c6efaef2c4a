import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CsvEncodingError, CsvShapeError, CsvTableWriter, csvEncoder, quoteField, readBundleCsv, type CsvField } from '../../../src/bundle/csv.js';
import type { Entity } from '../../../src/model/types.js';
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

  it('refuses bytes that are not UTF-8 at any chunk size, naming the line, the offset and the bytes, never replacing them', async () => {
    const dir = tempDir();
    const head = Buffer.from('a,b\r\n1,"two\r\nlines é"\r\n');
    for (const [bad, bytes] of [
      [Buffer.from([0x47, 0x65, 0x68, 0xe4, 0x75, 0x73, 0x65]), 'e4'], // Latin-1 ä: a lead byte without its continuation
      [Buffer.from([0x78, 0xc0, 0x80]), 'c0'], // an overlong NUL
      [Buffer.from([0x78, 0xed, 0xa0, 0x80]), 'ed'], // a surrogate
      [Buffer.from([0x78, 0x80]), '80'], // a continuation byte alone
      [Buffer.from([0x78, 0xf0, 0x9f, 0x98]), 'f0 9f 98'], // a character cut short by the end of the file
    ] as const) {
      const file = path.join(dir, 'latin1.csv');
      const tail = bytes === 'f0 9f 98' ? Buffer.alloc(0) : Buffer.from('\r\n');
      writeFileSync(file, Buffer.concat([head, Buffer.from('3,'), bad, tail]));
      for (const chunk of [1, 2, 3, 5, 64, 1 << 16]) {
        const err = await readAll(file, chunk).catch((e: unknown) => e);
        expect(err, `${bytes} in chunks of ${chunk}`).toBeInstanceOf(CsvEncodingError);
        expect((err as CsvEncodingError).line).toBe(4);
        expect((err as CsvEncodingError).bytes).toBe(bytes);
        expect((err as CsvEncodingError).offset).toBe(head.length + 2 + bad.indexOf(Number.parseInt(bytes.slice(0, 2), 16)));
      }
    }
  });
});

describe('CsvTableWriter', () => {
  it('writes exactly the fields csvEncoder gives, whatever the text and however long the batch (property)', async () => {
    const entity: Entity = {
      name: 't',
      columns: [
        { name: 'code', type: 'string', required: false },
        { name: 'kind', type: 'enum', values: ['a,b', 'ü', 'x'], required: false },
        { name: 'n', type: 'integer', required: false },
        { name: 'amount', type: 'decimal', precision: 20, scale: 2, required: false },
        { name: 'ok', type: 'boolean', required: false },
        { name: 'day', type: 'date', required: false },
        { name: 'at', type: 'timestamp', required: false },
      ],
      primaryKey: [],
      rules: [],
    };
    const row = fc.tuple(
      fc.oneof(field, fc.string({ minLength: 5000, maxLength: 20000 })),
      fc.constantFrom(null, 'a,b', 'ü', 'x'),
      fc.oneof(fc.constant(null), fc.integer(), fc.constant('9223372036854775807')),
      fc.constantFrom(null, '0.00', '-12.50', '123456789012345678.99'),
      fc.constantFrom(null, 0, 1),
      fc.constantFrom(null, '0001-01-01', '2025-11-03'),
      fc.constantFrom(null, '1969-12-31T23:59:59.999Z', '2025-11-03T06:30:00.000Z'),
    );
    const dir = tempDir('forklift-csv-writer-');
    const encoders = entity.columns.map(csvEncoder);
    let k = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(row, { maxLength: 40 }), { maxLength: 4 }), async (batches) => {
        const file = path.join(dir, `t${k++}.csv`);
        const w = new CsvTableWriter(file, entity);
        await w.writeHeader();
        for (const b of batches) await w.write(b);
        const digest = await w.close();
        const want = 'code,kind,n,amount,ok,day,at\r\n' + batches.flat().map((r) => r.map((v, i) => encoders[i]!(v)).join(',') + '\r\n').join('');
        const got = readFileSync(file);
        expect(got.toString('utf8')).toBe(want);
        expect(digest.bytes).toBe(Buffer.byteLength(want));
        expect(digest.sha256).toBe(createHash('sha256').update(want).digest('hex'));
      }),
      { numRuns: 60 },
    );
  });
});
