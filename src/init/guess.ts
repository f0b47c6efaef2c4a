/**
 * The mapping guesser: for every column of an entity, the source column(s) that most likely fill
 * it (by name, with ERP synonyms in English and German, and by what the values look like), how to
 * read them (decimal comma, date and timestamp formats, time zone), how to clean them, and value
 * maps for codes. Each proposal carries a confidence and the reasons, in words.
 */
import type { CleanStep } from '../mapping/clean.js';
import type { Column, Entity } from '../model/types.js';
import type { SourceLayout } from './detect.js';
import { nameScore, nameTokens } from './names.js';
import { describeProfile, profileColumns, type ColumnProfile } from './profile.js';
import { guessBooleanMap, guessEnumMap, guessUnitMap, type MapValue } from './values.js';
import { escapeRegExp } from '../util/regexp.js';

export type Confidence = 'high' | 'medium' | 'low' | 'none';

export interface FieldProposal {
  field: string;
  type: Column['type'];
  required: boolean;
  /** Source columns read (one, or several joined). */
  from?: string[];
  join?: string;
  expr?: string;
  const?: string | boolean;
  default?: string;
  clean?: CleanStep[];
  values?: Record<string, MapValue>;
  /** Values seen in the sample that the map does not cover (rows with them are rejected), with counts. */
  unmapped?: [string, number][];
  decimal?: ',';
  date?: string;
  timestamp?: string;
  timezone?: string;
  /** 0 (nothing found) to 1 (sure). */
  score: number;
  confidence: Confidence;
  /** Why, in words: shown in the table and written as comments. */
  why: string[];
  /** What a person should check. */
  todo: string[];
}

export interface MappingProposal {
  entity: string;
  layout: SourceLayout;
  profiles: ColumnProfile[];
  fields: FieldProposal[];
  filter?: { expr: string; why: string };
  /** Source columns no field reads. */
  unused: string[];
  /** Whether the file looks German (zone and words): decides the default time zone. */
  german: boolean;
}

const MIN_SCORE = 0.35;

export function confidenceOf(score: number): Confidence {
  if (score >= 0.75) return 'high';
  if (score >= 0.5) return 'medium';
  if (score > 0) return 'low';
  return 'none';
}

/** A column name as an expression can name it: bare when it is an identifier, else in backquotes. */
export function exprName(column: string): string {
  return /^[\p{L}_][\p{L}\p{M}\p{Nd}_]*$/u.test(column) && !['and', 'or', 'not', 'true', 'false', 'null', 'if'].includes(column) ? column : `\`${column.replaceAll('`', '``')}\``;
}

const KEYWORDS_KEY = /(^|_)(code|id|item|no)$/;

function isKeyLike(col: Column, entity: Entity): boolean {
  return entity.primaryKey.includes(col.name) || col.references !== undefined || KEYWORDS_KEY.test(col.name) || ['warehouse', 'lot', 'machine_id', 'uom'].includes(col.name);
}

/** How well the values of a column fit the field's type: 0 to 1. */
export function contentScore(col: Column, p: ColumnProfile, entity: Entity): number {
  if (p.values.length === 0) return 0.3;
  const numeric = p.decimal !== undefined;
  const dateish = p.isoDate || p.dateFormat !== undefined || p.isoTimestamp || p.timestampFormat !== undefined;
  switch (col.type) {
    case 'integer':
      return p.integer && !dateish ? 1 : 0;
    case 'decimal':
      return numeric && !dateish ? (p.integer ? 0.85 : 1) : 0;
    case 'date':
      return p.isoDate || p.dateFormat !== undefined ? 1 : p.excelSerial ? 0.6 : 0;
    case 'timestamp':
      return p.isoTimestamp || p.timestampFormat !== undefined ? 1 : p.isoDate || p.dateFormat !== undefined ? 0.3 : 0;
    case 'boolean': {
      if (p.distinct.length > 8) return 0;
      const g = guessBooleanMap(p.distinct);
      // Mostly codes we cannot read as yes/no: not a flag (a `state` column of US states is not `active`).
      return g.covered >= 0.5 ? 0.4 + 0.6 * g.covered : 0;
    }
    case 'enum': {
      if (p.distinct.length > 30) return 0;
      const g = guessEnumMap(upperIf(p, col).distinct, col.values ?? []);
      return g.covered;
    }
    case 'string':
    case 'text': {
      if (col.length !== undefined && p.maxLength > col.length) return 0.1;
      if (numeric && !p.codeLike) return isKeyLike(col, entity) ? 0.5 : 0.3;
      if (dateish) return 0.2;
      if (isKeyLike(col, entity)) return p.codeLike ? 1 : 0.5;
      if (col.name === 'description' || col.type === 'text') return p.values.some((v) => v.includes(' ')) ? 1 : 0.5;
      return 0.7;
    }
    default: {
      const never: never = col.type;
      return never;
    }
  }
}

