import { describe, expect, it } from 'vitest';
import { entryHash, findHead, firstChainEntry, nextLink, parseHead, runEntryRow, toLedgerRecord, verifyChain, verifyChainStreamed, type LedgerRecord } from '../../../src/audit/chain.js';
import { entry } from './entries.js';
import type { RunEntry } from '../../../src/stores/types.js';


/**
 * A chain of n entries as forklift appends them; with `before`, begun as a store begins it now,
 * its first entry recording these unchained entries (without, as forklift began chains before).
 */
function chain(n: number, over: (i: number) => Partial<RunEntry> = () => ({}), before?: readonly LedgerRecord[]): LedgerRecord[] {
  const out: LedgerRecord[] = [];
  for (let i = 1; i <= n; i++) {
    const e = i === 1 && before ? firstChainEntry(entry(i, over(i)), before) : entry(i, over(i));
    const prev = out.at(-1);
    const link = nextLink(e, prev ? { seq: prev.seq, entry_hash: prev.entry_hash } : undefined);
    out.push(toLedgerRecord({ ...runEntryRow(e), ...link }));
  }
  return out;
}

describe('the audit chain', () => {
  it('verifies an untouched chain and reports its head', () => {
    const c = chain(5);
    const r = verifyChain(c);
    expect(r).toMatchObject({ ok: true, entries: 5, unchained: 0, head: c[4]!.entry_hash });
    expect(c[0]!.prev_hash).toBeNull();
    expect(c[1]!.prev_hash).toBe(c[0]!.entry_hash);
    // Any order in: the chain is taken in seq order.
    expect(verifyChain([...c].reverse()).ok).toBe(true);
  });

  it('hashes the entry as written, whatever the store’s types', () => {
    const [first] = chain(1);
    const fromPg = toLedgerRecord({ ...first, started: new Date(first!.started!), finished: new Date(first!.finished!), seq: 1n });
    const fromCsv = toLedgerRecord({ ...first, seq: '1', message: '' });
    const fromMysql = toLedgerRecord({ ...first, started: '2026-11-29 10:00:01.000', seq: 1 });
    for (const r of [fromPg, fromCsv, fromMysql]) expect(entryHash(r)).toBe(first!.entry_hash);
  });

  it('keeps digits below the millisecond (forklift never writes them): a start moved by 0.4 ms is an edit', () => {
    const c = chain(3);
    const started = c[2]!.started!.replace(/Z$/, '4Z');
    for (const moved of [started, started.replace('T', ' ').replace('Z', '400'), started.replace('Z', '+00:00')]) {
      const r = verifyChain([c[0]!, c[1]!, toLedgerRecord({ ...c[2]!, started: moved })]);
      expect(r.problem, moved).toMatchObject({ kind: 'edited', id: c[2]!.id, seq: '3' });
    }
    expect(toLedgerRecord({ started }).started).toBe(started);
    // Zeros below the millisecond are no digits: a server's datetime(6) of a whole millisecond.
    expect(verifyChain([c[0]!, c[1]!, toLedgerRecord({ ...c[2]!, started: c[2]!.started!.replace('Z', '000') })]).ok).toBe(true);
  });

  it('catches an edited field', () => {
    const c = chain(4);
    c[1] = { ...c[1]!, operator: 'mallory' };
    const r = verifyChain(c);
    expect(r.ok).toBe(false);
    expect(r.problem).toMatchObject({ kind: 'edited', id: c[1]!.id, seq: '2' });
    expect(r.problem!.message).toMatch(/a field was edited/);
  });

  it('catches a deleted entry', () => {
    const c = chain(4);
    const r = verifyChain([c[0]!, c[2]!, c[3]!]);
    expect(r.problem).toMatchObject({ kind: 'deleted', id: c[2]!.id });
    expect(r.problem!.message).toMatch(/was deleted/);
  });

  it('catches an inserted entry', () => {
    const c = chain(3);
    // A forged entry with a correct hash, chained after entry 1, the later seqs moved up by one.
    const forged = entry(9, { operator: 'mallory' });
    const link = nextLink(forged, { seq: c[0]!.seq, entry_hash: c[0]!.entry_hash });
    const inserted = toLedgerRecord({ ...runEntryRow(forged), ...link });
    const moved = c.slice(1).map((x) => ({ ...x, seq: String(Number(x.seq) + 1) }));
    const r = verifyChain([c[0]!, inserted, ...moved]);
    expect(r.ok).toBe(false);
    // Moving the seqs changed the entries: the first moved one is named.
    expect(r.problem!.id).toBe(c[1]!.id);
  });

  it('names an inserted entry that keeps the others as they were', () => {
    const c = chain(3);
    const forged = entry(9, { operator: 'mallory' });
    const inserted = toLedgerRecord({ ...runEntryRow(forged), ...nextLink(forged, { seq: c[0]!.seq, entry_hash: c[0]!.entry_hash }) });
    // seq 2 twice: the forged entry sorts first, entry 2 then follows entry 1, not the forged one.
    const r = verifyChain([c[0]!, inserted, c[1]!, c[2]!]);
    expect(r.ok).toBe(false);
    expect(r.problem).toMatchObject({ kind: 'inserted', id: c[1]!.id });
    expect(r.problem!.message).toContain(`${inserted.id!} (seq 2) was inserted before it`);
  });

  it('catches reordered entries', () => {
    const c = chain(4);
    const swapped = [c[0]!, { ...c[2]!, seq: '2' }, { ...c[1]!, seq: '3' }, c[3]!];
    const r = verifyChain(swapped);
    expect(r.ok).toBe(false);
    expect(r.problem!.id).toBe(c[2]!.id);
    // The seqs left as they were and the rows merely listed in another order: still the same chain.
    expect(verifyChain([c[0]!, c[2]!, c[1]!, c[3]!]).ok).toBe(true);
  });

  it('catches a chain rewritten from scratch with --head', () => {
    const c = chain(3);
    const head = c[2]!.entry_hash!;
    // Rewritten: entry 2 edited and every hash recomputed; the chain itself is consistent.
    const rewritten: LedgerRecord[] = [];
    for (const [i, r] of c.entries()) {
      const prev = rewritten.at(-1);
      const base = { ...r, operator: i === 1 ? 'mallory' : r.operator, prev_hash: prev?.entry_hash ?? null };
      rewritten.push({ ...base, entry_hash: entryHash(base) });
    }
    expect(verifyChain(rewritten).ok).toBe(true);
    const r = verifyChain(rewritten, { head });
    expect(r.ok).toBe(false);
    expect(r.problem).toMatchObject({ kind: 'head' });
    expect(verifyChain(c, { head })).toMatchObject({ ok: true, afterHead: 0 });
    expect(verifyChain(c, { head: c[0]!.entry_hash! })).toMatchObject({ ok: true, afterHead: 2 });
  });

  it('finds --head by its first digits (12 at least, as audit log prints them), and says when they fit two entries', () => {
    const c = chain(3);
    const full = c[1]!.entry_hash!;
    expect(verifyChain(c, { head: full.slice(0, 12) })).toMatchObject({ ok: true, afterHead: 1, headFound: full });
    expect(verifyChain(c, { head: full.slice(0, 40).toUpperCase() })).toMatchObject({ ok: true, headFound: full });
    expect(verifyChain(c, { head: full })).toMatchObject({ ok: true, headFound: full });
    expect(verifyChain(c, { head: 'f'.repeat(12) }).problem).toMatchObject({ kind: 'head' });
    // Two hashes that begin alike (a chain that has them would take 2^48 tries to make): the start says nothing about the ledger.
    const twins: [string, number][] = [[`${'a'.repeat(12)}${'0'.repeat(52)}`, 0], [`${'a'.repeat(12)}${'1'.repeat(52)}`, 1]];
    expect(() => findHead('a'.repeat(12), twins)).toThrow(expect.objectContaining({ code: 'audit.head-ambiguous', exitCode: 2 }));
    expect(findHead(`${'a'.repeat(12)}1`, twins)).toBe(1);
  });

  it('refuses a --head that is not one as a usage error (exit 2), never as a verdict on the ledger', () => {
    expect(parseHead(' 3B4AB55787A8 ')).toBe('3b4ab55787a8');
    for (const bad of ['', '   ', 'null', '3b4ab55787a', 'xyz4ab55787a8', 'a'.repeat(65)]) {
      expect(() => parseHead(bad), bad).toThrow(expect.objectContaining({ code: 'audit.head-format', exitCode: 2 }));
    }
  });

  it('counts the entries from before the chain, and a chain after them starts with prev_hash null', () => {
    const legacy = [1, 2].map((n) => toLedgerRecord({ ...runEntryRow(entry(n, { id: `old-${n}`, started: `2025-06-0${n}T08:00:00.000Z` })) }));
    const c = chain(2);
    const r = verifyChain([...legacy, ...c]);
    expect(r).toMatchObject({ ok: true, entries: 2, unchained: 2 });
  });

  it('fails an unchained entry that started after the chain began, or any once audit init chained every entry before it', () => {
    const c = chain(3);
    const forged = toLedgerRecord({ ...runEntryRow(entry(9, { id: 'forged', command: 'purge', started: '2099-01-01T00:00:00.000Z' })) });
    expect(verifyChain([...c, forged]).problem).toMatchObject({ kind: 'unchained-after-chain', id: 'forged', message: expect.stringMatching(/^entry forged \(purge, started 2099-01-01T00:00:00.000Z\) has no place in the chain, yet it started after the chain began/) });
    // Back-dated, but audit init (in the chain) adopted every unchained entry there was.
    const withInit = chain(3, (n) => (n === 1 ? { command: 'audit init' } : {}));
    const backdated = { ...forged, started: '2020-01-01T00:00:00.000Z' };
    expect(verifyChain([...withInit, backdated]).problem).toMatchObject({ kind: 'unchained-after-chain', message: expect.stringMatching(/yet audit init .* chained every entry before it/) });
    // Without an init, an entry from before the chain's first run is one it found there.
    expect(verifyChain([...c, backdated])).toMatchObject({ ok: true, unchained: 1 });
  });
});

