import path from 'node:path';
import { ConfigError, formatLocation } from '../core/errors.js';
import { loadModel } from '../model/load.js';
import { loadModeOf, watermarkOf } from './watermark.js';
import type { Entity, Model } from '../model/types.js';
import type { SourceSpec } from '../sources/types.js';
import { redactUrl } from '../stores/url.js';
import { sha256Text } from '../util/hash.js';
import { didYouMean } from '../util/suggest.js';
import { checkFile } from './check-file.js';
import { checkRetention, type RetentionRule } from '../retention/rules.js';
import { mappingSchema, planSchema, type MappingFile, type PlanFile } from './schema.js';
import { readYamlFile, type YamlFile } from './yaml.js';
import { DEFAULT_TARGET, displayPath, resolveTarget } from './paths.js';


export interface LoadedMapping {
  file: string;
  /** The path as shown to a user (relative to the working directory). */
  display: string;
  dir: string;
  yaml: YamlFile;
  spec: MappingFile;
  sha256: string;
  /** The source file's path, resolved against the mapping file's folder. */
  sourcePath: string | undefined;
  sourceLabel: string;
  /** Set by a rejects reload: read this (the run's rejects file) instead of the mapping's source. */
  reread?: SourceSpec;
}

/** The source part of a mapping, as the readers take it (paths already resolved). */
export function sourceSpecOf(m: LoadedMapping): SourceSpec {
  if (m.reread) return m.reread;
  const s = m.spec.source;
  const spec: SourceSpec = { format: s.format };
  if (m.sourcePath !== undefined) spec.path = m.sourcePath;
  if (s.encoding !== undefined) spec.encoding = s.encoding;
  if (s.allow_valid_utf8 !== undefined) spec.allow_valid_utf8 = s.allow_valid_utf8;
  if (s.delimiter !== undefined) spec.delimiter = s.delimiter;
  if (s.header_row !== undefined) spec.header_row = s.header_row;
  if (s.sheet !== undefined) spec.sheet = s.sheet;
  if (s.url !== undefined) spec.url = s.url;
  if (s.query !== undefined) spec.query = s.query;
  return spec;
}

/**
 * The columns a mapping provides: its fields (from, const, expr or default alike), in the
 * entity's column order. An upsert updates only these (EntityLoad.provided).
 */
export function providedColumns(m: LoadedMapping, entity: Entity): string[] {
  return entity.columns.map((c) => c.name).filter((n) => Object.hasOwn(m.spec.fields, n));
}

export type RejectLimit = { kind: 'percent'; value: number } | { kind: 'count'; value: number };

export interface LoadedPlan {
  file: string;
  display: string;
  dir: string;
  yaml: YamlFile;
  spec: PlanFile;
  sha256: string;
  model: Model;
  mappings: LoadedMapping[];
  /** The target URL after ${VAR} expansion; sqlite paths resolved against the plan's folder. */
  target: string;
  rejectLimit: RejectLimit;
  /** The retention rules (SPEC section 11), checked against the model. */
  retention: RetentionRule[];
}

/**
 * A file a run read, as its ledger entry keys it (SPEC section 9): relative to the plan's folder,
 * with `/`, so that the same plan run from any working directory, or on another machine, records
 * the same keys and two entries differ only where the files do.
 */
export function planRelativePath(plan: Pick<LoadedPlan, 'dir'>, file: string): string {
  return path.relative(plan.dir, file).split(path.sep).join('/') || '.';
}

