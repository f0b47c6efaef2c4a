import type { Entity, Model } from '../model/types.js';
import type { EntityLoad, StoreCounter, TargetStore } from '../stores/types.js';
import { upsertColumns } from '../stores/upsert-common.js';
import { stagingTable, type Staging } from './staging.js';
import { ROW_OK } from './row-state.js';
import { q } from '../util/sql-name.js';

/**
 * `forklift migrate --dry-run` (SPEC section 12), the run's side: the target's current rows are
 * copied into the staging file, the store rehearses the load (rolled back), every row the
 * target's own constraints refuse becomes a reject with the database's message, and the rows
 * that would load are compared with the current ones by key, in SQL over the staging file,
 * the same for every store.
 */

/** What a dry run found for one entity: the rows that would load split by effect, and the rows the target refuses. */
export interface DryRunCounts {
  would_insert: number;
  would_update: number;
  unchanged: number;
  /** replace: rows now in the target whose key the new load does not hold. */
  would_delete: number;
  /** Rows the target's own constraints refuse (unique indexes, foreign keys, CHECKs, triggers): rejects of rule target-constraint. */
  refused: number;
}

export const TARGET_CONSTRAINT_RULE = 'target-constraint';

/**
 * A counter of the target that moved while the dry run rehearsed (TargetStore.counters): its
 * rollback left it where the rehearsal's inserts took it (or another session's, at the same time).
 * forklift does not set it back: a value another session took in the meantime would be handed out twice.
 */
export interface CounterAdvance {
  counter: string;
  before: string | null;
  after: string | null;
}

/** What a dry run found: per entity, and the counters its rehearsal moved for good. */
export interface DryRunResult {
  entities: Map<string, DryRunCounts>;
  counters_advanced: CounterAdvance[];
}

const currentTable = (entity: string): string => q(`c_${entity}`);

export async function dryRunLoad(opts: {
  store: TargetStore;
  staging: Staging;
  model: Model;
  loads: EntityLoad[];
  runId: string;
  signal?: AbortSignal | undefined;
}): Promise<DryRunResult> {
  const { store, staging, loads } = opts;
  const present = new Set<string>();
  for (const l of loads) {
    if (!(await store.hasTable(l.entity.name))) continue;
    await copyCurrentRows(store, staging, l.entity, opts.signal);
    present.add(l.entity.name);
  }
  // The store reads the staging file on a connection of its own. This one's page cache (up to
  // 64 MiB, full after staging millions of rows) is given back first: migrate closes the staging
  // connection before its load, and the rehearsal would otherwise peak that much higher (5M rows:
  // 319 MiB against migrate's 275 MiB; with it given back, 271 MiB).
  staging.commit();
  staging.db.pragma('shrink_memory');
  const before = await store.counters?.();
  let used: ReadonlySet<string> | undefined;
  const refused = await store.rehearse({ model: opts.model, stagingFile: staging.file, entities: loads, runId: opts.runId, signal: opts.signal, onCountersUsed: (names) => void (used = new Set(names)) });
  // Where the store can tell, only the counters the rehearsal drew from: not those of other sessions' work meanwhile.
  const advanced = before ? countersAdvanced(before, await store.counters!()).filter((c) => used?.has(c.counter) ?? true) : [];
  staging.db.exec('BEGIN');
  const perEntity = new Map<string, number>();
  for (const r of refused) {
    const line = staging.db.prepare(`SELECT _line FROM ${stagingTable(r.entity)} WHERE _seq = ?`).pluck().get(r.seq) as number;
    if (staging.rejectStaged(r.entity, r.seq, line, '', TARGET_CONSTRAINT_RULE, `the target refuses this row: ${r.message}`)) perEntity.set(r.entity, (perEntity.get(r.entity) ?? 0) + 1);
  }
  const out = new Map<string, DryRunCounts>();
  for (const l of loads) {
    const counts = compare(staging, l, present.has(l.entity.name));
    out.set(l.entity.name, { ...counts, refused: perEntity.get(l.entity.name) ?? 0 });
    if (present.has(l.entity.name)) staging.db.exec(`DROP TABLE ${currentTable(l.entity.name)}`);
  }
  return { entities: out, counters_advanced: advanced };
}

/** The counters whose value differs after the rehearsal; one the rehearsal made (and its rollback dropped) is not there after. */
export function countersAdvanced(before: readonly StoreCounter[], after: readonly StoreCounter[]): CounterAdvance[] {
  const then = new Map(before.map((c) => [c.name, c.value]));
  return after.filter((c) => then.has(c.name) && then.get(c.name) !== c.value).map((c) => ({ counter: c.name, before: then.get(c.name)!, after: c.value }));
}

/** The target's rows of an entity into c_<entity>, streamed, with its key indexed. */
async function copyCurrentRows(store: TargetStore, staging: Staging, entity: Entity, signal: AbortSignal | undefined): Promise<void> {
  const t = currentTable(entity.name);
  const cols = entity.columns.map((c) => q(c.name));
  staging.db.exec(`CREATE TABLE ${t} (${cols.join(', ')})`);
  const ins = staging.db.prepare(`INSERT INTO ${t} VALUES (${cols.map(() => '?').join(', ')})`);
  for await (const batch of store.readRows(entity, { signal })) for (const row of batch) ins.run(row);
  staging.db.exec(`CREATE INDEX ${q(`ci_${entity.name}`)} ON ${t} (${entity.primaryKey.map(q).join(', ')})`);
}

function compare(staging: Staging, l: EntityLoad, present: boolean): Omit<DryRunCounts, 'refused'> {
  const { entity, mode } = l;
  const s = stagingTable(entity.name);
  const ok = (staging.db.prepare(`SELECT COUNT(*) FROM ${s} WHERE _st = ${ROW_OK}`).pluck().get() as number) ?? 0;
  // append and incremental only add rows: a key already in the target is the target's refusal.
  if (!present || mode === 'append' || mode === 'incremental') return { would_insert: ok, would_update: 0, unchanged: 0, would_delete: 0 };
  const c = currentTable(entity.name);
  const on = entity.primaryKey.map((k) => `c.${q(k)} = s.${q(k)}`).join(' AND ');
  // An upsert leaves the columns it does not provide as they are, so only its own can change; a
  // replace writes every column, the unmapped ones NULL.
  const compared = mode === 'upsert' ? upsertColumns(l) : entity.columns;
  const same = compared.length ? compared.map((col) => `c.${q(col.name)} IS s.${q(col.name)}`).join(' AND ') : '1';
  const count = (sql: string): number => staging.db.prepare(sql).pluck().get() as number;
  // One pass over the key join for both figures.
  const { matched, unchanged } = staging.db.prepare(`SELECT COUNT(*) AS matched, COALESCE(SUM(${same}), 0) AS unchanged FROM ${s} s JOIN ${c} c ON ${on} WHERE s._st = ${ROW_OK}`).get() as { matched: number; unchanged: number };
  const wouldDelete = mode === 'replace' ? count(`SELECT COUNT(*) FROM ${c} c WHERE NOT EXISTS (SELECT 1 FROM ${s} s WHERE s._st = ${ROW_OK} AND ${on})`) : 0;
  return { would_insert: ok - matched, would_update: matched - unchanged, unchanged, would_delete: wouldDelete };
}
