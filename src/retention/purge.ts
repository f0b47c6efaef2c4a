import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeTagManifest } from '../bundle/bagit.js';
import { csvDecoder, readBundleCsv } from '../bundle/csv.js';
import { exportBundle, type ExportResult } from '../bundle/export.js';
import { checkBundleTarget } from '../bundle/target.js';
import { verifyBundleDir } from '../bundle/verify.js';
import { checkLedgerWriter, commandEntry, notOnRecord, noteLedgerHead } from '../audit/entry.js';
import { readStoreLedger } from '../audit/ledger.js';
import { BundleError, ConfigError, ForkliftError, StoreError } from '../core/errors.js';
import { isDiskFull, makeFolders } from '../util/folders.js';
import { heapGuard } from '../diff/diff.js';
import type { Entity, Model } from '../model/types.js';
import { newRunId } from '../run/run-id.js';
import { openStore } from '../stores/index.js';
import { RUNS_ENTITY } from '../stores/runs-entity.js';
import { modelReferences } from '../stores/delete-common.js';
import type { DeleteTable, DeleteTrigger, RunEntry, TargetStore } from '../stores/types.js';
import { databaseName } from '../stores/url.js';
import { DELETION_RECORD, deletionRecord, readDeletionRecord, sameSelection, type DeletionRecord } from './record.js';
import { asOfDay, type RetentionRule } from './rules.js';
import { claimWork, dropWork, sweepStaleWork, type SweptWork } from '../util/work-path.js';
import { Selection, type SelectedTable, type SelectionOptions } from './select.js';
import { checkTriggersAtDelete, triggerText } from './triggers.js';

export type PurgeStep = 'select' | 'archive' | 'verify' | 'compare' | 'delete';

export interface PurgeOptions {
  target: string;
  /** The archive bundle folder to create (or, on a rerun, the complete archive of the same purge). */
  archive?: string | undefined;
  rules: readonly RetentionRule[];
  /** Contract end: every row of every data table. */
  all?: boolean | undefined;
  /** With all: must equal the store's database name. */
  confirm?: string | undefined;
  /** YYYY-MM-DD; default today (UTC). */
  asOf?: string | undefined;
  dryRun?: boolean | undefined;
  /** DELETE triggers (or PostgreSQL rules) of purged tables the purge may set off, by name or table.name; any other is refused (triggers.ts). */
  allowTriggers?: readonly string[] | undefined;
  /** The plan's model: a row its references (a self reference, which the store has no FOREIGN KEY for) point at from a row that stays is kept. */
  model?: Model | undefined;
  planSha256?: string | null | undefined;
  progress?: (p: { step: PurgeStep; table?: string; rows?: number }) => void;
  signal?: AbortSignal | undefined;
  /** A full garbage collection between steps (cli/gc.ts): each step's garbage goes before the next one's peak. */
  collectGarbage?: (() => void) | undefined;
}

export interface PurgedTable {
  name: string;
  rule: string;
  cutoff: string | null;
  /** Rows the rules let go: archived, then deleted (with --dry-run: would be). */
  rows: number;
  deleted: number;
  kept_referenced: number;
  kept_unevaluable: number;
  kept_because: string[];
}

export interface PurgeResult {
  mode: 'retention' | 'all';
  dry_run: boolean;
  store: string;
  as_of: string;
  archive: string | null;
  run_id: string | null;
  tables: PurgedTable[];
  rows_total: number;
  deleted_total: number;
  manifest_sha256: string | null;
  /** A rerun that found the complete archive of the same purge and finished its delete. */
  resumed: boolean;
  /** A rerun that found the archive's rows already gone (the earlier run committed). */
  already_purged: boolean;
  /** Work left beside the archive folder by purges that were killed, removed before this one began. */
  swept: SweptWork[];
  /** The DELETE triggers and rules of purged tables that --allow-trigger let run (with --dry-run: would run), as `table.name (AFTER DELETE trigger)`. */
  triggers_allowed: string[];
  /** The store's audit chain head after this purge's entry (SPEC section 9); null when nothing was recorded (a dry run, an archive already purged). */
  ledger_head: string | null;
}

