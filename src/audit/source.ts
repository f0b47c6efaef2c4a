import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import { openBundle } from '../bundle/verify.js';
import { resolveTarget } from '../plan/load.js';
import { openStore } from '../stores/index.js';
import type { LedgerRecord } from './chain.js';
import { readBundleLedger, readStoreLedger } from './ledger.js';

export interface Ledger {
  /** The store URL without password, or the bundle as given. */
  display: string;
  kind: 'store' | 'bundle';
  /** false: no forklift_runs there. */
  exists: boolean;
  /** false: forklift_runs from before the audit chain (no hash columns). */
  chained: boolean;
  records: LedgerRecord[];
}

const STORE_URL = /^(sqlite:|postgres(ql)?:\/\/|mysql:\/\/|mariadb:\/\/|mssql:\/\/|sqlserver:\/\/)/;

/** A store URL or a bundle (folder or .zip): the entries of its forklift_runs. */
export async function readLedger(source: string, opts: { signal?: AbortSignal | undefined } = {}): Promise<Ledger> {
  if (STORE_URL.test(source)) {
    const store = await openStore(resolveTarget(source, process.cwd()));
    try {
      return { display: store.display, kind: 'store', ...(await readStoreLedger(store, opts)) };
    } finally {
      await store.close();
    }
  }
  if (!existsSync(path.resolve(source))) {
    throw new ConfigError(`${source}: neither a store URL nor a bundle`, { code: 'audit.source', hint: 'Give a store URL (sqlite:PATH, postgres://…, mysql://…, mssql://…) or a bundle folder or .zip.' });
  }
  const opened = await openBundle(source);
  try {
    return { display: opened.display, kind: 'bundle', ...(await readBundleLedger(opened.dir)) };
  } finally {
    opened.cleanup();
  }
}

/** Entries in chain order: those from before the chain first (by start time), then by seq. */
export function chainOrder(records: readonly LedgerRecord[]): LedgerRecord[] {
  const seqOf = (r: LedgerRecord): bigint => (r.seq === null ? -1n : BigInt(r.seq));
  return [...records].sort((a, b) => {
    const x = seqOf(a);
    const y = seqOf(b);
    if (x !== y) return x < y ? -1 : 1;
    return (a.started ?? '').localeCompare(b.started ?? '');
  });
}
