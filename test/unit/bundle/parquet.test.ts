import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openParquetWriter, parquetRowCount, readParquetFile } from '../../../src/bundle/parquet.js';
import { BugError, ForkliftError } from '../../../src/core/errors.js';
import { factoryModel } from '../../../src/model/factory.js';
import type { Column, Entity } from '../../../src/model/types.js';
import { tempDir } from '../../helpers.js';

const dir = tempDir('forklift-parquet-');
let n = 0;
const file = (): string => path.join(dir, `t${n++}.parquet`);
const sha = (f: string): string => createHash('sha256').update(readFileSync(f)).digest('hex');

const col = (name: string, type: Column['type'], extra: Partial<Column> = {}): Column => ({ name, type, required: false, ...extra });

const edges: Entity = {
  name: 'edges',
  primaryKey: ['id'],
  rules: [],
  columns: [
    col('id', 'integer', { required: true }),
    col('name', 'string', { length: 64, description: 'a name' }),
    col('note', 'text'),
    col('cost', 'decimal', { precision: 18, scale: 4 }),
    col('qty', 'decimal', { precision: 18, scale: 6 }),
    col('big', 'decimal', { precision: 38, scale: 10 }),
    col('pct', 'decimal', { precision: 5, scale: 2 }),
    col('ok', 'boolean', { required: true }),
    col('day', 'date'),
    col('at', 'timestamp'),
  ],
};

const edgeRows: unknown[][] = [
  [1, 'plain', 'x', '12345678901234.5678', '999999999999.999999', '9999999999999999999999999999.9999999999', '100.00', 1, '0001-01-01', '0001-01-01T00:00:00.000Z'],
  [2, '', '', '-12345678901234.5678', '-999999999999.999999', '-9999999999999999999999999999.9999999999', '-999.99', 0, '1900-01-01', '1900-01-01T00:00:00.000Z'],
  [3, null, null, null, null, null, null, 1, null, null],
  [4, '👩‍🔧 Schweißer', 'q\u0307 e\u0301 \u0915\u094d\u0937 한국어', '0.0000', '0.000000', '0.0000000000', '0.00', 1, '1970-01-01', '1969-12-31T23:59:59.999Z'],
  [5, 'abc€', 'a text longer than twenty-four characters, then ✓ and 😀', '-0.0001', '-0.000001', '-0.0000000001', '-0.01', 0, '2000-02-29', '1970-01-01T00:00:00.000Z'],
  [6, '\u0000\t"quoted",\n', 'x'.repeat(1000), '99999999999999.9999', '123456789.123456', '12345.6789012345', '1.50', 1, '2100-02-28', '2038-01-19T03:14:08.001Z'],
  [Number.MAX_SAFE_INTEGER, 'max', null, '-99999999999999.9999', '-123456789.123456', '-12345.6789012345', '99.99', 0, '9999-12-31', '9999-12-31T23:59:59.999Z'],
  ['9223372036854775807', 'int64 max', null, '9.9990', '99999.999990', '-1.0000000000', '0.10', 0, '1677-09-21', '2262-04-11T23:47:16.854Z'],
  ['-9223372036854775808', 'int64 min', null, '-9.9990', '-99999.999990', '1.0000000000', '-0.10', 1, '0999-12-31', '0999-12-31T23:59:59.000Z'],
];

async function writeParquet(f: string, entity: Entity, batches: unknown[][][], rowGroupRows?: number): Promise<void> {
  const w = await openParquetWriter(f, entity, rowGroupRows === undefined ? {} : { rowGroupRows });
  for (const b of batches) await w.write(b);
  await w.close();
}

async function readAll(f: string): Promise<unknown[][]> {
  const out: unknown[][] = [];
  for await (const r of readParquetFile(f)) out.push(r);
  return out;
}

