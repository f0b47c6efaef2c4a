/**
 * Value maps proposed from the distinct values a column holds: legacy one-letter codes that are
 * prefixes of the model's enum values (R -> RUN), German and English words for them, yes/no
 * flags, and units of measure. Only sure entries go into a map; the rest are listed for a person.
 */
import { compactName } from './names.js';

export type MapValue = string | boolean;

export interface ValueMapGuess {
  /** Source value (as cleaned) -> target value. Empty when the values need no map. */
  map: Record<string, MapValue>;
  /** Values seen that the map does not cover, with how often (rows with them are rejected). */
  unmapped: [string, number][];
  /** Values that matched more than one target; the first was taken. */
  ambiguous: string[];
  /** Share of the sample's rows whose value is covered. */
  covered: number;
  how: string;
}

/** Words for enum values of the factory model (compacted names). */
const ENUM_WORDS: Record<string, readonly string[]> = {
  raw: ['raw', 'rawmaterial', 'rohstoff', 'rohmaterial', 'roh', 'kaufteil', 'purchased', 'rm', 'material'],
  semi: ['semi', 'semifinished', 'halbfabrikat', 'halbzeug', 'halbfertig', 'baugruppe', 'assembly', 'subassembly', 'sa', 'intermediate'],
  finished: ['finished', 'finishedgood', 'finishedgoods', 'fertigerzeugnis', 'fertigteil', 'fertig', 'fg', 'product', 'products', 'endprodukt', 'handelsware'],
  consumable: ['consumable', 'consumables', 'verbrauchsmaterial', 'hilfsstoff', 'betriebsstoff', 'vm', 'supplies'],
  service: ['service', 'dienstleistung', 'dl', 'nonstock', 'leistung'],
  RUN: ['run', 'running', 'lauf', 'laeuft', 'produktion', 'production', 'prod', 'betrieb', 'active', 'working'],
  IDLE: ['idle', 'warten', 'wartet', 'leerlauf', 'bereit', 'ready', 'standby', 'waiting'],
  DOWN: ['down', 'stoerung', 'fault', 'error', 'failure', 'stillstand', 'breakdown', 'alarm', 'ausfall'],
  SETUP: ['setup', 'ruesten', 'umruesten', 'changeover', 'einrichten', 'setting'],
  OFF: ['off', 'aus', 'ausgeschaltet', 'shutdown', 'poweroff', 'offline'],
};

const TRUE_WORDS = new Set(['a', 'active', 'aktiv', 'y', 'yes', 'j', 'ja', 'true', '1', 'x', 't', 'enabled', 'released', 'freigegeben']);
const FALSE_WORDS = new Set(['i', 'inactive', 'inaktiv', 'n', 'no', 'nein', 'false', '0', 'f', 'disabled', 'obsolete', 'o']);
/** Values the coercer reads as booleans by itself. */
const NATIVE_BOOL = new Set(['true', '1', 'yes', 'y', 't', 'ja', 'j', 'x', 'false', '0', 'no', 'n', 'f', 'nein']);
/** Status codes that mean "deleted": such rows are filtered rather than mapped. */
export const DELETED_WORDS = new Set(['d', 'del', 'deleted', 'geloescht', 'loeschvormerkung', 'lv']);

const UNITS: Record<string, readonly string[]> = {
  EA: ['ea', 'each', 'pcs', 'pc', 'pce', 'piece', 'pieces', 'stk', 'st', 'stueck', 'nos', 'no', 'unit', 'units', 'un', 'unt'],
  KG: ['kg', 'kgs', 'kilo', 'kilogram', 'kilogramm'],
  G: ['g', 'gr', 'gram', 'gramm'],
  T: ['t', 'to', 'tonne', 'ton'],
  M: ['m', 'mtr', 'meter', 'metre'],
  MM: ['mm'],
  CM: ['cm'],
  M2: ['m2', 'qm', 'sqm'],
  M3: ['m3', 'cbm'],
  L: ['l', 'ltr', 'liter', 'litre', 'lt'],
  ML: ['ml'],
  H: ['h', 'hr', 'hrs', 'hour', 'hours', 'std', 'stunde'],
  SET: ['set', 'satz'],
  PAK: ['pak', 'pack', 'pkg', 'package'],
};

