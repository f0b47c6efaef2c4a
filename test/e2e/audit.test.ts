import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { demoCopy, runCli } from '../helpers.js';
import { liveServers, spawnCli, withPg } from '../integration/stores/live.js';

/**
 * The audit trail through the built CLI (SPEC section 9): migrate the demo twice, tamper with the
 * ledger through the store's own SQL client, and `audit verify` catches each; a bundle's copy of
 * forklift_runs verifies the same way; two migrates at once into one PostgreSQL do not fork it.
 */

const FILE = 'test/e2e/audit.test.ts';
const { pgDown, myDown, pgDbs, myDbs } = await liveServers(FILE);

type Exec = (sql: string) => Promise<unknown[]>;
const json = (s: string): Record<string, unknown> => JSON.parse(s) as Record<string, unknown>;

interface Setup {
  dir: string;
  plan: string;
  target: string;
  exec: Exec;
}

function migrate(s: Setup): string {
  const r = runCli(['migrate', s.plan, '--target', s.target, '--json'], { cwd: s.dir });
  expect(r.code, r.stderr).toBe(0);
  const head = json(r.stdout).ledger_head;
  expect(head).toMatch(/^[0-9a-f]{64}$/);
  return head as string;
}

const verify = (s: Setup, ...more: string[]): ReturnType<typeof runCli> => runCli(['audit', 'verify', s.target, ...more], { cwd: s.dir });

/** Runs a tamper on a copy of the ledger's rows, and puts them back afterwards. */
async function tampered(s: Setup, sql: string[], check: () => void): Promise<void> {
  await s.exec('CREATE TABLE runs_backup AS SELECT * FROM forklift_runs');
  try {
    for (const q of sql) await s.exec(q);
    check();
  } finally {
    await s.exec('DELETE FROM forklift_runs');
    await s.exec('INSERT INTO forklift_runs SELECT * FROM runs_backup');
    await s.exec('DROP TABLE runs_backup');
  }
}

function tamperSuite(name: string, open: () => Promise<Setup>): void {
  describe(`audit verify on ${name}`, () => {
    let s: Setup;
    let first: string;
    let second: string;
    let ids: string[];

    it('migrates twice and the chain verifies, with the head of each run report', async () => {
      s = await open();
      first = migrate(s);
      second = migrate(s);
      expect(second).not.toBe(first);
      const v = verify(s, '--json');
      expect(v.code, v.stderr).toBe(0);
      expect(json(v.stdout)).toMatchObject({ ok: true, entries: 2, unchained: 0, head: second });
      expect(verify(s, '--head', first).code).toBe(0);
      const log = runCli(['audit', 'log', '--target', s.target, '--json'], { cwd: s.dir });
      expect(log.code, log.stderr).toBe(0);
      const entries = (json(log.stdout).entries as { seq: number; id: string; command: string; entry_hash: string }[]);
      expect(entries.map((e) => [e.seq, e.command])).toEqual([[1, 'migrate'], [2, 'migrate']]);
      expect(entries[1]!.entry_hash).toBe(second);
      ids = entries.map((e) => e.id);
      const text = runCli(['audit', 'log', '--target', s.target], { cwd: s.dir });
      expect(text.stdout).toContain(second.slice(0, 12));
    }, 120_000);

    it('takes --head as audit log prints it (its first 12 digits); a --head that is not one is a usage error, not a verdict', () => {
      const short = verify(s, '--head', first.slice(0, 12));
      expect(short.code, short.stderr).toBe(0);
      expect(short.stdout).toContain(`--head found as ${first} (from its first 12 digits), 1 entry after it`);
      for (const bad of ['', 'null', first.slice(0, 11), `${first}0`, `${first.slice(0, 63)}g`]) {
        const v = verify(s, '--head', bad, '--json');
        expect(v.code, `--head '${bad}': ${v.stdout}`).toBe(2);
        expect(json(v.stdout).error).toMatchObject({ code: 'audit.head-format' });
      }
    });

    it('catches an edited field', async () => {
      await tampered(s, ["UPDATE forklift_runs SET operator = 'mallory' WHERE seq = 1"], () => {
        const v = verify(s);
        expect(v.code).toBe(1);
        expect(v.stderr).toContain(`entry ${ids[0]!} (seq 1)`);
        expect(v.stderr).toMatch(/a field was edited/);
      });
    });

    it('catches a deleted entry', async () => {
      await tampered(s, ['DELETE FROM forklift_runs WHERE seq = 1'], () => {
        const v = verify(s);
        expect(v.code).toBe(1);
        expect(v.stderr).toContain(`entry ${ids[1]!} (seq 2)`);
        expect(v.stderr).toMatch(/deleted/);
      });
    });

    it('catches an inserted entry', async () => {
      const cols = 'command, status, started, finished, operator, host, tool_version, plan_sha256, files, counts, message';
      await tampered(s, [`INSERT INTO forklift_runs (id, ${cols}, seq, prev_hash, entry_hash) SELECT 'forged-run', ${cols}, 3, entry_hash, entry_hash FROM forklift_runs WHERE seq = 2`], () => {
        const v = verify(s);
        expect(v.code).toBe(1);
        expect(v.stderr).toContain('entry forged-run (seq 3)');
      });
    });

    it('catches reordered entries', async () => {
      await tampered(s, ['UPDATE forklift_runs SET seq = 3 - seq'], () => {
        const v = verify(s);
        expect(v.code).toBe(1);
        expect(v.stderr).toContain(`entry ${ids[1]!} (seq 1)`);
      });
    });

    it('catches the last entry removed, with --head', async () => {
      await tampered(s, ['DELETE FROM forklift_runs WHERE seq = 2'], () => {
        expect(verify(s).code).toBe(0);
        const v = verify(s, '--head', second);
        expect(v.code).toBe(1);
        expect(v.stderr).toMatch(/is in no entry of this chain/);
      });
      expect(verify(s, '--head', second).code).toBe(0);
    });
  });
}

