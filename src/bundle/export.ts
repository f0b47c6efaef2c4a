import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { BugError, BundleError, ConfigError } from '../core/errors.js';
import { toolVersion } from '../core/version.js';
import type { Entity } from '../model/types.js';
import { openStore } from '../stores/index.js';
import { bundleWriteError, claimDestination, claimWork, sweepStaleWork, type SweptWork } from '../util/work-path.js';
import type { RowRange, SchemaTables, StoreSnapshot, TargetStore } from '../stores/types.js';
import { RUNS_ENTITY } from '../stores/runs-entity.js';
import { runsEntityOf, storeLedgerHead } from '../audit/ledger.js';
import { ARROW_BATCH_ROWS, openArrowWriter } from './arrow.js';
import { writeBagTags } from './bagit.js';
import { bundleValueCheck } from './bundle-values.js';
import { CsvTableWriter } from './csv.js';
import { dataPackage, type TableFiles } from './datapackage.js';
import { dataDictionary } from './dictionary.js';
import { tableFiles, unsafeTableName } from './layout.js';
import { keyComparer } from './order.js';
import { applyProfile, checkProfileTables, type Profile } from './profile.js';
import { checkBundleTarget, makeTargetParent, placeBundle } from './target.js';
import type { openXlsxWriter } from './xlsx.js';

export interface ExportOptions {
  /** The bundle folder to create (or, with zip, the zip file's name without `.zip`). */
  dir: string;
  source: string;
  /** How hints name the source's URL (exportSource's urlName); default TARGET_URL, as purge archives its target. */
  sourceUrlName?: string | undefined;
  tables?: string[] | undefined;
  profile?: Profile | undefined;
  parquet?: boolean | undefined;
  xlsx?: boolean | undefined;
  zip?: boolean | undefined;
  /** Extra bag-info.txt fields (the ledger head, the purge's deletion record). */
  bagInfo?: [string, string][];
  /**
   * Only some rows of a table (a purge's archive): a cut-off the store applies as it reads, and a
   * filter over each batch read (in key order; it keeps the order). Tables are read in the order
   * of `tables`, so a filter may depend on what the filters of earlier tables saw.
   */
  rows?: ((table: Entity) => RowSelection | undefined) | undefined;
  /** false: the Data Package names no foreign keys (an archive of some rows, whose references point into the store). */
  references?: boolean | undefined;
  progress?: (p: { table: string; rows: number }) => void;
  signal?: AbortSignal | undefined;
  /**
   * Every table or nothing (exit): tables the store holds outside what it reads (PostgreSQL's other
   * schemas, `not_exported`) stop the export before anything is written, unless their schema is
   * named in `skip`. Without it an export goes on and reports them.
   */
  complete?: { skip: string[] } | undefined;
  /**
   * `dir` is inside the caller's own work folder (exit, purge), which checked where the bundle
   * finally goes: the check of the target's parents (checkBundleTarget) is left to it.
   */
  inWork?: boolean | undefined;
}

export interface RowSelection {
  where?: RowRange | undefined;
  filter?: ((batch: unknown[][]) => unknown[][]) | undefined;
}

export interface ExportedTable {
  name: string;
  rows: number;
  csv_sha256: string;
}

export interface ExportResult {
  bundle: string;
  zip: string | null;
  source: string;
  tables: ExportedTable[];
  rows_total: number;
  payload_oxum: string;
  /** The source's audit chain head (also in bag-info.txt as Forklift-Ledger-Head), null when it has none. */
  ledger_head: string | null;
  manifest_sha256: string;
  profile: string | null;
  /**
   * Tables of the store the bundle does not hold because they are outside the schema read
   * (PostgreSQL: other schemas than the connection's current one), per schema; also in
   * bag-info.txt as Forklift-Not-Exported. Empty when the bundle holds every table.
   */
  not_exported: SchemaTables[];
  /** Work left beside the bundle by exports that were killed, removed before this one began. */
  swept: SweptWork[];
}

