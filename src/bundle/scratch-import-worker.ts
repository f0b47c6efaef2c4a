import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../core/thread-errors.js';
import { writeScratchRows, type ScratchImportInput, type ScratchImportMessage } from './scratch-import.js';

/** The re-import thread of exit: writes the scratch store's rows, announcing each commit. */
const port = parentPort!;
const input = workerData as ScratchImportInput;
const send = (m: ScratchImportMessage): void => port.postMessage(m);
try {
  const rows = await writeScratchRows(input, (table, n, done) => send({ type: 'committed', table, rows: n, done }));
  send({ type: 'result', rows });
} catch (e) {
  send({ type: 'error', error: serializeError(e) });
}
port.close();
