import { generateKeyPairSync } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { rebag } from '../bundle-helpers.js';
import { demoCopy, runCli, tempDir } from '../helpers.js';
import { liveServers, withPg } from '../integration/stores/live.js';

/**
 * Signing (SPEC section 9) and audit init through the built CLI: keys from audit keygen, every
 * entry and exit certificate signed with FORKLIFT_SIGNING_KEY, --pubkey checks them (another key or
 * a changed byte fails, naming what), the private key in no file forklift writes, unusable key files
 * exit 2 naming the file; audit init chains a ledger from before the chain on every live store.
 */

const FILE = 'test/e2e/signing.test.ts';
const { pgDown, myDown, pgDbs, myDbs } = await liveServers(FILE);

const json = (s: string): Record<string, unknown> => JSON.parse(s) as Record<string, unknown>;

/** A demo copy with two key pairs: `keys/` (the signer) and `other/`. */
function setup(): { dir: string; plan: string; key: string; pub: string; otherPub: string; env: Record<string, string> } {
  const { dir, plan } = demoCopy();
  for (const k of ['keys', 'other']) expect(runCli(['audit', 'keygen', path.join(dir, k)], { cwd: dir }).code).toBe(0);
  const key = path.join(dir, 'keys', 'forklift-signing.key');
  return { dir, plan, key, pub: path.join(dir, 'keys', 'forklift-signing.pub'), otherPub: path.join(dir, 'other', 'forklift-signing.pub'), env: { FORKLIFT_SIGNING_KEY: key } };
}

/** Every file under dir but the key folders, whose bytes contain needle. */
function filesWith(dir: string, needle: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const f = path.join(d, n);
      if (f === path.join(dir, 'keys') || f === path.join(dir, 'other')) continue;
      if (statSync(f).isDirectory()) walk(f);
      else if (readFileSync(f).includes(needle)) out.push(path.relative(dir, f));
    }
  };
  walk(dir);
  return out;
}

function signedExit(name: string, source: (s: ReturnType<typeof setup>) => Promise<string>): void {
  it(`${name}: signed entries and a signed exit certificate verify with the key, and fail with another`, async () => {
    const s = setup();
    const target = await source(s);
    for (let i = 0; i < 2; i++) {
      const m = runCli(['migrate', s.plan, '--target', target], { cwd: s.dir, env: s.env });
      expect(m.code, m.stderr).toBe(0);
    }
    const ok = runCli(['audit', 'verify', target, '--pubkey', s.pub, '--json'], { cwd: s.dir });
    expect(ok.code, ok.stderr).toBe(0);
    expect(json(ok.stdout)).toMatchObject({ ok: true, entries: 2, signatures: { signed: 2, unsigned_before: 0 } });
    const wrong = runCli(['audit', 'verify', target, '--pubkey', s.otherPub], { cwd: s.dir });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/entry \S+ \(seq 1\): its signature does not verify with .*other\/forklift-signing\.pub/);

    const bundle = path.join(s.dir, 'out', 'exit');
    const x = runCli(['exit', '--source', target, '--to', bundle, '--plan', s.plan, '--json'], { cwd: s.dir, env: s.env });
    expect(x.code, x.stderr).toBe(0);
    const cert = JSON.parse(readFileSync(path.join(bundle, 'exit-certificate.json'), 'utf8')) as { signature: { algorithm: string; value: string } };
    expect(cert.signature.algorithm).toBe('Ed25519');
    const v = runCli(['bundle', 'verify', bundle, '--pubkey', s.pub, '--json'], { cwd: s.dir });
    expect(v.code, v.stdout).toBe(0);
    expect(json(v.stdout)).toMatchObject({ valid: true, certificate: { valid: true, signed: true }, ledger: { ok: true, entries: 2, signatures: { signed: 2 } } });
    const bad = runCli(['bundle', 'verify', bundle, '--pubkey', s.otherPub], { cwd: s.dir });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/exit-certificate\.json: the signature does not verify with .*other\/forklift-signing\.pub/);
    // The exit itself is a signed entry of the source's ledger.
    const after = runCli(['audit', 'verify', target, '--pubkey', s.pub, '--json'], { cwd: s.dir });
    expect(json(after.stdout)).toMatchObject({ ok: true, entries: 3, signatures: { signed: 3 } });
    // The private key's bytes are in no file forklift wrote: bundle, run reports, logs, stores.
    const body = readFileSync(s.key, 'utf8').split('\n')[1]!;
    expect(body.length).toBeGreaterThan(40);
    expect(filesWith(s.dir, body)).toEqual([]);
    expect(`${x.stdout}${x.stderr}${ok.stdout}${v.stdout}`).not.toContain(body);
  }, 180_000);
}

