import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import { ConfigError, ExitCode, ForkliftError } from '../core/errors.js';
import { isDiskFull } from './folders.js';

/**
 * Work folders and files that a command writes before it renames them into place (an export's
 * `BUNDLE.partial-…`, exit's and purge's, exit's scratch store): a process killed outright
 * (SIGKILL, a power cut) cannot remove its own, and a million-row bundle left behind is hundreds of
 * megabytes nobody knows may go. Each is claimed with an owner file beside it (never inside, so it
 * never lands in a bundle): the process id, the host and the start time. The next command that
 * writes to the same place removes what a process of this host that is gone left there; anything
 * whose owner still runs, or ran on another host (a shared disk), is left alone.
 */

interface Owner {
  pid: number;
  host: string;
  started: string;
  command: string;
  /** The worker thread that claimed it (worker_threads' threadId), when not the main thread. */
  thread?: number;
}

const OWNER = '.owner';

/** Claims `work` (not yet made, or just made) for this process; `release` removes the claim. */
export function claimWork(work: string, command: string): { release: () => void } {
  const file = `${work}${OWNER}`;
  const owner: Owner = { pid: process.pid, host: hostname(), started: new Date().toISOString(), command, ...(threadId === 0 ? {} : { thread: threadId }) };
  writeFileSync(file, `${JSON.stringify(owner)}\n`);
  return { release: () => rmSync(file, { force: true }) };
}

const CLAIM = '.claim';

/**
 * Claims the place a finished bundle goes (`dest`, a folder or a zip file) for this process, from
 * the start of the work to the rename into place: `<dest>.claim`, created only where it is not
 * there (one atomic step), holding the owner as claimWork's files do. A second command writing to
 * the same place stops at once, exit 2 (`code`), naming the process that holds it, instead of
 * working for minutes and then putting its bundle where the other's is, or the other's where its
 * own was. A claim whose process of this host is gone (killed outright) is taken over; one of
 * another host (a shared disk) is left for a person to judge. `release` removes the claim, and
 * only while it is still this process's.
 */
export function claimDestination(dest: string, command: string, code: string): { release: () => void } {
  const file = `${dest}${CLAIM}`;
  const mine = `${JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString(), command } satisfies Owner)}\n`;
  const shown = path.relative(process.cwd(), dest) || dest;
  for (let tries = 0; ; tries++) {
    try {
      writeFileSync(file, mine, { flag: 'wx' });
      return { release: () => (readText(file) === mine ? rmSync(file, { force: true }) : undefined) };
    } catch (e) {
      const errno = (e as NodeJS.ErrnoException).code;
      if (errno !== 'EEXIST') {
        // The first write beside the destination: a folder this user may not write to, a full or
        // read-only disk, is the user's to fix, not forklift's bug.
        const where = path.relative(process.cwd(), path.dirname(dest)) || path.dirname(dest);
        throw new ForkliftError(`cannot write beside ${shown}, in ${where} (${errno ?? String(e)})`, {
          code: `${command}.write`,
          exitCode: ExitCode.runtime,
          hint: isDiskFull(e) ? 'Free space on that disk, or choose another bundle folder.' : `Choose a bundle folder in a place this user may write to, or check the permissions of ${where}.`,
          cause: e,
        });
      }
    }
    const held = readText(file);
    const other = held === undefined ? undefined : parseOwner(held);
    if (other === undefined && tries < 5) {
      // Released meanwhile (try again at once), or being written this very moment.
      if (held !== undefined) pause(20);
      continue;
    }
    if (other === undefined || other.host !== hostname() || alive(other.pid) || tries >= 5) {
      const who = other === undefined ? `something unreadable in ${path.basename(file)}` : `forklift ${other.command} (process ${other.pid} on ${other.host}, started ${other.started})`;
      throw new ConfigError(`${shown} is claimed by ${who}, which writes a bundle there`, {
        code,
        hint: `Wait until it has finished, or choose another bundle folder. If no forklift writes there any more, remove ${path.relative(process.cwd(), file) || file}.`,
      });
    }
    // Its process is gone: taken over, unless another command took it over first.
    if (readText(file) === held) rmSync(file, { force: true });
  }
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function parseOwner(text: string): Owner | undefined {
  try {
    const o = JSON.parse(text) as Owner;
    return Number.isInteger(o.pid) && typeof o.host === 'string' ? o : undefined;
  } catch {
    return undefined;
  }
}

function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

export interface SweptWork {
  /** The work path removed (with whatever began with it: `X-zip`, `X.zip`). */
  path: string;
  /** What was removed, in words, where the path alone does not say it (`the staging files of runs/…`). */
  what?: string;
  command: string;
  pid: number;
  started: string;
}

/**
 * Removes the work of gone processes in `dir` whose names begin with `prefix`: for each owner file
 * there, the process is asked whether it lives (signal 0); one of this host that does not has its
 * work path, the paths derived from it and the owner file removed. Returns what was removed.
 */
export function sweepStaleWork(dir: string, prefix: string): SweptWork[] {
  return sweepWork(dir, prefix, (owner) => owner.host === hostname() && Number.isInteger(owner.pid) && !alive(owner.pid));
}

/**
 * Removes the work in the temporary folder that worker thread `thread` of this process claimed:
 * a thread terminated before it finished (Ctrl-C during an exit's verify) runs no finally block,
 * and its scratch store would stay until the next command swept it.
 */
export function sweepThreadWork(thread: number, dir: string = tmpdir()): SweptWork[] {
  return sweepWork(dir, 'forklift-', (owner) => owner.host === hostname() && owner.pid === process.pid && owner.thread === thread);
}

function sweepWork(dir: string, prefix: string, gone: (owner: Owner) => boolean): SweptWork[] {
  const names = namesIn(dir);
  const swept: SweptWork[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith(OWNER)) continue;
    const work = name.slice(0, -OWNER.length);
    let owner: Owner;
    try {
      owner = JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as Owner;
    } catch {
      continue; // being written, or not ours: leave it
    }
    if (!gone(owner)) continue;
    try {
      for (const other of names) {
        if (other === work || other.startsWith(`${work}-`) || (other.startsWith(`${work}.`) && other !== name)) rmSync(path.join(dir, other), { recursive: true, force: true });
      }
      rmSync(path.join(dir, name), { force: true });
    } catch {
      continue; // not ours to remove after all (another user's, a read-only disk): left as it is
    }
    swept.push({ path: path.join(dir, work), command: owner.command, pid: owner.pid, started: owner.started });
  }
  return swept;
}

