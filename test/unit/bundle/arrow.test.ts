import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { Decimal, RecordBatchStreamWriter, tableFromArrays, tableFromIPC, TimeUnit, Type } from 'apache-arrow';
import fc from 'fast-check';
import * as pw from 'parquet-wasm';
import { describe, expect, it } from 'vitest';
import { openArrowRows, openArrowWriter, readArrowFile, readArrowSchema } from '../../../src/bundle/arrow.js';
import { BugError, ForkliftError } from '../../../src/core/errors.js';
import { factoryModel } from '../../../src/model/factory.js';
import type { Column, Entity } from '../../../src/model/types.js';
import { tempDir } from '../../helpers.js';

const dir = tempDir('forklift-arrow-');
let n = 0;
const file = (ext = 'arrow'): string => path.join(dir, `t${n++}.${ext}`);
const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

const col = (name: string, type: Column['type'], extra: Partial<Column> = {}): Column => ({ name, type, required: false, ...extra });

/** One column of each type, the decimals at the edges of their paths (15 digits by number, more by BigInt). */
const edges: Entity = {
  name: 'edges',
  description: 'edge values',
  primaryKey: ['id'],
  rules: [],
  columns: [
    col('id', 'integer', { required: true }),
    col('name', 'string', { length: 64, description: 'a name' }),
    col('kind', 'enum', { values: ['a', 'b'] }),
    col('note', 'text'),
    col('cost', 'decimal', { precision: 18, scale: 4 }),
    col('qty', 'decimal', { precision: 18, scale: 6 }),
    col('big', 'decimal', { precision: 38, scale: 10 }),
    col('whole', 'decimal', { precision: 10, scale: 0 }),
    col('ok', 'boolean'),
    col('day', 'date'),
    col('at', 'timestamp'),
  ],
};

const edgeRows: unknown[][] = [
  [1, 'plain', 'a', 'x', '12345678901234.5678', '999999999999.999999', '9999999999999999999999999999.9999999999', '9999999999', 1, '0001-01-01', '0001-01-01T00:00:00.000Z'],
  [2, '', 'b', '', '-12345678901234.5678', '-999999999999.999999', '-9999999999999999999999999999.9999999999', '-9999999999', 0, '1900-01-01', '1900-01-01T00:00:00.000Z'],
  [3, null, null, null, null, null, null, null, null, null, null],
  [4, '👩‍🔧 Schweißer', 'a', 'q\u0307 e\u0301 \u0915\u094d\u0937 한국어', '0.0000', '0.000000', '0.0000000000', '0', 1, '1970-01-01', '1969-12-31T23:59:59.999Z'],
  [5, 'abc€', 'b', 'a text longer than twenty-four characters, then ✓ and 😀', '-0.0001', '-0.000001', '-0.0000000001', '-1', 0, '2000-02-29', '1970-01-01T00:00:00.000Z'],
  [6, '\u0000\t"quoted",\n', 'a', 'x'.repeat(1000), '99999999999999.9999', '123456789.123456', '12345.6789012345', '1', 1, '2100-02-28', '2038-01-19T03:14:08.001Z'],
  [Number.MAX_SAFE_INTEGER, 'max', 'a', null, '-99999999999999.9999', '-123456789.123456', '-12345.6789012345', '42', null, '9999-12-31', '9999-12-31T23:59:59.999Z'],
  [-Number.MAX_SAFE_INTEGER, 'min', 'b', 'y', '0.5000', '0.100000', '0.0000000001', '-42', 0, '1582-10-04', '1582-10-15T12:30:45.678Z'],
  ['9007199254740993', 'beyond 2^53', null, null, '1.0000', '1.000000', '100000.0000000000', '0', 1, '2024-02-29', '2262-04-11T23:47:16.854Z'],
  ['9223372036854775807', 'int64 max', null, null, '9.9990', '99999.999990', '-1.0000000000', '0', 0, '1677-09-21', '1677-09-21T00:12:43.145Z'],
  ['-9223372036854775808', 'int64 min', null, null, '-9.9990', '-99999.999990', '1.0000000000', '0', 1, '0999-12-31', '0999-12-31T23:59:59.000Z'],
];

