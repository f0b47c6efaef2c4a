// The server benchmarks of issue 3, run by bench/run.mjs in the same run as the file benchmarks.
// Each path runs as a child process under /usr/bin/time (wall seconds, peak RSS of that client
// process; the server's own work is in the server's processes and not in the RSS column), the
// median of BENCH_REPEAT runs, on the same machine-log CSV:
//
//  a. forklift migrate (machine log only) into PostgreSQL, versus psql's \copy and pgloader of the
//     same CSV into a table of the same column types;
//  b. forklift migrate into MariaDB with each bulk path (FORKLIFT_MYSQL_BULK=load-data|insert),
//     versus the mysql CLI's LOAD DATA LOCAL INFILE of the same CSV into the same table;
//  c. forklift validate of the machine log read by a `format: sql` source from PostgreSQL (a raw
//     text table of the CSV), versus the same validate reading the CSV.
//
// Servers: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432) and BENCH_MYSQL_URL (default
// mysql://root@127.0.0.1:3306), without a database: a fresh database is created on each and
// dropped at the end. An unreachable server's rows are skipped, and the output says so.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';

/** CSV header -> machine_events column, as mappings/demo/machine_log.yaml maps them (same order). */
const CSV_COLUMNS = [
  ['MACHINE', 'machine_id'],
  ['TIMESTAMP', 'ts'],
  ['STATE', 'state'],
  ['GOOD', 'good_count'],
  ['REJECT', 'reject_count'],
  ['REASON', 'downtime_reason'],
  ['TEMP', 'temperature_c'],
  ['VIBR', 'vibration_mm_s'],
  ['POWER', 'power_kw'],
];
/** Rounds of the bundle verify / sha256sum comparison (see there). */
const VERIFY_ROUNDS = Math.max(5, Number(process.env.BENCH_REPEAT ?? 1));

/** The run of median time among runs of one command. */
function medianRun(runs) {
  const sorted = [...runs].sort((a, b) => a.seconds - b.seconds);
  return sorted[Math.floor(sorted.length / 2)];
}

const TARGET_RSS_MIB = 300 * 1e6 / 2 ** 20; // "peak RSS < 300 MB": 286 MiB

/**
 * @param {object} ctx from run.mjs: ROOT, OUT, dataDir, machlog, dataRows, BIN, measure, fmt, toImport
 * @returns {Promise<object>} what was written to bench/out/results-servers.json
 */
