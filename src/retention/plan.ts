import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import { loadModel } from '../model/load.js';
import type { Model } from '../model/types.js';
import { checkFile } from '../plan/check-file.js';
import { DEFAULT_TARGET, displayPath, resolveTarget } from '../plan/paths.js';
import { planSchema } from '../plan/schema.js';
import { readYamlFile } from '../plan/yaml.js';
import { sha256Text } from '../util/hash.js';
import { checkRetention, type RetentionRule } from './rules.js';

export interface PurgePlan {
  target: string;
  rules: RetentionRule[];
  /** The plan's SHA-256 for the ledger, null without a plan. */
  sha256: string | null;
  /** The plan's model (its references keep rows the store has no FOREIGN KEY for), absent without a plan. */
  model?: Model;
}

/**
 * The store a purge works on and its retention rules. Only the plan file and its model are read,
 * not the mapping files: at contract end the legacy sources may be long gone. Without a plan
 * (only with --all) the store is --target, else sqlite:./forklift.db.
 */
export function purgePlan(opts: { plan: string; target?: string | undefined; all: boolean }): PurgePlan {
  const file = path.resolve(opts.plan);
  if (!existsSync(file)) {
    if (!opts.all) {
      throw new ConfigError(`${displayPath(file)}: no plan to read the retention rules from`, { code: 'purge.no-plan', hint: 'Give the plan (forklift purge PLAN), or empty every table at contract end with --all.' });
    }
    return { target: resolveTarget(opts.target ?? DEFAULT_TARGET, process.cwd()), rules: [], sha256: null };
  }
  const yaml = readYamlFile(file, displayPath(file));
  const spec = checkFile(yaml, planSchema, 'plan');
  const model = loadModel(spec.model, path.dirname(file), displayPath);
  const { rules, problems } = checkRetention(spec.retention, model, yaml);
  if (problems.length && !opts.all) {
    throw new ConfigError(problems[0]!, { code: 'plan.retention', location: { file: yaml.file }, hint: `Fix the retention rules of the plan${problems.length > 1 ? ` (${problems.length} problems, all listed)` : ''}.`, details: problems.slice(1) });
  }
  const target = opts.target !== undefined ? resolveTarget(opts.target, process.cwd()) : resolveTarget(spec.target ?? DEFAULT_TARGET, path.dirname(file));
  return { target, rules: opts.all ? [] : rules, sha256: sha256Text(yaml.text), model };
}
