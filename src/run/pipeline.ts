import type { ExcelDateSystem } from '../sources/types.js';
import { newRunId } from './run-id.js';
import { checkLedgerWriter, commandEntry, notOnRecord } from '../audit/entry.js';
import { mkdirSync, rmdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, DataRejectedError, ExitCode, ForkliftError, InterruptedError } from '../core/errors.js';
import { toolVersion } from '../core/version.js';
import { dependencyOrder, type Column, type Entity } from '../model/types.js';
import { loadPlan, planRelativePath, providedColumns, type LoadedMapping, type LoadedPlan } from '../plan/load.js';
import { loadModeOf, watermarkOf } from '../plan/watermark.js';
import { openStore } from '../stores/index.js';
import { redactUrl, storeIdentity } from '../stores/url.js';
import type { HashedFile } from '../util/hash.js';
import { cancelOnAbort, settlesWithin, untilAborted } from '../util/abort.js';
import { loopTurn, loopTurns } from '../util/loop-turn.js';
import type { SweptWork } from '../util/work-path.js';
import type { EntityLoad, LoadMode, RunEntry, TargetStore } from '../stores/types.js';
import { checkBomCycles, type TargetBomLines } from '../validate/bom-graph.js';
import { checkControlTotals, type CheckResult } from '../validate/control-totals.js';
import { checkForeignKeys } from '../validate/foreign-keys.js';
import { checkDuplicateKeys, checkPaddedKeys, checkUniqueAgainstTarget, checkUniqueColumns, uniqueColumns } from '../validate/keys.js';
import { TARGET_CONSTRAINT_RULE, dryRunLoad, type CounterAdvance, type DryRunCounts, type DryRunResult } from './dry-run.js';
import { mapSource } from './extract.js';
import { assertBalanced, committedCounts, type EntityLedger } from './ledger.js';
import { profileEntity } from './profile.js';
import { keepAsWritten, writeRejectsFile } from './rejects.js';
import { rejectsTrend } from './history.js';
import { writeReports, type Follows, type RunReport } from './report.js';
import { Staging, stagingTable } from './staging.js';
import { ROW_BEHIND_WATERMARK, ROW_DUPLICATE, ROW_OK } from './row-state.js';
import { q } from '../util/sql-name.js';
import { applyWatermark, type WatermarkResult } from './watermark.js';
import { RAW_ROWS_FILE, STAGING_FILE, claimStaging, runFilesError, removeIfEmpty, sweepStaleStaging } from './run-work.js';
import { refuseCascadingReplace } from '../stores/replace-guard.js';

export interface Progress {
  stage: 'extract' | 'validate' | 'load' | 'report';
  entity?: string;
  rows: number;
  rowsPerSecond: number;
}

export interface RunOptions {
  /** The plan file, or a plan already loaded (a rejects reload reshapes it: reload.ts). */
  plan: string | LoadedPlan;
  command: RunReport['command'];
  /** A rejects reload: the run it follows (report and ledger link to it; the reject limit counts against that run's rows). */
  follows?: Follows;
  target?: string | undefined;
  /** migrate: rehearse the load on the target and roll it back (SPEC section 12). */
  dryRun?: boolean;
  keepStaging?: boolean;
  log?: (message: string) => void;
  progress?: (p: Progress) => void;
  signal?: AbortSignal | undefined;
}

export interface RunResult extends RunReport {
  reportFile: string;
  htmlFile: string;
  /** Staging files that runs of this plan killed outright left in their run folders, removed before this run began. */
  swept: SweptWork[];
}

/** Where a run is: the stages of Progress, and reaching the target before them. */
type RunStage = 'connect' | Progress['stage'];

/**
 * How long an interrupted run waits for the target to take its `failed` ledger entry, and to
 * close: a target that hangs (the reason the user pressed Ctrl-C, perhaps) must not hold the run.
 */
const INTERRUPTED_TARGET_MS = 3000;

interface Extracted {
  mapping: LoadedMapping;
  entity: Entity;
  header: string[];
  label: string;
  positionKind: 'line' | 'row';
  excelDateSystem?: ExcelDateSystem | undefined;
  encoding?: string | undefined;
  sha256: string | null;
  /** The files the mapping read besides the source (values_file). */
  inputs: readonly HashedFile[];
  read: number;
  filtered: number;
  blank: number;
  watermark?: WatermarkResult;
}

/**
 * One run of a plan: extract and map every source into the staging file, apply the set rules in
 * dependency order, check reject limits and control totals, then (migrate) load everything in
 * one transaction. The report and rejects files are written whatever the outcome.
 */
