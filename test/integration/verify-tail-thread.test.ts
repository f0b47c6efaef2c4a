import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeBagTags } from '../../src/bundle/bagit.js';
import { CsvTableWriter } from '../../src/bundle/csv.js';
import type { Column, Entity } from '../../src/model/types.js';
import { writeArrowRows } from '../bundle-helpers.js';
import { tempDir } from '../helpers.js';

/**
 * The tail lane of `bundle verify` as the built CLI runs it: in the bag thread (a worker, which
 * only the compiled build can start), after it has hashed the bag. The lanes' agreement with the
 * slow lane on every damage is in test/unit/bundle/verify-fast.test.ts; here, that the thread
 * answers a table sent to it, across the thread boundary (shared claims, keys as bytes).
 */

const dist = (rel: string): Promise<Record<string, unknown>> => import(pathToFileURL(path.resolve('dist', rel)).href) as Promise<Record<string, unknown>>;

const col = (name: string, type: Column['type'], more: Partial<Column> = {}): Column => ({ name, type, required: false, ...more });
const EVENTS: Entity = {
  name: 'events',
  columns: [col('machine', 'string', { length: 16, required: true }), col('at', 'timestamp', { required: true }), col('count', 'integer', { min: '0' }), col('temp', 'decimal', { precision: 8, scale: 3 })],
  primaryKey: ['machine', 'at'],
  rules: [],
};
const ROWS = 500;
const rows = Array.from({ length: ROWS }, (_, i) => [`M-${String(Math.floor(i / 100)).padStart(2, '0')}`, `2026-11-30T${String(Math.floor((i % 100) / 60)).padStart(2, '0')}:${String((i % 100) % 60).padStart(2, '0')}:00.000Z`, i, `${i}.${String(i % 1000).padStart(3, '0')}`]);
const dir = tempDir('forklift-verify-tail-');
const csv = path.join(dir, 'data', 'csv', 'events.csv');
const arrow = path.join(dir, 'data', 'arrow', 'events.arrow');

interface TailReport {
  from: number;
  startByte: number;
  rows: number;
  firstKey: Uint8Array[] | null;
  stopped?: string;
}
interface Claims {
  buffer: SharedArrayBuffer;
  front(): number;
}
type Start = (dir: string, opts: { tails: boolean }) => { report: Promise<unknown>; tail: ((job: unknown) => Promise<TailReport>) | undefined; stop(): Promise<void> };

let startBagThread: Start;
let BatchClaims: { create(count: number): Claims };

beforeAll(async () => {
  mkdirSync(path.dirname(csv), { recursive: true });
  mkdirSync(path.dirname(arrow), { recursive: true });
  const w = new CsvTableWriter(csv, EVENTS);
  await w.writeHeader();
  await w.write(rows);
  await w.close();
  // Record batches of 7 rows: 72 of them.
  await writeArrowRows(arrow, EVENTS, rows);
  await writeBagTags(dir, { fields: [['Source-Organization', 'test']] });
  ({ startBagThread } = (await dist('src/bundle/bag-thread.js')) as unknown as { startBagThread: Start });
  ({ BatchClaims } = (await dist('src/bundle/verify-fast.js')) as unknown as { BatchClaims: { create(count: number): Claims } });
});

async function tailOf(claims: Claims): Promise<TailReport> {
  const thread = startBagThread(dir, { tails: true });
  try {
    await thread.report;
    expect(thread.tail, 'the built bag thread offers a tail lane').toBeDefined();
    return await thread.tail!({ csv, arrow, entity: EVENTS, claims: claims.buffer });
  } finally {
    await thread.stop();
  }
}

describe('bundle verify: the tail lane in the bag thread', () => {
  it('verifies every record batch it can claim, from the back, and says where its rows start', async () => {
    const claims = BatchClaims.create(Math.ceil(ROWS / 7));
    // The front lane has taken the first two batches.
    expect([claims.front(), claims.front()]).toEqual([0, 1]);
    const r = await tailOf(claims);
    expect(r.stopped).toBeUndefined();
    expect(r.from).toBe(2);
    expect(r.rows).toBe(ROWS - 14);
    const text = readFileSync(csv);
    // Its rows start after the header and the front lane's 14 rows: 15 line ends in.
    let at = 0;
    for (let k = 0; k < 15; k++) at = text.indexOf('\r\n', at) + 2;
    expect(r.startByte).toBe(at);
    expect(r.firstKey?.map((b) => Buffer.from(b).toString())).toEqual([rows[14]![0], rows[14]![1]]);
  });

  it('stops at a batch that differs from the CSV, and leaves it to the front lane', async () => {
    const text = readFileSync(csv, 'utf8');
    writeFileSync(csv, text.replace(/,499\.499\r\n$/, ',499.498\r\n'));
    try {
      const r = await tailOf(BatchClaims.create(Math.ceil(ROWS / 7)));
      expect(r.stopped).toMatch(/differs from the CSV/);
      expect([r.from, r.rows, r.firstKey]).toEqual([Math.ceil(ROWS / 7), 0, null]);
    } finally {
      writeFileSync(csv, text);
    }
  });
});
