/**
 * Writes a proposal as a commented mapping file: what was detected about the source, and for
 * every field what was guessed, how sure, and what a person should check (TODO). The file is
 * valid against the mapping schema; a field a person must add is written as a comment.
 */
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { makeFolder } from '../util/folders.js';
import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import { schemaHeader } from '../plan/editor-schema.js';
import type { FieldProposal, MappingProposal } from './guess.js';
import { escapeControl } from '../util/unicode.js';
import { escapeEnv } from '../plan/env.js';

/** The `# yaml-language-server: $schema=…` first line, so editors complete and check the file. */
export function schemaLine(kind: 'plan' | 'mapping', fileDir: string): string | undefined {
  return schemaHeader(kind, fileDir);
}

const RESERVED = /^(y|yes|n|no|true|false|on|off|null|~)$/i;

/** A YAML scalar that reads back as exactly this value (flow context safe). */
export function yamlScalar(v: string | number | boolean | null): string {
  if (v === null) return 'null';
  if (typeof v !== 'string') return String(v);
  if (/^[A-Za-z_][\w\-./]*$/.test(v) && !RESERVED.test(v) && !v.includes('${')) return v;
  return JSON.stringify(v);
}

/** A value read from the legacy files (a name, a path, a code), written to mean itself: never expanded as `${VAR}`. */
const dataScalar = (v: string | number | boolean | null): string => yamlScalar(typeof v === 'string' ? escapeEnv(v) : v);
const dataString = (v: string): string => JSON.stringify(escapeEnv(v));

// A comment ends at a line break, and a YAML file holds printable characters only: a column
// named with a line break in a quoted header cell, written as it is into a comment, made the
// mapping file init writes unreadable.
const commentText = (s: string): string => escapeControl(s, { keepTab: true });

function flowList(items: readonly (string | number | boolean)[]): string {
  return `[${items.map((i) => dataScalar(i)).join(', ')}]`;
}

function flowMap(entries: readonly [string, string][]): string {
  return `{ ${entries.map(([k, v]) => `${k}: ${v}`).join(', ')} }`;
}

/** The keys of a field as YAML text, in the order people read them. */
function fieldEntries(f: FieldProposal): [string, string][] {
  const e: [string, string][] = [];
  if (f.from !== undefined) e.push(['from', f.from.length === 1 ? dataScalar(f.from[0] as string) : flowList(f.from)]);
  if (f.join !== undefined) e.push(['join', dataString(f.join)]);
  if (f.expr !== undefined) e.push(['expr', `'${escapeEnv(f.expr).replace(/'/g, "''")}'`]);
  if (f.const !== undefined) e.push(['const', typeof f.const === 'string' ? dataString(f.const) : String(f.const)]);
  if (f.clean !== undefined && f.clean.length > 0) e.push(['clean', `[${f.clean.map((c) => (typeof c === 'string' ? c : `{ null_if: ${flowList(c.null_if)} }`)).join(', ')}]`]);
  if (f.default !== undefined) e.push(['default', dataString(f.default)]);
  if (f.values !== undefined) {
    e.push(['values', flowMap(Object.entries(f.values).map(([k, v]) => [dataScalar(k), dataScalar(v)]))]);
    e.push(['unknown', 'reject']);
  }
  if (f.decimal !== undefined) e.push(['decimal', JSON.stringify(f.decimal)]);
  if (f.date !== undefined) e.push(['date', yamlScalar(f.date)]);
  if (f.timestamp !== undefined) e.push(['timestamp', JSON.stringify(f.timestamp)]);
  if (f.timezone !== undefined) e.push(['timezone', yamlScalar(f.timezone)]);
  return e;
}

function pct(score: number): string {
  return `${Math.round(score * 100)}%`;
}

export function isWritten(f: FieldProposal): boolean {
  return f.from !== undefined || f.expr !== undefined || f.const !== undefined;
}

