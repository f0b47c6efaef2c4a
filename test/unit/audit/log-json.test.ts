import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { writeAuditLog, type AuditLogEntry, type AuditLogReader } from '../../../src/audit/log.js';
import { StoreError, isThrownInOpenJson } from '../../../src/core/errors.js';
import { closeOpenJson, renderError } from '../../../src/cli/render-error.js';

/**
 * `audit log --json` streams its document; a failure after entries went out (a connection lost
 * mid-read) must still leave stdout one valid JSON document: the entries so far, then
 * `"ok": false` and the error, as the CLI's renderer closes it.
 */

const entry = (seq: number): AuditLogEntry => ({ seq, id: `run-${seq}`, command: 'migrate', status: 'succeeded', started: '2026-01-01T00:00:00.000Z', finished: null, operator: 'ana', host: 'h', prev_hash: null, entry_hash: null }) as unknown as AuditLogEntry;

function reader(batches: number, fail: boolean): AuditLogReader {
  return {
    source: 'sqlite:t.db',
    async *entries() {
      for (let b = 0; b < batches; b++) yield Array.from({ length: 500 }, (_, i) => entry(b * 500 + i + 1));
      if (fail) throw new StoreError('sqlite:t.db: the connection was lost', { code: 'store.read', hint: 'Run it again.' });
    },
    close: async () => {},
  };
}

async function written(log: AuditLogReader): Promise<{ text: string; error: unknown }> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  let error: unknown;
  await writeAuditLog(log, 'json', out).catch((e: unknown) => (error = e));
  out.end();
  return { text: Buffer.concat(chunks).toString('utf8'), error };
}

describe('audit log --json when the ledger fails mid-read', () => {
  it('closes the entries written so far and leaves the document open at "error" for the renderer', async () => {
    const { text, error } = await written(reader(4, true));
    expect(isThrownInOpenJson(error)).toBe(true);
    const doc = JSON.parse(text + closeOpenJson(renderError(error, { debug: false }))) as { entries: unknown[]; ok: boolean; error: { code: string; message: string } };
    expect(doc.entries).toHaveLength(2000);
    expect(doc.ok).toBe(false);
    expect(doc.error).toMatchObject({ code: 'store.read', message: 'sqlite:t.db: the connection was lost' });
  });

  it('before any entry, too', async () => {
    const { text, error } = await written(reader(0, true));
    const doc = JSON.parse(text + closeOpenJson(renderError(error, { debug: false }))) as { entries: unknown[]; ok: boolean };
    expect([doc.entries, doc.ok]).toEqual([[], false]);
  });

  it('a complete read is the document as before, with no "ok" key', async () => {
    const { text, error } = await written(reader(2, false));
    expect(error).toBeUndefined();
    const doc = JSON.parse(text) as { source: string; entries: unknown[] };
    expect(Object.keys(doc)).toEqual(['source', 'entries']);
    expect(doc.entries).toHaveLength(1000);
  });
});
