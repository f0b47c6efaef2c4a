import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { ConfigError } from '../core/errors.js';
import type { RunEntry } from '../stores/types.js';
import { activeSigner, type PublicKey, type Signer } from './signing.js';

/**
 * The audit chain over forklift_runs (SPEC section 9), independent of where the entries are kept:
 * a live store or a bundle's forklift_runs.csv. Each entry's `entry_hash` is the SHA-256 (hex) of
 * the RFC 8785 canonical JSON of the entry as forklift writes it, `prev_hash` included: every
 * field a string or null (files and counts as their exact JSON text, seq as decimal text,
 * timestamps as ISO 8601 UTC with milliseconds, an empty text as null), so the hash does not
 * depend on the store's column types. A signature (FORKLIFT_SIGNING_KEY) is over the entry_hash,
 * so like entry_hash it is kept beside the hashed fields, not among them.
 */
export const LEDGER_FIELDS = ['id', 'command', 'status', 'started', 'finished', 'operator', 'host', 'tool_version', 'plan_sha256', 'files', 'counts', 'message', 'seq', 'prev_hash'] as const;
export type LedgerField = (typeof LEDGER_FIELDS)[number];

/** One entry in canonical form, with its recorded entry_hash and signature. */
export type LedgerRecord = Record<LedgerField, string | null> & { entry_hash: string | null; signature: string | null };

/** The chain columns forklift adds to every entry it appends. */
export interface ChainLink {
  seq: number;
  prev_hash: string | null;
  entry_hash: string;
  /** Base64 Ed25519 signature over entry_hash, when a signing key is set. */
  signature: string | null;
}

const TIME_FIELDS = new Set<string>(['started', 'finished']);

/** A stored value to its canonical text (null for NULL and the empty string). */
export function canonicalValue(field: string, v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string') return JSON.stringify(v);
  if (v === '') return null;
  if (TIME_FIELDS.has(field) && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(v)) {
    const d = new Date(v.includes('T') || v.includes('+') || v.endsWith('Z') ? v : `${v.replace(' ', 'T')}Z`);
    if (!Number.isNaN(d.getTime())) {
      // Date keeps milliseconds. Digits below them (zeros aside) are kept: forklift never writes
      // any, so they are an edit, and cutting them would hash the edited entry as the original.
      const below = /:\d\d\.\d{3}(\d*?)0*(?:Z|[+-]\d\d(?::?\d\d)?)?$/.exec(v)?.[1];
      const iso = d.toISOString();
      return below ? `${iso.slice(0, -1)}${below}Z` : iso;
    }
  }
  if (field === 'seq' && /^-?\d+(\.0+)?$/.test(v)) return String(BigInt(v.replace(/\.0+$/, '')));
  return v;
}

/** A row (column name to value, from a store or a bundle) to a ledger record. */
export function toLedgerRecord(row: Record<string, unknown>): LedgerRecord {
  const out = { entry_hash: canonicalValue('entry_hash', row.entry_hash), signature: canonicalValue('signature', row.signature) } as LedgerRecord;
  for (const f of LEDGER_FIELDS) out[f] = canonicalValue(f, row[f]);
  return out;
}

/** The SHA-256 of a record's canonical JSON (its entry_hash excluded, its prev_hash included). */
export function entryHash(rec: Record<LedgerField, string | null>): string {
  const obj: Record<string, string | null> = {};
  for (const f of LEDGER_FIELDS) obj[f] = rec[f];
  return createHash('sha256').update(canonicalize(obj)!, 'utf8').digest('hex');
}

/** The row forklift writes for a RunEntry (files and counts as the JSON text it stores). */
export function runEntryRow(e: RunEntry): Record<Exclude<LedgerField, 'seq' | 'prev_hash'>, string | null> {
  return { ...e, files: JSON.stringify(e.files), counts: JSON.stringify(e.counts) };
}

/**
 * The chain link of a new entry appended after `head` (the last entry's seq and entry_hash, or
 * none), signed with FORKLIFT_SIGNING_KEY when it is set.
 */
export function nextLink(e: RunEntry, head: { seq: unknown; entry_hash: unknown } | undefined, signer: Signer | undefined = activeSigner()): ChainLink {
  return linkAfter(runEntryRow(e), head, signer);
}

