import { parentPort, workerData } from 'node:worker_threads';
import { compileMapping, compileOptionsOf } from '../mapping/compile.js';
import { loadPlan } from '../plan/load.js';
import { openForLoad } from './reload-check.js';
import { RawRowWriter, packCells } from '../sources/raw-rows.js';
import { serializeError } from '../core/thread-errors.js';
import { AHEAD, mapRecords, packBatch, type FromWorker, type ToWorker, type WorkerInput } from './extract.js';

/**
 * The extraction thread: loads the same plan, reads and parses one source, keeps the raw rows,
 * and sends each batch either as read (the main thread maps it) or mapped here when the main
 * thread has fallen behind. Flow control keeps at most AHEAD batches in flight.
 */
const port = parentPort!;
const input = workerData as WorkerInput;
const send = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

/** Map here once this many batches wait in the main thread. */
const MAP_HERE_AT = 4;

let inFlight = 0;
let resume: (() => void) | undefined;
let started: (() => void) | undefined;
const startedP = new Promise<void>((r) => (started = r));
port.on('message', (m: ToWorker) => {
  if (m.type === 'start') started?.();
  else {
    inFlight--;
    resume?.();
  }
});

try {
  const plan = loadPlan(input.plan, { target: input.target });
  const m = plan.mappings.find((x) => x.file === input.mappingFile)!;
  const entity = plan.model.entities.get(m.spec.entity)!;
  const source = await openForLoad(input.source, { batchSize: input.batchSize });
  const compiled = compileMapping(m, entity, source.header, compileOptionsOf(source));
  send({ type: 'open', header: source.header, label: source.label, positionKind: source.positionKind, ...(source.excelDateSystem === undefined ? {} : { excelDateSystem: source.excelDateSystem }), ...(source.detected.encoding === undefined ? {} : { encoding: source.detected.encoding }) });
  await startedP;
  const raw = new RawRowWriter(input.rawFile, entity.name);
  const width = entity.columns.length;
  for await (const batch of source.batches()) {
    const c = packCells(batch);
    raw.addPacked(c); // before the buffers move to the main thread
    // A record rejected again as it is (a reloaded rejects file) carries its problem, which the cells sent do not: map it here.
    if (inFlight >= MAP_HERE_AT || batch.some((r) => r.again !== undefined)) {
      const p = packBatch(mapRecords(compiled, batch), width);
      send({ type: 'batch', ...p }, [p.lines.buffer as ArrayBuffer, p.kinds.buffer as ArrayBuffer, p.nums.buffer as ArrayBuffer, p.ends.buffer as ArrayBuffer]);
    } else {
      send({ type: 'cells', ...c }, [c.lines.buffer as ArrayBuffer, c.widths.buffer as ArrayBuffer, c.ends.buffer as ArrayBuffer]);
    }
    inFlight++;
    while (inFlight >= AHEAD) await new Promise<void>((r) => (resume = r));
  }
  raw.finish();
  await source.close();
  send({ type: 'end', sha256: source.sha256 ?? null, skippedBlank: source.skippedBlank });
} catch (e) {
  send({ type: 'error', error: serializeError(e) });
}
port.close();