export function loadMappingFile(file: string): LoadedMapping {
  const display = displayPath(file);
  const yaml = readYamlFile(file, display);
  // `fields:` with nothing but comments under it (what mapping init writes when it guessed no
  // field) is YAML's null: no field yet. The check then names each required column not mapped,
  // instead of "expected record, received null".
  const top = yaml.value as Record<string, unknown> | null;
  if (top !== null && typeof top === 'object' && !Array.isArray(top) && 'fields' in top && top.fields === null) top.fields = {};
  const spec = checkFile(yaml, mappingSchema, 'mapping');
  keepWrittenData(yaml, spec);
  const dir = path.dirname(file);
  const sourcePath = spec.source.path === undefined ? undefined : path.resolve(dir, spec.source.path);
  // A legacy SQLite database named by a relative path sits beside the mapping, like a file source.
  if (spec.source.format === 'sql' && spec.source.url !== undefined) spec.source.url = resolveTarget(spec.source.url, dir);
  if (spec.source.format !== 'sql' && sourcePath === undefined) {
    throw new ConfigError(`${formatLocation(yaml.locate(['source']))} source.path: a ${spec.source.format} source needs a path`, {
      code: 'mapping.source',
      location: yaml.locate(['source']),
      hint: 'Add `path:` relative to the mapping file.',
    });
  }
  return {
    file,
    display,
    dir,
    yaml,
    spec,
    sha256: sha256Text(yaml.text),
    sourcePath,
    sourceLabel: sourcePath ? displayPath(sourcePath) + (spec.source.sheet ? `[${spec.source.sheet}]` : '') : `${redactUrl(spec.source.url ?? 'sql')}: ${(spec.source.query ?? '').slice(0, 40)}`,
  };
}

/**
 * Where a mapping value is data (a const, a default, a value map's targets, null_if), the text as
 * written is what the user meant: YAML reads `TRUE` as the boolean true, which would reach a
 * string column as 'true' and make null_if: [FALSE] miss the cell FALSE. Numbers already arrive
 * as written (yaml.ts); value-map keys are their text as written.
 */
function keepWrittenData(yaml: YamlFile, spec: MappingFile): void {
  for (const [name, f] of Object.entries(spec.fields)) {
    const written = <T>(v: T, ...p: (string | number)[]): T | string => yaml.writtenAt(['fields', name, ...p])?.text ?? v;
    if (f.const !== undefined) f.const = written(f.const, 'const');
    if (f.default !== undefined) f.default = written(f.default, 'default');
    const values = f.values;
    if (values !== undefined) for (const k of Object.keys(values)) values[k] = written(values[k]!, 'values', k);
    f.clean?.forEach((step, i) => {
      if (typeof step === 'object') step.null_if = step.null_if.map((v, j) => written(v, 'clean', i, 'null_if', j));
    });
  }
}

export function parseRejectLimit(v: string | number | undefined, where: string): RejectLimit {
  if (v === undefined) return { kind: 'percent', value: 0 };
  const s = String(v).trim();
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(s);
  // The problems of a plan are listed without their own hints (loadPlan collects them), so each message says what to write.
  if (pct && Number(pct[1]) > 100) {
    const count = /^\d+$/.test(pct[1]!) ? `; for a number of rows, leave out the %: reject_limit: ${pct[1]}` : '';
    throw new ConfigError(`${where} reject_limit: ${s} is more than 100%; a percentage of an entity's rows is at most 100% (every row may be rejected)${count}`, {
      code: 'plan.reject-limit',
      hint: 'Write reject_limit: 1% or reject_limit: 50.',
    });
  }
  if (pct) return { kind: 'percent', value: Number(pct[1]) };
  if (/^\d+$/.test(s)) return { kind: 'count', value: Number(s) };
  if (/^-\s*\d+(?:\.\d+)?\s*%?$/.test(s)) {
    throw new ConfigError(`${where} reject_limit: ${s} is negative; write 0 (or 0%) to allow no rejects, or a count (50) or percentage (1%) to allow some`, {
      code: 'plan.reject-limit',
      hint: 'Write reject_limit: 1% or reject_limit: 50.',
    });
  }
  throw new ConfigError(`${where} reject_limit: '${s}' is neither a percentage (1%) nor a count (50)`, {
    code: 'plan.reject-limit',
    hint: 'Write reject_limit: 1% or reject_limit: 50.',
  });
}

/**
 * The model a plan names, without reading its mappings: `mapping init` and `preview` work on one
 * mapping while the plan lists others not written yet, or not finished.
 */
export function loadPlanModel(planFile: string): Model {
  const file = path.resolve(planFile);
  const spec = checkFile(readYamlFile(file, displayPath(file)), planSchema, 'plan');
  return loadModel(spec.model, path.dirname(file), displayPath);
}