describe('entries with no place in the chain, against what its first entry records', () => {
  const old = (n: number, over: Partial<RunEntry> = {}): LedgerRecord => toLedgerRecord(runEntryRow(entry(n, { id: `old-${n}`, started: `2025-06-0${n}T08:00:00.000Z`, ...over })));
  const forged = old(7, { id: 'forged', operator: 'mallory', started: '2025-01-01T00:00:00.000Z' });

  it('a chain begun on an empty ledger takes no unchained entry, backdated or not', () => {
    const c = chain(3, undefined, []);
    expect(verifyChain(c)).toMatchObject({ ok: true, unchained: 0 });
    expect(verifyChain([forged, ...c]).problem).toMatchObject({ kind: 'before-chain', id: 'forged', message: expect.stringContaining('is not one of the entries from before it') });
    // The chain's last entry unchained and backdated: the same.
    const last = { ...c[2]!, seq: null, prev_hash: null, entry_hash: null, started: '2025-01-01T00:00:00.000Z' };
    expect(verifyChain([c[0]!, c[1]!, last]).problem).toMatchObject({ kind: 'before-chain', id: c[2]!.id });
  });

  it('takes exactly the entries it found, and names an entry inserted, deleted or changed among them', () => {
    const before = [old(1), old(2)];
    const c = chain(3, undefined, before);
    expect(verifyChain([...before, ...c])).toMatchObject({ ok: true, entries: 3, unchained: 2, unchainedRecorded: true });
    const cases: [string, LedgerRecord[], RegExp][] = [
      ['a backdated entry inserted', [...before, forged], /an entry from before the chain was inserted outside forklift/],
      ['one deleted', [before[0]!], /an entry from before the chain was deleted outside forklift/],
      ['one edited', [before[0]!, { ...before[1]!, operator: 'mallory' }], /an entry from before the chain was edited or replaced outside forklift/],
      ['one replaced by a forgery', [before[0]!, forged], /edited or replaced/],
    ];
    for (const [what, unchained, message] of cases) {
      const r = verifyChain([...unchained, ...c]);
      expect(r.problem, what).toMatchObject({ kind: 'before-chain', message: expect.stringMatching(message) });
      expect(r.problem!.message, what).toContain(`entry ${c[0]!.id!} (seq 1) records 2 entries from before the chain`);
    }
    // One that started after the chain began is named.
    const late = old(8, { id: 'late', started: '2099-01-01T00:00:00.000Z' });
    expect(verifyChain([...before, late, ...c]).problem).toMatchObject({ kind: 'before-chain', id: 'late' });
  });

  it('a chain that records nothing (begun by an earlier forklift) checks by start time only, and says so', () => {
    expect(verifyChain([forged, ...chain(3)])).toMatchObject({ ok: true, unchained: 1, unchainedRecorded: false });
  });

  it('starts at seq 1 even beside unchained entries: its first entries deleted is caught', () => {
    expect(verifyChain([old(1), ...chain(4).slice(1)]).problem).toMatchObject({ kind: 'deleted', seq: '2' });
  });
});

