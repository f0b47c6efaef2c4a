import path from 'node:path';
import { ConfigError, formatLocation } from '../core/errors.js';
import { checkFile } from '../plan/check-file.js';
import type { z } from '../vendor/zod.js';
import { modelColumnSchema, modelFileSchema } from '../plan/schema.js';
import { readYamlFile } from '../plan/yaml.js';
import { sha256Text } from '../util/hash.js';
import { didYouMean } from '../util/suggest.js';
import { factoryModel } from './factory.js';
import { compareDecimal, Decimal } from '../mapping/decimal.js';
import type { Column, Entity, Model } from './types.js';

type ModelColumnSpec = z.infer<typeof modelColumnSchema>;

/** `factory`, or a model file that extends it or starts from nothing (SPEC section 3). */
export function loadModel(ref: string | undefined, baseDir: string, display: (f: string) => string): Model {
  if (ref === undefined || ref === 'factory') return factoryModel();
  const file = path.resolve(baseDir, ref);
  const yaml = readYamlFile(file, display(file));
  const spec = checkFile(yaml, modelFileSchema, 'model');
  const model: Model =
    spec.extends === undefined ? { name: path.basename(file), entities: new Map() } : spec.extends === 'factory' ? factoryModel() : fail(`extends: only 'factory' can be extended`);
  model.name = path.basename(file);
  model.file = { file, sha256: sha256Text(yaml.text) };
  const problems: string[] = [];
  for (const [name, e] of Object.entries(spec.entities)) {
    const existing = model.entities.get(name);
    const entity: Entity = existing ?? { name, columns: [], primaryKey: e.primary_key ?? [], rules: [] };
    if (e.description !== undefined) entity.description = e.description;
    if (existing && e.primary_key) problems.push(`${formatLocation(yaml.locate(['entities', name, 'primary_key']))} the primary key of the built-in ${name} cannot change`);
    for (const [cname, c] of Object.entries(e.columns)) {
      if (entity.columns.some((x) => x.name === cname)) {
        problems.push(`${formatLocation(yaml.locate(['entities', name, 'columns', cname]))} ${name}.${cname} already exists`);
        continue;
      }
      const col: Column = { name: cname, type: c.type, required: c.required ?? false };
      if (c.length !== undefined) col.length = c.length;
      if (c.precision !== undefined) col.precision = c.precision;
      if (c.scale !== undefined) col.scale = c.scale;
      // Stored text is NFC (SPEC section 3): an enum value typed or pasted decomposed (u + U+0308) must match it.
      if (c.values !== undefined) col.values = c.values.map((v) => v.normalize('NFC'));
      if (c.unique !== undefined) col.unique = c.unique;
      if (c.min !== undefined) col.min = c.min;
      if (c.max !== undefined) col.max = c.max;
      if (c.pattern !== undefined) col.pattern = c.pattern;
      if (c.description !== undefined) col.description = c.description;
      if (c.references !== undefined) {
        const [re, rc] = c.references.split('.') as [string, string];
        col.references = { entity: re, column: rc };
      }
      if (c.type === 'enum' && !c.values?.length) problems.push(`${formatLocation(yaml.locate(['entities', name, 'columns', cname]))} an enum needs values`);
      problems.push(...columnProblems(c, `${name}.${cname}`, (key) => formatLocation(yaml.locate(['entities', name, 'columns', cname, ...(key ? [key] : [])]))));
      if (c.type === 'decimal' && c.precision === undefined) col.precision = 18;
      if (c.type === 'decimal' && c.scale === undefined) col.scale = 6;
      if (c.type === 'string' && c.length === undefined) col.length = 255;
      entity.columns.push(col);
    }
    if (!existing) {
      if (entity.primaryKey.length === 0) problems.push(`${formatLocation(yaml.locate(['entities', name]))} ${name}: give a primary_key`);
      const twice = entity.primaryKey.filter((k, i) => entity.primaryKey.indexOf(k) !== i);
      if (twice.length) problems.push(`${formatLocation(yaml.locate(['entities', name, 'primary_key']))} ${name}: the primary key names ${[...new Set(twice)].join(', ')} more than once; name each column once`);
      for (const k of entity.primaryKey) {
        const c = entity.columns.find((x) => x.name === k);
        if (!c) problems.push(`${formatLocation(yaml.locate(['entities', name, 'primary_key']))} primary key column '${k}' is not a column of ${name}`);
        else c.required = true;
      }
    }
    model.entities.set(name, entity);
  }
  for (const e of model.entities.values()) {
    for (const c of e.columns) {
      if (!c.references) continue;
      const target = model.entities.get(c.references.entity);
      const referenced = target?.columns.find((x) => x.name === c.references!.column);
      const at = formatLocation(yaml.locate(['entities', e.name, 'columns', c.name, 'references']));
      if (!target || !referenced) {
        problems.push(`${yaml.file}: ${e.name}.${c.name} references ${c.references.entity}.${c.references.column}, which does not exist${didYouMean(c.references.entity, model.entities.keys())}`);
        continue;
      }
      const ref = `${target.name}.${referenced.name}`;
      // Every store's FOREIGN KEY needs a referenced column whose values are unique on their own.
      const isKey = (target.primaryKey.length === 1 && target.primaryKey[0] === referenced.name) || referenced.unique === true;
      if (!isKey) {
        problems.push(
          `${at} ${e.name}.${c.name} references ${ref}, which is not unique on its own (${target.primaryKey.length > 1 && target.primaryKey.includes(referenced.name) ? `it is one column of the key ${target.primaryKey.join('+')}` : 'neither the primary key nor unique'}), so no store can hold that foreign key: reference a column that is the whole primary key or has unique: true`,
        );
      }
      const mismatch = referenceTypeMismatch(c, referenced);
      if (mismatch) problems.push(`${at} ${e.name}.${c.name} is ${describeType(c)} but references ${ref}, which is ${describeType(referenced)}; ${mismatch}`);
    }
  }
  if (problems.length) {
    throw new ConfigError(problems[0]!, { code: 'model.invalid', location: { file: yaml.file }, hint: 'Fix the model file.', details: problems.slice(1) });
  }
  return model;

  function fail(msg: string): never {
    throw new ConfigError(`${formatLocation(yaml.locate(['extends']))} ${msg}`, { code: 'model.invalid', location: yaml.locate(['extends']), hint: 'Use extends: factory or leave it out.' });
  }
}