export async function runPlan(opts: RunOptions): Promise<RunResult> {
  const started = new Date();
  // A bad FORKLIFT_SIGNING_KEY or FORKLIFT_OPERATOR fails here (exit 2), before the run folder or any work.
  if (opts.command !== 'validate') checkLedgerWriter();
  const plan = typeof opts.plan === 'string' ? loadPlan(opts.plan, { target: opts.target }) : opts.plan;
  const runId = newRunId(started);
  const runsDir = path.join(plan.dir, 'runs');
  const swept = sweepStaleStaging(runsDir);
  const runDir = path.join(runsDir, runId);
  const madeRunsFolder = makeRunFolder(runDir);
  const claim = claimStaging(runDir, opts.command);
  const staging = new Staging(path.join(runDir, STAGING_FILE));
  const rawFile = path.join(runDir, RAW_ROWS_FILE);
  const dryRun = opts.command === 'migrate' && opts.dryRun === true;
  const log = opts.log ?? (() => {});
  const signal = opts.signal;
  let store: TargetStore | undefined;
  let reached = false;
  let stage: RunStage = 'connect';
  // Whether a source gave rows: a source that cannot even connect is no attempt, one lost part-way is.
  let readRows = false;
  const progress = (p: Progress): void => {
    stage = p.stage;
    if (p.rows > 0) readRows = true;
    opts.progress?.(p);
  };
  // Between steps of synchronous SQLite work: the signal handler gets its turn, then is heard.
  const checkpoint = async (): Promise<void> => {
    if (!signal) return;
    await loopTurn();
    signal.throwIfAborted();
  };
  // A read of the target that waits (a table another session holds locked, a server that does not
  // answer): Ctrl-C cancels its statement on the server and stops waiting for it.
  const fromTarget = <T>(fn: () => Promise<T>): Promise<T> => untilAborted(cancelOnAbort(signal, () => store?.cancelStatements?.(), fn), signal);
  // Set once report.json is written: the run has an outcome, whatever comes after.
  let reported = false;
  let committed = false;
  // The interrupted load's `failed` entry is recorded with the run's counts where the load failed.
  let recorded = false;
  // The `failed` entry of a run that stopped before its load, with nothing counted.
  const failedEntry = (message: string): RunEntry => commandEntry({ id: runId, command: opts.command, status: 'failed', started, plan_sha256: plan.sha256, files: {}, counts: {}, message });
  // An interrupted dry run stays a dry run on record, not a failed migrate, which would read as a load that went wrong.
  const interruptedEntry = (message: string): RunEntry => (dryRun ? { ...failedEntry(message), status: 'dry-run' } : failedEntry(message));
  // A dry run's counters that its rehearsal moved for good, once it has rehearsed.
  let countersMoved: CounterAdvance[] | undefined;
  // report.json and report.html: written for every run that reached its target, whatever the outcome.
  const writeRunReport = (r: Pick<RunReport, 'status' | 'committed' | 'message' | 'entities' | 'checks'> & { timings: Record<string, number> }): { report: RunReport; files: { json: string; html: string } } => {
    const report: RunReport = {
      run_id: runId,
      command: opts.command,
      status: r.status,
      committed: r.committed,
      dry_run: dryRun,
      ...(countersMoved ? { counters_advanced: countersMoved } : {}),
      plan: plan.display,
      plan_name: plan.spec.name,
      plan_sha256: plan.sha256,
      follows: opts.follows ?? null,
      target: store?.display ?? redactUrl(plan.target),
      target_id: storeIdentity(plan.target),
      started: started.toISOString(),
      finished: new Date().toISOString(),
      duration_ms: Date.now() - started.getTime(),
      reject_limit: limitText(plan),
      entities: r.entities,
      checks: r.checks,
      message: r.message,
      ledger_head: store?.ledgerHead ?? null,
      run_dir: path.relative(process.cwd(), runDir) || '.',
      tool_version: toolVersion(),
      timings_ms: r.timings,
      trend: [],
    };
    report.trend = rejectsTrend(runsDir, report);
    const files = writeReports(runDir, report);
    reported = true;
    return { report, files };
  };
  try {
    store = await openStore(plan.target);
    // Reach the target before reading a million rows: an unreachable server fails in a second.
    const target = store;
    await fromTarget(() => target.hasTable('forklift_runs'));
    reached = true;
    // The target's tables as they are, read once when an entity first needs them (validation changes none).
    let described: Promise<Entity[]> | undefined;
    const paddedTarget = store.keysIgnoreTrailingSpaces ? (store.kind === 'mssql' ? 'SQL Server' : 'MySQL/MariaDB') : undefined;
    stage = 'extract';
    const extracted = await extractAll(plan, staging, rawFile, { ...opts, progress });
    // From here the rows are checked, against the target's too.
    stage = 'validate';
    staging.attachRawRows(rawFile);
    const byEntity = new Map(extracted.map((x) => [x.entity.name, x]));
    const inRun = (e: string): boolean => byEntity.has(e);
    const modeOf = (m: LoadedMapping): LoadMode => loadModeOf(m, plan.spec.load);

    // Rows already in the target count for foreign keys to entities this run does not replace.
    // entity -> referenced column -> the staging table holding the target's values of it
    const existing = new Map<string, Map<string, string>>();
    for (const e of plan.model.entities.values()) {
      const x = byEntity.get(e.name);
      if (x && modeOf(x.mapping) === 'replace') continue;
      if (!(await fromTarget(() => target.hasTable(e.name)))) continue;
      const referenced = [...byEntity.values()].some((y) => y.entity.columns.some((c) => c.references?.entity === e.name));
      if (!referenced) continue;
      existing.set(e.name, await fromTarget(() => copyTargetKeys(target, staging, plan, e, signal)));
    }
    // The target's own BOM lines count for cycles where this run adds to them (SPEC section 3:
    // no cycle through any number of levels); replace empties the table, so only the run's count.
    const targetBoms = new Map<string, TargetBomLines>();
    for (const x of byEntity.values()) {
      const rule = x.entity.rules.find((r) => r.kind === 'bom-graph');
      const mode = modeOf(x.mapping);
      if (!rule || mode === 'replace' || !(await fromTarget(() => target.hasTable(x.entity.name)))) continue;
      targetBoms.set(x.entity.name, { table: await fromTarget(() => copyTargetBomLines(target, staging, x.entity, rule.parent, rule.component, signal)), replacedByKey: mode === 'upsert' });
    }

    const timings: Record<string, number> = {};
    let mark = Date.now();
    const lap = (stage: string): void => {
      const now = Date.now();
      timings[stage] = now - mark;
      mark = now;
    };
    timings.extract = mark - started.getTime();
    progress({ stage: 'validate', rows: 0, rowsPerSecond: 0 });
    for (const name of dependencyOrder(plan.model, [...byEntity.keys()])) {
      const x = byEntity.get(name)!;
      const { watermark } = watermarkOf(x.mapping, x.entity, modeOf(x.mapping));
      if (watermark) x.watermark = await fromTarget(() => applyWatermark(target, staging, x.entity, watermark));
      await checkpoint();
      staging.indexKeys(x.entity);
      await checkpoint();
      checkDuplicateKeys(staging, x.entity, x.mapping.spec.on_duplicate ?? 'reject', x.label);
      await checkpoint();
      if (paddedTarget) checkPaddedKeys(staging, x.entity, x.label, paddedTarget);
      checkUniqueColumns(staging, x.entity, x.label, paddedTarget);
      const mode = modeOf(x.mapping);
      const uniques = uniqueColumns(x.entity);
      if (uniques.length && mode !== 'replace' && (await fromTarget(() => target.hasTable(x.entity.name)))) {
        const provided = providedColumns(x.mapping, x.entity);
        // A table that lacks a column is refused by the load's shape check, with its own message.
        const table = (await fromTarget(() => (described ??= target.describeTables()))).find((e) => e.name === x.entity.name);
        const has = (n: string): boolean => table?.columns.some((c) => c.name === n) ?? false;
        for (const c of uniques) {
          if (!has(c.name) || !x.entity.primaryKey.every(has)) continue;
          const held = await fromTarget(() => copyTargetUniques(target, staging, x.entity, c, signal));
          checkUniqueAgainstTarget(staging, x.entity, c, held, { sourceLabel: x.label, upsertSets: mode === 'upsert' && provided.includes(c.name), paddedTarget });
        }
      }
      await checkpoint();
      checkForeignKeys(staging, x.entity, inRun, (e, column) => existing.get(e)?.get(column), (e) => byEntity.get(e)?.label ?? e, (e) => plan.model.entities.get(e));
      await checkpoint();
      for (const rule of x.entity.rules) if (rule.kind === 'bom-graph') checkBomCycles(staging, x.entity, rule.parent, rule.component, targetBoms.get(name));
      await checkpoint();
    }

    // `accepted`: the rows each entity loads, where the ledger has counted them already (a scan of
    // the staged rows less: 0.27 s of a 1M-row load).
    const loadsOf = (accepted?: (entity: string) => number): EntityLoad[] =>
      dependencyOrder(plan.model, [...byEntity.keys()]).map((name) => {
        const x = byEntity.get(name)!;
        return { entity: x.entity, mode: modeOf(x.mapping), stagedTable: stagingTable(name), expected: accepted?.(name) ?? staging.count(name, ROW_OK), provided: providedColumns(x.mapping, x.entity) };
      });
    // The run's ledger entry, with its counts per entity.
    const runEntry = (status: RunEntry['status'], ledgers: readonly EntityLedger[], message: string | null): RunEntry =>
      commandEntry({
        id: runId,
        command: opts.command,
        status,
        started,
        plan_sha256: plan.sha256,
        files: filesRead(plan, extracted),
        counts: {
          ...Object.fromEntries(ledgers.map((l) => [l.entity, committedCounts({ read: l.read, loaded: l.loaded, filtered: l.filtered, duplicates_dropped: l.duplicates_dropped, rejected: l.rejected, ...(l.dry_run ? { dry_run: l.dry_run } : {}) }, status === 'succeeded')])),
          ...(opts.follows ? { follows: opts.follows.run_id } : {}),
        },
        message,
      });
    let rehearsal: DryRunResult | undefined;
    if (dryRun) {
      lap('validate');
      progress({ stage: 'load', rows: 0, rowsPerSecond: 0 });
      try {
        const loads = loadsOf();
        await refuseCascadingReplace(store, loads);
        rehearsal = await dryRunLoad({ store, staging, model: plan.model, loads, runId, signal });
        countersMoved = rehearsal.counters_advanced;
        // A store that heard the signal only as its rehearsal ended: the run stops here all the same.
        signal?.throwIfAborted();
      } catch (e) {
        if (!signal?.aborted) throw e;
        // Interrupted while rehearsing, as a migrate is while loading: the attempt on record and
        // a report of what the run counted, without rejects files (their rows were not all judged).
        const err = interruptedError(opts.command, 'load', e, true);
        const ledgers = extracted.map((x) => ledgerOf(staging, x, undefined));
        const entities = entityReports(ledgers, extracted.map((x) => profileEntity(staging, x.entity, x.positionKind)), extracted);
        staging.close();
        if (!opts.keepStaging) removeStaging(staging.file, rawFile);
        recorded = true;
        await recordFailed(store, runEntry('dry-run', ledgers, err.message));
        lap('dry_run');
        const { files } = writeRunReport({ status: 'failed', committed: false, message: err.message, entities, checks: [], timings });
        log(`run ${runId}: failed`);
        err.details.push(failedReportLine(files.html));
        throw err;
      }
      lap('dry_run');
    }

    const checks = checkControlTotals(staging, plan.spec.checks ?? [], inRun, plan.model);
    lap(dryRun ? 'checks' : 'validate');
    await checkpoint();
    const ledgers = extracted.map((x) => ledgerOf(staging, x, rehearsal?.entities.get(x.entity.name)));
    const refused = ledgers.reduce((n, l) => n + (l.dry_run?.refused ?? 0), 0);
    const profiles = extracted.map((x) => profileEntity(staging, x.entity, x.positionKind));
    await checkpoint();
    // A reload's share is of the source rows of the run it follows, or of the rows it read where a
    // fixed rejects file holds more rows than that run read (rows added to it): never over 100%.
    const limitBase = (l: EntityLedger): number => Math.max(opts.follows?.read[l.entity] ?? 0, l.read);
    const overLimit = ledgers.filter((l) => overRejectLimit(plan, l, limitBase(l)));
    const failedChecks = checks.filter((c) => !c.ok);
    const rejectedRun = overLimit.length > 0 || failedChecks.length > 0;

    let status: RunEntry['status'] = dryRun ? 'dry-run' : opts.command === 'validate' ? 'validated' : 'succeeded';
    let message: string | null = null;
    if (rejectedRun || refused > 0) {
      if (!dryRun) status = 'rejected';
      message = [
        ...overLimit.map((l) => {
          const of = limitBase(l);
          return `${l.entity}: ${l.rejected} of ${of} rows rejected (${pct(l.rejected, of)}), over the reject_limit of ${limitText(plan)}`;
        }),
        ...failedChecks.map((c) => `${c.entity}: control total ${c.measure} is ${c.actual}, the plan expects ${c.expected}`),
        ...ledgers.filter((l) => l.dry_run?.refused).map((l) => `${l.entity}: the target refuses ${l.dry_run!.refused} row${l.dry_run!.refused === 1 ? '' : 's'} (${TARGET_CONSTRAINT_RULE})`),
      ].join('; ');
    }
    staging.commit();

    const entry = (): RunEntry => runEntry(status, ledgers, message);

    // A load the store refuses still leaves its run on record: report, rejects files, ledger entry.
    let loadError: unknown;
    const writes = opts.command !== 'validate';
    if (writes && !rejectedRun && !dryRun) {
      progress({ stage: 'load', rows: 0, rowsPerSecond: 0 });
      const loads = loadsOf((name) => ledgers.find((l) => l.entity === name)!.loaded);
      staging.close();
      try {
        // Never raced against the signal: the store stops its own statements when it aborts, and
        // only once its transaction has really ended may the run say nothing was committed.
        await refuseCascadingReplace(store, loads);
        await store.load({ model: plan.model, stagingFile: staging.file, entities: loads, entry: entry(), signal });
        committed = true;
      } catch (e) {
        status = 'failed';
        recorded = true;
        if (signal?.aborted) {
          loadError = interruptedError(opts.command, 'load', e);
          message = (loadError as Error).message;
          await recordFailed(store, entry());
        } else {
          message = e instanceof Error ? e.message : String(e);
          loadError = e;
          // A target that refuses the entry too (a SQLite file another program still holds locked)
          // keeps no record of this attempt: the report and the error say so.
          const onRecord = await store.recordRun(entry()).then(
            () => true,
            () => false,
          );
          if (!onRecord) {
            const unrecorded = notOnRecord(store);
            message = `${message} (${unrecorded})`;
            if (e instanceof ForkliftError) e.details.push(unrecorded);
          }
        }
      }
    } else if (writes) {
      recorded = true;
      await store.recordRun(entry());
    }

    lap('load');
    progress({ stage: 'report', rows: 0, rowsPerSecond: 0 });
    const reopened = staging.db.open ? staging : new Staging(staging.file, { reopen: true });
    try {
      // An interrupted load stops here: its report says what it counted, without the rejects files.
      for (const x of status === 'failed' && signal?.aborted ? [] : extracted) {
        const l = ledgers.find((y) => y.entity === x.entity.name)!;
        if (l.rejected > 0) {
          const file = path.join(runDir, 'rejects', `${x.entity.name}.csv`);
          await writeRejectsFile(reopened, x.entity.name, x.header, x.label, x.positionKind, file);
          keepAsWritten(runDir, file);
          l.rejects_file = path.relative(plan.dir, file);
        }
      }
    } finally {
      reopened.close();
    }
    if (!opts.keepStaging) removeStaging(staging.file, rawFile);
    lap('report');

    const { report, files } = writeRunReport({
      status,
      committed,
      message,
      entities: entityReports(ledgers, profiles, extracted),
      checks,
      timings,
    });
    log(`run ${runId}: ${status}`);
    if (loadError !== undefined) {
      if (loadError instanceof ForkliftError) loadError.details.push(failedReportLine(files.html));
      throw loadError;
    }
    if (rejectedRun || refused > 0) {
      const what = dryRun ? 'dry run: nothing was written, and migrate would commit nothing' : `nothing was ${writes ? 'committed' : 'accepted'}`;
      throw new DataRejectedError(`${what}: ${message}`, {
        code: 'data.rejected',
        hint: `See the rejects in ${path.relative(process.cwd(), path.join(runDir, 'rejects'))} and the report ${path.relative(process.cwd(), files.html)}.`,
        details: [],
        data: { ...report, reportFile: files.json, htmlFile: files.html, swept },
      });
    }
    return { ...report, reportFile: files.json, htmlFile: files.html, swept };
  } catch (thrown) {
    // A full or failing disk under the run folder (the staging files grow with the sources) is
    // the user's to fix, not a bug in forklift: said so, with where.
    const e = runFilesError(thrown, runDir);
    if (signal?.aborted && !reported && !committed) {
      // Interrupted before the load (a load interrupted has its report, above): nothing was
      // committed; the attempt goes on record where the command writes, if the target answers.
      staging.closeQuietly();
      if (!opts.keepStaging) removeStaging(staging.file, rawFile);
      if (reached && store && opts.command !== 'validate' && !recorded) {
        await recordFailed(store, interruptedEntry(interruptedMessage(stage, dryRun)));
      }
      claim.release();
      if (!reached) removeRunFolder(runDir, madeRunsFolder);
      else removeIfEmpty(runDir);
      throw interruptedError(opts.command, stage, e, dryRun);
    }
    // A failure once the target answered (a SQL source gone mid-extract, a full disk, a bug) is an
    // attempt like any other: it goes on record in the target's ledger (SPEC section 9) and has
    // its report, with what the run knew when it stopped. A plan, mapping or source the run cannot
    // use (exit 2) is no attempt, nor a source that cannot connect: the user fixes the file or the
    // URL, and nothing is left behind (below).
    const usage = e instanceof ForkliftError && e.exitCode === ExitCode.usage;
    const attempted = reached && !usage && (readRows || (stage !== 'connect' && stage !== 'extract'));
    if (attempted && !reported && !committed) {
      const message = `the run failed during ${stage}; nothing was committed: ${e instanceof Error ? e.message : String(e)}`;
      if (store && opts.command !== 'validate' && !recorded) {
        recorded = true;
        await recordFailed(store, failedEntry(message));
      }
      try {
        const { files } = writeRunReport({ status: 'failed', committed: false, message, entities: [], checks: [], timings: {} });
        if (e instanceof ForkliftError) e.details.push(failedReportLine(files.html));
      } catch {
        // The report is what failed (a full disk): the error that stopped the run is the one to show.
      }
    }
    // A target that cannot be reached, or a plan, mapping or source that cannot be read, stops
    // the run before anything happened: leave no run folder behind. Other failures keep theirs
    // (staging included) for inspection.
    if (!attempted) {
      staging.closeQuietly();
      removeRunFolder(runDir, madeRunsFolder);
    }
    throw e;
  } finally {
    // Never throws: a staging file that cannot be committed (a full disk) must not hide the run's
    // error, nor leave the target's connection open (its pool would keep the process alive).
    staging.closeQuietly();
    claim.release();
    // An interrupted run does not wait long for a target that hangs (its connections go with the process).
    if (store) await (signal?.aborted ? settlesWithin(store.close(), INTERRUPTED_TARGET_MS) : store.close());
  }
}

