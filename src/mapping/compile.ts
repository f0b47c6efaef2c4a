import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import { ConfigError, formatLocation } from '../core/errors.js';
import type { Entity } from '../model/types.js';
import type { FieldSpec } from '../plan/schema.js';
import type { LoadedMapping } from '../plan/load.js';
import { breaksIn } from '../sources/csv.js';
import { decodeSample, detectEncoding } from '../sources/encoding.js';
import type { Cell, CellFault, ExcelDateSystem, SourceInfo } from '../sources/types.js';
import { sha256Text, type HashedFile } from '../util/hash.js';
import { didYouMean, nearest } from '../util/suggest.js';
import { makeRowRules, type RowProblem } from '../validate/row-rules.js';
import { makeCleaner } from './clean.js';
import { makeCoercer, type StoredValue } from './coerce.js';
import { checkZone, formatProblem } from './datetime.js';
import { compileCondition, compileExpression, columnsOf, parseExpression, showValue, ExprRuntimeError, type ExprNode, type ExprValue, type CompiledExpr } from './expr/index.js';
import { excelColumnLetters } from '../util/excel-columns.js';
import { mayNeedNfc, nfc } from '../util/unicode.js';

export type MapResult =
  | { kind: 'ok'; values: StoredValue[] }
  | { kind: 'filtered' }
  | {
      kind: 'rejected';
      problem: RowProblem;
      /** The primary key, when it mapped: lets a reference to this row say why it is missing. */
      key?: string;
      /** The values the row's fields mapped to, null where a field failed (absent when no field was mapped: shape, filter). */
      values?: StoredValue[];
    };

export interface CompiledMapping {
  entity: Entity;
  /**
   * Maps one source record; pure, no I/O. `faults` are the record's cells the source could not
   * read (SourceRecord.faults): a row whose filter or fields use one is rejected.
   */
  map(cells: readonly Cell[], faults?: readonly CellFault[]): MapResult;
  /** The files compiling read (values_file), hashed as read: a run records them with its sources. */
  readonly inputs: readonly HashedFile[];
}

interface FieldPlan {
  name: string;
  /** Produces the field's text before cleaning, or null when missing. */
  read: (cells: readonly Cell[]) => string | null;
  /** The indexes of the source cells `read` uses. */
  uses: readonly number[];
  clean: ((s: string) => string | null) | undefined;
  fallback: string | null;
  lookup: ((s: string) => { ok: true; value: string | null } | { ok: false; reason: string }) | undefined;
  coerce: (s: string) => ReturnType<ReturnType<typeof makeCoercer>>;
  required: boolean;
  keepsEmpty: boolean;
  /** `const: ""`: the mapping says empty string in so many words, so it is not an empty cell (missing). */
  constEmpty: boolean;
}

const scalarText = (v: string | number | boolean | null | undefined): string | null =>
  v === null || v === undefined ? null : String(v);