/** The link of any row (a new entry, or an entry from before the chain that audit init adopts) after `head`. */
export function linkAfter(row: Record<string, unknown>, head: { seq: unknown; entry_hash: unknown } | undefined, signer: Signer | undefined): ChainLink {
  const seq = head ? Number(head.seq) + 1 : 1;
  const prev_hash = head ? canonicalValue('entry_hash', head.entry_hash) : null;
  const entry_hash = entryHash(toLedgerRecord({ ...row, seq, prev_hash }));
  return { seq, prev_hash, entry_hash, signature: signer ? signer.sign(entry_hash) : null };
}

/**
 * audit init: the links of entries from before the chain (rows as the store holds them), chained
 * after `head` in the order they ran (start time, then id). Each is hashed as it is stored now.
 */
export function adoptionLinks(rows: readonly Record<string, unknown>[], head: { seq: unknown; entry_hash: unknown } | undefined, signer: Signer | undefined): { id: unknown; link: ChainLink }[] {
  const recs = rows.map((row) => ({ row, rec: toLedgerRecord(row) }));
  recs.sort((a, b) => (a.rec.started ?? '').localeCompare(b.rec.started ?? '') || (a.rec.id ?? '').localeCompare(b.rec.id ?? ''));
  let last = head;
  return recs.map(({ row }) => {
    const link = linkAfter(row, last, signer);
    last = link;
    return { id: row.id, link };
  });
}

/** The fewest digits of a --head taken: audit log prints the first 12 of each entry_hash. */
const HEAD_MIN_DIGITS = 12;

/**
 * A --head as given, trimmed and in lower case: an entry_hash (64 hex digits) or its start of at
 * least HEAD_MIN_DIGITS digits. Anything else is a usage error (exit 2), never a verdict on the
 * ledger: a typo must not read as "the ledger was rewritten".
 */
export function parseHead(given: string): string {
  const h = given.trim().toLowerCase();
  if (new RegExp(`^[0-9a-f]{${HEAD_MIN_DIGITS},64}$`).test(h)) return h;
  throw new ConfigError(`--head ${JSON.stringify(given)} is not a ledger head: ${h === '' ? 'it is empty' : /[^0-9a-f]/.test(h) ? 'it holds characters other than hex digits' : h.length > 64 ? `it has ${h.length} digits, an entry_hash 64` : `it has ${h.length} digits, fewer than the ${HEAD_MIN_DIGITS} taken`}`, {
    code: 'audit.head-format',
    hint: `Give the head as kept: report.json's ledger_head or bag-info.txt's Forklift-Ledger-Head (64 hex digits), or at least its first ${HEAD_MIN_DIGITS} digits, as audit log prints them.`,
  });
}

/** A head given by its first digits (parseHead's), not whole: found by the start of an entry_hash. */
const isHeadStart = (want: string): boolean => want.length < 64 && want.length >= HEAD_MIN_DIGITS && /^[0-9a-f]+$/.test(want);

/**
 * The position of the entry whose entry_hash is `want` (a whole hash or its start, parseHead's),
 * or undefined. A start that fits two entries is a usage error: it says nothing about the ledger.
 */
export function findHead(want: string, hashes: Iterable<[string, number]>): number | undefined {
  let found: number | undefined;
  for (const [h, i] of hashes) {
    if (!h.startsWith(want)) continue;
    if (found !== undefined) throw ambiguousHead(want);
    found = i;
  }
  return found;
}

const ambiguousHead = (want: string): ConfigError =>
  new ConfigError(`--head ${want} is the start of more than one entry_hash of this chain`, { code: 'audit.head-ambiguous', hint: 'Give more of its digits, or all 64 as report.json\'s ledger_head has them.' });

/**
 * What the chain's first entry records, in its counts as `before_chain`, of the entries it found
 * in forklift_runs with no place in a chain (a ledger from before the chain, which audit init may
 * chain later): how many, and the SHA-256 over their own hashes (each entry's entry_hash as if it
 * stood alone, sorted, one per line). Only they may stay unchained beside the chain: an entry
 * inserted later, backdated or not, or one of them changed or deleted, no longer matches it.
 */
export interface BeforeChain {
  entries: number;
  sha256: string;
}

export const BEFORE_CHAIN = 'before_chain';

/** The record (BeforeChain) of these unchained entries. */
function beforeChainRecord(unchained: readonly LedgerRecord[]): BeforeChain {
  return recordOfHashes(unchained.map((r) => entryHash(r)));
}

/** The record of unchained entries by their own hashes (in any order). */
function recordOfHashes(hashes: readonly string[]): BeforeChain {
  return { entries: hashes.length, sha256: createHash('sha256').update([...hashes].sort().join('\n'), 'utf8').digest('hex') };
}