const NUMERIC = new Set<Column['type']>(['integer', 'decimal']);
/** A bound the exact comparison of coerce.ts can read (plain digits, or an exponent as YAML keeps `1e3`). */
const isNumber = (v: string): boolean => {
  try {
    return new Decimal(v).isFinite();
  } catch {
    return false;
  }
};

/** What a column's own settings get wrong, each as a message after `where(key)`, the file:line of that setting. */
function columnProblems(c: ModelColumnSpec, name: string, where: (key?: string) => string): string[] {
  const out: string[] = [];
  if (c.type === 'decimal' && c.precision !== undefined && c.scale !== undefined && c.scale > c.precision) {
    out.push(`${where('scale')} ${name}: a scale of ${c.scale} is more than the precision of ${c.precision} (digits in all, those after the point included); give precision at least ${c.scale}`);
  }
  for (const key of ['min', 'max'] as const) {
    const v = c[key];
    if (v === undefined) continue;
    if (!NUMERIC.has(c.type)) out.push(`${where(key)} ${name}: ${key} applies to integer and decimal columns, and this one is ${c.type}; remove ${key} (or check the values with pattern)`);
    else if (!isNumber(v)) out.push(`${where(key)} ${name}: ${key} '${v}' is not a number; write it in plain digits, such as 0 or 12.5`);
  }
  if (c.min !== undefined && c.max !== undefined && NUMERIC.has(c.type) && isNumber(c.min) && isNumber(c.max) && compareDecimal(c.min, c.max) > 0) {
    out.push(`${where('max')} ${name}: max ${c.max} is less than min ${c.min}, so no value could pass; swap them`);
  }
  if (c.pattern !== undefined) {
    try {
      new RegExp(c.pattern, 'u');
    } catch (e) {
      out.push(`${where('pattern')} ${name}: pattern '${c.pattern}' is not a valid regular expression (${(e as Error).message.replace(/^Invalid regular expression: /, '')}); correct it`);
    }
  }
  return out;
}

const TEXT_KEY_TYPES = new Set<Column['type']>(['string', 'enum']);

/** Why a column cannot reference another of this type in every store (a FOREIGN KEY needs the same type), or undefined. */
function referenceTypeMismatch(c: Column, referenced: Column): string | undefined {
  const same = c.type === referenced.type || (TEXT_KEY_TYPES.has(c.type) && TEXT_KEY_TYPES.has(referenced.type));
  if (!same) return `give it the type of the column it references`;
  if (c.type === 'decimal' && (c.precision !== referenced.precision || c.scale !== referenced.scale)) return `give it the same precision and scale`;
  return undefined;
}

function describeType(c: Column): string {
  if (c.type === 'decimal') return `decimal(${c.precision ?? 18},${c.scale ?? 6})`;
  if (c.type === 'string') return `string(${c.length ?? 255})`;
  return c.type;
}
