/**
 * Zipped bundles. zipFolder writes a deterministic zip (yazl): the same files give the same bytes,
 * whatever their mtimes, permissions, the order the disk lists them in or the machine's timezone.
 * openZippedBag unpacks one (yauzl) into a temporary folder for verify and import, refusing what a
 * hostile archive could use: paths leading out, symbolic links, devices, duplicate names,
 * encrypted entries, entries that inflate beyond the size their header declares, and more entries
 * or bytes than allowed.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { openPromise, type Entry } from 'yauzl';
import { ZipFile as ZipWriter } from 'yazl';
import { BugError, BundleError, ConfigError } from '../core/errors.js';
import { checkBagRelPath, compareBagPaths } from './bagit.js';
import { dropWork, scratchDir } from '../util/work-path.js';

/**
 * 1980-01-01 00:00:00, the first time a zip can hold. yazl encodes the DOS date and time from the
 * local-time getters of the Date it is given, so the Date is built from local components: its
 * getters give back 1980-01-01 00:00:00 in every timezone. `forceDosTimestamp` drops the extended
 * timestamp extra field, which would carry the (timezone-dependent) UTC instant.
 */
function fixedMtime(): Date {
  return new Date(1980, 0, 1, 0, 0, 0);
}

/** rw-r--r-- regular file: no executable bit or umask leaks into the archive. */
const FILE_MODE = 0o100644;

export interface ZipFolderOptions {
  /** Deflate (the default) or store. */
  compress?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

export interface ZippedFolder {
  files: number;
  /** Size of the zip file. */
  bytes: number;
  /** SHA-256 of the zip file, computed as it was written. */
  sha256: string;
}

/**
 * Zips every file under `dir`, named by its path relative to `dir` (to zip a bag as a bag should
 * be, one top-level folder named like the bag, give the folder that holds the bag folder). Entries
 * are in UTF-8 byte order of their paths, with a fixed date, mode 0644, no extra fields, no
 * directory entries and no comments. Written to a temporary file and renamed onto `outFile`.
 * Only regular files and folders may be under `dir`.
 */
export async function zipFolder(dir: string, outFile: string, opts: ZipFolderOptions = {}): Promise<ZippedFolder> {
  const files = await listFiles(dir);
  const zip = new ZipWriter();
  const mtime = fixedMtime();
  for (const f of files) {
    zip.addReadStreamLazy(
      f.rel,
      { mtime, mode: FILE_MODE, forceDosTimestamp: true, compress: opts.compress ?? true, size: f.size },
      (cb) => cb(null, createReadStream(f.abs)),
    );
  }
  zip.end();
  const tmp = `${outFile}.${process.pid}.tmp`;
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      hash.update(chunk);
      bytes += chunk.length;
      cb(null, chunk);
    },
  });
  // yazl reports a failed read on the ZipFile, not on its output stream.
  const out = zip.outputStream as NodeJS.ReadableStream & { destroy(e?: Error): void };
  zip.on('error', (e: Error) => out.destroy(e));
  try {
    await pipeline(out, tap, createWriteStream(tmp), ...(opts.signal ? [{ signal: opts.signal }] : []));
    await rename(tmp, outFile);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return { files: files.length, bytes, sha256: hash.digest('hex') };
}

async function listFiles(dir: string): Promise<{ rel: string; abs: string; size: number }[]> {
  const out: { rel: string; abs: string; size: number }[] = [];
  const visit = async (abs: string, rel: string): Promise<void> => {
    for (const d of await readdir(abs, { withFileTypes: true })) {
      const childAbs = path.join(abs, d.name);
      const childRel = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) await visit(childAbs, childRel);
      else if (d.isFile()) out.push({ rel: childRel, abs: childAbs, size: (await lstat(childAbs)).size });
      else throw new BugError(`${childAbs} is not a regular file or folder; zipFolder zips only those`);
    }
  };
  await visit(dir, '');
  return out.sort((a, b) => compareBagPaths(a.rel, b.rel));
}

export interface OpenZipOptions {
  /** Refuse an archive with more entries. Default 1,000,000. */
  maxEntries?: number | undefined;
  /** Refuse an archive whose entries declare more bytes in all (also capped by the free space). Default 1 TiB. */
  maxBytes?: number | undefined;
  /** Where the temporary folder goes. Default: the OS temp folder. */
  tmpDir?: string | undefined;
  signal?: AbortSignal | undefined;
}

