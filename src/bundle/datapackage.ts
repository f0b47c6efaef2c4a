import type { Column, ColumnType, Entity } from '../model/types.js';
import { modelTypeText } from './model-type.js';

/**
 * data/datapackage.json: a Frictionless Tabular Data Package describing every CSV, so any
 * Frictionless reader (and a person) knows the types, keys and references. Frictionless has no
 * exact decimal or length-bounded string, so each field also carries `forklift:type` (for example
 * `decimal(18,4)`, `string(64)`): bundle verify and import read the exact model type from it.
 * Nothing in it depends on when or from which store the bundle was made: it is payload, and the
 * same data must give the same bytes.
 */

export interface TableFiles {
  entity: Entity;
  rows: number;
  csv: { path: string; sha256: string; bytes: number };
}

const FRICTIONLESS: Record<ColumnType, string> = {
  string: 'string',
  text: 'string',
  enum: 'string',
  integer: 'integer',
  decimal: 'number',
  boolean: 'boolean',
  date: 'date',
  timestamp: 'datetime',
};

function field(c: Column, pk: boolean): Record<string, unknown> {
  const f: Record<string, unknown> = { name: c.name, type: FRICTIONLESS[c.type], 'forklift:type': modelTypeText(c) };
  if (c.description) f.description = c.description;
  if (c.type === 'boolean') Object.assign(f, { trueValues: ['true'], falseValues: ['false'] });
  const constraints: Record<string, unknown> = {};
  if (c.required || pk) constraints.required = true;
  if (c.unique) constraints.unique = true;
  if (c.type === 'enum' && c.values) constraints.enum = c.values;
  if (c.type === 'string' && c.length !== undefined) constraints.maxLength = c.length;
  if (c.min !== undefined && !c.exclusiveMin) constraints.minimum = c.min;
  if (c.max !== undefined) constraints.maximum = c.max;
  if (c.pattern !== undefined) constraints.pattern = c.pattern;
  if (Object.keys(constraints).length) f.constraints = constraints;
  if (c.min !== undefined && c.exclusiveMin) f['forklift:exclusiveMinimum'] = c.min;
  return f;
}

/** No name, date or source in it: the folder name is the bundle's, and these bytes are the data's. */
export function dataPackage(tables: readonly TableFiles[]): Record<string, unknown> {
  return {
    profile: 'tabular-data-package',
    resources: tables.map(({ entity: e, rows, csv }) => ({
      name: e.name,
      path: csv.path,
      profile: 'tabular-data-resource',
      ...(e.description ? { description: e.description } : {}),
      format: 'csv',
      mediatype: 'text/csv',
      encoding: 'utf-8',
      bytes: csv.bytes,
      hash: `sha256:${csv.sha256}`,
      'forklift:rows': rows,
      dialect: { delimiter: ',', lineTerminator: '\r\n', quoteChar: '"', doubleQuote: true, header: true },
      schema: {
        fields: e.columns.map((c) => field(c, e.primaryKey.includes(c.name))),
        // An empty field is a missing value; an empty string is written "" (quoted).
        missingValues: [''],
        ...(e.primaryKey.length ? { primaryKey: e.primaryKey } : {}),
        ...foreignKeys(e),
      },
    })),
  };
}

function foreignKeys(e: Entity): { foreignKeys?: unknown[] } {
  const fks = e.columns
    .filter((c) => c.references)
    .map((c) => ({ fields: [c.name], reference: { resource: c.references!.entity === e.name ? '' : c.references!.entity, fields: [c.references!.column] } }));
  return fks.length ? { foreignKeys: fks } : {};
}
