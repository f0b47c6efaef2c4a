import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { toLedgerRecord, verifyChain } from '../../src/audit/chain.js';
import { readLedger, verifyImported } from '../../src/audit/source.js';
import { exportBundle } from '../../src/bundle/export.js';
import { parseProfile } from '../../src/bundle/profile-parse.js';
import { importBundle } from '../../src/bundle/import.js';
import { verifyBundle } from '../../src/bundle/verify.js';
import { runPlan } from '../../src/run/pipeline.js';
import { demoCopy, tempDir } from '../helpers.js';
import { MysqlDatabases, PgDatabases, filesContaining, probeMysql, probePg, reportUnreachable, MYSQL_ADMIN_URL, PG_ADMIN_URL } from './stores/live.js';

/**
 * SPEC section 6, issue 4 item 4: migrate the demo into each live store, export, import into a
 * fresh store of every other kind, export again: the payload is the same bytes. The target's ledger
 * gains the import's own entry, so forklift_runs differs by exactly that row: compared apart.
 */

const pgDown = await probePg();
const myDown = await probeMysql();
reportUnreachable('PostgreSQL', PG_ADMIN_URL, pgDown, 'bundle-roundtrip.test.ts');
reportUnreachable('MariaDB', MYSQL_ADMIN_URL, myDown, 'bundle-roundtrip.test.ts');

const pgDbs = new PgDatabases();
const myDbs = new MysqlDatabases();
afterAll(async () => {
  await pgDbs.dropAll();
  await myDbs.dropAll();
});

type Kind = 'sqlite' | 'postgres' | 'mariadb';
const kinds: Kind[] = ['sqlite', ...(pgDown === null ? (['postgres'] as const) : []), ...(myDown === null ? (['mariadb'] as const) : [])];

async function fresh(kind: Kind): Promise<string> {
  if (kind === 'postgres') return (await pgDbs.create()).url;
  if (kind === 'mariadb') return (await myDbs.create()).url;
  return `sqlite:${path.join(tempDir('forklift-rt-'), 'store.db')}`;
}

/** manifest-sha256.txt as path → checksum. */
function manifest(bundle: string): Map<string, string> {
  const lines = readFileSync(path.join(bundle, 'manifest-sha256.txt'), 'utf8').trim().split('\n');
  return new Map(lines.map((l) => {
    const [sum, ...rest] = l.split(/\s+/);
    return [rest.join(' '), sum!];
  }));
}

const DATA = ['items', 'bom_lines', 'stock_balances', 'machine_events'];
const dataFiles = (m: Map<string, string>): [string, string][] => [...m].filter(([p]) => DATA.some((t) => p.endsWith(`/${t}.csv`) || p.endsWith(`/${t}.arrow`))).sort();

