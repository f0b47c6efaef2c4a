import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;
let root: string | null | undefined;

/** forklift's own folder (the one with its package.json), found upward from this module, built or not. */
export function packageRoot(): string | null {
  if (root !== undefined) return root;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = path.join(dir, 'package.json');
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string };
      if (pkg.name === 'forklift') return (root = dir);
    }
    dir = path.dirname(dir);
  }
  return (root = null);
}

/** forklift's own version, from its package.json. */
export function toolVersion(): string {
  if (cached) return cached;
  const dir = packageRoot();
  if (!dir) return (cached = '0.0.0');
  const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: string };
  return (cached = pkg.version ?? '0.0.0');
}
