import type { z } from '../vendor/zod.js';
import { ConfigError, formatLocation } from '../core/errors.js';
import { didYouMean } from '../util/suggest.js';
import type { YamlFile, YamlPath } from './yaml.js';

/**
 * Validates a YAML file against its schema and reports every problem at once, each with its
 * position: `mappings/items.yaml:12:5 fields.uom.vales: unknown key, did you mean 'values'?`.
 */
export function checkFile<S extends z.ZodType>(yaml: YamlFile, schema: S, what: string): z.output<S> {
  refuseProtoKeys(yaml, yaml.value, [], what);
  // reportInput: without it every issue lacks its input, and a value of the wrong type would read as a missing key.
  const result = schema.safeParse(yaml.value, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => describeIssue(yaml, issue, schema));
  const first = result.error.issues[0]!;
  throw new ConfigError(`${problems[0]}`, {
    code: 'config.schema',
    // Where the first problem's message points: an unknown key is at the key, not at its parent.
    location: first.code === 'unrecognized_keys' && first.keys[0] !== undefined ? yaml.locateKey([...(first.path as YamlPath), first.keys[0]]) : yaml.locate(first.path as YamlPath),
    hint: `Fix the ${what} file as described${problems.length > 1 ? ` (${problems.length} problems)` : ''}.`,
    details: problems.slice(1),
  });
}

/**
 * A key `__proto__` anywhere in the file: the schema reader drops it (it would otherwise set an
 * object's prototype), so a value map written with it would silently lose that entry. Said instead.
 */
function refuseProtoKeys(yaml: YamlFile, value: unknown, path: YamlPath, what: string): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) return value.forEach((v, i) => refuseProtoKeys(yaml, v, [...path, i], what));
  for (const key of Object.keys(value)) {
    if (key === '__proto__') {
      const advice = path.at(-1) === 'values' ? 'put this value map in a values_file (a CSV of from,to), which takes any text as a key' : 'rename it';
      throw new ConfigError(`${formatLocation(yaml.locateKey([...path, key]))} ${[...path, key].join('.')}: the key '__proto__' cannot be read (JavaScript reserves it); ${advice}`, {
        code: 'config.schema',
        location: yaml.locateKey([...path, key]),
        hint: `Fix the ${what} file as described.`,
      });
    }
    refuseProtoKeys(yaml, (value as Record<string, unknown>)[key], [...path, key], what);
  }
}

function describeIssue(yaml: YamlFile, issue: z.core.$ZodIssue, schema: z.ZodType): string {
  const path = issue.path as YamlPath;
  const dotted = path.length ? path.join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(schema, path);
    return issue.keys
      .map((k) => `${formatLocation(yaml.locateKey([...path, k]))} ${[...path, k].join('.')}: unknown key '${k}'${didYouMean(k, known)}`)
      .join('\n');
  }
  const where = formatLocation(yaml.locate(path));
  if (issue.code === 'invalid_type' && issue.input === undefined) return `${where} ${dotted}: required key is missing`;
  if (issue.code === 'invalid_type' && issue.expected === 'number') {
    const written = yaml.writtenAt(path);
    if (written && typeof written.value === 'number') return `${where} ${dotted}: ${numberAdvice(written.text, written.value)}`;
    if (typeof issue.input === 'string' && /^\d+$/.test(issue.input)) return `${where} ${dotted}: '${issue.input}' is quoted, so it is text; write it without quotes`;
  }
  if (issue.code === 'invalid_value' && 'values' in issue) {
    return `${where} ${dotted}: must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return `${where} ${dotted}: ${issue.message}`;
}

/**
 * A setting that takes a number got one YAML reads in a way that does not print back as written
 * (see yaml.ts): say what forklift takes instead of reading `0x1F` as 31 behind the user's back.
 */
function numberAdvice(text: string, value: number): string {
  if (Number.isSafeInteger(value)) return `'${text}' is not a number in plain decimal digits; write ${value} if that is what you mean`;
  if (Number.isInteger(value)) return `'${text}' is too large for this setting`;
  return `'${text}' is not a whole number`;
}

/** The keys an object schema accepts at a path, walking through records, arrays and unions. */
function knownKeys(schema: z.ZodType, path: YamlPath): string[] {
  let s: unknown = schema;
  for (const seg of path) s = child(s, seg);
  return keysOf(s);
}

type Def = { type?: string; shape?: Record<string, unknown>; valueType?: unknown; element?: unknown; options?: unknown[]; innerType?: unknown; in?: unknown };
const defOf = (s: unknown): Def => ((s as { _zod?: { def?: Def } })?._zod?.def ?? {}) as Def;

function unwrap(s: unknown): unknown {
  let d = defOf(s);
  while (d.type === 'optional' || d.type === 'default' || d.type === 'pipe' || d.type === 'nullable') {
    s = d.innerType ?? d.in;
    d = defOf(s);
  }
  return s;
}

function child(s: unknown, seg: string | number): unknown {
  const d = defOf(unwrap(s));
  if (d.type === 'object') return d.shape?.[String(seg)];
  if (d.type === 'record') return d.valueType;
  if (d.type === 'array') return d.element;
  if (d.type === 'union') return d.options?.find((o) => keysOf(o).length > 0 || defOf(unwrap(o)).type === 'array');
  return undefined;
}

function keysOf(s: unknown): string[] {
  const d = defOf(unwrap(s));
  if (d.type === 'object') return Object.keys(d.shape ?? {});
  if (d.type === 'union') return (d.options ?? []).flatMap(keysOf);
  return [];
}