/**
 * A run that stopped before any work leaves nothing: its folder goes, and the runs folder too when
 * this run made it (a first try at an unreachable server). That one not recursively: another run
 * may have started in it meanwhile, and its folder is not ours.
 */
function removeRunFolder(runDir: string, madeRunsFolder: boolean): void {
  rmSync(runDir, { recursive: true, force: true });
  if (!madeRunsFolder) return;
  try {
    rmdirSync(path.dirname(runDir));
  } catch {
    // not empty: left as it is
  }
}

function removeStaging(stagingFile: string, rawFile: string): void {
  rmSync(stagingFile, { force: true });
  rmSync(rawFile, { force: true });
}

function failedReportLine(html: string): string {
  return `the run's report (status failed, nothing committed): ${path.relative(process.cwd(), html)}`;
}

function interruptedMessage(stage: RunStage, dryRun = false): string {
  return dryRun ? `the dry run was interrupted during ${stage}; nothing was written` : `the run was interrupted during ${stage}; nothing was committed`;
}

/**
 * `migrate.interrupted`, `validate.interrupted`, `reload.interrupted`: exit 1; the same command
 * again does all the work. A dry run loads nothing, so its hint does not promise a load.
 */
function interruptedError(command: RunReport['command'], stage: RunStage, cause: unknown, dryRun = false): InterruptedError {
  const code = `${command === 'rejects reload' ? 'reload' : command}.interrupted`;
  const hint = command === 'validate' ? 'Run the same command again.' : dryRun ? 'Run the same command again: it rehearses the whole load, and still writes nothing.' : 'Run the same command again: it loads everything.';
  return new InterruptedError(interruptedMessage(stage, dryRun), { code, hint, cause });
}

