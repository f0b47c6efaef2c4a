import { describe, expect, it } from 'vitest';
import { describePgError } from '../../../src/stores/dialect-postgres.js';
import { TRIGGER_REFUSAL_HINT } from '../../../src/stores/key-clash.js';

/** A server error as pg gives it: SQLSTATE, message, and the COPY's context line in `where`. */
const pgError = (code: string, message: string, where?: string): Error => Object.assign(new Error(message), { code, ...(where === undefined ? {} : { where }) });

describe('describePgError and a COPY the target refuses', () => {
  it('keeps the table, line and column of the COPY and never a value: not the row a CHECK or a trigger refused', () => {
    const check = describePgError(pgError('23514', 'new row for relation "stock_balances" violates check constraint "qty_cap"', 'COPY stock_balances, line 19: "BG-2002\tL900\t\t112.000000\t70925.42\t2025-12-31"'));
    expect(check.message).toBe('new row for relation "stock_balances" violates check constraint "qty_cap" (COPY stock_balances, line 19)');
    expect(check.message).not.toMatch(/BG-2002|70925/);
    const range = describePgError(pgError('22003', 'value "3000000000" is out of range for type integer', 'COPY items, line 7, column lead_time_days: "3000000000"'));
    expect(range.message).toBe('value (value not shown) is out of range for type integer (COPY items, line 7, column lead_time_days)');
    const trigger = describePgError(pgError('P0001', 'too many good parts', 'PL/pgSQL function boom() line 1 at RAISE\nCOPY machine_events, line 3'));
    expect(trigger.message).toBe('too many good parts (COPY machine_events, line 3)');
    expect(trigger.hint).toBe(TRIGGER_REFUSAL_HINT);
  });
});
