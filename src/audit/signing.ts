import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { makeFolder } from '../util/folders.js';
import path from 'node:path';
import { ConfigError } from '../core/errors.js';

/**
 * Ed25519 signing of the audit trail (SPEC section 9): with FORKLIFT_SIGNING_KEY (the path to a
 * PEM private key) every ledger entry carries a signature over its entry_hash and every exit
 * certificate one over its canonical JSON; `--pubkey FILE` checks them. Only node:crypto is used.
 * The private key is read here and nowhere else, and never leaves this module: what is written
 * anywhere is a signature or the public key's SHA-256 (its key id).
 */

export const PRIVATE_KEY_FILE = 'forklift-signing.key';
export const PUBLIC_KEY_FILE = 'forklift-signing.pub';

export interface Signer {
  /** SHA-256 (hex) of the public key's DER (SPKI) form: names the key without revealing anything. */
  readonly keyId: string;
  /** The file the key came from, for messages. */
  readonly file: string;
  /** Base64 Ed25519 signature over the UTF-8 bytes of `text`. */
  sign(text: string): string;
}

export interface PublicKey {
  readonly keyId: string;
  readonly file: string;
  verify(text: string, signature: string): boolean;
}

const keyIdOf = (pub: KeyObject): string => createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex');

function badKey(file: string, why: string, hint: string): ConfigError {
  return new ConfigError(`${file}: ${why}`, { code: 'audit.key', location: { file }, hint });
}

function readKeyText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw badKey(file, code === 'ENOENT' ? `no such ${what} file` : `cannot read the ${what} file (${code ?? String(e)})`, `Give the path of the ${what} file forklift audit keygen wrote.`);
  }
}

/** Reads an Ed25519 private key in PEM: a corrupt, password-protected or public key is a ConfigError (exit 2) naming the file. */
export function loadPrivateKey(file: string): Signer {
  const text = readKeyText(file, 'private key');
  if (/ENCRYPTED/.test(text)) {
    throw badKey(file, 'the private key is password-protected', 'forklift signs unattended and cannot ask for a password: write a key without one (forklift audit keygen DIR) and protect the file instead (mode 0600).');
  }
  if (/-----BEGIN [A-Z ]*PUBLIC KEY-----/.test(text) && !/PRIVATE KEY/.test(text)) {
    throw badKey(file, 'this is a public key; signing needs the private key', `FORKLIFT_SIGNING_KEY is the private key (${PRIVATE_KEY_FILE}); the public key (${PUBLIC_KEY_FILE}) is for --pubkey.`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch {
    throw badKey(file, 'not a readable PEM private key (corrupt or not a key)', 'Write a new key pair with forklift audit keygen DIR.');
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw badKey(file, `a ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519`, 'Write an Ed25519 key pair with forklift audit keygen DIR.');
  }
  const keyId = keyIdOf(createPublicKey(key));
  return { keyId, file, sign: (t) => sign(null, Buffer.from(t, 'utf8'), key).toString('base64') };
}

/** Reads an Ed25519 public key in PEM (--pubkey): anything else is a ConfigError (exit 2) naming the file. */
export function loadPublicKey(file: string): PublicKey {
  const text = readKeyText(file, 'public key');
  if (/PRIVATE KEY/.test(text)) {
    throw badKey(file, 'this is a private key; --pubkey takes the public key', `Give the public key (${PUBLIC_KEY_FILE}), and keep the private key where only the signer reads it.`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: 'pem' });
  } catch {
    throw badKey(file, 'not a readable PEM public key (corrupt or not a key)', `Give the public key (${PUBLIC_KEY_FILE}) that forklift audit keygen wrote.`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw badKey(file, `a ${key.asymmetricKeyType ?? 'unknown'} key, not Ed25519`, 'forklift signs with Ed25519 keys (forklift audit keygen DIR).');
  return {
    keyId: keyIdOf(key),
    file,
    verify: (t, s) => {
      try {
        return verify(null, Buffer.from(t, 'utf8'), key, Buffer.from(s, 'base64'));
      } catch {
        return false;
      }
    },
  };
}

let cached: { file: string; signer: Signer } | undefined;

/**
 * The signer FORKLIFT_SIGNING_KEY names, or undefined when it is not set. Read once per process:
 * commands that append to a ledger call it before any work, so a bad key fails at once (exit 2),
 * and the stores call it again when they append.
 */
export function activeSigner(env: NodeJS.ProcessEnv = process.env): Signer | undefined {
  const file = env.FORKLIFT_SIGNING_KEY?.trim();
  if (!file) return undefined;
  if (cached?.file !== file) cached = { file, signer: loadPrivateKey(path.resolve(file)) };
  return cached.signer;
}

export interface KeygenResult {
  private_key: string;
  public_key: string;
  key_id: string;
}

/** `forklift audit keygen DIR`: a new Ed25519 key pair, the private key readable by its owner only. */
export function generateSigningKeys(dir: string, opts: { force?: boolean | undefined } = {}): KeygenResult {
  const priv = path.join(dir, PRIVATE_KEY_FILE);
  const pub = path.join(dir, PUBLIC_KEY_FILE);
  const present = [priv, pub].filter((f) => existsSync(f));
  if (present.length && !opts.force) {
    throw new ConfigError(`${present.join(' and ')} already exist${present.length === 1 ? 's' : ''}`, {
      code: 'audit.keygen-exists',
      hint: 'A new key cannot check what the old one signed: keep the old pair, choose another folder, or give --force to replace it.',
    });
  }
  makeFolder(dir, 'the signing keys', 'audit.keygen');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  // mode applies only when the file is created: chmod too, for a replaced key.
  writeFileSync(priv, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  chmodSync(priv, 0o600);
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 });
  return { private_key: priv, public_key: pub, key_id: keyIdOf(publicKey) };
}
