import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { BugError, BundleError, ConfigError, InterruptedError, StoreError } from '../core/errors.js';
import { settlesWithin, untilAborted } from '../util/abort.js';
import { loopTurns } from '../util/loop-turn.js';
import { dependencyOrder, type Entity, type Model } from '../model/types.js';
import { committedCounts } from '../run/ledger.js';
import { newRunId } from '../run/run-id.js';
import { Staging, stagingTable } from '../run/staging.js';
import { openStore } from '../stores/index.js';
import type { WriteProgress } from '../stores/read-sqlite.js';
import { SqliteStore } from '../stores/sqlite.js';
import { IMPORTED_RUNS_ENTITY, RUNS_ENTITY } from '../stores/runs-entity.js';
import type { EntityLoad, LoadMode, RunEntry, TargetStore } from '../stores/types.js';
import { checkLedgerWriter, commandEntry, noteLedgerHead } from '../audit/entry.js';
import { safeBagPath } from './bagit.js';
import { readBundleCsv } from './csv.js';
import { rowDecoder, useWal, writeScratchRowsInThread } from './scratch-import.js';
import { readDataPackage } from './datapackage-read.js';
import { tableFiles } from './layout.js';
import { openBundle, type VerifyResult } from './verify.js';
import { verifyInThread } from './verify-thread.js';
import { dropWork, scratchDir } from '../util/work-path.js';
import { firstPaddedKeyPair, type StagedKey } from '../validate/keys.js';
import { refuseCascadingReplace } from '../stores/replace-guard.js';

/** How long an interrupted import waits for the target to take its `failed` entry, and to close. */
const INTERRUPTED_TARGET_MS = 3000;

export interface ImportOptions {
  bundle: string;
  target: string;
  /** append (default: a key already in the target fails the import, nothing committed), replace or upsert. */
  load?: Exclude<LoadMode, 'incremental'> | undefined;
  tables?: string[] | undefined;
  progress?: (p: { stage: 'verify' | 'stage' | 'load'; table?: string; rows: number }) => void;
  signal?: AbortSignal | undefined;
  /** false: leave the bundle's forklift_runs out (for data only). */
  keepLedger?: boolean | undefined;
}

export interface ImportResult {
  bundle: string;
  target: string;
  run_id: string;
  load: string;
  tables: { name: string; rows: number; loaded: number; already_in_target: number }[];
  rows_total: number;
  manifest_sha256: string;
  /** The bundle's ledger: kept in forklift_imported_runs, and its chain head (null: from before the chain). */
  ledger?: { kept_in: string; chained: boolean; head: string | null };
  /** The target's own audit chain head after this import's entry (SPEC section 9), as a run report's ledger_head: keep it to pin the target's ledger. */
  ledger_head: string | null;
}

/**
 * `forklift bundle import`: verifies the bundle whole (a bundle that does not verify is refused),
 * stages its CSVs in a scratch SQLite file with the types datapackage.json states, and loads them
 * through the store's own load path: one transaction, tables created with the dialect's exact
 * types, the import recorded in the target's ledger. The bundle's own forklift_runs (the source's
 * audit chain, verified with the bundle) is kept in forklift_imported_runs under this import's id,
 * and its head recorded in the import's entry: the history travels, and neither chain is mixed
 * into the other, so the target's own chain still verifies.
 */