describe('signing', () => {
  signedExit('SQLite', async (s) => `sqlite:${path.join(s.dir, 'store.db')}`);
  if (pgDown === null) signedExit('PostgreSQL', async () => (await pgDbs.create()).url);
  if (myDown === null) signedExit('MariaDB', async () => (await myDbs.create()).url);

  it('a changed byte: of a signature in the store, of the signed certificate', async () => {
    const s = setup();
    const file = path.join(s.dir, 'store.db');
    const target = `sqlite:${file}`;
    expect(runCli(['migrate', s.plan, '--target', target], { cwd: s.dir, env: s.env }).code).toBe(0);
    const bundle = path.join(s.dir, 'out', 'exit');
    expect(runCli(['exit', '--source', target, '--to', bundle, '--plan', s.plan], { cwd: s.dir, env: s.env }).code).toBe(0);

    const db = new Database(file);
    const sig = db.prepare('SELECT signature FROM forklift_runs WHERE seq = 1').pluck().get() as string;
    const flipped = Buffer.from(sig, 'base64');
    flipped[0] = flipped[0]! ^ 1;
    db.prepare('UPDATE forklift_runs SET signature = ? WHERE seq = 1').run(flipped.toString('base64'));
    db.close();
    const v = runCli(['audit', 'verify', target, '--pubkey', s.pub], { cwd: s.dir });
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(/\(seq 1\): its signature does not verify/);
    // Without --pubkey the chain itself is intact: the signature is beside the hashed fields.
    expect(runCli(['audit', 'verify', target], { cwd: s.dir }).code).toBe(0);

    const certFile = path.join(bundle, 'exit-certificate.json');
    const text = readFileSync(certFile, 'utf8');
    writeFileSync(certFile, text.replace('"operator": "', '"operator": "X'));
    expect(readFileSync(certFile, 'utf8')).not.toBe(text);
    const b = runCli(['bundle', 'verify', bundle, '--pubkey', s.pub], { cwd: s.dir });
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/exit-certificate\.json: the signature does not verify/);
  }, 120_000);

  it('a ledger from before signing (no signature column) still verifies, in the store and in a bundle, and --pubkey says nothing is signed', () => {
    const { dir, plan } = demoCopy();
    const file = path.join(dir, 'store.db');
    const target = `sqlite:${file}`;
    expect(runCli(['migrate', plan, '--target', target], { cwd: dir }).code).toBe(0);
    const db = new Database(file);
    db.exec('ALTER TABLE forklift_runs DROP COLUMN signature');
    db.close();
    expect(runCli(['audit', 'verify', target], { cwd: dir }).code).toBe(0);
    const bundle = path.join(dir, 'b');
    expect(runCli(['export', bundle, '--source', target], { cwd: dir }).code).toBe(0);
    expect(readFileSync(path.join(bundle, 'data', 'csv', 'forklift_runs.csv'), 'utf8').split('\n')[0]).not.toContain('signature');
    expect(runCli(['audit', 'verify', bundle], { cwd: dir }).code).toBe(0);
    expect(runCli(['bundle', 'verify', bundle], { cwd: dir }).code).toBe(0);
    const k = path.join(dir, 'keys');
    runCli(['audit', 'keygen', k], { cwd: dir });
    const v = runCli(['audit', 'verify', target, '--pubkey', path.join(k, 'forklift-signing.pub')], { cwd: dir });
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(/no entry of the chain is signed/);
  }, 120_000);

  it('a ledger written before the key: the exit signs its certificate, and bundle verify --pubkey passes, saying the entries are unsigned and what covers them', async () => {
    const { dir, plan } = demoCopy();
    const target = `sqlite:${path.join(dir, 'store.db')}`;
    expect(runCli(['migrate', plan, '--target', target], { cwd: dir }).code).toBe(0);
    for (const k of ['keys', 'other']) expect(runCli(['audit', 'keygen', path.join(dir, k)], { cwd: dir }).code).toBe(0);
    const pub = path.join(dir, 'keys', 'forklift-signing.pub');
    // Exported before the exit, whose own entry is signed: nothing of this bundle is.
    const plain = path.join(dir, 'out', 'plain');
    expect(runCli(['export', plain, '--source', target], { cwd: dir }).code).toBe(0);
    const bundle = path.join(dir, 'out', 'exit');
    const x = runCli(['exit', '--source', target, '--to', bundle, '--plan', plan], { cwd: dir, env: { FORKLIFT_SIGNING_KEY: path.join(dir, 'keys', 'forklift-signing.key') } });
    expect(x.code, x.stderr).toBe(0);
    const v = runCli(['bundle', 'verify', bundle, '--pubkey', pub], { cwd: dir });
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/exit certificate matches the payload, signature verified · audit chain of 1 entries verifies, 1 unsigned entry from before the key, covered by the signed exit certificate, which names the chain head/);
    const j = runCli(['bundle', 'verify', bundle, '--pubkey', pub, '--json'], { cwd: dir });
    expect(json(j.stdout)).toMatchObject({ valid: true, ledger: { ok: true, signatures: { signed: 0, unsigned_before: 1, covered_by: expect.stringMatching(/signed exit certificate/) } } });
    // Another key: the certificate's signature and the chain's (none signed, nothing covering it) are named; the hint says so, not that the bundle changed.
    const other = runCli(['bundle', 'verify', bundle, '--pubkey', path.join(dir, 'other', 'forklift-signing.pub')], { cwd: dir });
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/exit-certificate\.json: the signature does not verify/);
    expect(other.stderr).toMatch(/Hint: Everything else verifies: check that --pubkey is the public key of the key/);
    // A page changed after the exit is named; the certificate's signature still covers the chain, which is not named.
    const page = path.join(bundle, 'exit-certificate.html');
    writeFileSync(page, readFileSync(page, 'utf8').replace('>2,585 in 5 tables<', '>9,999 in 5 tables<'));
    await rebag(bundle);
    const changed = runCli(['bundle', 'verify', bundle, '--pubkey', pub, '--json'], { cwd: dir });
    expect(changed.code).toBe(1);
    const failed = json(changed.stdout) as { error: { message: string; details?: string[] } };
    expect(failed.error.message).toMatch(/exit-certificate\.html: does not say what exit-certificate\.json says/);
    expect(failed.error.details).toBeUndefined();
    // A plain export has no certificate: with nothing signed, --pubkey fails, and says why.
    const p = runCli(['bundle', 'verify', plain, '--pubkey', pub], { cwd: dir });
    expect(p.code).toBe(1);
    expect(p.stderr).toMatch(/no entry of the chain is signed/);
    expect(p.stderr).not.toMatch(/was changed after it was written/);
  }, 180_000);

  it('key files that cannot be used: exit 2 naming the file, before any work', () => {
    const s = setup();
    const target = `sqlite:${path.join(s.dir, 'store.db')}`;
    const corrupt = path.join(s.dir, 'corrupt.key');
    writeFileSync(corrupt, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
    const encrypted = path.join(s.dir, 'encrypted.key');
    writeFileSync(encrypted, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }) as string);
    for (const [file, why] of [[corrupt, 'not a readable PEM private key'], [encrypted, 'password-protected'], [s.pub, 'this is a public key']] as const) {
      for (const args of [['migrate', s.plan, '--target', target], ['exit', '--source', target, '--to', path.join(s.dir, 'x')], ['audit', 'init', '--target', target]]) {
        const r = runCli(args, { cwd: s.dir, env: { FORKLIFT_SIGNING_KEY: file } });
        expect(r.code, `${args[0]} ${file}`).toBe(2);
        expect(r.stderr).toContain(`${file}: `);
        expect(r.stderr).toContain(why);
      }
      const v = runCli(['audit', 'verify', target, '--pubkey', file === s.pub ? s.key : file], { cwd: s.dir });
      expect(v.code).toBe(2);
    }
    // Nothing was written: no store, no run folder.
    expect(readdirSync(s.dir)).not.toContain('store.db');
    expect(readdirSync(path.dirname(s.plan))).not.toContain('runs');
    // keygen keeps an existing pair.
    const again = runCli(['audit', 'keygen', path.join(s.dir, 'keys')], { cwd: s.dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exist/);
  }, 120_000);
});

