import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseJsonObjectLine } from '../../../src/sources/json-line.js';
import { openSource } from '../../../src/sources/index.js';
import { readAll, sourceError } from './read-all.js';

const dir = mkdtempSync(path.join(tmpdir(), 'forklift-jsonl-'));
let n = 0;
function file(content: string | Buffer): string {
  const f = path.join(dir, `t${n++}.jsonl`);
  writeFileSync(f, content);
  return f;
}

describe('jsonl', () => {
  it('keeps numbers exactly as written and turns values into cells', async () => {
    const f = file(
      '\uFEFF{"id": 1, "price": 0.1000000000000000055, "big": 12345678901234567890, "name": "caf\\u00e9", "ok": true, "none": null, "tags": [1, 2.50, "x y"], "o": {"a" : 1e5}}\n' +
        '\n' +
        '{"id":2,"name":"b"}\r\n' +
        '   \n' +
        '{"name":"c", "id":-0.0, "late":1}',
    );
    const { source, records } = await readAll({ format: 'jsonl', path: f });
    expect(source.header).toEqual(['id', 'price', 'big', 'name', 'ok', 'none', 'tags', 'o', 'late']);
    expect(source.detected).toEqual({ encoding: 'utf-8' });
    expect(records).toEqual([
      { line: 1, cells: ['1', '0.1000000000000000055', '12345678901234567890', 'café', 'true', null, '[1,2.50,"x y"]', '{"a":1e5}', null] },
      { line: 3, cells: ['2', null, null, 'b', null, null, null, null, null] },
      { line: 5, cells: ['-0.0', null, null, 'c', null, null, null, null, '1'] },
    ]);
    expect(source.skippedBlank).toBe(2);
    expect(source.positionKind).toBe('line');
    expect(source.sha256).toBe(createHash('sha256').update(readFileSync(f)).digest('hex'));
  });

  it('a broken line names its line and column', async () => {
    const f = file('{"id":1}\n{"id":2 "x":3}\n');
    const e = await sourceError(() => openSource({ format: 'jsonl', path: f }));
    expect(e.code).toBe('source.json');
    expect(e.location).toMatchObject({ line: 2, column: 9 });
    expect(e.message).toContain("Comma ',' expected after value");
    expect(e.message).not.toContain('at position');
  });

  it('nested values keep big numbers exactly; a repeated key keeps its last value and is noted when the values differ', () => {
    const line = '{"n": {"big": 123456789012345678901234567890, "x": [0.10000000000000000555, -1E+400], "k": 7, "k": 8}, "k": 1, "k": 2, "same": 3, "same": 3, "__proto__": "p"}';
    expect(parseJsonObjectLine(line)).toEqual({
      members: [
        ['n', '{"big":123456789012345678901234567890,"x":[0.10000000000000000555,-1E+400],"k":8}'],
        ['k', '2'],
        ['same', '3'],
        ['__proto__', 'p'],
      ],
      // Only the line's own keys: "k" inside "n" is that object's.
      repeated: [{ key: 'k', values: ['1', '2'] }],
    });
  });

  it('a row whose object gives one key twice, differently, is rejected where the mapping uses that key', async () => {
    const { records } = await readAll({ format: 'jsonl', path: file('{"item": "J-1", "cost": 1}\n{"item": "J-3", "cost": 1, "cost": 2}\n') });
    expect(records[0]).toEqual({ line: 1, cells: ['J-1', '1'] });
    expect(records[1]).toEqual({
      line: 2,
      cells: ['J-3', '2'],
      faults: [{ index: 1, ref: 'line 2', rule: 'json-duplicate-key', reason: 'is given twice in the object, as "1" and "2": which one is meant cannot be told; keep one' }],
    });
  });

  it('a line nested too deep is an error, not a crash', async () => {
    const deep = `{"a":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    const e = await sourceError(() => openSource({ format: 'jsonl', path: file(`{"a":1}\n${deep}\n`) }));
    expect(e.code).toBe('source.json');
    expect(e.location).toMatchObject({ line: 2 });
    expect(e.message).toContain('nested too deep');
  });

  it('a line that is not an object is an error', async () => {
    const e = await sourceError(() => openSource({ format: 'jsonl', path: file('{"id":1}\n[1,2]\n') }));
    expect(e.location).toMatchObject({ line: 2, column: 1 });
    expect(e.message).toContain('found an array');
  });

  it('a key unseen in the first 100 objects stops the read instead of losing the value', async () => {
    const lines = Array.from({ length: 10_000 }, (_, i) => JSON.stringify(i === 8999 ? { id: i, colour: 'red' } : { id: i, qty: i % 7 }));
    const source = await openSource({ format: 'jsonl', path: file(lines.join('\n')) }, { batchSize: 1000 });
    expect(source.header).toEqual(['id', 'qty']);
    const seen: number[] = [];
    const e = await sourceError(async () => {
      for await (const b of source.batches()) seen.push(...b.map((r) => r.line));
    });
    expect(e.code).toBe('source.json-key');
    expect(e.location).toMatchObject({ line: 9000 });
    expect(e.message).toContain('"colour"');
    expect(seen.length).toBeLessThan(9000);
  });

  it('the columns come from the first 100 objects even when more are in the first chunk', async () => {
    const lines = Array.from({ length: 150 }, (_, i) => JSON.stringify(i === 120 ? { id: i, colour: 'red' } : { id: i }));
    const e = await sourceError(() => openSource({ format: 'jsonl', path: file(lines.join('\n')) }));
    expect(e.code).toBe('source.json-key');
    expect(e.location).toMatchObject({ line: 121 });
  });

  it('empty and key-less files have no columns', async () => {
    expect((await sourceError(() => openSource({ format: 'jsonl', path: file('') }))).code).toBe('source.empty');
    expect((await sourceError(() => openSource({ format: 'jsonl', path: file('\n\n{}\n') }))).code).toBe('source.empty');
  });

  it('reads UTF-16 with BOM', async () => {
    const f = file(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('{"a":"Ø"}\n', 'utf16le')]));
    const { records, source } = await readAll({ format: 'jsonl', path: f });
    expect(source.detected.encoding).toBe('utf-16le');
    expect(records).toEqual([{ line: 1, cells: ['Ø'] }]);
  });

  it('property: agrees with JSON.parse on strings, and on numbers by value', () => {
    const value = fc.oneof(fc.string(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }));
    fc.assert(
      fc.property(fc.dictionary(fc.string(), value), fc.constantFrom('', ' ', '\t'), (obj, ws) => {
        const line = JSON.stringify(obj, null, ws === '' ? undefined : ws).replace(/\n/g, '');
        const got = new Map(parseJsonObjectLine(line).members);
        const parsed = JSON.parse(line) as Record<string, unknown>;
        for (const [k, v] of Object.entries(parsed)) {
          const cell = got.get(k);
          if (v === null) expect(cell).toBeNull();
          else if (typeof v === 'string') expect(cell).toBe(v);
          else if (typeof v === 'number') expect(Number(cell)).toBe(v);
          else if (typeof v === 'boolean') expect(cell).toBe(String(v));
          else expect(JSON.parse(cell as string)).toEqual(v);
        }
      }),
    );
  });

  it('property: rejects what JSON.parse rejects', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('{', '}', '"', ':', ',', 'a', '1', '-', '.', 'e', ' ', '[', ']', '\\', 'n', 'u', 'l', 't') }), (s) => {
        let ok: boolean;
        try {
          const v: unknown = JSON.parse(s);
          ok = typeof v === 'object' && v !== null && !Array.isArray(v);
        } catch {
          ok = false;
        }
        let mine: boolean;
        try {
          parseJsonObjectLine(s);
          mine = true;
        } catch {
          mine = false;
        }
        expect(mine).toBe(ok);
      }),
      { numRuns: 2000 },
    );
  });
});
