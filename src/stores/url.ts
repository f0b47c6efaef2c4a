import path from 'node:path';
import { ConfigError } from '../core/errors.js';

export type StoreKind = 'sqlite' | 'postgres' | 'mysql' | 'mssql';

/**
 * Where the password of a server URL is in its text: [start, end), or undefined when it has none.
 * The user and password end at the authority's LAST `@`, as URL parsers split it (the WHATWG URL
 * that pg, mysql2 and tedious take it from): in `postgres://u:P@ss@host/db` the password is
 * `P@ss`. A password with a raw `/`, `?` or `#` ends the authority early for a parser (the URL
 * then fails to connect, and its error still shows it); then the last `@` of the whole URL ends
 * it, which hides too much rather than too little when a URL without a password has an `@` in its
 * query.
 */
function passwordSpan(url: string): [number, number] | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (scheme === null || scheme[1]!.toLowerCase() === 'sqlite') return undefined;
  const start = scheme[0].length;
  const stop = url.slice(start).search(/[/?#]/);
  const authorityEnd = stop < 0 ? url.length : start + stop;
  let at = url.lastIndexOf('@', authorityEnd - 1);
  if (at < start) at = url.lastIndexOf('@');
  if (at < start) return undefined;
  const colon = url.indexOf(':', start);
  return colon < 0 || colon > at ? undefined : [colon + 1, at];
}

/** `password=` / `pwd=` options of a URL's query (pg reads `?password=`). */
const PASSWORD_PARAM = /([?&](?:password|pwd)=)([^&\s]*)/gi;

/** A store URL with its password replaced by *** (SPEC section 1): the only form ever shown. */
export function redactUrl(url: string): string {
  const span = passwordSpan(url);
  const shown = span === undefined ? url : `${url.slice(0, span[0])}***${url.slice(span[1])}`;
  return shown.replace(PASSWORD_PARAM, '$1***');
}

/** Free text (an error message) with every URL in it redacted: a URL runs to the next whitespace. */
export function redactText(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, (u) => redactUrl(u)).replace(PASSWORD_PARAM, '$1***');
}

/**
 * The password of a URL as written and percent-decoded (the form a driver may echo), and any
 * `password=` option: the texts never to appear in a message. Shorter than 3 characters they
 * cannot be masked without masking words, and are left.
 */
export function urlSecrets(url: string): string[] {
  const raw: string[] = [];
  const span = passwordSpan(url);
  if (span !== undefined) raw.push(url.slice(span[0], span[1]));
  for (const m of url.matchAll(PASSWORD_PARAM)) raw.push(m[2]!);
  const out = new Set<string>();
  for (const r of raw) {
    out.add(r);
    out.add(decodeUrlPart(r));
  }
  // Longest first: a decoded password inside its raw form (or the reverse) is masked whole.
  return [...out].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
}

/** A message with every secret replaced by ***. */
export function scrubSecrets(message: string, secrets: readonly string[]): string {
  let m = message;
  for (const s of secrets) m = m.split(s).join('***');
  return m;
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

/**
 * A user name, password or database name from a URL, percent-decoded; one with a `%` that starts
 * no escape (`50%off`) is taken as written, as a person typed it, where decodeURIComponent would
 * throw "URI malformed".
 */
export function decodeUrlPart(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