/** The distinct values as the clean steps leave them: upper-cased where the codes are (mostly) upper case or the enum is. */
function upperIf(p: ColumnProfile, col: Column): { distinct: [string, number][]; upper: boolean } {
  const upper = p.upperShare >= 0.8 || (col.values ?? []).every((v) => v === v.toUpperCase());
  const merged = new Map<string, number>();
  for (const [v, n] of p.distinct) {
    const k = upper ? v.trim().toUpperCase() : v.trim();
    merged.set(k, (merged.get(k) ?? 0) + n);
  }
  return { distinct: [...merged.entries()].sort((a, b) => b[1] - a[1]), upper };
}

interface Candidate {
  field: Column;
  profile: ColumnProfile;
  score: number;
  why: string;
}

function candidates(entity: Entity, profiles: readonly ColumnProfile[]): Candidate[] {
  const out: Candidate[] = [];
  for (const col of entity.columns) {
    for (const p of profiles) {
      if (p.name === '') continue;
      const n = nameScore(p.name, col.name);
      const c = contentScore(col, p, entity);
      let score: number;
      let why: string;
      if (n.score > 0) {
        score = c === 0 ? n.score * 0.4 : n.score * 0.7 + c * 0.3;
        why = `name ${p.name} ${n.synonym === col.name ? 'is the field name' : `matches '${n.synonym ?? ''}'`}${c === 0 ? `, but the values are ${describeProfile(p)}` : ` and the values fit (${describeProfile(p)})`}`;
      } else {
        // By content alone only where the values say something specific.
        const specific = ['date', 'timestamp', 'enum'].includes(col.type) && c >= 0.8;
        score = specific ? c * 0.4 : 0;
        why = `only the values fit (${describeProfile(p)})`;
      }
      if (score > 0) out.push({ field: col, profile: p, score, why });
    }
  }
  return out.sort((a, b) => b.score - a.score);
}

/** Proposes a mapping of the sampled source to `entity`. */
export function guessMapping(layout: SourceLayout, entity: Entity): MappingProposal {
  const profiles = profileColumns(layout.header, layout.rows);
  const german = isGerman(layout, profiles);
  const chosen = new Map<string, Candidate>();
  const used = new Set<string>();
  for (const c of candidates(entity, profiles)) {
    if (c.score < MIN_SCORE) break;
    if (chosen.has(c.field.name) || used.has(c.profile.name)) continue;
    chosen.set(c.field.name, c);
    used.add(c.profile.name);
  }
  const fields: FieldProposal[] = [];
  for (const col of entity.columns) {
    const c = chosen.get(col.name);
    if (c === undefined) {
      fields.push(unmatchedField(col, entity));
      continue;
    }
    // DESC1 + DESC2: numbered columns of one name are read together.
    const from = [c.profile];
    const stem = /^(.*?)[\s_-]?1$/.exec(c.profile.name)?.[1];
    if (stem !== undefined && stem !== '' && (col.type === 'string' || col.type === 'text')) {
      for (let k = 2; k <= 9; k++) {
        const next = profiles.find((p) => new RegExp(`^${escapeRegExp(stem)}[\\s_-]?${k}$`).test(p.name) && !used.has(p.name));
        if (next === undefined) break;
        from.push(next);
        used.add(next.name);
      }
    }
    const f = buildField(col, entity, from, { score: c.score, why: c.why, german });
    // A name the header holds twice cannot say which column it means: mapping check refuses it.
    for (const name of f.from ?? []) {
      const at = layout.header.flatMap((h, i) => (h === name ? [i + 1] : []));
      if (at.length < 2) continue;
      f.todo.push(`the header names ${name} in columns ${at.join(', ')}: rename them in the source so that each name is unique, then map the one you mean (mapping check refuses ${name} until then)`);
      if (f.confidence === 'high') f.confidence = 'medium';
    }
    fields.push(f);
  }
  const proposal: MappingProposal = {
    entity: entity.name,
    layout,
    profiles,
    fields,
    unused: profiles.filter((p) => !fields.some((f) => f.from?.includes(p.name) || (f.expr !== undefined && f.expr.includes(p.name)))).map((p) => p.name),
    german,
  };
  const filter = guessFilter(proposal, entity);
  if (filter !== undefined) proposal.filter = filter;
  return proposal;
}