/**
 * `forklift export`: every table of a store into the bundle of SPEC section 6. Each table streams
 * once from the store in canonical key order into its CSV (hashed as it is written), Arrow and the
 * optional Parquet and workbook; then the Data Package, the dictionary and the BagIt tag files.
 * Everything is written into a temporary folder beside the target and renamed into place only
 * when complete, so an interrupted export never leaves something that looks like a bundle.
 */
export async function exportBundle(opts: ExportOptions): Promise<ExportResult> {
  const final = path.resolve(opts.zip ? opts.dir.replace(/\.zip$/i, '') : opts.dir);
  const zipFile = opts.zip ? `${final}.zip` : null;
  const dest = zipFile ?? final;
  const target = { label: path.relative(process.cwd(), dest) || dest, code: 'export.target' };
  if (!opts.inWork) checkBundleTarget(final, target);
  makeTargetParent(final, target);
  // exit and purge write inside a work folder of their own, claimed with their destination.
  const destClaim = opts.inWork ? undefined : claimDestination(dest, 'export', 'export.busy');
  let claim: { release: () => void } | undefined;
  let store: TargetStore | undefined;
  let snap: StoreSnapshot | undefined;
  const tmp = `${final}.partial-${randomBytes(4).toString('hex')}`;
  try {
    // Checked once the destination is claimed: no other export can put a bundle there from now on.
    if (existsSync(dest) && !(zipFile === null && isEmptyDir(dest))) throw existsError(dest);
    const swept = sweepStaleWork(path.dirname(final), `${path.basename(final)}.`);
    claim = claimWork(tmp, 'export');
    store = await openStore(opts.source, { existing: true, urlName: opts.sourceUrlName });
    // Every table, the description and the ledger head from one snapshot of the store: a change
    // committed meanwhile is in all of them or in none.
    snap = await store.snapshot({ signal: opts.signal });
    const all = await snap.describeTables();
    const notExported = (await snap.tablesElsewhere?.()) ?? [];
    if (opts.complete) checkComplete(store.display, notExported, opts.complete.skip);
    if (opts.profile) checkProfileTables(opts.profile, all);
    const chosen = chooseTables(all, opts.tables);
    // Every table's profile rules before the first row is read: a refusal is a usage error, not a half export.
    for (const e of chosen) applyProfile(opts.profile, e, chosen);
    mkdirSync(path.join(tmp, 'data', 'csv'), { recursive: true });
    mkdirSync(path.join(tmp, 'data', 'arrow'));
    if (opts.parquet) mkdirSync(path.join(tmp, 'data', 'parquet'));
    // exceljs and parquet-wasm load only when asked for: together they were most of export's start-up.
    const xlsx = opts.xlsx ? await (await import('./xlsx.js')).openXlsxWriter(path.join(tmp, 'data', 'workbook.xlsx')) : null;

    const files: ExportedFiles[] = [];
    const payload = new Map<string, { sha256: string; bytes: number }>();
    for (const entity of chosen) {
      opts.signal?.throwIfAborted();
      const t = await exportTable(snap, store.display, entity, chosen, tmp, opts, xlsx);
      files.push(t);
      payload.set(`data/${t.csv.path}`, { sha256: t.csv.sha256, bytes: t.csv.bytes });
      payload.set(`data/${t.arrow.path}`, { sha256: t.arrow.sha256, bytes: t.arrow.bytes });
    }
    await xlsx?.close();

    const name = path.basename(final);
    const pkg = `${JSON.stringify(dataPackage(files), null, 2)}\n`;
    writeFileSync(path.join(tmp, 'data', 'datapackage.json'), pkg);
    writeFileSync(path.join(tmp, 'data', 'README.md'), dataDictionary(files, { arrow: true, parquet: Boolean(opts.parquet), xlsx: Boolean(opts.xlsx) }));

    // The store's audit chain head, so a bundle kept elsewhere pins the ledger (audit verify --head).
    const ledgerHead = await storeLedgerHead(snap);
    const rowsTotal = files.reduce((s, t) => s + t.rows, 0);
    const info: [string, string][] = [
      ['Source-Organization', 'forklift export'],
      ['External-Identifier', name],
      ['Forklift-Source', store.display],
      ['Forklift-Tool-Version', toolVersion()],
      ['Forklift-Exported', new Date().toISOString()],
      ['Forklift-Tables', String(files.length)],
      ['Forklift-Rows-Total', String(rowsTotal)],
      ...files.map((t): [string, string] => ['Forklift-Table-Rows', `${t.entity.name} ${t.rows}`]),
      ['Forklift-Profile', opts.profile ? opts.profile.summary : 'none (every column as stored)'],
      ['Forklift-Ledger-Head', ledgerHead ?? 'none'],
      ...notExported.map((n): [string, string] => ['Forklift-Not-Exported', `${n.schema}: ${n.tables.join(', ')}`]),
      ...(opts.bagInfo ?? []),
    ];
    const bag = await writeBagTags(tmp, { fields: info }, { payload });
    const manifest = createHash('sha256').update(readFileSync(path.join(tmp, 'manifest-sha256.txt'))).digest('hex');

    if (zipFile) {
      // The folder inside the zip carries the bundle's name, as a zipped bag should.
      const named = path.join(`${tmp}-zip`, name);
      mkdirSync(path.dirname(named), { recursive: true });
      renameSync(tmp, named);
      // Named after the work folder, so a sweep after a kill finds it (util/work-path.ts).
      const partialZip = `${tmp}.zip`;
      try {
        // yazl loads only for a zip.
        const { zipFolder } = await import('./zip.js');
        await zipFolder(path.dirname(named), partialZip);
        placeBundle(partialZip, zipFile, (cause) => takenError(zipFile, cause));
      } finally {
        rmSync(partialZip, { force: true });
        rmSync(path.dirname(named), { recursive: true, force: true });
      }
    } else {
      // The empty folder given as the bundle folder, and only while it is still empty.
      if (existsSync(final)) removeEmptyTarget(final);
      placeBundle(tmp, final, (cause) => takenError(final, cause));
    }
    return {
      bundle: path.relative(process.cwd(), dest) || dest,
      zip: zipFile ? path.relative(process.cwd(), zipFile) : null,
      source: store.display,
      tables: files.map((t) => ({ name: t.entity.name, rows: t.rows, csv_sha256: t.csv.sha256 })),
      rows_total: rowsTotal,
      payload_oxum: bag.payloadOxum,
      manifest_sha256: manifest,
      ledger_head: ledgerHead,
      profile: opts.profile?.name ?? null,
      not_exported: notExported,
      swept,
    };
  } catch (e) {
    if (e instanceof Error && e.name === 'AbortError') {
      throw new BundleError('the export was interrupted; nothing was written', { code: 'export.interrupted', hint: 'Run the same command again.', cause: e });
    }
    // exit and purge say their own destination.
    throw opts.inWork ? e : bundleWriteError(e, target.label, 'export');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    claim?.release();
    await snap?.close().catch(() => {});
    await store?.close();
    destClaim?.release();
  }
}

