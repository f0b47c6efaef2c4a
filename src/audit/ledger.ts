import type { Entity } from '../model/types.js';
import { RUNS_ENTITY } from '../stores/runs-entity.js';
import { hostname } from 'node:os';
import { operator } from '../core/operator.js';
import { toolVersion } from '../core/version.js';
import type { RunEntry, TargetStore } from '../stores/types.js';
import { toLedgerRecord, verifyChain, type LedgerRecord } from './chain.js';

export const CHAIN_COLUMNS = ['seq', 'prev_hash', 'entry_hash'] as const;

/** RUNS_ENTITY as a ledger from before the chain holds it (no seq, prev_hash, entry_hash). */
export const LEGACY_RUNS_ENTITY: Entity = { ...RUNS_ENTITY, columns: RUNS_ENTITY.columns.filter((c) => !(CHAIN_COLUMNS as readonly string[]).includes(c.name)) };

/** How forklift_runs is described in a store: the current form, the form from before the chain, or absent. */
export function runsEntityOf(described: Entity | undefined): Entity | undefined {
  if (!described) return undefined;
  return described.columns.some((c) => c.name === 'entry_hash') ? RUNS_ENTITY : LEGACY_RUNS_ENTITY;
}

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
  return { exists: true, chained: entity === RUNS_ENTITY, records };
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

/** A ledger entry written by this process now: its operator, host and tool version, finished now. */
export function runEntry(e: Omit<RunEntry, 'finished' | 'operator' | 'host' | 'tool_version'>): RunEntry {
  return { ...e, finished: new Date().toISOString(), operator: operator(), host: hostname(), tool_version: toolVersion() };
}