tamperSuite('SQLite', async () => {
  const { dir, plan } = demoCopy();
  const file = path.join(dir, 'ledger.db');
  const exec: Exec = async (sql) => {
    const db = new Database(file);
    try {
      const st = db.prepare(sql);
      return st.reader ? st.all() : (st.run(), []);
    } finally {
      db.close();
    }
  };
  return { dir, plan, target: `sqlite:${file}`, exec };
});

if (pgDown === null) {
  tamperSuite('PostgreSQL', async () => {
    const { dir, plan } = demoCopy();
    const { url } = await pgDbs.create();
    return { dir, plan, target: url, exec: (sql) => withPg(url, async (c) => (await c.query(sql)).rows as unknown[]) };
  });

  describe('two migrates at once into one PostgreSQL', () => {
    it('do not fork the chain', async () => {
      const { dir, plan } = demoCopy();
      const { url } = await pgDbs.create();
      const a = spawnCli(['migrate', plan, '--target', url], { cwd: dir, timeoutMs: 120_000 });
      const b = spawnCli(['migrate', plan, '--target', url], { cwd: dir, timeoutMs: 120_000 });
      const c = spawnCli(['migrate', plan, '--target', url], { cwd: dir, timeoutMs: 120_000 });
      await Promise.all([a.done, b.done, c.done]);
      const v = runCli(['audit', 'verify', url, '--json'], { cwd: dir });
      expect(v.code, v.stderr).toBe(0);
      expect(json(v.stdout)).toMatchObject({ ok: true, entries: 3 });
      const links = await withPg(url, async (cl) => (await cl.query('SELECT seq, prev_hash FROM forklift_runs ORDER BY seq')).rows as { seq: string; prev_hash: string | null }[]);
      expect(links.map((l) => Number(l.seq))).toEqual([1, 2, 3]);
      expect(new Set(links.map((l) => l.prev_hash)).size).toBe(3);
    }, 180_000);
  });
}

if (myDown === null) {
  tamperSuite('MariaDB', async () => {
    const { dir, plan } = demoCopy();
    const { url } = await myDbs.create();
    const exec: Exec = async (sql) => {
      const c = await mysql.createConnection(url);
      try {
        const [rows] = await c.query(sql);
        return Array.isArray(rows) ? (rows as unknown[]) : [];
      } finally {
        await c.end();
      }
    };
    return { dir, plan, target: url, exec };
  });
}

