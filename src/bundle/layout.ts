/**
 * Where a bundle keeps a table's files, by the table's name (SPEC section 6): the one rule that
 * export writes by and that verify, import, exit's re-import and diff read by, so that what is
 * loaded is exactly what was checked. A module of its own, free of imports, for the threads that
 * need nothing else of the bundle's.
 */
/**
 * Why a table's name cannot name its files in a bundle, or undefined when it can: a path
 * separator or `..` would put them outside data/csv (or outside the bundle: a table named
 * `../../x` in a store is allowed), and a control character (a line break) cannot stand in
 * bag-info.txt or a manifest line.
 */
export function unsafeTableName(name: string): string | undefined {
  if (name === '' || name === '.' || name === '..') return `'${name}' is no file name`;
  if (/[/\\]/.test(name)) return 'it holds a path separator (/ or \\)';
  // eslint-disable-next-line no-control-regex -- the control characters are what is looked for
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(name)) return 'it holds a control character (a line break, a tab)';
  return undefined;
}

export function tableFiles(name: string): { csv: string; arrow: string; parquet: string } {
  return { csv: `data/csv/${name}.csv`, arrow: `data/arrow/${name}.arrow`, parquet: `data/parquet/${name}.parquet` };
}
