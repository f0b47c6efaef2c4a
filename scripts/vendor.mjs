// Bundles each module of dist/src/vendor (apache-arrow, zod: the libraries with many modules) and
// dist/src/cli/oclif.js (@oclif/core) into one file in place, after tsc: see
// src/vendor/apache-arrow.ts for why. Node's built-in modules stay imports.
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'dist', 'src', 'vendor');
// @oclif/core is the CLI layer's (src/cli/oclif.ts): the library in src knows nothing of oclif.
const files = [...readdirSync(dir).filter((f) => f.endsWith('.js')).map((f) => path.join(dir, f)), path.join(root, 'dist', 'src', 'cli', 'oclif.js')];
for (const file of files) {
  const name = path.relative(path.join(root, 'dist'), file);
  await build({
    entryPoints: [file],
    outfile: file,
    allowOverwrite: true,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Whitespace and syntax only: names stay as written, for stack traces under --debug.
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'inline',
    // Optional compilers oclif loads only to run TypeScript commands, which the built CLI never does.
    external: ['typescript', 'ts-node', 'tsx'],
    // CommonJS inside (oclif) requires Node's modules: an ES module has no require of its own.
    banner: { js: "import { createRequire as __vendorRequire } from 'node:module'; const require = __vendorRequire(import.meta.url);" },
    logLevel: 'warning',
  });
  // tsc's source map described the unbundled module.
  rmSync(`${file}.map`, { force: true });
  console.log(`dist/${name}: bundled`);
}
