import { describe, expect, it } from 'vitest';
import { ConfigError, ExitCode } from '../../../src/core/errors.js';
import { checkServerUrl, redactText, redactUrl, scrubSecrets, serverUrlProblem, storeIdentity, urlSecrets } from '../../../src/stores/url.js';

/**
 * The one place a store URL loses its password, for every URL forklift shows (terminal, --json,
 * reports, rejects files, the ledger, bag-info.txt) and every message it scrubs.
 */
describe('redactUrl', () => {
  it('splits the user and password at the last @ of the authority, as drivers parse the URL', () => {
    expect(redactUrl('postgres://postgres:P@ssw0rd-Kiel@127.0.0.1:5432/db')).toBe('postgres://postgres:***@127.0.0.1:5432/db');
    expect(redactUrl('mysql://u:a@b@c@db.example/erp')).toBe('mysql://u:***@db.example/erp');
    expect(redactUrl('mssql://sa:Mss@l:Pw@127.0.0.1:1433/erp?encrypt=true')).toBe('mssql://sa:***@127.0.0.1:1433/erp?encrypt=true');
    // The same URL as the driver reads it: its password is all of P@ssw0rd-Kiel.
    expect(decodeURIComponent(new URL('postgres://postgres:P@ssw0rd-Kiel@127.0.0.1:5432/db').password)).toBe('P@ssw0rd-Kiel');
  });

  it('hides colons, percent-encoded characters and an @ in the query of a URL with a password', () => {
    expect(redactUrl('postgres://u:a:b:c@h/db')).toBe('postgres://u:***@h/db');
    expect(redactUrl('postgres://u:P%40ss%3Aw%2F0rd@h:5432/db')).toBe('postgres://u:***@h:5432/db');
    // The same text is a password `pw@h/db?application_name=me` typed raw: hidden up to the last @.
    expect(redactUrl('postgres://u:pw@h/db?application_name=me@work')).toBe('postgres://u:***@work');
  });

  it('hides a password with a raw / ? or #, which no parser reads as a password, up to the last @', () => {
    expect(redactUrl('postgres://u:Sl/ash@Pw@h:5432/db')).toBe('postgres://u:***@h:5432/db');
    expect(redactUrl('mysql://u:wh?at@h/db')).toBe('mysql://u:***@h/db');
    expect(redactUrl('mysql://u:ha#sh@h/db')).toBe('mysql://u:***@h/db');
  });

  it('leaves URLs without a password as they are, and hides password= options', () => {
    for (const u of ['postgres://postgres@127.0.0.1:5432/db', 'mysql://root@[::1]:3306/db', 'postgres://h/db', 'sqlite:./a@b.db', 'sqlite:///tmp/x:y@z.db', 'mssql://h:1433/db']) {
      expect(redactUrl(u)).toBe(u);
    }
    expect(redactUrl('postgres://h/db?user=u&password=s3cr@t&sslmode=require')).toBe('postgres://h/db?user=u&password=***&sslmode=require');
    expect(redactUrl('postgres://u:***@h/db')).toBe('postgres://u:***@h/db');
  });

  it('names the store the same whatever its password holds', () => {
    expect(storeIdentity('postgres://u:P@ss@h/db')).toBe(storeIdentity('postgres://u:other@h/db'));
  });
});

