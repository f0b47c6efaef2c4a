import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The build bundles the libraries of many modules into one file each (scripts/vendor.mjs), which a
 * command loads faster; forklift's modules import them only through these files (lint), so a
 * process holds one copy of each library's classes.
 */
const BUNDLES = [
  { file: 'src/vendor/apache-arrow.js', library: 'apache-arrow', exports: ['RecordBatch', 'Footer', 'VectorLoader'], minBytes: 100_000 },
  { file: 'src/vendor/zod.js', library: 'zod', exports: ['z'], minBytes: 100_000 },
  // Only the functions it names: a fraction of zod, which is the point of it.
  { file: 'src/vendor/zod-mini.js', library: 'zod', exports: ['looseObject', 'safeParse', 'string', 'record'], minBytes: 10_000, maxBytes: 100_000 },
  { file: 'src/cli/oclif.js', library: '@oclif/core', exports: ['Command', 'Flags', 'Args', 'execute', 'settings'], minBytes: 100_000 },
];

describe('the vendored bundles of the build', () => {
  for (const { file, library, exports, minBytes, maxBytes } of BUNDLES) {
    it(`dist/${file} holds ${library} whole, and exports what forklift uses of it`, async () => {
      const code = readFileSync(path.resolve('dist', file), 'utf8');
      const quoted = library.replace(/[/@]/g, (c) => `\\${c}`);
      expect(code).not.toMatch(new RegExp(`(from\\s*|require\\(|import\\()["']${quoted}["'/]`));
      expect(code.length).toBeGreaterThan(minBytes);
      if (maxBytes !== undefined) expect(code.length).toBeLessThan(maxBytes);
      const mod = (await import(pathToFileURL(path.resolve('dist', file)).href)) as Record<string, unknown>;
      for (const name of exports) expect(mod[name], name).toBeDefined();
    });
  }
});
