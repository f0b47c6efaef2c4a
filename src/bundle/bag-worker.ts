import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../core/thread-errors.js';
import { validateBag } from './bagit.js';
import type { BagThreadInput, BagThreadMessage } from './bag-thread.js';

/** The bag thread of `bundle verify`: validateBag of one folder (every checksum), beside the data check. */
const port = parentPort!;
const input = workerData as BagThreadInput;
const send = (m: BagThreadMessage): void => port.postMessage(m);
try {
  send({ type: 'result', report: await validateBag(input.dir, { digestsUnder: input.digestsUnder }) });
} catch (e) {
  send({ type: 'error', error: serializeError(e) });
}
port.close();
