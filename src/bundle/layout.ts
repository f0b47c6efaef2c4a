/**
 * Where a bundle keeps a table's files, by the table's name (SPEC section 6): the one rule that
 * export writes by and that verify, import, exit's re-import and diff read by, so that what is
 * loaded is exactly what was checked. A module of its own, free of imports, for the threads that
 * need nothing else of the bundle's.
 */
export function tableFiles(name: string): { csv: string; arrow: string; parquet: string } {
  return { csv: `data/csv/${name}.csv`, arrow: `data/arrow/${name}.arrow`, parquet: `data/parquet/${name}.parquet` };
}
