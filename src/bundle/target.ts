import { existsSync, linkSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { BundleError, ConfigError } from '../core/errors.js';
import { sqlitePath } from '../stores/url.js';

/**
 * Where export, exit and purge may write a bundle, checked before any work (exit 2): every parent
 * of the target that exists is a folder, none is a bundle (a file added inside one breaks its
 * checksums and Payload-Oxum) or a bundle being written; and what `exit --force` may replace.
 */

export interface TargetLabel {
  /** How the target was given, for messages: `--to out/acme`, `--archive a/p`, `out/acme`. */
  label: string;
  /** The error code of a refusal. */
  code: string;
}

/** A work folder of export, exit or purge (`X.partial-…`, `X.exit-partial-…`, `X.purge-partial-…`). */
const WORK_FOLDER = /\.(?:[a-z]+-)?partial-[0-9a-f]{8}$/;

function shown(p: string): string {
  return path.relative(process.cwd(), p) || p;
}

/**
 * `target` (absolute) may hold a new bundle: its parents are folders, outside every bundle.
 * `folder`: the target itself, where it exists, must be a folder too (a purge's archive, which a
 * rerun finds there).
 */
export function checkBundleTarget(target: string, opts: TargetLabel & { folder?: boolean }): void {
  const refuse = (why: string, hint: string): never => {
    throw new ConfigError(`${opts.label} ${why}`, { code: opts.code, hint });
  };
  if (opts.folder && existsSync(target) && !statSync(target).isDirectory()) refuse('is a file, not a folder', 'Give a folder (new, or empty) for the bundle.');
  let existing: string | undefined;
  for (let dir = path.dirname(target); ; dir = path.dirname(dir)) {
    if (existing === undefined && existsSync(dir)) {
      existing = dir;
      if (!statSync(dir).isDirectory()) refuse(`cannot be made: ${shown(dir)} is a file, not a folder`, 'Choose a bundle folder whose parents are folders.');
    }
    if (existsSync(path.join(dir, 'bagit.txt'))) refuse(`is inside the bundle ${shown(dir)}`, 'Choose a folder outside every bundle: a file added inside a bundle breaks its checksums.');
    if (WORK_FOLDER.test(path.basename(dir))) refuse(`is inside ${shown(dir)}, a bundle being written`, 'Choose a folder outside every bundle.');
    if (path.dirname(dir) === dir) return;
  }
}

/**
 * Makes the target's parent folders. What the checks above cannot see (a link that points
 * nowhere, a folder this user may not write) is a failure to write, exit 1, saying which.
 */
export function makeTargetParent(target: string, opts: TargetLabel): void {
  try {
    mkdirSync(path.dirname(target), { recursive: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === undefined) throw e;
    throw new BundleError(`${opts.label} cannot be made: ${(e as Error).message}`, {
      code: opts.code,
      hint: 'Check that its parent folder exists (a link that points nowhere is not one) and can be written, or choose another folder.',
      cause: e,
    });
  }
}

/**
 * What `exit --force` may replace at `dest`: a bundle folder (it holds bagit.txt), an empty
 * folder, or with `zip` a zipped bundle; never anything else, and never a folder that holds the
 * source store's file. The old one is removed only once the new bundle is in place and recorded;
 * this decides whether it may be removed at all.
 */
export async function checkReplaceable(dest: string, opts: { code: string; source: string; zip: boolean }): Promise<void> {
  const refuse = (why: string, hint: string): never => {
    throw new ConfigError(`--force cannot replace ${shown(dest)}: ${why}`, { code: opts.code, hint });
  };
  const file = storeFile(opts.source);
  if (file !== null && (file === real(dest) || isInside(file, real(dest)))) {
    refuse(`it ${file === real(dest) ? 'is' : 'holds'} the source store ${opts.source}`, 'Write the bundle to a folder of its own, away from the store it is taken from.');
  }
  const st = statSync(dest);
  if (opts.zip) {
    if (!st.isFile()) refuse('it is not a file', 'Choose a new name for the zipped bundle.');
    const { zipHoldsBag } = await import('./zip.js');
    if (!(await zipHoldsBag(dest))) refuse('it is not a zipped bundle', 'Choose a new name for the zipped bundle, or remove that file yourself.');
    return;
  }
  if (!st.isDirectory()) refuse('it is a file, not a bundle folder', 'Choose a new bundle folder, or remove that file yourself.');
  const names = readdirSync(dest);
  if (names.length > 0 && !names.includes('bagit.txt')) {
    const some = names.slice(0, 3).join(', ') + (names.length > 3 ? `, and ${names.length - 3} more` : '');
    refuse(`it is not a bundle (no bagit.txt) and holds ${some}`, 'Choose a new bundle folder: --force replaces only an earlier bundle.');
  }
}

/**
 * Renames a finished bundle (its folder, or its zip file) to `to` without replacing anything that
 * came there meanwhile: `exists` makes the error. A folder's rename fails where `to` is a folder
 * with files in it; a file's rename would replace a file, so a zip is hard-linked instead (which
 * fails where the name is taken) and its work name removed, or, on a file system without hard
 * links, the name checked just before the rename.
 */
export function placeBundle(from: string, to: string, exists: (cause?: unknown) => Error): void {
  const taken = (e: unknown): boolean => ['EEXIST', 'ENOTEMPTY', 'ENOTDIR', 'EISDIR'].includes((e as NodeJS.ErrnoException).code ?? '');
  if (statSync(from).isDirectory()) {
    try {
      renameSync(from, to);
    } catch (e) {
      throw taken(e) ? exists(e) : e;
    }
    return;
  }
  try {
    linkSync(from, to);
  } catch (e) {
    if (taken(e)) throw exists(e);
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    if (existsSync(to)) throw exists();
    renameSync(from, to);
    return;
  }
  rmSync(from, { force: true });
}

/** The file a SQLite store URL names (its real path where it exists); null for a server or an in-memory store. */
function storeFile(url: string): string | null {
  if (!url.startsWith('sqlite:')) return null;
  const p = sqlitePath(url);
  return p === ':memory:' || p === '' ? null : real(path.resolve(p));
}

/** The path with its symbolic links resolved, as far as it exists. */
function real(p: string): string {
  try {
    return realpathSync.native(p);
  } catch {
    const parent = path.dirname(p);
    return parent === p ? p : path.join(real(parent), path.basename(p));
  }
}

function isInside(p: string, dir: string): boolean {
  const rel = path.relative(dir, p);
  return rel !== '' && rel.split(path.sep)[0] !== '..' && !path.isAbsolute(rel);
}
