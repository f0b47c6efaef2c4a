import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import type { Entity } from '../model/types.js';
import { formatBagProblem, validateBag, type BagReport } from './bagit.js';
import { startBagThread } from './bag-thread.js';
import { CERTIFICATE_JSON, certificateSignatureProblem, checkCertificate } from '../exit/certificate.js';
import { verifyChain, type VerifyResult as ChainResult } from '../audit/chain.js';
import { readBundleLedger } from '../audit/ledger.js';
import type { PublicKey } from '../audit/signing.js';
import { tableFiles } from './layout.js';
import type { TailLane } from './verify-fast.js';

/**
 * `forklift bundle verify`: first the bag (every checksum, no file missing or extra, Payload-Oxum:
 * bagit.ts validates any BagIt bag), then, for a forklift bundle, the data itself: each CSV's
 * header, every value against its column's type, the row counts the Data Package states, every
 * primary key unique (rows strictly in canonical key order), every unique column's values
 * distinct and every foreign key resolved (through a scratch SQLite file, so memory does not grow
 * with rows), and each Arrow file holding the same rows as its CSV.
 */

export interface TableCheck {
  name: string;
  rows: number;
  expected_rows: number | null;
  problems: number;
  /** The CSV is missing or could not be read to its end (named among the problems): its row count and the references to and from it are not checked, which would only repeat that. */
  unread?: true;
}

export interface VerifyResult {
  bundle: string;
  valid: boolean;
  forklift_bundle: boolean;
  bag: Pick<BagReport, 'payloadFiles' | 'payloadBytes' | 'algorithms' | 'info'>;
  tables: TableCheck[];
  /** The first problems, each naming the file (and line) and what is wrong. */
  problems: string[];
  problem_count: number;
  /** The exit certificate (exit-certificate.json), when the bag has one: checked against the payload (and its signature with --pubkey). */
  certificate?: { checked: true; valid: boolean; signed: boolean };
  /** The bundle's copy of forklift_runs, when it holds the audit chain: recomputed as audit verify does. */
  ledger?: Pick<ChainResult, 'ok' | 'entries' | 'unchained' | 'head' | 'signatures'>;
  /** With --pubkey: how many of the problems are signatures that do not verify with it (or nothing signed), the data being fine as far as they go. */
  signature_problems?: number;
  entities?: Entity[];
}

const MAX_LISTED = 50;

/** The CSVs whose SHA-256 the bag check keeps (in the same read as the manifest's check) for verify-data.ts resourceFileProblems: export writes each resource's hash as sha256. */
const RESOURCE_DIGESTS = { folder: 'data/csv/', algorithms: ['sha256' as const] };

export interface VerifyOptions {
  /** Only the BagIt layer: checksums, missing and extra files, Payload-Oxum. */
  checksumsOnly?: boolean | undefined;
  signal?: AbortSignal | undefined;
  progress?: (p: { table: string; rows: number }) => void;
  /** --pubkey: the certificate's and the ledger's signatures must verify with it. */
  pubkey?: PublicKey | undefined;
  /**
   * 'auto' (the default): a table with an Arrow file is first checked by the fast lane
   * (verify-fast.ts), which answers "valid" or hands the table to the slow lane; 'slow': every
   * table by the slow lane alone. Both give the same result.
   */
  lane?: 'auto' | 'slow' | undefined;
  /**
   * --formats: also every Parquet value against the Arrow file's and the workbook's sheets (header,
   * rows). Without it, each Parquet file's row count and that the workbook is one.
   */
  formats?: boolean | undefined;
  /** Tests: the tail lane the fast lane offers each table (by default the bag thread's), and whether it runs first, up to how many batches. */
  tail?: TailLane | undefined;
  tailFirst?: { maxBatches: number } | undefined;
}

export async function verifyBundle(bundle: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const opened = await openBundle(bundle);
  try {
    return await verifyBundleDir(opened.dir, opened.display, opts);
  } finally {
    opened.cleanup();
  }
}