/** The `failed` entry of an interrupted run, best effort: a target that does not take it in time is left. */
async function recordFailed(store: TargetStore, entry: RunEntry): Promise<void> {
  await settlesWithin(store.recordRun(entry).catch(() => {}), INTERRUPTED_TARGET_MS);
}

async function extractAll(plan: LoadedPlan, staging: Staging, rawFile: string, opts: RunOptions): Promise<Extracted[]> {
  const out: Extracted[] = [];
  for (const m of plan.mappings) {
    const entity = plan.model.entities.get(m.spec.entity)!;
    const source = await mapSource(m, entity, { rawFile, plan: plan.file, target: opts.target, signal: opts.signal });
    try {
      staging.createEntity(entity);
      let read = 0;
      let filtered = 0;
      const t0 = Date.now();
      // Batches that come at once (a thread far ahead) would otherwise stage the whole source before Ctrl-C is heard.
      const turn = loopTurns();
      for await (const batch of source.batches(opts.signal)) {
        await turn();
        opts.signal?.throwIfAborted();
        read += batch.read;
        filtered += batch.filtered;
        for (let k = 0; k < batch.okLines.length; k++) staging.insertRow(entity.name, batch.okLines[k]!, batch.okValues[k]!);
        for (const r of batch.rejects) staging.reject({ entity: entity.name, ...r });
        const secs = (Date.now() - t0) / 1000;
        opts.progress?.({ stage: 'extract', entity: entity.name, rows: read, rowsPerSecond: secs > 0 ? read / secs : 0 });
      }
      staging.flushRows(entity.name);
      out.push({
        mapping: m,
        entity,
        header: source.header,
        label: source.label,
        positionKind: source.positionKind,
        excelDateSystem: source.excelDateSystem,
        encoding: source.encoding,
        sha256: source.sha256,
        inputs: source.inputs,
        read,
        filtered,
        blank: source.skippedBlank,
      });
    } finally {
      await source.close();
    }
  }
  return out;
}