export async function serverBenches(ctx) {
  const { ROOT, OUT, dataDir, machlog, dataRows, BIN, measure, fmt, toImport } = ctx;
  const dist = (p) => toImport(path.join(ROOT, 'dist', 'src', p));
  const { pgCreateTable } = await import(dist('stores/dialect-postgres.js'));
  const { mysqlCreateTable } = await import(dist('stores/mysql.js'));
  const { factoryModel } = await import(dist('model/factory.js'));
  const entity = factoryModel().entities.get('machine_events');
  const columns = CSV_COLUMNS.map(([, c]) => c);
  if (entity.columns.map((c) => c.name).join() !== columns.join()) throw new Error(`bench/servers.mjs: machine_events columns changed (${entity.columns.map((c) => c.name).join(', ')}): update CSV_COLUMNS`);

  const db = `forklift_bench_${process.pid}`;
  const notes = [];
  const say = (line) => {
    notes.push(line);
    console.log(line);
  };
  const rows = []; // table rows: { id, name, r (measure result), ref, targets, ... }
  const skipped = [];
  const sqlQuote = (s) => `'${s.replace(/'/g, "''")}'`;
  const forklift = (args, env) => [process.execPath, [BIN, ...args, '--json'], { allowFail: true, env }];

  console.log(`\nserver benchmarks (issue 3): ${fmt(dataRows)} machine-log rows, bench databases ${db}\n`);

  // ---- PostgreSQL -----------------------------------------------------------------------------
  const pgBase = (process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432').replace(/\/+$/, '');
  const pgUrl = `${pgBase}/${db}`;
  const psql = (url, sql, env) => run('psql', ['-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', url, '-c', sql], env);
  const pg = (sql) => must(psql(pgUrl, sql), sql);
  const pgUp = psql(`${pgBase}/postgres`, 'SELECT 1');
  let pgReady = false;
  if (pgUp.status !== 0) {
    say(`PostgreSQL at ${redact(pgBase)} is unreachable (${firstLine(pgUp.stderr)}): its rows (a: forklift vs \\copy vs pgloader; c: SQL source) are SKIPPED.`);
    skipped.push('PostgreSQL: forklift migrate, psql \\copy, pgloader', 'SQL source: forklift validate from PostgreSQL vs CSV');
  } else {
    must(psql(`${pgBase}/postgres`, `DROP DATABASE IF EXISTS ${db}`), 'drop');
    must(psql(`${pgBase}/postgres`, `CREATE DATABASE ${db}`), 'create database');
    pgReady = true;
  }

  // ---- MariaDB --------------------------------------------------------------------------------
  const my = new URL((process.env.BENCH_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306').replace(/^mariadb:/, 'mysql:'));
  const myBase = `mysql://${my.username ? `${my.username}${my.password ? `:${my.password}` : ''}@` : ''}${my.host}`;
  const myUrl = `${myBase}/${db}`;
  const myArgs = ['-h', my.hostname, '-P', my.port || '3306', '-u', decodeURIComponent(my.username || 'root'), ...(my.password ? [`-p${decodeURIComponent(my.password)}`] : []), '--protocol=TCP'];
  const mysql = (sql, database, extra = []) => run('mysql', [...myArgs, ...extra, '-N', '-B', ...(database ? [database] : []), '-e', sql]);
  const myq = (sql, database) => must(mysql(sql, database), sql);
  const myUp = mysql('SELECT 1');
  let myReady = false;
  if (myUp.status !== 0) {
    say(`MariaDB at ${redact(myBase)} is unreachable (${firstLine(myUp.stderr)}): its rows (b: forklift LOAD DATA / INSERT vs mysql LOAD DATA LOCAL) are SKIPPED.`);
    skipped.push('MariaDB: forklift migrate (LOAD DATA, INSERT), mysql LOAD DATA LOCAL');
  } else {
    for (const d of [db, `${db}_ref`]) {
      myq(`DROP DATABASE IF EXISTS \`${d}\``);
      myq(`CREATE DATABASE \`${d}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
    }
    myReady = true;
  }

  /** Adds a measured row; prints the child's stderr when it failed. */
  const add = (row) => {
    const { r } = row;
    if (r.status) process.stderr.write(`\n${r.name} exited ${r.status}:\n${(r.stderr ?? '').slice(-2000)}\n`);
    const report = parseJson(r.stdout);
    if (report?.timings_ms) row.timings_ms = report.timings_ms;
    if (report?.entities) row.ledger = report.entities.find((e) => e.entity === 'machine_events');
    rows.push(row);
    return row;
  };

  try {
    if (pgReady) {
      // (a) forklift's table is made by forklift itself (the same DDL is run here first, so it can
      // be emptied before every run: each path starts from an empty table, like \copy).
      pg(pgCreateTable(entity));
      const emptyForklift = () => pg('TRUNCATE TABLE machine_events; CHECKPOINT');
      add({ id: 'pg-forklift', name: 'forklift migrate → PostgreSQL (COPY)', r: measure('forklift migrate → PostgreSQL', ...withBefore(forklift(['migrate', 'machine-only.yaml', '--target', pgUrl]), emptyForklift)), kind: 'forklift' });
      rows.at(-1).inTable = Number(pg('SELECT count(*) FROM machine_events'));
      // The reads below (export, \copy TO, verify's bundle, exit) meet a settled table: its hint
      // bits set and its statistics taken once, here, not by whichever read comes first, and no
      // autovacuum of the fresh 1M rows competing with them for the two cores.
      pg('VACUUM ANALYZE machine_events');
      pg('CHECKPOINT');

      // (issue 4) The exit bundle: forklift export of that table (CSV + Arrow, checksums, Data
      // Package, BagIt) against psql \copy of the same rows in key order to a CSV; then bundle
      // verify of the bundle against sha256sum of the same payload files.
      const bundleDir = path.join(dataDir, 'bench-bundle');
      const clearBundle = () => rmSync(bundleDir, { recursive: true, force: true });
      add({ id: 'pg-export', name: 'forklift export machine_events ← PostgreSQL (CSV + Arrow + checksums)', r: measure('forklift export', ...withBefore(forklift(['export', bundleDir, '--source', pgUrl, '--tables', 'machine_events']), clearBundle)), kind: 'forklift' });
      const outCsv = path.join(dataDir, 'bench-copy-out.csv');
      const copyOut = `\\copy (SELECT ${columns.join(', ')} FROM machine_events ORDER BY machine_id COLLATE "C", ts) TO ${sqlQuote(outCsv)} CSV HEADER`;
      add({ id: 'pg-copy-out', name: 'psql \\copy (SELECT … ORDER BY key) TO CSV', r: measure('psql copy out', 'psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', pgUrl, '-c', copyOut]), kind: 'reference' });
      rmSync(outCsv, { force: true });
      if (existsSync(path.join(bundleDir, 'manifest-sha256.txt'))) {
        // Each of these takes about a second, where a moment's load elsewhere on the machine moves
        // one run by half: the three run in turn, round after round (VERIFY_ROUNDS, at least
        // BENCH_REPEAT), so that each ratio compares runs that met the same machine, and the
        // median of each is reported, with the spread of the per-round ratios.
        const verifyRuns = { verify: [], 'verify-bag': [], sha256sum: [] };
        for (let round = 0; round < VERIFY_ROUNDS; round++) {
          verifyRuns.verify.push(measure('forklift bundle verify', ...forklift(['bundle', 'verify', bundleDir]), { repeat: 1 }));
          verifyRuns['verify-bag'].push(measure('forklift bundle verify --checksums-only', ...forklift(['bundle', 'verify', bundleDir, '--checksums-only']), { repeat: 1 }));
          verifyRuns.sha256sum.push(measure('sha256sum', 'sha256sum', ['-c', '--quiet', 'manifest-sha256.txt'], { cwd: bundleDir, repeat: 1 }));
        }
        add({ id: 'verify', name: 'forklift bundle verify (checksums, types, keys, Arrow = CSV)', r: medianRun(verifyRuns.verify), kind: 'forklift' });
        add({ id: 'verify-bag', name: 'forklift bundle verify --checksums-only (the BagIt layer)', r: medianRun(verifyRuns['verify-bag']), kind: 'forklift' });
        add({ id: 'sha256sum', name: 'sha256sum -c manifest-sha256.txt', r: medianRun(verifyRuns.sha256sum), kind: 'reference' });
        for (const id of ['verify', 'verify-bag']) {
          const ratios = verifyRuns[id].map((r, i) => verifyRuns.sha256sum[i].seconds / r.seconds).sort((x, y) => x - y);
          say(`${id === 'verify' ? 'bundle verify' : 'bundle verify --checksums-only'} against sha256sum, round by round (${VERIFY_ROUNDS} rounds): ${ratios.map((x) => `${fmt(x, 2)}x`).join(', ')} of sha256sum's speed`);
        }
        say(`bundle: ${fmt(statSync(path.join(bundleDir, 'data', 'csv', 'machine_events.csv')).size / 2 ** 20, 1)} MiB CSV, ${fmt(statSync(path.join(bundleDir, 'data', 'arrow', 'machine_events.arrow')).size / 2 ** 20, 1)} MiB Arrow`);
      }

      // (issue 8) Contract end in one command: forklift exit of the same store (export, verify,
      // re-import into scratch SQLite, diff against the source, certificate), against export alone.
      const exitDir = path.join(dataDir, 'bench-exit');
      const clearExit = () => rmSync(exitDir, { recursive: true, force: true });
      add({ id: 'pg-exit', name: 'forklift exit ← PostgreSQL (export, verify, re-import, diff, certificate)', r: measure('forklift exit', ...withBefore(forklift(['exit', '--source', pgUrl, '--to', exitDir]), clearExit)), kind: 'forklift' });
      clearExit();

      // The reference table: the raw CSV is not loadable into forklift's machine_events as it is.
      // Its STATE holds the legacy codes (R, I, D…), which the enum CHECK (RUN, IDLE…) refuses,
      // and it holds the exact and conflicting duplicates that forklift drops or rejects, which
      // the primary key refuses (COPY stops at the first). So \copy and pgloader load a table of
      // the same column types (varchar(32), timestamptz, text for the enum, bigint, numeric(p,s)),
      // NOT NULL kept, the enum's CHECK left out, and the primary key replaced by a non-unique
      // index on the same columns (the index upkeep stays in the measured time). TIMESTAMP is
      // loadable as it is: local wall-clock text read as Europe/Berlin (PGTZ), as the mapping does.
      const rawTypes = { ...entity, columns: entity.columns.map((c) => (c.type === 'enum' ? { ...c, type: 'text', values: undefined } : c)) };
      const refDdl = pgCreateTable(rawTypes).replace(/,\n\s*PRIMARY KEY \([^)]*\)/, '');
      if (refDdl.includes('PRIMARY KEY') || refDdl.includes('CHECK')) throw new Error(`reference DDL still has a key or check:\n${refDdl}`);
      pg(`CREATE SCHEMA ref; SET search_path TO ref; ${refDdl}; CREATE INDEX machine_events_key ON ref.machine_events (machine_id, ts)`);
      const emptyRef = () => pg('TRUNCATE TABLE ref.machine_events; CHECKPOINT');
      const copyCmd = `\\copy ref.machine_events (${columns.join(', ')}) FROM ${sqlQuote(machlog)} CSV HEADER`;
      const copyRow = add({
        id: 'pg-copy',
        name: 'psql \\copy CSV → same column types (no enum CHECK, key as plain index)',
        r: measure('psql \\copy', 'psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', pgUrl, '-c', copyCmd], { allowFail: true, before: emptyRef, env: { PGTZ: 'Europe/Berlin' } }),
        kind: 'reference',
      });
      copyRow.inTable = Number(pg('SELECT count(*) FROM ref.machine_events'));

      const pgloader = run('pgloader', ['--version']);
      if (pgloader.status !== 0) {
        say('pgloader is not installed (apt-get install -y pgloader): its row is SKIPPED.');
        skipped.push('pgloader (not installed)');
      } else {
        const load = path.join(dataDir, 'pgloader.load');
        writeFileSync(
          load,
          [
            'LOAD CSV',
            `  FROM ${sqlQuote(machlog)} WITH ENCODING utf-8`,
            // The fields are positional; named as the columns they fill, so TARGET COLUMNS matches them by name.
            `    HAVING FIELDS (${columns.map((c) => (c === 'downtime_reason' ? `${c} [null if blanks]` : c)).join(', ')})`,
            `  INTO ${pgUrl}`,
            '    TARGET TABLE ref.machine_events',
            `    TARGET COLUMNS (${columns.join(', ')})`,
            '  WITH skip header = 1,',
            "       fields optionally enclosed by '\"',",
            '       fields escaped by double-quote,',
            "       fields terminated by ','",
            "  SET timezone to 'Europe/Berlin';",
            '',
          ].join('\n'),
        );
        const pl = add({ id: 'pg-pgloader', name: 'pgloader CSV → same table as \\copy', r: measure('pgloader', 'pgloader', ['--quiet', '--no-ssl-cert-verification', load], { allowFail: true, before: emptyRef }), kind: 'reference' });
        pl.inTable = Number(pg('SELECT count(*) FROM ref.machine_events'));
        if (pl.inTable !== dataRows) {
          // pgloader exits 0 when it rejected rows: a run that did not load them all is no reference.
          say(`pgloader left ${fmt(pl.inTable)} rows of ${fmt(dataRows)} in the table: its row counts as FAILED. Its log:\n${(pl.r.stdout + pl.r.stderr).trim().split('\n').slice(-15).join('\n')}`);
          pl.failed = true;
        }
      }
    }

    if (myReady) {
      // (b) forklift's table, emptied before every run; the reference loads forklift's exact DDL
      // in a second database (${db}_ref), mapping the state codes in LOAD DATA's SET clause.
      const ddl = mysqlCreateTable(entity);
      myq(ddl, db);
      myq(ddl, `${db}_ref`);
      const localInfile = Number(myq('SELECT @@GLOBAL.local_infile')) === 1;
      const emptyMy = () => myq('TRUNCATE TABLE machine_events', db);
      if (localInfile) {
        const r = add({ id: 'my-forklift-load-data', name: 'forklift migrate → MariaDB, LOAD DATA LOCAL (FORKLIFT_MYSQL_BULK=load-data)', r: measure('forklift migrate → MariaDB load-data', ...withBefore(forklift(['migrate', 'machine-only.yaml', '--target', myUrl], { FORKLIFT_MYSQL_BULK: 'load-data' }), emptyMy)), kind: 'forklift' });
        r.inTable = Number(myq('SELECT count(*) FROM machine_events', db));
      } else {
        say('MariaDB has local_infile OFF: forklift (which never changes that setting) would fall back to INSERTs, so its LOAD DATA row is SKIPPED.');
        skipped.push('forklift migrate → MariaDB, LOAD DATA LOCAL (server has local_infile OFF)');
      }
      const ins = add({ id: 'my-forklift-insert', name: 'forklift migrate → MariaDB, multi-row INSERT (FORKLIFT_MYSQL_BULK=insert)', r: measure('forklift migrate → MariaDB insert', ...withBefore(forklift(['migrate', 'machine-only.yaml', '--target', myUrl], { FORKLIFT_MYSQL_BULK: 'insert' }), emptyMy)), kind: 'forklift' });
      ins.inTable = Number(myq('SELECT count(*) FROM machine_events', db));

      const sets = 'SET state = ELT(FIELD(@state, ' + "'R', 'I', 'D', 'S', 'O'), 'RUN', 'IDLE', 'DOWN', 'SETUP', 'OFF'), downtime_reason = NULLIF(@reason, '')";
      const loadSql =
        `LOAD DATA LOCAL INFILE ${sqlQuote(machlog).replace(/\\/g, '\\\\')} INTO TABLE machine_events CHARACTER SET utf8mb4 ` +
        `FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '"' ESCAPED BY '' LINES TERMINATED BY '\\n' IGNORE 1 LINES ` +
        `(${columns.map((c) => (c === 'state' ? '@state' : c === 'downtime_reason' ? '@reason' : c)).join(', ')}) ${sets}`;
      let restore = false;
      if (!localInfile) {
        myq('SET GLOBAL local_infile = 1');
        restore = true;
        say('MariaDB had local_infile OFF: the bench set it ON (SET GLOBAL local_infile=1) for the mysql CLI reference row only, and restores it to OFF right after.');
      }
      try {
        const ref = add({
          id: 'my-load-data',
          name: 'mysql --local-infile=1 LOAD DATA LOCAL INFILE CSV → same table',
          r: measure('mysql LOAD DATA LOCAL', 'mysql', [...myArgs, '--local-infile=1', `${db}_ref`, '-e', loadSql], { allowFail: true, before: () => myq('TRUNCATE TABLE machine_events', `${db}_ref`) }),
          kind: 'reference',
        });
        ref.inTable = Number(myq('SELECT count(*) FROM machine_events', `${db}_ref`));
      } finally {
        if (restore) {
          myq('SET GLOBAL local_infile = 0');
          say(`MariaDB local_infile restored to OFF (now ${myq('SELECT @@GLOBAL.local_infile')}).`);
        }
      }
    }

    if (pgReady) {
      // (c) A raw table of the CSV, every column text as the file holds it (an empty field stays
      // '', as in the CSV: NULL is spelled \N), plus the line order; loaded untimed.
      const quoted = CSV_COLUMNS.map(([h]) => `"${h}"`);
      pg(`CREATE TABLE raw_machlog (n bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ${quoted.map((h) => `${h} text`).join(', ')})`);
      must(psql(pgUrl, `\\copy raw_machlog (${quoted.join(', ')}) FROM ${sqlQuote(machlog)} WITH (FORMAT csv, HEADER true, NULL '\\N')`), '\\copy raw');
      pg('VACUUM ANALYZE raw_machlog');
      const query = `SELECT ${quoted.join(', ')} FROM raw_machlog ORDER BY n`;
      writeFileSync(path.join(dataDir, 'machine_log_sql.yaml'), sqlMapping(readFileSync(path.join(dataDir, 'machine_log.yaml'), 'utf8'), pgUrl, query));
      writeFileSync(
        path.join(dataDir, 'machine-sql.yaml'),
        ['name: bench-machine-log-sql', 'target: sqlite:./machine-sql.db', 'model: factory', 'mappings:', '  - machine_log_sql.yaml', 'reject_limit: 5%', 'load: replace', ''].join('\n'),
      );
      const sqlRow = add({ id: 'sql-validate', name: 'forklift validate, format: sql source (PostgreSQL raw table)', r: measure('forklift validate sql source', ...forklift(['validate', 'machine-sql.yaml'])), kind: 'forklift' });
      const csvRow = add({ id: 'csv-validate', name: 'forklift validate, CSV source (same rows)', r: measure('forklift validate csv source', ...forklift(['validate', 'machine-only.yaml'])), kind: 'reference' });
      const counts = (l) => JSON.stringify(l ? [l.read, l.loaded, l.filtered, l.duplicates_dropped, l.rejected] : null);
      if (counts(sqlRow.ledger) !== counts(csvRow.ledger)) say(`note: the SQL and CSV validates disagree (read, loaded, filtered, duplicates, rejected): sql ${counts(sqlRow.ledger)} vs csv ${counts(csvRow.ledger)}`);
      else say(`SQL and CSV validates agree: read ${fmt(csvRow.ledger?.read)}, loaded ${fmt(csvRow.ledger?.loaded)}, duplicates dropped ${fmt(csvRow.ledger?.duplicates_dropped)}, rejected ${fmt(csvRow.ledger?.rejected)}.`);
    }
  } finally {
    if (pgReady) {
      const r = psql(`${pgBase}/postgres`, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      console.log(r.status === 0 ? `dropped PostgreSQL database ${db}` : `could not drop PostgreSQL database ${db}: ${firstLine(r.stderr)}`);
    }
    if (myReady) {
      for (const d of [db, `${db}_ref`]) {
        const r = mysql(`DROP DATABASE IF EXISTS \`${d}\``);
        console.log(r.status === 0 ? `dropped MariaDB database ${d}` : `could not drop MariaDB database ${d}: ${firstLine(r.stderr)}`);
      }
    }
  }

  // ---- ratios, targets, table ----------------------------------------------------------------
  const byId = Object.fromEntries(rows.map((r) => [r.id, r]));
  const rate = (row) => dataRows / row.r.seconds;
  const ok = (b) => (b ? 'met' : 'MISSED');
  const ratioTime = (row, ref) => (ref && Number.isFinite(ref.r.seconds) ? row.r.seconds / ref.r.seconds : NaN);
  for (const row of rows) {
    row.rowsPerSecond = rate(row);
    row.vs = [];
    row.targets = [];
    if (row.r.status) row.targets.push({ what: 'exit status 0', value: row.r.status, met: false });
    if (row.failed) row.targets.push({ what: 'all rows loaded', value: row.inTable, met: false });
  }
  const rss = (row) => row.targets.push({ what: 'peak RSS < 300 MB', value: row.r.rssMiB, met: row.r.rssMiB < TARGET_RSS_MIB });
  if (byId['pg-forklift']) {
    const f = byId['pg-forklift'];
    const c = ratioTime(f, byId['pg-copy']);
    f.vs.push(`${fmt(c, 2)}x \\copy time`);
    f.targets.push({ what: 'within 2x of \\copy', value: c, met: c <= 2 });
    if (byId['pg-pgloader'] && !byId['pg-pgloader'].failed) {
      const p = ratioTime(f, byId['pg-pgloader']);
      f.vs.push(`${fmt(p, 2)}x pgloader time`);
      f.targets.push({ what: 'faster than pgloader', value: p, met: p < 1 });
    }
    rss(f);
  }
  for (const id of ['my-forklift-load-data', 'my-forklift-insert']) {
    const f = byId[id];
    if (!f) continue;
    const c = ratioTime(f, byId['my-load-data']);
    f.vs.push(`${fmt(c, 2)}x LOAD DATA time`);
    f.targets.push({ what: 'within 2x of LOAD DATA', value: c, met: c <= 2 });
    rss(f);
  }
  if (byId['pg-export']) {
    const f = byId['pg-export'];
    const c = ratioTime(f, byId['pg-copy-out']);
    f.vs.push(`${fmt(c, 2)}x \\copy TO time`);
    f.targets.push({ what: 'within 2x of \\copy TO', value: c, met: c <= 2 });
    rss(f);
  }
  if (byId['pg-exit']) {
    const f = byId['pg-exit'];
    const c = ratioTime(f, byId['pg-export']);
    f.vs.push(`${fmt(c, 2)}x export time`);
    f.targets.push({ what: 'within 3x of export', value: c, met: c <= 3 });
    rss(f);
  }
  for (const id of ['verify', 'verify-bag']) {
    const f = byId[id];
    if (!f || !byId.sha256sum) continue;
    const speed = byId.sha256sum.r.seconds / f.r.seconds;
    f.vs.push(`${fmt(speed, 2)}x sha256sum's speed`);
    f.targets.push({ what: ">= 0.7x sha256sum's speed", value: speed, met: speed >= 0.7 });
    rss(f);
  }
  if (byId['sql-validate'] && byId['csv-validate']) {
    const s = byId['sql-validate'];
    const ratio = rate(s) / rate(byId['csv-validate']);
    s.vs.push(`${fmt(ratio, 2)}x CSV rows/s`);
    s.targets.push({ what: 'SQL source >= 0.5x CSV rows/s', value: ratio, met: ratio >= 0.5 });
    rss(s);
  }
  for (const row of rows) if (row.kind === 'reference') row.vs.push('reference');

  console.log(`\n| server path | time | rows/s | peak RSS | vs reference | targets |`);
  console.log('| --- | ---: | ---: | ---: | --- | --- |');
  for (const row of rows) {
    const t = row.targets.map((x) => `${x.what}: ${ok(x.met)}`).join('; ');
    console.log(`| ${row.name}${row.r.status ? ` (exit ${row.r.status})` : ''} | ${fmt(row.r.seconds, 2)} s | ${fmt(row.rowsPerSecond)} | ${fmt(row.r.rssMiB)} MiB | ${row.vs.join(', ')} | ${t} |`);
  }
  for (const s of skipped) console.log(`| ${s}: SKIPPED (see above) | | | | | |`);
  console.log('');
  const ld = byId['my-forklift-load-data'];
  const ins = byId['my-forklift-insert'];
  if (ld && ins) {
    const [fast, slow, fastName, slowName] = ld.r.seconds <= ins.r.seconds ? [ld, ins, 'LOAD DATA LOCAL', 'multi-row INSERT'] : [ins, ld, 'multi-row INSERT', 'LOAD DATA LOCAL'];
    const stage = (r) => (r.timings_ms?.load ?? NaN) / 1000;
    const line =
      `MariaDB bulk paths: ${fastName} was faster, ${fmt(fast.r.seconds, 2)} s against ${fmt(slow.r.seconds, 2)} s for ${slowName} ` +
      `(${slowName} took ${fmt(slow.r.seconds / fast.r.seconds, 2)}x the time); the load stage alone: LOAD DATA ${fmt(stage(ld), 2)} s, INSERT ${fmt(stage(ins), 2)} s (${fmt(stage(ins) / stage(ld), 2)}x).`;
    say(line);
  }
  if (byId['sql-validate'] && byId['csv-validate']) {
    say(`SQL source: ${fmt(rate(byId['sql-validate']))} rows/s vs CSV source ${fmt(rate(byId['csv-validate']))} rows/s: ${fmt(rate(byId['sql-validate']) / rate(byId['csv-validate']), 2)}x (target >= 0.5x).`);
  }
  for (const row of rows) {
    if (row.timings_ms) {
      const t = row.timings_ms;
      say(`stages of "${row.name}" (report.json timings_ms, last run): ${Object.entries(t).map(([k, v]) => `${k} ${fmt(v / 1000, 2)} s`).join(', ')}`);
    }
    if (row.inTable !== undefined) {
      const expected = row.kind === 'forklift' ? row.ledger?.loaded : undefined;
      say(`rows in the table after "${row.name}": ${fmt(row.inTable)}${expected !== undefined ? ` (forklift reported ${fmt(expected)} loaded)` : ''}`);
    }
  }
  // What a time target asks of the CPU: forklift's process and the server's work for it, spread
  // over every core with no wait, cannot finish in less than their CPU time over the core count.
  const cores = availableParallelism();
  for (const [id, ref, targetName, factor] of [
    ['pg-forklift', 'pg-copy', '2x \\copy', 2],
    ['my-forklift-load-data', 'my-load-data', '2x LOAD DATA', 2],
    ['pg-export', 'pg-copy-out', '2x \\copy TO', 2],
    // At least 0.7x sha256sum's speed: at most sha256sum's time / 0.7.
    ['verify', 'sha256sum', "0.7x sha256sum's speed", 1 / 0.7],
  ]) {
    const f = byId[id];
    const r = byId[ref];
    if (!f || !r || !Number.isFinite(f.r.cpuSeconds)) continue;
    const server = Number.isFinite(f.r.serverCpuSeconds) ? f.r.serverCpuSeconds : 0;
    const floor = (f.r.cpuSeconds + server) / cores;
    const target = factor * r.r.seconds;
    const refCpu = Number.isFinite(r.r.serverCpuSeconds) ? `; the reference: ${fmt(r.r.cpuSeconds, 2)} s in its own process, ${fmt(r.r.serverCpuSeconds, 2)} s in the servers'` : '';
    say(
      `CPU of "${f.name}": ${fmt(f.r.cpuSeconds, 2)} s in forklift's process (user+sys, all its threads) and ${fmt(server, 2)} s in the servers' processes while it ran, in ${fmt(f.r.seconds, 2)} s${refCpu}: ` +
        `on ${cores} cores at least ${fmt(floor, 2)} s with every process busy all the time, against the ${targetName} target of ${fmt(target, 2)} s` +
        `${floor > target ? ': the target asks for less CPU than this work takes' : ''}.`,
    );
  }
  say(`The figures come from a shared 2-core machine on which other work runs: they are noisy, compare within one run. Peak RSS is the client process's (the server's memory is not in it).`);

  const out = {
    rows: dataRows,
    csv: machlog,
    repeat: Number(process.env.BENCH_REPEAT ?? 1),
    node: process.version,
    databases: db,
    skipped,
    results: rows.map((row) => ({
      id: row.id,
      name: row.name,
      seconds: row.r.seconds,
      rows_per_second: row.rowsPerSecond,
      peak_rss_mib: row.r.rssMiB,
      exit_status: row.r.status,
      vs_reference: row.vs,
      targets: row.targets,
      timings_ms: row.timings_ms,
      ledger: row.ledger,
      rows_in_table: row.inTable,
    })),
    notes,
  };
  writeFileSync(path.join(OUT, 'results-servers.json'), JSON.stringify(out, null, 2));
  return out;
}

/** The machine-log mapping with its `source:` block replaced by a `format: sql` source. */
function sqlMapping(yaml, url, query) {
  const lines = yaml.split('\n');
  const start = lines.findIndex((l) => /^source:/.test(l));
  if (start < 0) throw new Error('machine_log.yaml has no source: block');
  let end = start + 1;
  while (end < lines.length && (/^\s/.test(lines[end]) || lines[end] === '')) end++;
  const block = ['source:', '  format: sql', `  url: ${JSON.stringify(url)}`, `  query: ${JSON.stringify(query)}`];
  return [...lines.slice(0, start), ...block, ...lines.slice(end)].join('\n');
}

function withBefore([cmd, args, opts], before) {
  return [cmd, args, { ...opts, before }];
}

function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: env ? { ...process.env, ...env } : process.env, maxBuffer: 1 << 26 });
  if (r.error) return { status: 127, stdout: '', stderr: String(r.error.message) };
  return r;
}

function must(r, what) {
  if (r.status !== 0) throw new Error(`${String(what).slice(0, 200)}: exit ${r.status}: ${r.stderr}`);
  return r.stdout.trim();
}

function firstLine(s) {
  return (s ?? '').trim().split('\n')[0] || 'no answer';
}

function redact(url) {
  return url.replace(/:\/\/([^:@/]*):[^@/]*@/, '://$1:***@');
}

function parseJson(stdout) {
  try {
    const j = JSON.parse(stdout ?? '');
    return j?.result ?? j;
  } catch {
    return undefined;
  }
}