/** A bundle folder, or a zipped bundle unpacked (safely) into a temporary folder. */
export async function openBundle(bundle: string): Promise<{ dir: string; display: string; cleanup: () => void }> {
  const display = path.relative(process.cwd(), path.resolve(bundle)) || bundle;
  const full = path.resolve(bundle);
  if (!existsSync(full)) {
    throw new ConfigError(`${display}: no such bundle`, { code: 'bundle.missing', hint: 'Give the folder (or .zip) that forklift export wrote.' });
  }
  if (/\.zip$/i.test(bundle)) {
    // yauzl and yazl load only for a zipped bundle.
    const { openZippedBag } = await import('./zip.js');
    const z = await openZippedBag(full);
    return { dir: z.dir, display, cleanup: z.cleanup };
  }
  return { dir: full, display, cleanup: () => {} };
}

export async function verifyBundleDir(dir: string, display: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const pkgFile = path.join(dir, 'data', 'datapackage.json');
  const forklift = existsSync(pkgFile);
  // The data is checked while the bag's files are hashed (in a thread of their own, on the other
  // core); its problems are listed after the bag's, the certificate's and the ledger's, as ever.
  // The bag thread starts first: it hashes while this one loads what the data check needs, then
  // takes each table's last record batches (the tail lane of verify-fast.ts). With the checksums
  // alone there is nothing to do meanwhile, and starting a thread costs more than it gives (0.43 s
  // against 0.50 s for the 1M-row bundle). The full check also keeps the CSVs' SHA-256 (which a
  // forklift bag's manifest computes anyway) for datapackage.json's hash of each resource.
  const helper = opts.checksumsOnly || !forklift ? undefined : startBagThread(dir, { signal: opts.signal, digestsUnder: RESOURCE_DIGESTS, tails: opts.lane !== 'slow' });
  try {
    const hashing = helper?.report ?? validateBag(dir, { signal: opts.signal });
    return await verifyHashing(dir, display, opts, { pkgFile: forklift ? pkgFile : undefined, hashing, tail: opts.tail ?? helper?.tail });
  } finally {
    await helper?.stop();
  }
}

