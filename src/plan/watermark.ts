import type { Entity } from '../model/types.js';
import type { LoadMode } from '../stores/types.js';
import { formatLocation } from '../core/errors.js';
import type { LoadedMapping } from './load.js';

/**
 * Incremental loads (SPEC section 4, `watermark:`): only rows newer than the target's latest per
 * key prefix are loaded, so the same machine log loaded twice adds nothing. The key prefix is the
 * primary key without the watermark column (machine_events: per machine_id); a watermark outside
 * the key compares against the whole table's latest.
 */
export interface Watermark {
  column: string;
  groupBy: string[];
}

/** Types whose staged form sorts like their values: fixed-width UTC text, ISO dates, integers. */
const ORDERED_TYPES = new Set(['timestamp', 'date', 'integer']);

export function loadModeOf(m: LoadedMapping, planLoad: LoadMode | undefined): LoadMode {
  return m.spec.load ?? planLoad ?? 'replace';
}

/** The watermark of an incremental mapping, or the problems that stop the plan (file:line:col). */
export function watermarkOf(m: LoadedMapping, entity: Entity, mode: LoadMode): { watermark: Watermark | null; problems: string[] } {
  const name = m.spec.watermark;
  const at = (key: string): string => formatLocation(m.yaml.locateKey([key]));
  if (mode !== 'incremental') {
    if (name === undefined) return { watermark: null, problems: [] };
    return { watermark: null, problems: [`${at('watermark')} watermark: is only used by load: incremental, and this mapping loads with ${mode}; set load: incremental or remove watermark`] };
  }
  if (name === undefined) {
    return {
      watermark: null,
      problems: [`${at(m.spec.load ? 'load' : 'entity')} load: incremental needs watermark: <column> (the column whose newer values are loaded, e.g. watermark: ts); for ${entity.name} without one, use append or upsert`],
    };
  }
  const column = entity.columns.find((c) => c.name === name);
  if (!column) {
    return { watermark: null, problems: [`${at('watermark')} watermark: '${name}' is not a column of ${entity.name} (columns: ${entity.columns.map((c) => c.name).join(', ')})`] };
  }
  const problems: string[] = [];
  if (!ORDERED_TYPES.has(column.type)) problems.push(`${at('watermark')} watermark: ${entity.name}.${name} is of type ${column.type}; a watermark must be a timestamp, date or integer column`);
  const inKey = entity.primaryKey.includes(name);
  if (!inKey && !column.required) problems.push(`${at('watermark')} watermark: ${entity.name}.${name} may be empty, so a row without it could not be placed; choose a required column or a column of the primary key`);
  return { watermark: problems.length ? null : { column: name, groupBy: inKey ? entity.primaryKey.filter((c) => c !== name) : [] }, problems };
}
