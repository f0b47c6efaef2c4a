import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { revive, type SerializedError } from '../core/thread-errors.js';
import type { StoredValue } from '../mapping/coerce.js';
import { compileMapping, compileOptionsOf, type CompiledMapping } from '../mapping/compile.js';
import type { Entity } from '../model/types.js';
import { sourceSpecOf, type LoadedMapping } from '../plan/load.js';
import { RawRowWriter, unpackCells, type PackedCells } from '../sources/raw-rows.js';
import type { Cell, ExcelDateSystem, SourceRecord, SourceSpec } from '../sources/types.js';
import type { HashedFile } from '../util/hash.js';
import { openForLoad } from './reload-check.js';

/**
 * Extraction: read a source and map every row, yielding batches of mapped rows, row rejects and
 * counts. Large sources run in a worker thread (reading, decoding, parsing and mapping there;
 * staging in the main thread), since on two cores doing them in turn cannot keep up with the
 * parser (PERF-NOTES). Both paths run the same code: the worker calls `mapBatches` too.
 */

export interface RowReject {
  line: number;
  key?: string;
  field: string;
  rule: string;
  reason: string;
  raw: Cell[];
}

export interface MappedBatch {
  read: number;
  filtered: number;
  okLines: number[];
  okValues: StoredValue[][];
  rejects: RowReject[];
}

export interface MappedSourceInfo {
  header: string[];
  label: string;
  positionKind: 'line' | 'row';
  excelDateSystem?: ExcelDateSystem;
  /** The encoding a text source was read in, named or detected (for the report). */
  encoding?: string;
}

export interface MappedSource extends MappedSourceInfo {
  batches(signal?: AbortSignal): AsyncIterable<MappedBatch>;
  /** After batches(): SHA-256 of the file and blank lines skipped. */
  readonly sha256: string | null;
  /** The files the mapping read besides the source (values_file), hashed as read. */
  readonly inputs: readonly HashedFile[];
  readonly skippedBlank: number;
  close(): Promise<void>;
}

export interface ExtractOptions {
  /** Where the raw rows go (raw-rows.ts). */
  rawFile: string;
  batchSize?: number;
  /** Ends the opening of the source (a SQL source's query waiting for its first answer, the thread starting). */
  signal?: AbortSignal | undefined;
}


/** Opens and maps a source in this thread. */
export async function mapInThread(m: LoadedMapping, entity: Entity, opts: ExtractOptions): Promise<MappedSource> {
  const spec = sourceSpecOf(m);
  const source = await openForLoad(spec, { ...(opts.batchSize === undefined ? {} : { batchSize: opts.batchSize }), signal: opts.signal });
  try {
    const compiled = compileMapping(m, entity, source.header, compileOptionsOf(source));
    return {
      header: source.header,
      label: source.label,
      positionKind: source.positionKind,
      ...(source.excelDateSystem === undefined ? {} : { excelDateSystem: source.excelDateSystem }),
      ...(source.detected.encoding === undefined ? {} : { encoding: source.detected.encoding }),
      inputs: compiled.inputs,
      get sha256() {
        return source.sha256 ?? null;
      },
      get skippedBlank() {
        return source.skippedBlank;
      },
      async *batches(signal) {
        const raw = new RawRowWriter(opts.rawFile, entity.name);
        try {
          for await (const batch of source.batches(signal)) {
            const out = mapRecords(compiled, batch);
            raw.addBatch(batch);
            yield out;
          }
        } finally {
          raw.finish();
        }
      },
      close: () => source.close(),
    };
  } catch (e) {
    await source.close();
    throw e;
  }
}

// ---- the worker path ----------------------------------------------------------------------

const THRESHOLD_BYTES = 8 * 1024 * 1024;
export const AHEAD = 8;