/** Errors of the file system while the archive is written: the archive failed, nothing was deleted. */
const WRITE_ERRORS = new Set(['ENOSPC', 'EACCES', 'EPERM', 'EROFS', 'EDQUOT', 'EIO', 'ENOTDIR', 'EISDIR', 'EEXIST', 'ENOENT', 'EMFILE']);

/**
 * `forklift purge` (SPEC section 11), archive first: the rows the rules let go are written as an
 * exit bundle (the export, restricted to them) into a work folder beside the archive folder, with
 * deletion-record.json as a tag file; the bundle is verified whole and renamed into place; only
 * then does ONE transaction delete exactly the archived rows (read back from the archive, each
 * deleted only where the store still holds every one of its values),
 * count every table again, and append the purge to the ledger. Until that commit the store is
 * untouched; after it the archive is complete. A rerun of the same command after a crash finds
 * the complete archive, checks that the store still holds exactly its rows (a fresh selection gives
 * the same CSV bytes) and finishes the delete, or finds them gone and says so.
 */
export async function purge(opts: PurgeOptions): Promise<PurgeResult> {
  // A bad FORKLIFT_SIGNING_KEY or FORKLIFT_OPERATOR fails here (exit 2), before anything is read or written.
  checkLedgerWriter();
  const started = new Date();
  // A full collection whenever the heap doubles (as diff does): the export and verify stream
  // millions of rows, and their garbage would otherwise pile up to the peak.
  const guard = opts.collectGarbage ? heapGuard(opts.collectGarbage) : undefined;
  if (guard) {
    const report = opts.progress;
    opts = {
      ...opts,
      progress: (p) => {
        guard();
        report?.(p);
      },
    };
  }
  const all = opts.all === true;
  const asOf = asOfDay(opts.asOf);
  // A dry run changes nothing, so it needs no confirmation (a wrong one is still refused).
  if (all && (!opts.dryRun || opts.confirm !== undefined)) checkConfirm(opts.target, opts.confirm);
  if (!opts.dryRun && !opts.archive) throw new ConfigError('--archive DIR is required: a purge always archives first', { code: 'purge.archive', hint: 'Give the folder to write the archive bundle to, such as --archive archive/purge-2026-11.' });
  const final = opts.archive ? path.resolve(opts.archive) : null;
  if (final) checkBundleTarget(final, { label: `--archive ${path.relative(process.cwd(), final) || final}`, code: 'purge.archive', folder: true });
  const store = await openStore(opts.target, { existing: true });
  try {
    if (!store.deleteRows) {
      throw new ConfigError(`${store.display}: purge is not supported on this store yet`, { code: 'purge.store', hint: 'Purge works on SQLite, PostgreSQL and MySQL/MariaDB.' });
    }
    opts.progress?.({ step: 'select' });
    const selOpts = { rules: opts.rules, asOf, all, allowTriggers: opts.allowTriggers, model: opts.model, signal: opts.signal };
    // A dry run changes nothing, not even what killed purges left.
    const swept = opts.dryRun ? [] : sweepStaleWork(path.dirname(final!), `${path.basename(final!)}.`);
    const base = { mode: all ? ('all' as const) : ('retention' as const), store: store.display, as_of: asOf.toISODate()!, resumed: false, already_purged: false, swept, ledger_head: null, triggers_allowed: [] as string[] };
    if (opts.dryRun) {
      const sel = await Selection.plan(store, selOpts);
      try {
        await sel.count(store, { signal: opts.signal, progress: (p) => opts.progress?.({ step: 'select', ...p }) });
        return { ...base, triggers_allowed: sel.triggers.map(triggerText), dry_run: true, archive: null, run_id: null, ...totals(sel.tables.map((t) => purgedTable(t, 0))), manifest_sha256: null };
      } finally {
        sel.close();
      }
    }

    const archive = final!;
    const shown = path.relative(process.cwd(), archive) || archive;
    const runId = newRunId(started);
    const entry = (status: RunEntry['status'], tables: PurgedTable[], manifest: string | null, message: string | null): RunEntry =>
      commandEntry({
        id: runId,
        command: 'purge',
        status,
        started,
        plan_sha256: opts.planSha256 ?? null,
        files: manifest ? { [`${path.basename(archive)}/manifest-sha256.txt`]: manifest } : {},
        counts: Object.fromEntries(tables.map((t) => [t.name, { archived: t.rows, deleted: t.deleted, kept_referenced: t.kept_referenced, kept_unevaluable: t.kept_unevaluable, rule: t.rule, cutoff: t.cutoff }])),
        message,
      });
    let tables: PurgedTable[] = [];
    let manifest: string | null = null;
    try {
      let resumed = false;
      let record: DeletionRecord;
      let triggers: DeleteTrigger[];
      if (existsSync(archive) && readdirSync(archive).length > 0) {
        // A rerun: the archive of this purge is there (an earlier run stopped before its delete committed, or after).
        const found = await resumeArchive(store, archive, shown, selOpts, base.mode, opts);
        record = found.record;
        manifest = found.manifest;
        triggers = found.triggers;
        tables = record.tables.map((t) => ({ ...t, deleted: 0 }));
        if (found.gone) {
          return { ...base, dry_run: false, archive: shown, run_id: null, ...totals(tables), manifest_sha256: manifest, already_purged: true };
        }
        resumed = true;
      } else {
        const written = await writeArchive(store, archive, selOpts, base, opts);
        record = written.record;
        manifest = written.manifest;
        triggers = written.triggers;
        tables = record.tables.map((t) => ({ ...t, deleted: 0 }));
      }

      opts.collectGarbage?.();
      opts.progress?.({ step: 'delete' });
      const byName = new Map(record.tables.map((t) => [t.name, t]));
      const described = await store.describeTables();
      const entities = described.filter((e) => byName.has(e.name));
      const order = record.tables.map((t) => {
        const e = entities.find((x) => x.name === t.name);
        if (!e) throw new BundleError(`${store.display} has no table ${t.name} any more, which the archive holds rows of; nothing was deleted`, { code: 'purge.table-gone' });
        return e;
      });
      const deletes: DeleteTable[] = order.map((entity) => ({ entity, expected: byName.get(entity.name)!.rows, rows: () => archivedRows(archive, entity) }));
      const done = tables.map((t) => ({ ...t, deleted: t.rows }));
      const allowed = triggers.map(triggerText);
      const notes = [...(resumed ? ['finished the delete of an earlier run whose archive was complete'] : []), ...(allowed.length ? [`let DELETE triggers run (--allow-trigger): ${allowed.join(', ')}`] : [])];
      const deleted = await store
        .deleteRows!({
          tables: deletes,
          entry: entry('succeeded', done, manifest, notes.length ? notes.join('; ') : null),
          checkTriggers: checkTriggersAtDelete(triggers, record.tables.map((t) => t.name), shown, store.display),
          references: opts.model ? modelReferences(opts.model, described) : undefined,
          signal: opts.signal,
        })
        .catch((e: unknown) => {
          throw deleteError(e, shown, store.display);
        });
      tables = tables.map((t) => ({ ...t, deleted: deleted.get(t.name) ?? 0 }));
      return { ...base, triggers_allowed: allowed, dry_run: false, archive: shown, run_id: runId, ...totals(tables), manifest_sha256: manifest, resumed, ledger_head: store.ledgerHead ?? null };
    } catch (e) {
      const reason = e instanceof Error && e.name === 'AbortError' ? 'interrupted' : e instanceof Error ? e.message : String(e);
      const onRecord =
        e instanceof ConfigError ||
        (await store.recordRun(entry('failed', tables, manifest, `purge failed, nothing was deleted: ${reason}`)).then(
          () => true,
          () => false,
        ));
      const thrown = e instanceof Error && e.name === 'AbortError' ? new BundleError('the purge was interrupted; nothing was deleted', { code: 'purge.interrupted', hint: 'Run the same command again: it finishes the work.', cause: e }) : e;
      noteLedgerHead(thrown, store);
      if (!onRecord && thrown instanceof ForkliftError) thrown.details.push(notOnRecord(store));
      throw thrown;
    }
  } finally {
    await store.close();
  }
}

