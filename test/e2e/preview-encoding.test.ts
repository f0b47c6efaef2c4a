import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../helpers.js';

/**
 * preview of a CSV larger than the 64 KiB encoding detection looks at, whose mapping names the
 * wrong encoding: it gives validate's answer (the same refusal, or the same text), not mojibake.
 */

/** A one-mapping project: items from parts.csv (`bytes`), `encoding` named in the mapping. */
function project(bytes: Buffer, encoding: string): string {
  const dir = tempDir('forklift-preview-enc-');
  writeFileSync(path.join(dir, 'parts.csv'), bytes);
  writeFileSync(
    path.join(dir, 'items.yaml'),
    `entity: items\nsource: { format: csv, path: parts.csv, encoding: ${encoding} }\nfields:\n  item_code: { from: CODE }\n  description: { from: NAME }\n  uom: { const: EA }\n  active: { const: true }\n`,
  );
  writeFileSync(path.join(dir, 'forklift.yaml'), `name: enc\ntarget: sqlite:./t.db\nmappings: [items.yaml]\nreject_limit: 100%\n`);
  return dir;
}

/** CSV text of `n` items; `special` replaces lines (1-based, the header is line 1). */
function csv(n: number, special: Record<number, string>): string {
  const rows = ['CODE,NAME', ...Array.from({ length: n }, (_, i) => `A-${String(i + 1).padStart(7, '0')},Zahnrad Getriebe ${i + 1}`)];
  for (const [line, text] of Object.entries(special)) rows[Number(line) - 1] = text;
  return rows.join('\n') + '\n';
}

/** The error lines (Error: and Hint:) of a command's stderr. */
function errorOf(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => /^(Error|Hint):/.test(l))
    .join('\n');
}

