import { describe, expect, it } from 'vitest';
import { BugError, BundleError, ConfigError, StoreError } from '../../../src/core/errors.js';
import { revive, serializeError } from '../../../src/core/thread-errors.js';
import { renderError } from '../../../src/cli/render-error.js';

/** What crosses from a worker thread (structured clone keeps no class) must render as it would have in the main thread. */
const across = (e: unknown): Error => revive(structuredClone(serializeError(e)));

describe('errors across a thread boundary', () => {
  it('a bug stays a bug, said once', () => {
    const before = new BugError('rows are not in canonical key order at row 7');
    const after = across(before);
    expect(after).toBeInstanceOf(BugError);
    expect(renderError(after, { debug: false }).text).toBe(renderError(before, { debug: false }).text);
    expect(renderError(after, { debug: false }).text).not.toContain('internal error: internal error');
  });

  it('a store error stays a store error with its code, hint and exit code', () => {
    const before = new StoreError('table t, column c: the value NaN is not a number', { code: 'store.no-bundle-form', hint: 'Say it otherwise in the source first.' });
    const after = across(before);
    expect(after).toBeInstanceOf(StoreError);
    expect(renderError(after, { debug: false })).toEqual(renderError(before, { debug: false }));
  });

  it('config and bundle errors keep their kind', () => {
    expect(across(new ConfigError('bad', { code: 'x.y' }))).toBeInstanceOf(ConfigError);
    expect(across(new BundleError('bad', { code: 'x.y' }))).toBeInstanceOf(BundleError);
  });

  it('anything else is reported as a bug with its own message', () => {
    const after = across(new TypeError('x is undefined'));
    expect(after).not.toBeInstanceOf(BugError);
    expect(renderError(after, { debug: false }).text).toContain('internal error: x is undefined');
  });
});