/**
 * Every file the run read, by its path relative to the plan's folder (planRelativePath), with its
 * SHA-256 (SPEC section 9): the model file, each mapping, what it read besides its source
 * (values_file), and the source (a SQL source by its label). The plan itself is plan_sha256. Two
 * runs that loaded different data differ here; two that read the same files from different
 * working directories do not. Entries written before keyed by the path as shown (relative to the
 * working directory) and stay as written: their entry_hash covers them.
 */
function filesRead(plan: LoadedPlan, extracted: readonly Extracted[]): Record<string, string> {
  const key = (file: string): string => planRelativePath(plan, file);
  const files: [string, string][] = plan.model.file ? [[key(plan.model.file.file), plan.model.file.sha256]] : [];
  for (const x of extracted) {
    files.push([key(x.mapping.file), x.mapping.sha256]);
    for (const f of x.inputs) files.push([key(f.file), f.sha256]);
    if (x.sha256) files.push([sourceKey(plan, x), x.sha256]);
  }
  return Object.fromEntries(files);
}

/** The source's key among the files read: its file (and sheet) as planRelativePath gives it; a reload's rejects file has no sheet. */
function sourceKey(plan: LoadedPlan, x: Extracted): string {
  const m = x.mapping;
  if (m.sourcePath === undefined) return x.label;
  const sheet = m.reread === undefined && m.spec.source.sheet ? `[${m.spec.source.sheet}]` : '';
  return planRelativePath(plan, m.sourcePath) + sheet;
}

