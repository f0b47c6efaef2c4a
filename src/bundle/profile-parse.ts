import { array, optional, record, safeParse, strictObject, string, type ZodMiniType } from '../vendor/zod-mini.js';
import { ConfigError } from '../core/errors.js';
import type { Profile, ProfileSpec } from './profile.js';

// Apart from profile.ts, so that an export without --profile does not load zod/mini.
const entityRules = strictObject({
  drop: optional(array(string())),
  mask: optional(array(string())),
  hash: optional(array(string())),
});
const profileSchema: ZodMiniType<ProfileSpec> = record(string(), entityRules);

/** Profile `name` of a plan's `profiles:` section, checked. */
export function parseProfile(name: string, profiles: unknown, planDisplay: string): Profile {
  const all = (profiles ?? {}) as Record<string, unknown>;
  if (!Object.hasOwn(all, name)) {
    const known = Object.keys(all);
    throw new ConfigError(`${planDisplay}: there is no profile '${name}'${known.length ? ` (profiles: ${known.join(', ')})` : ' (the plan has no profiles: section)'}`, {
      code: 'profile.unknown',
      hint: 'Add it under profiles: in the plan, e.g. profiles: { auditor: { items: { drop: [standard_cost] } } }.',
    });
  }
  const parsed = safeParse(profileSchema, all[name]);
  if (!parsed.success) {
    throw new ConfigError(`${planDisplay}: profiles.${name}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, {
      code: 'profile.invalid',
      hint: 'Each entity of a profile takes drop, mask and hash, each a list of column names.',
    });
  }
  const spec = parsed.data;
  const summary = Object.entries(spec)
    .map(([e, r]) => `${e} ${(['drop', 'mask', 'hash'] as const).filter((k) => r[k]?.length).map((k) => `${k} ${r[k]!.join(' ')}`).join(', ')}`)
    .join('; ');
  return { name, spec, summary: `${name}: ${summary}` };
}

