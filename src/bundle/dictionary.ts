import type { Entity } from '../model/types.js';
import { modelTypeText } from './model-type.js';

/**
 * data/README.md: the data dictionary a person reads first. Payload, so it holds nothing that
 * changes between two exports of the same data (no dates, no store address).
 */

export interface DictionaryTable {
  entity: Entity;
  rows: number;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

export function dataDictionary(tables: readonly DictionaryTable[], formats: { arrow: boolean; parquet: boolean; xlsx: boolean }): string {
  const out: string[] = [
    '# Data dictionary',
    '',
    'Every table of the store, as CSV (`csv/<table>.csv`: RFC 4180, UTF-8, comma, CRLF, header row, rows in',
    'primary-key order)' + (formats.arrow ? ', as Arrow IPC files with exact types (`arrow/<table>.arrow`)' : '') + (formats.parquet ? ', as Parquet (`parquet/<table>.parquet`)' : '') + (formats.xlsx ? ', and as one Excel workbook for reading (`workbook.xlsx`)' : '') + '.',
    '`datapackage.json` describes the same in the Frictionless Data Package format; the files one folder up',
    '(BagIt 1.0) list the SHA-256 of every file here, so `sha256sum -c` or any BagIt tool checks them.',
    '',
    'Values: decimals are exact (never a float), timestamps are ISO 8601 in UTC with `Z`, dates `YYYY-MM-DD`,',
    'booleans `true`/`false`. An empty field is a missing value (NULL); an empty text is written `""`.',
    '',
    '## Tables',
    '',
    '| table | rows | primary key | description |',
    '| --- | ---: | --- | --- |',
    ...tables.map(({ entity: e, rows }) => `| ${cell(e.name)} | ${rows} | ${cell(e.primaryKey.join(', ') || '(none)')} | ${cell(e.description ?? '')} |`),
    '',
  ];
  for (const { entity: e, rows } of tables) {
    out.push(`## ${e.name}`, '', ...(e.description ? [e.description, ''] : []), `${rows} rows.`, '', '| column | type | required | references | description |', '| --- | --- | --- | --- | --- |');
    for (const c of e.columns) {
      const type = c.type === 'enum' ? `enum (${(c.values ?? []).join(', ')})` : modelTypeText(c);
      const ref = c.references ? `${c.references.entity}.${c.references.column}` : '';
      const req = c.required || e.primaryKey.includes(c.name) ? 'yes' : '';
      out.push(`| ${cell(c.name)}${e.primaryKey.includes(c.name) ? ' (key)' : ''} | ${cell(type)} | ${req} | ${cell(ref)} | ${cell(c.description ?? '')} |`);
    }
    out.push('');
  }
  const first = tables.find((t) => t.entity.name !== 'forklift_runs')?.entity.name ?? tables[0]?.entity.name ?? 'items';
  out.push(
    '## Loading it elsewhere',
    '',
    '**PostgreSQL** (`psql`; create the table first with the types above; an empty field becomes NULL and `""` an empty text):',
    '',
    '```',
    `\\copy ${first} FROM 'csv/${first}.csv' WITH (FORMAT csv, HEADER true)`,
    '```',
    '',
    '**DuckDB**:',
    '',
    '```sql',
    formats.parquet ? `SELECT * FROM read_parquet('parquet/${first}.parquet');` : `SELECT * FROM read_csv('csv/${first}.csv', header = true);`,
    '```',
    '',
    '**pandas** (keep decimals exact by reading them as text, then `decimal.Decimal`):',
    '',
    '```python',
    'import pandas as pd',
    `df = pd.read_csv("csv/${first}.csv", dtype=str, keep_default_na=False, na_values=[""])`,
    ...(formats.arrow ? ['# or, with exact types:', 'import pyarrow as pa', `df = pa.ipc.open_file("arrow/${first}.arrow").read_pandas()`] : []),
    '```',
    '',
    '**Excel**: ' + (formats.xlsx ? 'open `workbook.xlsx` (one sheet a table; a table beyond Excel\'s 1,048,576 rows continues on further sheets), or ' : '') + 'use Data > From Text/CSV on a CSV file, choosing UTF-8 and comma, and set key columns to Text so leading zeros stay.',
    '',
  );
  return out.join('\n');
}
