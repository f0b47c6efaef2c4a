import { describe, expect, it } from 'vitest';
import { renderCsv, renderHtml, renderJson, renderText } from '../../../src/diff/render/index.js';
import type { ReportWriter } from '../../../src/diff/render/common.js';
import type { DiffRecord, DiffResult } from '../../../src/diff/types.js';

/** One diff, four renderers: each says the same thing, escaped for its format. */

function result(records: number): DiffResult {
  return {
    format: 'forklift-diff',
    version: 1,
    identical: false,
    left: { kind: 'bundle', location: 'exit<1>', zipped: true, payload_oxum: '100.3', manifest_sha256: 'ab'.repeat(32), bag_info: { 'Forklift-Source': 'sqlite:a.db' } },
    right: { kind: 'store', store: 'postgres', url: 'postgres://u:***@db/x' },
    schema: [{ kind: 'type-changed', table: 'items', column: 'cost', left: 'decimal(18,4)', right: 'decimal(18,2)' }],
    tables: [
      {
        table: 'items',
        status: 'compared',
        key: ['code', 'plant'],
        key_source: 'primary key',
        columns: ['code', 'plant', 'cost', 'note'],
        ignored: [],
        left_rows: 10,
        right_rows: 10 + records,
        added: records,
        removed: 1,
        changed: 1,
        unchanged: 8,
        changed_cells: 1,
        order: { left: 'streamed', right: 'sorted' },
      },
    ],
    totals: { tables: 1, tables_with_differences: 1, schema_changes: 1, added: records, removed: 1, changed: 1, unchanged: 8, changed_cells: 1 },
    details: true,
    tool_version: '0.1.0',
    started: '2026-11-29T12:00:00.000Z',
    duration_ms: 12,
  };
}

function records(added: number): DiffRecord[] {
  return [
    { kind: 'changed', table: 'items', key: ['A,1', 'P"1'], column: 'note', left: '<script>alert(1)</script>', right: null },
    { kind: 'removed', table: 'items', key: ['B', ''], values: ['12.50', 'line\nbreak'] },
    ...Array.from({ length: added }, (_, i): DiffRecord => ({ kind: 'added', table: 'items', key: [`N${i}`, 'P1'], values: ['1.00', 'https://example.com/x'] })),
  ];
}

async function render(fn: typeof renderText, added = 2): Promise<string> {
  let out = '';
  const w: ReportWriter = { write: async (s) => void (out += s) };
  async function* recs(): AsyncGenerator<DiffRecord> {
    yield* records(added);
  }
  await fn(result(added), recs(), w);
  return out;
}

describe('diff renderers', () => {
  it('text: verdict, sides, schema, the summary table, then every record', async () => {
    const t = await render(renderText);
    expect(t).toMatch(/^diff: different: 1 schema change; 2 added, 1 removed, 1 changed row \(1 cell\)/);
    expect(t).toMatch(/left: {2}bundle exit<1> \(zip\) · Payload-Oxum 100\.3 · manifest-sha256\.txt sha256 abab/);
    expect(t).toMatch(/items\.cost: type decimal\(18,4\) → decimal\(18,2\)/);
    expect(t).toMatch(/~ \[A,1, "P\\"1"\] note: <script>alert\(1\)<\/script> → NULL/);
    expect(t).toMatch(/- \[B, ""\] cost=12\.50, note="line\\nbreak"/);
  });

  it('json: one document; records with keys and rows named by column', async () => {
    const j = JSON.parse(await render(renderJson)) as { records: unknown[]; totals: { added: number } };
    expect(j.totals.added).toBe(2);
    expect(j.records[0]).toEqual({ table: 'items', kind: 'changed', key: { code: 'A,1', plant: 'P"1' }, column: 'note', left: '<script>alert(1)</script>', right: null });
    expect(j.records[1]).toEqual({ table: 'items', kind: 'removed', key: { code: 'B', plant: '' }, row: { cost: '12.50', note: 'line\nbreak' } });
    expect(j.records).toHaveLength(4);
  });

  it('csv: RFC 4180 with a byte-order mark, one row per changed cell, NULL empty and "" quoted', async () => {
    const c = await render(renderCsv, 1);
    const lines = c.split('\r\n');
    expect(lines[0]).toBe('\ufefftable,change,key,column,left,right');
    expect(lines[1]).toBe('items,type-changed,,cost,"decimal(18,4)","decimal(18,2)"');
    expect(lines[2]).toBe('items,changed,"[""A,1"",""P\\""1""]",note,<script>alert(1)</script>,');
    expect(lines[3]).toBe('items,removed,"[""B"",""""]",cost,12.50,');
    // A line break inside a value stays inside its quoted field (records end with CRLF).
    expect(lines[4]).toBe('items,removed,"[""B"",""""]",note,"line\nbreak",');
    expect(lines[5]).toBe('items,added,"[""N0"",""P1""]",cost,,1.00');
    expect(c.endsWith('\r\n')).toBe(true);
  });

  it('html: one self-contained page, everything escaped, long change lists in pages', async () => {
    const h = await render(renderHtml, 250);
    expect(h).toMatch(/^<!doctype html>/);
    expect(h).not.toMatch(/<script>alert/);
    expect(h).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(h).not.toMatch(/<(link|img|iframe)\b|\bsrc=|\bhref=/i);
    // The only URL is a value, escaped as text.
    expect(h.match(/https?:\/\//g)?.length).toBe(250);
    expect(h.match(/<tbody class="page">/g)?.length).toBe(3); // 252 records, 100 a page
    expect(h).toContain('exit&lt;1&gt;');
    expect(h).toContain('SHA-256 of manifest-sha256.txt');
    expect(h).toContain('postgres://u:***@db/x');
  });

  it('html: a change that is only whitespace at an end shows, quoted as in the text report', async () => {
    let out = '';
    const w: ReportWriter = { write: async (s) => void (out += s) };
    async function* recs(): AsyncGenerator<DiffRecord> {
      yield { kind: 'changed', table: 'items', key: ['A', 'P1 '], column: 'note', left: 'Bolt M3', right: 'Bolt M3 ' };
      yield { kind: 'changed', table: 'items', key: ['B', 'P1'], column: 'note', left: 'tab\there', right: 'NULL' };
    }
    await renderHtml(result(0), recs(), w);
    expect(out).toMatch(/<td>note<\/td><td class="v">Bolt M3<\/td><td class="v" title="quoted[^"]*">&quot;Bolt M3 &quot;<\/td>/);
    expect(out).toMatch(/<td class="v" title="quoted[^"]*">&quot;P1 &quot;<\/td>/);
    // A text NULL is not the missing value; a tab is not a space.
    expect(out).toMatch(/<td class="v" title="quoted[^"]*">&quot;tab\\there&quot;<\/td><td class="v" title="quoted[^"]*">&quot;NULL&quot;<\/td>/);
  });
});