function totals(tables: PurgedTable[]): { tables: PurgedTable[]; rows_total: number; deleted_total: number } {
  return { tables, rows_total: tables.reduce((s, t) => s + t.rows, 0), deleted_total: tables.reduce((s, t) => s + t.deleted, 0) };
}

function purgedTable(t: SelectedTable, deleted: number): PurgedTable {
  return { name: t.entity.name, rule: t.rule_text, cutoff: t.cutoff, rows: t.selected, deleted, kept_referenced: t.kept_referenced, kept_unevaluable: t.kept_unevaluable, kept_because: t.kept_because };
}

function checkConfirm(target: string, confirm: string | undefined): void {
  const name = databaseName(target);
  if (confirm === undefined) {
    throw new ConfigError(`purge --all empties every table: confirm with --confirm ${name}`, { code: 'purge.confirm', hint: `Repeat the store's database name: --confirm ${name}.` });
  }
  if (confirm !== name) {
    throw new ConfigError(`--confirm '${confirm}' is not the store's database name; nothing was deleted`, { code: 'purge.confirm', hint: `The database of this store is named ${name}: give --confirm ${name} if you mean to empty it.` });
  }
}

/**
 * Writes the archive: the selected rows exported into a work folder, the deletion record added as a
 * tag file, the whole bundle verified, and only then renamed into place.
 */
