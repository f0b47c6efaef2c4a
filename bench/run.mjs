#!/usr/bin/env node
// npm run bench: the machine-log benchmark of issue 2 and the server benchmarks of issue 3. Not
// part of the tests or CI.
//   BENCH_ROWS=1000000 npm run bench      (BENCH_ROWS=5000000 for the memory check at 5M)
// Generates the data with fixtures/generate.mjs, then times in one run, each as a child process
// measured by /usr/bin/time (wall time, peak RSS): csv-parse alone reading the file, sqlite3's
// .import into the same typed table, forklift validate and forklift migrate (machine log only,
// then the whole factory plan), and `forklift --help` cold; then the server benchmarks of
// bench/servers.mjs (PostgreSQL, MariaDB, a SQL source), written to bench/out/results-servers.json.
//   BENCH_SERVERS=skip   the file benchmarks only;  BENCH_SERVERS=only   the server benchmarks only
// Then the diff benchmark of issue 5 (bench/diff.mjs; its PostgreSQL row unless BENCH_SERVERS=skip).
//   BENCH_DIFF=skip   without it;  BENCH_DIFF=only   the diff benchmark alone
// Then the audit benchmark of issue 8 (bench/audit.mjs: audit verify of 100,000 ledger entries).
//   BENCH_AUDIT=skip  without it;  BENCH_AUDIT=only  the audit benchmark alone (no machine-log data)
// Then the dry-run benchmark of issue 10 (bench/dry-run.mjs; SQLite, and the servers unless BENCH_SERVERS=skip).
//   BENCH_DRYRUN=skip   without it;  BENCH_DRYRUN=only   the dry-run benchmark alone
// Then the purge benchmark of issue 9 (bench/purge.mjs, PostgreSQL).
//   BENCH_PURGE=skip  without it;  BENCH_PURGE=only  the purge benchmark alone
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { auditBenches } from './audit.mjs';
import { diffBenches } from './diff.mjs';
import { dryRunBenches } from './dry-run.mjs';
import { purgeBenches } from './purge.mjs';
import { serverBenches } from './servers.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'bench', 'out');
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 1);
const BIN = path.join(ROOT, 'bin', 'run.js');
const SERVERS = process.env.BENCH_SERVERS ?? 'run';
if (!['run', 'skip', 'only'].includes(SERVERS)) throw new Error(`BENCH_SERVERS is run, skip or only, not ${SERVERS}`);
const DIFF = process.env.BENCH_DIFF ?? 'run';
if (!['run', 'skip', 'only'].includes(DIFF)) throw new Error(`BENCH_DIFF is run, skip or only, not ${DIFF}`);
const AUDIT = process.env.BENCH_AUDIT ?? 'run';
if (!['run', 'skip', 'only'].includes(AUDIT)) throw new Error(`BENCH_AUDIT is run, skip or only, not ${AUDIT}`);
const DRYRUN = process.env.BENCH_DRYRUN ?? 'run';
if (!['run', 'skip', 'only'].includes(DRYRUN)) throw new Error(`BENCH_DRYRUN is run, skip or only, not ${DRYRUN}`);
const PURGE = process.env.BENCH_PURGE ?? 'run';
if (!['run', 'skip', 'only'].includes(PURGE)) throw new Error(`BENCH_PURGE is run, skip or only, not ${PURGE}`);

// Node reads NODE_EXTRA_CA_CERTS at every start, before any code runs: with this machine's bundle
// of some 140 certificates, 50-80 ms a process, which forklift never needs for local files or
// these local servers. A Node installation does not set it; the children run as on one.
if (process.env.NODE_EXTRA_CA_CERTS !== undefined && process.env.BENCH_KEEP_CA_CERTS !== '1') {
  console.log(`NODE_EXTRA_CA_CERTS (${process.env.NODE_EXTRA_CA_CERTS}) left out of the commands' environment: it adds 50-80 ms to every Node start (BENCH_KEEP_CA_CERTS=1 keeps it)`);
  delete process.env.NODE_EXTRA_CA_CERTS;
}
if (!existsSync(path.join(ROOT, 'dist', 'commands'))) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
if (!existsSync('/usr/bin/time')) throw new Error('needs /usr/bin/time (apt-get install time)');
const hasSqlite = spawnSync('sqlite3', ['-version']).status === 0;
const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a');
// The audit benchmark needs no machine-log data: alone, it runs before that is generated.
if (AUDIT === 'only') {
  await auditBenches({ ROOT, OUT, BIN, measure, fmt, servers: SERVERS });
  process.exit(0);
}

