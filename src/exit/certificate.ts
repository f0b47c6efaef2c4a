import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import canonicalize from 'canonicalize';
import type { PublicKey, Signer } from '../audit/signing.js';
import { toolVersion } from '../core/version.js';
import type { SchemaTables } from '../stores/types.js';
import { tableFiles } from '../bundle/layout.js';

/**
 * The exit certificate (`forklift exit`): a tag file in the bag root, `exit-certificate.json`, with
 * a self-contained `exit-certificate.html` for people. It states what left the store: every table
 * with its row count and the SHA-256 of its CSV, the bag's Payload-Oxum, the SHA-256 of
 * manifest-sha256.txt, the ledger head the bag-info records, and the diff of a re-import against
 * the source. `bundle verify` checks it against the payload (checkCertificate).
 */

export const CERTIFICATE_JSON = 'exit-certificate.json';
export const CERTIFICATE_HTML = 'exit-certificate.html';

export interface ExitCertificate {
  format: 'forklift-exit-certificate';
  version: 1;
  bundle: string;
  /** The source store's URL, without password. */
  source: string;
  tables: { name: string; rows: number; csv: string; csv_sha256: string }[];
  rows_total: number;
  payload_oxum: string;
  manifest_sha256: string;
  ledger_head: string | null;
  profile: string | null;
  /** Schemas of the source left out on purpose (exit --skip-schemas), with their tables; absent when every table was taken out. */
  not_exported?: SchemaTables[];
  diff: { identical: boolean; compared: string; tables: number; added: number; removed: number; changed: number; unchanged: number; ignored_columns: string[] };
  tool_version: string;
  operator: string;
  host: string;
  started: string;
  finished: string;
  /** The Ed25519 signature (FORKLIFT_SIGNING_KEY) over the certificate's canonical JSON without this field; null when no key was set. */
  signature: CertificateSignature | null;
}

export interface CertificateSignature {
  algorithm: 'Ed25519';
  /** SHA-256 of the public key (DER, SPKI): which key to check it with. */
  key_sha256: string;
  /** What was signed, so an auditor can check it with other tools. */
  signed: 'RFC 8785 canonical JSON of the certificate without its signature field';
  /** Base64. */
  value: string;
}

/** The bytes a certificate's signature covers: its RFC 8785 canonical JSON without the signature field. */
function signedText(c: Partial<ExitCertificate>): string {
  const { signature: _s, ...rest } = c;
  return canonicalize(rest)!;
}

export function signCertificate(c: ExitCertificate, signer: Signer | undefined): ExitCertificate {
  if (!signer) return { ...c, signature: null };
  return { ...c, signature: { algorithm: 'Ed25519', key_sha256: signer.keyId, signed: 'RFC 8785 canonical JSON of the certificate without its signature field', value: signer.sign(signedText(c)) } };
}