/** The purge's work folder beside the archive, its parents made as needed (makeFolders: never Node's recursive mkdir, which can loop for ever). */
function makeWorkFolder(work: string): void {
  makeFolders(path.dirname(work));
  mkdirSync(work);
}

async function writeArchive(
  store: TargetStore,
  archive: string,
  selOpts: SelectionOptions,
  base: { mode: 'retention' | 'all'; store: string; as_of: string },
  opts: PurgeOptions,
): Promise<{ record: DeletionRecord; manifest: string; triggers: DeleteTrigger[] }> {
  const work = `${archive}.purge-partial-${randomBytes(4).toString('hex')}`;
  const name = path.basename(archive);
  const dir = path.join(work, name);
  const sel = await Selection.plan(store, selOpts);
  try {
    opts.progress?.({ step: 'archive' });
    let exported: ExportResult;
    try {
      makeWorkFolder(work);
      claimWork(work, 'purge');
      exported = await exportSelection(sel, dir, opts, base);
    } catch (e) {
      throw archiveError(e, archive);
    }
    const record = deletionRecord({ ...base, tables: sel.tables.map((t) => purgedTable(t, 0)) });
    try {
      writeFileSync(path.join(dir, DELETION_RECORD), `${JSON.stringify(record, null, 2)}\n`);
      await writeTagManifest(dir, { signal: opts.signal });
    } catch (e) {
      throw archiveError(e, archive);
    }
    opts.collectGarbage?.();
    opts.progress?.({ step: 'verify' });
    const v = await verifyBundleDir(dir, name, { signal: opts.signal, progress: (p) => opts.progress?.({ step: 'verify', ...p }) });
    if (!v.valid) {
      throw new BundleError(`the archive does not verify, so nothing was deleted: ${v.problems[0] ?? 'see the problems'}`, { code: 'purge.verify', details: v.problems.slice(1, 10) });
    }
    const manifest = createHash('sha256').update(readFileSync(path.join(dir, 'manifest-sha256.txt'))).digest('hex');
    if (exported.manifest_sha256 !== manifest) throw new BundleError('the archive changed while it was verified; nothing was deleted', { code: 'purge.verify' });
    try {
      if (existsSync(archive)) rmdirSync(archive); // an empty folder given as the archive
      renameSync(dir, archive);
    } catch (e) {
      throw archiveError(e, archive);
    }
    return { record, manifest, triggers: sel.triggers };
  } finally {
    sel.close();
    removeWork(work);
  }
}

