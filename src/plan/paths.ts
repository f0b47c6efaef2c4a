import path from 'node:path';

// Where a plan's files and its target are, without loading the plan's checks, the model or the
// expression language: export, audit and retention need only these (and start sooner for it).

export const DEFAULT_TARGET = 'sqlite:./forklift.db';

export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel.startsWith('..') && path.isAbsolute(file) && rel.split(path.sep).filter((s) => s === '..').length > 2 ? file : rel || '.';
}

/** Resolves a sqlite: URL's path against a folder, leaving server URLs as they are. */
export function resolveTarget(url: string, baseDir: string): string {
  if (!url.startsWith('sqlite:')) return url;
  const p = url.slice('sqlite:'.length).replace(/^\/\//, '');
  if (p === ':memory:') return url;
  return `sqlite:${path.resolve(baseDir, p)}`;
}
