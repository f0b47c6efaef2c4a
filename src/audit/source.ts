import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, ExitCode, ForkliftError } from '../core/errors.js';
import { openBundle, pinnedHead } from '../bundle/verify.js';
import { parseBagInfo } from '../bundle/bagit.js';
import { resolveTarget } from '../plan/paths.js';
import { TARGET_URL, openStore } from '../stores/index.js';
import type { TargetStore } from '../stores/types.js';
import { tmpdir } from 'node:os';
import type { CsvField } from '../bundle/csv.js';
import { sortedBySpill } from '../diff/spill.js';
import { canonicalValue, parseHead, verifyChain, verifyChainStreamed, type LedgerRecord, type VerifyResult } from './chain.js';
import { loadPublicKey, type PublicKey } from './signing.js';
import { bundleLedgerFile, bundleLedgerRecord, bundleLedgerRows, isChained, readBundleLedger, readImportedLedgers, readStoreLedger, storeLedgerBatches, storeRunsEntity } from './ledger.js';

export interface Ledger {
  /** The store URL without password, or the bundle as given. */
  display: string;
  kind: 'store' | 'bundle';
  /** false: no forklift_runs there. */
  exists: boolean;
  /** false: forklift_runs from before the audit chain (no hash columns). */
  chained: boolean;
  records: LedgerRecord[];
  /** A store's copies of other stores' ledgers (forklift_imported_runs), by the import that brought each. */
  imported: Map<string, LedgerRecord[]>;
}

const STORE_URL = /^(sqlite:|postgres(ql)?:\/\/|mysql:\/\/|mariadb:\/\/|mssql:\/\/|sqlserver:\/\/)/;

/** Where a ledger is read from, opened: a store (close it), or an unpacked bundle (clean it up). */
export type LedgerSource = { kind: 'store'; store: TargetStore } | { kind: 'bundle'; dir: string; display: string; cleanup: () => void };

/** Opens a store URL or a bundle (folder or .zip) to read its ledger; `urlName`: how hints name the URL (default TARGET_URL, as --target gives it). */
export async function openLedgerSource(source: string, urlName = TARGET_URL): Promise<LedgerSource> {
  if (STORE_URL.test(source)) return { kind: 'store', store: await openStore(resolveTarget(source, process.cwd()), { existing: true, urlName }) };
  if (!existsSync(path.resolve(source))) {
    throw new ConfigError(`${source}: neither a store URL nor a bundle`, { code: 'audit.source', hint: 'Give a store URL (sqlite:PATH, postgres://…, mysql://…, mssql://…) or a bundle folder or .zip.' });
  }
  return { kind: 'bundle', ...(await openBundle(source)) };
}

/** A store URL or a bundle (folder or .zip): the entries of its forklift_runs. */
export async function readLedger(source: string, opts: { signal?: AbortSignal | undefined } = {}): Promise<Ledger> {
  const opened = await openLedgerSource(source);
  if (opened.kind === 'store') {
    const { store } = opened;
    try {
      return { display: store.display, kind: 'store', ...(await readStoreLedger(store, opts)), imported: await readImportedLedgers(store, opts) };
    } finally {
      await store.close();
    }
  }
  try {
    return { display: opened.display, kind: 'bundle', ...(await readBundleLedger(opened.dir)), imported: new Map() };
  } finally {
    opened.cleanup();
  }
}

/** A store's or a bundle's ledger, open for reading without holding its entries. */
export interface LedgerReader {
  /** The store URL without password, or the bundle as given. */
  display: string;
  kind: 'store' | 'bundle';
  /** false: no forklift_runs there. */
  exists: boolean;
  /** false: forklift_runs from before the audit chain (no hash columns). */
  chained: boolean;
  /** The entries in batches, each call a new read: in chain order (chainOrder's), or with `ordered: false` in whatever order is cheapest. */
  records(opts?: { ordered?: boolean }): AsyncIterable<LedgerRecord[]>;
  /** A store's copies of other stores' ledgers (forklift_imported_runs); none in a bundle. */
  imported(): Promise<Map<string, LedgerRecord[]>>;
  /** A bundle's bag-info.txt Forklift-Ledger-Head: the last entry when it was exported. */
  pinnedHead?: string | undefined;
  close(): Promise<void>;
}

/**
 * Opens the ledger of a store URL or a bundle (folder or .zip). A store gives its entries in chain
 * order itself (its ORDER BY); a bundle's copy is in key order, so it is sorted on disk
 * (sortedBySpill) in the order chainOrder gives: seq, entries from before the chain first, then
 * start time, then file order.
 */