/**
 * The entry that starts the chain (appended where no entry is chained yet), recording the
 * unchained entries the store holds in the same transaction: rows as the store gives them, read
 * as audit init reads them (files and counts as their text).
 */
export function firstChainEntry(e: RunEntry, unchained: readonly Record<string, unknown>[]): RunEntry {
  // An entity of that name keeps its counts; the chain is then checked as one that records nothing.
  if (Object.hasOwn(e.counts, BEFORE_CHAIN)) return e;
  return { ...e, counts: { ...e.counts, [BEFORE_CHAIN]: beforeChainRecord(unchained.map(toLedgerRecord)) } };
}

/** The entries of forklift_runs with no place in the chain (audit init adopts them; the first entry records them): `columns` of each. */
export function unchainedSql(columns = '*'): string {
  return `SELECT ${columns} FROM forklift_runs WHERE seq IS NULL AND entry_hash IS NULL`;
}

export const UNCHAINED_SQL = unchainedSql();

/** The record of the entries from before the chain that its first entry holds, or undefined: a chain begun before forklift recorded it (or on SQL Server). */
export function beforeChainOf(first: LedgerRecord | undefined): BeforeChain | undefined {
  if (first?.counts == null) return undefined;
  try {
    const v = (JSON.parse(first.counts) as Record<string, unknown>)[BEFORE_CHAIN] as Partial<BeforeChain> | undefined;
    if (typeof v?.entries === 'number' && typeof v.sha256 === 'string') return { entries: v.entries, sha256: v.sha256 };
  } catch {
    // counts that are not JSON: the hash check names an entry so changed
  }
  return undefined;
}

export type TamperKind = 'edited' | 'deleted' | 'inserted' | 'reordered' | 'seq' | 'head' | 'unchained-after-chain' | 'before-chain' | 'signature' | 'unsigned';

export interface VerifyProblem {
  kind: TamperKind;
  /** The first entry that does not match (absent for a head that is not in the chain). */
  id?: string;
  seq?: string | null;
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Chained entries checked. */
  entries: number;
  /** Entries from before the chain (no seq, no hashes): they precede it and are not covered. */
  unchained: number;
  /**
   * With unchained entries: true where the chain's first entry records them (they are the ones
   * it found), false where it records nothing (a chain begun before forklift recorded them): then
   * nothing proves they predate it.
   */
  unchainedRecorded?: boolean;
  /** The last entry's entry_hash (null for an empty chain). */
  head: string | null;
  /** With --head: entries after the pinned head. */
  afterHead?: number;
  /**
   * With --pubkey: the key's id, the entries whose signature verified, and the unsigned ones before
   * the first signed (covered by the chain, or, where none is signed, by `covered_by`).
   */
  signatures?: { key_id: string; signed: number; unsigned_before: number; covered_by?: string };
  /** With --head: the whole entry_hash it was found as (it may be given by its first digits). */
  headFound?: string;
  problem?: VerifyProblem;
}

const short = (h: string | null | undefined): string => (h ? h.slice(0, 12) : 'null');
const label = (r: LedgerRecord): string => `entry ${r.id ?? '?'} (seq ${r.seq ?? '?'})`;

/**
 * Recomputes the chain. `records` in any order: unchained entries (no seq and no entry_hash) are
 * counted, the others taken in seq order. The first entry that does not match is named, with what
 * differs: an edited field, a deleted, inserted or reordered entry; `head` (a hash kept elsewhere)
 * must be one of the chain's entry hashes, which catches a chain rewritten from scratch.
 */
