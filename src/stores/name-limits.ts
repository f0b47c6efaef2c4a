import { StoreError } from '../core/errors.js';
import type { Entity } from '../model/types.js';

/**
 * How long a table or column name a server store takes. A longer name is refused here, before the
 * load writes anything, naming each: PostgreSQL would cut it to 63 bytes with a NOTICE only (the
 * import then reports the full name as loaded, and export and diff see another table), MariaDB
 * would refuse it with a bare "Incorrect table name". SQLite takes any length.
 */
export interface NameLimit {
  store: string;
  max: number;
  unit: string;
  measure: (name: string) => number;
  /** MariaDB names a table's foreign keys `<table>_ibfk_<n>`, which must fit too. */
  foreignKeySuffix?: (n: number) => string;
}

export const PG_NAME_LIMIT: NameLimit = { store: 'PostgreSQL', max: 63, unit: 'bytes', measure: (s) => Buffer.byteLength(s, 'utf8') };
export const MYSQL_NAME_LIMIT: NameLimit = { store: 'MySQL/MariaDB', max: 64, unit: 'characters', measure: (s) => [...s].length, foreignKeySuffix: (n) => `_ibfk_${n}` };
/** sysname is nvarchar(128): UTF-16 code units. */
export const MSSQL_NAME_LIMIT: NameLimit = { store: 'SQL Server', max: 128, unit: 'characters', measure: (s) => s.length };

export function checkNameLengths(display: string, entities: readonly Entity[], limit: NameLimit): void {
  const long: string[] = [];
  const over = (name: string): boolean => limit.measure(name) > limit.max;
  for (const e of entities) {
    if (over(e.name)) long.push(`table ${e.name} (${limit.measure(e.name)} ${limit.unit})`);
    for (const c of e.columns) if (over(c.name)) long.push(`column ${e.name}.${c.name} (${limit.measure(c.name)} ${limit.unit})`);
    const fks = e.columns.filter((c) => c.references && c.references.entity !== e.name).length;
    if (limit.foreignKeySuffix && fks > 0 && !over(e.name) && over(`${e.name}${limit.foreignKeySuffix(fks)}`)) {
      long.push(`table ${e.name}, whose foreign keys ${limit.store} names ${e.name}${limit.foreignKeySuffix(1)} and on (${limit.measure(`${e.name}${limit.foreignKeySuffix(fks)}`)} ${limit.unit})`);
    }
  }
  if (long.length === 0) return;
  throw new StoreError(`${display}: ${limit.store} takes names of at most ${limit.max} ${limit.unit}, and ${long.length === 1 ? 'this name is' : 'these names are'} longer: ${long.join('; ')}; nothing was loaded`, {
    code: 'store.name-too-long',
    hint: `Give ${long.length === 1 ? 'it a shorter name' : 'them shorter names'} in the source and export again, or load into a store that takes ${long.length === 1 ? 'it' : 'them'} (SQLite takes names of any length).`,
  });
}
