import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Entity, Model } from '../../../src/model/types.js';
import { Staging } from '../../../src/run/staging.js';
import { checkControlTotals } from '../../../src/validate/control-totals.js';
import { tempDir } from '../../helpers.js';

/** Control totals are exact: a sum of decimal(38,10) values is never rounded to decimal.js's default 20 digits. */
const readings: Entity = {
  name: 'readings',
  primaryKey: ['id'],
  rules: [],
  columns: [
    { name: 'id', type: 'integer', required: true },
    { name: 'amount', type: 'decimal', precision: 38, scale: 10, required: false },
  ],
};
const model: Model = { name: 't', entities: new Map([['readings', readings]]) };

function totals(values: string[], expected: string): { actual: string; ok: boolean } {
  const st = new Staging(path.join(tempDir('forklift-totals-'), 'staging.sqlite'));
  try {
    st.createEntity(readings);
    values.forEach((v, i) => st.insertRow('readings', i + 2, [i + 1, v]));
    st.flushRows('readings');
    const [r] = checkControlTotals(st, [{ entity: 'readings', sum: { amount: expected } }], () => true, model);
    return { actual: r!.actual, ok: r!.ok };
  } finally {
    st.close();
  }
}

describe('control totals', () => {
  it('sums 38-digit decimals exactly: a total off in the last place fails', () => {
    const values = ['12345678901.0000000001', '12345678901.0000000004'];
    expect(totals(values, '24691357802.0000000005')).toEqual({ actual: '24691357802.0000000005', ok: true });
    expect(totals(values, '24691357802')).toEqual({ actual: '24691357802.0000000005', ok: false });
    expect(totals(['9999999999999999999999999999.9999999999', '0.0000000001'], '10000000000000000000000000000.0000000000').ok).toBe(true);
  });
});
