import path from 'node:path';
import { ConfigError, formatLocation } from '../core/errors.js';
import { checkFile } from '../plan/check-file.js';
import { modelFileSchema } from '../plan/schema.js';
import { readYamlFile } from '../plan/yaml.js';
import { sha256Text } from '../util/hash.js';
import { didYouMean } from '../util/suggest.js';
import { factoryModel } from './factory.js';
import type { Column, Entity, Model } from './types.js';

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
      if (c.values !== undefined) col.values = c.values;
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
      if (c.type === 'decimal' && c.precision === undefined) col.precision = 18;
      if (c.type === 'decimal' && c.scale === undefined) col.scale = 6;
      if (c.type === 'string' && c.length === undefined) col.length = 255;
      entity.columns.push(col);
    }
    if (!existing) {
      if (entity.primaryKey.length === 0) problems.push(`${formatLocation(yaml.locate(['entities', name]))} ${name}: give a primary_key`);
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
      if (!target || !target.columns.some((x) => x.name === c.references!.column)) {
        problems.push(`${yaml.file}: ${e.name}.${c.name} references ${c.references.entity}.${c.references.column}, which does not exist${didYouMean(c.references.entity, model.entities.keys())}`);
      }
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