describe('audit verify on a bundle', () => {
  it('verifies the exported forklift_runs, and fails on a changed byte or a bundle without a ledger', async () => {
    const { dir, plan } = demoCopy();
    const target = `sqlite:${path.join(dir, 'ledger.db')}`;
    migrate({ dir, plan, target, exec: async () => [] });
    const head = migrate({ dir, plan, target, exec: async () => [] });
    const bundle = path.join(dir, 'out', 'b');
    const e = runCli(['export', bundle, '--source', target, '--plan', plan, '--json'], { cwd: dir });
    expect(e.code, e.stderr).toBe(0);
    expect(json(e.stdout).ledger_head).toBe(head);
    expect(readFileSync(path.join(bundle, 'bag-info.txt'), 'utf8')).toContain(`Forklift-Ledger-Head: ${head}\n`);
    const ok = runCli(['audit', 'verify', bundle, '--head', head, '--json'], { cwd: dir });
    expect(ok.code, ok.stderr).toBe(0);
    expect(json(ok.stdout)).toMatchObject({ ok: true, entries: 2, head });

    // Without --head, the head bag-info.txt pins: a copy cut short after its last entry does not verify.
    const pinned = runCli(['audit', 'verify', bundle, '--json'], { cwd: dir });
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(json(pinned.stdout)).toMatchObject({ ok: true, entries: 2, head, pinned_head: head });
    const cut = path.join(dir, 'out', 'cut');
    cpSync(bundle, cut, { recursive: true });
    const cutCsv = path.join(cut, 'data', 'csv', 'forklift_runs.csv');
    const lines = readFileSync(cutCsv, 'utf8').split('\n');
    const last = lines.findIndex((l) => l.includes(head));
    writeFileSync(cutCsv, lines.filter((_, i) => i !== last).join('\n'));
    const short = runCli(['audit', 'verify', cut], { cwd: dir });
    expect(short.code, short.stdout).toBe(1);
    expect(short.stderr).toMatch(/the head \w{12} is in no entry of this chain.*\(the head bag-info\.txt records as Forklift-Ledger-Head/);

    const csv = path.join(bundle, 'data', 'csv', 'forklift_runs.csv');
    const text = readFileSync(csv, 'utf8');
    writeFileSync(csv, text.replace(',migrate,succeeded,', ',migrate,failed,'));
    const bad = runCli(['audit', 'verify', bundle], { cwd: dir });
    expect(bad.code).toBe(1);
    // The CSV is in id order, not seq order: the edited row is whichever came first there.
    expect(bad.stderr).toMatch(/entry \S+ \(seq [12]\): .*a field was edited/);

    const none = path.join(dir, 'out', 'items-only');
    expect(runCli(['export', none, '--source', target, '--plan', plan, '--tables', 'items'], { cwd: dir }).code).toBe(0);
    const n = runCli(['audit', 'verify', none], { cwd: dir });
    expect(n.code).toBe(1);
    expect(n.stderr).toContain('no ledger in this bundle');
  }, 120_000);

  it('starts the chain on a ledger from before it, and counts the entries before it', async () => {
    const { dir, plan } = demoCopy();
    const file = path.join(dir, 'ledger.db');
    const target = `sqlite:${file}`;
    migrate({ dir, plan, target, exec: async () => [] });
    const db = new Database(file);
    for (const c of ['seq', 'prev_hash', 'entry_hash']) db.exec(`ALTER TABLE forklift_runs DROP COLUMN ${c}`);
    db.close();
    const before = runCli(['audit', 'verify', target], { cwd: dir });
    expect(before.code).toBe(1);
    expect(before.stderr).toMatch(/no audit chain yet/);
    migrate({ dir, plan, target, exec: async () => [] });
    const after = runCli(['audit', 'verify', target, '--json'], { cwd: dir });
    expect(after.code, after.stderr).toBe(0);
    expect(json(after.stdout)).toMatchObject({ ok: true, entries: 1, unchained: 1, unchainedRecorded: true });
    expect(runCli(['audit', 'verify', target], { cwd: dir }).stdout).toContain('1 unchained entry before the chain, as its first entry records it');
  }, 120_000);
});