export interface WorkerInput {
  plan: string;
  target: string | undefined;
  /** The mapping's file: the worker finds it in the plan it loads. */
  mappingFile: string;
  /** What to read, as the main thread resolved it (a rejects reload reads its rejects file, not the mapping's source). */
  source: SourceSpec;
  rawFile: string;
  batchSize: number;
}

export type FromWorker =
  | ({ type: 'open' } & MappedSourceInfo)
  | ({ type: 'batch' } & PackedBatch)
  | ({ type: 'cells' } & PackedCells)
  | { type: 'end'; sha256: string | null; skippedBlank: number }
  | { type: 'error'; error: SerializedError };

export type ToWorker = { type: 'start' } | { type: 'ack' };

/**
 * A batch packed for a cheap copy between threads: numbers in a Float64Array, strings joined
 * into one string with their end offsets, a kind per value. Cloning a few typed arrays and one
 * string costs a fraction of cloning a million small arrays.
 */
export interface PackedBatch {
  read: number;
  filtered: number;
  width: number;
  lines: Int32Array;
  kinds: Uint8Array; // 0 null, 1 text, 2 number
  nums: Float64Array;
  ends: Int32Array;
  text: string;
  rejects: RowReject[];
}

export function packBatch(b: MappedBatch, width: number): PackedBatch {
  const n = b.okLines.length;
  const kinds = new Uint8Array(n * width);
  const nums = new Float64Array(n * width);
  const ends = new Int32Array(n * width);
  const parts: string[] = [];
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const row = b.okValues[i]!;
    for (let j = 0; j < width; j++) {
      const k = i * width + j;
      const v = row[j];
      if (v === null || v === undefined) kinds[k] = 0;
      else if (typeof v === 'number') {
        kinds[k] = 2;
        nums[k] = v;
      } else {
        kinds[k] = 1;
        parts.push(v);
        pos += v.length;
        ends[k] = pos;
      }
    }
  }
  return { read: b.read, filtered: b.filtered, width, lines: Int32Array.from(b.okLines), kinds, nums, ends, text: parts.join(''), rejects: b.rejects };
}

export function unpackBatch(p: PackedBatch): MappedBatch {
  const n = p.lines.length;
  const okValues: StoredValue[][] = new Array<StoredValue[]>(n);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const row = new Array<StoredValue>(p.width);
    for (let j = 0; j < p.width; j++) {
      const k = i * p.width + j;
      const kind = p.kinds[k];
      if (kind === 0) row[j] = null;
      else if (kind === 2) row[j] = p.nums[k]!;
      else {
        const e = p.ends[k]!;
        row[j] = p.text.slice(pos, e);
        pos = e;
      }
    }
    okValues[i] = row;
  }
  return { read: p.read, filtered: p.filtered, okLines: Array.from(p.lines), okValues, rejects: p.rejects };
}

/** Maps one batch of records with a compiled mapping: the one row loop both threads run. */
export function mapRecords(compiled: CompiledMapping, batch: readonly SourceRecord[]): MappedBatch {
  const out: MappedBatch = { read: batch.length, filtered: 0, okLines: [], okValues: [], rejects: [] };
  for (const rec of batch) {
    if (rec.again !== undefined) {
      out.rejects.push({ line: rec.line, ...rec.again, raw: rec.cells });
      continue;
    }
    const r = compiled.map(rec.cells, rec.faults);
    if (r.kind === 'ok') {
      out.okLines.push(rec.line);
      out.okValues.push(r.values);
    } else if (r.kind === 'filtered') out.filtered++;
    else {
      const rej: RowReject = { line: rec.line, field: r.problem.field, rule: r.problem.rule, reason: r.problem.reason, raw: rec.cells };
      if (r.key !== undefined) rej.key = r.key;
      out.rejects.push(rej);
    }
  }
  return out;
}


/** Only the compiled build has a .js worker to start; under a TypeScript test runner the in-thread path runs. */
function workerUrl(): URL | undefined {
  return import.meta.url.endsWith('.js') ? new URL('./extract-worker.js', import.meta.url) : undefined;
}