function exportSelection(sel: Selection, dir: string, opts: PurgeOptions, base: { mode: 'retention' | 'all'; as_of: string }): Promise<ExportResult> {
  const all = base.mode === 'all';
  return exportBundle({
    dir,
    source: opts.target,
    // Children first (the selection of a parent depends on its children's kept rows); contract end takes the ledger too.
    tables: [...sel.tables.map((t) => t.entity.name), ...(all && sel.described.some((e) => e.name === RUNS_ENTITY.name) ? [RUNS_ENTITY.name] : [])],
    rows: (e) => sel.rowsFor(e),
    // An archive of some rows references rows that stay in the store: its Data Package names no foreign keys.
    references: all,
    bagInfo: [
      ['Forklift-Purge', all ? `every row of every table (contract end), as of ${base.as_of}` : `retention, as of ${base.as_of}`],
      ['Forklift-Deletion-Record', DELETION_RECORD],
    ],
    signal: opts.signal,
    progress: (p) => opts.progress?.({ step: 'archive', ...p }),
    inWork: true,
  });
}

function archiveError(e: unknown, archive: string): unknown {
  if (e instanceof ForkliftError || !(e instanceof Error)) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (e.name === 'AbortError' || code === undefined || !WRITE_ERRORS.has(code)) return e;
  return new BundleError(`the archive could not be written at ${path.relative(process.cwd(), archive) || archive} (${code}: ${e.message}); nothing was deleted`, {
    code: 'purge.archive-write',
    hint: isDiskFull(e) ? 'Free space on that disk, or choose another archive folder, then run again.' : 'Choose an archive folder you may write to, then run again.',
    cause: e,
  });
}

/**
 * A rerun over an existing archive folder: it must be the complete, verified archive of the same
 * purge (same mode, store, rules and cut-offs). A fresh selection is exported beside it and compared
 * CSV by CSV: the same bytes mean the store still holds exactly the archived rows (finish the
 * delete); no rows at all mean an earlier run deleted them (recorded in the ledger); anything else
 * is refused.
 */
async function resumeArchive(
  store: TargetStore,
  archive: string,
  shown: string,
  selOpts: SelectionOptions,
  mode: 'retention' | 'all',
  opts: PurgeOptions,
): Promise<{ record: DeletionRecord; manifest: string; gone: boolean; triggers: DeleteTrigger[] }> {
  const record = readDeletionRecord(archive);
  if (!record) {
    throw new ConfigError(`${shown} already exists and is not the archive of a purge`, { code: 'purge.archive-exists', hint: 'Choose a new archive folder: a purge never writes into another folder.' });
  }
  opts.progress?.({ step: 'verify' });
  const v = await verifyBundleDir(archive, shown, { signal: opts.signal });
  if (!v.valid) throw new BundleError(`${shown} is an archive that does not verify, so nothing was deleted: ${v.problems[0] ?? ''}`, { code: 'purge.verify', details: v.problems.slice(1, 10) });
  const manifest = createHash('sha256').update(readFileSync(path.join(archive, 'manifest-sha256.txt'))).digest('hex');

  opts.progress?.({ step: 'compare' });
  const work = `${archive}.purge-partial-${randomBytes(4).toString('hex')}`;
  const sel = await Selection.plan(store, selOpts);
  try {
    const fresh = deletionRecord({ mode, store: store.display, as_of: selOpts.asOf.toISODate()!, tables: sel.tables.map((t) => purgedTable(t, 0)) });
    const differs = sameSelection(record, fresh);
    if (differs) {
      throw new ConfigError(`${shown} holds the archive of another purge (${differs}); nothing was deleted`, {
        code: 'purge.archive-exists',
        hint: `Run the purge with the rules and --as-of ${record.as_of} it was made with, or choose a new archive folder.`,
      });
    }
    makeWorkFolder(work);
    claimWork(work, 'purge');
    const now = await exportSelection(sel, path.join(work, path.basename(archive)), opts, { mode, as_of: record.as_of });
    const archived = new Map(record.tables.map((t) => [t.name, t]));
    const data = now.tables.filter((t) => archived.has(t.name));
    const pkg = JSON.parse(readFileSync(path.join(archive, 'data', 'datapackage.json'), 'utf8')) as { resources: { name: string; hash?: string }[] };
    const hashOf = new Map(pkg.resources.map((r) => [r.name, r.hash?.replace(/^sha256:/, '')]));
    if (data.every((t) => t.rows === 0) && record.tables.some((t) => t.rows > 0)) {
      const ledger = await readStoreLedger(store);
      const done = ledger.records.some((r) => r.command === 'purge' && r.status === 'succeeded' && (r.files ?? '').includes(manifest));
      if (done) return { record, manifest, gone: true, triggers: sel.triggers };
      throw new BundleError(`the rows archived in ${shown} are no longer in ${store.display}, and no purge in its ledger deleted them`, { code: 'purge.gone', hint: 'Check what deleted them (forklift audit log); the archive still holds them.' });
    }
    const changed = data.filter((t) => hashOf.get(t.name) !== t.csv_sha256).map((t) => t.name);
    if (changed.length) {
      throw new BundleError(`the rows the rules select now in ${changed.join(', ')} differ from those archived in ${shown}; nothing was deleted`, {
        code: 'purge.archive-differs',
        hint: 'The store changed since the archive was written: choose a new archive folder and run the purge again.',
      });
    }
    return { record, manifest, gone: false, triggers: sel.triggers };
  } finally {
    sel.close();
    removeWork(work);
  }
}

