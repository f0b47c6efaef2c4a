import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { operator } from '../core/operator.js';
import path from 'node:path';
import { formatBagProblem, validateBag, writeTagManifest } from '../bundle/bagit.js';
import { exportBundle, type ExportResult } from '../bundle/export.js';
import { tableFiles } from '../bundle/layout.js';
import { startScratchImport } from '../bundle/import.js';
import type { Profile } from '../bundle/profile.js';
import { SOURCE_URL } from '../bundle/source.js';
import type { VerifyResult } from '../bundle/verify.js';
import { checkBundleTarget, checkReplaceable, makeTargetParent, placeBundle } from '../bundle/target.js';
import { zipFolder } from '../bundle/zip.js';
import { bundleWriteError, claimDestination, claimWork, dropWork, scratchDir, sweepStaleWork, type SweptWork } from '../util/work-path.js';
import { BugError, BundleError, ConfigError, ForkliftError, StoreError } from '../core/errors.js';
import { toolVersion } from '../core/version.js';
import { diffOpened } from '../diff/diff.js';
import { openFollowingSnapshot, openSnapshot } from '../diff/snapshot.js';
import { newRunId } from '../run/run-id.js';
import { openStore } from '../stores/index.js';
import { RUNS_ENTITY } from '../stores/runs-entity.js';
import type { RunEntry } from '../stores/types.js';
import { checkLedgerWriter, commandEntry } from '../audit/entry.js';
import { activeSigner } from '../audit/signing.js';
import { CERTIFICATE_HTML, CERTIFICATE_JSON, certificateHtml, checkCertificate, certificateJson, signCertificate, type ExitCertificate } from './certificate.js';

export type ExitStep = 'export' | 'verify' | 'import' | 'diff' | 'certificate' | 'final-verify' | 'place' | 'ledger';

export interface ExitOptions {
  source: string;
  /** How hints name the source's URL (exportSource's urlName); default SOURCE_URL. */
  sourceUrlName?: string | undefined;
  /** The bundle folder to create (with zip: the zip file, `.zip` added). */
  to: string;
  profile?: Profile | undefined;
  parquet?: boolean | undefined;
  xlsx?: boolean | undefined;
  zip?: boolean | undefined;
  /** Replace an existing BUNDLE_DIR (only once the new bundle is complete). */
  force?: boolean | undefined;
  /**
   * Schemas of the source left out on purpose (PostgreSQL: other schemas than the one the URL
   * reads). Any other schema holding tables stops the exit before anything is written: an exit
   * takes out every table, or its bundle and certificate name what was left out.
   */
  skipSchemas?: string[] | undefined;
  /** Steps in order, but the verify runs beside import and diff: its events carry `step: 'verify'`, and `done` when it has passed. */
  progress?: (p: { step: ExitStep; table?: string; rows?: number; done?: boolean }) => void;
  signal?: AbortSignal | undefined;
  collectGarbage?: (() => void) | undefined;
}

export interface ExitResult {
  bundle: string;
  zip: string | null;
  certificate: ExitCertificate;
  /** Work left by exits that were killed (beside the bundle, and their scratch stores), removed before this one began. */
  swept: SweptWork[];
}

/**
 * `forklift exit`: contract end in one command (SPEC section 6 and 10). Every table is exported
 * into a work folder beside BUNDLE_DIR, the bundle verified and re-imported into a scratch SQLite
 * file (the import refuses a bundle that does not verify), the scratch store compared with the
 * source (a source changed meanwhile fails the exit), the certificate written as tag files, the
 * bag checked once more, and only then the bundle renamed (or zipped) into place and the exit
 * recorded in the source's ledger. Any failure removes the work folder: nothing at BUNDLE_DIR
 * looks complete, and the failed attempt is recorded in the ledger when the source can be reached.
 */