/** The checks of verifyBundleDir, the bag being hashed (`hashing`); `pkgFile` where the bag is a forklift bundle. */
async function verifyHashing(dir: string, display: string, opts: VerifyOptions, { pkgFile, hashing, tail }: { pkgFile: string | undefined; hashing: Promise<BagReport>; tail: TailLane | undefined }): Promise<VerifyResult> {
  const problems: string[] = [];
  let count = 0;
  const add = (p: string): void => {
    count++;
    if (problems.length < MAX_LISTED) problems.push(p);
  };
  const forklift = pkgFile !== undefined;
  const tables: TableCheck[] = [];
  const dataProblems: string[] = [];
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  hashing.catch(() => undefined);
  const data =
    pkgFile !== undefined && !opts.checksumsOnly
      ? import('./verify-data.js').then(({ checkData }) => {
          signal.throwIfAborted();
          return checkData(dir, pkgFile, tables, (p) => dataProblems.push(p), { ...opts, signal, tail });
        })
      : Promise.resolve(undefined);
  data.catch(() => undefined);
  const giveUp = async (e: unknown): Promise<never> => {
    stop.abort();
    await data.catch(() => undefined);
    throw e;
  };
  let bag: BagReport;
  try {
    bag = await hashing;
  } catch (e) {
    return giveUp(e);
  }
  for (const p of bag.problems) add(formatBagProblem(p));
  const result: VerifyResult = {
    bundle: display,
    valid: false,
    forklift_bundle: false,
    bag: { payloadFiles: bag.payloadFiles, payloadBytes: bag.payloadBytes, algorithms: bag.algorithms, info: bag.info },
    tables,
    problems,
    problem_count: 0,
  };
  if (forklift) {
    result.forklift_bundle = true;
  }
  let signing = 0;
  try {
    // An exit certificate is checked against the payload it describes (row counts, CSV hashes, manifest hash, Payload-Oxum).
    const cert = checkCertificate(dir, bag.info, opts.pubkey);
    const fields = cert ? certificateFields(dir) : undefined;
    if (cert) {
      for (const p of cert) add(p);
      result.certificate = { checked: true, valid: cert.length === 0, signed: Boolean(fields?.signature) };
    }
    // A certificate whose signature verifies, and whose ledger head is bag-info's (which the chain
    // is checked to end at), signs the chain up to that head: its other problems are named apart.
    const signatureProblem = opts.pubkey && cert ? certificateSignatureProblem(dir, opts.pubkey) : undefined;
    if (signatureProblem) signing++;
    const head = pinnedHead(bag.info);
    const coveredBy = signatureProblem === null && head !== undefined && certificateHeadOf(fields) === head ? 'the signed exit certificate, which names the chain head' : undefined;
    if (result.forklift_bundle && (!opts.checksumsOnly || opts.pubkey)) {
      if (await checkLedger(dir, bag.info, result, add, opts.pubkey, coveredBy)) signing++;
    }
    if (opts.pubkey && !cert && !result.ledger) {
      add(`--pubkey ${opts.pubkey.file}: nothing in this bag is signed (no exit certificate, no audit chain)`);
      signing++;
    }
  } catch (e) {
    return giveUp(e);
  }
  if (result.forklift_bundle && !opts.checksumsOnly) {
    const checked = await data;
    for (const p of dataProblems) add(p);
    if (checked) {
      result.entities = checked.entities;
      const { resourceFileProblems } = await import('./verify-data.js');
      for (const p of await resourceFileProblems(dir, checked.resources, bag.digests, opts.signal)) add(p);
      for (const p of bagInfoCounts(bag.info, tables)) add(p);
    }
  }
  result.problem_count = count;
  result.valid = count === 0;
  if (opts.pubkey) result.signature_problems = signing;
  return result;
}

/**
 * The bundle's forklift_runs, when it holds the audit chain, recomputed as `audit verify` does,
 * and the bag-info's Forklift-Ledger-Head found in it as its last entry (export reads both at one
 * instant): a ledger edited before the export, entries added after it, or a bag-info pointing at
 * another chain, fail the bundle. With --pubkey every signed entry must verify; a chain with none
 * signed (written before the key) verifies where `coveredBy` signs its head. True when the
 * problem added is a signature's.
 */
async function checkLedger(dir: string, info: readonly (readonly [string, string])[], result: VerifyResult, add: (p: string) => void, pubkey: PublicKey | undefined, coveredBy: string | undefined): Promise<boolean> {
  const rel = 'data/csv/forklift_runs.csv';
  let ledger;
  try {
    ledger = await readBundleLedger(dir);
  } catch (e) {
    add(`${rel}: cannot be read as a ledger (${e instanceof Error ? e.message : String(e)})`);
    return false;
  }
  // A profile that dropped, masked or hashed columns of forklift_runs changed its entries on purpose: their hashes cannot match.
  const profile = info.find(([k]) => k.toLowerCase() === 'forklift-profile')?.[1] ?? '';
  if (/(?:^|: |; )forklift_runs /.test(profile)) return false;
  const head = pinnedHead(info);
  if (!ledger.exists) return false;
  if (!ledger.chained) {
    // bag-info says the store had a chain: a copy without one lost its hash columns after the export.
    if (head) add(`${rel}: has no audit chain (no seq, prev_hash and entry_hash), yet bag-info.txt records the head ${head.slice(0, 12)} as Forklift-Ledger-Head`);
    return false;
  }
  const v = verifyChain(ledger.records, { head, pubkey, unsignedCoveredBy: coveredBy });
  result.ledger = { ok: v.ok, entries: v.entries, unchained: v.unchained, head: v.head, ...(v.signatures ? { signatures: v.signatures } : {}) };
  if (!v.ok) {
    add(`${rel}: the audit chain does not verify: ${v.problem!.message}${v.problem!.kind === 'head' ? ' (the head bag-info.txt records as Forklift-Ledger-Head)' : ''}`);
    return v.problem!.kind === 'unsigned' || v.problem!.kind === 'signature';
  }
  if (v.afterHead) add(`${rel}: ${v.afterHead} ${v.afterHead === 1 ? 'entry follows' : 'entries follow'} the head bag-info.txt records as Forklift-Ledger-Head, which is the last entry when the bundle is exported: added since`);
  return false;
}