function existsError(dest: string): ConfigError {
  return new ConfigError(`${path.relative(process.cwd(), dest) || dest} already exists`, {
    code: 'export.exists',
    hint: 'Choose a new bundle folder: an export never overwrites or mixes into an earlier one.',
  });
}

/** Something other than forklift put a file or folder where the bundle goes, while the export worked. */
function takenError(dest: string, cause?: unknown): BundleError {
  return new BundleError(`${path.relative(process.cwd(), dest) || dest} was put there by something else during the export; it was left as it is and the export not put in its place`, {
    code: 'export.exists',
    hint: 'Choose a new bundle folder: an export never overwrites or mixes into an earlier one.',
    ...(cause === undefined ? {} : { cause }),
  });
}

/** One line per schema: `plant (2 tables: machines, tools)`. */
export function schemaTablesText(list: readonly SchemaTables[]): string {
  return list.map((n) => `${n.schema} (${n.tables.length} table${n.tables.length === 1 ? '' : 's'}: ${n.tables.join(', ')})`).join('; ');
}

/**
 * How to read another schema of a PostgreSQL store: its URL with the session's search_path set
 * through libpq's `options` parameter (`?options=-c%20search_path%3Dplant`).
 */
export function schemaUrl(url: string, schema: string): string {
  const ident = /^[a-z_][a-z0-9_$]*$/.test(schema) ? schema : `"${schema.replace(/"/g, '""')}"`;
  return `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${ident}`)}`;
}

/** What an export of `display` leaves out, and how to take it: the hint of a refusal, the note of an export. */
export function notExportedHint(display: string, list: readonly SchemaTables[]): string {
  return list.map((n) => `read schema ${n.schema} with --source '${schemaUrl(display, n.schema)}'`).join('; ');
}

function checkComplete(display: string, notExported: readonly SchemaTables[], skip: readonly string[]): void {
  const present = new Set(notExported.map((n) => n.schema));
  const unknown = skip.filter((s) => !present.has(s));
  if (unknown.length) {
    throw new ConfigError(`--skip-schemas: ${unknown.join(', ')} ${unknown.length > 1 ? 'are not schemas' : 'is not a schema'} with tables beside the one read from ${display}`, {
      code: 'export.unknown-schema',
      hint: notExported.length ? `Schemas left out: ${notExported.map((n) => n.schema).join(', ')}.` : 'Every table of the store is read: leave out --skip-schemas.',
    });
  }
  const missing = notExported.filter((n) => !skip.includes(n.schema));
  if (missing.length) {
    throw new BundleError(`${display} holds tables outside the schema read, which the bundle would not hold: ${schemaTablesText(missing)}`, {
      code: 'export.not-everything',
      hint: `An exit takes out every table or says which are left out: ${notExportedHint(display, missing)}; or give --skip-schemas ${missing.map((n) => n.schema).join(',')} to leave them out on purpose (recorded in bag-info.txt and the certificate).`,
    });
  }
}

function removeEmptyTarget(dir: string): void {
  try {
    rmdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const shown = path.relative(process.cwd(), dir) || dir;
    throw new BundleError(`${shown} was empty when the export began and holds files now; the export was not put in its place`, {
      code: 'export.exists',
      hint: 'Choose a new bundle folder: an export never overwrites or mixes into an earlier one.',
      cause: e,
    });
  }
}

function isEmptyDir(d: string): boolean {
  try {
    return readdirSync(d).length === 0;
  } catch {
    return false;
  }
}

function chooseTables(all: Entity[], wanted: string[] | undefined): Entity[] {
  // forklift_runs has one description on every store, so the bundle does not depend on where it came from.
  // A ledger from before the audit chain has no hash columns yet: it is exported as it is.
  const described = all.map((e) => (e.name === RUNS_ENTITY.name ? runsEntityOf(e)! : e));
  const chosen = wanted?.length ? chosenOf(described, [...new Set(wanted)]) : described;
  // Before any file is written: a name that is a path would put its files outside the bundle.
  for (const e of chosen) {
    const why = unsafeTableName(e.name);
    if (why === undefined) continue;
    throw new BundleError(`table ${JSON.stringify(e.name)} cannot be written to a bundle: ${why}, and a bundle names each table's files by its table`, {
      code: 'export.table-name',
      hint: 'Rename the table in the store, or leave it out with --tables (the other tables, comma-separated).',
    });
  }
  return chosen;
}