/**
 * The report's entities. A workbook's date system goes with its rejects file: a reload reads its
 * serials so, and takes a date alone in a timestamp column (a date-time cell at midnight) as the
 * workbook did.
 */
function entityReports(ledgers: readonly EntityLedger[], profiles: readonly ReturnType<typeof profileEntity>[], extracted: readonly Extracted[]): RunReport['entities'] {
  return ledgers.map((l, i) => ({ ...l, ...profiles[i]!, source_columns: extracted[i]!.header, ...(extracted[i]!.excelDateSystem === undefined ? {} : { excel_date_system: extracted[i]!.excelDateSystem }) }));
}

function ledgerOf(staging: Staging, x: Extracted, dryRun: DryRunCounts | undefined): EntityLedger {
  const byRule = staging.db.prepare('SELECT rule, COUNT(*) AS n FROM rejects WHERE entity = ? GROUP BY rule ORDER BY n DESC').all(x.entity.name) as { rule: string; n: number }[];
  const counts = staging.counts(x.entity.name);
  const l: EntityLedger = {
    entity: x.entity.name,
    mapping: x.mapping.display,
    source: x.label,
    source_sha256: x.sha256,
    ...(x.encoding === undefined ? {} : { source_encoding: x.encoding }),
    read: x.read,
    loaded: counts[ROW_OK] ?? 0,
    filtered: x.filtered + (counts[ROW_BEHIND_WATERMARK] ?? 0),
    ...(x.watermark ? { watermark: x.watermark } : {}),
    duplicates_dropped: counts[ROW_DUPLICATE] ?? 0,
    rejected: staging.rejectCount(x.entity.name),
    blank_skipped: x.blank,
    rejects_by_rule: Object.fromEntries(byRule.map((r) => [r.rule, r.n])),
    rejects_file: null,
    ...(dryRun ? { dry_run: dryRun } : {}),
  };
  assertBalanced(l);
  return l;
}