describe.each(kinds)('bundle round trip from %s', (from) => {
  it('exports, verifies, imports into every other store kind and exports the same bytes again', async () => {
    const { plan } = demoCopy();
    const source = await fresh(from);
    await runPlan({ plan, command: 'migrate', target: source });
    const out = tempDir('forklift-bundles-');
    const first = await exportBundle({ dir: path.join(out, 'first'), source });
    expect(first.tables.map((t) => t.name)).toEqual(['bom_lines', 'forklift_runs', 'items', 'machine_events', 'stock_balances']);
    expect(first.tables.find((t) => t.name === 'items')!.rows).toBe(105);
    const v = await verifyBundle(path.join(out, 'first'));
    expect(v.problems).toEqual([]);
    expect(v.valid).toBe(true);
    const m1 = manifest(path.join(out, 'first'));
    expect(dataFiles(m1)).toHaveLength(8);

    for (const to of kinds.filter((k) => k !== from)) {
      const target = await fresh(to);
      const imported = await importBundle({ bundle: path.join(out, 'first'), target });
      expect(imported.tables.find((t) => t.name === 'machine_events')!.loaded).toBe(2040);
      const again = await exportBundle({ dir: path.join(out, `again-${to}`), source: target });
      const m2 = manifest(path.join(out, `again-${to}`));
      expect(dataFiles(m2), `${from} → ${to}`).toEqual(dataFiles(m1));
      // The source's ledger travelled into forklift_imported_runs; the target's own chain holds the import alone, and verifies.
      expect(again.tables.find((t) => t.name === 'forklift_imported_runs')!.rows).toBe(first.tables.find((t) => t.name === 'forklift_runs')!.rows);
      expect(again.tables.find((t) => t.name === 'forklift_runs')!.rows).toBe(1);
      expect(imported.ledger).toEqual({ kept_in: 'forklift_imported_runs', chained: true, head: first.ledger_head });
      const own = await readLedger(target);
      expect(verifyChain(own.records)).toMatchObject({ ok: true, entries: 1 });
      // Without the ledger, the whole payload (Data Package and dictionary too) is the same bytes.
      const a = await exportBundle({ dir: path.join(out, `a-${to}`), source, tables: DATA });
      const b = await exportBundle({ dir: path.join(out, `b-${to}`), source: target, tables: DATA });
      expect([...manifest(path.join(out, `b-${to}`))].sort()).toEqual([...manifest(path.join(out, `a-${to}`))].sort());
      expect(a.manifest_sha256).toBe(b.manifest_sha256);
    }
  }, 120_000);
});

describe.runIf(pgDown === null)('a password in the source URL', () => {
  it('never reaches the bundle', async () => {
    const { plan } = demoCopy();
    const { url } = await pgDbs.create();
    await runPlan({ plan, command: 'migrate', target: url });
    // Trust authentication here accepts any password, so the URL can carry one.
    const withPassword = url.replace('postgres@', 'postgres:Sekr3t-Pa55@');
    const dir = path.join(tempDir('forklift-pw-'), 'b');
    const res = await exportBundle({ dir, source: withPassword });
    expect(res.source).toMatch(/postgres:\*\*\*@/);
    expect(filesContaining(dir, ['Sekr3t-Pa55', encodeURIComponent('Sekr3t-Pa55')])).toEqual([]);
    expect(readFileSync(path.join(dir, 'bag-info.txt'), 'utf8')).toMatch(/^Forklift-Source: postgres:\/\/postgres:\*\*\*@/m);
  });
});

describe('a ledger from before the hash chain', () => {
  it('exports without the chain columns and imports into a store that chains (the old entries kept apart, in forklift_imported_runs)', async () => {
    const dir = tempDir('forklift-oldledger-');
    const file = path.join(dir, 'old.db');
    const db = new Database(file);
    db.exec(`CREATE TABLE forklift_runs (id TEXT PRIMARY KEY, command TEXT NOT NULL, status TEXT NOT NULL, started TEXT NOT NULL, finished TEXT NOT NULL, operator TEXT, host TEXT, tool_version TEXT, plan_sha256 TEXT, files TEXT, counts TEXT, message TEXT) STRICT;
      INSERT INTO forklift_runs VALUES ('20250101T000000Z-abcd', 'migrate', 'succeeded', '2025-01-01T00:00:00.000Z', '2025-01-01T00:00:01.000Z', 'me', 'host', '0.0.1', NULL, '{}', '{}', NULL);
      CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
      INSERT INTO notes VALUES (1, 'kept');`);
    db.close();
    await exportBundle({ dir: path.join(dir, 'b'), source: `sqlite:${file}` });
    const target = `sqlite:${path.join(dir, 'new.db')}`;
    const res = await importBundle({ bundle: path.join(dir, 'b'), target });
    expect(res.tables.find((t) => t.name === 'forklift_runs')).toMatchObject({ rows: 1, loaded: 1 });
    const back = new Database(path.join(dir, 'new.db'), { readonly: true });
    expect(res.ledger).toEqual({ kept_in: 'forklift_imported_runs', chained: false, head: null });
    expect(back.prepare('SELECT id, command, seq FROM forklift_runs').raw().all()).toEqual([[res.run_id, 'import', 1]]);
    expect(back.prepare('SELECT import_id, id, command, seq FROM forklift_imported_runs').raw().all()).toEqual([[res.run_id, '20250101T000000Z-abcd', 'migrate', null]]);
    back.close();
  });
});

