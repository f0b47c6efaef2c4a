import { z } from '../vendor/zod.js';
import { didYouMean } from '../util/suggest.js';

/**
 * The one definition of the plan and mapping file formats: the loader validates with it and the
 * editor schema is generated from it, so the two cannot drift apart.
 */

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const decimalText = z.union([z.string(), z.number()]).transform((v) => String(v));

export const LOAD_MODES = ['replace', 'append', 'upsert', 'incremental'] as const;
export const CLEAN_STEPS = ['trim', 'upper', 'lower', 'squash_spaces', 'strip_leading_zeros', 'nfc'] as const;

const cleanStep = z.union(
  [
    z.enum(CLEAN_STEPS).describe('trim, upper, lower, squash_spaces, strip_leading_zeros or nfc (Unicode NFC)'),
    z
      .strictObject({
        null_if: z.array(scalar.transform((v) => (v === null ? '' : String(v)))).describe('Values that mean "missing" in this source, such as "-" or "n/a"'),
      })
      .describe('Treat these values as missing'),
  ],
  // zod's own message for a union that fails every option is "Invalid input", which names neither the steps nor the near miss.
  { error: (issue) => cleanStepProblem(issue.input) },
);

const CLEAN_CHOICES = `${CLEAN_STEPS.map((s) => JSON.stringify(s)).join(', ')} or {null_if: [values]}`;

const choices = (suggestion: string): string => (suggestion ? `${suggestion} It must be one of ${CLEAN_CHOICES}` : `; must be one of ${CLEAN_CHOICES}`);

/** What is wrong with a `clean:` step that is neither a step's name nor a valid `{null_if: [...]}`. */
export function cleanStepProblem(input: unknown): string {
  if (typeof input === 'string') return `unknown cleaning step '${input}'${choices(didYouMean(input, CLEAN_STEPS))}`;
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
    const keys = Object.keys(input);
    if (keys.includes('null_if')) {
      const v = (input as { null_if: unknown }).null_if;
      const one = v === null || ['string', 'number', 'boolean'].includes(typeof v);
      return `null_if takes a list of values, such as {null_if: ["-", "n/a"]}${one ? `; write {null_if: [${JSON.stringify(v)}]} for the one value` : ''}`;
    }
    if (keys.length === 0) return `an empty {} is not a cleaning step; must be one of ${CLEAN_CHOICES}`;
    return `unknown cleaning step {${keys[0]}: …}${choices(didYouMean(keys[0]!, ['null_if', ...CLEAN_STEPS]))}`;
  }
  return `${JSON.stringify(input)} is not a cleaning step; must be one of ${CLEAN_CHOICES}`;
}

export const fieldSchema = z
  .strictObject({
    from: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .optional()
      .describe('The source column, or a list of columns joined with `join`'),
    join: z.string().optional().describe('The text between the columns of a `from` list'),
    const: scalar.optional().describe('The same value for every row'),
    default: scalar.optional().describe('The value when the source is empty'),
    clean: z.array(cleanStep).optional().describe('Cleaning steps in order; after cleaning an empty text is a missing value'),
    values: z.record(z.string(), scalar).optional().describe('A value map: source value → target value'),
    values_file: z.string().optional().describe('A CSV file of from,to pairs (relative to this file), instead of `values`'),
    // `unknown: null` as SPEC section 4 writes it is YAML's null; the quoted "null" means the same.
    unknown: z
      .preprocess((v) => (v === null ? 'null' : v), z.enum(['reject', 'keep', 'null']))
      .optional()
      .describe('A value not in the value map: reject the row (default), keep it, or make it missing (null)'),
    decimal: z.enum(['.', ',']).optional().describe('The decimal separator of the source; the other one is read as a thousands separator'),
    date: z.string().min(1).optional().describe('Date format in luxon tokens, such as dd.MM.yyyy, or excel for serial numbers'),
    timestamp: z.string().min(1).optional().describe('Timestamp format in luxon tokens, such as yyyyMMdd HHmmss, or excel'),
    timezone: z.string().min(1).optional().describe('The zone of local timestamps, such as Europe/Berlin; stored in UTC'),
    ambiguous: z.enum(['reject', 'earlier', 'later']).optional().describe('A local time that happened twice in the zone (the clocks went back): reject the row (default), or take its earlier or later instant'),
    expr: z.string().min(1).optional().describe("An expression over the source columns, such as 'LT_WEEKS * 7' (interpreted, never run as code)"),
    description: z.string().optional().describe('A note for people; not used by forklift'),
  })
  .describe('How one column of the entity is filled from the source');

