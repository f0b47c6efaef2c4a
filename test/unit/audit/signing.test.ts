import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { adoptionLinks, linkAfter, runEntryRow, toLedgerRecord, verifyChain, type LedgerRecord } from '../../../src/audit/chain.js';
import { activeSigner, generateSigningKeys, loadPrivateKey, loadPublicKey, type Signer } from '../../../src/audit/signing.js';
import { ConfigError } from '../../../src/core/errors.js';
import { entry } from './entries.js';

const dir = (): string => mkdtempSync(path.join(tmpdir(), 'forklift-keys-'));


/** A chain of n entries, entry i signed by signers[i] (undefined: unsigned). */
function chain(signers: (Signer | undefined)[]): LedgerRecord[] {
  const out: LedgerRecord[] = [];
  signers.forEach((s, i) => {
    const prev = out.at(-1);
    const row = runEntryRow(entry(i + 1));
    out.push(toLedgerRecord({ ...row, ...linkAfter(row, prev ? { seq: prev.seq, entry_hash: prev.entry_hash } : undefined, s) }));
  });
  return out;
}

function keys(): { signer: Signer; pub: ReturnType<typeof loadPublicKey>; dir: string } {
  const d = dir();
  const k = generateSigningKeys(d);
  return { signer: loadPrivateKey(k.private_key), pub: loadPublicKey(k.public_key), dir: d };
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).exitCode).toBe(2);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('audit keygen', () => {
  it('writes an Ed25519 pair in PEM, the private key readable by its owner only, and refuses to overwrite it', () => {
    const d = dir();
    const k = generateSigningKeys(d);
    expect(statSync(k.private_key).mode & 0o777).toBe(0o600);
    expect(readFileSync(k.private_key, 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(readFileSync(k.public_key, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(k.key_id).toMatch(/^[0-9a-f]{64}$/);
    expect(loadPublicKey(k.public_key).keyId).toBe(k.key_id);
    expect(configError(() => generateSigningKeys(d)).message).toContain('already exist');
    const again = generateSigningKeys(d, { force: true });
    expect(again.key_id).not.toBe(k.key_id);
    expect(statSync(again.private_key).mode & 0o777).toBe(0o600);
  });
});

describe('key files that cannot be used: exit 2 naming the file', () => {
  const d = dir();
  const write = (name: string, text: string): string => {
    const f = path.join(d, name);
    writeFileSync(f, text);
    return f;
  };
  it('a corrupt private key', () => {
    const f = write('corrupt.key', '-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n');
    const e = configError(() => loadPrivateKey(f));
    expect(e.message).toContain(f);
    expect(e.message).toMatch(/not a readable PEM private key/);
  });
  it('a password-protected private key', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const f = write('encrypted.key', privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }) as string);
    expect(configError(() => loadPrivateKey(f)).message).toBe(`${f}: the private key is password-protected`);
  });
  it('a public key where the private key is needed, and the reverse', () => {
    const k = generateSigningKeys(path.join(d, 'pair'));
    expect(configError(() => loadPrivateKey(k.public_key)).message).toMatch(/this is a public key; signing needs the private key/);
    expect(configError(() => loadPublicKey(k.private_key)).message).toMatch(/this is a private key; --pubkey takes the public key/);
  });
  it('a key of another kind, and a missing file', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(configError(() => loadPrivateKey(write('ec.key', privateKey.export({ type: 'pkcs8', format: 'pem' }) as string))).message).toMatch(/a ec key, not Ed25519/);
    expect(configError(() => loadPublicKey(write('ec.pub', publicKey.export({ type: 'spki', format: 'pem' }) as string))).message).toMatch(/not Ed25519/);
    expect(configError(() => loadPublicKey(path.join(d, 'nope.pub'))).message).toMatch(/no such public key file/);
  });
  it('FORKLIFT_SIGNING_KEY naming a bad file fails when it is read, and an unset one signs nothing', () => {
    expect(activeSigner({})).toBeUndefined();
    const f = write('bad.key', 'hello');
    expect(configError(() => activeSigner({ FORKLIFT_SIGNING_KEY: f })).message).toContain(f);
  });
});

