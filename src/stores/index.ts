import { existsSync } from 'node:fs';
import path from 'node:path';
import { StoreError } from '../core/errors.js';
import type { TargetStore } from './types.js';
import { redactUrl, sqlitePath, storeKind } from './url.js';

/**
 * Opens a store by URL. Each driver loads only when its kind is used. With `existing` (a
 * store to read, verify or purge: every command but migrate, bundle import and audit init), a SQLite file that
 * is not there is an error: opening it would create an empty database, and a mistyped path would
 * export an empty bundle, or leave an empty file behind. `urlName`: how hints name the URL
 * (default TARGET_URL), as the command's user gave it.
 */
export async function openStore(url: string, opts: { existing?: boolean; urlName?: string | undefined } = {}): Promise<TargetStore> {
  const kind = storeKind(url);
  switch (kind) {
    case 'sqlite': {
      const file = sqlitePath(url);
      if (opts.existing && file !== ':memory:' && !existsSync(file)) {
        const rel = path.relative(process.cwd(), path.resolve(file));
        throw new StoreError(`${rel.startsWith('..') ? redactUrl(url) : `sqlite:${rel}`}: no such database file`, {
          code: 'store.missing',
          hint: 'Check the path. Only migrate, bundle import and audit init create a SQLite database; a store to read, verify or purge must exist.',
        });
      }
      return new (await import('./sqlite.js')).SqliteStore(url);
    }
    case 'postgres':
      return new (await import('./postgres.js')).PostgresStore(url, opts.urlName);
    case 'mysql':
      return new (await import('./mysql.js')).MysqlStore(url, opts.urlName);
    case 'mssql':
      return new (await import('./mssql.js')).MssqlStore(url, opts.urlName);
  }
}

export { TARGET_URL, redactUrl, storeKind } from './url.js';
export type { TargetStore, RunEntry, LoadMode } from './types.js';
