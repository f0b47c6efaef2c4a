import { existsSync } from 'node:fs';
import path from 'node:path';
import { CsvShapeError, readBundleCsv, type CsvField } from '../bundle/csv.js';
import { BundleError } from '../core/errors.js';
import type { Entity } from '../model/types.js';
import { IMPORTED_RUNS_ENTITY, RUNS_ENTITY } from '../stores/runs-entity.js';
import type { TargetStore } from '../stores/types.js';
import { toLedgerRecord, verifyChain, type LedgerRecord } from './chain.js';

/**
 * How forklift_runs is described in a store: RUNS_ENTITY with the columns that store's table has
 * (a ledger from before the chain has no seq, prev_hash, entry_hash; one from before signing no
 * signature), or absent.
 */
export function runsEntityOf(described: Entity | undefined): Entity | undefined {
  if (!described) return undefined;
  const has = new Set(described.columns.map((c) => c.name));
  if (RUNS_ENTITY.columns.every((c) => has.has(c.name))) return RUNS_ENTITY;
  return { ...RUNS_ENTITY, columns: RUNS_ENTITY.columns.filter((c) => has.has(c.name)) };
}

/** Whether a forklift_runs holds the audit chain's columns. */
export const isChained = (e: Entity): boolean => e.columns.some((c) => c.name === 'entry_hash');

export interface StoreLedger {
  /** false: the store has no forklift_runs. */
  exists: boolean;
  /** false: forklift_runs is from before the chain (no hash columns yet). */
  chained: boolean;
  records: LedgerRecord[];
}

/** What the ledger is read through: a store, or one snapshot of it (an export's, so the head is the one of the rows it took). */
export type LedgerReader = Pick<TargetStore, 'describeTables' | 'readRows'>;

/** How a store's forklift_runs is described there (RUNS_ENTITY with the columns it has), or undefined where there is none. */
export async function storeRunsEntity(store: LedgerReader): Promise<Entity | undefined> {
  return runsEntityOf((await store.describeTables()).find((e) => e.name === RUNS_ENTITY.name));
}

/**
 * chainOrder (source.ts) as the store's own ORDER BY, so a reader gets the entries in chain order
 * without holding them: seq (NULL first: the entries from before the chain), then start time, then
 * id (the key order a store reads in, which is the order chainOrder keeps for equal start times).
 * Start times are compared by code point here, by localeCompare there: the same order for the ISO
 * 8601 text forklift writes.
 */
const CHAIN_ORDER = ['seq', 'started', 'id'];

/**
 * A store's forklift_runs as ledger records, in batches as the store yields them: in key order, or
 * with `chainOrder` in chain order.
 */
export async function* storeLedgerBatches(store: LedgerReader, entity: Entity, opts: { signal?: AbortSignal | undefined; chainOrder?: boolean } = {}): AsyncGenerator<LedgerRecord[]> {
  const has = new Set(entity.columns.map((c) => c.name));
  const read = opts.chainOrder ? { ...entity, primaryKey: CHAIN_ORDER.filter((c) => has.has(c)) } : entity;
  for await (const batch of store.readRows(read, { signal: opts.signal })) {
    yield batch.map((row) => toLedgerRecord(Object.fromEntries(entity.columns.map((c, i) => [c.name, row[i]]))));
  }
}

/** Every entry of a store's forklift_runs, as ledger records (unordered). */
export async function readStoreLedger(store: LedgerReader, opts: { signal?: AbortSignal | undefined } = {}): Promise<StoreLedger> {
  const entity = await storeRunsEntity(store);
  if (!entity) return { exists: false, chained: false, records: [] };
  const records: LedgerRecord[] = [];
  for await (const batch of storeLedgerBatches(store, entity, opts)) for (const r of batch) records.push(r);
  return { exists: true, chained: isChained(entity), records };
}