export function certificateJson(c: ExitCertificate): string {
  return `${JSON.stringify(c, null, 2)}\n`;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

/** A page that needs nothing but a browser: no script, no external style or font. */
export function certificateHtml(c: ExitCertificate): string {
  const fmt = new Intl.NumberFormat('en-US');
  const row = (k: string, v: string): string => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Exit certificate: ${esc(c.bundle)}</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222}table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}td.n{text-align:right}code,.h{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}.ok{color:#060}.bad{color:#a00}</style>
</head><body>
<h1>Exit certificate</h1>
<p>${c.not_exported?.length ? 'Every table of the schema read' : 'Every table'} of <code>${esc(c.source)}</code> was exported into the bundle <code>${esc(c.bundle)}</code>, the bundle verified, re-imported into a scratch database and compared with the source:
<strong class="${c.diff.identical ? 'ok' : 'bad'}">${c.diff.identical ? 'identical' : 'different'}</strong>.</p>${c.not_exported?.length ? `
<p class="bad">Left out on purpose (<code>--skip-schemas</code>), not in this bundle: ${c.not_exported.map((n) => `schema <code>${esc(n.schema)}</code> (${n.tables.map(esc).join(', ')})`).join('; ')}.</p>` : ''}
<table>
${row('source', c.source)}
${row('rows', `${fmt.format(c.rows_total)} in ${c.tables.length} tables`)}
${row('Payload-Oxum', c.payload_oxum)}
${row('manifest-sha256.txt SHA-256', c.manifest_sha256)}
${row('ledger head', c.ledger_head ?? '(none recorded)')}
${row('profile', c.profile ?? 'none (every column as stored)')}
${c.not_exported?.length ? `${row('not exported', c.not_exported.map((n) => `${n.schema}: ${n.tables.join(', ')}`).join('; '))}
` : ''}${row('diff', `${c.diff.compared}: ${fmt.format(c.diff.unchanged)} rows unchanged, ${c.diff.added} added, ${c.diff.removed} removed, ${c.diff.changed} changed${c.diff.ignored_columns.length ? `; columns left out by the profile: ${c.diff.ignored_columns.join(', ')}` : ''}`)}
${row('tool version', c.tool_version)}
${row('operator', `${c.operator} on ${c.host}`)}
${row('started', c.started)}
${row('finished', c.finished)}
${row('signature', c.signature ? `Ed25519 by the key with SHA-256 ${c.signature.key_sha256}: ${c.signature.value}` : 'unsigned')}
</table>
<h2>Tables</h2>
<table><tr><th>table</th><th>rows</th><th>CSV</th><th>SHA-256</th></tr>
${c.tables.map((t) => `<tr><td>${esc(t.name)}</td><td class="n">${fmt.format(t.rows)}</td><td><code>${esc(t.csv)}</code></td><td class="h">${esc(t.csv_sha256)}</td></tr>`).join('\n')}
</table>
<p>Check it: <code>forklift bundle verify ${esc(c.bundle)}</code>, or by hand with <code>sha256sum -c manifest-sha256.txt</code> and <code>sha256sum manifest-sha256.txt</code> in the bundle folder.
The machine-readable form is <code>${CERTIFICATE_JSON}</code>; both files are listed in <code>tagmanifest-sha256.txt</code>.</p>
</body></html>
`;
}

/**
 * The certificate of a bag, if it has one, checked against the payload: each table's row count
 * (as the Data Package and bag-info state it), each CSV's SHA-256 (as manifest-sha256.txt lists it,
 * which the BagIt layer checks against the file), the SHA-256 of manifest-sha256.txt and the
 * Payload-Oxum. Returns the mismatches, each naming the certificate; null without a certificate.
 */
export function checkCertificate(dir: string, info: readonly (readonly [string, string])[], pubkey?: PublicKey): string[] | null {
  const file = path.join(dir, CERTIFICATE_JSON);
  if (!existsSync(file)) {
    // The page alone would stand unchecked, saying "identical" of whatever payload it sits beside.
    return existsSync(path.join(dir, CERTIFICATE_HTML)) ? [`${CERTIFICATE_JSON}: missing, while ${CERTIFICATE_HTML} is there (an exit writes both; the page is checked against it, and cannot be without it)`] : null;
  }
  const problems: string[] = [];
  const bad = (what: string): void => void problems.push(`${CERTIFICATE_JSON}: ${what}`);
  let cert: Partial<ExitCertificate>;
  try {
    cert = JSON.parse(readFileSync(file, 'utf8')) as Partial<ExitCertificate>;
  } catch (e) {
    bad(`not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    return problems;
  }
  if (cert.format !== 'forklift-exit-certificate' || !Array.isArray(cert.tables)) {
    bad('not a forklift exit certificate (format or tables missing)');
    return problems;
  }
  const manifestFile = path.join(dir, 'manifest-sha256.txt');
  if (!existsSync(manifestFile)) {
    bad('the bag has no manifest-sha256.txt to check the certificate against');
    return problems;
  }
  const manifestBytes = readFileSync(manifestFile);
  const manifestHash = createHash('sha256').update(manifestBytes).digest('hex');
  if (cert.manifest_sha256 !== manifestHash) bad(`manifest-sha256.txt has SHA-256 ${manifestHash}, the certificate states ${String(cert.manifest_sha256)}`);
  const listed = new Map<string, string>();
  for (const line of manifestBytes.toString('utf8').split(/\r?\n/)) {
    const m = /^([0-9a-fA-F]{64})[ \t]+\*?(.+)$/.exec(line);
    if (m) listed.set(m[2]!, m[1]!.toLowerCase());
  }
  const oxum = info.find(([k]) => k.toLowerCase() === 'payload-oxum')?.[1];
  if (cert.payload_oxum !== oxum) bad(`bag-info.txt has Payload-Oxum ${oxum ?? '(none)'}, the certificate states ${String(cert.payload_oxum)}`);
  const stated = statedRows(dir, info);
  let total = 0;
  const seen = new Set<string>();
  for (const t of cert.tables) {
    seen.add(t.name);
    total += t.rows;
    const csv = t.csv ?? tableFiles(t.name).csv;
    const sha = listed.get(csv);
    if (sha === undefined) bad(`table ${t.name}: ${csv} is not in the payload`);
    else if (sha !== t.csv_sha256) bad(`table ${t.name}: ${csv} has SHA-256 ${sha}, the certificate states ${t.csv_sha256}`);
    const rows = stated.get(t.name);
    if (rows === undefined) bad(`table ${t.name}: not a table of the bundle`);
    else if (rows !== t.rows) bad(`table ${t.name}: the bundle holds ${rows} rows, the certificate states ${t.rows}`);
  }
  for (const name of stated.keys()) if (!seen.has(name)) bad(`table ${name} of the bundle is not in the certificate`);
  if (cert.rows_total !== total) bad(`rows_total ${String(cert.rows_total)} is not the sum of the tables' rows (${total})`);
  if (cert.diff?.identical !== true) bad('the certificate records a diff that was not identical');
  // What bag-info.txt says of the bundle's origin is what the (signed) certificate says.
  for (const p of bagInfoMismatches(cert, info)) bad(p);
  const page = checkPage(dir, cert);
  if (page) problems.push(page);
  if (pubkey) {
    const problem = signatureProblem(cert, pubkey);
    if (problem) bad(problem);
  }
  return problems;
}