export async function importBundle(opts: ImportOptions): Promise<ImportResult> {
  // A bad FORKLIFT_SIGNING_KEY or FORKLIFT_OPERATOR fails here (exit 2), before any work.
  checkLedgerWriter();
  const opened = await openBundle(opts.bundle);
  const started = new Date();
  const runId = newRunId(started);
  const scratch = scratchDir('forklift-import-', 'bundle import');
  // The verify runs in a thread of its own while this one stages the CSVs in a scratch file; the
  // target is touched only once the verify passed.
  const stopVerify = new AbortController();
  const verifySignal = opts.signal ? AbortSignal.any([opts.signal, stopVerify.signal]) : stopVerify.signal;
  const verifying = verifyInThread(opened.dir, opened.display, { signal: verifySignal, progress: (p) => opts.progress?.({ stage: 'verify', table: p.table, rows: p.rows }) });
  const verdict = async (): Promise<VerifyResult & { entities: Entity[] }> => {
    const v = await verifying;
    if (!v.valid || !v.entities) refuse(v);
    return v as VerifyResult & { entities: Entity[] };
  };
  verifying.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
  const signal = opts.signal;
  let stage: 'verify' | 'staging' | 'load' = 'verify';
  try {
    opts.progress?.({ stage: 'verify', rows: 0 });
    const manifest = manifestSha256(opened.dir);
    const store = await openStore(opts.target);
    // Every attempt is on record (SPEC section 9), a refused bundle included: the target's tables
    // stay as they were, and its ledger says an import was tried, with what, and why it failed.
    const counts = new Map<string, { rows: number; loaded: number; skipped: number }>();
    let ledgerNote: ImportResult['ledger'];
    const entry = (status: RunEntry['status'], message: string | null): RunEntry =>
      commandEntry({
        id: runId,
        command: 'import',
        status,
        started,
        files: manifest === null ? {} : { [`${path.basename(opened.dir)}/manifest-sha256.txt`]: manifest },
        counts: Object.fromEntries([...counts].map(([k, v]) => [k, committedCounts({ read: v.rows, loaded: v.loaded, filtered: v.skipped, duplicates_dropped: 0, rejected: 0, ...(k === RUNS_ENTITY.name ? ledgerNote : {}) }, status === 'succeeded')])),
        message,
      });
    let recorded = false;
    try {
      // What datapackage.json declares, read ahead of the verify's verdict (which also checks it).
      const declared = declaredEntities(opened.dir) ?? (await verdict()).entities;
      const entities = chooseTables(declared, opts.tables);
      if (opts.load === 'upsert') refuseKeylessUpsert(entities);
      // The bundle's ledger is another store's chain: kept beside this store's own (forklift_imported_runs,
      // one copy per import), never mixed into it, so both chains still verify.
      const bundleLedger = entities.find((e) => e.name === RUNS_ENTITY.name);
      const keepLedger = bundleLedger !== undefined && opts.keepLedger !== false;
      const targetOf = (name: string): string => (name === RUNS_ENTITY.name || name === IMPORTED_RUNS_ENTITY.name ? IMPORTED_RUNS_ENTITY.name : name);
      const staged = entities.filter((e) => e.name !== RUNS_ENTITY.name).map((e) => (e.name === IMPORTED_RUNS_ENTITY.name ? IMPORTED_RUNS_ENTITY : e));
      if (keepLedger && !staged.some((e) => e.name === IMPORTED_RUNS_ENTITY.name)) staged.push(IMPORTED_RUNS_ENTITY);
      // Reach the target before staging a million rows; copies an earlier import already kept are not added twice.
      const kept = (await untilAborted(store.hasTable(IMPORTED_RUNS_ENTITY.name), signal)) && staged.includes(IMPORTED_RUNS_ENTITY) ? await untilAborted(keptLedgerKeys(store), signal) : new Set<string>();
      const staging = new Staging(path.join(scratch, 'staging.sqlite'), { cacheMiB: 8 });
      let clash: PaddedKeyClash | null = null;
      stage = 'staging';
      const turn = loopTurns();
      try {
        for (const e of staged) staging.createEntity(e);
        for (const e of entities) {
          if (e.name === RUNS_ENTITY.name && !keepLedger) continue;
          opts.signal?.throwIfAborted();
          const target = staged.find((x) => x.name === targetOf(e.name))!;
          const file = safeBagPath(opened.dir, tableFiles(e.name).csv, { encoded: false })!;
          const c = { rows: 0, loaded: 0, skipped: 0 };
          const decodeRow = rowDecoder(e, target);
          const importIdPos = e.name === RUNS_ENTITY.name ? target.columns.findIndex((x) => x.name === 'import_id') : -1;
          const keyOf = target === IMPORTED_RUNS_ENTITY ? (v: unknown[]): string => `${String(v[0])}\u0000${String(v[1])}` : undefined;
          // The record's number, header 1, as bundle verify counts lines: a store's message names it.
          let line = 0;
          for await (const batch of readBundleCsv(file)) {
            await turn();
            signal?.throwIfAborted();
            for (const rec of batch) {
              // The header was checked by verify; every other record is a row.
              if (++line === 1) continue;
              c.rows++;
              const values = decodeRow(rec);
              if (importIdPos >= 0) values[importIdPos] = runId;
              if (keyOf && kept.has(keyOf(values))) {
                c.skipped++;
                continue;
              }
              staging.insertRow(target.name, line, values);
              c.loaded++;
            }
            opts.progress?.({ stage: 'stage', table: e.name, rows: c.rows });
          }
          counts.set(e.name, c);
        }
        for (const e of staged) staging.flushRows(e.name);
        // Keys the target would take for one: its refusal would name neither key nor line.
        if (store.keysIgnoreTrailingSpaces) clash = paddedKeyClash(staging, staged);
      } catch (e) {
        // A bundle that does not verify is refused for that reason, whatever staging tripped on.
        await verdict();
        throw e;
      } finally {
        staging.close();
      }
      stage = 'verify';
      const verified: VerifyResult = await verdict();
      if (manifest === null) throw new BugError(`${opened.display} verified without a manifest-sha256.txt`);
      if (JSON.stringify(verified.entities) !== JSON.stringify(declared)) {
        throw new BundleError(`${opened.display}: data/datapackage.json changed while it was imported`, { code: 'bundle.changed', hint: 'Import it again once nothing writes to the bundle.' });
      }
      if (clash) throw paddedKeyError(store, clash, entities.find((e) => targetOf(e.name) === clash.entity.name)?.name ?? clash.entity.name);

      const inTarget = new Map((await untilAborted(store.describeTables(), signal)).map((e) => [e.name, e]));
      const model: Model = { name: 'bundle', entities: new Map(staged.map((e) => [e.name, withTargetReferences(e, inTarget.get(e.name))])) };
      const order = dependencyOrder(model, staged.map((e) => e.name));
      const mode = opts.load ?? 'append';
      const loaded = (name: string): number => [...counts].filter(([k]) => targetOf(k) === name).reduce((n, [, c]) => n + c.loaded, 0);
      // A ledger is never replaced or upserted: copies of other chains are only ever added.
      const loads: EntityLoad[] = order.map((name) => ({ entity: model.entities.get(name)!, mode: name === IMPORTED_RUNS_ENTITY.name ? 'append' : mode, stagedTable: stagingTable(name), expected: loaded(name) }));
      ledgerNote = keepLedger ? { kept_in: IMPORTED_RUNS_ENTITY.name, chained: verified.ledger !== undefined, head: verified.ledger?.head ?? null } : undefined;
      opts.progress?.({ stage: 'load', rows: 0 });
      stage = 'load';
      // The load records its own entry when it commits; a load that fails records none. Never
      // raced against the signal: the store stops its statements, and only once its transaction
      // has ended may the import say nothing was committed.
      await refuseCascadingReplace(store, loads);
      await store.load({ model, stagingFile: path.join(scratch, 'staging.sqlite'), entities: loads, entry: entry('succeeded', null), signal: opts.signal });
      recorded = true;
      return {
        bundle: opened.display,
        target: store.display,
        run_id: runId,
        load: mode,
        tables: entities.filter((e) => counts.has(e.name)).map((e) => ({ name: e.name, rows: counts.get(e.name)!.rows, loaded: counts.get(e.name)!.loaded, already_in_target: counts.get(e.name)!.skipped })),
        rows_total: [...counts.values()].reduce((s, c) => s + c.loaded, 0),
        manifest_sha256: manifest,
        ...(ledgerNote ? { ledger: ledgerNote } : {}),
        ledger_head: store.ledgerHead ?? null,
      };
    } catch (e) {
      if (signal?.aborted && !recorded) {
        // Best effort, and not for long: the target may be what the user stopped waiting for.
        const err = new InterruptedError(`the import was interrupted during ${stage}; nothing was committed`, { code: 'import.interrupted', hint: 'Run the same command again: it loads everything.', cause: e });
        await settlesWithin(store.recordRun(entry('failed', err.message)).catch(() => {}), INTERRUPTED_TARGET_MS);
        throw err;
      }
      // A usage error (an unknown --tables name) is not an attempt: nothing was tried.
      if (!recorded && !(e instanceof ConfigError)) await store.recordRun(entry('failed', e instanceof Error ? e.message : String(e))).catch(() => {});
      noteLedgerHead(e, store);
      throw e;
    } finally {
      await (signal?.aborted ? settlesWithin(store.close(), INTERRUPTED_TARGET_MS) : store.close());
    }
  } finally {
    dropWork(scratch);
    stopVerify.abort(new Error('the import ended'));
    opened.cleanup();
  }
}