const dataDir = path.join(OUT, `data-${ROWS}`);
if (!existsSync(path.join(dataDir, 'MACHLOG.CSV'))) {
  mkdirSync(dataDir, { recursive: true });
  execFileSync(process.execPath, [path.join(ROOT, 'fixtures', 'generate.mjs'), '--bench', dataDir, '--machine-rows', String(ROWS)], { stdio: 'inherit' });
}
const machlog = path.join(dataDir, 'MACHLOG.CSV');
const dataRows = Number(execFileSync('wc', ['-l', machlog]).toString().trim().split(/\s+/)[0]) - 1;

// A plan with the machine log alone: the ratio targets are about that one file.
writeFileSync(
  path.join(dataDir, 'machine-only.yaml'),
  ['name: bench-machine-log', 'target: sqlite:./machine-only.db', 'model: factory', 'mappings:', '  - machine_log.yaml', 'reject_limit: 5%', 'load: replace', ''].join('\n'),
);

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/**
 * CPU seconds (user + sys) the PostgreSQL and MariaDB servers on this machine have used so far:
 * every process of theirs, with the backends that have exited counted in the parent that reaped
 * them (cutime, cstime). The difference over a command is the server's share of its work.
 */
function serverCpuSeconds() {
  let ticks = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    if (comm !== 'postgres' && comm !== 'mariadbd' && comm !== 'mysqld') continue;
    // The fields after the name, from the third (state): utime, stime, cutime, cstime are the 14th to 17th.
    const f = stat.slice(close + 2).split(' ');
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return ticks / CLK_TCK;
}

/** Runs a command under /usr/bin/time; returns seconds and peak RSS in MiB (median of REPEAT runs, or of opts.repeat). */
function measure(name, cmd, args, opts = {}) {
  const runs = [];
  for (let i = 0; i < (opts.repeat ?? REPEAT); i++) {
    opts.before?.();
    const env = opts.env ? { ...process.env, ...opts.env } : process.env;
    const server0 = serverCpuSeconds();
    const r = spawnSync('/usr/bin/time', ['-f', '%e %M %U %S', cmd, ...args], { cwd: opts.cwd ?? dataDir, encoding: 'utf8', input: opts.input, env, maxBuffer: 1 << 26 });
    const serverCpu = serverCpuSeconds() - server0;
    const last = r.stderr.trim().split('\n').pop() ?? '';
    const [secs, kib, user, sys] = last.split(' ').map(Number);
    if (r.status !== 0 && !opts.allowFail) {
      process.stderr.write(r.stdout + r.stderr);
      throw new Error(`${name} failed with ${r.status}`);
    }
    runs.push({ secs, rss: kib / 1024, cpu: user + sys, serverCpu, status: r.status, stdout: r.stdout, stderr: r.stderr });
  }
  runs.sort((a, b) => a.secs - b.secs);
  const m = runs[Math.floor(runs.length / 2)];
  // cpu: user + sys seconds of the command's process (its threads included; a server's work is not
  // in it); serverCpuSeconds: the servers' processes' over the same time (anything else they did then included).
  return { name, seconds: m.secs, rssMiB: m.rss, cpuSeconds: m.cpu, serverCpuSeconds: m.serverCpu, status: m.status, stdout: m.stdout, stderr: m.stderr };
}


const alone = PURGE === 'only';
if (DRYRUN !== 'only' && !alone) {
  if (SERVERS !== 'only' && DIFF !== 'only') await fileBenches();
  if (SERVERS !== 'skip' && DIFF !== 'only') await serverBenches({ ROOT, OUT, dataDir, machlog, dataRows, BIN, measure, fmt, toImport: pathToImport });
  if (DIFF !== 'skip') await diffBenches({ ROOT, OUT, dataDir, BIN, ROWS, measure, fmt, servers: SERVERS });
  if (AUDIT === 'run' && DIFF !== 'only' && SERVERS !== 'only') await auditBenches({ ROOT, OUT, BIN, measure, fmt, servers: SERVERS });
}
if (PURGE !== 'skip' && DRYRUN !== 'only' && SERVERS !== 'skip' && DIFF !== 'only') await purgeBenches({ ROOT, OUT, dataDir, BIN, dataRows, measure, fmt });
if (DRYRUN !== 'skip' && !alone) await dryRunBenches({ dataDir, dataRows, BIN, measure, fmt, servers: SERVERS });

