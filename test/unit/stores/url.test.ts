import { describe, expect, it } from 'vitest';
import { redactText, redactUrl, scrubSecrets, storeIdentity, urlSecrets } from '../../../src/stores/url.js';

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
    expect(redactUrl('postgres://u:pw@h/db?application_name=me@work')).toBe('postgres://u:***@h/db?application_name=me@work');
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
