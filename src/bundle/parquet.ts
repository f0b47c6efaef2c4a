/**
 * `data/parquet/<table>.parquet` (with `--parquet`): the same exact types as the Arrow file, one
 * row group written as soon as enough rows have arrived, so memory stays flat.
 *
 * Library: parquet-wasm (0.8, Kyle Barron; MIT/Apache-2.0; published 2026-09, zero dependencies;
 * runs on Node 20, which has the Web Streams and WebAssembly it needs). It is the Rust `parquet`
 * crate of apache/arrow-rs compiled to WebAssembly, fed the very Arrow record batches that
 * src/bundle/arrow.ts builds, so both files share one mapping of staged values to Arrow and the
 * Arrow -> Parquet step is the reference implementation's:
 *   Utf8 -> BYTE_ARRAY STRING; Int64 -> INT64; Bool -> BOOLEAN; Date32 -> INT32 DATE;
 *   Decimal128(p,s) -> DECIMAL(p,s) on INT32 (p <= 9), INT64 (p <= 18) or FIXED_LEN_BYTE_ARRAY(16),
 *     with signed min/max statistics;
 *   Timestamp(ms, UTC) -> INT64 TIMESTAMP(MILLIS, isAdjustedToUTC = true);
 *   REQUIRED / OPTIONAL from the field's nullability; the Arrow schema, with our field and schema
 *   metadata, in the footer's `ARROW:schema` key.
 * Streaming: `transformParquetStream` runs arrow-rs's AsyncArrowWriter over a ReadableStream of
 * batches and emits each row group's bytes when the row group is complete; write() hands over one
 * batch at a time and waits until the writer asks for the next, and the output is written to the
 * file as it comes, so at most one batch (and its copy in WebAssembly memory) and one open row
 * group are held.
 * Deterministic: no clock or random input; created_by is the constant `parquet-rs version X`; our
 * footer metadata is a single key (see writerProperties).
 *
 * Rejected:
 * - @dsnp/parquetjs 1.9: needs Node >= 24 (engines), and pulls in the AWS SDK among 13 dependencies.
 * - hyparquet-writer 0.17 (pure JS, maintained, has an incremental ParquetWriter): DECIMAL values
 *   must be JS numbers (`Math.round(v * 10 ** scale)`), which is not exact beyond 15 digits, and so
 *   are its decimal statistics; exact decimals would mean hand-built schema elements bypassing its
 *   conversions, with byte-wise (unsigned) min/max for FIXED_LEN_BYTE_ARRAY decimals.
 * - parquetjs 0.11 / parquetjs-lite 0.8: no release since 2024-12; @dsnp/parquetjs is their live fork.
 * - DuckDB (COPY ... TO parquet): a native dependency in production for one output format.
 *
 * Caveat: parquet-wasm's stream task ignores an error from a single batch write (`let _ =
 * writer.write(..)`), so close() reads the finished file's footer and checks its row count.
 */
import { openAsBlob } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { RecordBatchStreamWriter, tableFromIPC, type RecordBatch } from '../vendor/apache-arrow.js';
import * as pw from 'parquet-wasm';
import { BugError, BundleError, ForkliftError } from '../core/errors.js';
import type { Entity } from '../model/types.js';
import { BatchDecoder, BatchEncoder, type TableFileWriter } from './arrow.js';

export interface ParquetWriterOptions {
  /** Rows per row group (at most). DuckDB writes 122,880; arrow-rs defaults to 1,048,576. */
  rowGroupRows?: number;
}

/**
 * Row groups close at 131,072 rows or at an estimated 32 MiB encoded, whichever comes first: the
 * open row group is what the writer holds in memory, so a table of long texts stays bounded too.
 */
const ROW_GROUP_ROWS = 131_072;
const ROW_GROUP_BYTES = 32 * 1024 * 1024;

function writerProperties(entity: Entity, rowGroupRows: number): pw.WriterProperties {
  return new pw.WriterPropertiesBuilder()
    .setCompression(pw.Compression.SNAPPY)
    .setMaxRowGroupSize(rowGroupRows)
    .setMaxRowGroupBytes(ROW_GROUP_BYTES)
    // One key: parquet-wasm passes this map through a Rust HashMap, whose order differs from one
    // writer to the next within a process (the Arrow schema's own metadata is sorted by arrow-rs).
    .setKeyValueMetadata(new Map([['forklift', JSON.stringify({ table: entity.name, primary_key: entity.primaryKey })]]))
    .build();
}

/** One arrow-js record batch moved into WebAssembly memory (as an IPC stream: schema + batch). */
function toWasm(batch: RecordBatch): pw.RecordBatch {
  const bytes = RecordBatchStreamWriter.writeAll([batch]).toUint8Array(true);
  const table = pw.Table.fromIPCStream(bytes);
  try {
    const rb = table.recordBatch(0);
    if (!rb) throw new BugError('an Arrow IPC stream of one batch came back without it');
    return rb;
  } finally {
    table.free();
  }
}

async function writeFully(fh: FileHandle, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.byteLength) {
    const { bytesWritten } = await fh.write(buf, off, buf.byteLength - off);
    off += bytesWritten;
  }
}

