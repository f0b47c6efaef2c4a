import { parentPort, workerData } from 'node:worker_threads';
import { openSource } from './index.js';
import { AHEAD, pack, serializeError, type MainMessage, type WorkerMessage } from './threaded.js';
import { RawRowWriter } from './raw-rows.js';
import type { SourceSpec } from './types.js';

/** The reader thread: opens the source, then streams batches to the main thread with flow control. */
const port = parentPort!;
const { spec, batchSize, rawRows } = workerData as { spec: SourceSpec; batchSize: number; rawRows?: { file: string; entity: string } };
const send = (m: WorkerMessage): void => port.postMessage(m);

let inFlight = 0;
let resume: (() => void) | undefined;
let started: (() => void) | undefined;
const startedP = new Promise<void>((r) => (started = r));
port.on('message', (m: MainMessage) => {
  if (m.type === 'start') started?.();
  else if (m.type === 'ack') {
    inFlight--;
    resume?.();
  } else if (m.type === 'stop') process.exit(0);
});

try {
  const source = await openSource(spec, { batchSize });
  send({ type: 'open', header: source.header, detected: source.detected, label: source.label, positionKind: source.positionKind });
  await startedP;
  const raw = rawRows ? new RawRowWriter(rawRows.file, rawRows.entity) : undefined;
  for await (const batch of source.batches()) {
    const packed = pack(batch);
    port.postMessage({ type: 'batch', ...packed } satisfies WorkerMessage, [packed.lines.buffer as ArrayBuffer, packed.widths.buffer as ArrayBuffer, packed.ends.buffer as ArrayBuffer]);
    inFlight++;
    // The raw rows are written while the main thread maps this batch.
    if (raw) for (const r of batch) raw.add(r.line, r.cells);
    while (inFlight >= AHEAD) await new Promise<void>((r) => (resume = r));
  }
  raw?.finish();
  await source.close();
  send({ type: 'end', skippedBlank: source.skippedBlank, sha256: source.sha256 });
} catch (e) {
  send({ type: 'error', error: serializeError(e) });
}
port.close();
