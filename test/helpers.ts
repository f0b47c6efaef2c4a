import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(ROOT, 'bin', 'run.js');
/** Real public files (../shared/data); tests on them skip visibly where the folder is absent. */
export const SHARED = process.env.FORKLIFT_SHARED_DATA ?? path.resolve(ROOT, '..', 'shared', 'data');
export const HAS_SHARED = existsSync(path.join(SHARED, 'CATALOGUE.md'));

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a child process, with no TTY and no stdin, as CI and scripts do. */
export function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  if (!existsSync(path.join(ROOT, 'dist', 'commands'))) throw new Error('build first: npm run build');
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, FORCE_COLOR: '0', ...opts.env },
    encoding: 'utf8',
    input: '',
    timeout: 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function tempDir(prefix = 'forklift-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** A private copy of the demo (plan, mappings and fixtures keep their relative layout). */
export function demoCopy(): { dir: string; plan: string } {
  const dir = tempDir('forklift-demo-');
  // Only what git holds: not the runs/ or databases a local demo run left there.
  const tracked = (src: string): boolean => !/[\\/]runs([\\/]|$)|\.db(-journal|-wal|-shm)?$/.test(src);
  cpSync(path.join(ROOT, 'mappings', 'demo'), path.join(dir, 'mappings', 'demo'), { recursive: true, filter: tracked });
  cpSync(path.join(ROOT, 'fixtures', 'demo'), path.join(dir, 'fixtures', 'demo'), { recursive: true });
  return { dir, plan: path.join(dir, 'mappings', 'demo', 'forklift.yaml') };
}

/** `SELECT key, value FROM table` of a SQLite database file, as an object (the e2e tests' look at what a run loaded). */
export function sqlitePairs(dbFile: string, sql: string): Record<string, string> {
  const db = new Database(dbFile, { readonly: true });
  try {
    const rows = db.prepare(sql).raw().all() as [string, string][];
    return Object.fromEntries(rows);
  } finally {
    db.close();
  }
}