describe('redactText', () => {
  it('hides the password of every URL in a message, wherever it stands', () => {
    expect(redactText("Error: cannot open 'postgres://postgres:P@ssw0rd-Kiel@127.0.0.1:5432/db': refused; also mysql://u:x@y@h/db")).toBe(
      "Error: cannot open 'postgres://postgres:***@127.0.0.1:5432/db': refused; also mysql://u:***@h/db",
    );
    expect(redactText('no URL here, user@example.com')).toBe('no URL here, user@example.com');
  });

  it("keeps the ': ' or quote after a redacted ?password= (the message quoted the URL already redacted)", () => {
    const shown = redactUrl('postgres://postgres@127.0.0.1:1/test?password=qwerty99');
    expect(shown).toBe('postgres://postgres@127.0.0.1:1/test?password=***');
    expect(redactText(`${shown}: connect ECONNREFUSED 127.0.0.1:1`)).toBe('postgres://postgres@127.0.0.1:1/test?password=***: connect ECONNREFUSED 127.0.0.1:1');
    expect(redactText(`'${shown}' is not a valid PostgreSQL URL`)).toBe("'postgres://postgres@127.0.0.1:1/test?password=***' is not a valid PostgreSQL URL");
    expect(redactText('mysql://h/db?pwd=***, then')).toBe('mysql://h/db?pwd=***, then');
    // A value that only starts with *** is a password, hidden.
    expect(redactText('postgres://h/db?password=***x1: boom')).toBe('postgres://h/db?password=*** boom');
  });
});

/**
 * Passwords with raw `@ # / ? :`, alone and together, in every scheme and in `?password=`: no
 * piece of them is ever shown. Each piece between special characters is distinctive, so finding
 * one in the output is a leak, whichever way a parser would split the URL.
 */
