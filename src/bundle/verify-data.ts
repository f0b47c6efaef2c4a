import { existsSync, readdirSync, type Dirent } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import type { Column, Entity } from '../model/types.js';
import { compareDecimalText, compareText, keyComparer } from './order.js';
import { openArrowRows, validDate } from './arrow.js';
import { safeBagPath } from './bagit.js';
import { readDataPackage, type DataPackageResource } from './datapackage-read.js';
import { tableFiles } from './layout.js';
import { CsvShapeError, csvDecoder, readBundleCsv } from './csv.js';
import { fastCheckTable } from './verify-fast.js';
import { dropWork, scratchFile } from '../util/work-path.js';
import { digestFile, type DigestAlgorithm, type FileDigests } from '../util/hash.js';
import type { TableCheck, VerifyOptions } from './verify.js';

/**
 * The data half of `bundle verify` (verify.ts runs the bag half): each CSV's header, every value
 * against its column's type, the row counts the Data Package states, every primary key unique
 * (rows strictly in canonical key order), every unique column's values distinct and every foreign
 * key resolved (both through a scratch SQLite file, so memory does not grow with rows), and each
 * Arrow file holding the same rows as its CSV.
 * A module of its own so that `--checksums-only`, which needs none of it, does not load Arrow,
 * zod and SQLite, and so that the full verify loads them while the bag thread already hashes.
 */

const PER_TABLE = 10;

/** A column whose values go to the scratch file: one that other tables reference, or one that is unique (then checked). */
interface KeyAdd {
  stmt: Database.Statement;
  col: number;
  unique: { column: string; first: Database.Statement } | null;
}

/** What the data check read of datapackage.json, for the checks that wait for the bag's hashes. */
export interface DataChecked {
  entities: Entity[];
  resources: DataPackageResource[];
}

export async function checkData(dir: string, pkgFile: string, tables: TableCheck[], add: (p: string) => void, opts: VerifyOptions): Promise<DataChecked | undefined> {
  const pkg = readDataPackage(pkgFile);
  if (!pkg.ok) {
    add(`data/datapackage.json: ${pkg.problem}`);
    return undefined;
  }
  const resources = pkg.resources;
  const entities: Entity[] = [];
  for (const { entity, problems } of pkg.entities) {
    for (const p of problems) add(`data/datapackage.json: ${p}`);
    entities.push(entity);
  }
  const byName = new Map<string, Entity>();
  for (const e of entities) {
    if (byName.has(e.name)) add(`data/datapackage.json: the resource ${e.name} is described twice`);
    byName.set(e.name, e);
  }
  for (const e of entities) {
    for (const c of e.columns) {
      if (!c.references) continue;
      const target = byName.get(c.references.entity);
      if (!target) add(`data/datapackage.json: ${e.name}.${c.name} references ${c.references.entity}, which is not in the bundle`);
      else if (!target.columns.some((x) => x.name === c.references!.column)) add(`data/datapackage.json: ${e.name}.${c.name} references ${c.references.entity}.${c.references.column}, which is not a field of ${c.references.entity}`);
    }
  }
  const scratch = scratchFile('forklift-verify-', '.sqlite', 'bundle verify');
  const keys = await KeyScratch.open(scratch, entities);
  try {
    for (const [i, r] of resources.entries()) {
      opts.signal?.throwIfAborted();
      const entity = entities[i]!;
      // The table's own CSV, whatever `path` says (entityOf reports another path): the file import loads.
      const files = tableFiles(r.name);
      const rel = files.csv;
      const file = safeBagPath(dir, rel, { encoded: false });
      if (file === null) {
        add(`${rel}: the path leads outside the bundle; not read`);
        continue;
      }
      const check: TableCheck = { name: r.name, rows: 0, expected_rows: r['forklift:rows'] ?? null, problems: 0 };
      tables.push(check);
      if (!existsSync(file)) {
        add(`${rel}: missing (named by datapackage.json)`);
        check.unread = true;
        continue;
      }
      const arrowRel = files.arrow;
      const arrow = safeBagPath(dir, arrowRel, { encoded: false });
      const hasArrow = arrow !== null && existsSync(arrow);
      // Export writes both files of every table: an Arrow file gone is a table a reader of Arrow would not see.
      if (!hasArrow) add(`${arrowRel}: missing (a forklift bundle has an Arrow file beside each table's CSV)`);
      await checkCsv(file, rel, entity, check, keys, add, opts, hasArrow ? { file: arrow, rel: arrowRel } : null);
      if (check.expected_rows !== null && check.rows !== check.expected_rows && !check.unread) add(`${rel}: ${check.rows} rows, datapackage.json says ${check.expected_rows}`);
    }
    for (const p of keys.dangling(new Set(tables.filter((t) => t.unread).map((t) => t.name)))) add(p);
    for (const p of undescribedFiles(dir, new Set(byName.keys()))) add(p);
    await checkOtherFormats(dir, entities, tables, add, opts);
  } finally {
    keys.close();
    dropWork(scratch);
  }
  return { entities, resources };
}