/**
 * The counts bag-info.txt states (Forklift-Tables, Forklift-Rows-Total, one Forklift-Table-Rows a
 * table) against the rows the data check counted: SPEC section 6's "every row count" covers the
 * bag's own description of its payload too. A field a bag does not carry states nothing.
 */
function bagInfoCounts(info: readonly (readonly [string, string])[], tables: readonly TableCheck[]): string[] {
  const out: string[] = [];
  const all = (k: string): string[] => info.filter(([x]) => x.toLowerCase() === k).map(([, v]) => v.trim());
  const total = tables.reduce((s, t) => s + t.rows, 0);
  const unread = tables.some((t) => t.unread);
  for (const v of all('forklift-tables')) if (v !== String(tables.length)) out.push(`bag-info.txt: Forklift-Tables is ${v}; the bundle holds ${tables.length} tables`);
  for (const v of all('forklift-rows-total')) if (v !== String(total) && !unread) out.push(`bag-info.txt: Forklift-Rows-Total is ${v}; the bundle's tables hold ${total} rows`);
  const stated = all('forklift-table-rows');
  if (stated.length === 0) return out;
  const byName = new Map(tables.map((t) => [t.name, t]));
  const seen = new Set<string>();
  for (const v of stated) {
    const m = /^(.+) (\d+)$/.exec(v);
    if (!m) {
      out.push(`bag-info.txt: Forklift-Table-Rows '${v}' is not a table and its rows`);
      continue;
    }
    const [, name, rows] = m as unknown as [string, string, string];
    const t = byName.get(name);
    if (seen.has(name)) out.push(`bag-info.txt: Forklift-Table-Rows names ${name} twice`);
    else if (!t) out.push(`bag-info.txt: Forklift-Table-Rows names ${name}, which is not a table of the bundle`);
    else if (String(t.rows) !== rows && !t.unread) out.push(`bag-info.txt: Forklift-Table-Rows says ${name} has ${rows} rows; ${tableFiles(name).csv} holds ${t.rows}`);
    seen.add(name);
  }
  for (const t of tables) if (!seen.has(t.name)) out.push(`bag-info.txt: no Forklift-Table-Rows for ${t.name}`);
  return out;
}

/** bag-info's Forklift-Ledger-Head, lower case; undefined where it names none. */
export function pinnedHead(info: readonly (readonly [string, string])[]): string | undefined {
  const v = info.find(([k]) => k.toLowerCase() === 'forklift-ledger-head')?.[1]?.trim();
  return v && /^[0-9a-f]{64}$/i.test(v) ? v.toLowerCase() : undefined;
}

/** The exit certificate's fields as written, or undefined where it is missing or no JSON (checkCertificate names that). */
function certificateFields(dir: string): { ledger_head?: unknown; signature?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, CERTIFICATE_JSON), 'utf8')) as { ledger_head?: unknown; signature?: unknown };
  } catch {
    return undefined;
  }
}

function certificateHeadOf(fields: { ledger_head?: unknown } | undefined): string | undefined {
  return typeof fields?.ledger_head === 'string' ? fields.ledger_head.toLowerCase() : undefined;
}