export async function openLedgerReader(source: string, opts: { signal?: AbortSignal | undefined; urlName?: string } = {}): Promise<LedgerReader> {
  const signal = opts.signal;
  const opened = await openLedgerSource(source, opts.urlName);
  if (opened.kind === 'store') {
    const { store } = opened;
    try {
      const entity = await storeRunsEntity(store);
      return {
        display: store.display,
        kind: 'store',
        exists: entity !== undefined,
        chained: entity !== undefined && isChained(entity),
        async *records({ ordered = true } = {}) {
          if (entity) yield* storeLedgerBatches(store, entity, { signal, chainOrder: ordered });
        },
        imported: () => readImportedLedgers(store, { signal }),
        close: () => store.close(),
      };
    } catch (e) {
      await store.close();
      throw e;
    }
  }
  const file = bundleLedgerFile(opened.dir);
  let chained = false;
  if (file) {
    for await (const batch of bundleLedgerRows(file)) {
      chained = batch.header.includes('entry_hash');
      break;
    }
  }
  return {
    display: opened.display,
    kind: 'bundle',
    exists: file !== undefined,
    chained,
    pinnedHead: bagInfoHead(opened.dir),
    async *records({ ordered = true } = {}) {
      if (!file) return;
      let header: string[] = [];
      const rows = (async function* (): AsyncGenerator<unknown[][]> {
        for await (const batch of bundleLedgerRows(file)) {
          header = batch.header;
          if (batch.rows.length) yield batch.rows;
        }
      })();
      const field = (row: readonly unknown[], name: string): unknown => row[header.indexOf(name)] ?? null;
      const key = (row: readonly unknown[]): unknown[] => [canonicalValue('seq', field(row, 'seq')), canonicalValue('started', field(row, 'started'))];
      const sorted = ordered ? sortedBySpill(rows, key, ['numeric', 'text'], { dir: tmpdir(), signal }) : rows;
      for await (const batch of sorted) yield batch.map((rec) => bundleLedgerRecord(header, rec as CsvField[]));
    },
    imported: () => Promise.resolve(new Map()),
    close: () => Promise.resolve(opened.cleanup()),
  };
}

/**
 * bag-info.txt's Forklift-Ledger-Head, lower case, where the bundle has one: without it, a copy of
 * the ledger cut short after its last entry is still a chain that verifies.
 */
