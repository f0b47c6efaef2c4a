import { describe, expect, it } from 'vitest';
import { packCells, unpackCells } from '../../../src/sources/raw-rows.js';
import type { SourceRecord } from '../../../src/sources/types.js';

describe('packCells / unpackCells (records between threads)', () => {
  it('give back the records, with the faults of the cells a source could not read', () => {
    const fault = { index: 1, ref: 'B3', rule: 'formula', reason: 'is a formula with no saved result' };
    const batch: SourceRecord[] = [
      { line: 2, cells: ['a', '', null] },
      { line: 3, cells: ['b', null], faults: [fault] },
      { line: 5, cells: [] },
    ];
    expect(packCells(batch.slice(0, 1)).faults).toBeUndefined();
    expect(unpackCells(structuredClone(packCells(batch)))).toEqual(batch);
  });
});