export function verifyChain(
  records: readonly LedgerRecord[],
  opts: {
    head?: string | undefined;
    pubkey?: PublicKey | undefined;
    /**
     * What signs this chain when no entry is signed (a bundle's exit certificate, signed over the
     * head `head` names): a chain written before the key was set then verifies, said so.
     */
    unsignedCoveredBy?: string | undefined;
  } = {},
): VerifyResult {
  const unchained = records.filter((r) => r.seq === null && r.entry_hash === null);
  const chain = records.filter((r) => !(r.seq === null && r.entry_hash === null));
  // seq parsed once per entry, not once per comparison (100,000 entries: ~3.4M comparisons).
  const seqOf = new Map(chain.map((r) => [r, BigInt(r.seq ?? '0')]));
  chain.sort((a, b) => {
    const x = seqOf.get(a)!;
    const y = seqOf.get(b)!;
    return x < y ? -1 : x > y ? 1 : 0;
  });
  const byHash = new Map<string, number>();
  chain.forEach((r, i) => {
    if (r.entry_hash) byHash.set(r.entry_hash, i);
  });
  const result = (problem?: VerifyProblem, extra: Partial<VerifyResult> = {}): VerifyResult => ({
    ok: !problem,
    entries: chain.length,
    unchained: unchained.length,
    ...(unchained.length ? { unchainedRecorded: beforeChainOf(chain[0]) !== undefined } : {}),
    head: chain.at(-1)?.entry_hash ?? null,
    ...extra,
    ...(problem ? { problem } : {}),
  });
  let prev: LedgerRecord | undefined;
  for (let i = 0; i < chain.length; i++) {
    const r = chain[i]!;
    const at = { id: r.id ?? '?', seq: r.seq };
    if (r.seq === null || r.entry_hash === null) {
      return result({ kind: 'edited', ...at, message: `${label(r)}: its ${r.seq === null ? 'seq' : 'entry_hash'} is missing` });
    }
    const recomputed = entryHash(r);
    if (recomputed !== r.entry_hash) {
      // An entry forged in whole carries a hash that matches nothing; an edited one keeps its old hash.
      const next = chain[i + 1];
      const linked = next?.prev_hash === r.entry_hash;
      return result({
        kind: 'edited',
        ...at,
        message: `${label(r)}: its fields do not match its entry_hash ${short(r.entry_hash)} (recomputed ${short(recomputed)}): ${linked || !next ? 'a field was edited' : 'a field was edited, or the entry was inserted'}`,
      });
    }
    const expectedPrev = prev?.entry_hash ?? null;
    if (r.prev_hash !== expectedPrev) {
      const pointsTo = r.prev_hash === null ? undefined : byHash.get(r.prev_hash);
      let kind: TamperKind;
      let why: string;
      if (pointsTo === undefined) {
        kind = 'deleted';
        why = `its prev_hash ${short(r.prev_hash)} is the hash of no entry here: the entry before it was deleted`;
      } else if (pointsTo < i - 1) {
        const skipped = chain[pointsTo + 1]!;
        // The entries between were inserted (they follow a hash that a later entry also follows) or moved.
        const insertedHere = chain.slice(pointsTo + 1, i).every((x) => x.prev_hash !== null && byHash.has(x.prev_hash) && !chain.slice(i).some((y) => y.prev_hash === x.entry_hash));
        kind = insertedHere ? 'inserted' : 'reordered';
        why = insertedHere
          ? `it follows ${label(chain[pointsTo]!)} in the chain, but ${label(skipped)} was inserted before it`
          : `it follows ${label(chain[pointsTo]!)} in the chain, but comes after ${label(prev!)}: entries were reordered`;
      } else {
        kind = 'reordered';
        why = `it follows ${label(chain[pointsTo]!)} in the chain, which comes after it here: entries were reordered`;
      }
      return result({ kind, ...at, message: `${label(r)}: ${why}` });
    }
    if (prev && BigInt(r.seq) !== BigInt(prev.seq!) + 1n) {
      return result({ kind: 'seq', ...at, message: `${label(r)}: seq ${r.seq} follows seq ${prev.seq}: the sequence was changed` });
    }
    // Entries from before the chain are no reason for it to start later: it starts at 1 (audit init too).
    if (!prev && r.seq !== '1') {
      return result({ kind: 'deleted', ...at, message: `${label(r)}: the chain starts at seq ${r.seq}, not 1: the entries before it were deleted` });
    }
    prev = r;
  }
  const outside = unchainedAfterChain(unchained, chain);
  if (outside) return result(outside);
  const extra: Partial<VerifyResult> = {};
  if (opts.pubkey) {
    const checked = checkSignatures(chain, opts.pubkey, opts.head !== undefined ? opts.unsignedCoveredBy : undefined);
    if ('kind' in checked) return result(checked);
    extra.signatures = checked;
  }
  if (opts.head !== undefined) {
    const want = opts.head.trim().toLowerCase();
    const pos = isHeadStart(want) ? findHead(want, byHash) : byHash.get(want);
    if (pos === undefined) {
      return result({ kind: 'head', message: `the head ${short(want)} is in no entry of this chain: the ledger was rewritten, or entries after ${short(want)} were deleted` }, extra);
    }
    extra.afterHead = chain.length - 1 - pos;
    extra.headFound = chain[pos]!.entry_hash!;
  }
  return result(undefined, extra);
}

