// Bundles each module of dist/src/vendor (apache-arrow, zod: the libraries with many ES modules)
// into one file in place, after tsc: see src/vendor/apache-arrow.ts for why. Node's built-in
// modules stay imports; nothing else of node_modules is left to load at run time.
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'dist', 'src', 'vendor');
for (const name of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
  const file = path.join(dir, name);
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
    logLevel: 'warning',
  });
  // tsc's source map described the unbundled module.
  rmSync(`${file}.map`, { force: true });
  console.log(`dist/src/vendor/${name}: bundled`);
}
