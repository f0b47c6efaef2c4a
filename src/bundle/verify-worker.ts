import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../core/thread-errors.js';
import { verifyBundleDir } from './verify.js';
import type { VerifyThreadInput, VerifyThreadMessage } from './verify-thread.js';

/**
 * The verify thread: the whole `bundle verify` of one folder (checksums, values, keys, Arrow =
 * CSV), so a caller can stage or compare the same bundle on the main thread meanwhile.
 */
const port = parentPort!;
const input = workerData as VerifyThreadInput;
const send = (m: VerifyThreadMessage): void => port.postMessage(m);
try {
  const result = await verifyBundleDir(input.dir, input.display, { progress: (p) => send({ type: 'progress', ...p }) });
  send({ type: 'result', result });
} catch (e) {
  send({ type: 'error', error: serializeError(e) });
}
port.close();
