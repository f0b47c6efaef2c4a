import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ForkliftError, SourceError } from '../core/errors.js';
import { openSource } from './index.js';
import { RawRowWriter } from './raw-rows.js';
import type { OpenedSource, SourceRecord, SourceSpec } from './types.js';

/**
 * Reads a large source in a worker thread, so parsing (csv-parse, decoding) runs on one core
 * while mapping, validation and staging run on the other (PERF-NOTES: in turn, they cannot reach
 * the parse rate). The worker stays at most a few batches ahead: memory stays bounded.
 */

const THRESHOLD_BYTES = 8 * 1024 * 1024;
const AHEAD = 8;

export type WorkerMessage =
  | { type: 'open'; header: string[]; detected: OpenedSource['detected']; label: string; positionKind: 'line' | 'row' }
  /**
   * A batch packed for a cheap copy between threads: every cell's text concatenated into one
   * string, with its end offset; -1 marks a null cell. Cloning one string and two typed arrays
   * costs a fraction of cloning a million small strings.
   */
  | { type: 'batch'; lines: Int32Array; widths: Uint16Array; ends: Int32Array; text: string }
  | { type: 'end'; skippedBlank: number; sha256: string | undefined }
  | { type: 'error'; error: SerializedError };

export type MainMessage = { type: 'start' } | { type: 'ack' } | { type: 'stop' };

export interface SerializedError {
  forklift: boolean;
  message: string;
  code?: string;
  exitCode?: number;
  hint?: string | undefined;
  location?: ForkliftError['location'];
  details?: string[];
  stack?: string | undefined;
}

export function serializeError(e: unknown): SerializedError {
  if (e instanceof ForkliftError) {
    return { forklift: true, message: e.message, code: e.code, exitCode: e.exitCode, hint: e.hint, location: e.location, details: e.details };
  }
  const err = e instanceof Error ? e : new Error(String(e));
  return { forklift: false, message: err.message, stack: err.stack };
}

function revive(s: SerializedError): Error {
  if (s.forklift) {
    const opts: ConstructorParameters<typeof SourceError>[1] = { code: s.code ?? 'source', details: s.details ?? [] };
    if (s.exitCode !== undefined) opts.exitCode = s.exitCode as 0 | 1 | 2 | 3;
    if (s.hint !== undefined) opts.hint = s.hint;
    if (s.location !== undefined) opts.location = s.location;
    return new SourceError(s.message, opts);
  }
  const e = new Error(s.message);
  if (s.stack) e.stack = s.stack;
  return e;
}

function workerAvailable(): URL | undefined {
  // Only the compiled build has a .js worker file to start; under a TypeScript test runner the
  // in-thread reader is used.
  const url = new URL('./worker-entry.js', import.meta.url);
  return import.meta.url.endsWith('.js') ? url : undefined;
}

export interface FastOpenOptions {
  batchSize?: number;
  /** Keep every row as read in this scratch file (raw-rows.ts), written by the reading thread. */
  rawRows?: { file: string; entity: string };
}

/** Opens a source, in a worker thread when it is large enough to be worth one. */
export async function openSourceFast(spec: SourceSpec, opts: FastOpenOptions = {}): Promise<OpenedSource> {
  const force = process.env.FORKLIFT_SOURCE_THREAD;
  const url = workerAvailable();
  let big = false;
  try {
    big = spec.path !== undefined && statSync(spec.path).size >= THRESHOLD_BYTES;
  } catch {
    big = false; // the reader itself reports a missing file properly
  }
  const use = url !== undefined && force !== 'never' && (force === 'always' || big);
  if (!use) {
    const source = await openSource(spec, opts.batchSize === undefined ? {} : { batchSize: opts.batchSize });
    return opts.rawRows ? keepingRawRows(source, opts.rawRows) : source;
  }
  return openInWorker(url, spec, opts.batchSize ?? 1000, opts.rawRows);
}