/**
 * A delete the store refused with an error of its own (a trigger that raises, a lock it could not
 * wait out): the transaction rolled back, so nothing was deleted, and the archive is complete and
 * stays; the same command, run again once the cause is gone, finishes the delete from it. The
 * purge's own refusals (purge.*) already say so.
 */
function deleteError(e: unknown, archive: string, display: string): unknown {
  if (!(e instanceof StoreError) || e.code.startsWith('purge.') || ['store.busy', 'store.interrupted', 'store.url'].includes(e.code)) return e;
  const reason = e.message.startsWith(`${display}: `) ? e.message.slice(display.length + 2) : e.message;
  return new StoreError(`the delete failed in ${display}: ${reason}; it was rolled back and nothing was deleted; the archive ${archive} is complete and stays`, {
    code: 'purge.delete',
    hint: 'If a trigger of a purged table refused it, disable that trigger while the purge runs (or leave it out of --allow-trigger); then run the same command again: it finishes the delete from the archive.',
    cause: e,
  });
}

/** Removes a work folder; one that could never be made (its parent is not a folder) is no error. */
function removeWork(work: string): void {
  try {
    dropWork(work);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOTDIR') throw e;
  }
}

/** A table's archived rows, every column of the table in its order, from the archive's CSV, in batches (staging form). */
async function* archivedRows(archive: string, entity: Entity): AsyncGenerator<unknown[][]> {
  const decode = entity.columns.map((c) => csvDecoder(c));
  let pos: number[] | undefined;
  for await (const batch of readBundleCsv(path.join(archive, 'data', 'csv', `${entity.name}.csv`))) {
    const out: unknown[][] = [];
    for (const rec of batch) {
      if (!pos) {
        // The columns by name in the archive's own header.
        pos = entity.columns.map((c) => rec.indexOf(c.name));
        const missing = entity.columns.filter((_, k) => pos![k]! < 0).map((c) => c.name);
        if (missing.length) {
          throw new BundleError(`the archive's ${entity.name}.csv has no column ${missing.join(', ')}, which the table has; nothing was deleted`, {
            code: 'purge.columns',
            hint: 'The table changed since the archive was written: choose a new archive folder and run the purge again.',
          });
        }
        continue;
      }
      out.push(pos.map((i, k) => decode[k]!(rec[i] ?? '', rec[i] === '')));
    }
    if (out.length) yield out;
  }
}
