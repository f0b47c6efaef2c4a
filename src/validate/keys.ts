import type Database from 'better-sqlite3';
import type { Column, Entity } from '../model/types.js';
import { stagingTable, type Staging } from '../run/staging.js';
import { ROW_DUPLICATE, ROW_OK } from '../run/row-state.js';
import { q } from '../util/sql-name.js';

export type OnDuplicate = 'reject' | 'first' | 'last';

/**
 * Rows that share a primary key. Exact copies (every column equal) are dropped and counted,
 * keeping the first; rows of a key that disagree follow on_duplicate: `reject` rejects them all,
 * since none can be trusted; `first` / `last` keep one and drop the others. Works in SQL over
 * the staging table, so a million-row log needs no key set in memory.
 */
export function checkDuplicateKeys(staging: Staging, entity: Entity, onDuplicate: OnDuplicate, sourceLabel: string): void {
  const t = stagingTable(entity.name);
  const pk = entity.primaryKey.map(q);
  const others = entity.columns.filter((c) => !entity.primaryKey.includes(c.name)).map((c) => q(c.name));
  const fingerprint = others.length ? `json_array(${others.join(', ')})` : `''`;
  const groups = staging.db
    // Runs first for its entity, while every staged row is still ok: no _st filter, so the
    // query is a scan of the key index alone instead of a million table look-ups.
    .prepare(`SELECT ${pk.join(', ')}, COUNT(*) AS n FROM ${t} GROUP BY ${pk.join(', ')} HAVING COUNT(*) > 1`)
    .raw()
    .iterate() as IterableIterator<unknown[]>;
  const members = staging.db.prepare(`SELECT _seq, _line, ${fingerprint} AS fp FROM ${t} WHERE ${pk.map((c) => `${c} IS ?`).join(' AND ')} AND _st = ${ROW_OK} ORDER BY _seq`);
  const markDup = staging.db.prepare(`UPDATE ${t} SET _st = ${ROW_DUPLICATE} WHERE _seq = ?`);
  // Collect first: updating the table while iterating a GROUP BY over it is not allowed.
  const keys: unknown[][] = [];
  for (const g of groups) keys.push(g.slice(0, pk.length));
  for (const key of keys) {
    const rows = members.all(...key) as { _seq: number; _line: number; fp: string }[];
    const variants = new Set(rows.map((r) => r.fp));
    const keyText = entity.primaryKey.map((k, i) => `${k} ${String(key[i])}`).join(', ');
    if (variants.size === 1 || onDuplicate !== 'reject') {
      const keep = variants.size === 1 || onDuplicate === 'first' ? rows[0]! : rows[rows.length - 1]!;
      for (const r of rows) if (r !== keep) markDup.run(r._seq);
      continue;
    }
    rejectTogether(
      staging,
      entity,
      rows.map((r) => ({ seq: r._seq, line: r._line })),
      entity.primaryKey.join('+'),
      'duplicate-key',
      (lines) => `${rows.length} rows of ${sourceLabel} (lines ${lines}) have the key ${keyText} with different values; none is loaded. Keep the right one, or set on_duplicate: first or last`,
    );
  }
}

/** Rejects rows of one conflict together, each with the same reason, which `reason` words from their lines. */
function rejectTogether(staging: Staging, entity: Entity, rows: readonly { seq: number; line: number }[], field: string, rule: string, reason: (lines: string) => string): void {
  const text = reason(rows.map((r) => r.line).join(', '));
  for (const r of rows) staging.rejectStaged(entity.name, r.seq, r.line, field, rule, text);
}

const TEXT_TYPES = new Set(['string', 'text', 'enum']);

/**
 * The SQL over a staging table that finds keys differing only in trailing spaces, or null where no
 * key column is text. `same(alias, key)` holds for the rows of `alias` whose key is `key` (one SQL
 * expression per key column, text ones trimmed) but for trailing spaces: a text key of `v` plus
 * spaces sorts from `v` up to `v` + '!' (the character after the space), a range on the staged key
 * index, then the exact test.
 */
function paddedKeySql(entity: Entity): {
  keyCols: Column[];
  cols: (alias: string) => string[];
  trimmed: (alias: string) => string[];
  endsInSpace: (alias: string) => string;
  same: (alias: string, key: readonly string[]) => string;
} | null {
  const keyCols = entity.primaryKey.map((k) => entity.columns.find((c) => c.name === k)!);
  const text = keyCols.map((c) => TEXT_TYPES.has(c.type));
  if (!text.some(Boolean)) return null;
  const cols = (alias: string): string[] => keyCols.map((c) => `${alias}${q(c.name)}`);
  return {
    keyCols,
    cols,
    trimmed: (alias) => cols(alias).map((c, i) => (text[i] ? `rtrim(${c}, ' ')` : c)),
    endsInSpace: (alias) =>
      cols(alias)
        .filter((_, i) => text[i])
        .map((c) => `substr(${c}, -1) = ' '`)
        .join(' OR '),
    same: (alias, key) =>
      cols(alias)
        .map((c, i) => (text[i] ? `${c} >= ${key[i]} AND ${c} < (${key[i]} || '!') AND rtrim(${c}, ' ') = ${key[i]}` : `${c} IS ${key[i]}`))
        .join(' AND '),
  };
}

