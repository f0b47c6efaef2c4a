import path from 'node:path';
import { ConfigError } from '../core/errors.js';

export type StoreKind = 'sqlite' | 'postgres' | 'mysql' | 'mssql';

/**
 * How a hint names a store's URL when it asks the user to check it (a wrong password): the
 * command's word for the store, so an export's source is not called a target. Most commands
 * write to a target; those that read a store name theirs (`the source URL (--source)`).
 */
export const TARGET_URL = 'the target URL';

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/**
 * Where the password of a server URL is in its text: [start, end), or undefined when it has none.
 * It runs from the first `:` after `scheme://` to the LAST `@` of the whole URL. A URL parser
 * ends the authority at the first `/`, `?` or `#`, so for `postgres://u:p@ss#w/rd@h/db` it reads
 * the host `ss` and shows the rest; the same text is also a password `p@ss#w/rd` typed raw, and
 * nothing tells the two apart. Taken to the last `@`, the redaction hides the password in either
 * reading; the price is hiding too much of a URL with an `@` in its query.
 */
function passwordSpan(url: string): [number, number] | undefined {
  const scheme = SCHEME.exec(url);
  if (scheme === null || scheme[1]!.toLowerCase() === 'sqlite') return undefined;
  const start = scheme[0].length;
  const at = url.lastIndexOf('@');
  if (at < start) return undefined;
  const colon = url.indexOf(':', start);
  return colon < 0 || colon > at ? undefined : [colon + 1, at];
}

/** `password=` / `pwd=` options of a URL's query (pg reads `?password=`). */
const PASSWORD_PARAM = /([?&](?:password|pwd)=)([^&\s]*)/gi;

/**
 * A `password=` value already hidden. The value runs to the next `&` or space, so in a message
 * that shows a redacted URL (`…?password=***: connect ECONNREFUSED`, `'…?password=***' is not`)
 * it takes in the `:` or quote after it: hidden again, the message would lose them.
 */
