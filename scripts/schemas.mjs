// Writes schemas/plan.schema.json and schemas/mapping.schema.json after a build: the editor schemas,
// generated from the zod definitions in src/plan/schema.ts (test/unit/plan/editor-schema.test.ts
// fails when the committed files are out of date).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCHEMA_FILES, editorSchemaText } from '../dist/src/plan/editor-schema.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
for (const [kind, rel] of Object.entries(SCHEMA_FILES)) {
  const file = path.join(root, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, editorSchemaText(kind));
}
console.log(`schemas: ${Object.values(SCHEMA_FILES).join(', ')}`);
