import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCHEMA_FILES, editorSchema, editorSchemaText, schemaHeader } from '../../../src/plan/editor-schema.js';
import { ROOT, tempDir } from '../../helpers.js';

const DEMO = path.join(ROOT, 'mappings', 'demo');

describe('editor schemas', () => {
  it.each(['plan', 'mapping'] as const)('the committed schemas/%s.schema.json is what the zod schema generates now (run npm run build and commit it)', (kind) => {
    expect(readFileSync(path.join(ROOT, SCHEMA_FILES[kind]), 'utf8')).toBe(editorSchemaText(kind));
  });

  it('are draft-07 with titles, descriptions of the keys and no unknown keys allowed', () => {
    const plan = editorSchema('plan') as { $schema: string; title: string; additionalProperties: boolean; properties: Record<string, { description?: string }>; required: string[] };
    expect(plan.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(plan.title).toBe('forklift plan');
    expect(plan.additionalProperties).toBe(false);
    expect(plan.required).toEqual(['name', 'mappings']);
    for (const [key, p] of Object.entries(plan.properties)) expect(p.description, key).toBeTruthy();
    const mapping = editorSchema('mapping') as { title: string; properties: { fields: { additionalProperties: { properties: Record<string, { description?: string }> } } } };
    expect(mapping.title).toBe('forklift mapping file');
    for (const [key, p] of Object.entries(mapping.properties.fields.additionalProperties.properties)) expect(p.description, key).toBeTruthy();
  });
});

describe('schemaHeader', () => {
  it('points from the file to the schemas of this forklift, relative to the file', () => {
    expect(schemaHeader('mapping', DEMO)).toBe('# yaml-language-server: $schema=../../schemas/mapping.schema.json');
    expect(schemaHeader('plan', ROOT)).toBe('# yaml-language-server: $schema=schemas/plan.schema.json');
    const elsewhere = tempDir();
    const line = schemaHeader('plan', elsewhere);
    const target = line.slice('# yaml-language-server: $schema='.length);
    expect(path.resolve(elsewhere, target)).toBe(path.join(ROOT, 'schemas', 'plan.schema.json'));
  });

  it.each([
    ['forklift.yaml', 'plan'],
    ['items.yaml', 'mapping'],
    ['bom.yaml', 'mapping'],
    ['balances.yaml', 'mapping'],
    ['machine_log.yaml', 'mapping'],
  ] as const)('mappings/demo/%s starts with it', (file, kind) => {
    expect(readFileSync(path.join(DEMO, file), 'utf8').split('\n')[0]).toBe(schemaHeader(kind, DEMO));
  });
});

describe('the demo files against the generated schemas (ajv, an independent JSON Schema validator)', () => {
  it('the demo plan and every demo mapping validate; a typo is flagged', async () => {
    // ajv is CommonJS: its class is the module's default export's default under Node's interop.
    const { Ajv } = await import('ajv');
    const { parse } = await import('yaml');
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validators = { plan: ajv.compile(editorSchema('plan') as object), mapping: ajv.compile(editorSchema('mapping') as object) };
    for (const [file, kind] of [['forklift.yaml', 'plan'], ['items.yaml', 'mapping'], ['bom.yaml', 'mapping'], ['balances.yaml', 'mapping'], ['machine_log.yaml', 'mapping']] as const) {
      const doc: unknown = parse(readFileSync(path.join(DEMO, file), 'utf8'));
      expect(validators[kind](doc), `${file}: ${JSON.stringify(validators[kind].errors)}`).toBe(true);
    }
    const broken = parse(readFileSync(path.join(DEMO, 'items.yaml'), 'utf8')) as { fields: { uom: Record<string, unknown> } };
    broken.fields.uom.vales = broken.fields.uom.values;
    expect(validators.mapping(broken)).toBe(false);
  });
});