/**
 * The copies of other stores' ledgers a store keeps (forklift_imported_runs, one per bundle import),
 * by the id of the import that brought each: every copy is a chain of its own.
 */
export async function readImportedLedgers(store: TargetStore, opts: { signal?: AbortSignal | undefined } = {}): Promise<Map<string, LedgerRecord[]>> {
  const out = new Map<string, LedgerRecord[]>();
  if (!(await store.hasTable(IMPORTED_RUNS_ENTITY.name))) return out;
  const described = (await store.describeTables()).find((e) => e.name === IMPORTED_RUNS_ENTITY.name);
  const has = new Set(described?.columns.map((c) => c.name));
  const entity = { ...IMPORTED_RUNS_ENTITY, columns: IMPORTED_RUNS_ENTITY.columns.filter((c) => has.has(c.name)) };
  for await (const batch of store.readRows(entity, { signal: opts.signal })) {
    for (const row of batch) {
      const obj = Object.fromEntries(entity.columns.map((c, i) => [c.name, row[i]]));
      const id = String(obj.import_id);
      if (!out.has(id)) out.set(id, []);
      out.get(id)!.push(toLedgerRecord(obj));
    }
  }
  return out;
}

/** A bundle's copy of forklift_runs (an unpacked bundle folder), or undefined where it has none. */
export function bundleLedgerFile(dir: string): string | undefined {
  const file = path.join(dir, 'data', 'csv', `${RUNS_ENTITY.name}.csv`);
  return existsSync(file) ? file : undefined;
}

/**
 * The records of a bundle's forklift_runs.csv in file order, in batches, each as the CSV has it
 * with its header (a file of a header alone yields it once, with no rows).
 */
export async function* bundleLedgerRows(file: string): AsyncGenerator<{ header: string[]; rows: CsvField[][] }> {
  let header: string[] | undefined;
  try {
    for await (const batch of readBundleCsv(file)) {
      const rows = header ? batch : batch.slice(1);
      header ??= batch[0]?.map((f) => f ?? '');
      if (header) yield { header, rows };
    }
  } catch (e) {
    // A damaged copy is the bundle's problem, not forklift's: named with its line, as verify names it.
    if (!(e instanceof CsvShapeError)) throw e;
    throw new BundleError(`data/csv/${path.basename(file)}:${e.line}: ${e.problem()}`, {
      code: 'bundle.ledger-csv',
      hint: 'The bundle was changed or damaged after it was written: run forklift bundle verify on it, and export it again from the source.',
    });
  }
}

/** A row of a bundle's forklift_runs.csv (under its header) as a ledger record. */
export const bundleLedgerRecord = (header: readonly string[], rec: readonly CsvField[]): LedgerRecord => toLedgerRecord(Object.fromEntries(header.map((h, i) => [h, rec[i] ?? null])));

/** The entries of a bundle's data/csv/forklift_runs.csv (an unpacked bundle folder), as ledger records. */
export async function readBundleLedger(dir: string): Promise<StoreLedger> {
  const file = bundleLedgerFile(dir);
  if (!file) return { exists: false, chained: false, records: [] };
  let header: string[] | undefined;
  const records: LedgerRecord[] = [];
  for await (const batch of bundleLedgerRows(file)) {
    header = batch.header;
    for (const rec of batch.rows) records.push(bundleLedgerRecord(header, rec));
  }
  return { exists: true, chained: Boolean(header?.includes('entry_hash')), records };
}

/** The store's ledger head (the last chained entry's entry_hash), or null when there is none. */
export async function storeLedgerHead(store: LedgerReader): Promise<string | null> {
  const ledger = await readStoreLedger(store);
  if (!ledger.chained) return null;
  let best: LedgerRecord | undefined;
  for (const r of ledger.records) if (r.seq !== null && (!best || BigInt(r.seq) > BigInt(best.seq!))) best = r;
  return best?.entry_hash ?? null;
}

export { verifyChain };

