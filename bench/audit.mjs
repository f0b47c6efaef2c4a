// The audit benchmark of issue 8, run by bench/run.mjs (BENCH_AUDIT=run|skip|only): `forklift audit
// verify` of a 100,000-entry ledger read from a store, SQLite and (unless BENCH_SERVERS=skip)
// PostgreSQL, each as a child process under /usr/bin/time. The ledger is built fast, not by 100,000
// runs: `forklift audit init` creates forklift_runs and its first entry, then 99,999 entries
// chained after it with forklift's own linkAfter (dist/src/audit/chain.js) go in by bulk insert.
// The reference in the same run is `forklift audit log --json` of the same store (the same rows
// read and printed, nothing hashed). A third row verifies the same ledger signed throughout
// (FORKLIFT_SIGNING_KEY) with --pubkey: informational, no target.
// Target (issue 8): audit verify of 100,000 entries under 5 s.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const ENTRIES = Number(process.env.BENCH_AUDIT_ENTRIES ?? 100_000);
const TARGET_SECONDS = 5;
const COLUMNS = ['id', 'command', 'status', 'started', 'finished', 'operator', 'host', 'tool_version', 'plan_sha256', 'files', 'counts', 'message', 'seq', 'prev_hash', 'entry_hash', 'signature'];

/**
 * @param {object} ctx from run.mjs: ROOT, OUT, BIN, measure, fmt, servers ('run' | 'skip' | 'only')
 */
