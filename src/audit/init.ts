import { ExitCode, ForkliftError } from '../core/errors.js';
import { newRunId } from '../run/run-id.js';
import { openStore } from '../stores/index.js';
import { verifyChain } from './chain.js';
import { checkLedgerWriter, commandEntry } from './entry.js';
import { readStoreLedger } from './ledger.js';

export interface AuditInitResult {
  target: string;
  /** false: the store's ledger was already a complete chain; nothing was written. */
  started: boolean;
  /** Entries from before the chain, now chained in the order they ran. */
  adopted: number;
  entries: number;
  head: string | null;
}

/**
 * `forklift audit init`: starts the audit chain on a store whose forklift_runs predates it (or
 * adopts entries left unchained beside a chain). The old entries are kept as they are and chained
 * in the order they ran, hashed as they are stored now; the init itself is the next entry and
 * says how many it adopted, so the record shows they were chained after the fact. Signed when
 * FORKLIFT_SIGNING_KEY is set. A ledger that is already one chain is left alone.
 */
export async function initAuditChain(target: string): Promise<AuditInitResult> {
  checkLedgerWriter();
  const store = await openStore(target);
  try {
    const before = await readStoreLedger(store);
    const unchained = before.records.filter((r) => r.seq === null && r.entry_hash === null).length;
    if (before.exists && before.chained) {
      // Only entries that verifiably predate the chain are adopted (the rules of audit verify):
      // adopting one put there since would chain a forgery "on record".
      const v = verifyChain(before.records);
      if (!v.ok) {
        throw new ForkliftError(`${store.display}: the audit chain does not verify, so audit init chains nothing: ${v.problem!.message}`, {
          exitCode: ExitCode.runtime,
          code: `audit.${v.problem!.kind}`,
          hint: `forklift audit verify ${store.display} names the same; audit init adopts only the entries the chain began after. Compare the ledger with a copy kept elsewhere (a bundle, a run report’s ledger_head).`,
        });
      }
      if (unchained === 0) return { target: store.display, started: false, adopted: 0, entries: v.entries, head: v.head };
    }
    const started = new Date();
    const { adopted } = await store.initLedger((n) =>
      commandEntry({
        id: newRunId(started),
        command: 'audit init',
        status: 'succeeded',
        started,
        files: {},
        counts: { adopted: n },
        message: n ? `${n} entr${n === 1 ? 'y' : 'ies'} from before the audit chain chained in the order they ran, as stored at ${started.toISOString()}` : 'the audit chain starts here',
      }),
    );
    const after = verifyChain((await readStoreLedger(store)).records);
    return { target: store.display, started: true, adopted, entries: after.entries, head: after.head };
  } finally {
    await store.close();
  }
}