/** An instant of a ledger's `started`, for ordering; an unreadable one counts as the latest. */
const startedAt = (r: Pick<LedgerRecord, 'started'>): number => {
  const t = Date.parse(r.started ?? '');
  return Number.isNaN(t) ? Infinity : t;
};

/**
 * Entries with no place in the chain (no seq, no hash) are legitimate only from before it: a
 * ledger written by a forklift without the chain, whose entries the chain's first entry found
 * there and `audit init` later adopts (all of them: after an init there are none). So once the
 * chain has an `audit init` entry, any unchained entry was put there since; before that, they
 * must be exactly those the first entry records (beforeChainRecord). A chain begun before forklift
 * recorded them can only be checked by time: an unchained entry that started after the chain's
 * first entry was put there since, and a backdated one cannot be told from an old one.
 */
function unchainedAfterChain(unchained: readonly LedgerRecord[], chain: readonly LedgerRecord[]): VerifyProblem | undefined {
  const first = chain[0];
  if (!first) return undefined;
  const init = chain.find((r) => r.command === 'audit init');
  const recorded = beforeChainOf(first);
  if (!init && recorded) return differsFromRecord(unchained, first, recorded);
  if (unchained.length === 0) return undefined;
  const since = startedAt(first);
  const bad = unchained.find((r) => init !== undefined || startedAt(r) > since);
  if (!bad) return undefined;
  return {
    kind: 'unchained-after-chain',
    id: bad.id ?? '?',
    seq: null,
    message: `entry ${bad.id ?? '?'} (${bad.command ?? '?'}, started ${bad.started ?? '?'}) has no place in the chain, yet ${
      init ? `audit init ${init.id ?? ''} (seq ${init.seq ?? '?'}) chained every entry before it` : `it started after the chain began (${first.started ?? '?'})`
    }: it was inserted outside forklift, or written by a forklift from before the audit chain (then audit init adopts it into the chain, on record)`,
  };
}

/** The unchained entries against what the chain's first entry records of those it found: the same ones, or a problem naming what differs. */
function differsFromRecord(unchained: readonly LedgerRecord[], first: LedgerRecord, recorded: BeforeChain): VerifyProblem | undefined {
  const now = beforeChainRecord(unchained);
  if (now.entries === recorded.entries && now.sha256 === recorded.sha256) return undefined;
  const records = `${label(first)} records ${recorded.entries} entr${recorded.entries === 1 ? 'y' : 'ies'} from before the chain`;
  // Which one is not among those recorded can be told where there were none, or where one started after the chain began.
  const since = startedAt(first);
  const named = recorded.entries === 0 ? unchained[0] : now.entries > recorded.entries ? unchained.find((r) => startedAt(r) > since) : undefined;
  if (named) {
    return {
      kind: 'before-chain',
      id: named.id ?? '?',
      seq: null,
      message: `entry ${named.id ?? '?'} (${named.command ?? '?'}, started ${named.started ?? '?'}) has no place in the chain and is not one of the entries from before it (${records}; ${now.entries} unchained here now): it was inserted outside forklift`,
    };
  }
  const what = now.entries > recorded.entries ? 'inserted' : now.entries < recorded.entries ? 'deleted' : 'edited or replaced';
  return {
    kind: 'before-chain',
    message: `the ${now.entries} unchained entr${now.entries === 1 ? 'y' : 'ies'} here ${now.entries === 1 ? 'is' : 'are'} not those the chain began after: ${records} (sha256 ${short(recorded.sha256)}, here ${short(now.sha256)}): an entry from before the chain was ${what} outside forklift`,
  };
}

/**
 * verifyChain over entries read in chain order (chainOrder: those from before the chain first,
 * then by seq), one at a time, holding nothing but the entry before (and the hashes of the entries
 * from before the chain, for the record its first entry holds): the answer for a ledger that
 * verifies, the same as verifyChain's. At the first thing that does not verify (or an order it did
 * not expect) it answers undefined, and the caller runs verifyChain over every entry, which names
 * what is wrong in its own words: a tampered ledger is the rare case, and small.
 */