describe('signed ledger entries', () => {
  const a = keys();
  const b = keys();

  it('verifies every signature with the right key', () => {
    const c = chain([a.signer, a.signer, a.signer]);
    expect(c.every((r) => typeof r.signature === 'string')).toBe(true);
    expect(verifyChain(c, { pubkey: a.pub })).toMatchObject({ ok: true, signatures: { key_id: a.pub.keyId, signed: 3, unsigned_before: 0 } });
    // The signature is beside the hashed fields: without --pubkey it changes nothing.
    expect(verifyChain(c).ok).toBe(true);
  });

  it('fails with another key, naming the first entry', () => {
    const r = verifyChain(chain([a.signer, a.signer]), { pubkey: b.pub });
    expect(r).toMatchObject({ ok: false, problem: { kind: 'signature', id: entry(1).id, seq: '1' } });
  });

  it('fails when one byte of a signature changed', () => {
    const c = chain([a.signer, a.signer, a.signer]);
    const sig = Buffer.from(c[1]!.signature!, 'base64');
    sig[10] = sig[10]! ^ 1;
    c[1] = { ...c[1]!, signature: sig.toString('base64') };
    expect(verifyChain(c, { pubkey: a.pub })).toMatchObject({ ok: false, problem: { kind: 'signature', id: entry(2).id } });
    expect(verifyChain(c).ok).toBe(true);
  });

  it('fails when an entry was re-signed with another key after a field was changed and its hash recomputed', () => {
    // A forger with another key rewrites the last entry whole: the chain holds, the signature does not.
    const c = chain([a.signer, a.signer]);
    const forged = chain([a.signer, b.signer]);
    expect(verifyChain([c[0]!, forged[1]!], { pubkey: a.pub })).toMatchObject({ ok: false, problem: { kind: 'signature', id: entry(2).id } });
  });

  it('counts unsigned entries before the first signed one as covered, and fails an unsigned one after it', () => {
    expect(verifyChain(chain([undefined, undefined, a.signer]), { pubkey: a.pub })).toMatchObject({ ok: true, signatures: { signed: 1, unsigned_before: 2 } });
    const stripped = chain([a.signer, a.signer, a.signer]);
    stripped[2] = { ...stripped[2]!, signature: null };
    expect(verifyChain(stripped, { pubkey: a.pub })).toMatchObject({ ok: false, problem: { kind: 'unsigned', id: entry(3).id } });
  });

  it('fails a chain with no signature at all when a key is given', () => {
    expect(verifyChain(chain([undefined, undefined]), { pubkey: a.pub })).toMatchObject({ ok: false, problem: { kind: 'unsigned' } });
  });
});

describe('audit init: adopting entries from before the chain', () => {
  it('chains them in the order they ran, after the head, hashed as stored', () => {
    const rows = [3, 1, 2].map((n) => ({ ...runEntryRow(entry(n)), seq: null, prev_hash: null, entry_hash: null }));
    const links = adoptionLinks(rows, undefined, undefined);
    expect(links.map((l) => [l.id, l.link.seq])).toEqual([[entry(1).id, 1], [entry(2).id, 2], [entry(3).id, 3]]);
    const adopted = rows.map((r) => toLedgerRecord({ ...r, ...links.find((l) => l.id === r.id)!.link }));
    expect(verifyChain(adopted)).toMatchObject({ ok: true, entries: 3, unchained: 0, head: links[2]!.link.entry_hash });
    const after = adoptionLinks(rows.slice(0, 1), { seq: 7, entry_hash: 'f'.repeat(64) }, undefined);
    expect(after[0]!.link).toMatchObject({ seq: 8, prev_hash: 'f'.repeat(64) });
  });
});
