import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseBagInfo, safeBagPath } from '../bundle/bagit.js';
import { compareText } from '../bundle/order.js';
import { CsvShapeError, csvDecoder, readBundleCsv } from '../bundle/csv.js';
import { readDataPackage } from '../bundle/datapackage-read.js';
import { tableFiles } from '../bundle/layout.js';
import { openBundle } from '../bundle/verify.js';
import { ConfigError } from '../core/errors.js';
import type { Entity } from '../model/types.js';
import { openStore, redactUrl, storeKind } from '../stores/index.js';
import { RUNS_ENTITY } from '../stores/runs-entity.js';
import type { StoreSnapshot } from '../stores/types.js';
import { sqlitePath } from '../stores/url.js';
import { SqliteStore } from '../stores/sqlite.js';
import type { WriteProgress } from '../stores/read-sqlite.js';
import { troubleError } from './errors.js';
import type { SideDescription } from './types.js';

/**
 * One side of a diff, whatever it is: a bundle folder, a zipped bundle (unpacked into a temporary
 * folder), or a store URL. It describes its tables as entities and reads any of them as an async
 * stream of row batches in the staging form; the diff trusts neither the order nor the uniqueness
 * of what it reads, and checks both as rows arrive.
 */
export interface Snapshot {
  readonly description: SideDescription;
  /** How messages name this side: `LEFT bundle acme-exit`. */
  readonly label: string;
  /** Every table, sorted by name. */
  readonly entities: readonly Entity[];
  /** A table's rows, from the start (each call reads afresh). */
  rows(entity: Entity, signal?: AbortSignal): AsyncIterable<unknown[][]>;
  close(): Promise<void>;
}

const STORE_URL = /^(sqlite:|postgres(ql)?:\/\/|mysql:\/\/|mariadb:\/\/|mssql:\/\/|sqlserver:\/\/)/i;

/** `urlName`: how hints name a store's URL; by default the side it was given as (`the LEFT URL`). */
export async function openSnapshot(spec: string, side: 'LEFT' | 'RIGHT', urlName = `the ${side} URL`): Promise<Snapshot> {
  if (STORE_URL.test(spec)) return openStoreSnapshot(spec, side, urlName);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) {
    throw new ConfigError(`${side}: '${redactUrl(spec)}' is neither a bundle nor a store URL forklift reads`, {
      code: 'diff.side',
      hint: 'Give a bundle folder, a .zip bundle, or sqlite:PATH, postgres://…, mysql://…, mssql://….',
    });
  }
  return openBundleSnapshot(spec, side);
}

/**
 * exit's scratch store while its re-import still writes it: each table read behind the writer
 * (SqliteStore.followRows), `after(table, read)` telling how far the writer has come.
 */
