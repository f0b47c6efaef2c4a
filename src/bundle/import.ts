import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { operator } from '../core/operator.js';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { BundleError, ConfigError } from '../core/errors.js';
import { toolVersion } from '../core/version.js';
import { dependencyOrder, type Entity, type Model } from '../model/types.js';
import { newRunId } from '../run/pipeline.js';
import { Staging, stagingTable } from '../run/staging.js';
import { openStore } from '../stores/index.js';
import { RUNS_ENTITY } from '../stores/runs-entity.js';
import type { EntityLoad, LoadMode, RunEntry } from '../stores/types.js';
import { safeBagPath } from './bagit.js';
import { csvDecoder, readBundleCsv } from './csv.js';
import { openBundle, verifyBundleDir, type VerifyResult } from './verify.js';

export interface ImportOptions {
  bundle: string;
  target: string;
  /** append (default: a key already in the target fails the import, nothing committed), replace or upsert. */
  load?: Exclude<LoadMode, 'incremental'> | undefined;
  tables?: string[] | undefined;
  progress?: (p: { stage: 'verify' | 'stage' | 'load'; table?: string; rows: number }) => void;
  signal?: AbortSignal | undefined;
}

export interface ImportResult {
  bundle: string;
  target: string;
  run_id: string;
  load: string;
  tables: { name: string; rows: number; loaded: number; already_in_target: number }[];
  rows_total: number;
  manifest_sha256: string;
}

/**
 * `forklift bundle import`: verifies the bundle whole (a bundle that does not verify is refused),
 * stages its CSVs in a scratch SQLite file with the types datapackage.json states, and loads them
 * through the store's own load path: one transaction, tables created with the dialect's exact
 * types, the import recorded in the target's ledger. The bundle's own forklift_runs entries join
 * the target's ledger (entries it already holds are kept, not duplicated): the history travels.
 */