function expectSameRefusal(dir: string, pattern: RegExp): void {
  const v = runCli(['validate', 'forklift.yaml'], { cwd: dir });
  const p = runCli(['preview', 'items.yaml', '-n', '5'], { cwd: dir });
  expect(v.code, v.stderr).toBe(2);
  expect(errorOf(v.stderr)).toMatch(pattern);
  expect(p.code, p.stdout + p.stderr).toBe(2);
  expect(errorOf(p.stderr)).toBe(errorOf(v.stderr));
  expect(p.stdout).not.toContain('A-0000001');
  expect(p.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  const j = runCli(['preview', 'items.yaml', '-n', '5', '--json'], { cwd: dir });
  expect(j.code).toBe(2);
  expect((JSON.parse(j.stdout) as { ok: boolean; error: { message: string } }).error.message).toBe(errorOf(v.stderr).split('\n')[0]!.replace(/^Error: /, ''));
}

describe('preview of a CSV over 64 KiB with the wrong encoding: validate\'s answer', () => {
  it('a UTF-8 file named windows-1252, its umlaut in the rows shown: refused as validate refuses it, no mojibake', () => {
    const dir = project(Buffer.from(csv(20_000, { 4: 'A-0000003,Müller Getriebe' }), 'utf8'), 'windows-1252');
    expectSameRefusal(dir, /^Error: parts\.csv is read as windows-1252 \(encoding: in the mapping\), but it is UTF-8: line 4 holds "Müller", which windows-1252 reads as "MÃ¼ller"\nHint: .*allow_valid_utf8: true/);
  });

  it('a UTF-8 file named windows-1252, its first umlaut past the rows shown and past 64 KiB: refused too', () => {
    const dir = project(Buffer.from(csv(20_000, { 15_001: 'A-0015000,Müller Getriebe' }), 'utf8'), 'windows-1252');
    expectSameRefusal(dir, /^Error: parts\.csv is read as windows-1252 \(encoding: in the mapping\), but it is UTF-8: line 15001 holds "Müller"/);
  });

  it('a Windows-1252 file named utf-8, its first ü past the rows shown: refused with its line', () => {
    const dir = project(Buffer.from(csv(20_000, { 15_001: 'A-0015000,Müller Getriebe' }), 'latin1'), 'utf-8');
    expectSameRefusal(dir, /^Error: parts\.csv:15001 is not valid UTF-8\n/);
  });

  it('a byte Windows-1252 leaves undefined past the rows shown: refused with its line', () => {
    const bytes = Buffer.from(csv(20_000, { 15_001: 'A-0015000,Zahnrad X' }), 'latin1');
    bytes[bytes.indexOf('Zahnrad X') + 8] = 0x81;
    const dir = project(bytes, 'windows-1252');
    expectSameRefusal(dir, /^Error: parts\.csv:15001 is read as windows-1252, but holds byte 0x81/);
  });

  it('a UTF-8 JSON Lines file named windows-1252: refused as validate refuses it', () => {
    const dir = project(Buffer.from(csv(20_000, { 4: 'A-0000003,Müller Getriebe' }), 'utf8'), 'windows-1252');
    const lines = csv(5_000, { 4: 'A-0000003,Müller Getriebe' }).trimEnd().split('\n').slice(1).map((l) => JSON.stringify({ CODE: l.split(',')[0], NAME: l.split(',')[1] }));
    writeFileSync(path.join(dir, 'parts.jsonl'), lines.join('\n') + '\n');
    writeFileSync(path.join(dir, 'items.yaml'), readFileSync(path.join(dir, 'items.yaml'), 'utf8').replace('format: csv, path: parts.csv', 'format: jsonl, path: parts.jsonl'));
    expectSameRefusal(dir, /^Error: parts\.jsonl is read as windows-1252 \(encoding: in the mapping\), but it is UTF-8: line 3 holds "Müller"/);
  });

  it('the same file really in Windows-1252 (and UTF-8 named utf-8): the same text as validate loads, no warning', () => {
    const text = csv(20_000, { 4: 'A-0000003,Müller Getriebe' });
    for (const [bytes, encoding] of [
      [Buffer.from(text, 'latin1'), 'windows-1252'],
      [Buffer.from(text, 'utf8'), 'utf-8'],
    ] as const) {
      const dir = project(bytes, encoding);
      const p = runCli(['preview', 'items.yaml', '-n', '5'], { cwd: dir });
      expect(p.code, p.stderr).toBe(0);
      expect(p.stdout).toMatch(/A-0000003\s+Müller Getriebe/);
      expect(p.stderr).toBe('');
      expect(runCli(['validate', 'forklift.yaml'], { cwd: dir }).code).toBe(0);
    }
  });

  it('a file larger than preview checks (64 MiB), valid UTF-8 so far, named windows-1252: the rows with a warning naming the refusal to come', () => {
    const head = csv(20, { 4: 'A-0000003,Müller Getriebe' });
    const filler = Buffer.alloc(66 * 1024 * 1024, 'A-9,Zahnrad\n');
    const dir = project(Buffer.concat([Buffer.from(head, 'utf8'), filler]), 'windows-1252');
    const p = runCli(['preview', 'items.yaml', '-n', '5'], { cwd: dir });
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/A-0000003/);
    expect(p.stderr).toMatch(
      /^Warning: preview read the first 64 MiB of 66 MiB and found only valid UTF-8: the rows above may be wrong text\. validate reads the whole file and, if the rest is UTF-8 too, refuses it: parts\.csv is read as windows-1252 \(encoding: in the mapping\), but it is UTF-8: line 4 holds "Müller", which windows-1252 reads as "MÃ¼ller"\nHint: set encoding: utf-8/,
    );
    const j = runCli(['preview', 'items.yaml', '-n', '5', '--json'], { cwd: dir });
    expect(j.code).toBe(0);
    const json = JSON.parse(j.stdout) as { warning?: string; rows: unknown[] };
    expect(json.rows).toHaveLength(5);
    expect(json.warning).toMatch(/line 4 holds "Müller"/);
  });
});