export async function verifyChainStreamed(
  batches: AsyncIterable<readonly LedgerRecord[]>,
  opts: { head?: string | undefined; pubkey?: PublicKey | undefined; each?: (r: LedgerRecord) => void } = {},
): Promise<VerifyResult | undefined> {
  const want = opts.head?.trim().toLowerCase();
  const unchainedHashes: string[] = [];
  let lastUnchained = -Infinity;
  let first: LedgerRecord | undefined;
  let sawInit = false;
  let entries = 0;
  let prev: LedgerRecord | undefined;
  let headAt: number | undefined;
  let headFound: string | undefined;
  let signed = 0;
  let unsignedBefore = 0;
  for await (const batch of batches) {
    for (const r of batch) {
      opts.each?.(r);
      if (r.seq === null && r.entry_hash === null) {
        if (prev) return undefined;
        // Their own hashes, for the record the chain's first entry holds (beforeChainRecord).
        unchainedHashes.push(entryHash(r));
        lastUnchained = Math.max(lastUnchained, startedAt(r));
        continue;
      }
      if (r.seq === null || r.entry_hash === null || entryHash(r) !== r.entry_hash) return undefined;
      if (r.prev_hash !== (prev?.entry_hash ?? null)) return undefined;
      if (prev ? BigInt(r.seq) !== BigInt(prev.seq!) + 1n : r.seq !== '1') return undefined;
      if (opts.pubkey) {
        if (r.signature === null) {
          if (signed > 0) return undefined;
          unsignedBefore++;
        } else if (!opts.pubkey.verify(r.entry_hash, r.signature)) return undefined;
        else signed++;
      }
      if (want !== undefined && (isHeadStart(want) ? r.entry_hash.startsWith(want) : r.entry_hash === want)) {
        // A start of two hashes: verifyChain says so.
        if (headAt !== undefined) return undefined;
        headAt = entries;
        headFound = r.entry_hash;
      }
      first ??= r;
      if (r.command === 'audit init') sawInit = true;
      entries++;
      prev = r;
    }
  }
  // Unchained entries not from before the chain (unchainedAfterChain's rules): verifyChain names them.
  const unchained = unchainedHashes.length;
  const recorded = beforeChainOf(first);
  if (first && !sawInit && recorded) {
    const now = recordOfHashes(unchainedHashes);
    if (now.entries !== recorded.entries || now.sha256 !== recorded.sha256) return undefined;
  } else if (unchained > 0 && first && (sawInit || lastUnchained > startedAt(first))) return undefined;
  if (opts.pubkey && signed === 0) return undefined;
  if (want !== undefined && headAt === undefined) return undefined;
  const extra: Partial<VerifyResult> = {};
  if (opts.pubkey) extra.signatures = { key_id: opts.pubkey.keyId, signed, unsigned_before: unsignedBefore };
  if (headAt !== undefined) {
    extra.afterHead = entries - 1 - headAt;
    extra.headFound = headFound!;
  }
  return { ok: true, entries, unchained, ...(unchained ? { unchainedRecorded: recorded !== undefined } : {}), head: prev?.entry_hash ?? null, ...extra };
}

/**
 * Every signature of a chain (in seq order) against the public key. A signature over the
 * entry_hash covers every entry before it too (each hash includes the one before), so unsigned
 * entries before the first signed one (written before a key was set) are covered by it; an
 * unsigned entry after a signed one is not: its signature was removed, or it was written without
 * the key. A chain with no signature at all fails: --pubkey asks for one.
 */
function checkSignatures(chain: readonly LedgerRecord[], key: PublicKey, coveredBy?: string): VerifyProblem | NonNullable<VerifyResult['signatures']> {
  let signed = 0;
  let before = 0;
  for (const r of chain) {
    const at = { id: r.id ?? '?', seq: r.seq };
    if (r.signature === null) {
      if (signed === 0) {
        before++;
        continue;
      }
      return { kind: 'unsigned', ...at, message: `${label(r)}: not signed, though entries before it are (its signature was removed, or it was written without FORKLIFT_SIGNING_KEY)` };
    }
    if (!key.verify(r.entry_hash!, r.signature)) {
      return { kind: 'signature', ...at, message: `${label(r)}: its signature does not verify with ${key.file} (key ${short(key.keyId)}): signed with another key, or the entry or its signature was changed` };
    }
    signed++;
  }
  if (signed === 0 && coveredBy !== undefined) return { key_id: key.keyId, signed: 0, unsigned_before: before, covered_by: coveredBy };
  if (signed === 0) return { kind: 'unsigned', message: `no entry of the chain is signed, so ${key.file} has nothing to check (were the runs made with FORKLIFT_SIGNING_KEY set?)` };
  return { key_id: key.keyId, signed, unsigned_before: before };
}