export async function importBundle(opts: ImportOptions): Promise<ImportResult> {
  const opened = await openBundle(opts.bundle);
  const started = new Date();
  const runId = newRunId(started);
  const scratch = mkdtempSync(path.join(tmpdir(), 'forklift-import-'));
  try {
    opts.progress?.({ stage: 'verify', rows: 0 });
    const verified = await verifyBundleDir(opened.dir, opened.display, { signal: opts.signal, progress: (p) => opts.progress?.({ stage: 'verify', table: p.table, rows: p.rows }) });
    if (!verified.valid || !verified.entities) refuse(verified);
    const entities = chooseTables(verified.entities!, opts.tables);
    const manifest = createHash('sha256').update(readFileSync(path.join(opened.dir, 'manifest-sha256.txt'))).digest('hex');

    const store = await openStore(opts.target);
    try {
      // Reach the target before staging a million rows.
      const hasRuns = await store.hasTable(RUNS_ENTITY.name);
      const knownRuns = new Set<string>();
      if (hasRuns && entities.some((e) => e.name === RUNS_ENTITY.name)) {
        for await (const batch of store.readColumn(RUNS_ENTITY.name, 'id')) for (const v of batch) knownRuns.add(String(v));
      }
      const staging = new Staging(path.join(scratch, 'staging.sqlite'));
      const counts = new Map<string, { rows: number; loaded: number; skipped: number }>();
      try {
        for (const e of entities) {
          opts.signal?.throwIfAborted();
          staging.createEntity(e);
          const file = safeBagPath(opened.dir, `data/csv/${e.name}.csv`, { encoded: false })!;
          const c = { rows: 0, loaded: 0, skipped: 0 };
          const decoders = e.columns.map(csvDecoder);
          const idPos = e.name === RUNS_ENTITY.name ? e.columns.findIndex((x) => x.name === 'id') : -1;
          let line = 1;
          for await (const batch of readBundleCsv(file)) {
            for (const rec of batch) {
              // The header was checked by verify; every other record is a row.
              if (++line === 2) continue;
              c.rows++;
              const values = rec.map((f, i) => decoders[i]!(f ?? '', f === '')) as (string | number | null)[];
              if (idPos >= 0 && knownRuns.has(String(values[idPos]))) {
                c.skipped++;
                continue;
              }
              staging.insertRow(e.name, line, values);
              c.loaded++;
            }
            opts.progress?.({ stage: 'stage', table: e.name, rows: c.rows });
          }
          staging.flushRows(e.name);
          counts.set(e.name, c);
        }
      } finally {
        staging.close();
      }

      const inTarget = new Map((await store.describeTables()).map((e) => [e.name, e]));
      const model: Model = { name: 'bundle', entities: new Map(entities.map((e) => [e.name, withTargetReferences(e, inTarget.get(e.name))])) };
      const data = entities.filter((e) => e.name !== RUNS_ENTITY.name);
      const order = dependencyOrder(model, data.map((e) => e.name));
      const mode = opts.load ?? 'append';
      const loads: EntityLoad[] = order.map((name) => ({ entity: model.entities.get(name)!, mode, stagedTable: stagingTable(name), expected: counts.get(name)!.loaded }));
      // The bundle's history is appended whatever the mode: a ledger is never replaced.
      // As the bundle describes it: a ledger exported before the hash chain has no chain columns.
      if (counts.has(RUNS_ENTITY.name)) loads.push({ entity: model.entities.get(RUNS_ENTITY.name)!, mode: 'append', stagedTable: stagingTable(RUNS_ENTITY.name), expected: counts.get(RUNS_ENTITY.name)!.loaded });
      opts.progress?.({ stage: 'load', rows: 0 });
      const entry = (status: RunEntry['status'], message: string | null): RunEntry => ({
        id: runId,
        command: 'import',
        status,
        started: started.toISOString(),
        finished: new Date().toISOString(),
        operator: operator(),
        host: hostname(),
        tool_version: toolVersion(),
        plan_sha256: null,
        files: { [`${path.basename(opened.dir)}/manifest-sha256.txt`]: manifest },
        counts: Object.fromEntries([...counts].map(([k, v]) => [k, { read: v.rows, loaded: v.loaded, filtered: v.skipped, duplicates_dropped: 0, rejected: 0 }])),
        message,
      });
      try {
        await store.load({ model, stagingFile: path.join(scratch, 'staging.sqlite'), entities: loads, entry: entry('succeeded', null), signal: opts.signal });
      } catch (e) {
        await store.recordRun(entry('failed', e instanceof Error ? e.message : String(e))).catch(() => {});
        throw e;
      }
      return {
        bundle: opened.display,
        target: store.display,
        run_id: runId,
        load: mode,
        tables: entities.map((e) => ({ name: e.name, rows: counts.get(e.name)!.rows, loaded: counts.get(e.name)!.loaded, already_in_target: counts.get(e.name)!.skipped })),
        rows_total: [...counts.values()].reduce((s, c) => s + c.loaded, 0),
        manifest_sha256: manifest,
      };
    } finally {
      await store.close();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    opened.cleanup();
  }
}

/**
 * A bundle of some tables (export --tables, a purge's archive) names no reference to a table it
 * does not hold, yet the target may hold that table: where the target already has the table with
 * the same columns, the references it records are kept, so appending the bundle never loses them
 * from the target's description (forklift_tables).
 */
export function withTargetReferences(e: Entity, target: Entity | undefined): Entity {
  if (!target) return e;
  const same = target.columns.length === e.columns.length && e.columns.every((c, i) => target.columns[i]!.name === c.name && target.columns[i]!.type === c.type);
  if (!same) return e;
  return { ...e, columns: e.columns.map((c, i) => (c.references || !target.columns[i]!.references ? c : { ...c, references: target.columns[i]!.references! })) };
}

function refuse(v: VerifyResult): never {
  const first = v.problems[0] ?? (v.forklift_bundle ? 'it does not verify' : 'it has no data/datapackage.json, so it is not a forklift bundle');
  throw new BundleError(`${v.bundle} does not verify, so nothing was imported: ${first}`, {
    code: 'bundle.invalid',
    hint: `Run forklift bundle verify ${v.bundle} to see every problem (${v.problem_count || 1}).`,
    details: v.problems.slice(1, 10),
  });
}

function chooseTables(all: Entity[], wanted: string[] | undefined): Entity[] {
  if (!wanted?.length) return all;
  const names = new Set(all.map((e) => e.name));
  const unknown = wanted.filter((t) => !names.has(t));
  if (unknown.length) throw new ConfigError(`--tables: ${unknown.join(', ')} not in the bundle`, { code: 'import.unknown-table', hint: `Tables in the bundle: ${[...names].join(', ')}.` });
  return all.filter((e) => wanted.includes(e.name));
}
