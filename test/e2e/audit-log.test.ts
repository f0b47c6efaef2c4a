import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { logEntry, openAuditLog } from '../../src/audit/log.js';
import { chainOrder, readLedger } from '../../src/audit/source.js';
import { table } from '../../src/cli/render.js';
import { BIN, runCli, tempDir } from '../helpers.js';

/**
 * `audit log` streams (SPEC section 9): the entries come in chain order (chainOrder's: entries
 * from before the chain first, by start time, then by seq, equal seqs by start time) from a store
 * and from a bundle, printed as the table and the JSON document the whole list would give, and
 * the peak memory of the CLI does not grow with the number of entries.
 */

const dir = tempDir('forklift-audit-log-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const COLUMNS = ['id', 'command', 'status', 'started', 'finished', 'operator', 'host', 'tool_version', 'plan_sha256', 'files', 'counts', 'message', 'seq', 'prev_hash', 'entry_hash'];
const hash = (i: number): string => createHash('sha256').update(String(i)).digest('hex');
const at = (minutes: number): string => new Date(Date.UTC(2026, 0, 1) + minutes * 60_000).toISOString();

/**
 * A SQLite ledger: audit init's entry, then `chained` entries after it (seq 2 on; their ids out of
 * seq order; hashes made up, audit log hashes nothing), `before` entries from before the chain
 * (start times out of id order, some equal), and with `forged` a second entry at seq 2.
 */
function ledger(name: string, chained: number, opts: { before?: number; forged?: boolean } = {}): string {
  const file = path.join(dir, `${name}.db`);
  const init = runCli(['audit', 'init', '--target', `sqlite:${file}`, '--json'], { cwd: dir });
  expect(init.code, init.stderr).toBe(0);
  const db = new Database(file);
  const insert = db.prepare(`INSERT INTO forklift_runs (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`);
  const row = (id: string, started: string, chain: [number, string | null, string] | null, operator = 'ana'): unknown[] =>
    [id, 'migrate', 'succeeded', started, started, operator, 'plant-1', '0.1.0', 'a'.repeat(64), '{"items.yaml":"b"}', '{"items":{"read":1}}', null, ...(chain ?? [null, null, null])];
  db.transaction(() => {
    for (let i = 2; i < chained + 2; i++) insert.run(row(`run-${((i * 2654435761) >>> 0).toString(16).padStart(8, '0')}-${i}`, at(i), [i, hash(i - 1), hash(i)], i % 7 ? 'ana' : 'operator "ö"'));
    for (let j = 0; j < (opts.before ?? 0); j++) insert.run(row(`old-${(j * 31) % 97}-${j}`, new Date(Date.UTC(2025, 0, 1) + ((j * 17) % 11) * 1000).toISOString(), null));
    if (opts.forged) insert.run(row('forged', '2000-01-01T00:00:00.000Z', [2, hash(1), hash(-2)], 'mallory'));
  })();
  db.close();
  return `sqlite:${file}`;
}

/** What audit log printed when it held the whole list: chainOrder over every record. */
async function wholeList(source: string): Promise<{ source: string; entries: ReturnType<typeof logEntry>[] }> {
  const l = await readLedger(source);
  return { source: l.display, entries: chainOrder(l.records).map(logEntry) };
}

function wholeTable(list: { source: string; entries: ReturnType<typeof logEntry>[] }): string {
  const rows = list.entries.map((e) => [e.seq === null ? '-' : String(e.seq), e.id ?? '', e.command ?? '', e.status ?? '', e.started ?? '', e.operator ?? '', e.entry_hash ? e.entry_hash.slice(0, 12) : '(unchained)']);
  const unchained = list.entries.filter((e) => e.seq === null).length;
  const n = list.entries.length;
  return `${table(['seq', 'id', 'command', 'status', 'started', 'operator', 'entry_hash'], rows, (c) => c === 0)}\n\n${n} entr${n === 1 ? 'y' : 'ies'} in ${list.source}${unchained ? ` (${unchained} from before the audit chain)` : ''}\n`;
}

describe('audit log', () => {
  it('lists a store and its bundle in chain order, the same bytes as the whole list gives', async () => {
    const url = ledger('mixed', 1_500, { before: 40, forged: true });
    // The CLI runs in `dir`, so it shows the store's path relative to it.
    const list = { ...(await wholeList(url)), source: 'sqlite:mixed.db' };
    expect(list.entries[0]!.seq).toBeNull();
    expect(list.entries.slice(40, 43).map((e) => [e.seq, e.id])).toEqual([[1, list.entries[40]!.id], [2, 'forged'], [2, list.entries[42]!.id]]);

    const json = runCli(['audit', 'log', '--target', url, '--json'], { cwd: dir });
    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout).toBe(`${JSON.stringify(list, null, 2)}\n`);
    const text = runCli(['audit', 'log', '--target', url], { cwd: dir });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toBe(wholeTable(list));

    // The library yields the entries a batch at a time, as read.
    const log = await openAuditLog(url);
    const sizes: number[] = [];
    try {
      for await (const batch of log.entries()) sizes.push(batch.length);
    } finally {
      await log.close();
    }
    expect(sizes.length).toBeGreaterThan(1);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(list.entries.length);

    // A bundle keeps forklift_runs in key order: it is sorted into chain order on disk.
    const bundle = path.join(dir, 'mixed-bundle');
    const exported = runCli(['export', bundle, '--source', url], { cwd: dir });
    expect(exported.code, exported.stderr).toBe(0);
    const fromBundle = runCli(['audit', 'log', '--target', 'mixed-bundle', '--json'], { cwd: dir });
    expect(fromBundle.code, fromBundle.stderr).toBe(0);
    const bundleList = { ...(await wholeList(bundle)), source: 'mixed-bundle' };
    expect(fromBundle.stdout).toBe(`${JSON.stringify(bundleList, null, 2)}\n`);
    expect((JSON.parse(fromBundle.stdout) as { entries: unknown[] }).entries).toEqual(list.entries);
    const bundleText = runCli(['audit', 'log', '--target', 'mixed-bundle'], { cwd: dir });
    expect(bundleText.stdout).toBe(wholeTable(bundleList));
  }, 120_000);

  it('prints an empty ledger as an empty list, and no ledger as an error before any output', () => {
    const url = ledger('empty', 0);
    const db = new Database(url.slice('sqlite:'.length));
    db.exec('DELETE FROM forklift_runs');
    db.close();
    const json = runCli(['audit', 'log', '--target', url, '--json'], { cwd: dir });
    expect(json.code, json.stderr).toBe(0);
    const { source } = JSON.parse(json.stdout) as { source: string };
    expect(json.stdout).toBe(`${JSON.stringify({ source, entries: [] }, null, 2)}\n`);
    expect(runCli(['audit', 'log', '--target', url], { cwd: dir }).stdout).toBe(wholeTable({ source, entries: [] }));
    new Database(path.join(dir, 'none.db')).close(); // a store without forklift_runs
    const none = runCli(['audit', 'log', '--target', `sqlite:${path.join(dir, 'none.db')}`, '--json'], { cwd: dir });
    expect(none.code).toBe(2);
    expect(JSON.parse(none.stdout)).toMatchObject({ ok: false, error: { code: 'audit.no-ledger' } });
    const missing = runCli(['audit', 'log', '--target', `sqlite:${path.join(dir, 'missing.db')}`, '--json'], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout)).toMatchObject({ ok: false, error: { code: 'store.missing' } });
  });

  it("names a bundle's damaged ledger copy with its line, and --json stays one document", () => {
    const url = ledger('damaged', 20);
    const bundle = path.join(dir, 'damaged-bundle');
    expect(runCli(['export', bundle, '--source', url], { cwd: dir }).code).toBe(0);
    appendFileSync(path.join(bundle, 'data', 'csv', 'forklift_runs.csv'), '"broken,unterminated\r\n');
    const text = runCli(['audit', 'log', '--target', 'damaged-bundle'], { cwd: dir });
    expect(text.code).toBe(1);
    expect(text.stderr).toMatch(/^Error: data\/csv\/forklift_runs\.csv:23: not valid CSV \(a quoted field is not closed\)\nHint: The bundle was changed or damaged/);
    expect(text.stderr).not.toMatch(/internal error|bug in forklift/);
    const json = runCli(['audit', 'log', '--target', 'damaged-bundle', '--json'], { cwd: dir });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'bundle.ledger-csv' } });
  });

  it('lists 100,000 entries in a heap that 25,000 held whole would not fit (table and --json)', () => {
    // A peak-RSS difference between 25,000 and 100,000 entries flaked on a loaded machine (V8's
    // concurrent marking falls behind), so the bound is a hard one instead: the old space capped
    // at 64 MiB. Streamed, 32 MiB is enough for either ledger; held whole, 75,000 more entries
    // took 130 MiB more for the table and 550 MiB more for --json, and the CLI dies out of memory.
    const run = (url: string, json: boolean) =>
      spawnSync(process.execPath, ['--max-old-space-size=64', BIN, 'audit', 'log', '--target', url, ...(json ? ['--json'] : [])], {
        cwd: dir,
        env: { ...process.env, FORCE_COLOR: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
        encoding: 'utf8',
        maxBuffer: 1 << 28,
        timeout: 120_000,
      });
    const big = ledger('4n', 100_000);
    for (const json of [true, false]) {
      const r = run(big, json);
      expect(r.status, `${json ? '--json' : 'table'}: ${r.stderr.slice(-2000)}`).toBe(0);
      if (json) expect((JSON.parse(r.stdout) as { entries: unknown[] }).entries).toHaveLength(100_001);
      else expect(r.stdout).toContain('100001 entries in sqlite:4n.db');
    }
  }, 180_000);
});