const RAW_PASSWORDS = [
  'Kx7@Qm9#Zr4/Wp2',
  'Kx7#Qm9@Zr4',
  'Kx7/Qm9@Zr4',
  'Kx7?Qm9@Zr4',
  'Kx7:Qm9@Zr4#Wp2',
  'Kx7@Qm9/Zr4?Wp2#Lv8:Yt5',
  '@Kx7#',
  '#Kx7@',
  '/Kx7?',
  '?Kx7/Qm9',
  'Kx7@@Qm9##Zr4',
  'Kx7:@/?#Qm9',
  'Kx7@Qm9@Zr4@Wp2/Lv8',
  '12/Kx7@Qm9',
  '12?Kx7@Qm9',
  '12#Kx7@Qm9',
  'Kx7%Qm9#Zr4',
  'Kx7%40Qm9/Zr4',
];
const SCHEMES = ['postgres', 'postgresql', 'mysql', 'mariadb', 'mssql', 'sqlserver'];
const pieces = (pw: string): string[] => pw.split(/[@#/?:%]/).filter((p) => p.length >= 2 && !/^\d+$/.test(p));

function expectHidden(shown: string, pw: string, what: string): void {
  expect(shown, what).not.toContain(pw);
  for (const p of pieces(pw)) expect(shown, `${what}: shows '${p}'`).not.toContain(p);
}

describe('passwords with raw special characters', () => {
  const urls: [string, string][] = [];
  for (const pw of RAW_PASSWORDS) {
    for (const scheme of SCHEMES) {
      urls.push([`${scheme}://etl:${pw}@db.example:5432/erp`, pw]);
      urls.push([`${scheme}://etl:${pw}@db.example/erp?encrypt=true`, pw]);
      urls.push([`${scheme}://etl:${pw}@[::1]:5432/erp#x`, pw]);
      urls.push([`${scheme}://etl:${pw}@db.example`, pw]);
    }
    urls.push([`postgres://etl@db.example/erp?password=${pw}`, pw]);
    urls.push([`postgres://etl@db.example/erp?sslmode=require&password=${pw}`, pw]);
    urls.push([`mysql://db.example:3306/erp?user=etl&pwd=${pw}`, pw]);
  }

  it('are hidden whole by redactUrl, redactText (in the forms messages quote them) and storeIdentity', () => {
    for (const [url, pw] of urls) {
      expectHidden(redactUrl(url), pw, url);
      expectHidden(storeIdentity(url), pw, `identity of ${url}`);
      for (const msg of [`Error: ${url}: getaddrinfo ENOTFOUND x`, `cannot open '${url}': refused`, `(${url})`, `${redactUrl(url)}: boom`]) {
        expectHidden(redactText(msg), pw, msg);
      }
      // Redacting twice changes nothing: a message quoting a redacted URL is redacted again when shown.
      expect(redactUrl(redactUrl(url)), url).toBe(redactUrl(url));
    }
  });

  it('are refused up front (exit 2) when a driver would read a piece of them as the host, port or database', () => {
    for (const [url, pw] of urls.filter(([u, pw]) => u.includes(`:${pw}@`) && /[/?#]/.test(pw))) {
      const problem = serverUrlProblem(url);
      expect(problem, url).toBeDefined();
      expect(problem!.hint, url).toMatch(/Percent-encode special characters in the user and password/);
      let thrown: unknown;
      try {
        checkServerUrl(url);
      } catch (e) {
        thrown = e;
      }
      expect(thrown, url).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).exitCode).toBe(ExitCode.usage);
      expect((thrown as ConfigError).message).toMatch(/is not a valid (PostgreSQL|MySQL|SQL Server) URL/);
      expectHidden((thrown as ConfigError).message, pw, url);
    }
  });

  it('percent-encoded, are taken and still hidden', () => {
    for (const pw of RAW_PASSWORDS) {
      for (const scheme of SCHEMES) {
        const url = `${scheme}://etl:${encodeURIComponent(pw)}@db.example:5432/erp`;
        expect(serverUrlProblem(url), url).toBeUndefined();
        expect(redactUrl(url)).toBe(`${scheme}://etl:***@db.example:5432/erp`);
        expect(urlSecrets(url)).toContain(pw);
      }
    }
  });
});

describe('serverUrlProblem', () => {
  it('takes the URLs drivers read as meant', () => {
    for (const u of [
      'postgres://postgres@127.0.0.1:5432/db',
      'postgres://u:P@ss@h/db', // the password is all of P@ss, as the URL parser reads it
      'postgres://me@server:pw@h.example/db',
      'postgres://u:a:b@h/db',
      'postgres://h/db?user=u&password=s3cr@t&sslmode=require',
      'postgres://u:pw@h/db?application_name=me@work',
      'postgres://u@/db?host=/var/run/postgresql',
      'postgres:///db?host=/tmp',
      'postgres://h/db',
      'mysql://root@[::1]:3306/db',
      'mysql://root:50%off@127.0.0.1:1/nodb',
      'mssql://sa:x@h:1433/db?encrypt=true&trustServerCertificate=false',
      'sqlite:./a@b#c.db',
    ]) {
      expect(serverUrlProblem(u), u).toBeUndefined();
    }
  });

  it('names a port that is not a number', () => {
    for (const u of ['postgres://postgres@127.0.0.1:notaport/test', 'mysql://u:pw@h:99999/db', 'mssql://sa@[::1]:x/db', 'postgres://u:pw@h:5432x']) {
      expect(serverUrlProblem(u)?.why, u).toBe('the port must be a number (0 to 65535)');
    }
    expect(serverUrlProblem('postgres://postgres@127.0.0.1:notaport/test')?.hint).toMatch(/HOST:5432/);
    expect(serverUrlProblem('mssql://sa@h:x/db')?.hint).toMatch(/HOST:1433/);
  });

  it('refuses a PostgreSQL URL that names no database (pg would connect to the one named as the user: postgres, the maintenance database)', () => {
    for (const u of ['postgres://postgres@127.0.0.1', 'postgres://postgres@127.0.0.1/', 'postgresql://u:pw@h:5432/?sslmode=disable']) {
      expect(serverUrlProblem(u)?.why, u).toBe('it names no database');
    }
    expect(serverUrlProblem('postgres://postgres@127.0.0.1')?.hint).toBe('Add the database after the host and port: …@HOST:5432/DATABASE.');
    for (const u of ['postgres://u@h/db', 'postgres://u@h/?dbname=db', 'postgres://u@h?database=db', 'postgres://u@/db?host=/run/postgresql']) {
      expect(serverUrlProblem(u), u).toBeUndefined();
    }
  });

  it('refuses an @ after the host unless it is in an option of the query', () => {
    for (const u of ['postgres://u:12/x@h/db', 'postgres://u:12?x@h/db', 'postgres://u:1/x?a=b@h/db', 'postgres://u@h/my@db', 'postgres://u:1#x@h/db']) {
      expect(serverUrlProblem(u), u).toBeDefined();
    }
  });

  it('names the URL redacted in its error', () => {
    expect(() => checkServerUrl('postgres://postgres:p@ss#w/rd@127.0.0.1:1/test')).toThrow(
      "'postgres://postgres:***@127.0.0.1:1/test' is not a valid PostgreSQL URL: its user or password holds a /, ? or # as written, or an @ stands after the host",
    );
    expect(() => checkServerUrl('mysql://root:s3cret@h:port/db')).toThrow("'mysql://root:***@h:port/db' is not a valid MySQL URL: the port must be a number");
  });
});

describe('urlSecrets and scrubSecrets', () => {
  it('collects the whole password, as written and decoded, longest first', () => {
    expect(urlSecrets('postgres://postgres:P@ssw0rd-Kiel@127.0.0.1:5432/db')).toEqual(['P@ssw0rd-Kiel']);
    expect(urlSecrets('postgres://u:P%40ss%3Aw0rd@h/db')).toEqual(['P%40ss%3Aw0rd', 'P@ss:w0rd']);
    expect(urlSecrets('postgres://u@h/db?password=s3cr%40t')).toEqual(['s3cr%40t', 's3cr@t']);
    expect(urlSecrets('postgres://u:pw@h/db')).toEqual([]); // too short to mask without masking words
    expect(urlSecrets('postgres://u@h/db')).toEqual([]);
  });

  it('masks every secret of a message', () => {
    const secrets = urlSecrets('mssql://sa:P%40ss%3Aw0rd@h/db');
    expect(scrubSecrets('login failed with P@ss:w0rd (P%40ss%3Aw0rd)', secrets)).toBe('login failed with *** (***)');
  });
});

describe('a server URL no driver can take as written', () => {
  const BAD = [
    ['postgres://postgres:Kx7@Qm9#Zr4/Wp2@127.0.0.1:1/test', /percent-encode/i],
    ['postgresql://postgres@127.0.0.1:notaport/test', /port must be a number/],
    ['mysql://root:Kx7?Qm9@127.0.0.1:1/test', /percent-encode/i],
    ['mssql://sa:Kx7/Qm9@127.0.0.1:1/test', /percent-encode/i],
    ['mssql://sa@127.0.0.1:notaport/test', /port must be a number/],
  ] as const;

  it('is a usage error from openStore (every command that opens a store), before any driver sees it', async () => {
    const { openStore } = await import('../../../src/stores/index.js');
    for (const [url, hint] of BAD) {
      const e = await openStore(url).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(e, url).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).exitCode, url).toBe(ExitCode.usage);
      expect((e as ConfigError).message, url).toMatch(/^'[a-z]+:\/\/[^']*' is not a valid (PostgreSQL|MySQL|SQL Server) URL: /);
      expect(`${(e as ConfigError).message} ${(e as ConfigError).hint}`, url).toMatch(hint);
      expect((e as ConfigError).message, url).not.toMatch(/Kx7|Qm9|Zr4|Wp2/);
    }
  });

  it("is a usage error from a mapping's sql source, naming source.url", async () => {
    const { openSql } = await import('../../../src/sources/sql.js');
    for (const [url, hint] of BAD) {
      const e = await openSql({ format: 'sql', url, query: 'SELECT 1' }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect((e as ConfigError).exitCode, url).toBe(ExitCode.usage);
      expect((e as ConfigError).code, url).toBe('source.url');
      expect(`${(e as ConfigError).message} ${(e as ConfigError).hint}`, url).toMatch(hint);
      expect((e as ConfigError).message, url).not.toMatch(/Kx7|Qm9|Zr4|Wp2/);
    }
  });
});