/**
 * Rows whose keys differ only in trailing spaces, for a target that compares keys without them
 * (MySQL and MariaDB's PAD SPACE collations, SQL Server): there 'A' and 'A ' are one key, so the
 * load would fail on the primary key with no line to look at, or an upsert would fold one row into
 * the other. Such rows are rejected together, as rows of one key that disagree are. Runs after
 * checkDuplicateKeys, over the rows still ok; only a key with a trailing space can collide, so the
 * scan looks for those first (a log with none costs one pass over the staged rows).
 */
export function checkPaddedKeys(staging: Staging, entity: Entity, sourceLabel: string, target: string): void {
  const sql = paddedKeySql(entity);
  if (!sql) return;
  const { keyCols } = sql;
  const t = stagingTable(entity.name);
  const candidates = staging.db.prepare(`SELECT DISTINCT ${sql.trimmed('').join(', ')} FROM ${t} WHERE _st = ${ROW_OK} AND (${sql.endsInSpace('')})`).raw().all() as unknown[][];
  if (candidates.length === 0) return;
  const members = staging.db.prepare(`SELECT _seq, _line, ${sql.cols('').join(', ')} FROM ${t} WHERE ${sql.same('', keyCols.map((_, i) => `@k${i}`))} AND _st = ${ROW_OK} ORDER BY _seq`).raw();
  for (const key of candidates) {
    const rows = members.all(Object.fromEntries(key.map((v, i) => [`k${i}`, v]))) as unknown[][];
    if (rows.length < 2) continue;
    const shown = rows.map((r) => keyCols.map((c, i) => `${c.name} '${String(r[2 + i])}'`).join(' + ')).join(', ');
    rejectTogether(
      staging,
      entity,
      rows.map((r) => ({ seq: r[0] as number, line: r[1] as number })),
      entity.primaryKey.join('+'),
      'duplicate-key',
      (lines) => `${rows.length} rows of ${sourceLabel} (lines ${lines}) have keys that differ only in trailing spaces (${shown}), which ${target} compares as one key; none is loaded. Trim the key in the mapping (clean: [trim]) or correct the source`,
    );
  }
}

/** A staged row's line and key. */
export interface StagedKey {
  line: number;
  key: unknown[];
}

/**
 * Two staged rows whose keys differ only in trailing spaces, in line order, or null: the first row
 * whose key ends in a space and matches another, and the first row it matches. `bundle import`,
 * which rejects no row, refuses the load on them instead (see checkPaddedKeys).
 * Memory does not grow with rows: one pass finds whether any key has trailing spaces, and only
 * then is the key index made (`indexKeys`) and each such row looked up in it until one matches.
 */
export function firstPaddedKeyPair(db: Database.Database, entity: Entity, indexKeys: () => void): [StagedKey, StagedKey] | null {
  const sql = paddedKeySql(entity);
  if (!sql) return null;
  const t = stagingTable(entity.name);
  if (db.prepare(`SELECT 1 FROM ${t} WHERE ${sql.endsInSpace('')} LIMIT 1`).get() === undefined) return null;
  indexKeys();
  const pair = db
    .prepare(
      `SELECT p._line, o._line, ${[...sql.cols('p.'), ...sql.cols('o.')].join(', ')} FROM ${t} AS p JOIN ${t} AS o ON o._seq = ` +
        `(SELECT m._seq FROM ${t} AS m WHERE ${sql.same('m.', sql.trimmed('p.'))} AND m._seq <> p._seq ORDER BY m._seq LIMIT 1) ` +
        `WHERE ${sql.endsInSpace('p.')} ORDER BY p._seq LIMIT 1`,
    )
    .raw()
    .get() as unknown[] | undefined;
  if (!pair) return null;
  const n = sql.keyCols.length;
  const padded: StagedKey = { line: pair[0] as number, key: pair.slice(2, 2 + n) };
  const other: StagedKey = { line: pair[1] as number, key: pair.slice(2 + n) };
  return padded.line < other.line ? [padded, other] : [other, padded];
}

