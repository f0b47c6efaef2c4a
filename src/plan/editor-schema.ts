import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from '../vendor/zod.js';
import { packageRoot } from '../core/version.js';
import { mappingSchema, planSchema } from './schema.js';

/**
 * The editor schemas (JSON Schema draft-07, what yaml-language-server and VS Code's YAML extension
 * read) for plan and mapping files, generated from the zod definitions the loader validates with:
 * one source of truth. `npm run build` writes them to schemas/ (scripts/schemas.mjs), and a unit
 * test fails when the committed files differ from what this generates.
 */
export type SchemaKind = 'plan' | 'mapping';

export const SCHEMA_FILES: Record<SchemaKind, string> = {
  plan: 'schemas/plan.schema.json',
  mapping: 'schemas/mapping.schema.json',
};

export function editorSchema(kind: SchemaKind): Record<string, unknown> {
  // io 'input': the schema of what a person writes (before transforms such as numbers to decimal text).
  return z.toJSONSchema(kind === 'plan' ? planSchema : mappingSchema, { target: 'draft-7', io: 'input' }) as Record<string, unknown>;
}

/** The file's text as written to schemas/: stable key order, two-space indent, final newline. */
export function editorSchemaText(kind: SchemaKind): string {
  return JSON.stringify(editorSchema(kind), null, 2) + '\n';
}

/**
 * The first line of every plan or mapping file forklift writes:
 * `# yaml-language-server: $schema=<path>` (one line, no line break), where the path leads from the
 * file's folder to the schema shipped with this forklift (relative, as yaml-language-server
 * resolves it against the YAML file). In this repository that is `../../schemas/…` from
 * mappings/demo; in a project with forklift in its node_modules it leads there; with forklift
 * installed elsewhere, to that installation. Either way the editor gets the schema of the very
 * version that validates the file, offline.
 */
export function schemaHeader(kind: SchemaKind, fileDir: string): string {
  const root = packageRoot();
  const file = root ? path.join(root, SCHEMA_FILES[kind]) : SCHEMA_FILES[kind];
  let rel = path.relative(path.resolve(fileDir), file);
  // Another drive on Windows: no relative path exists, so a file URL.
  if (path.isAbsolute(rel)) rel = pathToFileURL(file).href;
  else rel = rel.split(path.sep).join('/');
  return `# yaml-language-server: $schema=${rel}`;
}