type Exec = (sql: string) => Promise<void>;

function initSuite(name: string, open: () => Promise<{ target: string; exec: Exec; legacyDdl: string }>): void {
  it(`audit init on ${name}: a ledger from before the chain is chained in the order it ran`, async () => {
    const { dir } = demoCopy();
    const { target, exec, legacyDdl } = await open();
    await exec(legacyDdl);
    await exec(`INSERT INTO forklift_runs (id, command, status, started, finished, operator, host, tool_version, plan_sha256, files, counts, message) VALUES
      ('20250102T000000Z-bbbb', 'migrate', 'failed', '2025-01-02T00:00:00.000Z', '2025-01-02T00:00:01.000Z', 'ana', 'plant', '0.0.1', NULL, '{}', '{"items":{"read":3}}', 'disk full'),
      ('20250101T000000Z-aaaa', 'migrate', 'succeeded', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:01.000Z', 'ana', 'plant', '0.0.1', NULL, '{"a.csv":"00"}', '{}', NULL)`);
    const before = runCli(['audit', 'verify', target], { cwd: dir });
    expect(before.code).toBe(1);
    expect(before.stderr).toMatch(/no audit chain yet/);
    expect(before.stderr).toContain('forklift audit init --target');
    const init = runCli(['audit', 'init', '--target', target, '--json'], { cwd: dir });
    expect(init.code, init.stderr).toBe(0);
    expect(json(init.stdout)).toMatchObject({ started: true, adopted: 2, entries: 3 });
    const v = runCli(['audit', 'verify', target, '--json'], { cwd: dir });
    expect(v.code, v.stderr).toBe(0);
    expect(json(v.stdout)).toMatchObject({ ok: true, entries: 3, unchained: 0 });
    const log = json(runCli(['audit', 'log', '--target', target, '--json'], { cwd: dir }).stdout).entries as { seq: number; id: string; command: string }[];
    expect(log.map((e) => [e.seq, e.id, e.command])).toEqual([[1, '20250101T000000Z-aaaa', 'migrate'], [2, '20250102T000000Z-bbbb', 'migrate'], [3, expect.any(String), 'audit init']]);
    // The chain covers them now: an edit to an adopted entry is caught.
    await exec("UPDATE forklift_runs SET message = 'fine' WHERE id = '20250102T000000Z-bbbb'");
    const edited = runCli(['audit', 'verify', target], { cwd: dir });
    expect(edited.code).toBe(1);
    expect(edited.stderr).toContain('entry 20250102T000000Z-bbbb (seq 2)');
    await exec("UPDATE forklift_runs SET message = 'disk full' WHERE id = '20250102T000000Z-bbbb'");
    // Once chained, init writes nothing.
    const again = runCli(['audit', 'init', '--target', target, '--json'], { cwd: dir });
    expect(json(again.stdout)).toMatchObject({ started: false, entries: 3 });
  }, 120_000);
}

