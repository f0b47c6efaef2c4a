import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../core/thread-errors.js';
import { digestStore, type DigestThreadInput, type DigestThreadMessage } from './digest.js';

/** The digest thread: one side of one table, read from its store and hashed (digest.ts). */
const port = parentPort!;
const input = workerData as DigestThreadInput;
const send = (m: DigestThreadMessage): void => port.postMessage(m);
try {
  send({ type: 'result', result: await digestStore(input) });
} catch (e) {
  send({ type: 'error', error: serializeError(e) });
}
port.close();