/** exit's re-import under way: the verify's answer to come, how far each table is written, and the rows written in the end. */
export interface ScratchImport {
  verifying: Promise<VerifyResult>;
  /** Resolves once more than `read` rows of `table` are committed, or the table is complete; rejects if the re-import failed. */
  after(table: string, read: number): Promise<WriteProgress>;
  /** The rows written per table, once every table is. */
  written: Promise<Record<string, number>>;
  /** Stops the writer if it still runs, and waits until it has. */
  stopWriting(): Promise<void>;
  /** Removes what opening the bundle unpacked, once the verify has answered. */
  cleanup(): void;
}

/**
 * exit's re-import of its bundle into a new scratch SQLite file (SPEC section 10), started and
 * left running: the verify in a thread of its own, the tables created here (the bundle's ledger
 * left out), the rows written in another thread with a commit every COMMIT_ROWS rows
 * (scratch-import.ts), so the caller compares the scratch store with the source while it is
 * written. Nothing here waits for the verify: the caller awaits `verifying`, and throws the
 * scratch file away unless it passes.
 */
export async function startScratchImport(opts: { bundle: string; file: string; signal?: AbortSignal | undefined; progress?: ((p: { stage: 'verify' | 'import'; table?: string; rows: number }) => void) | undefined }): Promise<ScratchImport> {
  const opened = await openBundle(opts.bundle);
  const verifying = verifyInThread(opened.dir, opened.display, { signal: opts.signal, progress: (p) => opts.progress?.({ stage: 'verify', table: p.table, rows: p.rows }) });
  verifying.catch(() => {}); // the caller awaits it
  try {
    const declared = declaredEntities(opened.dir);
    if (declared === null) {
      const v = await verifying;
      refuse(v.valid ? { ...v, valid: false, problems: ['data/datapackage.json cannot be read as a Data Package'], problem_count: 1 } : v);
    }
    const entities = declared.filter((e) => e.name !== RUNS_ENTITY.name);
    const model: Model = { name: 'bundle', entities: new Map(entities.map((e) => [e.name, e])) };
    const order = dependencyOrder(model, entities.map((e) => e.name)).map((n) => model.entities.get(n)!);
    const store = new SqliteStore(`sqlite:${opts.file}`);
    try {
      await store.createTables(model, order);
    } finally {
      await store.close();
    }
    useWal(opts.file);
    const progress = new Map<string, WriteProgress>();
    let failure: unknown;
    let waiters: (() => void)[] = [];
    const wake = (): void => {
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    };
    const stopWriter = new AbortController();
    const written = writeScratchRowsInThread(
      { dir: opened.dir, file: opts.file, entities: order },
      (table, rows, done) => {
        progress.set(table, { rows, done });
        opts.progress?.({ stage: 'import', table, rows });
        wake();
      },
      opts.signal ? AbortSignal.any([opts.signal, stopWriter.signal]) : stopWriter.signal,
    );
    written.catch((e: unknown) => {
      failure = e;
      wake();
    });
    return {
      verifying,
      written,
      async after(table, read) {
        for (;;) {
          if (failure !== undefined) throw failure;
          const p = progress.get(table);
          if (p && (p.rows > read || p.done)) return p;
          await new Promise<void>((r) => waiters.push(r));
        }
      },
      async stopWriting() {
        stopWriter.abort(new Error('the re-import was stopped'));
        await written.catch(() => {});
      },
      cleanup: () => void verifying.then(opened.cleanup, opened.cleanup),
    };
  } catch (e) {
    void verifying.then(opened.cleanup, opened.cleanup);
    throw e;
  }
}

