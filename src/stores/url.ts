import path from 'node:path';
import { ConfigError } from '../core/errors.js';

export type StoreKind = 'sqlite' | 'postgres' | 'mysql' | 'mssql';

/** A store URL with its password replaced by *** (SPEC section 1): the only form ever shown. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z0-9+]+:\/\/[^:/@]*:)([^@]*)@/i, '$1***@').replace(/([?&](?:password|pwd)=)[^&]*/gi, '$1***');
}

export function storeKind(url: string): StoreKind {
  if (url.startsWith('sqlite:')) return 'sqlite';
  if (/^postgres(ql)?:\/\//.test(url)) return 'postgres';
  if (/^(mysql|mariadb):\/\//.test(url)) return 'mysql';
  if (/^(mssql|sqlserver):\/\//.test(url)) return 'mssql';
  throw new ConfigError(`unknown store URL '${redactUrl(url)}'`, {
    code: 'store.url',
    hint: 'Use sqlite:PATH, postgres://…, mysql://… or mssql://….',
  });
}

export function sqlitePath(url: string): string {
  return url.slice('sqlite:'.length).replace(/^\/\//, '');
}

/** Which store a URL names, whatever the working directory: SQLite by absolute path, a server by its URL without password. */
export function storeIdentity(url: string): string {
  return url.startsWith('sqlite:') && sqlitePath(url) !== ':memory:' ? `sqlite:${path.resolve(sqlitePath(url))}` : redactUrl(url);
}

/** The password of a URL, decoded, so messages can be scrubbed of it wherever a driver echoes it. */
export function passwordOf(url: string): string | undefined {
  try {
    const p = new URL(url).password;
    return p === '' ? undefined : decodeURIComponent(p);
  } catch {
    return undefined;
  }
}

/**
 * The store's database name, which `purge --all --confirm NAME` must repeat: the file name of a
 * SQLite database (`acme.db`), the database of a server URL.
 */
export function databaseName(url: string): string {
  if (storeKind(url) === 'sqlite') return path.basename(sqlitePath(url));
  try {
    const u = new URL(url.replace(/^(mariadb|sqlserver):/, 'mysql:'));
    const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
    return db || u.searchParams.get('database') || '';
  } catch {
    return '';
  }
}