/** The columns marked unique besides a single-column primary key (which the key checks cover). */
export function uniqueColumns(entity: Entity): Column[] {
  return entity.columns.filter((c) => c.unique && !(entity.primaryKey.length === 1 && entity.primaryKey[0] === c.name));
}

/**
 * Rows that share a value of a `unique` column (other than the key): the target's UNIQUE
 * constraint would refuse the load as a whole, naming no line. They are rejected together, like
 * rows of one key that disagree, since none can be trusted over the others. A missing value is no
 * value: any number of rows may lack one. Runs after the key checks, over the rows still ok.
 */
export function checkUniqueColumns(staging: Staging, entity: Entity, sourceLabel: string, paddedTarget?: string): void {
  const t = stagingTable(entity.name);
  for (const c of uniqueColumns(entity)) {
    const col = q(c.name);
    // A target that compares text without trailing spaces (`paddedTarget`) holds 'A' and 'A ' as one value.
    const padded = paddedTarget !== undefined && TEXT_TYPES.has(c.type);
    const value = padded ? `rtrim(${col}, ' ')` : col;
    const shared = staging.db.prepare(`SELECT ${value} FROM ${t} WHERE _st = ${ROW_OK} AND ${col} IS NOT NULL GROUP BY ${value} HAVING COUNT(*) > 1`).pluck().all();
    if (shared.length === 0) continue;
    const members = staging.db.prepare(`SELECT _seq AS seq, _line AS line, ${col} AS v FROM ${t} WHERE ${value} = ? AND _st = ${ROW_OK} ORDER BY _seq`);
    for (const v of shared) {
      const rows = members.all(v) as { seq: number; line: number; v: unknown }[];
      const values = [...new Set(rows.map((r) => String(r.v)))];
      const what =
        values.length > 1
          ? `${c.name} values that differ only in trailing spaces (${values.map((x) => `'${x}'`).join(', ')}), one value to ${paddedTarget}, and ${c.name} must be unique`
          : `the ${c.name} ${String(v)}, which must be unique`;
      rejectTogether(staging, entity, rows, c.name, 'unique', (lines) => `${rows.length} rows of ${sourceLabel} (lines ${lines}) have ${what}; none is loaded. Keep the right one${values.length > 1 ? ' (or trim the field: clean: [trim])' : ''}`);
    }
  }
}

/**
 * Rows whose `unique` value a row already in the target holds, under another key (an append, an
 * incremental load or an upsert adds to the target's rows): the target's UNIQUE constraint would
 * refuse the whole load, naming no line. They are rejected with the target's key named. `target`
 * holds the target's key columns and the unique column (copyTargetUniques). In an upsert a target
 * row whose key this run updates, setting the column too, gives its value up, so it holds none.
 */
export function checkUniqueAgainstTarget(
  staging: Staging,
  entity: Entity,
  column: Column,
  target: string,
  opts: { sourceLabel: string; upsertSets: boolean; paddedTarget?: string | undefined },
): void {
  const t = stagingTable(entity.name);
  const col = q(column.name);
  const padded = opts.paddedTarget !== undefined && TEXT_TYPES.has(column.type);
  const same = padded ? `rtrim(x.${col}, ' ') = rtrim(s.${col}, ' ')` : `x.${col} = s.${col}`;
  const sameKey = (a: string, b: string): string => entity.primaryKey.map((k) => `${a}.${q(k)} IS ${b}.${q(k)}`).join(' AND ');
  const givenUp = opts.upsertSets ? ` AND NOT EXISTS (SELECT 1 FROM ${t} AS u WHERE u._st = ${ROW_OK} AND ${sameKey('u', 'x')})` : '';
  const hits = staging.db
    .prepare(
      `SELECT s._seq AS seq, s._line AS line, s.${col} AS v, ${entity.primaryKey.map((k, i) => `x.${q(k)} AS k${i}`).join(', ')} FROM ${t} AS s JOIN ${target} AS x ON ${same} ` +
        `WHERE s._st = ${ROW_OK} AND s.${col} IS NOT NULL AND NOT (${sameKey('x', 's')})${givenUp} ORDER BY s._seq`,
    )
    .all() as Record<string, unknown>[];
  const seen = new Set<number>();
  for (const h of hits) {
    const seq = h.seq as number;
    if (seen.has(seq)) continue;
    seen.add(seq);
    const key = entity.primaryKey.map((k, i) => `${k} ${String(h[`k${i}`])}`).join(', ');
    staging.rejectStaged(
      entity.name,
      seq,
      h.line as number,
      column.name,
      'unique',
      `${column.name} ${String(h.v)} is already held by the target's row ${key}, and ${column.name} must be unique${padded ? ` (${opts.paddedTarget} compares text without trailing spaces)` : ''}; the row is not loaded. Correct the value, or change the target's row first`,
    );
  }
}