/** Reads and checks the plan, the model and every mapping file (not the sources yet). */
export function loadPlan(planFile: string, opts: { target?: string | undefined } = {}): LoadedPlan {
  const file = path.resolve(planFile);
  const display = displayPath(file);
  const yaml = readYamlFile(file, display);
  const spec = checkFile(yaml, planSchema, 'plan');
  const dir = path.dirname(file);
  const model = loadModel(spec.model, dir, displayPath);
  const problems: string[] = [];
  const mappings: LoadedMapping[] = [];
  spec.mappings.forEach((rel, i) => {
    try {
      const m = loadMappingFile(path.resolve(dir, rel));
      if (!model.entities.has(m.spec.entity)) {
        problems.push(
          `${formatLocation(m.yaml.locate(['entity']))} entity: '${m.spec.entity}' is not an entity of the model ${model.name}${didYouMean(m.spec.entity, model.entities.keys())} (entities: ${[...model.entities.keys()].join(', ')})`,
        );
      }
      mappings.push(m);
    } catch (e) {
      // A mapping that is not YAML at all: its own message, place and hint say what to change.
      if (e instanceof ConfigError && e.code === 'config.yaml') throw e;
      if (e instanceof ConfigError) {
        if (e.code === 'config.file-missing') problems.push(`${formatLocation(yaml.locate(['mappings', i]))} mappings[${i}]: ${e.message}`);
        else problems.push(e.message, ...e.details);
      } else throw e;
    }
  });
  const seen = new Map<string, string>();
  for (const m of mappings) {
    const prev = seen.get(m.spec.entity);
    if (prev) problems.push(`${m.display}: entity ${m.spec.entity} is already loaded by ${prev}; one mapping per entity and run`);
    seen.set(m.spec.entity, m.display);
  }
  for (const m of mappings) {
    const e = model.entities.get(m.spec.entity);
    if (e) problems.push(...watermarkOf(m, e, loadModeOf(m, spec.load)).problems);
  }
  for (const [i, c] of (spec.checks ?? []).entries()) {
    const e = model.entities.get(c.entity);
    if (!e) problems.push(`${formatLocation(yaml.locate(['checks', i, 'entity']))} checks: unknown entity '${c.entity}'${didYouMean(c.entity, model.entities.keys())}`);
    for (const [col, expected] of Object.entries(c.sum ?? {})) {
      const cc = e?.columns.find((x) => x.name === col);
      if (e && (!cc || (cc.type !== 'decimal' && cc.type !== 'integer'))) {
        problems.push(`${formatLocation(yaml.locate(['checks', i, 'sum', col]))} checks: ${c.entity}.${col} is not a numeric column`);
      }
      // The legacy system's total, compared exactly: written as plain digits (1250000.00), as a report prints it.
      if (!/^[+-]?\d+(\.\d+)?$/.test(expected)) {
        problems.push(`${formatLocation(yaml.locate(['checks', i, 'sum', col]))} checks: the sum of ${c.entity}.${col} '${expected.length > 40 ? `${expected.slice(0, 40)}…` : expected}' is not a number in plain digits; write it as the legacy report shows it, such as "1250000.00"`);
      }
    }
  }
  const retention = checkRetention(spec.retention, model, yaml);
  problems.push(...retention.problems);
  let rejectLimit: RejectLimit = { kind: 'percent', value: 0 };
  try {
    rejectLimit = parseRejectLimit(spec.reject_limit, formatLocation(yaml.locate(['reject_limit'])));
  } catch (e) {
    if (e instanceof ConfigError) problems.push(e.message);
    else throw e;
  }
  if (problems.length) {
    throw new ConfigError(problems[0]!, {
      code: 'plan.invalid',
      // The first problem's own place (a mapping file's line), as its message gives it.
      location: leadingLocation(problems[0]!) ?? { file: display },
      hint: `Fix the plan and mapping files${problems.length > 1 ? ` (${problems.length} problems, all listed)` : ''}.`,
      details: problems.slice(1),
    });
  }
  const target = resolveTarget(opts.target ?? spec.target ?? DEFAULT_TARGET, opts.target ? process.cwd() : dir);
  return { file, display, dir, yaml, spec, sha256: sha256Text(yaml.text), model, mappings, target, rejectLimit, retention: retention.rules };
}

/** The `file:line:column` a problem's message starts with, as a location. */
function leadingLocation(message: string): { file: string; line: number; column: number } | undefined {
  const m = /^(\S+?):(\d+):(\d+) /.exec(message);
  return m ? { file: m[1]!, line: Number(m[2]), column: Number(m[3]) } : undefined;
}