/** Canonical text of an unscaled integer at a scale. */
function decimalText(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  const mag = (neg ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  return `${neg ? '-' : ''}${mag.slice(0, mag.length - scale)}.${mag.slice(mag.length - scale)}`;
}

/** Exact sum of canonical decimal texts of one scale, as canonical text. */
const decimalSum = (values: unknown[], scale: number): string => decimalText(values.reduce<bigint>((s, v) => s + (v === null ? 0n : BigInt((v as string).replace('.', ''))), 0n), scale);

let db: DuckDBInstance;
let con: DuckDBConnection;
beforeAll(async () => {
  db = await DuckDBInstance.create(':memory:');
  con = await db.connect();
});
afterAll(() => {
  con.closeSync();
  db.closeSync();
});
const query = async (sql: string): Promise<unknown[][]> => (await con.runAndReadAll(sql)).getRows();

describe('parquet writer', () => {
  it('round-trips edge values exactly through write and read', async () => {
    const f = file();
    await writeParquet(f, edges, [edgeRows.slice(0, 3), edgeRows.slice(3, 4), edgeRows.slice(4)]);
    expect(await readAll(f)).toEqual(edgeRows);
    expect(await parquetRowCount(f)).toBe(edgeRows.length);
  });

  it('writes the exact Parquet types that DuckDB reads back', async () => {
    const f = file();
    await writeParquet(f, edges, [edgeRows]);
    const schema = await query(`SELECT name, type, type_length::VARCHAR, repetition_type, converted_type, scale::VARCHAR, precision::VARCHAR, logical_type FROM parquet_schema('${f}') WHERE type IS NOT NULL`);
    const byName = Object.fromEntries(schema.map((r) => [r[0], r.slice(1)]));
    expect(byName.id).toEqual(['INT64', null, 'REQUIRED', null, null, null, null]);
    expect(byName.name?.slice(0, 4)).toEqual(['BYTE_ARRAY', null, 'OPTIONAL', 'UTF8']);
    expect(byName.cost?.slice(0, 6)).toEqual(['INT64', null, 'OPTIONAL', 'DECIMAL', '4', '18']);
    expect(byName.big?.slice(0, 6)).toEqual(['FIXED_LEN_BYTE_ARRAY', '16', 'OPTIONAL', 'DECIMAL', '10', '38']);
    expect(byName.pct?.slice(0, 6)).toEqual(['INT32', null, 'OPTIONAL', 'DECIMAL', '2', '5']);
    expect(byName.ok?.slice(0, 3)).toEqual(['BOOLEAN', null, 'REQUIRED']);
    expect(byName.day?.slice(0, 4)).toEqual(['INT32', null, 'OPTIONAL', 'DATE']);
    expect(byName.at?.[0]).toBe('INT64');
    expect(String(byName.at?.[6])).toMatch(/isAdjustedToUTC=1.*MILLIS=MilliSeconds\(\)/);

    const described = await query(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet('${f}'))`);
    expect(Object.fromEntries(described)).toEqual({
      id: 'BIGINT',
      name: 'VARCHAR',
      note: 'VARCHAR',
      cost: 'DECIMAL(18,4)',
      qty: 'DECIMAL(18,6)',
      big: 'DECIMAL(38,10)',
      pct: 'DECIMAL(5,2)',
      ok: 'BOOLEAN',
      day: 'DATE',
      at: 'TIMESTAMP WITH TIME ZONE',
    });
  });

  it('DuckDB sees the same rows: count, exact decimal sums, timestamps, dates, strings and nulls', async () => {
    const f = file();
    await writeParquet(f, edges, [edgeRows.slice(0, 5), edgeRows.slice(5)], 4);
    const c = (name: string): number => edges.columns.findIndex((x) => x.name === name);
    const column = (name: string): unknown[] => edgeRows.map((r) => r[c(name)]);

    const [agg] = await query(
      `SELECT count(*)::VARCHAR, sum(cost)::VARCHAR, sum(qty)::VARCHAR, sum(big)::VARCHAR, typeof(sum(qty)), max(big)::VARCHAR, min(big)::VARCHAR FROM read_parquet('${f}')`,
    );
    expect(agg).toEqual([
      String(edgeRows.length),
      decimalSum(column('cost'), 4),
      decimalSum(column('qty'), 6),
      decimalSum(column('big'), 10),
      'DECIMAL(38,6)',
      '9999999999999999999999999999.9999999999',
      '-9999999999999999999999999999.9999999999',
    ]);

    const rows = await query(
      `SELECT id::VARCHAR, name, note, cost::VARCHAR, qty::VARCHAR, big::VARCHAR, pct::VARCHAR, ok, day::VARCHAR, epoch_ms("at")::VARCHAR FROM read_parquet('${f}')`,
    );
    expect(rows).toEqual(
      edgeRows.map((r) => [
        String(r[0]),
        r[1],
        r[2],
        r[3],
        r[4],
        r[5],
        r[6],
        r[7] === 1,
        r[8],
        r[9] === null ? null : String(Date.parse(r[9] as string)),
      ]),
    );
    // Empty text is not null.
    expect(await query(`SELECT count(*) FILTER (WHERE name = '')::VARCHAR, count(*) FILTER (WHERE name IS NULL)::VARCHAR FROM read_parquet('${f}')`)).toEqual([['1', '1']]);
    // Row groups of at most 4 rows, whatever the batches were.
    expect(await query(`SELECT num_row_groups::VARCHAR FROM parquet_file_metadata('${f}')`)).toEqual([[String(Math.ceil(edgeRows.length / 4))]]);
  });

  it('keeps the Arrow schema and the table key in the footer, and a constant created_by', async () => {
    const f = file();
    await writeParquet(f, edges, [edgeRows]);
    const kv = Object.fromEntries((await query(`SELECT decode(key), decode(value) FROM parquet_kv_metadata('${f}')`)).map((r) => [r[0], r[1]]));
    expect(kv.forklift).toBe('{"table":"edges","primary_key":["id"]}');
    expect(kv['ARROW:schema']).toBeTypeOf('string');
    const [[createdBy]] = (await query(`SELECT created_by FROM parquet_file_metadata('${f}')`)) as [[string]];
    expect(createdBy).toMatch(/^parquet-rs version \d+\.\d+\.\d+$/);
  });

  it('is deterministic: the same rows in the same batches give the same bytes, every time', async () => {
    // Several writers in one process: a Rust HashMap's order changes from one to the next.
    const hashes = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const f = file();
      await writeParquet(f, edges, [edgeRows.slice(0, 4), edgeRows.slice(4)]);
      hashes.add(sha(f));
      if (i === 2) await new Promise((r) => setTimeout(r, 1100));
    }
    expect(hashes.size).toBe(1);
  });

  it('writes a valid file for a table without rows', async () => {
    const f = file();
    await writeParquet(f, edges, [[]]);
    expect(await readAll(f)).toEqual([]);
    expect(await query(`SELECT count(*)::VARCHAR FROM read_parquet('${f}')`)).toEqual([['0']]);
    expect((await query(`SELECT column_type FROM (DESCRIBE SELECT * FROM read_parquet('${f}'))`)).length).toBe(edges.columns.length);
  });

  it('streams machine_events in row groups as the batches arrive', async () => {
    const entity = factoryModel().entities.get('machine_events')!;
    const f = file();
    const w = await openParquetWriter(f, entity, { rowGroupRows: 10_000 });
    let total = 0n;
    for (let b = 0; b < 6; b++) {
      const rows: unknown[][] = [];
      for (let i = 0; i < 5000; i++) {
        const k = b * 5000 + i;
        const temp = `${k % 3 === 0 ? '-' : ''}${k % 99999}.${String(k % 1000).padStart(3, '0')}`.replace(/^-0\.000$/, '0.000');
        total += BigInt(temp.replace('.', ''));
        rows.push([`M-${k % 7}`, new Date(Date.UTC(2030, 0, 1) + k * 1000).toISOString(), 'RUN', k, 0, '', temp, '1.000', null]);
      }
      await w.write(rows);
    }
    // Three complete row groups reach the file before close(), not all at the end.
    for (let tries = 0; tries < 100 && statSync(f).size <= 4; tries++) await new Promise((r) => setTimeout(r, 10));
    const before = statSync(f).size;
    expect(before).toBeGreaterThan(4);
    await w.close();
    expect(statSync(f).size).toBeGreaterThan(before);
    const [[count, sum, first, last]] = (await query(`SELECT count(*)::VARCHAR, sum(temperature_c)::VARCHAR, min(epoch_ms(ts))::VARCHAR, max(epoch_ms(ts))::VARCHAR FROM read_parquet('${f}')`)) as [[string, string, string, string]];
    expect(count).toBe('30000');
    expect(sum).toBe(decimalText(total, 3));
    expect([Number(first), Number(last)]).toEqual([Date.UTC(2030, 0, 1), Date.UTC(2030, 0, 1) + 29_999_000]);
  });

  it('refuses values that are not in the staging form, and leaves no table behind', async () => {
    const f = file();
    const w = await openParquetWriter(f, edges);
    await w.write(edgeRows.slice(0, 2));
    const bad = [...edgeRows[2]!];
    bad[edges.columns.findIndex((x) => x.name === 'ok')] = null;
    await expect(w.write([bad])).rejects.toThrow(BugError);
    await expect(w.close()).rejects.toThrow(/used after it was failed/);
    expect(statSync(f).size).toBe(0);
    await expect(readAll(f)).rejects.toBeInstanceOf(ForkliftError);
  });

  it('abort() ends the writer without a table', async () => {
    const f = file();
    const w = await openParquetWriter(f, edges);
    await w.write(edgeRows);
    await w.abort();
    expect(statSync(f).size).toBe(0);
  });

  it('says so when a file is not Parquet', async () => {
    const f = file();
    writeFileSync(f, 'id,name\n1,a\n');
    await expect(parquetRowCount(f)).rejects.toThrow(/is not a Parquet file/);
  });
});