async function writeArrow(f: string, entity: Entity, batches: unknown[][][]): Promise<void> {
  const w = await openArrowWriter(f, entity);
  for (const b of batches) await w.write(b);
  await w.close();
}

async function readAll(f: string): Promise<unknown[][]> {
  const out: unknown[][] = [];
  for await (const r of readArrowFile(f)) out.push(r);
  return out;
}

/** Unscaled integer of canonical decimal text, by BigInt: what Decimal128 must hold. */
const unscaled = (s: string): bigint => BigInt(s.replace('.', ''));

describe('arrow writer', () => {
  it('round-trips edge values exactly through write and read, batch by batch', async () => {
    const f = file();
    await writeArrow(f, edges, [edgeRows.slice(0, 3), edgeRows.slice(3, 4), edgeRows.slice(4)]);
    expect(await readAll(f)).toEqual(edgeRows);
  });

  it('reads row by row with the cursor: synchronous within a batch, advancing across batches, to the end', async () => {
    const f = file();
    await writeArrow(f, edges, [edgeRows.slice(0, 3), edgeRows.slice(3, 4), edgeRows.slice(4)]);
    const cursor = openArrowRows(f);
    const rows: unknown[][] = [];
    const boundaries: number[] = [];
    try {
      for (;;) {
        const r = cursor.next();
        if (r) {
          rows.push(r);
          continue;
        }
        boundaries.push(rows.length);
        if (!(await cursor.advance())) break;
      }
    } finally {
      await cursor.close();
    }
    expect(rows).toEqual(edgeRows);
    // Before the first batch, after each of the three, and the end.
    expect(boundaries).toEqual([0, 3, 4, edgeRows.length]);
  });

  it('the cursor finds no row in a file of a table without rows', async () => {
    const f = file();
    await writeArrow(f, edges, []);
    const cursor = openArrowRows(f);
    try {
      expect(cursor.next()).toBeUndefined();
      expect(await cursor.advance()).toBe(false);
    } finally {
      await cursor.close();
    }
  });

  it('with batchRows, gathers rows into record batches of exactly that many, however they were handed over', async () => {
    const sizes = async (f: string): Promise<number[]> => {
      const cursor = openArrowRows(f);
      const out: number[] = [];
      for (let b = await cursor.nextBatch(); b; b = await cursor.nextBatch()) out.push(b.numRows);
      await cursor.close();
      return out;
    };
    const a = file();
    const w = await openArrowWriter(a, edges, { batchRows: 4 });
    for (const part of [edgeRows.slice(0, 1), edgeRows.slice(1, 7), [], edgeRows.slice(7)]) await w.write(part);
    await w.close();
    expect(await sizes(a)).toEqual([4, 4, 3]);
    expect(await readAll(a)).toEqual(edgeRows);
    // The same rows handed over another way: the same bytes.
    const b = file();
    const w2 = await openArrowWriter(b, edges, { batchRows: 4 });
    await w2.write(edgeRows);
    await w2.close();
    expect(sha(b)).toBe(sha(a));
  });

  it('writes an Arrow IPC file (not a stream) with the exact types, nullability and metadata', async () => {
    const f = file();
    await writeArrow(f, edges, [edgeRows]);
    const bytes = readFileSync(f);
    expect(bytes.subarray(0, 6).toString('latin1')).toBe('ARROW1');
    expect(bytes.subarray(bytes.length - 6).toString('latin1')).toBe('ARROW1');
    const table = tableFromIPC(bytes);
    const types = Object.fromEntries(table.schema.fields.map((fl) => [fl.name, String(fl.type)]));
    expect(types).toEqual({
      id: 'Int64',
      name: 'Utf8',
      kind: 'Utf8',
      note: 'Utf8',
      cost: 'Decimal[18e+4]',
      qty: 'Decimal[18e+6]',
      big: 'Decimal[38e+10]',
      whole: 'Decimal[10e0]',
      ok: 'Bool',
      day: 'Date32<DAY>',
      at: 'Timestamp<MILLISECOND, UTC>',
    });
    const at = table.schema.fields.find((fl) => fl.name === 'at')!.type;
    expect([at.typeId, at.unit, at.timezone]).toEqual([Type.Timestamp, TimeUnit.MILLISECOND, 'UTC']);
    const cost = table.schema.fields.find((fl) => fl.name === 'cost')!.type as Decimal;
    expect([cost.precision, cost.scale, cost.bitWidth]).toEqual([18, 4, 128]);
    expect(table.schema.fields.map((fl) => fl.nullable)).toEqual([false, true, true, true, true, true, true, true, true, true, true]);
    const meta = (name: string): Record<string, string> => Object.fromEntries(table.schema.fields.find((fl) => fl.name === name)!.metadata);
    expect(meta('name')).toEqual({ 'forklift.type': 'string(64)', 'forklift.description': 'a name' });
    expect(meta('kind')).toEqual({ 'forklift.type': 'enum', 'forklift.values': '["a","b"]' });
    expect(meta('cost')).toEqual({ 'forklift.type': 'decimal(18,4)' });
    expect(Object.fromEntries(table.schema.metadata)).toEqual({ 'forklift.table': 'edges', 'forklift.primary_key': '["id"]', 'forklift.description': 'edge values' });
    // The schema from the footer, as bundle verify reads it.
    expect((await readArrowSchema(f)).fields.map((fl) => fl.name)).toEqual(edges.columns.map((c) => c.name));
  });

  it("agrees with apache-arrow's own value getters (a reader path that is not ours)", async () => {
    const f = file();
    await writeArrow(f, edges, [edgeRows.slice(0, 5), edgeRows.slice(5)]);
    const table = tableFromIPC(readFileSync(f));
    expect(table.numRows).toBe(edgeRows.length);
    expect(table.batches.length).toBe(2);
    const c = (name: string): number => edges.columns.findIndex((x) => x.name === name);
    for (let i = 0; i < edgeRows.length; i++) {
      const row = table.get(i)!.toJSON() as Record<string, unknown>;
      const want = edgeRows[i]!;
      expect(row.id).toBe(BigInt(want[c('id')] as number | string));
      for (const name of ['name', 'kind', 'note']) expect(row[name]).toBe(want[c(name)]);
      for (const name of ['cost', 'qty', 'big', 'whole']) {
        const v = want[c(name)];
        // apache-arrow hands a Decimal128 back as its unscaled 128-bit integer.
        expect(row[name] === null ? null : BigInt(String(row[name]))).toBe(v === null ? null : unscaled(v as string));
      }
      expect(row.ok).toBe(want[c('ok')] === null ? null : want[c('ok')] === 1);
      const day = want[c('day')] as string | null;
      expect(row.day).toBe(day === null ? null : Date.parse(`${day}T00:00:00.000Z`));
      const at = want[c('at')] as string | null;
      expect(row.at).toBe(at === null ? null : Date.parse(at));
    }
  });

  it('is deterministic: the same rows in the same batches give the same bytes', async () => {
    const a = file();
    const b = file();
    await writeArrow(a, edges, [edgeRows.slice(0, 4), edgeRows.slice(4)]);
    await new Promise((r) => setTimeout(r, 1100));
    await writeArrow(b, edges, [edgeRows.slice(0, 4), edgeRows.slice(4)]);
    expect(sha(b)).toBe(sha(a));
  });

  it('writes a valid file for a table without rows', async () => {
    const f = file();
    await writeArrow(f, edges, [[]]);
    expect(await readAll(f)).toEqual([]);
    const table = tableFromIPC(readFileSync(f));
    expect(table.numRows).toBe(0);
    expect(table.schema.fields.length).toBe(edges.columns.length);
  });

  it('keeps exact values for random decimals, integers, dates and timestamps', async () => {
    const entity: Entity = {
      name: 'prop',
      primaryKey: [],
      rules: [],
      columns: [col('d18', 'decimal', { precision: 18, scale: 6 }), col('d38', 'decimal', { precision: 38, scale: 4 }), col('i', 'integer'), col('day', 'date'), col('at', 'timestamp')],
    };
    const digits = (min: number, max: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: min, maxLength: max });
    const decimal = (intMax: number, scale: number): fc.Arbitrary<string> =>
      fc.tuple(fc.boolean(), digits(1, intMax), digits(scale, scale)).map(([neg, i, frac]) => {
        const int = i.replace(/^0+(?=\d)/, '');
        const zero = /^0*$/.test(int + frac);
        return `${neg && !zero ? '-' : ''}${int}.${frac}`;
      });
    const minMs = Date.parse('0001-01-01T00:00:00.000Z');
    const maxMs = Date.parse('9999-12-31T23:59:59.999Z');
    const row = fc.tuple(
      decimal(12, 6),
      decimal(34, 4),
      fc.oneof(fc.maxSafeInteger().map((x) => x + 0), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((b) => (Number.isSafeInteger(Number(b)) ? Number(b) : String(b)))),
      fc.integer({ min: Math.floor(minMs / 86400000), max: Math.floor(maxMs / 86400000) }).map((d) => new Date(d * 86400000).toISOString().slice(0, 10)),
      fc.integer({ min: minMs, max: maxMs }).map((t) => new Date(t).toISOString()),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 40 }), async (rows) => {
        const f = file();
        await writeArrow(f, entity, [rows]);
        expect(await readAll(f)).toEqual(rows);
        const t = tableFromIPC(readFileSync(f));
        rows.forEach((r, i) => {
          expect(BigInt(String(t.get(i)!.toJSON().d38))).toBe(unscaled(r[1]));
          expect(t.get(i)!.toJSON().at).toBe(Date.parse(r[4]));
        });
      }),
      { numRuns: 60 },
    );
  });

  it('refuses values that are not in the staging form, naming the place but not the value', async () => {
    const entity: Entity = { name: 'e', primaryKey: ['k'], rules: [], columns: [col('k', 'string', { required: true }), col('d', 'decimal', { precision: 5, scale: 2 }), col('day', 'date'), col('at', 'timestamp'), col('b', 'boolean')] };
    const bad: [unknown[], RegExp][] = [
      [[null, '1.00', null, null, null], /e\.k row 2: null in a required column/],
      [['x', '1.5', null, null, null], /e\.d row 2: expected decimal text with 2 decimal places/],
      [['x', '1000.00', null, null, null], /e\.d row 2: .*at most 5 digits/],
      [['x', 1.5, null, null, null], /e\.d row 2: .*got number/],
      [['x', '1e2', null, null, null], /e\.d row 2/],
      [['x', null, '2100-02-29', null, null], /e\.day row 2: expected a date/],
      [['x', null, '0000-01-01', null, null], /e\.day row 2/],
      [['x', null, null, '2024-01-01T00:00:00Z', null], /e\.at row 2: expected a UTC timestamp/],
      [['x', null, null, '2024-01-01T24:00:00.000Z', null], /e\.at row 2/],
      [['x', null, null, null, 'true'], /e\.b row 2: expected 1 or 0/],
      [['x', null, null], /e row 2: expected an array of 5 values, got 3/],
    ];
    for (const [row, message] of bad) {
      const w = await openArrowWriter(file(), entity);
      const err: unknown = await w.write([['ok', '1.00', '2024-01-01', '2024-01-01T00:00:00.000Z', 1], row]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BugError);
      expect(String((err as Error).message)).toMatch(message);
      expect(String((err as Error).message)).not.toMatch(/1000\.00|1e2|2100-02-29|true/);
      await expect(w.close()).rejects.toThrow(/used after it was failed/);
    }
  });

  it('reads only Arrow IPC files, and says so for anything else', async () => {
    const notArrow = file();
    writeFileSync(notArrow, 'id,name\n1,a\n');
    await expect(readAll(notArrow)).rejects.toBeInstanceOf(ForkliftError);
    const stream = file();
    writeFileSync(stream, RecordBatchStreamWriter.writeAll(tableFromArrays({ a: Int32Array.of(1, 2) })).toUint8Array(true));
    await expect(readAll(stream)).rejects.toThrow(/an Arrow IPC stream, not an Arrow IPC file/);
  });

  it('is read by another implementation: arrow-rs decodes the file, DuckDB checks count, decimal sum and timestamps', async () => {
    // DuckDB reads Arrow IPC only through its `arrow` community extension, which has to be
    // downloaded (no network here). So the Arrow file's messages are decoded by arrow-rs (through
    // parquet-wasm: the file is magic, padding, then an IPC stream), written as Parquet, and DuckDB
    // reads that: neither apache-arrow nor our reader takes part.
    const entity = factoryModel().entities.get('machine_events')!;
    const rows: unknown[][] = [];
    for (let i = 0; i < 3000; i++) {
      const neg = i % 7 === 0 ? '-' : '';
      rows.push([
        `M-${i % 3}`,
        new Date(Date.UTC(1965, 0, 1) + i * 1_000_000_007).toISOString(),
        ['RUN', 'IDLE', 'DOWN'][i % 3]!,
        i,
        i % 5 === 0 ? null : i % 4,
        i % 2 === 0 ? '' : null,
        `${neg}${i % 99999}.${String(i % 1000).padStart(3, '0')}`.replace(/^-0\.000$/, '0.000'),
        `${i % 100}.125`,
        `${neg}${i * 997}.999`,
      ]);
    }
    const f = file();
    await writeArrow(f, entity, [rows.slice(0, 1000), rows.slice(1000, 2500), rows.slice(2500)]);
    const bytes = readFileSync(f);
    const table = pw.Table.fromIPCStream(bytes.subarray(8));
    const pq = file('parquet');
    writeFileSync(pq, pw.writeParquet(table)); // consumes the table
    const db = await DuckDBInstance.create(':memory:');
    const con = await db.connect();
    try {
      const sumOf = (c: number): string => {
        const scale = 3n;
        const total = rows.reduce((s, r) => s + (r[c] === null ? 0n : unscaled(r[c] as string)), 0n);
        const neg = total < 0n;
        const mag = (neg ? -total : total).toString().padStart(4, '0');
        return `${neg ? '-' : ''}${mag.slice(0, -Number(scale))}.${mag.slice(-Number(scale))}`;
      };
      const agg = (await con.runAndReadAll(`SELECT count(*)::VARCHAR, sum(temperature_c)::VARCHAR, typeof(sum(temperature_c)), sum(power_kw)::VARCHAR FROM read_parquet('${pq}')`)).getRows();
      expect(agg).toEqual([['3000', sumOf(6), 'DECIMAL(38,3)', sumOf(8)]]);
      const ts = (await con.runAndReadAll(`SELECT epoch_ms(ts)::VARCHAR, typeof(ts) FROM read_parquet('${pq}')`)).getRows();
      expect(ts.map((r) => Number(r[0]))).toEqual(rows.map((r) => Date.parse(r[1] as string)));
      expect(ts[0]![1]).toBe('TIMESTAMP WITH TIME ZONE');
      const strings = (await con.runAndReadAll(`SELECT count(*) FILTER (WHERE downtime_reason = '')::VARCHAR, count(*) FILTER (WHERE downtime_reason IS NULL)::VARCHAR FROM read_parquet('${pq}')`)).getRows();
      expect(strings).toEqual([['1500', '1500']]);
    } finally {
      con.closeSync();
      db.closeSync();
    }
  });
});