/** Opens `file` (created or truncated) for one table's Parquet file. */
export async function openParquetWriter(file: string, entity: Entity, opts: ParquetWriterOptions = {}): Promise<TableFileWriter> {
  const encoder = new BatchEncoder(entity);
  const props = writerProperties(entity, opts.rowGroupRows ?? ROW_GROUP_ROWS);
  const fh = await open(file, 'w');

  // The writer pulls batches: `requested` resolves its pending pull once a batch is enqueued, and
  // `wake` tells a write() waiting for that pull that it came (or that the writer failed).
  let controller!: ReadableStreamDefaultController<pw.RecordBatch>;
  let requested: (() => void) | undefined;
  let wake: (() => void) | undefined;
  let failure: unknown;
  const input = new ReadableStream<pw.RecordBatch>(
    {
      start: (c) => {
        controller = c;
      },
      pull: () =>
        new Promise<void>((resolve) => {
          requested = resolve;
          wake?.();
        }),
    },
    { highWaterMark: 0 },
  );

  const output = pw.transformParquetStream(input, props);
  const pump = (async () => {
    const reader = (await output).getReader() as ReadableStreamDefaultReader<Uint8Array>;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        await writeFully(fh, value);
      }
    } catch (e) {
      // Unblocks the writer task, which would otherwise wait for a reader forever.
      await reader.cancel(e).catch(() => undefined);
      throw e;
    }
  })().catch((e: unknown) => {
    failure ??= e;
    wake?.();
  });

  const offer = async (batch: pw.RecordBatch): Promise<void> => {
    while (requested === undefined) {
      if (failure !== undefined) throw failure;
      await new Promise<void>((r) => {
        wake = r;
      });
      wake = undefined;
    }
    if (failure !== undefined) throw failure;
    const r = requested;
    requested = undefined;
    controller.enqueue(batch);
    r();
  };

  let offered = 0;
  let state: 'open' | 'closed' | 'failed' = 'open';
  /**
   * Ends the writer task after a failure. Closing (not erroring) the input stream matters:
   * parquet-wasm unwraps each item of its input, and an errored stream would panic inside
   * WebAssembly. The partial file is emptied so that nothing mistakes it for a table.
   */
  const stop = async (): Promise<void> => {
    state = 'failed';
    try {
      controller.close();
    } catch {
      // already closed
    }
    await pump;
    await fh.truncate(0).catch(() => undefined);
    await fh.close().catch(() => undefined);
  };
  const guard = async (work: () => Promise<void>): Promise<void> => {
    if (state !== 'open') throw new BugError(`Parquet writer for ${entity.name} used after it was ${state}`);
    try {
      await work();
    } catch (e) {
      if (state === 'open') await stop();
      throw e;
    }
  };

  return {
    write: (rows) =>
      guard(async () => {
        if (rows.length === 0) return;
        await offer(toWasm(encoder.encode(rows)));
        offered++;
      }),
    close: () =>
      guard(async () => {
        // The writer takes its schema from the first batch: a table without rows sends an empty one.
        if (offered === 0) await offer(toWasm(encoder.encode([])));
        controller.close();
        await pump;
        if (failure !== undefined) throw failure;
        state = 'closed';
        await fh.close();
        const rows = await parquetRowCount(file);
        if (rows !== encoder.rows) throw new BugError(`${file}: the Parquet writer wrote ${rows} rows of ${encoder.rows}`);
      }),
    abort: async () => {
      if (state === 'open') await stop();
    },
  };
}

function badFile(file: string, message: string, cause?: unknown): BundleError {
  return new BundleError(`${file}: ${message}`, {
    code: 'bundle.parquet-unreadable',
    hint: 'export the bundle again; a file that changed after export also fails its checksum in `bundle verify`',
    location: { file },
    ...(cause === undefined ? {} : { cause }),
  });
}

async function openParquet(file: string): Promise<pw.ParquetFile> {
  try {
    return await pw.ParquetFile.fromFile(await openAsBlob(file));
  } catch (e) {
    throw badFile(file, 'is not a Parquet file', e);
  }
}

/** The row count in a Parquet file's footer (reads the footer only). */
export async function parquetRowCount(file: string): Promise<number> {
  const pf = await openParquet(file);
  try {
    const meta = pf.metadata();
    const fm = meta.fileMetadata();
    const n = fm.numRows();
    fm.free();
    meta.free();
    return n;
  } finally {
    pf.free();
  }
}

/** Batches of staged rows, one per row group slice, read a row group at a time. */
export async function* readParquetBatches(file: string): AsyncGenerator<unknown[][], void, undefined> {
  const pf = await openParquet(file);
  let reader: ReadableStreamDefaultReader<pw.RecordBatch> | undefined;
  try {
    reader = ((await pf.stream({ batchSize: 8192 })) as ReadableStream<pw.RecordBatch>).getReader();
    let decoder: BatchDecoder | undefined;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      const table = tableFromIPC(value.intoIPCStream());
      decoder ??= new BatchDecoder(table.schema, file);
      for (const batch of table.batches) yield decoder.decode(batch);
    }
  } catch (e) {
    throw e instanceof ForkliftError || e instanceof BugError ? e : badFile(file, 'cannot be read', e);
  } finally {
    await reader?.cancel().catch(() => undefined);
    pf.free();
  }
}

/** Rows of a Parquet file in the staging form. */
export async function* readParquetFile(file: string): AsyncGenerator<unknown[], void, undefined> {
  for await (const rows of readParquetBatches(file)) yield* rows;
}
