import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../core/errors.js';
import { DEFAULT_TARGET, displayPath, resolveTarget } from '../plan/paths.js';
import type { Profile } from './profile.js';

/** How hints name a store given with --source (a wrong password there is not the target's). */
export const SOURCE_URL = 'the source URL (--source)';
/** How hints name the store an export reads when no --source was given. */
const PLAN_TARGET_URL = 'the target URL of the plan';

/**
 * The store an export reads and the profile it applies. Only the plan file itself is read (its
 * target and profiles): at contract end the mapping files and legacy sources may be long gone.
 * With --source and no --profile the plan has nothing to give and is not read at all (nor are
 * the YAML parser and the plan's schema loaded). `urlName`: how hints name the store's URL, as
 * the user gave it (--source, or the plan's target).
 */
export async function exportSource(opts: { source?: string | undefined; plan: string; profile?: string | undefined }): Promise<{ source: string; profile: Profile | undefined; urlName: string }> {
  const urlName = opts.source !== undefined ? SOURCE_URL : PLAN_TARGET_URL;
  if (opts.source !== undefined && opts.profile === undefined) return { source: resolveTarget(opts.source, process.cwd()), profile: undefined, urlName };
  const planFile = path.resolve(opts.plan);
  const hasPlan = existsSync(planFile);
  if (opts.profile !== undefined && !hasPlan) {
    throw new ConfigError(`--profile ${opts.profile}: no plan at ${displayPath(planFile)} to read profiles from`, { code: 'profile.no-plan', hint: 'Give the plan with --plan FILE.' });
  }
  if (!hasPlan) return { source: resolveTarget(opts.source ?? DEFAULT_TARGET, process.cwd()), profile: undefined, urlName };
  const [{ readYamlFile }, { checkFile }, { planSchema }] = await Promise.all([import('../plan/yaml.js'), import('../plan/check-file.js'), import('../plan/schema.js')]);
  const yaml = readYamlFile(planFile, displayPath(planFile));
  const spec = checkFile(yaml, planSchema, 'plan');
  const source = opts.source !== undefined ? resolveTarget(opts.source, process.cwd()) : resolveTarget(spec.target ?? DEFAULT_TARGET, path.dirname(planFile));
  const profile = opts.profile !== undefined ? (await import('./profile-parse.js')).parseProfile(opts.profile, spec.profiles, displayPath(planFile)) : undefined;
  return { source, profile, urlName };
}
