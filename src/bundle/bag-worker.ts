import { parentPort, workerData } from 'node:worker_threads';
import { serializeError } from '../core/thread-errors.js';
import { validateBag } from './bagit.js';
import type { BagThreadInput, BagThreadMessage, TailRequest } from './bag-thread.js';

/**
 * The bag thread of `bundle verify`: validateBag of one folder (every checksum), beside the data
 * check; then, with `tails`, the tail lane of each table the data check sends, until stopped.
 */
const port = parentPort!;
const input = workerData as BagThreadInput;
const send = (m: BagThreadMessage): void => port.postMessage(m);
const requests: TailRequest[] = [];
let wake: (() => void) | undefined;
port.on('message', (m: TailRequest) => {
  requests.push(m);
  wake?.();
});
// The tail lane's code loads while the bag is hashed (between its reads), not after.
const tailLane = input.tails ? import('./verify-fast.js') : undefined;
tailLane?.catch(() => undefined);
try {
  send({ type: 'result', report: await validateBag(input.dir, { digestsUnder: input.digestsUnder }) });
  if (tailLane) {
    const { checkTail } = await tailLane;
    for (;;) {
      while (requests.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const r = requests.shift()!;
      send({ type: 'tail', id: r.id, report: await checkTail(r.job) });
    }
  }
} catch (e) {
  send({ type: 'error', error: serializeError(e) });
}
port.close();
