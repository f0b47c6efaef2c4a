import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../core/thread-errors.js';
import { openStore } from '../stores/index.js';
import { CREDITS, type RowsThreadInput, type RowsThreadMessage } from './rows-thread.js';

/** The reading thread of rows-thread.ts: one table of one store, batch by batch, never more than CREDITS ahead. */
const port = parentPort!;
const input = workerData as RowsThreadInput;
const send = (m: RowsThreadMessage): void => port.postMessage(m);
let credits = CREDITS;
let waiting: (() => void) | undefined;
port.on('message', () => {
  credits++;
  const w = waiting;
  waiting = undefined;
  w?.();
});
try {
  const store = await openStore(input.url);
  try {
    for await (const rows of store.readRows(input.entity)) {
      while (credits === 0) await new Promise<void>((r) => (waiting = r));
      credits--;
      send({ type: 'batch', rows });
    }
    send({ type: 'end' });
  } finally {
    await store.close();
  }
} catch (e) {
  send({ type: 'error', error: serializeError(e) });
}
port.close();
