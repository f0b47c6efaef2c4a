import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, ExitCode, ForkliftError } from '../core/errors.js';
import { compileMapping, compileOptionsOf } from '../mapping/compile.js';
import { factoryModel } from '../model/factory.js';
import type { Model } from '../model/types.js';
import { openSource } from '../sources/index.js';
import { loadMappingFile, loadPlan, loadPlanModel, sourceSpecOf, type LoadedMapping } from './load.js';
import { readYamlFile } from './yaml.js';

export interface CheckSummary {
  plan: string | null;
  mappings: { mapping: string; entity: string; source: string; columns: number; fields: number }[];
}

/** Is this YAML file a mapping (it has `entity:`) rather than a plan? */
export function isMappingFile(file: string): boolean {
  const y = readYamlFile(file);
  return typeof y.value === 'object' && y.value !== null && 'entity' in y.value;
}

/** The model of the plan beside or above a mapping file, else the built-in factory model. */
export function modelForMapping(mappingFile: string, planFile?: string): Model {
  if (planFile) return loadPlanModel(planFile);
  let dir = path.dirname(path.resolve(mappingFile));
  for (let i = 0; i < 4; i++) {
    const candidate = path.join(dir, 'forklift.yaml');
    if (existsSync(candidate)) return loadPlanModel(candidate);
    dir = path.dirname(dir);
  }
  return factoryModel();
}

/**
 * `mapping check`: the plan and every mapping file against the schema, the model and each
 * source's real header (only the header is read). Every problem in every file is reported at once.
 */
export async function checkMappings(planOrMapping: string): Promise<CheckSummary> {
  const file = path.resolve(planOrMapping);
  let model: Model;
  let mappings: LoadedMapping[];
  let plan: string | null = null;
  if (existsSync(file) && isMappingFile(file)) {
    model = modelForMapping(file);
    mappings = [loadMappingFile(file)];
  } else {
    const p = loadPlan(file);
    model = p.model;
    mappings = p.mappings;
    plan = p.display;
  }
  const problems: string[] = [];
  const out: CheckSummary['mappings'] = [];
  for (const m of mappings) {
    const entity = model.entities.get(m.spec.entity);
    if (!entity) {
      problems.push(`${m.display}: entity '${m.spec.entity}' is not in the model`);
      continue;
    }
    try {
      const source = await openSource(sourceSpecOf(m));
      try {
        compileMapping(m, entity, source.header, compileOptionsOf(source));
        out.push({ mapping: m.display, entity: entity.name, source: source.label, columns: source.header.length, fields: Object.keys(m.spec.fields).length });
      } finally {
        await source.close();
      }
    } catch (e) {
      // A legacy server that cannot be reached is not a mistake in the mapping: exit 1 with the
      // store's own hint, naming the mapping whose source it is.
      if (e instanceof ForkliftError && e.exitCode === ExitCode.runtime) {
        throw new ForkliftError(`${m.display}: ${e.message}`, { code: e.code, exitCode: e.exitCode, ...(e.hint ? { hint: e.hint } : {}), details: e.details, cause: e });
      }
      if (e instanceof ForkliftError) problems.push(e.message, ...e.details);
      else throw e;
    }
  }
  if (problems.length) {
    throw new ConfigError(problems[0]!, {
      code: 'mapping.check',
      hint: `Fix the mapping files${problems.length > 1 ? ` (${problems.length} problems, all listed)` : ''}, then run forklift mapping check again.`,
      details: problems.slice(1),
    });
  }
  return { plan, mappings: out };
}