function isGerman(layout: SourceLayout, profiles: readonly ColumnProfile[]): boolean {
  const words = ['artikel', 'menge', 'lager', 'charge', 'bezeichnung', 'einheit', 'datum', 'zeit', 'stichtag', 'wert', 'maschine', 'preis', 'mandant', 'werk', 'erstellt'];
  const text = [...layout.header, ...layout.preamble].flatMap((h) => nameTokens(h));
  return profiles.some((p) => p.hasUmlauts || p.decimal === ',') || text.some((t) => words.some((w) => t.startsWith(w)));
}

/** A required column no source column matched: a constant where one is safe, else a TODO. */
function unmatchedField(col: Column, entity: Entity): FieldProposal {
  const base = { field: col.name, type: col.type, required: col.required, score: 0, confidence: 'none' as const, why: [] as string[], todo: [] as string[] };
  if (col.name === 'lot' && entity.primaryKey.includes('lot')) {
    return { ...base, const: '', score: 0.5, confidence: 'medium', why: ['no lot or batch column: every row gets the empty lot'] };
  }
  if (col.type === 'boolean' && col.required) {
    return { ...base, const: true, score: 0.3, confidence: 'low', why: [`no column says whether a row is ${col.name}: all are taken as true`], todo: [`check that every row is ${col.name}`] };
  }
  if (col.required) base.todo.push(`no source column found for the required ${col.name}: add a field (from, const or expr)`);
  return base;
}

export interface BuildContext {
  score: number;
  why: string;
  german: boolean;
}