/** Two rows of one staged table whose keys differ only in trailing spaces. */
interface PaddedKeyClash {
  entity: Entity;
  rows: [StagedKey, StagedKey];
}

/** The first table (in the bundle's order) with keys that differ only in trailing spaces, and two such rows. */
function paddedKeyClash(staging: Staging, entities: readonly Entity[]): PaddedKeyClash | null {
  for (const entity of entities) {
    const rows = firstPaddedKeyPair(staging.db, entity, () => staging.indexKeys(entity));
    if (rows) return { entity, rows };
  }
  return null;
}

/**
 * A store that compares keys without their trailing spaces (MySQL/MariaDB's PAD SPACE collations,
 * SQL Server) holds `A` and `A ` as one key: it would refuse the load with a duplicate key and name
 * neither row, whatever the load mode. migrate rejects such rows (validate/keys.ts); an import,
 * which loads a bundle whole or not at all, refuses before it writes.
 */
function paddedKeyError(store: TargetStore, clash: PaddedKeyClash, table: string): StoreError {
  const { entity, rows } = clash;
  const server = store.kind === 'mssql' ? 'SQL Server' : 'MySQL/MariaDB';
  const rel = tableFiles(table).csv;
  const key = (r: StagedKey): string => entity.primaryKey.map((c, i) => `${c} ${JSON.stringify(String(r.key[i]))}`).join(', ');
  return new StoreError(
    `${store.display}: ${entity.name}: the bundle's keys ${key(rows[0])} (${rel}:${rows[0].line}) and ${key(rows[1])} (${rel}:${rows[1].line}) differ only in trailing spaces, which ${server} compares as one key; nothing was loaded`,
    {
      code: 'import.padded-key',
      hint: `Import into a store that compares keys exactly (SQLite, PostgreSQL), or correct the key in the bundle's source (trim it) and export again.`,
    },
  );
}

