import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, ExitCode, ForkliftError } from '../core/errors.js';

/** Whether an error of the file system or SQLite is a full disk or a spent quota: the user's to fix by freeing space. */
export function isDiskFull(e: unknown): boolean {
  const code = String((e as { code?: unknown } | null)?.code ?? '');
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL' || (e instanceof Error && /database or disk is full/i.test(e.message));
}

/**
 * Makes `dir` with its parents, as mkdirSync does; returns the first folder it made, if any. A file
 * in the way (`sqlite:notes.txt/x.db`) is the user's path to change (exit 2), a folder this user
 * may not write to or a full disk theirs to fix (exit 1): never "internal error".
 */
export function makeFolder(dir: string, what: string, code: string): string | undefined {
  try {
    return makeFolders(dir);
  } catch (e) {
    const errno = (e as NodeJS.ErrnoException).code;
    const shown = path.relative(process.cwd(), dir) || dir;
    if (errno === 'ENOTDIR' || errno === 'EEXIST') {
      const file = fileInTheWay(dir);
      throw new ConfigError(`cannot make the folder ${shown} for ${what}: ${file === undefined ? 'a file is in the way' : `${path.relative(process.cwd(), file) || file} is a file, not a folder`}`, {
        code,
        hint: 'Give a path whose folders are folders (or move that file away).',
        cause: e,
      });
    }
    throw new ForkliftError(`cannot make the folder ${shown} for ${what} (${errno ?? String(e)})`, {
      code,
      exitCode: ExitCode.runtime,
      hint: isDiskFull(e) ? 'Free space on that disk, or give a path on another.' : `Check that this user may write there, or give a path elsewhere.`,
      cause: e,
    });
  }
}

/**
 * mkdirSync(dir, { recursive: true }), a level at a time: Node's own loops for ever (and spins the
 * CPU) where a parent exists but refuses a new entry with ENOENT, as /proc does. Returns the first
 * folder it made, if any; throws the file system's error for the level that fails.
 */
export function makeFolders(dir: string): string | undefined {
  const missing: string[] = [];
  const target = path.resolve(dir);
  let d = target;
  while (!existsSync(d)) {
    missing.push(d);
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  // The nearest that exists is a file: the errors mkdirSync(recursive) gives, EEXIST for the folder itself, ENOTDIR beyond it.
  if (existsSync(d) && !statSync(d).isDirectory()) {
    const code = d === target ? 'EEXIST' : 'ENOTDIR';
    throw Object.assign(new Error(`${code}: ${d === target ? 'file already exists' : 'not a directory'}, mkdir '${target}'`), { code, path: target });
  }
  missing.reverse();
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      // Made meanwhile by another process: fine, if it is a folder.
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(d).isDirectory()) throw e;
    }
  }
  return missing[0];
}

/** The nearest of `dir` and its parents that exists and is not a folder. */
function fileInTheWay(dir: string): string | undefined {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      const st = statSync(d, { throwIfNoEntry: false });
      if (st !== undefined) return st.isDirectory() ? undefined : d;
    } catch {
      // ENOTDIR: a parent is a file; keep going up to it.
    }
    if (path.dirname(d) === d) return undefined;
  }
}
