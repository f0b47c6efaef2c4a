import { describe, expect, it } from 'vitest';
import { libpqFallbackMode } from '../../../src/stores/pg-ssl.js';

describe('libpqFallbackMode', () => {
  it('finds sslmode=prefer and allow wherever they stand in the query, and gives the URL without them', () => {
    expect(libpqFallbackMode('postgres://u:p@h/db?sslmode=prefer')).toEqual({ mode: 'prefer', rest: 'postgres://u:p@h/db' });
    expect(libpqFallbackMode('postgres://u:p@h/db?sslmode=allow&application_name=x')).toEqual({ mode: 'allow', rest: 'postgres://u:p@h/db?application_name=x' });
    expect(libpqFallbackMode('postgres://u:p@h/db?application_name=x&sslmode=PREFER')).toEqual({ mode: 'prefer', rest: 'postgres://u:p@h/db?application_name=x' });
    expect(libpqFallbackMode('postgres://u:p@h/db?a=1&sslmode=prefer&b=2')).toEqual({ mode: 'prefer', rest: 'postgres://u:p@h/db?a=1&b=2' });
  });

  it('leaves every other mode (and none) to pg as written', () => {
    for (const u of ['postgres://u@h/db', 'postgres://u@h/db?sslmode=require', 'postgres://u@h/db?sslmode=disable', 'postgres://u@h/db?sslmode=verify-full', 'postgres://u@h/db?xsslmode=prefer']) {
      expect(libpqFallbackMode(u), u).toBeUndefined();
    }
  });
});
