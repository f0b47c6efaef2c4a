import { describe, expect, it } from 'vitest';
import { describePgError } from '../../../src/stores/dialect-postgres.js';
import { PG_ADMIN_URL, liveServers, withPg } from './live.js';

/**
 * What a target cannot hold is said as such, before anything is written where it can be, and a
 * server's refusal carries a hint that is true of it.
 */

const FILE = 'test/integration/stores/target-fit.test.ts';
const { pgDown } = await liveServers(FILE, 'fb_');

describe.skipIf(pgDown !== null)('PostgreSQL refusals and their hints', () => {
  it('a value out of its type\u2019s range is not called a table that does not match the model', async () => {
    const e = await withPg(PG_ADMIN_URL, (c) => c.query("SELECT '0000-01-01'::date")).catch((x: unknown) => x);
    expect((e as { code: string }).code).toMatch(/^22/);
    const info = describePgError(e);
    expect(info.hint).toBe("A value is outside what its column's type holds here: if the table was made by hand or by another model version, compare it with the model.");
  });
});
