// The dry-run benchmark of issue 10 (`forklift migrate --dry-run`), run by bench/run.mjs:
//   BENCH_DRYRUN=skip   without it;  BENCH_DRYRUN=only   this benchmark alone
// On the machine log alone (BENCH_ROWS rows), per store (SQLite; PostgreSQL and MariaDB unless
// BENCH_SERVERS=skip), each a child process under /usr/bin/time (wall seconds, peak RSS of the
// client), the median of BENCH_REPEAT runs:
//   - forklift migrate into an empty target (the reference),
//   - forklift migrate --dry-run into an empty target (every row would insert),
//   - forklift migrate --dry-run into the loaded target (every row unchanged: the target's rows are
//     read back for the comparison, and the load is rehearsed over them).
// The ratio column is the dry run's time over the reference's, measured in the same run.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';

/** @param {object} ctx from run.mjs: dataDir, dataRows, BIN, measure, fmt, servers */
export async function dryRunBenches(ctx) {
  const { dataDir, dataRows, BIN, measure, fmt, servers } = ctx;
  const db = `forklift_bench_dry_${process.pid}`;
  const targets = [{ name: 'SQLite', url: `sqlite:${path.join(dataDir, 'dry-run.db')}`, reset: () => rmSync(path.join(dataDir, 'dry-run.db'), { force: true }) }];
  const cleanups = [];
  if (servers !== 'skip') {
    const pgBase = (process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
    const psql = (sql) => spawnSync('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', `${pgBase}/postgres`, '-c', sql], { encoding: 'utf8' });
    if (psql('SELECT 1').status === 0) {
      const reset = () => {
        psql(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
        psql(`CREATE DATABASE ${db}`);
      };
      targets.push({ name: 'PostgreSQL', url: `${pgBase}/${db}`, reset });
      cleanups.push(() => psql(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`));
    } else console.log('PostgreSQL unreachable: its dry-run rows are SKIPPED.');
    const my = new URL((process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306').replace(/^mariadb:/, 'mysql:'));
    const myArgs = ['-h', my.hostname, '-P', my.port || '3306', '-u', decodeURIComponent(my.username || 'root'), ...(my.password ? [`-p${decodeURIComponent(my.password)}`] : []), '--protocol=TCP'];
    const mysql = (sql) => spawnSync('mysql', [...myArgs, '-N', '-B', '-e', sql], { encoding: 'utf8' });
    if (mysql('SELECT 1').status === 0) {
      const reset = () => {
        mysql(`DROP DATABASE IF EXISTS \`${db}\``);
        mysql(`CREATE DATABASE \`${db}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
      };
      targets.push({ name: 'MariaDB', url: `mysql://${my.username ? `${my.username}${my.password ? `:${my.password}` : ''}@` : ''}${my.host}/${db}`, reset });
      cleanups.push(() => mysql(`DROP DATABASE IF EXISTS \`${db}\``));
    } else console.log('MariaDB unreachable: its dry-run rows are SKIPPED.');
  }

  const run = (name, args, before) => measure(name, process.execPath, [BIN, 'migrate', 'machine-only.yaml', ...args, '--json'], { allowFail: true, before });
  const rows = [];
  try {
    for (const t of targets) {
      const ref = run(`migrate → ${t.name}`, ['--target', t.url], t.reset);
      const empty = run(`migrate --dry-run → ${t.name}, empty target`, ['--target', t.url, '--dry-run'], t.reset);
      t.reset();
      run('load once', ['--target', t.url]);
      const loaded = run(`migrate --dry-run → ${t.name}, loaded target (all unchanged)`, ['--target', t.url, '--dry-run']);
      rows.push([ref, ref], [empty, ref], [loaded, ref]);
    }
  } finally {
    for (const c of cleanups) c();
  }
  console.log(`\ndry run (issue 10): ${fmt(dataRows)} machine-log rows (node ${process.version})\n`);
  console.log('| path | time | rows/s | peak RSS | vs migrate |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const [r, ref] of rows) {
    const timing = (() => {
      try {
        return JSON.parse(r.stdout).timings_ms?.dry_run;
      } catch {
        return undefined;
      }
    })();
    const stage = timing === undefined ? '' : ` (rehearsal stage ${fmt(timing / 1000, 1)} s)`;
    console.log(`| ${r.name}${r.status ? ` (exit ${r.status})` : ''}${stage} | ${fmt(r.seconds, 2)} s | ${fmt(dataRows / r.seconds)} | ${fmt(r.rssMiB)} MiB | ${fmt(r.seconds / ref.seconds, 2)}x |`);
  }
}
