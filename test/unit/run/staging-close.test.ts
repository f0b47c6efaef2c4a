import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Staging } from '../../../src/run/staging.js';
import { runFilesError } from '../../../src/run/run-work.js';
import { ForkliftError } from '../../../src/core/errors.js';

/**
 * A run whose staging file filled the disk: its COMMIT fails with SQLITE_FULL. Before, close()
 * threw before closing, in the run's `finally`, which then never closed the target's connection
 * (a knex pool whose timer kept the process alive): the CLI printed "internal error" and hung.
 */

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A staging file with rows written in its open transaction, not yet committed. */
function writtenStaging(): Staging {
  const dir = mkdtempSync(path.join(tmpdir(), 'staging-full-'));
  dirs.push(dir);
  const staging = new Staging(path.join(dir, 'staging.sqlite'));
  staging.db.exec('CREATE TABLE filler (x TEXT)');
  const insert = staging.db.prepare('INSERT INTO filler VALUES (?)');
  for (let i = 0; i < 100; i++) insert.run('x'.repeat(4000));
  return staging;
}

describe('the staging file on a full disk', () => {
  it('close() closes the file even where the COMMIT fails, and says why', () => {
    const staging = writtenStaging();
    expect(staging.db.inTransaction).toBe(true);
    // A COMMIT that cannot write its pages: here another connection reads the file (SQLITE_BUSY,
    // deterministic), on a real full disk SQLITE_FULL.
    const reader = new Database(staging.file);
    try {
      reader.exec('BEGIN');
      reader.prepare('SELECT COUNT(*) FROM sqlite_master').get();
      staging.db.pragma('busy_timeout = 0');
      expect(() => staging.close()).toThrow(/locked|busy/i);
      expect(staging.db.open).toBe(false);
    } finally {
      reader.close();
    }
  });

  it('closeQuietly() never throws, and closes the file', () => {
    const staging = writtenStaging();
    const reader = new Database(staging.file);
    try {
      reader.exec('BEGIN');
      reader.prepare('SELECT COUNT(*) FROM sqlite_master').get();
      staging.db.pragma('busy_timeout = 0');
      expect(() => staging.closeQuietly()).not.toThrow();
      expect(staging.db.open).toBe(false);
      expect(() => staging.closeQuietly()).not.toThrow();
    } finally {
      reader.close();
    }
  });

  it('a full or failing disk is the user’s error (exit 1) naming the run folder; other errors stay as they are', () => {
    const full = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    const e = runFilesError(full, path.join(process.cwd(), 'runs', 'R1'));
    expect(e).toBeInstanceOf(ForkliftError);
    expect((e as ForkliftError).exitCode).toBe(1);
    expect((e as ForkliftError).code).toBe('run.disk_full');
    expect((e as ForkliftError).message).toContain(path.join('runs', 'R1'));
    const io = runFilesError(Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' }), '/x/runs/R2');
    expect((io as ForkliftError).code).toBe('run.disk_error');
    const bug = new TypeError('x is undefined');
    expect(runFilesError(bug, '/x')).toBe(bug);
    const own = new ForkliftError('no space on the target', { code: 'store.x', exitCode: 1 });
    expect(runFilesError(own, '/x')).toBe(own);
  });
});
