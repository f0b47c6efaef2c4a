import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { revive, type SerializedError } from '../core/thread-errors.js';
import { normalizer } from './canonical.js';
import { rowComparer } from './merge.js';
import type { TablePlan } from './plan.js';
import { openSnapshot } from './snapshot.js';

/**
 * The digest lane of a diff that expects no difference (forklift exit): each side of a table is
 * read once, on its own core, into one SHA-256 over its rows' canonical cells in key order, and the
 * two digests compared. Equal digests (and row counts, both sides strictly in key order) mean the
 * row-by-row merge would match every row with every cell equal: the cells hashed are the values the
 * merge compares, normalized the same way, each as its exact text (length-prefixed, NULL apart from
 * ''). Anything else (different digests, a side out of order, a repeated key) proves nothing, and
 * the table is merged row by row as always, which says what differs. So the lane can only make a
 * table that is identical cheaper; it never decides that a table differs.
 */

export interface SideDigest {
  rows: number;
  /** Hex SHA-256 of the side's rows; null when the side was not strictly in key order (the merge decides). */
  digest: string | null;
}

export async function digestSide(rows: AsyncIterable<unknown[][]>, plan: TablePlan, side: 'left' | 'right', opts: { signal?: AbortSignal | undefined; progress?: ((rows: number) => void) | undefined } = {}): Promise<SideDigest> {
  const cols = [...plan.key, ...plan.values].map((c) => ({
    pos: side === 'left' ? c.leftPos : c.rightPos,
    norm: normalizer(side === 'left' ? c.leftType : c.rightType, c.kind),
  }));
  const cmp = rowComparer(plan.key, side, side);
  const hash = createHash('sha256');
  let n = 0;
  let last: unknown[] | undefined;
  const it = rows[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await it.next();
      if (next.done) break;
      opts.signal?.throwIfAborted();
      let text = '';
      for (const row of next.value) {
        if (last !== undefined) {
          const c = cmp(last, row);
          if (c > 0 || (c === 0 && plan.unique)) return { rows: n, digest: null };
        }
        last = row;
        n++;
        for (const c of cols) {
          const v = c.norm(row[c.pos]);
          if (v === null || v === undefined) text += '\u0001';
          else {
            const s = typeof v === 'string' ? v : String(v);
            text += `${s.length}:${s}`;
          }
        }
        text += '\n';
      }
      hash.update(text);
      opts.progress?.(n);
    }
  } finally {
    await it.return?.();
  }
  return { rows: n, digest: hash.digest('hex') };
}

export interface DigestThreadInput {
  url: string;
  plan: TablePlan;
  side: 'left' | 'right';
}

export type DigestThreadMessage = { type: 'result'; result: SideDigest } | { type: 'error'; error: SerializedError };

function workerUrl(): URL | undefined {
  return import.meta.url.endsWith('.js') ? new URL('./digest-worker.js', import.meta.url) : undefined;
}

/** One side (a store URL) read and digested in a thread of its own (in this thread under a TypeScript test runner). */
export function digestInThread(input: DigestThreadInput, signal?: AbortSignal): Promise<SideDigest> {
  const url = workerUrl();
  if (url === undefined || process.env.FORKLIFT_DIFF_THREAD === 'never') return digestStore(input, signal);
  return new Promise<SideDigest>((resolve, reject) => {
    signal?.throwIfAborted();
    const worker = new Worker(fileURLToPath(url), { workerData: input });
    let settled = false;
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      f();
    };
    const onAbort = (): void => {
      settle(() => reject(signal!.reason));
      void worker.terminate();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: DigestThreadMessage) => {
      if (m.type === 'result') settle(() => resolve(m.result));
      else settle(() => reject(revive(m.error)));
    });
    worker.on('error', (e) => settle(() => reject(e)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the diff thread stopped (exit code ${code}) before it answered`))));
  });
}

/** The digest of one side of a table, read from its store by URL. */
export async function digestStore(input: DigestThreadInput, signal?: AbortSignal): Promise<SideDigest> {
  const snap = await openSnapshot(input.url, input.side === 'left' ? 'LEFT' : 'RIGHT');
  try {
    const entity = input.side === 'left' ? input.plan.left : input.plan.right;
    return await digestSide(snap.rows(entity, signal), input.plan, input.side, { signal });
  } finally {
    await snap.close();
  }
}