function bagInfoHead(dir: string): string | undefined {
  const file = path.join(dir, 'bag-info.txt');
  if (!existsSync(file)) return undefined;
  return pinnedHead(parseBagInfo(readFileSync(file, 'utf8')).fields);
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

export interface ImportedCheck {
  import_id: string;
  entries: number;
  /** The copy's head as recomputed, and as the import's entry in this store's chain recorded it. */
  head: string | null;
  recorded_head: string | null;
  ok: boolean;
  problem?: string;
}

/**
 * Each copy of another store's ledger (forklift_imported_runs) against the import that brought it:
 * the copy is recomputed as a chain of its own, and its head must be the one the import's entry
 * recorded, which this store's own chain (already verified) vouches for, or the copy holding that
 * import (a bundle that itself carried imported ledgers). A copy of a ledger from
 * before the chain has nothing to check but its presence.
 */
export function verifyImported(ledger: Pick<Ledger, 'records' | 'imported'>): ImportedCheck[] {
  const notes = new Map<string, ImportNote>();
  for (const r of ledger.records) noteImport(r, notes);
  return checkImported(notes, ledger.imported);
}

/** What an import's entry recorded of the ledger it brought (its counts' forklift_runs). */
type ImportNote = { chained: boolean; head: string | null };

/** Keeps the note of `r` if it is an import's entry. */
function noteImport(r: LedgerRecord, notes: Map<string, ImportNote>): void {
  if (r.command !== 'import' || r.id === null || r.counts === null) return;
  try {
    const note = (JSON.parse(r.counts) as Record<string, { chained?: unknown; head?: unknown } | undefined>).forklift_runs;
    if (note) notes.set(r.id, { chained: note.chained === true, head: typeof note.head === 'string' ? note.head : null });
  } catch {
    // counts that are not JSON: the chain check names such an entry if it was changed
  }
}

/** The copies against the notes of this store's chain, to which the copies' own imports are added. */
function checkImported(notes: Map<string, ImportNote>, imported: ReadonlyMap<string, LedgerRecord[]>): ImportedCheck[] {
  // An import recorded in this store's chain, or in a copy (a bundle that itself held imported ledgers).
  for (const records of imported.values()) for (const r of records) noteImport(r, notes);
  return [...imported].map(([id, records]) => {
    const rec = notes.get(id);
    if (!rec) return { import_id: id, entries: records.length, head: null, recorded_head: null, ok: false, problem: `no import ${id} in this store's ledger, or in the ledgers it holds, records bringing it` };
    if (!rec.chained) return { import_id: id, entries: records.length, head: null, recorded_head: null, ok: true };
    const v = verifyChain(records, rec.head === null ? {} : { head: rec.head });
    const ok = v.ok && v.head === rec.head;
    return {
      import_id: id,
      entries: v.entries,
      head: v.head,
      recorded_head: rec.head,
      ok,
      ...(ok ? {} : { problem: v.problem?.message ?? `its head ${v.head ?? 'null'} is not the head the import recorded (${rec.head ?? 'null'}): entries were added after it` }),
    };
  });
}

export type AuditVerification = VerifyResult & {
  source: string;
  imported: ImportedCheck[];
  /** A bundle's Forklift-Ledger-Head (bag-info.txt), which the chain was checked to end at, when no --head was given. */
  pinned_head?: string;
};

/**
 * `forklift audit verify`: the chain of a store's or a bundle's forklift_runs recomputed (and its
 * signatures checked with `pubkey`, a PEM file), then each kept copy of another store's ledger.
 * Anything that does not verify, or no chain to verify, is exit 1 naming the first entry at fault.
 */
export async function auditVerify(opts: { source: string; head?: string | undefined; pubkey?: string | undefined }): Promise<AuditVerification> {
  const head = opts.head === undefined ? undefined : parseHead(opts.head);
  const pubkey = opts.pubkey === undefined ? undefined : loadPublicKey(opts.pubkey);
  // audit verify takes the store as its argument SOURCE, not as --target.
  const ledger = await openLedgerReader(opts.source, { urlName: 'the store URL (SOURCE)' });
  try {
    return await verifyLedger(ledger, head, pubkey);
  } finally {
    await ledger.close();
  }
}

/**
 * The chain read once in chain order and checked as it streams (verifyChainStreamed), holding one
 * entry at a time; where it does not verify, every entry is read and verifyChain names the first
 * at fault. The copies of other stores' ledgers are read whole: each is one other store's ledger.
 */
async function verifyLedger(ledger: LedgerReader, head: string | undefined, pubkey: PublicKey | undefined): Promise<AuditVerification> {
  const fail = (message: string, code: string, hint: string, data?: unknown): never => {
    throw new ForkliftError(message, { exitCode: ExitCode.runtime, code, hint, ...(data ? { data } : {}) });
  };
  if (!ledger.exists) {
    fail(`${ledger.display}: no ledger in this ${ledger.kind}`, 'audit.no-ledger', ledger.kind === 'bundle' ? 'Export the store with its forklift_runs table (without --tables, or with forklift_runs in it).' : 'Runs are recorded by migrate and bundle import.');
  }
  if (!ledger.chained) {
    let n = 0;
    for await (const batch of ledger.records({ ordered: false })) n += batch.length;
    fail(
      `${ledger.display}: forklift_runs has ${n} entr${n === 1 ? 'y' : 'ies'} and no audit chain yet (written before the chain existed)`,
      'audit.unchained',
      ledger.kind === 'store'
        ? `Start the chain with forklift audit init --target ${ledger.display} (the entries are kept and chained in order), or with the next run that writes to this store.`
        : 'The store it came from had no audit chain when it was exported: run forklift audit init on that store, then export it again.',
    );
  }
  // A bundle pins its head in bag-info.txt: the chain must reach it, and go no further.
  const pinned = head === undefined ? ledger.pinnedHead : undefined;
  const want = head ?? pinned;
  let notes = new Map<string, ImportNote>();
  let result = await verifyChainStreamed(ledger.records(), { head: want, pubkey, each: (r) => noteImport(r, notes) });
  if (!result) {
    const all: LedgerRecord[] = [];
    for await (const batch of ledger.records({ ordered: false })) all.push(...batch);
    result = verifyChain(all, { head: want, pubkey });
    notes = new Map();
    for (const r of all) noteImport(r, notes);
  }
  const imported = checkImported(notes, await ledger.imported());
  const shown: AuditVerification = { source: ledger.display, ...result, imported, ...(pinned === undefined ? {} : { pinned_head: pinned }) };
  if (!result.ok) {
    const signing = result.problem!.kind === 'signature' || result.problem!.kind === 'unsigned';
    fail(
      `${ledger.display}: the audit chain does not verify: ${result.problem!.message}${pinned !== undefined && result.problem!.kind === 'head' ? ' (the head bag-info.txt records as Forklift-Ledger-Head: the last entry when the bundle was exported)' : ''}`,
      `audit.${result.problem!.kind}`,
      signing ? 'Check that --pubkey is the public key of the key the runs were signed with; if it is, the ledger was changed after it was signed.' : 'The ledger was changed after it was written. Compare with a copy kept elsewhere (a bundle, a run report’s ledger_head).',
      shown,
    );
  }
  if (pinned !== undefined && result.afterHead) {
    const n = result.afterHead;
    fail(
      `${ledger.display}: the audit chain does not verify: ${n} ${n === 1 ? 'entry follows' : 'entries follow'} the head bag-info.txt records as Forklift-Ledger-Head, the last entry when the bundle was exported: added since`,
      'audit.head',
      'The ledger was changed after it was written. Compare with a copy kept elsewhere (a bundle, a run report’s ledger_head).',
      shown,
    );
  }
  const badCopy = imported.find((c) => !c.ok);
  if (badCopy) {
    fail(`${ledger.display}: forklift_imported_runs, the ledger brought by import ${badCopy.import_id}, does not verify: ${badCopy.problem!}`, 'audit.imported', 'The copy was changed after the import; the bundle it came from holds the original.', shown);
  }
  if (result.entries === 0 && head === undefined) {
    fail(`${ledger.display}: no chained entries yet (${result.unchained} from before the chain)`, 'audit.unchained', `Start the chain with forklift audit init --target ${ledger.display}, or with the next run that writes to this store (migrate, bundle import).`);
  }
  return shown;
}