/** 1-based positions of header columns: `columns 3 and 4`, with the sheet's letters for Excel (`columns 3 (C) and 4 (D)`). */
function positionsText(indexes: readonly number[], format: string): string {
  const one = (i: number): string => (format === 'xlsx' ? `${i + 1} (${excelColumnLetters(i + 1)})` : String(i + 1));
  const parts = indexes.map(one);
  return `columns ${parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]!}` : parts[0]!}`;
}

/** One text for a key of one or more columns (unit separator between parts). */
export function keyText(values: readonly StoredValue[]): string {
  return values.map((v) => String(v)).join('\u001f');
}

export function exprText(v: ExprValue): string | null {
  if (v === null) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return v.toFixed();
}

export interface CompileOptions {
  /** Whether a record must have as many cells as the header (text files, where a stray delimiter shifts cells). */
  checkShape: boolean;
  /** The date system `date: excel` and `timestamp: excel` read serial numbers in: the workbook's (default 1900). */
  excelDates?: ExcelDateSystem;
  /** The delimiter a CSV was read with, named in a header of one column (likely the wrong one). */
  delimiter?: string;
}

/** What compiling a mapping needs to know of its source beyond the header. */
export function compileOptionsOf(source: Pick<SourceInfo, 'positionKind' | 'excelDateSystem'> & { detected?: SourceInfo['detected'] }): CompileOptions {
  const opts: CompileOptions = { checkShape: source.positionKind === 'line' };
  if (source.excelDateSystem !== undefined) opts.excelDates = source.excelDateSystem;
  if (source.detected?.delimiter !== undefined) opts.delimiter = source.detected.delimiter;
  return opts;
}

/**
 * Compiles a mapping against the source's real header: every column reference is resolved to an
 * index once, so mapping a row is a few closure calls. Every problem is reported at once with
 * its position in the mapping file.
 */
export function compileMapping(m: LoadedMapping, entity: Entity, header: readonly string[], opts: CompileOptions): CompiledMapping {
  const problems: string[] = [];
  const at = (p: (string | number)[]): string => formatLocation(m.yaml.locate(p));
  // Names are matched exactly as the source gives them (readers trim header cells), so a name
  // the header holds more than once cannot say which column it means.
  const headerIndex = new Map<string, number>();
  const repeated = new Map<string, number[]>();
  header.forEach((h, i) => {
    const first = headerIndex.get(h);
    if (first === undefined) headerIndex.set(h, i);
    else repeated.set(h, [...(repeated.get(h) ?? [first]), i]);
  });
  // A header read as one column usually means the file's delimiter is another: say which was used.
  const oneColumn =
    header.length === 1 && opts.delimiter !== undefined
      ? `; the header was read as one column with the delimiter ${JSON.stringify(opts.delimiter)}${m.spec.source.delimiter === undefined || m.spec.source.delimiter === 'auto' ? ' (sniffed)' : ''}: set delimiter: in the mapping's source to the file's`
      : '';
  const columnIndex = (name: string, p: (string | number)[]): number => {
    const i = headerIndex.get(name);
    const all = repeated.get(name);
    if (all !== undefined) {
      problems.push(
        `${at(p)} column '${name}' appears ${all.length} times in the header of ${m.sourceLabel} (${positionsText(all, m.spec.source.format)}), so forklift cannot tell which one to read; ${
          m.spec.source.format === 'sql' ? 'give them different names with AS in the query' : 'rename them in the source so that each name is unique'
        }, then refer to the one you mean`,
      );
      return -1;
    }
    if (i !== undefined) return i;
    const ci = header.findIndex((h) => h.toLowerCase() === name.toLowerCase());
    const near = ci >= 0 ? header[ci] : nearest(name, header);
    problems.push(
      `${at(p)} column '${name}' is not in the header of ${m.sourceLabel}${near ? `; the nearest is '${near}'` : ''} (columns: ${header.slice(0, 12).join(', ')}${header.length > 12 ? ', …' : ''})${oneColumn}`,
    );
    return -1;
  };
  const parseExpr = (text: string, p: (string | number)[]): ExprNode | undefined => {
    const loc = m.yaml.locate(p);
    const line = loc.line ?? 1;
    let column = loc.column ?? 1;
    const lineText = m.yaml.text.split('\n')[line - 1] ?? '';
    if (lineText[column - 1] === '"' || lineText[column - 1] === "'") column += 1;
    try {
      const node = parseExpression(text, { file: m.display, line, column });
      let ok = true;
      for (const c of columnsOf(node)) if (columnIndex(c, p) < 0) ok = false;
      return ok ? node : undefined;
    } catch (e) {
      if (e instanceof ConfigError) {
        problems.push(e.message);
        return undefined;
      }
      throw e;
    }
  };

  const indexOf = (n: string): number => headerIndex.get(n) ?? -1;
  const inputs: HashedFile[] = [];
  const known = entity.columns.map((c) => c.name);
  const fields: FieldPlan[] = [];
  for (const [name, spec] of Object.entries(m.spec.fields)) {
    const col = entity.columns.find((c) => c.name === name);
    if (!col) {
      problems.push(`${at(['fields', name])} fields.${name}: ${entity.name} has no column '${name}'${didYouMean(name, known)}`);
      continue;
    }
    const plan = compileField(name, spec, ['fields', name]);
    if (plan) fields.push(plan);
  }

  function compileField(name: string, spec: FieldSpec, p: (string | number)[]): FieldPlan | undefined {
    const col = entity.columns.find((c) => c.name === name)!;
    const sources = [spec.from !== undefined, spec.const !== undefined, spec.expr !== undefined].filter(Boolean).length;
    if (sources > 1) problems.push(`${at(p)} fields.${name}: use only one of from, const and expr`);
    if (sources === 0 && spec.default === undefined) problems.push(`${at(p)} fields.${name}: give from, const, expr or default`);
    let read: FieldPlan['read'] = () => null;
    let uses: number[] = [];
    if (spec.from !== undefined) {
      const names = Array.isArray(spec.from) ? spec.from : [spec.from];
      const idx = names.map((n, k) => columnIndex(n, Array.isArray(spec.from) ? [...p, 'from', k] : [...p, 'from']));
      uses = idx;
      if (idx.length === 1) {
        const i = idx[0]!;
        read = (cells) => cells[i] ?? null;
      } else {
        const sep = spec.join ?? ' ';
        read = (cells) => {
          const parts: string[] = [];
          for (const i of idx) {
            const v = cells[i];
            if (v !== null && v !== undefined && v !== '') parts.push(v);
          }
          return parts.length ? parts.join(sep) : null;
        };
      }
    } else if (spec.const !== undefined) {
      const v = scalarText(spec.const);
      read = () => v;
    } else if (spec.expr !== undefined) {
      const node = parseExpr(spec.expr, [...p, 'expr']);
      if (node) {
        const fn: CompiledExpr = compileExpression(node, indexOf);
        read = (cells) => exprText(fn(cells));
        uses = columnsOf(node).map(indexOf);
      }
    }
    if (spec.timezone !== undefined && !checkZone(spec.timezone)) {
      problems.push(`${at([...p, 'timezone'])} fields.${name}.timezone: unknown time zone '${spec.timezone}' (use an IANA name such as Europe/Berlin, or UTC)`);
    }
    for (const key of ['date', 'timestamp'] as const) {
      const why = spec[key] === undefined ? undefined : formatProblem(spec[key]);
      if (why) problems.push(`${at([...p, key])} fields.${name}.${key}: the format '${spec[key]}' cannot be read: ${why}`);
    }
    if ((spec.date !== undefined && col.type !== 'date') || (spec.timestamp !== undefined && col.type !== 'timestamp')) {
      problems.push(`${at(p)} fields.${name}: ${spec.date !== undefined ? 'date' : 'timestamp'} is set but ${entity.name}.${name} is a ${col.type} column`);
    }
    let lookup: FieldPlan['lookup'];
    const map = spec.values !== undefined ? valueMap(spec.values, [...p, 'values']) : spec.values_file !== undefined ? loadValuesFile(spec.values_file, [...p, 'values_file']) : undefined;
    if (map) {
      const unknown = spec.unknown ?? 'reject';
      const shown = [...map.keys()].slice(0, 8).join(', ') + (map.size > 8 ? ', …' : '');
      const addTo = spec.values !== undefined ? '`values:`' : `the values_file ${spec.values_file}`;
      lookup = (s) => {
        // Keys are NFC (nfcKeys): a source's decomposed 'Café' finds the key typed composed.
        let hit = map.get(s);
        if (hit === undefined && mayNeedNfc(s)) hit = map.get(nfc(s));
        if (hit !== undefined) return { ok: true, value: hit };
        if (unknown === 'keep') return { ok: true, value: s };
        if (unknown === 'null') return { ok: true, value: null };
        return { ok: false, reason: `'${s}' is not in the value map of ${name} (${shown}); add it to ${addTo} or set \`unknown: keep\`` };
      };
    }
    const coerceOpts: Parameters<typeof makeCoercer>[1] = {};
    if (spec.decimal !== undefined) coerceOpts.decimal = spec.decimal;
    if (spec.date !== undefined) coerceOpts.date = spec.date;
    if (spec.timestamp !== undefined) coerceOpts.timestamp = spec.timestamp;
    if (spec.timezone !== undefined) coerceOpts.timezone = spec.timezone;
    if (spec.ambiguous !== undefined) coerceOpts.ambiguous = spec.ambiguous;
    if (opts.excelDates !== undefined) coerceOpts.excelDates = opts.excelDates;
    const clean = makeCleaner(spec.clean);
    const coerce = makeCoercer(col, coerceOpts);
    // Values written in the mapping itself (a value map's targets, const, default) are known now:
    // one the column cannot take would reject every row that reaches it, so it is a mistake in
    // the mapping, said by mapping check before any row is read.
    const column = `${entity.name}.${name} (${col.type})`;
    const refusal = (text: string | null, viaMap: boolean): string | null => {
      if (text === null || text === '') return null;
      if (viaMap && lookup) {
        const r = lookup(text);
        if (!r.ok) return r.reason;
        if (r.value === null || r.value === '') return null;
        text = r.value;
      }
      const c = coerce(text);
      // The coercer's advice to map with `values:` is for source text: here the mapping is the mistake.
      return c.ok ? null : `'${text}', which ${column} cannot take: it ${c.reason.replace(/; map it with `values:`$/, '')}`;
    };
    if (map) {
      for (const [from, to] of map) {
        const why = refusal(to, false);
        if (why) problems.push(`${at([...p, spec.values !== undefined ? 'values' : 'values_file'])} fields.${name}: the value map sends '${from}' to ${why}; map it to a value the column takes`);
      }
    }
    if (spec.const !== undefined) {
      const v = scalarText(spec.const);
      const why = refusal(v === null ? null : clean ? clean(v) : v, true);
      if (why) problems.push(`${at([...p, 'const'])} fields.${name}.const: ${why}; no row could load, give a value the column takes`);
    }
    if (spec.default !== undefined) {
      const why = refusal(scalarText(spec.default), true);
      if (why) problems.push(`${at([...p, 'default'])} fields.${name}.default: ${why}; every row that falls back to it would be rejected, give a value the column takes`);
    }
    return {
      name,
      read,
      uses,
      clean,
      fallback: scalarText(spec.default),
      lookup,
      coerce,
      required: col.required,
      keepsEmpty: col.type === 'string' || col.type === 'text',
      constEmpty: spec.const === '',
    };
  }

  function valueMap(values: Record<string, string | number | boolean | null>, p: (string | number)[]): Map<string, string | null> | undefined {
    return nfcKeys(
      Object.entries(values).map(([k, v]) => ({ from: k, to: scalarText(v), where: `'${k}'` })),
      (clashes) => `${at(p)} fields.${p[1]}.values: keys written in two Unicode forms of one text (composed and decomposed) map to different values: ${clashes}; keep one of them`,
    );
  }

  /**
   * A value map keyed by its keys in NFC, the form source text is compared in. Two keys that are
   * one text in NFC ('Café' typed composed and pasted decomposed) with different values would leave
   * the choice to the order of the lines: a problem.
   */
  function nfcKeys(entries: readonly { from: string; to: string | null; where: string }[], problem: (clashes: string) => string): Map<string, string | null> | undefined {
    const map = new Map<string, string | null>();
    const where = new Map<string, string>();
    const clashes: string[] = [];
    for (const e of entries) {
      const key = nfc(e.from);
      if (!map.has(key)) {
        map.set(key, e.to);
        where.set(key, e.where);
      } else if (map.get(key) !== e.to) clashes.push(`${where.get(key)} and ${e.where}`);
    }
    if (clashes.length === 0) return map;
    problems.push(problem(clashes.slice(0, 5).join('; ') + (clashes.length > 5 ? `; ${clashes.length - 5} more` : '')));
    return undefined;
  }

  function loadValuesFile(rel: string, p: (string | number)[]): Map<string, string | null> | undefined {
    const file = path.resolve(m.dir, rel);
    let rows: string[][];
    try {
      const bytes = readFileSync(file);
      inputs.push({ file, sha256: sha256Text(bytes) });
      // Read as a source with `encoding: auto` is (a BOM, UTF-16, UTF-8, else the single-byte
      // encoding detection finds): a list saved by Excel on Windows is Windows-1252, and read as
      // UTF-8 its 'Müller' would map to 'M\uFFFDller'.
      rows = parseCsv(decodeSample(bytes, detectEncoding(bytes, true, rel)), { relax_column_count: true }) as string[][];
    } catch (e) {
      problems.push(`${at(p)} values_file ${rel}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message}`);
      return undefined;
    }
    // Lines counted here, blank ones included: csv-parse's own count is off for CRLF inside quotes.
    let next = 1;
    const lines = rows.map((r) => {
      const line = next;
      next += 1 + breaksIn(r);
      return { line, r };
    });
    const [head, ...body] = lines.filter(({ r }) => !(r.length === 1 && r[0] === ''));
    if (!head || head.r[0]?.trim() !== 'from' || head.r[1]?.trim() !== 'to') {
      problems.push(`${at(p)} values_file ${rel}: the first line must be the header from,to`);
      return undefined;
    }
    const map = new Map<string, string | null>();
    const firstLine = new Map<string, number>();
    const clashes: string[] = [];
    for (const { line, r } of body) {
      const from = r[0] ?? '';
      const to = r[1] === undefined || r[1] === '' ? null : r[1];
      const seen = firstLine.get(from);
      if (seen === undefined) {
        map.set(from, to);
        firstLine.set(from, line);
      } else if (map.get(from) !== to) {
        // The same pair twice means one thing and is harmless (a list pasted together); two
        // targets for one key would leave the choice to the order of the lines.
        const shown = (v: string | null): string => (v === null ? 'nothing (empty)' : `'${v}'`);
        clashes.push(`'${from}' on line ${seen} (to ${shown(map.get(from)!)}) and line ${line} (to ${shown(to)})`);
      }
    }
    if (clashes.length > 0) {
      const listed = clashes.length > 5 ? [...clashes.slice(0, 5), `${clashes.length - 5} more`] : clashes;
      problems.push(`${at(p)} values_file ${rel}: a key maps to two values: ${listed.join('; ')}; keep one line for each key`);
      return undefined;
    }
    return nfcKeys(
      [...map].map(([from, to]) => ({ from, to, where: `'${from}' on line ${firstLine.get(from)}` })),
      (clashes) => `${at(p)} values_file ${rel}: keys written in two Unicode forms of one text (composed and decomposed) map to different values: ${clashes}; keep one line for each key`,
    );
  }

  const mapped = new Set(fields.map((f) => f.name));
  for (const c of entity.columns) {
    if (c.required && !mapped.has(c.name)) {
      problems.push(`${at(['fields'])} fields: the required column ${entity.name}.${c.name} is not mapped; add a field for it`);
    }
  }
  const filterNode = m.spec.filter !== undefined ? parseExpr(m.spec.filter, ['filter']) : undefined;
  const filter = filterNode ? compileCondition(filterNode, indexOf) : undefined;
  const filterUses = filterNode ? columnsOf(filterNode).map(indexOf) : [];

  if (problems.length > 0) {
    throw new ConfigError(problems[0]!, {
      code: 'mapping.invalid',
      location: { file: m.display },
      hint: `Fix the mapping ${m.display}${problems.length > 1 ? ` (${problems.length} problems, all listed)` : ''}.`,
      details: problems.slice(1),
    });
  }

  const order = entity.columns.map((c) => fields.find((f) => f.name === c.name));
  const rowRules = makeRowRules(entity, { allowNegative: m.spec.allow_negative === true });
  const width = header.length;
  const pkIdx = entity.primaryKey.map((k) => entity.columns.findIndex((c) => c.name === k));
  const checkShape = opts.checkShape;

  /** The fault of a cell among `uses`, as the problem of `field`; undefined when those cells are fine. */
  const faultIn = (faults: readonly CellFault[], uses: readonly number[], field: string): RowProblem | undefined => {
    const f = faults.find((x) => uses.includes(x.index));
    return f === undefined ? undefined : { field, rule: f.rule, reason: `column ${header[f.index] ?? f.index + 1} (${f.ref}) ${f.reason}` };
  };

  return {
    entity,
    inputs,
    map(cells, faults) {
      const faulty = faults !== undefined && faults.length > 0 ? faults : undefined;
      if (checkShape && cells.length !== width) {
        const extraEmpty = cells.length > width && cells.slice(width).every((c) => c === null || c === '');
        if (!extraEmpty) {
          return { kind: 'rejected', problem: { field: '', rule: 'shape', reason: `has ${cells.length} cells but the header has ${width}; a delimiter or quote is probably wrong in this line` } };
        }
      }
      if (filter) {
        const fault = faulty && faultIn(faulty, filterUses, '');
        if (fault) return { kind: 'rejected', problem: fault };
        let keep: boolean;
        try {
          keep = filter(cells);
        } catch (e) {
          if (e instanceof ExprRuntimeError) return { kind: 'rejected', problem: { field: '', rule: 'filter', reason: `the filter could not be evaluated: ${e.message}` } };
          throw e;
        }
        if (!keep) return { kind: 'filtered' };
      }
      const values: StoredValue[] = new Array<StoredValue>(order.length).fill(null);
      const errors: RowProblem[] = [];
      for (let i = 0; i < order.length; i++) {
        const f = order[i];
        if (!f) {
          if (entity.columns[i]!.required) errors.push({ field: entity.columns[i]!.name, rule: 'required', reason: 'is required but not mapped' });
          continue;
        }
        const fault = faulty && faultIn(faulty, f.uses, f.name);
        if (fault) {
          // Two fields reading one bad cell: the cell is named once.
          if (!errors.some((e) => e.reason === fault.reason)) errors.push(fault);
          continue;
        }
        let text: string | null;
        try {
          text = f.read(cells);
        } catch (e) {
          if (e instanceof ExprRuntimeError) {
            errors.push({ field: f.name, rule: 'expr', reason: `${f.name}: ${e.message}` });
            continue;
          }
          throw e;
        }
        if (text !== null && !f.constEmpty) text = f.clean ? f.clean(text) : text === '' ? null : text;
        if (text === null) text = f.fallback;
        if (text !== null && f.lookup) {
          const r = f.lookup(text);
          if (!r.ok) {
            errors.push({ field: f.name, rule: 'value-map', reason: r.reason });
            continue;
          }
          text = r.value;
        }
        if (text === null || text === '') {
          // '' only arrives from a default, const or value map that says so: an explicit empty
          // string (a lot of '' where none), which text columns keep.
          if (text === '' && f.keepsEmpty) values[i] = '';
          else if (f.required) errors.push({ field: f.name, rule: 'required', reason: `${f.name} is missing` });
          continue;
        }
        const c = f.coerce(text);
        if (c.ok) values[i] = c.value;
        // the value shortened: the rejects file keeps the whole cell, a reason need only name it
        else errors.push({ field: f.name, rule: c.rule, reason: `${f.name} ${showValue(text)} ${c.reason}` });
      }
      if (errors.length === 0) {
        for (const rule of rowRules) {
          const p = rule(values);
          if (p) errors.push(p);
        }
      }
      if (errors.length > 0) {
        const first = errors[0]!;
        const rejected: MapResult = { kind: 'rejected', problem: { field: first.field, rule: first.rule, reason: errors.map((e) => e.reason).join('; ') }, values };
        if (pkIdx.every((k) => values[k] !== null)) rejected.key = keyText(pkIdx.map((k) => values[k]!));
        return rejected;
      }
      return { kind: 'ok', values };
    },
  };
}
