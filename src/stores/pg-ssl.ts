import pg from 'pg';

/**
 * libpq's `sslmode=prefer` (its default: TLS where the server offers it, else plain) and
 * `sslmode=allow` (plain, else TLS), as psql reads them. pg takes both for `verify-full`, with a
 * warning on stderr: against a server without TLS a URL that works in psql failed with "The
 * server does not support SSL connections". For these two modes the URL goes to pg without its
 * sslmode, and one probe connection decides between TLS without certificate checks (libpq's own
 * for these modes) and plain, in libpq's order. Other modes go to pg as written.
 */

type SslChoice = false | { rejectUnauthorized: false };

export interface PgConnectionConfig {
  connectionString: string;
  ssl?: SslChoice;
}

const decided = new Map<string, Promise<PgConnectionConfig>>();

/** The connection settings of a postgres:// URL (memoized: one probe per URL and process). */
export function pgConnectionConfig(url: string): Promise<PgConnectionConfig> {
  let c = decided.get(url);
  if (c === undefined) {
    // decide() never rejects: a probe that fails leaves the connection's own error to the connection.
    c = decide(url);
    decided.set(url, c);
  }
  return c;
}

/** The sslmode a URL names when it is prefer or allow, and the URL without it. */
export function libpqFallbackMode(url: string): { mode: 'prefer' | 'allow'; rest: string } | undefined {
  const m = /([?&])sslmode=(prefer|allow)(?=&|#|$)/i.exec(url);
  if (m === null) return undefined;
  const before = url.slice(0, m.index);
  const after = url.slice(m.index + m[0].length);
  // `?sslmode=prefer&a=b` keeps `?a=b`; `?a=b&sslmode=prefer` keeps `?a=b`.
  const rest = m[1] === '?' ? (after.startsWith('&') ? `${before}?${after.slice(1)}` : before + after) : before + after;
  return { mode: m[2]!.toLowerCase() as 'prefer' | 'allow', rest };
}

async function decide(url: string): Promise<PgConnectionConfig> {
  const f = libpqFallbackMode(url);
  if (f === undefined) return { connectionString: url };
  const tls: SslChoice = { rejectUnauthorized: false };
  const [first, second]: [SslChoice, SslChoice] = f.mode === 'prefer' ? [tls, false] : [false, tls];
  const client = new pg.Client({ connectionString: f.rest, ssl: first, connectionTimeoutMillis: 15_000, application_name: 'forklift' });
  client.on('error', () => {});
  try {
    await client.connect();
    return { connectionString: f.rest, ssl: first };
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    // prefer: no TLS on the server. allow: the server takes only TLS for this host (pg_hba hostssl).
    const other = f.mode === 'prefer' ? /does not support SSL/i.test(msg) : /no pg_hba\.conf entry.*(no encryption|SSL off)|SSL (is )?required/i.test(msg);
    // Any other failure (a wrong password, a host that does not answer) is the connection's own to report.
    return { connectionString: f.rest, ssl: other ? second : first };
  } finally {
    await client.end().catch(() => {});
  }
}