/** Why the certificate's signature does not verify with `pubkey`; null when it does. */
function signatureProblem(cert: Partial<ExitCertificate>, pubkey: PublicKey): string | null {
  const sig = cert.signature;
  if (!sig || typeof sig.value !== 'string') return `not signed, so ${pubkey.file} has nothing to check (was FORKLIFT_SIGNING_KEY set for the exit?)`;
  if (pubkey.verify(signedText(cert), sig.value)) return null;
  return `the signature does not verify with ${pubkey.file} (key ${pubkey.keyId.slice(0, 12)}${sig.key_sha256 && sig.key_sha256 !== pubkey.keyId ? `; it was made by key ${String(sig.key_sha256).slice(0, 12)}` : ''}): another key, or the certificate was changed`;
}

/** The certificate's signature problem as checkCertificate words it (for telling signature problems from others), null when it verifies. */
export function certificateSignatureProblem(dir: string, pubkey: PublicKey): string | null {
  try {
    const problem = signatureProblem(JSON.parse(readFileSync(path.join(dir, CERTIFICATE_JSON), 'utf8')) as Partial<ExitCertificate>, pubkey);
    return problem === null ? null : `${CERTIFICATE_JSON}: ${problem}`;
  } catch {
    return `${CERTIFICATE_JSON}: cannot be read, so its signature cannot be checked`;
  }
}

/**
 * bag-info.txt against the certificate: the source, the ledger head (which `bundle verify` finds
 * in the bundle's chain, so a signed certificate covers every entry up to it), the profile and
 * the schemas left out. Row counts are checked against the payload itself (verify.ts).
 */
function bagInfoMismatches(cert: Partial<ExitCertificate>, info: readonly (readonly [string, string])[]): string[] {
  const out: string[] = [];
  const all = (k: string): string[] => info.filter(([x]) => x.toLowerCase() === k).map(([, v]) => v.trim());
  const one = (k: string): string | undefined => all(k)[0];
  const source = one('forklift-source');
  if (source !== cert.source) out.push(`bag-info.txt has Forklift-Source ${source ?? '(none)'}, the certificate states ${String(cert.source)}`);
  const head = one('forklift-ledger-head');
  const headValue = head && /^[0-9a-f]{64}$/i.test(head) ? head.toLowerCase() : null;
  if (headValue !== (cert.ledger_head?.toLowerCase() ?? null)) out.push(`bag-info.txt has Forklift-Ledger-Head ${head ?? '(none)'}, the certificate states ${cert.ledger_head ?? 'none'}`);
  const profile = one('forklift-profile') ?? '';
  const profileOk = cert.profile === null || cert.profile === undefined ? profile.startsWith('none') : profile.startsWith(`${cert.profile}: `);
  if (!profileOk) out.push(`bag-info.txt has Forklift-Profile ${profile || '(none)'}, the certificate states ${cert.profile ?? 'none'}`);
  const notExported = all('forklift-not-exported').join('; ');
  const stated = (cert.not_exported ?? []).map((n) => `${n.schema}: ${n.tables.join(', ')}`).join('; ');
  if (notExported !== stated) out.push(`bag-info.txt has Forklift-Not-Exported ${notExported || '(none)'}, the certificate states ${stated || 'none'}`);
  return out;
}

/**
 * The page for people must say what the certificate says: it is the page this version of
 * forklift writes for it, byte for byte. A page written by another version (its wording may
 * differ) is not compared; the JSON it renders is checked all the same.
 */
function checkPage(dir: string, cert: Partial<ExitCertificate>): string | null {
  const file = path.join(dir, CERTIFICATE_HTML);
  if (!existsSync(file)) return `${CERTIFICATE_HTML}: missing (an exit writes it beside ${CERTIFICATE_JSON})`;
  if (cert.tool_version !== toolVersion()) return null;
  let want: string;
  try {
    want = certificateHtml(cert as ExitCertificate);
  } catch {
    return `${CERTIFICATE_HTML}: cannot be compared with ${CERTIFICATE_JSON}, which lacks fields the page shows`;
  }
  return readFileSync(file, 'utf8') === want ? null : `${CERTIFICATE_HTML}: does not say what ${CERTIFICATE_JSON} says (it was changed after the exit)`;
}

/** Rows per table as the Data Package states them (checked against the CSVs by the data layer), else bag-info. */
function statedRows(dir: string, info: readonly (readonly [string, string])[]): Map<string, number> {
  const out = new Map<string, number>();
  try {
    const pkg = JSON.parse(readFileSync(path.join(dir, 'data', 'datapackage.json'), 'utf8')) as { resources?: { name?: unknown; 'forklift:rows'?: unknown; rows?: unknown }[] };
    for (const r of pkg.resources ?? []) {
      const n = r['forklift:rows'] ?? r.rows;
      if (typeof r.name === 'string' && typeof n === 'number') out.set(r.name, n);
    }
  } catch {
    // fall through to bag-info
  }
  if (out.size) return out;
  for (const [k, v] of info) {
    if (k.toLowerCase() !== 'forklift-table-rows') continue;
    const m = /^(\S+) (\d+)$/.exec(v.trim());
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}
