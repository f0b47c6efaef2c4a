import { readFileSync } from 'node:fs';
import { array, boolean, int, looseObject, minLength, minimum, number, optional, safeParse, string, union, type Infer, type ZodMiniType } from '../vendor/zod-mini.js';
import type { Column, ColumnType, Entity } from '../model/types.js';
import { tableFiles, unsafeTableName } from './layout.js';
import { parseModelType } from './model-type.js';

// Reading a bundle's datapackage.json (verify, import, diff), apart from writing one (export),
// which then loads no zod.

const list = (): ZodMiniType<string | string[]> => union([array(string()), string()]);
const name = (): ZodMiniType<string> => string().check(minLength(1));

const fieldSchema = looseObject({
  name: name(),
  type: string(),
  'forklift:type': optional(string()),
  description: optional(string()),
  constraints: optional(
    looseObject({
      required: optional(boolean()),
      unique: optional(boolean()),
      enum: optional(array(string())),
      maxLength: optional(number()),
      minimum: optional(union([string(), number()])),
      maximum: optional(union([string(), number()])),
      pattern: optional(string()),
    }),
  ),
  'forklift:exclusiveMinimum': optional(string()),
});

const resourceSchema = looseObject({
  name: name(),
  path: name(),
  description: optional(string()),
  bytes: optional(int()),
  hash: optional(string()),
  'forklift:rows': optional(int().check(minimum(0))),
  schema: looseObject({
    fields: array(fieldSchema).check(minLength(1)),
    primaryKey: optional(list()),
    foreignKeys: optional(array(looseObject({ fields: list(), reference: looseObject({ resource: string(), fields: list() }) }))),
  }),
});

export const dataPackageSchema = looseObject({ name: optional(string()), resources: array(resourceSchema).check(minLength(1)) });
export type DataPackageResource = Infer<typeof resourceSchema>;

/** datapackage.json read and checked against its schema, each resource as an entity with its problems. */
export type DataPackageRead =
  | { ok: true; resources: DataPackageResource[]; entities: { entity: Entity; problems: string[] }[] }
  | { ok: false; kind: 'read' | 'json' | 'schema'; problem: string; cause?: unknown };

/** The one reader of a bundle's datapackage.json, for verify, import and diff (each words its own refusal). */
export function readDataPackage(file: string): DataPackageRead {
  const why = (e: unknown): string => (e instanceof Error ? e.message : String(e));
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { ok: false, kind: 'read', problem: `cannot be read (${why(e)})`, cause: e };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, kind: 'json', problem: `not valid JSON (${why(e)})`, cause: e };
  }
  const parsed = safeParse(dataPackageSchema, json);
  if (!parsed.success) return { ok: false, kind: 'schema', problem: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') };
  return { ok: true, resources: parsed.data.resources, entities: parsed.data.resources.map(entityOf) };
}

const FROM_FRICTIONLESS: Record<string, ColumnType> = { string: 'string', integer: 'integer', number: 'decimal', boolean: 'boolean', date: 'date', datetime: 'timestamp' };

/**
 * A resource whose `path` is not its table's CSV (tableFiles): a reader of the Data Package would
 * read another file than forklift checks and loads, so such a bundle does not verify.
 */
export function resourcePathProblem(r: Pick<DataPackageResource, 'name' | 'path'>): string | null {
  // A name that is a path would have verify and import read files outside data/csv.
  const unsafe = unsafeTableName(r.name);
  if (unsafe !== undefined) return `${JSON.stringify(r.name)}: no table of a forklift bundle has this name: ${unsafe}`;
  const want = tableFiles(r.name).csv.slice('data/'.length);
  return r.path === want ? null : `${r.name}: path is '${r.path}'; a forklift bundle keeps the table's CSV at ${want}`;
}

/** A resource back to the entity it describes; problems (unknown types, composite references, fields that are not there, another path) as text. */
export function entityOf(r: DataPackageResource): { entity: Entity; problems: string[] } {
  const problems: string[] = [];
  const pathProblem = resourcePathProblem(r);
  if (pathProblem) problems.push(pathProblem);
  const names = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
  const fieldNames = new Set(r.schema.fields.map((f) => f.name));
  const seen = new Set<string>();
  for (const f of r.schema.fields) {
    if (seen.has(f.name)) problems.push(`${r.name}: the field '${f.name}' is named twice`);
    seen.add(f.name);
  }
  // A key or reference naming a field the table lacks is reported and left out, so the checks that follow never look for it.
  const known = (what: string, names: string[]): boolean => {
    const missing = names.filter((n) => !fieldNames.has(n));
    for (const n of missing) problems.push(`${r.name}: ${what} names '${n}', which is not a field`);
    return missing.length === 0;
  };
  const refs = new Map<string, { entity: string; column: string }>();
  for (const fk of r.schema.foreignKeys ?? []) {
    const fields = names(fk.fields);
    const to = names(fk.reference.fields);
    if (fields.length !== 1 || to.length !== 1) {
      problems.push(`${r.name}: composite foreign key (${fields.join(', ')}) is not supported`);
      continue;
    }
    if (!known('a foreignKey', fields)) continue;
    refs.set(fields[0]!, { entity: fk.reference.resource === '' ? r.name : fk.reference.resource, column: to[0]! });
  }
  const pk = names(r.schema.primaryKey);
  if (!known('primaryKey', pk)) pk.splice(0, pk.length, ...pk.filter((k) => fieldNames.has(k)));
  const columns = r.schema.fields.map((f): Column => {
    const exact = f['forklift:type'] !== undefined ? parseModelType(f['forklift:type']) : null;
    if (f['forklift:type'] !== undefined && !exact) problems.push(`${r.name}.${f.name}: unknown forklift:type '${f['forklift:type']}'`);
    let type = exact?.type ?? FROM_FRICTIONLESS[f.type];
    if (!type) {
      problems.push(`${r.name}.${f.name}: unsupported field type '${f.type}'`);
      type = 'text';
    }
    const k = f.constraints ?? {};
    if (type === 'string' && k.enum) type = 'enum';
    const c: Column = { name: f.name, type, required: Boolean(k.required) || pk.includes(f.name) };
    if (exact?.precision !== undefined) c.precision = exact.precision;
    if (exact?.scale !== undefined) c.scale = exact.scale;
    const length = exact?.length ?? k.maxLength;
    if (length !== undefined && (type === 'string' || type === 'enum')) c.length = length;
    if (k.enum) c.values = k.enum;
    if (k.unique) c.unique = true;
    if (k.minimum !== undefined) c.min = String(k.minimum);
    if (f['forklift:exclusiveMinimum'] !== undefined) {
      c.min = f['forklift:exclusiveMinimum'];
      c.exclusiveMin = true;
    }
    if (k.maximum !== undefined) c.max = String(k.maximum);
    if (k.pattern !== undefined) c.pattern = k.pattern;
    if (f.description !== undefined) c.description = f.description;
    const ref = refs.get(f.name);
    if (ref) c.references = ref;
    return c;
  });
  // An enum read back keeps the string type it was declared with (enum has no length).
  for (const c of columns) if (c.type === 'enum') delete c.length;
  return { entity: { name: r.name, ...(r.description ? { description: r.description } : {}), columns, primaryKey: pk, rules: [] }, problems };
}
