// The purge benchmark of issue 9, run by bench/run.mjs (BENCH_PURGE=run|skip|only): the 1M-row
// machine log loaded into PostgreSQL by forklift migrate, then `forklift purge` of about half of it
// (retention keep 7 days by ts, as of 2025-11-17: the rows before 2025-11-10 of the 03.11.2025-
// 17.11.2025 log) — archive (export of those rows, deletion record, full verify), delete in one
// transaction, ledger — against `forklift export` of exactly those rows alone: a second database
// holding only them (loaded the same way, the newer rows deleted with psql, untimed). Both as child
// processes under /usr/bin/time, in the same run. Targets: purge within 3x of that export, peak
// RSS under 300 MB.
import { spawnSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const TARGET_RATIO = 3;
const TARGET_RSS_MIB = (300 * 1e6) / 2 ** 20; // "peak RSS < 300 MB": 286 MiB
const AS_OF = '2025-11-17';
const CUTOFF = '2025-11-10T00:00:00Z';

/**
 * @param {object} ctx from run.mjs: ROOT, OUT, dataDir, BIN, dataRows, measure, fmt
 */
export async function purgeBenches(ctx) {
  const { OUT, dataDir, BIN, dataRows, measure, fmt } = ctx;
  console.log(`\npurge benchmark (issue 9): half of the ${fmt(dataRows)}-row machine log in PostgreSQL\n`);
  const pgBase = (process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
  const db = `forklift_bench_purge_${process.pid}`;
  const half = `${db}_half`;
  const psql = (dbName, sql) => spawnSync('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', `${pgBase}/${dbName}`, '-c', sql], { encoding: 'utf8' });
  const must = (r, what) => {
    if (r.status !== 0) throw new Error(`${what} failed: ${r.stderr || r.stdout}`);
    return r.stdout.trim();
  };
  const up = psql('postgres', 'SELECT 1');
  if (up.status !== 0) {
    console.log(`PostgreSQL at ${pgBase.replace(/:[^:@/]*@/, ':***@')} is unreachable (${(up.stderr || '').split('\n')[0]}): the purge benchmark is SKIPPED.`);
    return null;
  }
  const forklift = (args) => spawnSync(process.execPath, [BIN, ...args, '--json'], { cwd: dataDir, encoding: 'utf8', maxBuffer: 1 << 26 });
  const plan = path.join(dataDir, 'purge-bench.yaml');
  writeFileSync(plan, ['name: bench-purge', 'model: factory', 'mappings:', '  - machine_log.yaml', 'reject_limit: 5%', 'load: replace', 'retention:', '  - entity: machine_events', '    keep: 7 days', '    by: ts', ''].join('\n'));
  const archive = path.join(dataDir, 'bench-purge-archive');
  const exportDir = path.join(dataDir, 'bench-purge-export');
  /** A fresh database with the whole machine log (untimed). */
  const load = (name) => {
    must(psql('postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`), 'drop');
    must(psql('postgres', `CREATE DATABASE ${name}`), 'create database');
    const r = forklift(['migrate', 'machine-only.yaml', '--target', `${pgBase}/${name}`]);
    if (r.status !== 0 && r.status !== 3) throw new Error(`migrate into ${name} failed (${r.status}): ${r.stderr}`);
    must(psql(name, 'VACUUM ANALYZE machine_events'), 'vacuum');
  };
  try {
    load(half);
    const kept = Number(must(psql(half, `DELETE FROM machine_events WHERE ts >= '${CUTOFF}'; SELECT count(*) FROM machine_events`), 'delete the newer half'));
    must(psql(half, 'VACUUM ANALYZE machine_events'), 'vacuum');
    const ref = measure('forklift export of those rows alone', process.execPath, [BIN, 'export', exportDir, '--source', `${pgBase}/${half}`, '--tables', 'machine_events', '--json'], {
      before: () => rmSync(exportDir, { recursive: true, force: true }),
    });
    const purge = measure('forklift purge (archive + verify + delete)', process.execPath, [BIN, 'purge', plan, '--target', `${pgBase}/${db}`, '--archive', archive, '--as-of', AS_OF, '--json'], {
      before: () => {
        rmSync(archive, { recursive: true, force: true });
        load(db);
      },
    });
    const result = JSON.parse(purge.stdout);
    const deleted = result.deleted_total;
    const left = Number(must(psql(db, 'SELECT count(*) FROM machine_events'), 'count'));
    if (deleted !== kept) throw new Error(`the purge deleted ${deleted} rows, the reference holds ${kept}`);
    const ratio = purge.seconds / ref.seconds;
    const rows = [
      { ...ref, rows: kept },
      { ...purge, rows: deleted },
    ];
    console.log(`| path | time | rows/s | peak RSS |`);
    console.log('| --- | ---: | ---: | ---: |');
    for (const r of rows) console.log(`| ${r.name} | ${fmt(r.seconds, 2)} s | ${fmt(r.rows / r.seconds)} | ${fmt(r.rssMiB)} MiB |`);
    console.log(`\npurged ${fmt(deleted)} of ${fmt(deleted + left)} rows (${fmt((deleted / (deleted + left)) * 100, 1)}%); ${fmt(left)} left`);
    console.log(`purge / export of those rows: ${fmt(ratio, 2)}x (target within ${TARGET_RATIO}x: ${ratio <= TARGET_RATIO ? 'met' : 'MISSED'}); peak RSS ${fmt(purge.rssMiB)} MiB (target < 286 MiB: ${purge.rssMiB < TARGET_RSS_MIB ? 'met' : 'MISSED'})`);
    const out = { rows: dataRows, as_of: AS_OF, cutoff: CUTOFF, purged: deleted, left, ratio, results: rows.map(({ stdout, stderr, ...r }) => (void stdout, void stderr, r)) };
    writeFileSync(path.join(OUT, `results-purge-${dataRows}.json`), JSON.stringify(out, null, 2));
    return out;
  } finally {
    for (const name of [db, half]) psql('postgres', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    rmSync(archive, { recursive: true, force: true });
    rmSync(exportDir, { recursive: true, force: true });
  }
}