const RESOURCE_HASH = /^(?:(md5|sha1|sha256|sha512):)?([0-9a-f]+)$/i;

/**
 * Each resource's own `hash` and `bytes` (datapackage.json) against its CSV: the bag's manifest
 * vouches for the bytes, not for what the Data Package says of them, and a Frictionless reader
 * rejects a resource whose file disagrees. `hashed` holds the digests the bag check computed; a
 * CSV it did not hash (no manifest lists it, which the bag check reports) or a hash in another
 * algorithm is read once more. A CSV missing or unreadable is reported by the other checks.
 */
export async function resourceFileProblems(dir: string, resources: readonly DataPackageResource[], hashed: Readonly<Record<string, FileDigests>>, signal?: AbortSignal): Promise<string[]> {
  const out: string[] = [];
  for (const r of resources) {
    if (r.hash === undefined && r.bytes === undefined) continue;
    const rel = tableFiles(r.name).csv;
    const file = safeBagPath(dir, rel, { encoded: false });
    if (file === null || !existsSync(file)) continue;
    let stated: { algorithm: DigestAlgorithm; hex: string } | undefined;
    if (r.hash !== undefined) {
      // Frictionless: a bare hash is MD5, another algorithm is written as its prefix.
      const m = RESOURCE_HASH.exec(r.hash);
      if (m) stated = { algorithm: (m[1]?.toLowerCase() ?? 'md5') as DigestAlgorithm, hex: m[2]!.toLowerCase() };
      else out.push(`data/datapackage.json: ${r.name}: hash '${r.hash}' is not <algorithm>:<hex digits> (md5, sha1, sha256 or sha512), so a Frictionless reader cannot check ${rel}`);
    }
    let d: FileDigests | undefined = hashed[rel];
    if (d === undefined || (stated !== undefined && d.digests[stated.algorithm] === undefined)) {
      try {
        d = await digestFile(file, stated ? [stated.algorithm] : [], { signal });
      } catch (e) {
        if (signal?.aborted) throw e;
        continue;
      }
    }
    if (r.bytes !== undefined && r.bytes !== d.bytes) out.push(`${rel}: datapackage.json gives the resource ${r.name} ${r.bytes} bytes; the file has ${d.bytes}`);
    const actual = stated ? d.digests[stated.algorithm] : undefined;
    if (stated && actual !== stated.hex) out.push(`${rel}: datapackage.json gives the resource ${r.name} the hash ${r.hash}; the file's is ${stated.algorithm}:${actual}`);
  }
  return out;
}

/** The Parquet files and the workbook, where the bundle has them (verify-formats.ts, loaded only then). */
async function checkOtherFormats(dir: string, entities: readonly Entity[], tables: readonly TableCheck[], add: (p: string) => void, opts: VerifyOptions): Promise<void> {
  const hasParquet = existsSync(path.join(dir, 'data', 'parquet'));
  const hasWorkbook = existsSync(path.join(dir, 'data', 'workbook.xlsx'));
  if (!hasParquet && !hasWorkbook) return;
  const formats = await import('./verify-formats.js');
  const counted = new Map(tables.map((t) => [t.name, t.rows]));
  const rows = entities.filter((e) => counted.has(e.name)).map((entity) => ({ entity, rows: counted.get(entity.name)! }));
  if (hasParquet) await formats.checkParquet(dir, rows, opts.formats === true, add, opts.signal);
  if (hasWorkbook) await (opts.formats ? formats.checkWorkbook(dir, rows, add, opts.signal) : formats.checkWorkbookFile(dir, add));
}

