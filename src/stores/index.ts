import { SqliteStore } from './sqlite.js';
import type { TargetStore } from './types.js';
import { storeKind } from './url.js';

/** Opens a target store by URL. Server drivers load only when their kind is used. */
export async function openStore(url: string): Promise<TargetStore> {
  const kind = storeKind(url);
  switch (kind) {
    case 'sqlite':
      return new SqliteStore(url);
    case 'postgres':
      return new (await import('./postgres.js')).PostgresStore(url);
    case 'mysql':
      return new (await import('./mysql.js')).MysqlStore(url);
    case 'mssql':
      return new (await import('./mssql.js')).MssqlStore(url);
  }
}

export { redactUrl, storeKind } from './url.js';
export type { TargetStore, RunEntry, LoadMode } from './types.js';