export async function runExit(opts: ExitOptions): Promise<ExitResult> {
  const started = new Date();
  const urlName = opts.sourceUrlName ?? SOURCE_URL;
  const final = path.resolve(opts.zip ? opts.to.replace(/\.zip$/i, '') : opts.to);
  const zipFile = opts.zip ? `${final}.zip` : null;
  const dest = zipFile ?? final;
  const shownDest = path.relative(process.cwd(), dest) || dest;
  // A bad FORKLIFT_SIGNING_KEY or FORKLIFT_OPERATOR fails here (exit 2), before any work.
  checkLedgerWriter();
  const label = { label: `--to ${path.relative(process.cwd(), final) || final}`, code: 'exit.target' };
  checkBundleTarget(final, label);
  makeTargetParent(final, label);
  // No other exit or export writes there from now on; what --force replaces is what is there now.
  const destClaim = claimDestination(dest, 'exit', 'exit.busy');
  const appeared = (cause?: unknown): BundleError =>
    new BundleError(`${shownDest} was put there by something else during the exit; it was left as it is and the new bundle not put in its place`, { code: 'exit.exists', hint: 'Check what is there now, then run the exit again.', ...(cause === undefined ? {} : { cause }) });
  let found: Stats | undefined;
  // Before any work, and again before the new bundle takes its place: only what was there at the
  // start, and is still there, may be replaced.
  const checkDest = async (atStart: boolean): Promise<boolean> => {
    const now = statSync(dest, { throwIfNoEntry: false });
    if (!now) return false;
    if (!opts.force) throw new ConfigError(`${shownDest} already exists`, { code: 'exit.exists', hint: 'Choose a new bundle folder, or give --force to replace it once the new bundle is complete.' });
    if (!atStart && (found === undefined || now.ino !== found.ino || now.dev !== found.dev)) throw appeared();
    await checkReplaceable(dest, { code: label.code, source: opts.source, zip: zipFile !== null });
    found = now;
    return true;
  };
  const name = path.basename(final);
  const work = `${final}.exit-partial-${randomBytes(4).toString('hex')}`;
  let swept: SweptWork[];
  let claim: { release: () => void };
  let scratch: string;
  try {
    await checkDest(true);
    swept = sweepStaleWork(path.dirname(final), `${name}.`);
    claim = claimWork(work, 'exit');
    scratch = scratchDir('forklift-exit-', 'exit', tmpdir(), swept);
  } catch (e) {
    destClaim.release();
    throw e;
  }
  const bundleDir = path.join(work, name);
  let step: ExitStep = 'export';
  let exported: ExportResult | undefined;
  const go = (s: ExitStep): void => {
    step = s;
    opts.progress?.({ step: s });
  };
  try {
    go('export');
    mkdirSync(work);
    exported = await exportBundle({
      dir: bundleDir,
      source: opts.source,
      sourceUrlName: urlName,
      profile: opts.profile,
      parquet: opts.parquet,
      xlsx: opts.xlsx,
      signal: opts.signal,
      complete: { skip: opts.skipSchemas ?? [] },
      inWork: true,
      progress: (p) => opts.progress?.({ step: 'export', table: p.table, rows: p.rows }),
    });

    // The verify runs in a thread of its own while the bundle is re-imported into the scratch
    // SQLite file (in another thread, committing as it goes) and the scratch store is compared
    // with the source right behind the writer: the scratch file is thrown away unless the bundle
    // verifies, and a verify that fails stops the other two at once.
    go('verify');
    const scratchFile = path.join(scratch, 'exit-check.db');
    const stop = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
    let verdict: Promise<VerifyResult> | undefined;
    const notValid = (v: VerifyResult): BundleError =>
      new BundleError(`the exported bundle does not verify: ${v.problems[0] ?? 'see the problems'}`, { code: 'exit.verify', details: v.problems.slice(1, 10) });
    const ignored = profileColumns(opts.profile);
    let diff: Awaited<ReturnType<typeof diffOpened>>;
    try {
      // forklift_runs is left out: the scratch store has a ledger of its own. A profile's dropped,
      // masked and hashed columns are left out: the bundle holds them changed on purpose.
      const tables = exported.tables.map((t) => t.name).filter((t) => t !== RUNS_ENTITY.name);
      if (tables.length === 0) {
        throw new BundleError(`${exported.source} holds no tables but forklift_runs: there is nothing to take out`, { code: 'exit.empty', hint: 'Check the --source URL.' });
      }
      const reimport = await startScratchImport({
        bundle: bundleDir,
        file: scratchFile,
        signal,
        progress: (p) => {
          if (p.stage === 'verify') opts.progress?.({ step: 'verify', ...(p.table === undefined ? {} : { table: p.table }), rows: p.rows });
          else opts.progress?.({ step: 'import', ...(p.table === undefined ? {} : { table: p.table }), rows: p.rows });
        },
      });
      verdict = reimport.verifying;
      verdict.then(
        (v) => {
          if (!v.valid) stop.abort(notValid(v));
          opts.progress?.({ step: 'verify', done: true });
        },
        (e: unknown) => stop.abort(e),
      );
      // Awaited below, after the comparison; a failure of the writer's own is kept to say so.
      let writeFailure: unknown;
      reimport.written.catch((e: unknown) => {
        if (!(e instanceof Error && e.name === 'AbortError')) writeFailure ??= e;
      });
      try {
        go('import');
        go('diff');
        const [left, right] = await Promise.all([openFollowingSnapshot(scratchFile, 'LEFT', (table, read) => reimport.after(table, read)), openSnapshot(opts.source, 'RIGHT', urlName)]);
        try {
          diff = await diffOpened(left, right, {
            tables,
            ignore: ignored,
            scratchDir: scratch,
            signal,
            collectGarbage: opts.collectGarbage,
            progress: (p) => opts.progress?.({ step: 'diff', table: p.table, rows: p.rows }),
          });
        } finally {
          await Promise.all([left.close(), right.close()].map((p) => p.catch(() => {})));
        }
        const written = await reimport.written;
        // The comparison read back exactly the rows the re-import wrote.
        for (const t of diff.result.tables) {
          if (t.status === 'compared' && t.left_rows !== (written[t.table] ?? 0)) throw new BugError(`${t.table}: the comparison read ${t.left_rows} rows of the scratch store, the re-import wrote ${written[t.table] ?? 0}`);
        }
      } catch (e) {
        if (writeFailure === undefined) throw e;
        // The comparison stopped because the re-import did (it reads behind the writer): the
        // re-import's failure is what to say, unless the verify finds the bundle does not verify.
        step = 'import';
        await verdict.catch(() => {});
        throw reimportError(writeFailure, scratch);
      } finally {
        // A comparison that failed leaves the writer running: its thread must not write on into
        // a scratch folder that is being removed.
        await reimport.stopWriting();
        reimport.cleanup();
      }
      const v = await verdict;
      if (!v.valid) throw notValid(v);
    } catch (e) {
      // A bundle that does not verify is the first thing to say, whatever else stopped meanwhile.
      if (stop.signal.aborted && !opts.signal?.aborted) {
        step = 'verify';
        throw stop.signal.reason;
      }
      throw e;
    }
    const d = diff.result;
    diff.dispose();
    if (!d.identical) {
      const changed = d.tables.filter((t) => t.status !== 'compared' || t.added + t.removed + t.changed > 0).map((t) => `${t.table} (${t.added} added, ${t.removed} removed, ${t.changed} changed)`);
      throw new BundleError(`the source changed during the exit: the re-imported bundle differs from ${exported.source}${changed.length ? `: ${changed.join(', ')}` : d.schema.length ? ': the schema differs' : ''}`, {
        code: 'exit.source-changed',
        hint: 'Stop writes to the source (or wait until nothing runs against it) and run forklift exit again; nothing was written at the bundle folder.',
      });
    }

    go('certificate');
    const info = readBagInfo(bundleDir);
    const manifest = createHash('sha256').update(readFileSync(path.join(bundleDir, 'manifest-sha256.txt'))).digest('hex');
    const cert: ExitCertificate = {
      format: 'forklift-exit-certificate',
      version: 1,
      bundle: name,
      source: exported.source,
      tables: exported.tables.map((t) => ({ name: t.name, rows: t.rows, csv: tableFiles(t.name).csv, csv_sha256: t.csv_sha256 })),
      rows_total: exported.rows_total,
      payload_oxum: exported.payload_oxum,
      manifest_sha256: manifest,
      ledger_head: ledgerHead(info),
      profile: opts.profile?.name ?? null,
      ...(exported.not_exported.length ? { not_exported: exported.not_exported } : {}),
      diff: { identical: d.identical, compared: `re-imported bundle vs ${exported.source}`, tables: d.totals.tables, added: d.totals.added, removed: d.totals.removed, changed: d.totals.changed, unchanged: d.totals.unchanged, ignored_columns: ignored },
      tool_version: toolVersion(),
      operator: operator(),
      host: hostname(),
      started: started.toISOString(),
      finished: new Date().toISOString(),
      signature: null,
    };
    const signed = signCertificate(cert, activeSigner());
    writeFileSync(path.join(bundleDir, CERTIFICATE_JSON), certificateJson(signed));
    writeFileSync(path.join(bundleDir, CERTIFICATE_HTML), certificateHtml(signed));
    await writeTagManifest(bundleDir, { signal: opts.signal });

    go('final-verify');
    // The payload was verified whole (every checksum, value and key) before the import, in this
    // process, from this private work folder: now every bag rule again and the new tag files'
    // checksums, and the certificate against the payload, without reading the payload once more.
    const bag = await validateBag(bundleDir, { signal: opts.signal, payloadHashed: true });
    const again = [...bag.problems.map(formatBagProblem), ...(checkCertificate(bundleDir, bag.info, undefined) ?? [])];
    if (again.length) {
      throw new BundleError(`the finished bundle does not verify: ${again[0]}`, { code: 'exit.verify', details: again.slice(1) });
    }

    go('place');
    // Zipped beside the work folder, and named after it, so a sweep after a kill finds it (util/work-path.ts).
    const placing = zipFile ? `${work}.zip` : bundleDir;
    if (zipFile) await zipFolder(work, placing);
    // What --force replaces is moved aside, not removed, until the new bundle is in place and its
    // exit recorded: a failure on the way puts it back. Named so that no sweep takes it: a kill
    // between the two renames leaves it there for a person to find.
    const aside = (await checkDest(false)) ? `${final}.exit-replaced-${randomBytes(4).toString('hex')}${zipFile ? '.zip' : ''}` : null;
    if (aside) renameSync(dest, aside);
    let placed = false;
    try {
      placeBundle(placing, dest, appeared);
      placed = true;
      go('ledger');
      await record(opts.source, urlName, started, 'succeeded', manifest, { tables: exported.tables.length, rows_total: exported.rows_total, bundle: shownDest, ...(exported.not_exported.length ? { not_exported: exported.not_exported } : {}) }, null);
    } catch (e) {
      // A bundle whose exit is not in the ledger is not a finished exit: remove it.
      if (placed) {
        rmSync(dest, { recursive: true, force: true });
        if (e instanceof ForkliftError) e.details.push(`the exit is not in the source's ledger, so its bundle was removed: nothing is left at ${shownDest}`);
      }
      if (aside) {
        try {
          renameSync(aside, dest);
        } catch {
          // Left where it was moved aside, under its own name.
        }
      }
      throw e;
    }
    if (aside) rmSync(aside, { recursive: true, force: true });
    return { bundle: shownDest, zip: zipFile ? shownDest : null, certificate: signed, swept };
  } catch (e) {
    const reason = e instanceof Error && e.name === 'AbortError' ? 'interrupted' : e instanceof Error ? e.message : String(e);
    const at = step as ExitStep;
    if (at !== 'ledger') {
      await record(opts.source, urlName, started, 'failed', null, { step: at, bundle: shownDest }, `exit failed at ${at}: ${reason}`).catch(() => {});
    }
    if (e instanceof Error && e.name === 'AbortError') {
      throw new BundleError(`the exit was interrupted at ${at}; nothing was written at ${shownDest}`, { code: 'exit.interrupted', hint: 'Run the same command again.', cause: e });
    }
    // The steps that write beside BUNDLE_DIR (the scratch store's own failures are said by reimportError).
    throw at === 'export' || at === 'certificate' || at === 'place' ? bundleWriteError(e, shownDest, 'exit') : e;
  } finally {
    rmSync(work, { recursive: true, force: true });
    if (zipFile) rmSync(`${work}.zip`, { force: true });
    claim.release();
    dropWork(scratch);
    destClaim.release();
  }
}