/**
 * The table files no resource describes: import loads the tables datapackage.json names, so a
 * table left out of it would be left out of the import without a word.
 */
function undescribedFiles(dir: string, names: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const [sub, ext] of [['csv', '.csv'], ['arrow', '.arrow'], ['parquet', '.parquet']] as const) {
    let entries: Dirent[];
    try {
      entries = readdirSync(path.join(dir, 'data', sub), { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries.sort((a, b) => compareText(a.name, b.name))) {
      const name = e.isFile() && e.name.endsWith(ext) ? e.name.slice(0, -ext.length) : undefined;
      if (name === undefined || !names.has(name)) out.push(`data/${sub}/${e.name}: no resource of datapackage.json describes it, so an import would leave it out`);
    }
  }
  return out;
}

/**
 * One pass over a table's CSV: the header, every value against its type, the key order, the
 * references (to the scratch file) and, where the bundle has one, the Arrow file's rows beside it.
 */
async function checkCsv(file: string, rel: string, entity: Entity, check: TableCheck, keys: KeyScratch, add: (p: string) => void, opts: VerifyOptions, arrow: { file: string; rel: string } | null): Promise<void> {
  const local = (p: string): void => {
    check.problems++;
    if (check.problems <= PER_TABLE) add(p);
    else if (check.problems === PER_TABLE + 1) add(`${rel}: more problems in this file (only the first ${PER_TABLE} are listed)`);
  };
  const checkers = entity.columns.map(valueChecker);
  const decoders = entity.columns.map(csvDecoder);
  if (arrow && opts.lane !== 'slow') {
    // The fast lane adds its foreign keys inside a savepoint: on "bail" they are dropped and the slow lane starts over.
    keys.savepoint();
    const fast = await fastCheckTable({
      csv: file,
      arrow: arrow.file,
      entity,
      checkers,
      decoders,
      same: sameValue,
      keyColumns: keys.columnsOf(entity),
      addKeys: (row, line) => keys.add(entity, row, line),
      signal: opts.signal,
      progress: (rows) => opts.progress?.({ table: entity.name, rows }),
      tail: opts.tail,
      tailFirst: opts.tailFirst,
    });
    if (fast.ok) {
      keys.release();
      check.rows = fast.rows;
      return;
    }
    keys.rollback();
  }
  const keyPos = entity.primaryKey.map((k) => entity.columns.findIndex((c) => c.name === k));
  const cmp = keyComparer(entity.columns, keyPos);
  const arrowRows = arrow ? openArrowRows(arrow.file) : null;
  let arrowOk = arrow !== null;
  let last: unknown[] | undefined;
  let line = 0;
  const n = entity.columns.length;
  const bad: boolean[] = new Array<boolean>(n).fill(false);
  try {
    for await (const batch of readBundleCsv(file)) {
      opts.signal?.throwIfAborted();
      for (const rec of batch) {
        line++;
        if (line === 1) {
          const header = rec.map((f) => f ?? '');
          const want = entity.columns.map((c) => c.name);
          if (header.join('\u0000') !== want.join('\u0000')) {
            local(`${rel}: the header is ${header.join(',')}; datapackage.json names ${want.join(',')}`);
            check.unread = true;
            return;
          }
          continue;
        }
        check.rows++;
        if (rec.length !== n) {
          local(`${rel}:${line}: ${rec.length} fields, expected ${n}`);
          continue;
        }
        const row: unknown[] = new Array(n);
        bad.fill(false);
        for (let i = 0; i < n; i++) {
          const f = rec[i]!;
          const problem = checkers[i]!(f ?? '', f === '');
          if (problem !== null) {
            bad[i] = true;
            local(`${rel}:${line}: ${entity.columns[i]!.name} ${problem}`);
          }
          row[i] = decoders[i]!(f ?? '', f === '');
        }
        if (arrowOk) {
          const a = arrowRows!.next() ?? ((await arrowRows!.advance()) ? arrowRows!.next() : undefined);
          // An invalid cell is named already: that the Arrow file holds another value there would only repeat it.
          const diff = a === undefined ? 0 : row.findIndex((v, i) => !bad[i] && !sameValue(a[i], v));
          if (a === undefined || diff !== -1) {
            arrowOk = false;
            local(
              a === undefined
                ? `${arrow!.rel}: fewer rows than ${entity.name}.csv (it ends before line ${line})`
                : `${arrow!.rel}: row ${line - 1}, ${entity.columns[diff]!.name}: ${JSON.stringify(a[diff])} here, ${JSON.stringify(row[diff])} in ${entity.name}.csv`,
            );
          }
        }
        // Only the invalid cells stay out of the key checks: a row whose cost is wrong still is the
        // row its key names, and leaving its key out made every reference to it dangle.
        if (keyPos.length && !keyPos.some((p) => bad[p])) {
          if (last !== undefined) {
            const c = cmp(last, row);
            if (c === 0) local(`${rel}:${line}: primary key (${keyPos.map((p) => String(row[p])).join(', ')}) repeats the row before`);
            else if (c > 0) local(`${rel}:${line}: rows are not in primary-key order`);
          }
          last = row;
        }
        keys.add(entity, row, line, (column, value, first) => local(`${rel}:${line}: ${column} '${value}' repeats line ${first}, and the column is unique`), bad);
      }
      opts.progress?.({ table: entity.name, rows: check.rows });
    }
    if (arrowOk && (arrowRows!.next() !== undefined || (await arrowRows!.advance()))) local(`${arrow!.rel}: more rows than ${entity.name}.csv`);
  } catch (e) {
    if (e instanceof CsvShapeError) local(`${rel}:${e.line}: ${e.problem()}`);
    else if (arrowOk && arrow && !(e instanceof Error && e.name === 'AbortError')) local(`${arrow.rel}: cannot be read as an Arrow file (${e instanceof Error ? e.message : String(e)})`);
    else throw e;
    check.unread = true;
  } finally {
    await arrowRows?.close();
  }
}

/**
 * A CSV value equals the Arrow value beside it: both are in the staging form, where equal values
 * are the same JavaScript value (text, a safe integer as a number, 1/0, decimal and time text), so
 * nothing is converted to compare. A missing value equals only a missing value: NULL is not the
 * text "null", nor 5 the text "5".
 */
export function sameValue(a: unknown, b: unknown): boolean {
  return a === b || ((a === null || a === undefined) && (b === null || b === undefined));
}

/** One column's check of a CSV field: null when it holds a valid value of the type, else the problem. */
export function valueChecker(c: Column): (text: string, quoted: boolean) => string | null {
  const required = c.required;
  const typed = typeCheck(c);
  return (text, quoted) => (text === '' && !quoted ? (required ? 'is missing but required' : null) : typed(text));
}

const INT = /^-?(0|[1-9]\d*)$/;
const DATE = /^(\d{4})-(\d\d)-(\d\d)$/;
const TS = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A bundle holds only what every store can load back (SPEC section 6: import into any supported
 * store), and what migrate lets into a store: text without NUL (PostgreSQL cannot store it),
 * integers of 64 bits, years 0001 to 9999.
 */
function typeCheck(c: Column): (t: string) => string | null {
  switch (c.type) {
    case 'string':
    case 'text': {
      const max = c.length;
      return (t) => {
        const nul = t.indexOf('\u0000');
        if (nul >= 0) return `holds the NUL character (U+0000) at character ${[...t.slice(0, nul)].length + 1}, which no text of a store holds (PostgreSQL cannot store it)`;
        return max !== undefined && t.length > max && [...t].length > max ? `is ${[...t].length} characters long; the column holds ${max}` : null;
      };
    }
    case 'enum': {
      const allowed = new Set(c.values ?? []);
      return (t) => (allowed.has(t) ? null : `'${t}' is not one of ${[...allowed].join(', ')}`);
    }
    case 'boolean':
      return (t) => (t === 'true' || t === 'false' ? null : `'${t}' is not true or false`);
    case 'integer':
      return (t) => {
        if (!INT.test(t)) return `'${t}' is not an integer`;
        // Up to 18 characters (18 digits at most) every integer is within 64 bits: BigInt only beyond.
        if (t.length > 18 && (BigInt(t) < INT64_MIN || BigInt(t) > INT64_MAX)) return `${t} is beyond a 64-bit integer (-9223372036854775808 to 9223372036854775807), which no store's integer column holds`;
        return range(c, t);
      };
    case 'decimal': {
      const scale = c.scale ?? 0;
      const intDigits = (c.precision ?? 38) - scale;
      const re = scale > 0 ? new RegExp(`^-?(0|[1-9]\\d{0,${Math.max(intDigits - 1, 0)}})\\.\\d{${scale}}$`) : new RegExp(`^-?(0|[1-9]\\d{0,${Math.max(intDigits - 1, 0)}})$`);
      return (t) => (re.test(t) ? range(c, t) : `'${t}' is not a decimal(${c.precision ?? 38},${scale}) in canonical form`);
    }
    case 'date':
      return (t) => {
        const m = DATE.exec(t);
        if (m && +m[1]! === 0) return `'${t}' is in the year 0000, outside the years 0001 to 9999 that every store holds`;
        return m && validDate(+m[1]!, +m[2]!, +m[3]!) ? null : `'${t}' is not a date (YYYY-MM-DD)`;
      };
    case 'timestamp':
      return (t) => {
        const m = TS.exec(t);
        if (m && +m[1]! === 0) return `'${t}' is in the year 0000, outside the years 0001 to 9999 that every store holds`;
        return m && validDate(+m[1]!, +m[2]!, +m[3]!) && +m[4]! < 24 && +m[5]! < 60 && +m[6]! < 60 ? null : `'${t}' is not a UTC timestamp (YYYY-MM-DDTHH:mm:ss.SSSZ)`;
      };
  }
}

function range(c: Column, t: string): string | null {
  if (c.min !== undefined) {
    const r = compareDecimalText(t, c.min);
    if (c.exclusiveMin ? r <= 0 : r < 0) return `${t} is below the minimum ${c.min}`;
  }
  if (c.max !== undefined && compareDecimalText(t, c.max) > 0) return `${t} is above the maximum ${c.max}`;
  return null;
}

/**
 * Foreign keys and unique columns across the bundle's tables without holding values in memory:
 * referenced values, the values of unique columns and references go to a scratch SQLite file as the
 * CSVs stream by. A unique value already there repeats (its first line is looked up only then); one
 * anti-join per reference finds those that point nowhere.
 */
class KeyScratch {
  private readonly refs = new Map<string, { stmt: Database.Statement; col: number }[]>();
  private readonly adds = new Map<string, KeyAdd[]>();
  private readonly pairs: { from: string; col: string; to: string; toCol: string; refTable: string; keyTable: string }[] = [];

  /** The scratch file, where a table has a unique column or a reference; else nothing to keep (and better-sqlite3 is not loaded: 40 ms of a verify's start). */
  static async open(file: string, entities: Entity[]): Promise<KeyScratch> {
    if (!entities.some((e) => e.columns.some((c) => c.unique || c.references))) return new KeyScratch(undefined, entities);
    const { default: Database } = await import('better-sqlite3');
    return new KeyScratch(new Database(file), entities);
  }

  private constructor(
    private readonly db: Database.Database | undefined,
    entities: Entity[],
  ) {
    if (!db) return;
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    let n = 0;
    const keyTables = new Map<string, string>();
    const newTable = (tk: string): string => {
      const table = `k${n++}`;
      keyTables.set(tk, table);
      db.exec(`CREATE TABLE ${table} (v PRIMARY KEY, line INTEGER) WITHOUT ROWID`);
      return table;
    };
    // One table of values per column that is unique or referenced (or both), filled as its table streams by.
    const valuesOf = (target: Entity, pos: number): string => {
      const column = target.columns[pos]!;
      const tk = `${target.name}.${column.name}`;
      const known = keyTables.get(tk);
      if (known) return known;
      const table = newTable(tk);
      // A key of one column is unique by its order, which the rows are checked in already.
      const unique = column.unique && !(target.primaryKey.length === 1 && target.primaryKey[0] === column.name);
      const list = this.adds.get(target.name) ?? [];
      list.push({
        stmt: db.prepare(`INSERT OR IGNORE INTO ${table} VALUES (?, ?)`),
        col: pos,
        unique: unique ? { column: column.name, first: db.prepare(`SELECT line FROM ${table} WHERE v = ?`).pluck() } : null,
      });
      this.adds.set(target.name, list);
      return table;
    };
    for (const e of entities) {
      for (const [ci, c] of e.columns.entries()) if (c.unique) valuesOf(e, ci);
    }
    for (const e of entities) {
      for (const [ci, c] of e.columns.entries()) {
        if (!c.references) continue;
        const target = entities.find((x) => x.name === c.references!.entity);
        const pos = target?.columns.findIndex((x) => x.name === c.references!.column) ?? -1;
        const tk = `${c.references.entity}.${c.references.column}`;
        // A table or column the bundle lacks (reported apart) has no values: every reference to it dangles.
        const keyTable = target && pos >= 0 ? valuesOf(target, pos) : (keyTables.get(tk) ?? newTable(tk));
        const refTable = `r${n++}`;
        db.exec(`CREATE TABLE ${refTable} (v, line INTEGER)`);
        const list = this.refs.get(e.name) ?? [];
        list.push({ stmt: db.prepare(`INSERT INTO ${refTable} VALUES (?, ?)`), col: ci });
        this.refs.set(e.name, list);
        this.pairs.push({ from: e.name, col: c.name, to: c.references.entity, toCol: c.references.column, refTable, keyTable });
      }
    }
    db.exec('BEGIN');
  }

  /** The positions of `entity`'s columns that add() reads (its references, its unique columns, and the columns other tables reference). */
  columnsOf(entity: Entity): number[] {
    const cols = new Set<number>();
    for (const a of this.adds.get(entity.name) ?? []) cols.add(a.col);
    for (const r of this.refs.get(entity.name) ?? []) cols.add(r.col);
    return [...cols];
  }

  savepoint(): void {
    this.db?.exec('SAVEPOINT fast_lane');
  }

  release(): void {
    this.db?.exec('RELEASE fast_lane');
  }

  rollback(): void {
    this.db?.exec('ROLLBACK TO fast_lane');
    this.db?.exec('RELEASE fast_lane');
  }

  /**
   * A row's values that other rows are checked against. False when a value of a unique column
   * repeats an earlier row's (missing values may repeat); `repeated` is told which. The cells
   * `bad` marks (invalid, and reported as such) are left out: such a value is no key to resolve
   * to, and a reference holding one is wrong already.
   */
  add(entity: Entity, row: unknown[], line: number, repeated?: (column: string, value: string, first: number) => void, bad?: readonly boolean[]): boolean {
    let ok = true;
    for (const a of this.adds.get(entity.name) ?? []) {
      if (row[a.col] === null || bad?.[a.col]) continue;
      const v = String(row[a.col]);
      if (a.stmt.run(v, line).changes === 0 && a.unique) {
        ok = false;
        repeated?.(a.unique.column, v, a.unique.first.get(v) as number);
      }
    }
    for (const r of this.refs.get(entity.name) ?? []) if (row[r.col] !== null && !bad?.[r.col]) r.stmt.run(String(row[r.col]), line);
    return ok;
  }

  /** References that resolve to no row; those to or from a table not read whole (`unread`) are left out, as they would only repeat that. */
  *dangling(unread: ReadonlySet<string>): Generator<string> {
    if (!this.db) return;
    this.db.exec('COMMIT');
    for (const p of this.pairs) {
      if (unread.has(p.from) || unread.has(p.to)) continue;
      const missing = this.db.prepare(`SELECT r.v AS v, r.line AS line FROM ${p.refTable} r WHERE NOT EXISTS (SELECT 1 FROM ${p.keyTable} k WHERE k.v = r.v) ORDER BY r.line LIMIT ${PER_TABLE}`).all() as { v: string; line: number }[];
      for (const m of missing) yield `data/csv/${p.from}.csv:${m.line}: ${p.col} '${m.v}' has no ${p.to} row with ${p.toCol} '${m.v}'`;
    }
  }

  close(): void {
    if (this.db?.open) this.db.close();
  }
}