export async function openFollowingSnapshot(file: string, side: 'LEFT' | 'RIGHT', after: (table: string, read: number) => Promise<WriteProgress>): Promise<Snapshot> {
  const store = new SqliteStore(`sqlite:${file}`);
  try {
    const entities = (await store.describeTables()).map((e) => (e.name === RUNS_ENTITY.name ? RUNS_ENTITY : e));
    return {
      description: { kind: 'store', store: 'sqlite', url: store.display },
      label: `${side} ${store.display}`,
      entities,
      rows: (entity, signal) => store.followRows(entity, (read) => after(entity.name, read), { signal }),
      close: () => store.close(),
    };
  } catch (e) {
    await store.close().catch(() => {});
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// stores

async function openStoreSnapshot(url: string, side: 'LEFT' | 'RIGHT', urlName: string): Promise<Snapshot> {
  const kind = storeKind(url);
  if (kind === 'sqlite') {
    // Opening a SQLite store creates the file: a diff must never do that to a mistyped path.
    const file = sqlitePath(url);
    if (file !== ':memory:' && !existsSync(file)) {
      throw new ConfigError(`${side}: ${redactUrl(url)}: no such SQLite file`, { code: 'diff.side', hint: 'Check the path after sqlite: (relative to the current folder).' });
    }
  }
  const store = await openStore(url, { existing: true, urlName });
  let snap: StoreSnapshot | undefined;
  const close = async (): Promise<void> => {
    await snap?.close().catch(() => {});
    await store.close();
  };
  try {
    // Every table as of one instant: a change committed during the diff is in all of them or in none.
    snap = await store.snapshot();
    const view = snap;
    // forklift_runs has one description on every store (as in a bundle), whatever the catalog says.
    const entities = (await view.describeTables()).map((e) => (e.name === RUNS_ENTITY.name ? RUNS_ENTITY : e));
    return {
      description: { kind: 'store', store: kind, url: store.display },
      label: `${side} ${store.display}`,
      entities,
      rows: (entity, signal) => view.readRows(entity, { signal }),
      close,
    };
  } catch (e) {
    await close().catch(() => {});
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// bundles

/** Rows per batch read from a bundle CSV: small enough that a batch dies young (memory stays low). */
const BATCH_ROWS = 2_000;
/**
 * Bytes read at a time: below V8's large-object size, so the text (which the fields, as slices of it,
 * keep alive) is collected young instead of piling up in the old generation until a full collection.
 */
const CHUNK_BYTES = 64 * 1024;

const SHOWN_BAG_INFO = ['External-Identifier', 'Forklift-Source', 'Forklift-Exported', 'Forklift-Tool-Version', 'Forklift-Rows-Total', 'Forklift-Profile', 'Bagging-Date'];

async function openBundleSnapshot(spec: string, side: 'LEFT' | 'RIGHT'): Promise<Snapshot> {
  const full = path.resolve(spec);
  if (existsSync(full) && statSync(full).isFile() && !/\.zip$/i.test(spec)) {
    throw new ConfigError(`${side}: ${spec} is a file, not a bundle folder or .zip`, {
      code: 'diff.side',
      hint: /\.(db|sqlite3?)$/i.test(spec) ? `For a SQLite database write sqlite:${spec}.` : 'Give the folder (or .zip) that forklift export wrote, or a store URL.',
    });
  }
  const opened = await openBundle(spec);
  try {
    const dir = opened.dir;
    const pkgFile = path.join(dir, 'data', 'datapackage.json');
    if (!existsSync(pkgFile)) {
      throw new ConfigError(`${side}: ${opened.display} is not a forklift bundle (no data/datapackage.json)`, { code: 'diff.side', hint: 'Give the folder (or .zip) that forklift export wrote.' });
    }
    const pkg = readDataPackage(pkgFile);
    if (!pkg.ok) {
      const what = pkg.kind === 'schema' ? `data/datapackage.json: ${pkg.problem}` : pkg.kind === 'json' ? 'data/datapackage.json is not valid JSON' : `data/datapackage.json ${pkg.problem}`;
      throw new ConfigError(`${side}: ${opened.display}: ${what}`, { code: 'diff.side', ...(pkg.cause === undefined ? {} : { cause: pkg.cause }), hint: 'Check the bundle with forklift bundle verify.' });
    }
    const files = new Map<string, { file: string; rel: string }>();
    const entities: Entity[] = [];
    for (const [i, r] of pkg.resources.entries()) {
      const { entity, problems } = pkg.entities[i]!;
      // What would make the diff read other values or another file than verify and import do.
      const unreadable = problems.find((p) => /unknown forklift:type|unsupported field type|, which is not a field|a forklift bundle keeps the table's CSV at|is named twice/.test(p));
      if (unreadable) throw new ConfigError(`${side}: ${opened.display}: data/datapackage.json: ${unreadable}`, { code: 'diff.side', hint: 'Check the bundle with forklift bundle verify.' });
      const rel = tableFiles(r.name).csv;
      const file = safeBagPath(dir, rel, { encoded: false });
      if (file === null) throw new ConfigError(`${side}: ${opened.display}: ${rel} leads outside the bundle; not read`, { code: 'diff.side', hint: 'Check the bundle with forklift bundle verify.' });
      files.set(entity.name, { file, rel });
      entities.push(entity);
    }
    entities.sort((a, b) => compareText(a.name, b.name));
    const infoFile = path.join(dir, 'bag-info.txt');
    const info = existsSync(infoFile) ? parseBagInfo(readFileSync(infoFile, 'utf8')).fields : [];
    const manifest = path.join(dir, 'manifest-sha256.txt');
    const description: SideDescription = {
      kind: 'bundle',
      location: opened.display,
      zipped: /\.zip$/i.test(spec),
      payload_oxum: info.find(([k]) => k === 'Payload-Oxum')?.[1] ?? null,
      manifest_sha256: existsSync(manifest) ? createHash('sha256').update(readFileSync(manifest)).digest('hex') : null,
      bag_info: Object.fromEntries(info.filter(([k]) => SHOWN_BAG_INFO.includes(k))),
    };
    const label = `${side} ${opened.display}`;
    return {
      description,
      label,
      entities,
      rows: (entity, signal) => bundleRows(files.get(entity.name)!, entity, label, signal),
      close: async () => opened.cleanup(),
    };
  } catch (e) {
    opened.cleanup();
    throw e;
  }
}

/** A bundle CSV's rows decoded to the staging form (as bundle import reads them). */
async function* bundleRows(where: { file: string; rel: string }, entity: Entity, label: string, signal?: AbortSignal): AsyncGenerator<unknown[][]> {
  if (!existsSync(where.file)) throw troubleError(`${label}: ${where.rel} is missing (named by datapackage.json)`, { code: 'diff.read', hint: 'Check the bundle with forklift bundle verify.' });
  const decoders = entity.columns.map(csvDecoder);
  const n = decoders.length;
  let header = true;
  let line = 1;
  try {
    for await (const batch of readBundleCsv(where.file, BATCH_ROWS, CHUNK_BYTES)) {
      signal?.throwIfAborted();
      const out: unknown[][] = [];
      for (const rec of batch) {
        if (header) {
          header = false;
          const want = entity.columns.map((c) => c.name);
          const got = rec.map((f) => f ?? '');
          if (got.join('\u0000') !== want.join('\u0000')) {
            throw troubleError(`${label}: ${where.rel}: the header is ${got.join(',')}; datapackage.json names ${want.join(',')}`, { code: 'diff.read', hint: 'Check the bundle with forklift bundle verify.' });
          }
          continue;
        }
        line++;
        if (rec.length !== n) throw troubleError(`${label}: ${where.rel}: row ${line - 1} has ${rec.length} fields, expected ${n}`, { code: 'diff.read', hint: 'Check the bundle with forklift bundle verify.' });
        // Decoded in place: the record is the row (fewer allocations, less garbage to collect).
        const row = rec as unknown[];
        for (let i = 0; i < n; i++) {
          const f = rec[i]!;
          row[i] = decoders[i]!(f ?? '', f === '');
        }
        out.push(row);
      }
      if (out.length) yield out;
    }
  } catch (e) {
    if (e instanceof CsvShapeError) throw troubleError(`${label}: ${where.rel}:${e.line}: ${e.problem()}`, { code: 'diff.read', hint: 'Check the bundle with forklift bundle verify.' });
    throw e;
  }
}