export interface OpenedZip {
  /** The bag folder: the archive's single top-level folder, or the extraction folder if bagit.txt is at the top. */
  dir: string;
  /** The temporary folder everything was extracted into. */
  root: string;
  /** Removes the temporary folder (synchronous, so a `finally` needs no await). */
  cleanup: () => void;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/**
 * Extracts `zipFile` into a new temporary folder, entry by entry, refusing the whole archive at the
 * first unsafe entry (BundleError, exit 1; the folder is removed). Files are created 0644 with
 * O_EXCL, never through an existing path, whatever mode the archive gives them.
 */
export async function openZippedBag(zipFile: string, opts: OpenZipOptions = {}): Promise<OpenedZip> {
  const maxEntries = opts.maxEntries ?? 1_000_000;
  let zip;
  try {
    zip = await openPromise(zipFile, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true, strictFileNames: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') throw new ConfigError(`${zipFile}: no such zip file`, { code: 'bundle.missing', cause: e });
    throw new BundleError(`${zipFile} is not a readable zip archive: ${(e as Error).message}`, { code: 'bundle.zip-invalid', cause: e });
  }
  // yauzl reports a failure to close the file as an 'error' event; it must not crash the process.
  zip.on('error', () => undefined);
  const root = scratchDir('forklift-bundle-', 'unzip', opts.tmpDir ?? tmpdir());
  const cleanup = (): void => dropWork(root);
  const refuse = (entry: string, why: string, cause?: unknown): BundleError =>
    new BundleError(`${zipFile}: refused${entry === '' ? '' : ` entry ${JSON.stringify(entry)}`}: ${why}`, {
      code: 'bundle.zip-unsafe',
      hint: 'Nothing from this archive is used. Unzip it by hand only if you trust where it came from.',
      location: entry === '' ? { file: zipFile } : { file: zipFile, where: entry },
      ...(cause === undefined ? {} : { cause }),
    });
  try {
    if (zip.entryCount > maxEntries) throw refuse('', `${zip.entryCount} entries, more than the ${maxEntries} allowed`);
    const free = await statfs(root).then((s) => s.bavail * s.bsize, () => Number.POSITIVE_INFINITY);
    const maxBytes = Math.min(opts.maxBytes ?? 2 ** 40, free);
    let declared = 0;
    const seen = new Set<string>();
    const iterator = zip.eachEntry();
    for (;;) {
      opts.signal?.throwIfAborted();
      let next: IteratorResult<Entry>;
      try {
        next = await iterator.next();
      } catch (e) {
        // yauzl refuses absolute paths, `..` and backslashes itself (strictFileNames).
        throw refuse('', (e as Error).message, e);
      }
      if (next.done) break;
      const entry = next.value;
      const name = entry.fileName;
      const unixMode = entry.versionMadeBy >> 8 === 3 || entry.versionMadeBy >> 8 === 19 ? (entry.externalFileAttributes >>> 16) & 0xffff : 0;
      const type = unixMode & S_IFMT;
      if (type === S_IFLNK) throw refuse(name, 'a symbolic link');
      if (type !== 0 && type !== S_IFREG && type !== S_IFDIR) throw refuse(name, 'not a regular file or folder');
      const isDir = name.endsWith('/') || type === S_IFDIR;
      const checked = checkBagRelPath(isDir ? name.replace(/\/+$/, '') : name);
      if (!checked.ok) throw refuse(name, checked.problem);
      if (seen.has(checked.rel)) throw refuse(name, 'a second entry with the same path');
      seen.add(checked.rel);
      const dest = path.join(root, ...checked.rel.split('/'));
      if (isDir) {
        await mkdir(dest, { recursive: true });
        continue;
      }
      if (entry.isEncrypted()) throw refuse(name, 'encrypted');
      if (!entry.canDecodeFileData()) throw refuse(name, `compression method ${entry.compressionMethod} is not supported`);
      declared += entry.uncompressedSize;
      if (declared > maxBytes) throw refuse(name, `the entries declare more than ${maxBytes} bytes (the limit, or the free space)`);
      await mkdir(path.dirname(dest), { recursive: true });
      try {
        const input = await zip.openReadStreamPromise(entry);
        await pipeline(input, byteLimit(entry.uncompressedSize), createWriteStream(dest, { flags: 'wx', mode: 0o644 }), ...(opts.signal ? [{ signal: opts.signal }] : []));
      } catch (e) {
        if (opts.signal?.aborted) throw e;
        throw refuse(name, (e as Error).message, e);
      }
    }
    zip.close();
    return { dir: await bagDir(root), root, cleanup };
  } catch (e) {
    zip.close();
    cleanup();
    throw e;
  }
}

/** Fails as soon as more bytes come out than the header declared (yauzl checks too; this is the backstop). */
function byteLimit(limit: number): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      n += chunk.length;
      if (n > limit) cb(new Error(`inflates to more than the ${limit} bytes its header declares`));
      else cb(null, chunk);
    },
  });
}

/** bagit.txt at the top, or the single top-level folder (RFC 8493 4: a serialised bag holds one). */
async function bagDir(root: string): Promise<string> {
  const top = await readdir(root, { withFileTypes: true });
  if (top.some((d) => d.name === 'bagit.txt')) return root;
  const [only] = top;
  if (top.length === 1 && only?.isDirectory()) return path.join(root, only.name);
  return root;
}

/**
 * Whether `zipFile` is a zipped bag, as openZippedBag would find it (bagit.txt at the top, or in
 * the single top-level folder), from the entry names alone: nothing is unpacked.
 */
export async function zipHoldsBag(zipFile: string): Promise<boolean> {
  let zip;
  try {
    zip = await openPromise(zipFile, { lazyEntries: true, autoClose: false, decodeStrings: true, strictFileNames: true });
  } catch {
    return false;
  }
  zip.on('error', () => undefined);
  try {
    const top = new Set<string>();
    let declared = false;
    for await (const entry of zip.eachEntry()) {
      const parts = entry.fileName.replace(/\/+$/, '').split('/');
      top.add(parts[0]!);
      if (parts.length <= 2 && parts[parts.length - 1] === 'bagit.txt') declared = true;
    }
    return declared && (top.has('bagit.txt') || top.size === 1);
  } catch {
    return false;
  } finally {
    zip.close();
  }
}