function total(distinct: readonly [string, number][]): number {
  return distinct.reduce((s, [, n]) => s + n, 0);
}

function finish(map: Record<string, MapValue>, distinct: readonly [string, number][], unmapped: [string, number][], ambiguous: string[], how: string): ValueMapGuess {
  const all = total(distinct);
  const missing = total(unmapped);
  return { map, unmapped, ambiguous, covered: all === 0 ? 1 : (all - missing) / all, how };
}

/** A map from the values seen to the enum's values. `distinct` holds values already cleaned (trimmed, and upper-cased when the clean step says so). */
export function guessEnumMap(distinct: readonly [string, number][], enumValues: readonly string[]): ValueMapGuess {
  const map: Record<string, MapValue> = {};
  const unmapped: [string, number][] = [];
  const ambiguous: string[] = [];
  let identity = true;
  const methods = new Set<string>();
  for (const [v, n] of distinct) {
    if (enumValues.includes(v)) {
      map[v] = v;
      continue;
    }
    identity = false;
    const c = compactName(v);
    const ci = enumValues.filter((e) => e.toLowerCase() === v.toLowerCase());
    if (ci.length === 1) {
      map[v] = ci[0] as string;
      methods.add('same word');
      continue;
    }
    const word = enumValues.filter((e) => (ENUM_WORDS[e] ?? []).includes(c));
    if (word.length >= 1) {
      map[v] = word[0] as string;
      methods.add('known words');
      continue;
    }
    const prefix = c === '' ? [] : enumValues.filter((e) => e.toLowerCase().startsWith(c));
    if (prefix.length >= 1) {
      map[v] = prefix[0] as string;
      if (prefix.length > 1) ambiguous.push(`${v} (${prefix.join(' or ')})`);
      methods.add('first letters');
      continue;
    }
    unmapped.push([v, n]);
  }
  if (identity && unmapped.length === 0) return finish({}, distinct, [], [], 'values are the model values');
  return finish(map, distinct, unmapped, ambiguous, [...methods].join(', ') || 'none matched');
}

/** A map to true/false, or none when the coercer reads the values by itself. Deleted-codes are left out (filtered). */
export function guessBooleanMap(distinct: readonly [string, number][]): ValueMapGuess & { deleted: string[] } {
  const deleted = distinct.filter(([v]) => DELETED_WORDS.has(compactName(v))).map(([v]) => v);
  const rest = distinct.filter(([v]) => !deleted.includes(v));
  if (rest.every(([v]) => NATIVE_BOOL.has(v.trim().toLowerCase()))) return { ...finish({}, distinct, [], [], 'values read as true/false'), deleted };
  const map: Record<string, MapValue> = {};
  const unmapped: [string, number][] = [];
  for (const [v, n] of rest) {
    const c = compactName(v) || v.toLowerCase();
    if (TRUE_WORDS.has(c)) map[v] = true;
    else if (FALSE_WORDS.has(c)) map[v] = false;
    else unmapped.push([v, n]);
  }
  const g = finish(map, rest, unmapped, [], 'status codes');
  return { ...g, deleted };
}

/** Units of measure to one spelling each, when some values need it. */
export function guessUnitMap(distinct: readonly [string, number][]): ValueMapGuess {
  const map: Record<string, MapValue> = {};
  const unmapped: [string, number][] = [];
  let changes = false;
  for (const [v, n] of distinct) {
    const c = compactName(v);
    const unit = Object.keys(UNITS).find((u) => (UNITS[u] ?? []).includes(c));
    if (unit === undefined) unmapped.push([v, n]);
    else {
      map[v] = unit;
      if (unit !== v) changes = true;
    }
  }
  if (!changes) return finish({}, distinct, [], [], 'units already uniform');
  return finish(map, distinct, unmapped, [], 'known units');
}