function chosenOf(described: Entity[], wanted: string[]): Entity[] {
  const byName = new Map(described.map((e) => [e.name, e]));
  const unknown = wanted.filter((t) => !byName.has(t));
  if (unknown.length) {
    throw new ConfigError(`--tables: ${unknown.join(', ')} ${unknown.length > 1 ? 'are not tables' : 'is not a table'} of the source`, {
      code: 'export.unknown-table',
      hint: `Tables of the source: ${[...byName.keys()].join(', ') || '(none)'}.`,
    });
  }
  return wanted.map((t) => byName.get(t)!);
}

/** A table's files as written: the CSV and the Arrow file, each hashed as it was written. */
interface ExportedFiles extends TableFiles {
  arrow: { path: string; sha256: string; bytes: number };
}

interface RowSink {
  write(rows: unknown[][]): Promise<void>;
  close(): Promise<unknown>;
  abort(): Promise<void> | void;
}

async function exportTable(store: StoreSnapshot, display: string, source: Entity, chosen: Entity[], tmp: string, opts: ExportOptions, xlsx: Awaited<ReturnType<typeof openXlsxWriter>> | null): Promise<ExportedFiles> {
  const { entity, row } = applyProfile(opts.profile, source, chosen);
  // A reference to a table left out of the bundle cannot be checked there: it is described without it.
  const inBundle = new Set(opts.references === false ? [] : chosen.map((e) => e.name));
  const bundled: Entity = { ...entity, columns: entity.columns.map((c) => (c.references && !inBundle.has(c.references.entity) ? withoutReference(c) : c)) };
  const selection = opts.rows?.(source);
  const files = tableFiles(entity.name);
  const csv = new CsvTableWriter(path.join(tmp, files.csv), bundled);
  const arrow = await openArrowWriter(path.join(tmp, files.arrow), bundled, { batchRows: ARROW_BATCH_ROWS });
  const sinks: RowSink[] = [arrow];
  if (opts.parquet) sinks.push(await (await import('./parquet.js')).openParquetWriter(path.join(tmp, files.parquet), bundled));
  const sheet = xlsx ? await xlsx.table(bundled) : null;
  await csv.writeHeader();
  const keyPos = (source.primaryKey.length ? source.primaryKey : source.columns.map((c) => c.name)).map((k) => source.columns.findIndex((c) => c.name === k));
  const cmp = keyComparer(source.columns, keyPos);
  let last: readonly unknown[] | undefined;
  let rows = 0;
  const check = bundleValueCheck(source);
  try {
    for await (const read of store.readRows(source, { signal: opts.signal, where: selection?.where })) {
      const batch = selection?.filter ? selection.filter(read) : read;
      if (batch.length === 0) continue;
      check?.(batch);
      // The store promised canonical key order; a row out of order or a repeated key is caught here, not shipped.
      for (const r of batch) {
        if (last !== undefined) {
          const c = cmp(last, r);
          if (c > 0 || (c === 0 && source.primaryKey.length)) throw new BugError(`${display}: ${source.name} rows are not in canonical key order at row ${rows + 1}`);
        }
        last = r;
        rows++;
      }
      const out = opts.profile ? batch.map(row) : batch;
      await csv.write(out);
      for (const s of sinks) await s.write(out);
      if (sheet) await sheet.write(out);
      opts.progress?.({ table: source.name, rows });
    }
    const digest = await csv.close();
    const arrowDigest = await arrow.close();
    for (const s of sinks) if (s !== arrow) await s.close();
    await sheet?.close();
    // Paths in the Data Package are relative to data/.
    return { entity: bundled, rows, csv: { path: files.csv.slice('data/'.length), ...digest }, arrow: { path: files.arrow.slice('data/'.length), ...arrowDigest } };
  } catch (e) {
    csv.destroy();
    for (const s of sinks) await Promise.resolve(s.abort()).catch(() => {});
    throw e;
  }
}

function withoutReference<T extends { references?: unknown }>(c: T): T {
  const { references: _r, ...rest } = c;
  return rest as T;
}
