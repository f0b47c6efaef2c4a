import { existsSync } from 'node:fs';
import path from 'node:path';
import { readBundleCsv } from '../bundle/csv.js';
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

/** Every entry of a store's forklift_runs, as ledger records (unordered). */
export async function readStoreLedger(store: TargetStore, opts: { signal?: AbortSignal | undefined } = {}): Promise<StoreLedger> {
  if (!(await store.hasTable(RUNS_ENTITY.name))) return { exists: false, chained: false, records: [] };
  const described = (await store.describeTables()).find((e) => e.name === RUNS_ENTITY.name);
  const entity = runsEntityOf(described) ?? RUNS_ENTITY;
  const records: LedgerRecord[] = [];
  for await (const batch of store.readRows(entity, { signal: opts.signal })) {
    for (const row of batch) records.push(toLedgerRecord(Object.fromEntries(entity.columns.map((c, i) => [c.name, row[i]]))));
  }
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

/** The entries of a bundle's data/csv/forklift_runs.csv (an unpacked bundle folder), as ledger records. */
export async function readBundleLedger(dir: string): Promise<StoreLedger> {
  const file = path.join(dir, 'data', 'csv', `${RUNS_ENTITY.name}.csv`);
  if (!existsSync(file)) return { exists: false, chained: false, records: [] };
  let header: string[] | undefined;
  const records: LedgerRecord[] = [];
  for await (const batch of readBundleCsv(file)) {
    for (const rec of batch) {
      if (!header) {
        header = rec.map((f) => f ?? '');
        continue;
      }
      records.push(toLedgerRecord(Object.fromEntries(header.map((h, i) => [h, rec[i] ?? null]))));
    }
  }
  return { exists: true, chained: Boolean(header?.includes('entry_hash')), records };
}

/** The store's ledger head (the last chained entry's entry_hash), or null when there is none. */
export async function storeLedgerHead(store: TargetStore): Promise<string | null> {
  const ledger = await readStoreLedger(store);
  if (!ledger.chained) return null;
  let best: LedgerRecord | undefined;
  for (const r of ledger.records) if (r.seq !== null && (!best || BigInt(r.seq) > BigInt(best.seq!))) best = r;
  return best?.entry_hash ?? null;
}

export { verifyChain };