export async function auditBenches(ctx) {
  const { ROOT, OUT, BIN, measure, fmt } = ctx;
  const require = createRequire(path.join(ROOT, 'package.json'));
  const Database = require('better-sqlite3');
  const pg = require('pg');
  const { linkAfter } = await import(new URL(`file://${path.join(ROOT, 'dist', 'src', 'audit', 'chain.js')}`).href);
  const { generateSigningKeys, loadPrivateKey } = await import(new URL(`file://${path.join(ROOT, 'dist', 'src', 'audit', 'signing.js')}`).href);
  const dir = path.join(OUT, 'audit');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const keys = generateSigningKeys(path.join(dir, 'keys'));
  const signer = loadPrivateKey(keys.private_key);
  console.log(`\naudit benchmark (issue 8): audit verify of a ${fmt(ENTRIES)}-entry ledger\n`);

  const forklift = (args, env) => [process.execPath, [BIN, ...args], { cwd: dir, env }];
  // CPU seconds (user + sys) of one more run: on a machine shared by other work, wall time mostly waits for a core.
  const cpu = (args) => {
    const r = spawnSync('/usr/bin/time', ['-f', '%U %S', process.execPath, BIN, ...args], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 28 });
    const [u, sy] = (r.stderr.trim().split('\n').pop() ?? '').split(' ').map(Number);
    return u + sy;
  };
  /** audit init on the empty store, then the other entries chained after its entry, in batches. */
  async function build(url, insert, sign) {
    const init = spawnSync(process.execPath, [BIN, 'audit', 'init', '--target', url, '--json'], { cwd: dir, encoding: 'utf8', env: sign ? { ...process.env, FORKLIFT_SIGNING_KEY: keys.private_key } : process.env });
    if (init.status !== 0) throw new Error(`audit init failed: ${init.stderr}`);
    let head = { seq: 1, entry_hash: JSON.parse(init.stdout).head };
    const t0 = Date.now();
    let batch = [];
    for (let i = 2; i <= ENTRIES; i++) {
      const at = new Date(Date.UTC(2026, 0, 1) + i * 60_000);
      const row = {
        id: `${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${(i % 65536).toString(16).padStart(4, '0')}`,
        command: i % 10 === 0 ? 'import' : 'migrate',
        status: i % 17 === 0 ? 'failed' : 'succeeded',
        started: at.toISOString(),
        finished: new Date(at.getTime() + 1500).toISOString(),
        operator: 'bench',
        host: 'plant-1',
        tool_version: '0.1.0',
        plan_sha256: 'a'.repeat(64),
        files: JSON.stringify({ 'items.yaml': 'b'.repeat(64), 'ITEMMAST.CSV': 'c'.repeat(64) }),
        counts: JSON.stringify({ items: { read: i, loaded: i, filtered: 0, duplicates_dropped: 0, rejected: 0 } }),
        message: i % 17 === 0 ? 'the target refused the load' : null,
      };
      const link = linkAfter(row, head, sign ? signer : undefined);
      head = link;
      batch.push(COLUMNS.map((c) => (c in link ? link[c] : row[c])));
      if (batch.length === 1000 || i === ENTRIES) {
        await insert(batch);
        batch = [];
      }
    }
    return { buildSeconds: (Date.now() - t0) / 1000, head: head.entry_hash };
  }

  const results = [];
  const bench = async (label, url, insert, done) => {
    try {
      const plain = await build(url.plain, insert.plain, false);
      console.log(`${label}: ${fmt(ENTRIES)} entries built in ${fmt(plain.buildSeconds, 1)} s`);
      const log = measure(`forklift audit log --json ← ${label} (reference: the rows read, nothing hashed)`, ...forklift(['audit', 'log', '--target', url.plain, '--json']));
      const verify = measure(`forklift audit verify ← ${label}`, ...forklift(['audit', 'verify', url.plain, '--head', plain.head, '--json']));
      const ok = verify.status === 0 && JSON.parse(verify.stdout).entries === ENTRIES;
      const cpuSeconds = cpu(['audit', 'verify', url.plain, '--head', plain.head, '--json']);
      results.push({ ...verify, id: `verify-${label}`, ok, cpuSeconds, ratio: verify.seconds / log.seconds, target: verify.seconds < TARGET_SECONDS }, { ...log, id: `log-${label}` });
      const signed = await build(url.signed, insert.signed, true);
      const sv = measure(`forklift audit verify --pubkey ← ${label}, every entry signed`, ...forklift(['audit', 'verify', url.signed, '--head', signed.head, '--pubkey', keys.public_key, '--json']));
      results.push({ ...sv, id: `verify-signed-${label}`, ok: sv.status === 0 && JSON.parse(sv.stdout).signatures?.signed === ENTRIES });
    } finally {
      await done?.();
    }
  };

  // SQLite
  const sqliteFile = (n) => path.join(dir, `${n}.db`);
  const sqliteInsert = (n) => async (rows) => {
    const db = new Database(sqliteFile(n));
    try {
      const st = db.prepare(`INSERT INTO forklift_runs (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`);
      db.transaction(() => rows.forEach((r) => st.run(r)))();
    } finally {
      db.close();
    }
  };
  await bench('SQLite', { plain: `sqlite:${sqliteFile('plain')}`, signed: `sqlite:${sqliteFile('signed')}` }, { plain: sqliteInsert('plain'), signed: sqliteInsert('signed') });

  // PostgreSQL
  if (ctx.servers !== 'skip') {
    const pgBase = (process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
    const admin = new pg.Client({ connectionString: `${pgBase}/postgres` });
    const dbs = [`forklift_bench_audit_${process.pid}`, `forklift_bench_audit_signed_${process.pid}`];
    let reachable = true;
    try {
      await admin.connect();
      for (const d of dbs) await admin.query(`CREATE DATABASE ${d}`);
    } catch (e) {
      reachable = false;
      console.log(`PostgreSQL at ${pgBase.replace(/:[^:@/]*@/, ':***@')} is unreachable (${e.message}): audit verify on PostgreSQL is SKIPPED.`);
    }
    if (reachable) {
      const clients = dbs.map((d) => new pg.Client({ connectionString: `${pgBase}/${d}` }));
      const connected = new Set();
      const pgInsert = (c) => async (rows) => {
        if (!connected.has(c)) {
          await c.connect();
          connected.add(c);
        }
        const values = rows.map((r, i) => `(${r.map((_, j) => `$${i * COLUMNS.length + j + 1}`).join(', ')})`);
        await c.query(`INSERT INTO forklift_runs (${COLUMNS.join(', ')}) VALUES ${values.join(', ')}`, rows.flat());
      };
      await bench('PostgreSQL', { plain: `${pgBase}/${dbs[0]}`, signed: `${pgBase}/${dbs[1]}` }, { plain: pgInsert(clients[0]), signed: pgInsert(clients[1]) }, async () => {
        for (const c of connected) await c.end().catch(() => {});
        for (const d of dbs) await admin.query(`DROP DATABASE IF EXISTS ${d} WITH (FORCE)`).catch(() => {});
        await admin.end();
      });
    } else await admin.end().catch(() => {});
  }

  const load = (await import('node:os')).loadavg()[0];
  console.log(`\nload average ${fmt(load, 1)} on ${(await import('node:os')).cpus().length} cores while measuring\n`);
  console.log('| path | time | CPU (user+sys) | entries/s | peak RSS | vs audit log | target < 5 s |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of results) {
    const target = r.id.startsWith('verify-signed') ? 'n/a (informational)' : r.id.startsWith('verify') ? (r.target && r.ok ? 'met' : 'NOT met') : '';
    console.log(`| ${r.name}${r.ok === false ? ' (FAILED)' : ''} | ${fmt(r.seconds, 2)} s | ${r.cpuSeconds ? `${fmt(r.cpuSeconds, 2)} s` : ''} | ${fmt(ENTRIES / r.seconds)} | ${fmt(r.rssMiB)} MiB | ${r.ratio ? `${fmt(r.ratio, 2)}x` : ''} | ${target} |`);
  }
  writeFileSync(path.join(OUT, 'results-audit.json'), JSON.stringify({ entries: ENTRIES, load_average: load, results: results.map(({ stdout, stderr, ...r }) => (void stdout, void stderr, r)) }, null, 2));
  rmSync(path.join(dir, 'keys'), { recursive: true, force: true });
}
