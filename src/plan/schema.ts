import { z } from 'zod';

/**
 * The one definition of the plan and mapping file formats: the loader validates with it and the
 * editor schema is generated from it, so the two cannot drift apart.
 */

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const decimalText = z.union([z.string(), z.number()]).transform((v) => String(v));

export const LOAD_MODES = ['replace', 'append', 'upsert', 'incremental'] as const;
export const CLEAN_STEPS = ['trim', 'upper', 'lower', 'squash_spaces', 'strip_leading_zeros', 'nfc'] as const;

const cleanStep = z.union([
  z.enum(CLEAN_STEPS),
  z.strictObject({ null_if: z.array(scalar.transform((v) => (v === null ? '' : String(v)))) }),
]);

export const fieldSchema = z
  .strictObject({
    from: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    join: z.string().optional(),
    const: scalar.optional(),
    default: scalar.optional(),
    clean: z.array(cleanStep).optional(),
    values: z.record(z.string(), scalar).optional(),
    values_file: z.string().optional(),
    unknown: z.enum(['reject', 'keep', 'null']).optional(),
    decimal: z.enum(['.', ',']).optional(),
    date: z.string().min(1).optional(),
    timestamp: z.string().min(1).optional(),
    timezone: z.string().min(1).optional(),
    expr: z.string().min(1).optional(),
    description: z.string().optional(),
  })
  .describe('How one column of the entity is filled from the source');

export const sourceSchema = z.strictObject({
  format: z.enum(['csv', 'xlsx', 'jsonl', 'sql']),
  path: z.string().min(1).optional(),
  encoding: z.string().optional(),
  delimiter: z.string().optional(),
  header_row: z.number().int().min(1).optional(),
  sheet: z.string().optional(),
  url: z.string().optional(),
  query: z.string().optional(),
});

export const mappingSchema = z.strictObject({
  version: z.literal(1).optional(),
  entity: z.string().min(1),
  description: z.string().optional(),
  source: sourceSchema,
  filter: z.string().min(1).optional(),
  fields: z.record(z.string(), fieldSchema),
  on_duplicate: z.enum(['reject', 'first', 'last']).optional(),
  load: z.enum(LOAD_MODES).optional(),
  allow_negative: z.boolean().optional(),
  watermark: z.string().optional(),
});

export const checkSchema = z.strictObject({
  entity: z.string().min(1),
  rows: z.number().int().min(0).optional(),
  sum: z.record(z.string(), decimalText).optional(),
});

export const planSchema = z.strictObject({
  version: z.literal(1).optional(),
  name: z.string().min(1),
  target: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  mappings: z.array(z.string().min(1)).min(1),
  reject_limit: z.union([z.string(), z.number()]).optional(),
  load: z.enum(LOAD_MODES).optional(),
  checks: z.array(checkSchema).optional(),
  // Sections of later features (profiles, retention): accepted here and checked by their own modules.
  profiles: z.record(z.string(), z.unknown()).optional(),
  retention: z.array(z.unknown()).optional(),
});

export const modelColumnSchema = z.strictObject({
  type: z.enum(['string', 'text', 'integer', 'decimal', 'boolean', 'date', 'timestamp', 'enum']),
  length: z.number().int().min(1).optional(),
  precision: z.number().int().min(1).max(38).optional(),
  scale: z.number().int().min(0).max(38).optional(),
  values: z.array(z.string()).optional(),
  required: z.boolean().optional(),
  unique: z.boolean().optional(),
  min: decimalText.optional(),
  max: decimalText.optional(),
  pattern: z.string().optional(),
  references: z.string().regex(/^[A-Za-z_][\w]*\.[A-Za-z_][\w]*$/, 'entity.column').optional(),
  description: z.string().optional(),
});

export const modelFileSchema = z.strictObject({
  version: z.literal(1).optional(),
  extends: z.string().optional(),
  entities: z.record(
    z.string(),
    z.strictObject({
      description: z.string().optional(),
      primary_key: z.array(z.string()).min(1).optional(),
      columns: z.record(z.string(), modelColumnSchema),
    }),
  ),
});

export type PlanFile = z.infer<typeof planSchema>;
export type MappingFile = z.infer<typeof mappingSchema>;
export type FieldSpec = z.infer<typeof fieldSchema>;
export type ModelFile = z.infer<typeof modelFileSchema>;