/** The mapping file's text, with `mappingFile` the absolute path it will have (source paths are relative to it). */
export function renderMappingYaml(p: MappingProposal, mappingFile: string, opts: { tool?: string } = {}): string {
  const dir = path.dirname(mappingFile);
  const L = p.layout;
  const out: string[] = [];
  const schema = schemaLine('mapping', dir);
  if (schema !== undefined) out.push(schema);
  const rel = path.relative(dir, L.path).split(path.sep).join('/');
  const written = p.fields.filter(isWritten);
  const counts = (c: string): number => written.filter((f) => f.confidence === c).length;
  out.push(`# Guessed by \`${opts.tool ?? 'forklift mapping init'}\` from ${commentText(path.basename(L.path))} (${L.rows.length} sampled rows).`);
  out.push(`# ${written.length} of ${p.fields.length} fields mapped: ${counts('high')} sure, ${counts('medium')} likely, ${counts('low')} unsure. Check every TODO,`);
  out.push('# then `forklift preview` this file.');
  out.push(`entity: ${p.entity}`);
  out.push('source:');
  out.push(`  format: ${L.format}`);
  out.push(`  path: ${dataScalar(rel)}`);
  if (L.format === 'csv') {
    out.push(`  encoding: ${yamlScalar(L.encoding ?? 'auto')}          # ${L.encodingGiven === true ? `given to ${(opts.tool ?? 'forklift mapping init').replace(/^forklift /, '')}` : 'detected'}`);
    out.push(`  delimiter: ${JSON.stringify(L.delimiter ?? 'auto')}          # detected`);
  }
  if (L.sheet !== undefined) out.push(`  sheet: ${dataScalar(L.sheet)}`);
  if (L.format !== 'jsonl') {
    const above = L.preamble.length === 0 ? '' : `  # above it: ${L.preamble.map((t) => `'${commentText(t.replace(/\s+/g, ' ').slice(0, 40))}'`).join(', ')}`;
    out.push(`  header_row: ${L.headerRow}${above}`);
  }
  if (p.filter !== undefined) out.push(`filter: '${p.filter.expr.replace(/'/g, "''")}'   # ${commentText(p.filter.why)}: counted as filtered`);
  out.push('fields:');
  for (const f of p.fields) {
    if (!isWritten(f)) continue;
    out.push(`  # ${f.field}: ${f.confidence} (${pct(f.score)}): ${commentText(f.why.join('; '))}`);
    for (const t of f.todo) out.push(`  # TODO: ${commentText(t)}`);
    const entries = fieldEntries(f);
    const line = `  ${f.field}: ${flowMap(entries)}`;
    if (line.length <= 120) out.push(line);
    else {
      out.push(`  ${f.field}:`);
      for (const [k, v] of entries) out.push(`    ${k}: ${v}`);
    }
  }
  const missingRequired = p.fields.filter((f) => !isWritten(f) && f.required);
  for (const f of missingRequired) {
    out.push(`  # TODO: ${commentText(f.todo[0] ?? `no source column found for the required ${f.field}`)}`);
    out.push(`  # ${f.field}: { from: COLUMN }`);
  }
  const missing = p.fields.filter((f) => !isWritten(f) && !f.required).map((f) => f.field);
  if (missing.length > 0) out.push(`  # not mapped (no source column found; not required): ${missing.join(', ')}`);
  if (p.unused.length > 0) out.push(`  # source columns not read: ${commentText(p.unused.join(', '))}`);
  out.push('on_duplicate: reject            # rows with the same key: exact duplicates dropped, conflicting ones all rejected');
  return out.join('\n') + '\n';
}

/** Writes a file atomically; refuses to replace an existing one unless `force`. */
export function writeNewFile(file: string, text: string, force: boolean): void {
  if (!force && existsSync(file)) {
    throw new ConfigError(`${file} already exists`, { code: 'init.exists', location: { file }, hint: 'Use --force to overwrite it, or --out to write elsewhere.' });
  }
  makeFolder(path.dirname(file), path.relative(process.cwd(), file) || file, 'init.write');
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