async function fileBenches() {
  const results = [];
  const parseOnly = path.join(OUT, 'csv-parse-only.mjs');
  writeFileSync(
    parseOnly,
    `import { createReadStream } from 'node:fs';\nimport { parse } from '${pathToImport(path.join(ROOT, 'node_modules', 'csv-parse', 'lib', 'index.js'))}';\nlet n = 0;\nconst p = createReadStream(process.argv[2]).pipe(parse({ from_line: 2 }));\np.on('data', () => { n++; });\np.on('end', () => console.log(n));\n`,
  );
  results.push(measure('csv-parse alone (rows as arrays)', process.execPath, [parseOnly, machlog]));

  if (hasSqlite) {
    const { sqliteCreateTable } = await import(pathToImport(path.join(ROOT, 'dist', 'src', 'stores', 'sqlite.js')));
    const { factoryModel } = await import(pathToImport(path.join(ROOT, 'dist', 'src', 'model', 'factory.js')));
    // Same column types, NOT NULL and primary key; no enum CHECK, since sqlite3 cannot map the
    // legacy state codes (R, I, D…) the way the mapping does.
    const ddl = sqliteCreateTable(factoryModel().entities.get('machine_events')).replace(/ CHECK \((?:[^()\n]|\([^()\n]*\))*\)/g, '');
    const db = path.join(dataDir, 'sqlite-import.db');
    results.push(
      measure('sqlite3 .import, same typed table, one transaction', 'sqlite3', [db], {
        before: () => rmSync(db, { force: true }),
        input: `${ddl};\nBEGIN;\n.import --csv --skip 1 ${machlog} machine_events\nCOMMIT;\n`,
        allowFail: true,
      }),
    );
  } else results.push({ name: 'sqlite3 .import (sqlite3 CLI missing: apt-get install sqlite3)', seconds: NaN, rssMiB: NaN });

  results.push(measure('forklift validate (machine log)', process.execPath, [BIN, 'validate', 'machine-only.yaml', '--json'], { allowFail: true }));
  results.push(measure('forklift migrate (machine log)', process.execPath, [BIN, 'migrate', 'machine-only.yaml', '--json'], { allowFail: true }));
  const full = measure('forklift migrate (whole factory plan)', process.execPath, [BIN, 'migrate', 'forklift.yaml', '--json'], { allowFail: true });
  results.push(full);

  const help = [];
  for (let i = 0; i < 5; i++) help.push(measure('help', process.execPath, [BIN, '--help'], { cwd: ROOT }).seconds);
  help.sort((a, b) => a - b);

  const fullRows = (() => {
    try {
      return JSON.parse(full.stdout.replace(/^[^{]*/, '')).entities?.reduce((s, e) => s + e.read, 0) ?? dataRows;
    } catch {
      try {
        return JSON.parse(full.stdout).result.entities.reduce((s, e) => s + e.read, 0);
      } catch {
        return dataRows;
      }
    }
  })();

  const base = results[0];
  const sqlite = results[1];
  console.log(`\nmachine log: ${fmt(dataRows)} rows, ${fmt(Number(execFileSync('stat', ['-c', '%s', machlog]).toString()) / 2 ** 20, 1)} MiB  (node ${process.version})\n`);
  console.log('| path | time | rows/s | peak RSS | vs csv-parse | vs sqlite3 .import |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    const rows = r === full ? fullRows : dataRows;
    const rps = rows / r.seconds;
    const vsParse = rps / (dataRows / base.seconds);
    const vsSqlite = sqlite && Number.isFinite(sqlite.seconds) ? r.seconds / sqlite.seconds : NaN;
    console.log(`| ${r.name}${r.status ? ` (exit ${r.status})` : ''} | ${fmt(r.seconds, 2)} s | ${fmt(rps)} | ${fmt(r.rssMiB)} MiB | ${fmt(vsParse * 100)}% | ${fmt(vsSqlite, 2)}x time |`);
  }
  console.log(`\nforklift --help cold: median ${fmt(help[2] * 1000)} ms of 5 runs (target < 300 ms)`);
  writeFileSync(path.join(OUT, `results-${ROWS}.json`), JSON.stringify({ rows: dataRows, results: results.map(({ stderr, ...r }) => (void stderr, r)), help_ms: help.map((s) => s * 1000) }, null, 2));
}

function pathToImport(p) {
  return new URL(`file://${p}`).href;
}
void readFileSync;