describe('a bundle imported into a store with its own ledger', () => {
  it('keeps the two chains apart: the target’s chain verifies, and the bundle’s copy verifies up to the head the import recorded', async () => {
    const { plan } = demoCopy();
    const dir = tempDir('forklift-two-chains-');
    const a = `sqlite:${path.join(dir, 'a.db')}`;
    const b = `sqlite:${path.join(dir, 'b.db')}`;
    await runPlan({ plan, command: 'migrate', target: a });
    await runPlan({ plan, command: 'migrate', target: a });
    await runPlan({ plan, command: 'migrate', target: b });
    const exported = await exportBundle({ dir: path.join(dir, 'bundle'), source: a });
    const copyOf = (importId: string): Record<string, unknown>[] => {
      const db = new Database(path.join(dir, 'b.db'), { readonly: true });
      try {
        return db.prepare('SELECT * FROM forklift_imported_runs WHERE import_id = ?').all(importId) as Record<string, unknown>[];
      } finally {
        db.close();
      }
    };
    for (const n of [1, 2]) {
      const res = await importBundle({ bundle: path.join(dir, 'bundle'), target: b, load: 'replace' });
      // Before, the bundle's entries joined b's forklift_runs with their own seq 1 and 2: two chains in one table, which failed to verify.
      expect(verifyChain((await readLedger(b)).records)).toMatchObject({ ok: true, entries: 1 + n, unchained: 0 });
      expect(verifyChain(copyOf(res.run_id).map(toLedgerRecord))).toMatchObject({ ok: true, entries: 2, head: exported.ledger_head });
      const db = new Database(path.join(dir, 'b.db'), { readonly: true });
      const counts = JSON.parse(db.prepare('SELECT counts FROM forklift_runs WHERE id = ?').pluck().get(res.run_id) as string) as { forklift_runs: Record<string, unknown> };
      db.close();
      expect(counts.forklift_runs).toMatchObject({ read: 2, loaded: 2, kept_in: 'forklift_imported_runs', chained: true, head: exported.ledger_head });
    }
    // audit verify checks every copy against the head its import recorded; an edited copy fails, naming the import.
    const copies = verifyImported(await readLedger(b));
    expect(copies.map((c) => [c.entries, c.ok, c.head])).toEqual([[2, true, exported.ledger_head], [2, true, exported.ledger_head]]);
    const db = new Database(path.join(dir, 'b.db'));
    db.prepare("UPDATE forklift_imported_runs SET operator = 'mallory' WHERE import_id = ? AND seq = 1").run(copies[1]!.import_id);
    db.close();
    const after = verifyImported(await readLedger(b));
    expect(after.map((c) => c.ok)).toEqual([true, false]);
    expect(after[1]!.problem).toMatch(/a field was edited/);
  }, 120_000);
});

describe('a bundle whose profile changed forklift_runs', () => {
  it('verifies: its entries were changed on purpose, so the chain is not checked; without a profile it is', async () => {
    const { plan } = demoCopy();
    const dir = tempDir('forklift-profiled-');
    const source = `sqlite:${path.join(dir, 'a.db')}`;
    await runPlan({ plan, command: 'migrate', target: source });
    const profile = parseProfile('public', { public: { forklift_runs: { mask: ['operator'] } } }, 'forklift.yaml');
    await exportBundle({ dir: path.join(dir, 'masked'), source, profile });
    const masked = await verifyBundle(path.join(dir, 'masked'));
    expect(masked.problems).toEqual([]);
    expect(masked.ledger).toBeUndefined();
    await exportBundle({ dir: path.join(dir, 'plain'), source });
    expect((await verifyBundle(path.join(dir, 'plain'))).ledger).toMatchObject({ ok: true, entries: 1 });
  }, 60_000);
});