/** SHA-256 of the bundle's manifest-sha256.txt; null where it has none (the verify says so). */
function manifestSha256(dir: string): string | null {
  try {
    return createHash('sha256').update(readFileSync(path.join(dir, 'manifest-sha256.txt'))).digest('hex');
  } catch {
    return null;
  }
}

/** The tables datapackage.json declares; null where it cannot be read as one (the verify says why). */
function declaredEntities(dir: string): Entity[] | null {
  const pkg = readDataPackage(path.join(dir, 'data', 'datapackage.json'));
  if (!pkg.ok || pkg.entities.some((e) => e.problems.length > 0)) return null;
  return pkg.entities.map((e) => e.entity);
}

/** (import_id, id) of the ledger copies a store already keeps. */
async function keptLedgerKeys(store: TargetStore): Promise<Set<string>> {
  const out = new Set<string>();
  const described = (await store.describeTables()).find((e) => e.name === IMPORTED_RUNS_ENTITY.name);
  if (!described) return out;
  const key = { ...IMPORTED_RUNS_ENTITY, columns: IMPORTED_RUNS_ENTITY.columns.slice(0, 2) };
  for await (const batch of store.readRows(key)) for (const r of batch) out.add(`${String(r[0])}\u0000${String(r[1])}`);
  return out;
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

/** An upsert matches rows by their key: a table without one (a custom table) cannot be upserted. */
function refuseKeylessUpsert(entities: readonly Entity[]): void {
  const keyless = entities.filter((e) => e.name !== RUNS_ENTITY.name && e.primaryKey.length === 0).map((e) => e.name);
  if (!keyless.length) return;
  throw new ConfigError(`--load upsert: ${keyless.join(', ')} ${keyless.length === 1 ? 'has' : 'have'} no primary key, so no row can be matched to update`, {
    code: 'import.upsert-without-key',
    hint: `Import with --load append or --load replace, or leave ${keyless.length === 1 ? 'that table' : 'those tables'} out with --tables.`,
  });
}