/**
 * The scratch SQLite store refused the bundle's rows or could not be written: a failed step, exit 1
 * (SPEC section 10). The verify passed by then, so a refused row is forklift's bug, not the data's.
 */
function reimportError(e: unknown, scratch: string): unknown {
  if (e instanceof ForkliftError) return e;
  const reason = e instanceof Error ? e.message : String(e);
  const where = path.dirname(scratch);
  const hint = /constraint failed/i.test(reason)
    ? 'The bundle verified, yet the scratch store refused one of its rows: this is a bug in forklift. Run again with --debug and report the output.'
    : /SQLITE_FULL|disk is full|ENOSPC/i.test(reason)
      ? `The scratch store is written in ${where}: free space there (or set TMPDIR to a folder on a disk with room), then run again.`
      : `The scratch store is written in ${where}: check that it can be written (or set TMPDIR to another folder), then run again.`;
  return new StoreError(`the bundle could not be re-imported into the scratch SQLite store: ${reason}`, { code: 'exit.import', hint, cause: e });
}

function profileColumns(profile: Profile | undefined): string[] {
  if (!profile) return [];
  const out: string[] = [];
  for (const [table, rules] of Object.entries(profile.spec)) {
    for (const c of [...(rules.drop ?? []), ...(rules.mask ?? []), ...(rules.hash ?? [])]) out.push(`${table}.${c}`);
  }
  return out;
}

/** The bag-info's Forklift-Ledger-Head, if the source had a chained ledger ('none' or absent: null). */
function ledgerHead(info: [string, string][]): string | null {
  const v = info.find(([k]) => k.toLowerCase() === 'forklift-ledger-head')?.[1]?.trim();
  return v && /^[0-9a-f]{64}$/i.test(v) ? v : null;
}

function readBagInfo(dir: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of readFileSync(path.join(dir, 'bag-info.txt'), 'utf8').split(/\r?\n/)) {
    const m = /^([^:\s][^:]*):\s*(.*)$/.exec(line);
    if (m) out.push([m[1]!, m[2]!]);
    else if (/^\s+\S/.test(line) && out.length) out[out.length - 1]![1] += ` ${line.trim()}`;
  }
  return out;
}

async function record(source: string, urlName: string, started: Date, status: RunEntry['status'], manifest: string | null, counts: Record<string, unknown>, message: string | null): Promise<void> {
  const store = await openStore(source, { existing: true, urlName });
  try {
    await store.recordRun(commandEntry({ id: newRunId(started), command: 'exit', status, started, files: manifest ? { 'manifest-sha256.txt': manifest } : {}, counts, message }));
  } finally {
    await store.close();
  }
}