const REDACTED_VALUE = /^\*\*\*[:'"),;.\]]*$/;

function hideParam(_match: string, key: string, value: string): string {
  return REDACTED_VALUE.test(value) ? key + value : `${key}***`;
}

/**
 * A store URL with its password replaced by *** (SPEC section 1): the only form ever shown. The
 * password before the host and every `password=` option are found in the URL as given and hidden
 * together: in `mysql://h:3306/db?pwd=Kx7@Qm9` the first runs from the port to the last `@`,
 * inside the second, and hiding one before looking for the other would show `Qm9`.
 */
export function redactUrl(url: string): string {
  const spans: [number, number][] = [];
  const pw = passwordSpan(url);
  if (pw !== undefined) spans.push(pw);
  for (const m of url.matchAll(PASSWORD_PARAM)) {
    const start = m.index + m[1]!.length;
    spans.push([start, start + (REDACTED_VALUE.test(m[2]!) ? 3 : m[2]!.length)]);
  }
  spans.sort((a, b) => a[0] - b[0]);
  let shown = '';
  let pos = 0;
  for (const [start, end] of spans) {
    if (start < pos) {
      // Overlapping the one just hidden: hide on to the later end.
      if (end > pos) pos = end;
      continue;
    }
    shown += `${url.slice(pos, start)}***`;
    pos = end;
  }
  return shown + url.slice(pos);
}

/** Free text (an error message) with every URL in it redacted: a URL runs to the next whitespace. */
export function redactText(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, (u) => redactUrl(u)).replace(PASSWORD_PARAM, hideParam);
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

/** What a user error about a server URL names and shows as the form to write. */
const SERVERS: Record<Exclude<StoreKind, 'sqlite'>, { name: string; form: string; port: number }> = {
  postgres: { name: 'PostgreSQL', form: 'postgres://USER:PASSWORD@HOST:5432/DATABASE', port: 5432 },
  mysql: { name: 'MySQL', form: 'mysql://USER:PASSWORD@HOST:3306/DATABASE', port: 3306 },
  mssql: { name: 'SQL Server', form: 'mssql://USER:PASSWORD@HOST:1433/DATABASE', port: 1433 },
};

/** Why a server URL cannot be used as written, and what to write instead. */
export interface UrlProblem {
  why: string;
  hint: string;
}

/**
 * Whether an `@` after the authority is one a URL may hold there: inside a `key=value` option of
 * the query after the database (`?application_name=me@work`), with no `/` after it. An `@` in the
 * path or fragment, in a query straight after the host, or followed by `host/db`, is where a
 * password with a raw `/`, `?` or `#` ended, and a driver would connect to a host made of it.
 */
function atInQueryOption(url: string, authorityEnd: number, at: number): boolean {
  if (url[authorityEnd] !== '/') return false;
  const query = url.indexOf('?', authorityEnd);
  const hash = url.indexOf('#', authorityEnd);
  if (query < 0 || query > at || (hash >= 0 && hash < at)) return false;
  const option = url.slice(Math.max(url.lastIndexOf('&', at), query) + 1, at);
  const rest = url.slice(at + 1).split(/[&#]/)[0]!;
  return option.includes('=') && !rest.includes('/');
}

/**
 * Why a postgres://, mysql:// or mssql:// URL cannot be taken as written, or undefined. Checked
 * before a driver sees the URL: a raw `/`, `?` or `#` in a password makes the URL parse with a
 * piece of the password as the host, port or database (which the driver's error then shows), or
 * not parse at all (the parser's "Invalid URL", a bug report instead of a usage error).
 */
export function serverUrlProblem(url: string): UrlProblem | undefined {
  const kind = storeKind(url);
  const scheme = SCHEME.exec(url);
  if (kind === 'sqlite' || scheme === null) return undefined;
  const { form, port: defaultPort } = SERVERS[kind];
  const encode: UrlProblem = {
    why: '',
    hint: `Percent-encode special characters in the user and password (@ as %40, : as %3A, / as %2F, ? as %3F, # as %23, % as %25): ${form}.`,
  };
  const start = scheme[0].length;
  const stop = url.slice(start).search(/[/?#]/);
  const authorityEnd = stop < 0 ? url.length : start + stop;
  const lastAt = url.lastIndexOf('@');
  if (lastAt >= authorityEnd && !atInQueryOption(url, authorityEnd, lastAt)) {
    return { ...encode, why: 'its user or password holds a /, ? or # as written, or an @ stands after the host' };
  }
  const at = url.lastIndexOf('@', authorityEnd - 1);
  const hostPort = url.slice(at < start ? start : at + 1, authorityEnd);
  const port = /^(?:\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(hostPort)?.[1];
  if (port !== undefined && (!/^[0-9]*$/.test(port) || Number(port) > 65535)) {
    return { why: 'the port must be a number (0 to 65535)', hint: `Write the port as digits after the host (HOST:${defaultPort}), or leave it out for ${defaultPort}.` };
  }
  let parsed: URL;
  try {
    // pg takes `postgres://u@/db` (no host: a socket, or ?host=); the parser alone refuses it.
    parsed = new URL(url.replace('@/', '@localhost/'));
  } catch {
    return { ...encode, why: 'it cannot be parsed' };
  }
  // Without a database pg connects to the one named as the user (`postgres` for the superuser),
  // the server's maintenance database: a migrate would create its tables there, exit 0.
  if (kind === 'postgres' && parsed.pathname.replace(/^\//, '') === '' && !parsed.searchParams.has('database') && !parsed.searchParams.has('dbname')) {
    return { why: 'it names no database', hint: `Add the database after the host and port: …@HOST:${defaultPort}/DATABASE.` };
  }
  return undefined;
}

/**
 * A server URL checked up front (serverUrlProblem) as a usage error, exit 2, naming the URL
 * redacted: the parser's own error would repeat the input, password included.
 */
export function checkServerUrl(url: string): void {
  const problem = serverUrlProblem(url);
  if (problem === undefined) return;
  const kind = storeKind(url) as Exclude<StoreKind, 'sqlite'>;
  throw new ConfigError(`'${redactUrl(url)}' is not a valid ${SERVERS[kind].name} URL: ${problem.why}`, { code: 'store.url', hint: problem.hint });
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