const LEGACY = 'id TEXT PRIMARY KEY, command TEXT NOT NULL, status TEXT NOT NULL, started TEXT NOT NULL, finished TEXT NOT NULL, operator TEXT, host TEXT, tool_version TEXT, plan_sha256 TEXT, files TEXT, counts TEXT, message TEXT';

describe('audit init', () => {
  initSuite('SQLite', async () => {
    const file = path.join(tempDir('forklift-init-'), 'old.db');
    const exec: Exec = async (sql) => {
      const db = new Database(file);
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    };
    return { target: `sqlite:${file}`, exec, legacyDdl: `CREATE TABLE forklift_runs (${LEGACY}) STRICT` };
  });
  if (pgDown === null) {
    initSuite('PostgreSQL', async () => {
      const { url } = await pgDbs.create();
      const legacyDdl = LEGACY.replace('started TEXT', 'started timestamptz').replace('finished TEXT', 'finished timestamptz').replace('files TEXT', 'files json').replace('counts TEXT', 'counts json');
      return { target: url, exec: (sql) => withPg(url, async (c) => void (await c.query(sql))), legacyDdl: `CREATE TABLE forklift_runs (${legacyDdl})` };
    });
  }
  if (myDown === null) {
    initSuite('MariaDB', async () => {
      const { url } = await myDbs.create();
      const exec: Exec = async (sql) => {
        const c = await mysql.createConnection(url);
        try {
          await c.query(sql);
        } finally {
          await c.end();
        }
      };
      const legacyDdl = LEGACY.replace('id TEXT PRIMARY KEY', 'id varchar(64) PRIMARY KEY').replace(/ TEXT NOT NULL/g, ' varchar(32) NOT NULL').replace(/ TEXT/g, ' longtext');
      return { target: url, exec, legacyDdl: `CREATE TABLE forklift_runs (${legacyDdl})` };
    });
  }
});