/** Maps a source in a worker thread when it is large enough to be worth one (FORKLIFT_EXTRACT_THREAD=always|never overrides). */
export async function mapSource(m: LoadedMapping, entity: Entity, opts: ExtractOptions & { plan: string; target: string | undefined }): Promise<MappedSource> {
  const force = process.env.FORKLIFT_EXTRACT_THREAD;
  const url = workerUrl();
  let big = false;
  try {
    big = m.sourcePath !== undefined && statSync(m.sourcePath).size >= THRESHOLD_BYTES;
  } catch {
    big = false; // the reader reports a missing file properly
  }
  if (url === undefined || force === 'never' || (force !== 'always' && !big)) return mapInThread(m, entity, opts);
  return mapInWorker(url, m, entity, { plan: opts.plan, target: opts.target, mappingFile: m.file, source: sourceSpecOf(m), rawFile: opts.rawFile, batchSize: opts.batchSize ?? 1000 }, opts.signal);
}

/**
 * The worker reads and parses; who maps a batch balances itself: while the main thread keeps up,
 * the worker sends records as read and the main thread maps them; once batches queue up, the
 * worker maps them too. Either way the same compiled mapping of the same files runs.
 */
async function mapInWorker(url: URL, m: LoadedMapping, entity: Entity, input: WorkerInput, opening: AbortSignal | undefined): Promise<MappedSource> {
  const worker = new Worker(fileURLToPath(url), { workerData: input });
  const queue: FromWorker[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  let exited = false;
  worker.on('message', (m: FromWorker) => {
    queue.push(m);
    wake?.();
  });
  worker.on('error', (e) => {
    failure = e;
    wake?.();
  });
  worker.on('exit', () => {
    exited = true;
    wake?.();
  });
  // Ctrl-C wakes a wait for the thread: it may be reading for seconds before it sends anything.
  const next = async (signal: AbortSignal | undefined): Promise<FromWorker> => {
    const onAbort = (): void => wake?.();
    signal?.addEventListener('abort', onAbort);
    try {
      for (;;) {
        signal?.throwIfAborted();
        const msg = queue.shift();
        if (msg) return msg;
        if (failure) throw failure;
        if (exited) throw new Error('the extraction thread stopped unexpectedly');
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  };
  let first: FromWorker;
  try {
    first = await next(opening);
  } catch (e) {
    await worker.terminate();
    throw e;
  }
  if (first.type === 'error') {
    await worker.terminate();
    throw revive(first.error);
  }
  if (first.type !== 'open') throw new Error(`extraction thread: unexpected ${first.type}`);
  const compiled = compileMapping(m, entity, first.header, compileOptionsOf(first));
  let sha256: string | null = null;
  let skippedBlank = 0;
  return {
    header: first.header,
    label: first.label,
    positionKind: first.positionKind,
    ...(first.excelDateSystem === undefined ? {} : { excelDateSystem: first.excelDateSystem }),
    ...(first.encoding === undefined ? {} : { encoding: first.encoding }),
    inputs: compiled.inputs,
    get sha256() {
      return sha256;
    },
    get skippedBlank() {
      return skippedBlank;
    },
    async *batches(signal) {
      worker.postMessage({ type: 'start' } satisfies ToWorker);
      for (;;) {
        const msg = await next(signal);
        if (msg.type === 'batch') {
          worker.postMessage({ type: 'ack' } satisfies ToWorker);
          yield unpackBatch(msg);
        } else if (msg.type === 'cells') {
          worker.postMessage({ type: 'ack' } satisfies ToWorker);
          yield mapRecords(compiled, unpackCells(msg));
        } else if (msg.type === 'end') {
          sha256 = msg.sha256;
          skippedBlank = msg.skippedBlank;
          return;
        } else if (msg.type === 'error') throw revive(msg.error);
      }
    },
    async close() {
      if (!exited) await worker.terminate();
    },
  };
}