async function copyTargetKeys(store: TargetStore, staging: Staging, plan: LoadedPlan, e: Entity, signal: AbortSignal | undefined): Promise<Map<string, string>> {
  // Every column of e that some entity references (items.item_code; a unique name besides the key), each in a table of its own.
  const cols = [...new Set(plan.model.entities.get(e.name)!.columns.filter((c) => [...plan.model.entities.values()].some((o) => o.columns.some((oc) => oc.references?.entity === e.name && oc.references.column === c.name))).map((c) => c.name))];
  const out = new Map<string, string>();
  for (const [i, col] of (cols.length ? cols : [e.primaryKey[0]!]).entries()) {
    const table = q(`t${i || ''}_${e.name}`);
    staging.db.exec(`CREATE TABLE ${table} (${q(col)})`);
    const ins = staging.db.prepare(`INSERT INTO ${table} VALUES (?)`);
    for await (const batch of store.readColumn(e.name, col)) {
      signal?.throwIfAborted();
      for (const v of batch) ins.run(v as string);
    }
    staging.db.exec(`CREATE INDEX ${q(`ti${i || ''}_${e.name}`)} ON ${table} (${q(col)})`);
    out.set(col, table);
  }
  return out;
}

/** The target's key columns and one unique column, where the column holds a value, streamed into the staging file. */
async function copyTargetUniques(store: TargetStore, staging: Staging, entity: Entity, column: Column, signal: AbortSignal | undefined): Promise<string> {
  const table = q(`tu_${entity.name}_${column.name}`);
  const names = [...new Set([...entity.primaryKey, column.name])];
  const narrow: Entity = { ...entity, columns: names.map((n) => entity.columns.find((c) => c.name === n)!), rules: [] };
  staging.db.exec(`CREATE TABLE ${table} (${names.map(q).join(', ')})`);
  const ins = staging.db.prepare(`INSERT INTO ${table} VALUES (${names.map(() => '?').join(', ')})`);
  const pos = names.indexOf(column.name);
  const many = staging.db.transaction((batch: unknown[][]) => {
    for (const r of batch) if (r[pos] !== null && r[pos] !== undefined) ins.run(...r);
  });
  for await (const batch of store.readRows(narrow, { signal })) many(batch);
  staging.db.exec(`CREATE INDEX ${q(`tui_${entity.name}_${column.name}`)} ON ${table} (${q(column.name)})`);
  return table;
}