/** The in-thread variant: the same raw rows, written as the batches pass. */
function keepingRawRows(source: OpenedSource, raw: { file: string; entity: string }): OpenedSource {
  return {
    header: source.header,
    detected: source.detected,
    label: source.label,
    positionKind: source.positionKind,
    get skippedBlank() {
      return source.skippedBlank;
    },
    get sha256() {
      return source.sha256;
    },
    async *batches(signal?: AbortSignal) {
      const writer = new RawRowWriter(raw.file, raw.entity);
      try {
        for await (const batch of source.batches(signal)) {
          for (const r of batch) writer.add(r.line, r.cells);
          yield batch;
        }
      } finally {
        writer.finish();
      }
    },
    close: () => source.close(),
  };
}

function openInWorker(url: URL, spec: SourceSpec, batchSize: number, rawRows: FastOpenOptions['rawRows']): Promise<OpenedSource> {
  const worker = new Worker(fileURLToPath(url), { workerData: { spec, batchSize, rawRows } });
  let skippedBlank = 0;
  let sha256: string | undefined;
  const queue: WorkerMessage[] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  let exited = false;
  worker.on('message', (m: WorkerMessage) => {
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
  const next = async (): Promise<WorkerMessage> => {
    for (;;) {
      const m = queue.shift();
      if (m) return m;
      if (failure) throw failure;
      if (exited) throw new Error('the source reader thread stopped unexpectedly');
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
  };
  return next().then((first) => {
    if (first.type === 'error') {
      void worker.terminate();
      throw revive(first.error);
    }
    if (first.type !== 'open') throw new Error(`source thread: unexpected ${first.type}`);
    const opened: OpenedSource = {
      header: first.header,
      detected: first.detected,
      label: first.label,
      positionKind: first.positionKind,
      get skippedBlank() {
        return skippedBlank;
      },
      get sha256() {
        return sha256;
      },
      async *batches(signal?: AbortSignal): AsyncIterable<SourceRecord[]> {
        worker.postMessage({ type: 'start' } satisfies MainMessage);
        for (;;) {
          signal?.throwIfAborted();
          const m = await next();
          if (m.type === 'batch') {
            worker.postMessage({ type: 'ack' } satisfies MainMessage);
            yield unpack(m.lines, m.widths, m.ends, m.text);
          } else if (m.type === 'end') {
            skippedBlank = m.skippedBlank;
            sha256 = m.sha256;
            return;
          } else if (m.type === 'error') throw revive(m.error);
        }
      },
      async close() {
        if (!exited) await worker.terminate();
      },
    };
    return opened;
  });
}

export { AHEAD };

export function pack(batch: readonly SourceRecord[]): { lines: Int32Array; widths: Uint16Array; ends: Int32Array; text: string } {
  const lines = new Int32Array(batch.length);
  const widths = new Uint16Array(batch.length);
  let n = 0;
  for (const r of batch) n += r.cells.length;
  const ends = new Int32Array(n);
  const parts: string[] = [];
  let pos = 0;
  let k = 0;
  for (let i = 0; i < batch.length; i++) {
    const r = batch[i]!;
    lines[i] = r.line;
    widths[i] = r.cells.length;
    for (const c of r.cells) {
      if (c === null) ends[k++] = -1;
      else {
        parts.push(c);
        pos += c.length;
        ends[k++] = pos;
      }
    }
  }
  return { lines, widths, ends, text: parts.join('') };
}

export function unpack(lines: Int32Array, widths: Uint16Array, ends: Int32Array, text: string): SourceRecord[] {
  const out = new Array<SourceRecord>(lines.length);
  let k = 0;
  let pos = 0;
  for (let i = 0; i < lines.length; i++) {
    const w = widths[i]!;
    const cells = new Array<string | null>(w);
    for (let j = 0; j < w; j++) {
      const e = ends[k++]!;
      if (e < 0) cells[j] = null;
      else {
        cells[j] = text.slice(pos, e);
        pos = e;
      }
    }
    out[i] = { line: lines[i]!, cells };
  }
  return out;
}