/** The names in a folder; none where it is missing or cannot be read (nothing of ours to sweep there). */
export function namesIn(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, as another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** One line per swept path, for a command's output. */
export function sweptText(swept: readonly SweptWork[], cwd = process.cwd()): string[] {
  return swept.map((s) => `removed ${s.what ?? (path.relative(cwd, s.path) || s.path)}, left by an interrupted forklift ${s.command} (process ${s.pid}, started ${s.started})`);
}

/**
 * A scratch folder in the OS temporary folder (or `base`), claimed for this process: what gone
 * processes of this host left there under forklift's names is swept first. `dropWork` removes
 * it with its claim. What was swept is added to `swept` when given.
 */
export function scratchDir(prefix: string, command: string, base = tmpdir(), swept?: SweptWork[]): string {
  const dir = inScratch(base, () => {
    swept?.push(...sweepStaleWork(base, 'forklift-'));
    return mkdtempSync(path.join(base, prefix));
  });
  claimWork(dir, command);
  return dir;
}

/** fn, with a failure to write in the scratch folder (TMPDIR missing, full, read-only) said as such. */
function inScratch<T>(base: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    // The temporary folder is the machine's (TMPDIR), not a file of the user's: say which and why.
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new ForkliftError(`cannot make a scratch folder in ${base} (${code})`, {
      code: 'env.tmpdir',
      exitCode: ExitCode.runtime,
      hint: base === tmpdir() ? 'Set TMPDIR to a folder that exists and that this user may write to.' : `Check that ${base} exists and is writable.`,
      cause: e,
    });
  }
}

/** A scratch file path in the OS temporary folder, claimed like scratchDir (the file is the caller's to make). */
export function scratchFile(prefix: string, suffix: string, command: string): string {
  const file = path.join(tmpdir(), `${prefix}${randomBytes(6).toString('hex')}${suffix}`);
  inScratch(tmpdir(), () => {
    sweepStaleWork(tmpdir(), 'forklift-');
    claimWork(file, command);
  });
  return file;
}

/** Removes a claimed work path (a scratch folder or file, a work folder) and its claim. */
export function dropWork(p: string): void {
  rmSync(p, { recursive: true, force: true });
  rmSync(`${p}${OWNER}`, { force: true });
}

/** File system errors of writing a bundle that are the user's to fix (a full, read-only or failing disk), not forklift's bug. */
const BUNDLE_WRITE_ERRORS = new Set(['ENOSPC', 'EDQUOT', 'EFBIG', 'EIO', 'EROFS', 'EACCES', 'EPERM']);

/**
 * A bundle (export's, exit's) that the disk did not take: a full disk said "internal error:
 * ENOSPC … This is a bug in forklift". As the user's error, exit 1, naming the bundle folder and
 * what to do; the work folder is removed by the caller, so nothing is written. Other errors are
 * returned as they are.
 */
export function bundleWriteError(e: unknown, shownDest: string, command: string): unknown {
  if (e instanceof ForkliftError || !(e instanceof Error)) return e;
  const errno = String((e as NodeJS.ErrnoException).code ?? '');
  const full = isDiskFull(e);
  if (!full && !BUNDLE_WRITE_ERRORS.has(errno)) return e;
  return new ForkliftError(`cannot write the bundle at ${shownDest}: ${full ? 'no space left on the disk' : e.message} (${errno}); nothing was written`, {
    code: `${command}.write`,
    exitCode: ExitCode.runtime,
    hint: full ? 'Free space on that disk, or choose a bundle folder on another, then run the same command again.' : 'Check that disk and that this user may write there, or choose another bundle folder, then run the same command again.',
    cause: e,
  });
}
