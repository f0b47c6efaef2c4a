/**
 * BagIt 1.0 (RFC 8493): writing the tag files of forklift's bags, and validating any bag, ours or
 * another tool's (0.97 and 1.0; md5, sha1, sha224, sha256, sha384 and sha512 manifests and tag
 * manifests; percent-encoded names; folded bag-info.txt values; Payload-Oxum; fetch.txt reported,
 * never followed).
 *
 * A bag is untrusted input. Its folder is walked once with lstat, and every manifest line is
 * matched against that walk, never opened by the name it gives: a path with `..`, an absolute
 * path, a symbolic link leading outside the bag, a FIFO or a device is a problem and is never
 * read. Every file is hashed once, in one streaming read for all the algorithms that list it.
 */
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, realpathSync, type Dirent } from 'node:fs';
import { lstat, open, readdir, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BugError, ConfigError } from '../core/errors.js';
import { digestFile, type DigestAlgorithm, type FileDigests } from '../util/hash.js';

// ------------------------------------------------------------------------------------------------
// Paths

/** RFC 8493 2.1.3: in a manifest or fetch.txt, CR, LF and `%` (and only those) are percent-encoded. */
export function encodeBagPath(p: string): string {
  return p.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** The inverse of encodeBagPath; any other `%xx` is a literal part of the name. */
export function decodeBagPath(p: string): string {
  return p.replace(/%(0A|0D|25)/gi, (m) => (m === '%25' ? '%' : m.toUpperCase() === '%0A' ? '\n' : '\r'));
}

export type BagPathCheck = { ok: true; rel: string } | { ok: false; problem: string };

/**
 * Checks a decoded bag-relative path without touching the disk: no absolute path, drive letter or
 * `..` segment (with `/` or `\` as separator, so `data\..\..\x` is caught on any system), no NUL.
 * Returns it normalised (`./` and empty segments removed) with `/` separators.
 */
export function checkBagRelPath(rel: string): BagPathCheck {
  if (rel === '') return { ok: false, problem: 'an empty path' };
  if (rel.includes('\0')) return { ok: false, problem: 'a NUL character in the path' };
  if (rel.startsWith('/') || rel.startsWith('\\')) return { ok: false, problem: 'an absolute path leads outside the bag' };
  if (/^[A-Za-z]:/.test(rel)) return { ok: false, problem: 'a drive letter makes the path absolute, outside the bag' };
  let depth = 0;
  let escapes = false;
  let dotdot = false;
  for (const seg of rel.split(/[\\/]/)) {
    if (seg === '..') {
      dotdot = true;
      depth--;
      if (depth < 0) escapes = true;
    } else if (seg !== '' && seg !== '.') depth++;
  }
  if (escapes) return { ok: false, problem: "a '..' segment leads outside the bag" };
  if (dotdot) return { ok: false, problem: "a '..' segment; a bag path names its file directly" };
  const segs = rel.split('/').filter((s) => s !== '' && s !== '.');
  if (segs.length === 0) return { ok: false, problem: 'a path naming the bag folder itself' };
  return { ok: true, rel: segs.join('/') };
}

export type SafeBagPath = { ok: true; rel: string; path: string } | { ok: false; rel: string; problem: string };

export interface BagPathOptions {
  /** `rel` is as written in a manifest or fetch.txt, CR, LF and % percent-encoded. Default true. */
  encoded?: boolean | undefined;
}

/**
 * Resolves a bag-relative path to an absolute one inside `root`, or says why it cannot be trusted.
 * After percent-decoding (see BagPathOptions) and the lexical checks of checkBagRelPath, symbolic
 * links are resolved with realpath: a link anywhere on the way that leads outside the bag, or a
 * dangling one, is refused. A path that does not exist (yet) is resolved through its nearest
 * existing ancestor, so the caller can test for it or create it. The path returned is the
 * resolved one: opening it follows no further link. Throws if `root` itself does not exist.
 */
export function resolveBagPath(root: string, rel: string, opts: BagPathOptions = {}): SafeBagPath {
  const decoded = opts.encoded === false ? rel : decodeBagPath(rel);
  const lexical = checkBagRelPath(decoded);
  if (!lexical.ok) return { ok: false, rel: decoded, problem: lexical.problem };
  const rootReal = realpathSync(root);
  const segs = lexical.rel.split('/');
  // Resolve the deepest existing prefix; anything below it does not exist.
  for (let n = segs.length; n > 0; n--) {
    const candidate = path.join(rootReal, ...segs.slice(0, n));
    let real: string;
    try {
      real = realpathSync(candidate);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      // A link that exists but points nowhere: following it would create or read whatever it names.
      if (lstatSync(candidate, { throwIfNoEntry: false })?.isSymbolicLink()) {
        return { ok: false, rel: lexical.rel, problem: 'a dangling symbolic link on the way' };
      }
      continue;
    }
    if (!isInside(rootReal, real)) return { ok: false, rel: lexical.rel, problem: 'a symbolic link leads outside the bag' };
    return { ok: true, rel: lexical.rel, path: path.join(real, ...segs.slice(n)) };
  }
  return { ok: true, rel: lexical.rel, path: path.join(rootReal, ...segs) };
}

/** resolveBagPath's absolute path, or null when `rel` cannot be trusted (used by verify and import). */
export function safeBagPath(root: string, rel: string, opts: BagPathOptions = {}): string | null {
  const r = resolveBagPath(root, rel, opts);
  return r.ok ? r.path : null;
}

function isInside(rootReal: string, p: string): boolean {
  if (p === rootReal) return true;
  const prefix = rootReal.endsWith(path.sep) ? rootReal : rootReal + path.sep;
  return p.startsWith(prefix);
}

function isNotFound(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Manifest order: by the UTF-8 bytes of the (unencoded) path, the same on every machine and locale. */
export function compareBagPaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

// ------------------------------------------------------------------------------------------------
// The walk: what is on disk, classified once, with lstat

type NodeKind =
  | 'file' // a regular file, or a symbolic link to one inside the bag
  | 'dir'
  | 'link-outside' // a symbolic link leading outside the bag: never read
  | 'link-dir' // a symbolic link to a directory inside the bag: not followed
  | 'link-dangling'
  | 'special'; // FIFO, socket, device: never opened (a FIFO would block a read forever)

interface DiskNode {
  rel: string;
  kind: NodeKind;
  /** What to open: the resolved path for a link. */
  abs: string;
  size: number;
  symlink: boolean;
}

interface WalkOptions {
  skipTopLevel?: string;
  only?: string;
  signal?: AbortSignal | undefined;
  /** A folder below the root that cannot be listed; without this, the walk throws. */
  onUnreadable?: (rel: string, e: unknown) => void;
}

async function walk(rootReal: string, opts: WalkOptions): Promise<Map<string, DiskNode>> {
  const nodes = new Map<string, DiskNode>();
  const visit = async (relDir: string): Promise<void> => {
    opts.signal?.throwIfAborted();
    const absDir = relDir === '' ? rootReal : path.join(rootReal, ...relDir.split('/'));
    let entries: Dirent[];
    try {
      entries = await readdir(absDir, { withFileTypes: true });
    } catch (e) {
      if (relDir === '' || opts.onUnreadable === undefined) throw e;
      opts.onUnreadable(relDir, e);
      return;
    }
    if (relDir === '') entries = entries.filter((d) => d.name !== opts.skipTopLevel && (opts.only === undefined || d.name === opts.only));
    const subdirs: string[] = [];
    await eachLimit(entries, 32, async (d) => {
      const rel = relDir === '' ? d.name : `${relDir}/${d.name}`;
      const abs = path.join(absDir, d.name);
      const node = await classify(rootReal, rel, abs);
      if (node === undefined) return;
      nodes.set(rel, node);
      if (node.kind === 'dir') subdirs.push(rel);
    });
    subdirs.sort(compareBagPaths);
    for (const sub of subdirs) await visit(sub);
  };
  await visit('');
  // Sorted, so every report lists files in the same order whatever order the disk gave them in.
  return new Map([...nodes].sort(([a], [b]) => compareBagPaths(a, b)));
}

/** What is at abs; undefined if it vanished since the folder was listed. */
async function classify(rootReal: string, rel: string, abs: string): Promise<DiskNode | undefined> {
  const st = await lstat(abs).catch((e: unknown) => {
    if (isNotFound(e)) return undefined;
    throw e;
  });
  if (st === undefined) return undefined;
  if (st.isFile()) return { rel, kind: 'file', abs, size: st.size, symlink: false };
  if (st.isDirectory()) return { rel, kind: 'dir', abs, size: 0, symlink: false };
  if (!st.isSymbolicLink()) return { rel, kind: 'special', abs, size: 0, symlink: false };
  let real: string;
  try {
    real = await realpath(abs);
  } catch {
    return { rel, kind: 'link-dangling', abs, size: 0, symlink: true };
  }
  if (!isInside(rootReal, real)) return { rel, kind: 'link-outside', abs, size: 0, symlink: true };
  const target = await stat(real).catch(() => undefined);
  if (target === undefined) return { rel, kind: 'link-dangling', abs, size: 0, symlink: true };
  if (target.isFile()) return { rel, kind: 'file', abs: real, size: target.size, symlink: true };
  if (target.isDirectory()) return { rel, kind: 'link-dir', abs: real, size: 0, symlink: true };
  return { rel, kind: 'special', abs: real, size: 0, symlink: true };
}

/** Runs fn over items, at most `limit` at a time; the first failure stops the others taking more. */
async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        await fn(items[i] as T, i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

// ------------------------------------------------------------------------------------------------
// bag-info.txt

/** RFC 8493 2.2.2 recommends lines of at most 79 characters. */
const FOLD_WIDTH = 79;

/**
 * `Label: value` lines, a long value folded onto continuation lines indented by two spaces. A value
 * is only folded at a single space between two non-blank characters, so unfolding (line break and
 * indentation become one space, see parseBagInfo) gives back exactly the value written; a value
 * without such a space stays on one long line.
 */
export function formatBagInfo(fields: readonly (readonly [string, string])[]): string {
  let out = '';
  for (const [label, raw] of fields) {
    if (label === '' || /[:\r\n]/.test(label) || label.trim() !== label) throw new BugError(`bag-info.txt label '${label}' is not allowed (RFC 8493 2.2.2)`);
    if (/[\r\n]/.test(raw)) throw new BugError(`bag-info.txt value of ${label} contains a line break`);
    out += foldLine(`${label}: `, raw.trim()) + '\n';
  }
  return out;
}

function foldLine(head: string, value: string): string {
  const lines: string[] = [];
  let line = head;
  let rest = value;
  for (;;) {
    if (line.length + rest.length <= FOLD_WIDTH) break;
    const room = FOLD_WIDTH - line.length;
    let cut = -1;
    for (let i = 1; i < rest.length - 1; i++) {
      if (rest[i] !== ' ' || /\s/.test(rest[i - 1] ?? ' ') || /\s/.test(rest[i + 1] ?? ' ')) continue;
      if (i <= room || cut === -1) cut = i;
      if (i > room) break;
    }
    if (cut === -1) break;
    lines.push(line + rest.slice(0, cut));
    rest = rest.slice(cut + 1);
    line = '  ';
  }
  lines.push(line + rest);
  return lines.join('\n');
}

export interface BagInfoParse {
  fields: [string, string][];
  /** Lines that are not `Label: value` (1-based line numbers). */
  problems: { line: number; message: string }[];
  warnings: { line: number; message: string }[];
}

/**
 * Parses bag-info.txt text (any of LF, CR, CRLF). A line starting with a space or tab continues the
 * value above it: the line break and the indentation become one space. Blank lines are skipped.
 */
export function parseBagInfo(text: string): BagInfoParse {
  const fields: [string, string][] = [];
  const problems: BagInfoParse['problems'] = [];
  const warnings: BagInfoParse['warnings'] = [];
  const lines = text.split(/\r\n|\r|\n/);
  lines.forEach((line, i) => {
    const n = i + 1;
    if (line.trim() === '') return;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      const last = fields[fields.length - 1];
      if (last === undefined) problems.push({ line: n, message: 'a continuation line with no label above it' });
      else last[1] = last[1] === '' ? line.trim() : `${last[1]} ${line.trim()}`;
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) {
      problems.push({ line: n, message: `not 'Label: value': ${JSON.stringify(clip(line))}` });
      return;
    }
    const rawLabel = line.slice(0, colon);
    const label = rawLabel.trim();
    if (label !== rawLabel) warnings.push({ line: n, message: `the label '${label}' has blanks around it` });
    fields.push([label, line.slice(colon + 1).trim()]);
  });
  return { fields, problems, warnings };
}

function clip(s: string, n = 60): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

// ------------------------------------------------------------------------------------------------
// Writing

export interface BagInfo {
  /** bag-info.txt fields in order; Payload-Oxum and Bagging-Date are added after them. */
  fields: [string, string][];
}

export interface PayloadDigest {
  sha256: string;
  bytes: number;
}

export interface BagProgress {
  phase: 'scan' | 'hash';
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface WriteBagOptions {
  /**
   * Checksums the exporter computed while writing, keyed by bag-relative path with `/`
   * (`data/csv/items.csv`); those files are not read again. Files not in the map are hashed; a key
   * with no file, or a byte count that differs from the file's, is a BugError.
   */
  payload?: Map<string, PayloadDigest> | undefined;
  /** Bagging-Date (its UTC date). Default: now. */
  now?: Date | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((p: BagProgress) => void) | undefined;
}

export interface WrittenBag {
  payloadFiles: number;
  payloadBytes: number;
  /** `<bytes>.<files>` as in bag-info.txt. */
  payloadOxum: string;
  /** SHA-256 of manifest-sha256.txt (the audit trail and the exit certificate record it). */
  manifestSha256: string;
  tagManifestSha256: string;
}

const COMPUTED_LABELS = new Set(['payload-oxum', 'bagging-date']);

/**
 * Writes bagit.txt, manifest-sha256.txt, bag-info.txt and tagmanifest-sha256.txt into `dir`, whose
 * `data/` payload is already written. manifest-sha256.txt depends on the payload only: the same
 * files give the same bytes. Each tag file is written to a temporary name and renamed.
 */
export async function writeBagTags(dir: string, info: BagInfo, opts: WriteBagOptions = {}): Promise<WrittenBag> {
  for (const [label] of info.fields) {
    if (COMPUTED_LABELS.has(label.toLowerCase())) throw new BugError(`bag-info.txt ${label} is computed by writeBagTags, not given`);
  }
  const rootReal = await realpath(dir);
  const dataDir = await lstat(path.join(rootReal, 'data')).catch(() => undefined);
  if (!dataDir?.isDirectory()) throw new BugError(`${dir} has no data/ folder to bag`);
  const nodes = await walk(rootReal, { only: 'data', signal: opts.signal });
  const files: DiskNode[] = [];
  for (const node of nodes.values()) {
    if (node.kind === 'dir') continue;
    if (node.kind !== 'file' || node.symlink) throw new BugError(`${node.rel} is not a regular file; a bag forklift writes holds regular files only`);
    files.push(node);
  }
  files.sort((a, b) => compareBagPaths(a.rel, b.rel));
  const given = opts.payload ?? new Map<string, PayloadDigest>();
  for (const key of given.keys()) {
    if (nodes.get(key)?.kind !== 'file') throw new BugError(`precomputed checksum for ${key}, which is not a payload file of ${dir}`);
  }

  const bytesTotal = files.reduce((s, f) => s + f.size, 0);
  let filesDone = 0;
  let bytesDone = 0;
  const report = (): void => opts.onProgress?.({ phase: 'hash', filesDone, filesTotal: files.length, bytesDone, bytesTotal });
  const sums: string[] = new Array<string>(files.length);
  await eachLimit(files, 2, async (f, i) => {
    const pre = given.get(f.rel);
    if (pre !== undefined) {
      if (pre.bytes !== f.size) throw new BugError(`precomputed size of ${f.rel} is ${pre.bytes} bytes, the file has ${f.size}`);
      if (!/^[0-9a-f]{64}$/i.test(pre.sha256)) throw new BugError(`precomputed sha256 of ${f.rel} is not 64 hex digits`);
      sums[i] = pre.sha256.toLowerCase();
    } else {
      const d = await digestFile(f.abs, ['sha256'], { signal: opts.signal, onBytes: (n) => (bytesDone += n) });
      if (d.bytes !== f.size) throw new BugError(`${f.rel} changed while it was hashed`);
      sums[i] = d.digests.sha256 ?? '';
    }
    if (pre !== undefined) bytesDone += f.size;
    filesDone++;
    report();
  });

  const manifest = files.map((f, i) => `${sums[i] ?? ''}  ${encodeBagPath(f.rel)}\n`).join('');
  const payloadOxum = `${bytesTotal}.${files.length}`;
  const now = opts.now ?? new Date();
  await writeFileAtomic(path.join(rootReal, 'bagit.txt'), 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n');
  await writeFileAtomic(path.join(rootReal, 'manifest-sha256.txt'), manifest);
  await writeFileAtomic(
    path.join(rootReal, 'bag-info.txt'),
    formatBagInfo([...info.fields, ['Payload-Oxum', payloadOxum], ['Bagging-Date', now.toISOString().slice(0, 10)]]),
  );
  const tag = await writeTagManifest(rootReal, { signal: opts.signal });
  return {
    payloadFiles: files.length,
    payloadBytes: bytesTotal,
    payloadOxum,
    manifestSha256: createHash('sha256').update(manifest).digest('hex'),
    tagManifestSha256: tag.sha256,
  };
}

/**
 * (Re)writes tagmanifest-sha256.txt over every tag file: every file of the bag outside `data/`
 * (the bag root and tag folders), except the tag manifests themselves. Called by writeBagTags, and
 * again after a tag file is added (exit-certificate.json).
 */
export async function writeTagManifest(dir: string, opts: { signal?: AbortSignal | undefined } = {}): Promise<{ sha256: string; files: number }> {
  const rootReal = await realpath(dir);
  const nodes = await walk(rootReal, { skipTopLevel: 'data', signal: opts.signal });
  const files: DiskNode[] = [];
  for (const node of nodes.values()) {
    if (node.kind === 'dir' || TAG_MANIFEST.test(node.rel)) continue;
    if (node.kind !== 'file' || node.symlink) throw new BugError(`tag file ${node.rel} is not a regular file`);
    files.push(node);
  }
  files.sort((a, b) => compareBagPaths(a.rel, b.rel));
  let text = '';
  for (const f of files) {
    const d = await digestFile(f.abs, ['sha256'], { signal: opts.signal });
    text += `${d.digests.sha256 ?? ''}  ${encodeBagPath(f.rel)}\n`;
  }
  await writeFileAtomic(path.join(rootReal, 'tagmanifest-sha256.txt'), text);
  return { sha256: createHash('sha256').update(text).digest('hex'), files: files.length };
}

async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, text, 'utf8');
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

// ------------------------------------------------------------------------------------------------
// Validating

export type BagProblemKind =
  /** bagit.txt missing or not two lines `BagIt-Version` / `Tag-File-Character-Encoding`. */
  | 'declaration'
  | 'bom'
  | 'version'
  /** No data/ folder or no payload manifest. */
  | 'structure'
  /** A line of a manifest, fetch.txt or bag-info.txt that cannot be read as one. */
  | 'syntax'
  | 'unsafe-path'
  | 'duplicate'
  | 'missing'
  /** A payload file no payload manifest lists (1.0: not every payload manifest). */
  | 'extra'
  | 'mismatch'
  | 'oxum'
  /** A file listed in fetch.txt and not present: the bag is not complete. */
  | 'incomplete'
  | 'unsupported-algorithm'
  /** A directory, FIFO, device or dangling link where a file should be. */
  | 'not-regular'
  /** A tag file in a payload manifest, a payload file in a tag manifest, a fetch.txt entry outside data/. */
  | 'misplaced'
  | 'unreadable';

export interface BagProblem {
  kind: BagProblemKind;
  /** The file concerned, bag-relative, as written in a manifest (CR, LF, % percent-encoded). */
  file: string;
  /** What is wrong with it. */
  message: string;
  /** For a mismatch: the checksum the manifest gives and the file's. */
  expected?: string;
  actual?: string;
}

export interface FetchEntry {
  url: string;
  /** null for `-` (unknown). */
  length: number | null;
  path: string;
}

export interface BagReport {
  /** Complete, and every checksum of every manifest and tag manifest verified (RFC 8493 3). */
  valid: boolean;
  /** Every required file present, every listed file present, every payload file listed. */
  complete: boolean;
  version: string | undefined;
  encoding: string | undefined;
  problems: BagProblem[];
  /** Worth knowing, not invalidating: a tag file no tag manifest lists, an odd bag-info.txt label. */
  warnings: BagProblem[];
  /** bag-info.txt, in order, continuation lines joined. */
  info: [string, string][];
  /** Payload files present on disk, and their bytes (what Payload-Oxum is checked against). */
  payloadFiles: number;
  payloadBytes: number;
  /** Algorithms of the payload manifests, sorted. */
  algorithms: string[];
  tagAlgorithms: string[];
  fetch: FetchEntry[];
  /** What `digestsUnder` asked for: each file under that folder that was hashed, by its bag-relative path (as on disk), with its bytes. */
  digests: Record<string, FileDigests>;
}

export interface ValidateBagOptions {
  signal?: AbortSignal | undefined;
  /**
   * The payload files' checksums were checked a moment ago by this process (exit's last look at its
   * own bag, after adding tag files): every rule is checked again but the payload is not re-read.
   */
  payloadHashed?: boolean | undefined;
  onProgress?: ((p: BagProgress) => void) | undefined;
  /**
   * The payload files under `folder` (bag-relative, `data/csv/`) are also hashed with `algorithms`
   * in the same read as their manifest checks, and their digests returned: bundle verify compares
   * them with datapackage.json's hash and bytes of each resource without reading a CSV twice.
   */
  digestsUnder?: { folder: string; algorithms: DigestAlgorithm[] } | undefined;
}

export function formatBagProblem(p: BagProblem): string {
  return `${p.file}: ${p.message}`;
}

const PAYLOAD_MANIFEST = /^manifest-([a-z0-9]+)\.txt$/;
const TAG_MANIFEST = /^tagmanifest-([a-z0-9]+)\.txt$/;
const KNOWN_VERSIONS = new Set(['0.97', '1.0']);
const HEX_LENGTH: Record<DigestAlgorithm, number> = { md5: 32, sha1: 40, sha224: 56, sha256: 64, sha384: 96, sha512: 128 };
/** Problems that make a bag incomplete, not only invalid. */
const INCOMPLETE_KINDS = new Set<BagProblemKind>(['declaration', 'structure', 'missing', 'extra', 'incomplete']);
/** Tag files are small; a bigger bagit.txt or bag-info.txt is not one. */
const MAX_DECLARATION_BYTES = 64 * 1024;
const MAX_BAG_INFO_BYTES = 16 * 1024 * 1024;

function isDigestAlgorithm(a: string): a is DigestAlgorithm {
  return Object.hasOwn(HEX_LENGTH, a);
}

interface ManifestEntry {
  rel: string;
  encoded: string;
  checksum: string;
  line: number;
}

interface Manifest {
  name: string;
  node: DiskNode;
  algorithm: string;
  supported: boolean;
  payload: boolean;
  entries: Map<string, ManifestEntry>;
}

interface HashJob {
  node: DiskNode;
  file: string;
  checks: { algorithm: DigestAlgorithm; expected: string; manifest: string; line: number }[];
}

/**
 * Validates the bag in `dir` against RFC 8493 and returns every problem found (it does not stop at
 * the first). Throws only when `dir` is not a readable folder (ConfigError) or on abort.
 */
export async function validateBag(dir: string, opts: ValidateBagOptions = {}): Promise<BagReport> {
  const { signal } = opts;
  let rootReal: string;
  try {
    rootReal = await realpath(dir);
    if (!(await stat(rootReal)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (e) {
    throw new ConfigError(`${dir} is not a folder that can be read`, {
      code: 'bag.not-a-folder',
      hint: 'Give the folder of an unpacked bag (the one holding bagit.txt).',
      cause: e,
    });
  }

  const problems: BagProblem[] = [];
  const warnings: BagProblem[] = [];
  const problem = (kind: BagProblemKind, file: string, message: string, extra: Partial<BagProblem> = {}): void => {
    problems.push({ kind, file, message, ...extra });
  };

  opts.onProgress?.({ phase: 'scan', filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0 });
  const nodes = await walk(rootReal, {
    signal,
    onUnreadable: (rel, e) => problem('unreadable', `${encodeBagPath(rel)}/`, `a folder that cannot be listed: ${(e as Error).message}`),
  });
  const display = (rel: string): string => encodeBagPath(rel);

  // Anything on disk that must never be read, wherever it is.
  for (const node of nodes.values()) {
    const f = display(node.rel);
    if (node.kind === 'link-outside') problem('unsafe-path', f, 'a symbolic link leading outside the bag; not read');
    else if (node.kind === 'link-dir') problem('not-regular', f, 'a symbolic link to a directory; not followed');
    else if (node.kind === 'link-dangling') problem('not-regular', f, 'a dangling symbolic link');
    else if (node.kind === 'special') problem('not-regular', f, 'not a regular file (a FIFO, socket or device); not read');
  }

  // bagit.txt
  let version: string | undefined;
  let encoding: string | undefined;
  let decoderLabel = 'utf-8';
  const declaration = nodes.get('bagit.txt');
  if (declaration?.kind !== 'file') {
    problem('declaration', 'bagit.txt', 'missing: every bag starts with bagit.txt (RFC 8493 2.1.1)');
  } else {
    const parsed = await readDeclaration(declaration, problem);
    version = parsed.version;
    encoding = parsed.encoding;
    if (encoding !== undefined) {
      try {
        decoderLabel = new TextDecoder(encoding).encoding;
      } catch {
        problem('declaration', 'bagit.txt', `Tag-File-Character-Encoding ${encoding} is not an encoding this validator can read; tag files read as UTF-8`);
      }
    }
  }
  const v097 = version === '0.97';

  const data = nodes.get('data');
  if (data?.kind !== 'dir') problem('structure', 'data/', 'missing: the payload directory data/ is required (RFC 8493 2.1.2)');

  // Manifests
  const manifests: Manifest[] = [];
  const rootNames = [...nodes.values()].filter((n) => !n.rel.includes('/') && n.kind === 'file').map((n) => n.rel);
  rootNames.sort(compareBagPaths);
  for (const name of rootNames) {
    const node = nodes.get(name);
    if (node === undefined) continue;
    const pm = PAYLOAD_MANIFEST.exec(name);
    const tm = TAG_MANIFEST.exec(name);
    const algorithm = pm?.[1] ?? tm?.[1];
    if (algorithm === undefined) continue;
    const supported = isDigestAlgorithm(algorithm);
    if (!supported) problem('unsupported-algorithm', name, `cannot be checked: ${algorithm} is not an algorithm this validator knows (md5, sha1, sha224, sha256, sha384, sha512)`);
    manifests.push({ name, node, algorithm, supported, payload: pm !== null, entries: new Map() });
  }
  const payloadManifests = manifests.filter((m) => m.payload);
  const tagManifests = manifests.filter((m) => !m.payload);
  if (payloadManifests.length === 0) problem('structure', 'manifest-<algorithm>.txt', 'no payload manifest: a bag needs at least one (RFC 8493 2.1.3)');

  for (const m of manifests) {
    await readManifest(m, decoderLabel, problem, signal);
  }

  // fetch.txt
  const fetch: FetchEntry[] = [];
  const fetchPaths = new Set<string>();
  const fetchNode = nodes.get('fetch.txt');
  if (fetchNode?.kind === 'file') {
    await readFetch(fetchNode, decoderLabel, fetch, fetchPaths, problem, signal);
  }

  // Resolve manifest paths against the walk.
  const nfc = new Map<string, DiskNode | null>();
  for (const node of nodes.values()) {
    if (node.kind !== 'file') continue;
    const key = node.rel.normalize('NFC');
    nfc.set(key, nfc.has(key) ? null : node);
  }
  const resolve = (rel: string): DiskNode | undefined => {
    const exact = nodes.get(rel);
    if (exact !== undefined) return exact;
    // A bag made on a file system that stores names decomposed (macOS HFS+) and listed composed, or
    // the other way round (RFC 8493 6.2): match by NFC when that is unambiguous.
    return nfc.get(rel.normalize('NFC')) ?? undefined;
  };
  /** A link or file on the way to rel (data/link/x.csv), which is then not reached. */
  const blockedBy = (rel: string): DiskNode | undefined => {
    const segs = rel.split('/');
    for (let i = 1; i < segs.length; i++) {
      const n = nodes.get(segs.slice(0, i).join('/'));
      if (n !== undefined && n.kind !== 'dir') return n;
    }
    return undefined;
  };

  const jobs = new Map<string, HashJob>();
  const covered = new Map<Manifest, Set<string>>();
  const missing = new Map<string, string[]>();
  const pendingFetch = new Set<string>();
  for (const m of manifests) {
    const seen = new Set<string>();
    covered.set(m, seen);
    for (const e of m.entries.values()) {
      if (e.rel === m.name) {
        problem('syntax', m.name, `line ${e.line}: a tag manifest cannot list itself`);
        continue;
      }
      const node = resolve(e.rel);
      if (node === undefined) {
        const blocker = blockedBy(e.rel);
        if (blocker !== undefined) {
          if (blocker.kind === 'file') problem('missing', e.encoded, `missing: ${display(blocker.rel)} is a file, not a folder (listed in ${m.name} line ${e.line})`);
          // A link or special file on the way is reported once, from the walk.
          continue;
        }
        if (m.payload && fetchPaths.has(e.rel)) {
          pendingFetch.add(e.rel);
          continue;
        }
        const list = missing.get(e.encoded) ?? [];
        list.push(m.name);
        missing.set(e.encoded, list);
        continue;
      }
      seen.add(node.rel);
      if (node.kind === 'dir') {
        problem('not-regular', e.encoded, `a directory, not a file (listed in ${m.name} line ${e.line})`);
        continue;
      }
      if (node.kind !== 'file' || !m.supported) continue;
      const job = jobs.get(node.rel) ?? { node, file: e.encoded, checks: [] };
      job.checks.push({ algorithm: m.algorithm as DigestAlgorithm, expected: e.checksum, manifest: m.name, line: e.line });
      jobs.set(node.rel, job);
    }
  }
  for (const [file, names] of missing) problem('missing', file, `missing (listed in ${names.join(', ')})`);
  for (const rel of [...pendingFetch].sort(compareBagPaths)) {
    problem('incomplete', display(rel), 'not present, listed in fetch.txt: the bag is not complete (fetch.txt is never followed)');
  }

  // Payload files on disk: each must be listed (1.0: in every payload manifest; 0.97: in one).
  let payloadFiles = 0;
  let payloadBytes = 0;
  const payloadNodes = [...nodes.values()].filter((n) => n.kind === 'file' && n.rel.startsWith('data/')).sort((a, b) => compareBagPaths(a.rel, b.rel));
  for (const node of payloadNodes) {
    payloadFiles++;
    payloadBytes += node.size;
    if (payloadManifests.length === 0) continue;
    const notIn = payloadManifests.filter((m) => !covered.get(m)?.has(node.rel)).map((m) => m.name);
    if (notIn.length === payloadManifests.length) problem('extra', display(node.rel), 'not listed in any payload manifest');
    else if (notIn.length > 0 && !v097) problem('extra', display(node.rel), `not listed in ${notIn.join(', ')} (BagIt 1.0: every payload manifest lists every payload file)`);
  }

  // fetch.txt entries must be listed in every payload manifest (RFC 8493 2.2.3).
  for (const rel of fetchPaths) {
    const notIn = payloadManifests.filter((m) => !m.entries.has(rel)).map((m) => m.name);
    if (notIn.length > 0) problem('misplaced', display(rel), `listed in fetch.txt but not in ${notIn.join(', ')}`);
  }

  // Tag files no tag manifest lists: allowed, worth a word when there are tag manifests.
  if (tagManifests.length > 0) {
    for (const node of nodes.values()) {
      if (node.kind !== 'file' || node.rel.startsWith('data/') || TAG_MANIFEST.test(node.rel)) continue;
      if (!tagManifests.some((m) => covered.get(m)?.has(node.rel))) warnings.push({ kind: 'extra', file: display(node.rel), message: 'a tag file no tag manifest lists; its content is not protected' });
    }
  }

  // bag-info.txt
  const info: [string, string][] = [];
  const infoNode = nodes.get('bag-info.txt');
  if (infoNode?.kind === 'file') {
    const text = await readSmallText(infoNode, decoderLabel, MAX_BAG_INFO_BYTES, problem);
    if (text !== undefined) {
      const parsed = parseBagInfo(text);
      info.push(...parsed.fields);
      for (const p of parsed.problems) problem('syntax', 'bag-info.txt', `line ${p.line}: ${p.message}`);
      for (const w of parsed.warnings) warnings.push({ kind: 'syntax', file: 'bag-info.txt', message: `line ${w.line}: ${w.message}` });
    }
  }
  const oxums = info.filter(([label]) => label.toLowerCase() === 'payload-oxum');
  if (oxums.length > 1) problem('oxum', 'bag-info.txt', `Payload-Oxum is given ${oxums.length} times; it must not be repeated`);
  for (const [, value] of oxums) {
    const m = /^(\d+)\.(\d+)$/.exec(value);
    if (m === null) problem('oxum', 'bag-info.txt', `Payload-Oxum '${clip(value)}' is not <bytes>.<files>`);
    else if (pendingFetch.size === 0 && (Number(m[1]) !== payloadBytes || Number(m[2]) !== payloadFiles)) {
      problem('oxum', 'bag-info.txt', `Payload-Oxum ${value} does not match the payload: ${payloadBytes}.${payloadFiles} (${payloadBytes} bytes in ${payloadFiles} files)`);
    }
  }

  // Checksums: every file once, all its algorithms in one read.
  const work = [...jobs.values()].filter((j) => !(opts.payloadHashed && j.node.rel.startsWith('data/'))).sort((a, b) => compareBagPaths(a.node.rel, b.node.rel));
  const bytesTotal = work.reduce((s, j) => s + j.node.size, 0);
  let filesDone = 0;
  let bytesDone = 0;
  let lastReport = 0;
  const report = (): void => opts.onProgress?.({ phase: 'hash', filesDone, filesTotal: work.length, bytesDone, bytesTotal });
  report();
  const found: BagProblem[][] = work.map(() => []);
  const digests: Record<string, FileDigests> = {};
  const asked = opts.digestsUnder;
  await eachLimit(work, 4, async (job, i) => {
    const kept = asked !== undefined && job.node.rel.startsWith(asked.folder);
    const algorithms = [...new Set([...job.checks.map((c) => c.algorithm), ...(kept ? asked.algorithms : [])])];
    let result;
    try {
      result = await digestFile(job.node.abs, algorithms, {
        signal,
        onBytes: (n) => {
          bytesDone += n;
          if (bytesDone - lastReport >= 64 * 1024 * 1024) {
            lastReport = bytesDone;
            report();
          }
        },
      });
    } catch (e) {
      if (signal?.aborted) throw e;
      found[i]?.push({ kind: 'unreadable', file: job.file, message: `cannot be read: ${(e as Error).message}` });
      filesDone++;
      return;
    }
    if (kept) digests[job.node.rel] = result;
    for (const c of job.checks) {
      const actual = result.digests[c.algorithm] ?? '';
      if (actual !== c.expected) {
        found[i]?.push({
          kind: 'mismatch',
          file: job.file,
          message: `${c.algorithm} mismatch (manifest ${abbreviate(c.expected, actual)}, file ${abbreviate(actual, c.expected)})`,
          expected: c.expected,
          actual,
        });
      }
    }
    filesDone++;
    report();
  });
  for (const list of found) problems.push(...list);

  const complete = !problems.some((p) => INCOMPLETE_KINDS.has(p.kind));
  return {
    valid: problems.length === 0,
    complete,
    version,
    encoding,
    problems,
    warnings,
    info,
    payloadFiles,
    payloadBytes,
    algorithms: payloadManifests.map((m) => m.algorithm).sort(),
    tagAlgorithms: tagManifests.map((m) => m.algorithm).sort(),
    fetch,
    digests,
  };
}

/** The first 12 hex digits, or more if that is what it takes to tell the two apart. */
function abbreviate(hex: string, other: string): string {
  let n = 12;
  while (n < hex.length && hex.slice(0, n) === other.slice(0, n)) n += 8;
  return n >= hex.length ? hex : `${hex.slice(0, n)}…`;
}

type AddProblem = (kind: BagProblemKind, file: string, message: string, extra?: Partial<BagProblem>) => void;

async function readDeclaration(node: DiskNode, problem: AddProblem): Promise<{ version?: string; encoding?: string }> {
  if (node.size > MAX_DECLARATION_BYTES) {
    problem('declaration', 'bagit.txt', `${node.size} bytes: not a bag declaration (two short lines)`);
    return {};
  }
  let bytes = await readBytes(node.abs, MAX_DECLARATION_BYTES);
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    problem('bom', 'bagit.txt', 'starts with a byte-order mark, which RFC 8493 2.1.1 forbids');
    bytes = bytes.subarray(3);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    problem('declaration', 'bagit.txt', 'not valid UTF-8 (RFC 8493 2.1.1)');
    return {};
  }
  const lines = text.split(/\r\n|\r|\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  const out: { version?: string; encoding?: string } = {};
  const v = /^BagIt-Version:[ \t]*(\S+)[ \t]*$/.exec(lines[0] ?? '');
  const e = /^Tag-File-Character-Encoding:[ \t]*(\S+)[ \t]*$/.exec(lines[1] ?? '');
  if (v?.[1] === undefined) problem('declaration', 'bagit.txt', `line 1 must be 'BagIt-Version: M.N', found ${JSON.stringify(clip(lines[0] ?? ''))}`);
  else {
    out.version = v[1];
    if (!KNOWN_VERSIONS.has(v[1])) problem('version', 'bagit.txt', `unknown BagIt version ${clip(v[1])} (this validator knows 0.97 and 1.0)`);
  }
  if (e?.[1] === undefined) problem('declaration', 'bagit.txt', `line 2 must be 'Tag-File-Character-Encoding: ENCODING', found ${JSON.stringify(clip(lines[1] ?? ''))}`);
  else out.encoding = e[1];
  if (lines.length > 2) problem('declaration', 'bagit.txt', `${lines.length} lines; a bag declaration has exactly two`);
  return out;
}

async function readManifest(m: Manifest, decoder: string, problem: AddProblem, signal: AbortSignal | undefined): Promise<void> {
  const hexLength = isDigestAlgorithm(m.algorithm) ? HEX_LENGTH[m.algorithm] : undefined;
  try {
    for await (const { text: line, n } of readLines(m.node.abs, decoder, signal)) {
      if (line.trim() === '') continue;
      const match = /^(\S+)[ \t]+(.*)$/.exec(line);
      if (match === null) {
        problem('syntax', m.name, `line ${n}: expected '<checksum> <path>', found ${JSON.stringify(clip(line))}`);
        continue;
      }
      const checksum = (match[1] ?? '').toLowerCase();
      // sha256sum -b writes `<checksum> *<path>`; a payload path always starts with data/, so a
      // leading * is that marker, never part of a name.
      let encoded = match[2] ?? '';
      if (encoded.startsWith('*') && (!m.payload || encoded.startsWith('*data/'))) encoded = encoded.slice(1);
      if (hexLength !== undefined && (checksum.length !== hexLength || !/^[0-9a-f]+$/.test(checksum))) {
        problem('syntax', m.name, `line ${n}: ${JSON.stringify(clip(match[1] ?? ''))} is not a ${m.algorithm} checksum (${hexLength} hex digits)`);
        continue;
      }
      const checked = checkBagRelPath(decodeBagPath(encoded));
      if (!checked.ok) {
        problem('unsafe-path', encoded, `${checked.problem} (${m.name} line ${n}); not read`);
        continue;
      }
      const rel = checked.rel;
      const inPayload = rel.startsWith('data/');
      if (m.payload && !inPayload) {
        problem('misplaced', encoded, `not in the payload directory data/, yet listed in payload manifest ${m.name} line ${n}`);
        continue;
      }
      if (!m.payload && (inPayload || rel === 'data')) {
        problem('misplaced', encoded, `a payload file listed in tag manifest ${m.name} line ${n} (RFC 8493 2.2.1)`);
        continue;
      }
      const before = m.entries.get(rel);
      if (before !== undefined) {
        problem('duplicate', encodeBagPath(rel), `listed twice in ${m.name} (lines ${before.line} and ${n})`);
        continue;
      }
      m.entries.set(rel, { rel, encoded: encodeBagPath(rel), checksum, line: n });
    }
  } catch (e) {
    if (signal?.aborted) throw e;
    problem('unreadable', m.name, unreadable(e, decoder));
  }
}

async function readFetch(
  node: DiskNode,
  decoder: string,
  fetch: FetchEntry[],
  fetchPaths: Set<string>,
  problem: AddProblem,
  signal: AbortSignal | undefined,
): Promise<void> {
  try {
    for await (const { text: line, n } of readLines(node.abs, decoder, signal)) {
      // No blank line is skipped: RFC 8493 2.2.3 makes every line of fetch.txt `URL LENGTH FILENAME`.
      const match = /^(\S+)[ \t]+(\d+|-)[ \t]+(.+)$/.exec(line);
      if (match === null) {
        problem('syntax', 'fetch.txt', `line ${n}: expected '<url> <length> <path>', found ${JSON.stringify(clip(line))}`);
        continue;
      }
      const [, url = '', length = '-', encoded = ''] = match;
      const checked = checkBagRelPath(decodeBagPath(encoded));
      if (!checked.ok) {
        problem('unsafe-path', encoded, `${checked.problem} (fetch.txt line ${n})`);
        continue;
      }
      if (!checked.rel.startsWith('data/')) {
        problem('misplaced', encoded, `fetch.txt line ${n} lists a file outside data/; fetch.txt lists payload files only (RFC 8493 2.2.3)`);
        continue;
      }
      if (fetchPaths.has(checked.rel)) {
        problem('duplicate', encodeBagPath(checked.rel), `listed twice in fetch.txt (line ${n})`);
        continue;
      }
      fetchPaths.add(checked.rel);
      fetch.push({ url, length: length === '-' ? null : Number(length), path: checked.rel });
    }
  } catch (e) {
    if (signal?.aborted) throw e;
    problem('unreadable', 'fetch.txt', unreadable(e, decoder));
  }
}

function unreadable(e: unknown, decoder: string): string {
  const code = (e as { code?: string } | undefined)?.code;
  if (code === 'ERR_ENCODING_INVALID_ENCODED_DATA') return `not valid ${decoder} text (Tag-File-Character-Encoding)`;
  return `cannot be read: ${(e as Error).message}`;
}

async function readSmallText(node: DiskNode, decoder: string, max: number, problem: AddProblem): Promise<string | undefined> {
  if (node.size > max) {
    problem('unreadable', node.rel, `${node.size} bytes; a tag file this validator parses is at most ${max}`);
    return undefined;
  }
  try {
    return new TextDecoder(decoder, { fatal: true }).decode(await readBytes(node.abs, max));
  } catch (e) {
    problem('unreadable', node.rel, unreadable(e, decoder));
    return undefined;
  }
}

async function readBytes(file: string, max: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(max + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n === buf.length) break;
    }
    return buf.subarray(0, Math.min(n, max));
  } finally {
    await fh.close();
  }
}

/** The lines of a text file (LF, CR or CRLF), decoded as they stream; a UTF-8 BOM is dropped. */
async function* readLines(file: string, encoding: string, signal: AbortSignal | undefined): AsyncGenerator<{ text: string; n: number }> {
  const decoder = new TextDecoder(encoding, { fatal: true });
  let carry = '';
  let n = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 16 })) {
    signal?.throwIfAborted();
    let text = carry + decoder.decode(chunk as Buffer, { stream: true });
    // A CR at the end may be the first half of a CRLF.
    const heldCr = text.endsWith('\r');
    if (heldCr) text = text.slice(0, -1);
    const parts = text.split(/\r\n|\r|\n/);
    carry = (parts.pop() ?? '') + (heldCr ? '\r' : '');
    for (const part of parts) yield { text: part, n: ++n };
  }
  const parts = (carry + decoder.decode()).split(/\r\n|\r|\n/);
  if (parts[parts.length - 1] === '') parts.pop();
  for (const part of parts) yield { text: part, n: ++n };
}