describe('the audit chain, checked as it streams', () => {
  async function* inBatches(records: readonly LedgerRecord[], size = 2): AsyncGenerator<LedgerRecord[]> {
    for (let i = 0; i < records.length; i += size) yield records.slice(i, i + size);
  }
  const unchained = (i: number): LedgerRecord => ({ ...toLedgerRecord(runEntryRow(entry(i, { id: `old-${i}`, started: `2025-06-0${i}T08:00:00.000Z` }))), seq: null, prev_hash: null, entry_hash: null });

  it('gives verifyChain’s answer for a chain that verifies, with entries from before the chain and --head', async () => {
    const c = chain(7);
    const before = [unchained(1), unchained(2)];
    // A chain after entries from before it starts where audit init started it: seq 1.
    expect(await verifyChainStreamed(inBatches(c))).toEqual(verifyChain(c));
    expect(await verifyChainStreamed(inBatches([...before, ...c]))).toEqual(verifyChain([...before, ...c]));
    expect(await verifyChainStreamed(inBatches(c), { head: c[4]!.entry_hash! })).toEqual(verifyChain(c, { head: c[4]!.entry_hash! }));
    expect(await verifyChainStreamed(inBatches(c), { head: c[4]!.entry_hash!.toUpperCase() })).toMatchObject({ ok: true, afterHead: 2 });
    expect(await verifyChainStreamed(inBatches([]))).toEqual(verifyChain([]));
  });

  it('gives verifyChain’s answer for a chain that records the entries before it, and gives up where they differ', async () => {
    const before = [unchained(1), unchained(2)];
    const c = chain(4, undefined, before);
    expect(await verifyChainStreamed(inBatches([...before, ...c]))).toEqual(verifyChain([...before, ...c]));
    expect(await verifyChainStreamed(inBatches([before[0]!, ...c]))).toBeUndefined();
    expect(await verifyChainStreamed(inBatches([...before, { ...unchained(3), started: '2020-01-01T00:00:00.000Z' }, ...c]))).toBeUndefined();
    expect(await verifyChainStreamed(inBatches([unchained(1), ...chain(4).slice(1)]))).toBeUndefined();
  });

  it('gives up at an unchained entry from after the chain began, which verifyChain names', async () => {
    const late = { ...unchained(3), started: '2099-01-01T00:00:00.000Z' };
    expect(await verifyChainStreamed(inBatches([late, ...chain(4)]))).toBeUndefined();
    expect(await verifyChainStreamed(inBatches([unchained(1), ...chain(4, (n) => (n === 2 ? { command: 'audit init' } : {}))]))).toBeUndefined();
  });

  it('gives up (the caller then names the fault with verifyChain) at anything that does not verify', async () => {
    const c = chain(5);
    const cases: [string, LedgerRecord[], { head?: string }?][] = [
      ['an edited field', c.map((r, i) => (i === 2 ? { ...r, operator: 'mallory' } : r))],
      ['a deleted entry', [c[0]!, c[2]!, c[3]!, c[4]!]],
      ['the first entries deleted', c.slice(2)],
      ['out of order', [c[0]!, c[2]!, c[1]!, c[3]!, c[4]!]],
      ['a changed seq', c.map((r, i) => (i === 3 ? { ...r, seq: '9' } : r))],
      ['an entry from before the chain after it', [...c, unchained(1)]],
      ['a head that is in no entry', c, { head: 'f'.repeat(64) }],
    ];
    for (const [what, records, opts] of cases) {
      expect(await verifyChainStreamed(inBatches(records), opts), what).toBeUndefined();
      if (what !== 'out of order' && what !== 'an entry from before the chain after it') expect(verifyChain(records, opts).ok, what).toBe(false);
    }
  });
});