/**
 * A BOM table's lines in the target (its key columns and the two item columns), streamed into the
 * staging file in batches: the cycle check reads from there only what can lie on a cycle.
 */
async function copyTargetBomLines(store: TargetStore, staging: Staging, entity: Entity, parentCol: string, componentCol: string, signal: AbortSignal | undefined): Promise<string> {
  const table = q(`tb_${entity.name}`);
  const names = [...new Set([...entity.primaryKey, parentCol, componentCol])];
  const narrow: Entity = { ...entity, columns: names.map((n) => entity.columns.find((c) => c.name === n)!), rules: [] };
  staging.db.exec(`CREATE TABLE ${table} (${names.map(q).join(', ')})`);
  const ins = staging.db.prepare(`INSERT INTO ${table} VALUES (${names.map(() => '?').join(', ')})`);
  const many = staging.db.transaction((batch: unknown[][]) => {
    for (const r of batch) ins.run(...r);
  });
  for await (const batch of store.readRows(narrow, { signal })) many(batch);
  return table;
}

/** `of`: the rows the limit is a share of (a reload's: see limitBase in runPlan). */
function overRejectLimit(plan: LoadedPlan, l: EntityLedger, of: number): boolean {
  if (l.rejected === 0) return false;
  const lim = plan.rejectLimit;
  return lim.kind === 'count' ? l.rejected > lim.value : (l.rejected * 100) / Math.max(of, 1) > lim.value;
}

function limitText(plan: LoadedPlan): string {
  return plan.rejectLimit.kind === 'percent' ? `${plan.rejectLimit.value}%` : `${plan.rejectLimit.value} rows`;
}

function pct(a: number, b: number): string {
  return `${((a * 100) / Math.max(b, 1)).toFixed(2)}%`;
}

export type { CheckResult };

/**
 * Makes the run's folder under runs/ beside the plan; true when the plan's runs folder did not
 * exist before. `runs` being a file, or a folder this user may not write, is said so.
 */
function makeRunFolder(runDir: string): boolean {
  try {
    const made = mkdirSync(path.join(runDir, 'rejects'), { recursive: true });
    // mkdirSync answers the first folder it made: the runs folder's own path when it made that too.
    return made !== undefined && path.resolve(made) === path.resolve(path.dirname(runDir));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    const runs = path.dirname(runDir);
    throw new ConfigError(`cannot make the run folder ${path.relative(process.cwd(), runDir) || runDir} (${code})`, {
      code: 'run.folder',
      hint: code === 'ENOTDIR' || code === 'EEXIST' ? `${path.relative(process.cwd(), runs) || runs} beside the plan must be a folder: move the file of that name away.` : `Check that ${path.relative(process.cwd(), runs) || runs} is a folder this user may write to.`,
      cause: e,
    });
  }
}
