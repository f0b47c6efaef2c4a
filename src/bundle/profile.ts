import { createHmac } from 'node:crypto';
import { ConfigError } from '../core/errors.js';
import type { Column, Entity } from '../model/types.js';

/**
 * Export profiles (SPEC section 6, `profiles:` in the plan): per entity, `drop` leaves columns out,
 * `mask` replaces their values (text by `***`, other types by a missing value), `hash` replaces
 * them by an HMAC-SHA-256 with a salt from FORKLIFT_HASH_SALT, so equal values stay equal (an
 * auditor can still count and join) but cannot be read back. Key and reference columns cannot be
 * masked or hashed: the bundle's rows are in key order and its references must resolve, and both
 * would silently break. A unique text column cannot be masked either: every value would be `***`
 * (other types mask to a missing value, which may repeat). A profile is applied as rows stream through; the store is untouched.
 */

/** Per entity: the columns to drop, mask and hash (profile-parse.ts checks a plan's against its schema). */
export type ProfileSpec = Record<string, { drop?: string[] | undefined; mask?: string[] | undefined; hash?: string[] | undefined }>;

export const SALT_ENV = 'FORKLIFT_HASH_SALT';
export const MASK = '***';

export interface Profile {
  name: string;
  spec: ProfileSpec;
  /** Recorded in bag-info.txt: what was dropped, masked and hashed. */
  summary: string;
}

/**
 * Every table a profile names must be a table of the source: a profile for `Items` where the
 * table is `items` would mask nothing, while bag-info.txt recorded it as applied, and the bundle
 * would hand an auditor what the profile meant to keep back.
 */
export function checkProfileTables(profile: Profile, tables: readonly Entity[]): void {
  const names = tables.map((e) => e.name);
  for (const name of Object.keys(profile.spec)) {
    if (names.includes(name)) continue;
    const like = names.find((n) => n.toLowerCase() === name.toLowerCase());
    throw new ConfigError(`profile ${profile.name}: '${name}' is not a table of the source${like ? ` (did you mean '${like}'? table names are matched exactly)` : ''}; nothing was exported`, {
      code: 'profile.unknown-table',
      hint: `Name the tables as the source has them: ${names.join(', ') || '(none)'}.`,
    });
  }
}

export interface ProfiledTable {
  entity: Entity;
  /** Turns a source row (the store's columns) into the bundle's row. */
  row: (r: readonly unknown[]) => unknown[];
}

/** The table as the profile lets it leave, checked against every table of the export. */
export function applyProfile(profile: Profile | undefined, entity: Entity, all: readonly Entity[], env: NodeJS.ProcessEnv = process.env): ProfiledTable {
  const rules = profile?.spec[entity.name];
  if (!rules) return { entity, row: (r) => r as unknown[] };
  const where = `profile ${profile!.name}, ${entity.name}`;
  const fail = (msg: string, hint: string): never => {
    throw new ConfigError(`${where}: ${msg}`, { code: 'profile.invalid', hint });
  };
  const names = new Set(entity.columns.map((c) => c.name));
  // Every column of the export that references one of this table's columns, by that column.
  const referencing = new Map<string, { table: string; column: string }[]>();
  for (const e of all) {
    for (const c of e.columns) {
      if (c.references?.entity !== entity.name) continue;
      const list = referencing.get(c.references.column) ?? [];
      list.push({ table: e.name, column: c.name });
      referencing.set(c.references.column, list);
    }
  }
  for (const kind of ['drop', 'mask', 'hash'] as const) {
    for (const c of rules[kind] ?? []) {
      if (!names.has(c)) fail(`${kind}: '${c}' is not a column of ${entity.name} (columns: ${[...names].join(', ')})`, 'Name a column of the table.');
      if (entity.primaryKey.includes(c)) fail(`${kind}: '${c}' is part of the primary key`, 'The bundle is in key order and keyed by it: keep key columns.');
      const col = entity.columns.find((x) => x.name === c);
      if (kind === 'mask' && col?.unique && (col.type === 'string' || col.type === 'text')) {
        fail(`mask: '${c}' is unique, and masking writes ${MASK} for every value of it`, `The bundle would break its own unique constraint and could not be imported: hash the column (hash: [${c}]), which keeps distinct values distinct, or drop it.`);
      }
      const refs = referencing.get(c) ?? [];
      if (kind !== 'drop' && refs.length) fail(`${kind}: other tables reference '${c}'`, 'Their references would no longer resolve: drop those tables or keep the column.');
      // A dropped column may go where every column referencing it goes too; otherwise the bundle fails its own verify.
      const kept = refs.filter((r) => !(profile!.spec[r.table]?.drop ?? []).includes(r.column));
      if (kind === 'drop' && kept.length) {
        const named = kept.map((r) => `${r.table}.${r.column}`).join(', ');
        fail(`drop: '${c}' is referenced by ${named}`, `Those references would resolve to nothing, and the bundle would fail its own verify: drop ${kept.length === 1 ? 'that column' : 'those columns'} too, leave ${kept.length === 1 ? 'its table' : 'their tables'} out with --tables, or keep '${c}'.`);
      }
      if (kind !== 'drop' && entity.columns.find((x) => x.name === c)?.references) fail(`${kind}: '${c}' references another table`, 'Drop the column instead, or keep it.');
    }
  }
  const drop = new Set(rules.drop ?? []);
  const mask = new Set(rules.mask ?? []);
  const hash = new Set(rules.hash ?? []);
  let salt: string | undefined;
  if (hash.size) {
    salt = env[SALT_ENV];
    if (!salt) fail(`hash needs a salt: set ${SALT_ENV}`, `Export ${SALT_ENV}=<a secret kept apart from the bundle>, so hashed values cannot be guessed by hashing candidates.`);
  }
  const kept: { i: number; out: (v: unknown) => unknown; col: Column }[] = [];
  entity.columns.forEach((c, i) => {
    if (drop.has(c.name)) return;
    if (mask.has(c.name)) {
      const text = c.type === 'string' || c.type === 'text';
      // Said in the column's description, as a hash is: the dictionary and datapackage.json are
      // where a reader learns that `***` or an empty cell is not the store's value.
      const description = `${c.description ? `${c.description} ` : ''}(masked, profile ${profile!.name})`;
      kept.push({ i, out: (v) => (v === null ? null : text ? MASK : null), col: { ...c, required: c.required && text, ...(text ? { length: Math.max(c.length ?? 3, 3) } : {}), description } });
    } else if (hash.has(c.name)) {
      const { min: _min, max: _max, pattern: _p, values: _v, ...rest } = c;
      kept.push({
        i,
        out: (v) => (v === null ? null : createHmac('sha256', salt!).update(String(v)).digest('hex')),
        col: { ...rest, type: 'string', length: 64, description: `${c.description ? `${c.description} ` : ''}(HMAC-SHA-256, profile ${profile!.name})` },
      });
    } else kept.push({ i, out: (v) => v, col: c });
  });
  const profiled: Entity = { ...entity, columns: kept.map((k) => k.col) };
  return { entity: profiled, row: (r) => kept.map((k) => k.out(r[k.i])) };
}