export const sourceSchema = z
  .strictObject({
    format: z.enum(['csv', 'xlsx', 'jsonl', 'sql']).describe('The kind of source'),
    path: z.string().min(1).optional().describe('The source file, relative to this mapping file (csv, xlsx, jsonl)'),
    encoding: z
      .string()
      .optional()
      .describe('auto (byte-order mark, then detection), utf-8, windows-1252, utf-16le, ...; for sql, the encoding of the text of a PostgreSQL SQL_ASCII database or of a LATIN1 one that holds another (windows-1252), of MariaDB/MySQL columns declared latin1 or ascii, or of SQLite TEXT that is not UTF-8'),
    allow_valid_utf8: z
      .boolean()
      .optional()
      .describe('Read the file in the single-byte encoding named in encoding (windows-1252, latin1, ...) even though all of it is valid UTF-8; without it such a file is refused (csv, jsonl); for sql, read values that are valid UTF-8 in that encoding too instead of rejecting their rows'),
    delimiter: z.string().optional().describe('auto, ",", ";", "\\t" or "|" (csv)'),
    header_row: z.number().int().min(1).optional().describe('The row that holds the column names; rows above it are skipped'),
    sheet: z.string().optional().describe('The sheet by name (xlsx)'),
    url: z.string().optional().describe('The legacy database (sql), such as ${LEGACY_URL}'),
    query: z.string().optional().describe('The SELECT that reads the rows (sql), streamed through a cursor'),
  })
  .describe('Where the rows come from');

export const mappingSchema = z
  .strictObject({
    version: z.literal(1).optional().describe('The file format version'),
    entity: z.string().min(1).describe('The entity of the model this source fills, such as items'),
    description: z.string().optional().describe('A note for people; not used by forklift'),
    source: sourceSchema,
    filter: z.string().min(1).optional().describe('An expression; rows that fail it are counted as filtered, never silently lost'),
    fields: z.record(z.string(), fieldSchema).describe("The entity's columns, each filled from the source"),
    on_duplicate: z
      .enum(['reject', 'first', 'last'])
      .optional()
      .describe('Rows with the same primary key: reject all of them (default), or keep the first or last'),
    load: z.enum(LOAD_MODES).optional().describe("How this entity is loaded; overrides the plan's load"),
    allow_negative: z.boolean().optional().describe('Accept negative quantities'),
    watermark: z.string().optional().describe('For load: incremental, the column that orders rows; only rows newer than the target has are loaded'),
  })
  .meta({ title: 'forklift mapping file', description: 'Maps one source to one entity of the model (SPEC section 4)' });

export const checkSchema = z
  .strictObject({
    entity: z.string().min(1).describe('The entity the control total is about'),
    rows: z.number().int().min(0).optional().describe('The number of rows that must load'),
    sum: z.record(z.string(), decimalText).optional().describe('Column → expected exact sum over the rows that load, such as { value: "1250000.00" }'),
  })
  .describe('A control total from the legacy system, checked after mapping');

export const retentionRuleSchema = z
  .strictObject({
    entity: z.string().min(1).describe('The entity (table) the rule is about, such as machine_events'),
    keep: z.string().min(1).optional().describe('How long rows are kept, counted back from today or --as-of: N days, N months or N years (with `by`)'),
    by: z.string().min(1).optional().describe('The date or timestamp column `keep` counts by, such as ts'),
    where: z.string().min(1).optional().describe('An expression over the columns: the rows it is true for may go, such as \'as_of < "2020-01-01"\''),
    description: z.string().optional().describe('A note for people, such as the rule this follows; not used by forklift'),
  })
  .describe('Which rows of an entity may be purged (archived first, then deleted)');

export const planSchema = z
  .strictObject({
    version: z.literal(1).optional().describe('The file format version'),
    name: z.string().min(1).describe('The name of this migration'),
    target: z.string().min(1).optional().describe('The target store: sqlite:PATH, postgres://..., mysql://..., mssql://...; ${VAR:-default} is expanded'),
    model: z.string().min(1).optional().describe('factory (the built-in model) or a path to a model file'),
    mappings: z.array(z.string().min(1)).min(1).describe('The mapping files, relative to this plan, run in this order'),
    reject_limit: z
      .union([z.string(), z.number()])
      .optional()
      .describe('More rejects than this in any entity (a count, or a percentage such as 1%) and nothing is committed; default 0'),
    load: z.enum(LOAD_MODES).optional().describe('replace, append, upsert or incremental (per mapping too)'),
    checks: z.array(checkSchema).optional().describe('Control totals from the legacy system'),
    // Profiles are accepted here and checked by their own module (bundle/profile.ts).
    profiles: z.record(z.string(), z.unknown()).optional().describe('Export profiles: per entity drop, mask or hash columns'),
    retention: z.array(retentionRuleSchema).optional().describe('Retention rules for forklift purge (SPEC section 11)'),
  })
  .meta({ title: 'forklift plan', description: 'What a migration runs: target, model, mapping files, reject limit, control totals (SPEC section 2)' });

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
export type RetentionRuleSpec = z.infer<typeof retentionRuleSchema>;
export type MappingFile = z.infer<typeof mappingSchema>;
export type FieldSpec = z.infer<typeof fieldSchema>;
export type ModelFile = z.infer<typeof modelFileSchema>;