/** The field for `col` read from the given source columns: formats, clean steps and value maps. */
export function buildField(col: Column, entity: Entity, from: readonly ColumnProfile[], ctx: BuildContext): FieldProposal {
  const p = from[0] as ColumnProfile;
  const f: FieldProposal = {
    field: col.name,
    type: col.type,
    required: col.required,
    from: from.map((x) => x.name),
    score: ctx.score,
    confidence: confidenceOf(ctx.score),
    why: [ctx.why],
    todo: [],
  };
  if (from.length > 1) {
    f.join = ' ';
    f.why.push(`${f.from?.join(' and ')} are joined with a space`);
  }
  const keyLike = isKeyLike(col, entity);
  switch (col.type) {
    case 'string':
    case 'text': {
      if (col.name === 'description' || col.type === 'text') f.clean = ['trim', 'squash_spaces'];
      else if (keyLike && p.upperShare >= 0.8) f.clean = ['trim', 'upper'];
      else f.clean = ['trim'];
      if (col.name === 'uom') {
        const { distinct, upper } = upperIf(p, { ...col, type: 'enum', values: ['X'] });
        const g = guessUnitMap(distinct);
        if (Object.keys(g.map).length > 0) {
          f.values = g.map;
          f.why.push(`units mapped to one spelling each (${g.how})`);
        }
        // The map's keys are the values upper-cased (as for enums): the clean steps must upper-case
        // the source too, or 'Each' never meets the key EACH and every row is rejected.
        if (upper && f.values !== undefined) f.clean = ['trim', 'upper'];
        if (g.unmapped.length > 0 && f.values !== undefined) {
          f.unmapped = g.unmapped;
          f.todo.push(`units not mapped: ${g.unmapped.map(([v, n]) => `${v} (${n})`).join(', ')}; rows with them are rejected until you add them`);
        }
      }
      // A key column often empty (lots where none): '' rather than missing. A rare gap stays a reject.
      if (entity.primaryKey.includes(col.name) && p.rows - p.values.length >= Math.max(1, p.rows * 0.1)) {
        f.default = '';
        f.why.push(`empty in ${p.rows - p.values.length} of ${p.rows} sampled rows: the empty ${col.name} '' (a key column cannot be missing)`);
      }
      break;
    }
    case 'integer':
      if (/week|woche/.test(nameTokens(p.name).join(' ')) && col.name.endsWith('_days')) {
        delete f.from;
        f.expr = `${exprName(p.name)} * 7`;
        f.why.push(`${p.name} counts weeks: times 7 for days`);
      }
      break;
    case 'decimal':
      if (p.decimal === ',') {
        f.decimal = ',';
        f.why.push(`decimal comma${p.values.some((v) => /\.\d{3}/.test(v)) ? ' with thousands dots' : ''} (e.g. ${p.values.find((v) => v.includes(',')) ?? p.values[0] ?? ''})`);
      }
      if (p.decimalAmbiguous) f.todo.push(`values such as ${p.values.find((v) => /[.,]\d{3}$/.test(v)) ?? ''} could use either separator; a decimal point was assumed`);
      break;
    case 'date':
      if (p.dateFormat !== undefined) {
        f.date = p.dateFormat;
        f.why.push(`dates like ${p.values[0] ?? ''} read as ${p.dateFormat}`);
      } else if (!p.isoDate && p.excelSerial) {
        f.date = 'excel';
        f.why.push('whole numbers in the range of Excel date serials');
        f.todo.push('check that these numbers are Excel dates');
      }
      if (p.formatAlternative !== undefined) f.todo.push(`${p.formatAlternative} reads the sample too: check day and month order`);
      break;
    case 'timestamp':
      if (p.timestampFormat !== undefined) f.timestamp = p.timestampFormat;
      else if (p.dateFormat !== undefined) f.timestamp = p.dateFormat;
      if (!p.isoOffset) {
        f.timezone = ctx.german ? 'Europe/Berlin' : 'UTC';
        f.why.push(`local times without offset, taken as ${f.timezone}`);
        f.todo.push(`check the time zone the clock ran in (${f.timezone} was assumed)`);
      }
      if (p.formatAlternative !== undefined) f.todo.push(`${p.formatAlternative} reads the sample too: check day and month order`);
      break;
    case 'boolean': {
      const g = guessBooleanMap(p.distinct);
      if (Object.keys(g.map).length > 0) {
        f.values = g.map;
        f.why.push(`value map from the ${p.distinct.length} codes seen (${g.how})`);
      }
      if (g.unmapped.length > 0) {
        f.unmapped = g.unmapped;
        f.todo.push(`codes not mapped: ${g.unmapped.map(([v, n]) => `${v} (${n})`).join(', ')}; true or false? Rows with them are rejected until you add them`);
      }
      if (g.deleted.length > 0) f.why.push(`${g.deleted.join(', ')} look like deleted rows: filtered`);
      break;
    }
    case 'enum': {
      const { distinct, upper } = upperIf(p, col);
      const g = guessEnumMap(distinct, col.values ?? []);
      f.clean = upper ? ['trim', 'upper'] : ['trim'];
      if (Object.keys(g.map).length > 0) {
        f.values = g.map;
        f.why.push(`value map from the ${distinct.length} codes seen (${g.how})`);
      }
      if (g.ambiguous.length > 0) f.todo.push(`ambiguous codes: ${g.ambiguous.join(', ')}`);
      if (g.unmapped.length > 0) {
        f.unmapped = g.unmapped;
        f.todo.push(`codes not mapped: ${g.unmapped.map(([v, n]) => `${v} (${n})`).join(', ')}; which of ${(col.values ?? []).join(', ')}? Rows with them are rejected until you add them`);
      }
      break;
    }
    default: {
      const never: never = col.type;
      return never;
    }
  }
  if (f.todo.length > 0 && f.confidence === 'high') f.confidence = 'medium';
  return f;
}

/** Rows that are not data: deleted-status rows and a totals row ('Summe', 'Total'). */
function guessFilter(proposal: MappingProposal, entity: Entity): { expr: string; why: string } | undefined {
  const parts: string[] = [];
  const why: string[] = [];
  for (const f of proposal.fields) {
    if (f.type !== 'boolean' || f.from === undefined) continue;
    const p = proposal.profiles.find((x) => x.name === f.from?.[0]);
    if (p === undefined) continue;
    const deleted = guessBooleanMap(p.distinct).deleted;
    for (const d of deleted) parts.push(`${exprName(p.name)} != ${JSON.stringify(d)}`);
    if (deleted.length > 0) why.push(`${p.name} ${deleted.join('/')} looks like deleted rows`);
  }
  const key = proposal.fields.find((f) => entity.primaryKey[0] === f.field && f.from !== undefined);
  const kp = key === undefined ? undefined : proposal.profiles.find((x) => x.name === key.from?.[0]);
  const total = kp?.values.find((v) => /^(summe|gesamt|gesamtsumme|total|totals|sum|grand total)$/i.test(v));
  if (kp !== undefined && total !== undefined) {
    parts.push(`${exprName(kp.name)} != ${JSON.stringify(total)}`);
    why.push(`the '${total}' row is a totals row`);
  }
  return parts.length === 0 ? undefined : { expr: parts.join(' and '), why: why.join('; ') };
}
