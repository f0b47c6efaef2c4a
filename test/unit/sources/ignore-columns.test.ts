import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fixture, readAll } from './read-all.js';

describe('ignore_columns: columns read but not handed on (a rejects file’s meta columns)', () => {
  it('leaves the named columns out of the header and of every record, wherever they are', async () => {
    const { source, records } = await readAll({ format: 'csv', path: fixture('ragged.csv'), ignore_columns: ['b'] });
    expect(source.header).toEqual(['a', 'c']);
    // a short row keeps its missing cell as null; a long row keeps the cells past the header after the kept ones
    expect(records.slice(0, 3)).toEqual([
      { line: 2, cells: ['1', '3'] },
      { line: 3, cells: ['4', null] },
      { line: 4, cells: ['6', '8', '9'] },
    ]);
    expect(source.label).toContain('ragged.csv');
    expect(source.sha256).toBe(createHash('sha256').update(readFileSync(fixture('ragged.csv'))).digest('hex'));
  });

  it('changes nothing when no named column is there', async () => {
    const plain = await readAll({ format: 'csv', path: fixture('ragged.csv') });
    const ignored = await readAll({ format: 'csv', path: fixture('ragged.csv'), ignore_columns: ['forklift_reason'] });
    expect(ignored.source.header).toEqual(plain.source.header);
    expect(ignored.records).toEqual(plain.records);
  });
});
