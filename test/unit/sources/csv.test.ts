import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ARGUMENT_NAMING } from '../../../src/sources/common.js';
import { openSource, sniffDelimiter } from '../../../src/sources/index.js';
import { fixture, readAll, sourceError } from './read-all.js';

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
const csv = (name: string, extra: Record<string, unknown> = {}) => ({ format: 'csv' as const, path: fixture(name), ...extra });

describe('csv: encodings, preamble and header_row', () => {
  it('reads Windows-1252 text with a preamble above header_row', async () => {
    const { source, records } = await readAll(csv('latin1.csv', { header_row: 3 }));
    expect(source.detected).toEqual({ encoding: 'windows-1252', delimiter: ';' });
    expect(source.header).toEqual(['Artikel', 'Bezeichnung', 'Menge', 'Preis']);
    expect(records).toEqual([
      { line: 4, cells: ['4711', 'Schraube M6 „verzinkt“', '1.250', '0,12 €'] },
      { line: 5, cells: ['4712', 'Größenadapter Ø 20', '3', '12,50 €'] },
      { line: 6, cells: ['4713', 'Müller & Söhne', '', ''] },
    ]);
    expect(source.positionKind).toBe('line');
    expect(source.label).toBe(path.relative(process.cwd(), fixture('latin1.csv')));
    expect(source.sha256).toBe(sha256(fixture('latin1.csv')));
  });

  it('honours an explicit encoding, even a wrong one, but not Latin-1 for a file with its control characters', async () => {
    const { source, records } = await readAll(csv('latin1.csv', { header_row: 3, encoding: 'windows-1250' }));
    expect(source.detected.encoding).toBe('windows-1250');
    expect(records[1]?.cells[1]).toBe('Größenadapter Ř 20');
    // Latin-1 proper has no € at 0x80: a U+0080 would load in its place, so the file is refused.
    const e = await sourceError(() => readAll(csv('latin1.csv', { header_row: 3, encoding: 'latin1' })));
    expect(e.code).toBe('source.encoding');
    expect(e.message).toMatch(/line \d+ holds byte 0x\w\w, an invisible control character in latin1/);
  });

  it('stops at a Latin-1 byte beyond the sample that made it assume UTF-8, naming the line', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'forklift-csv-'));
    const file = path.join(dir, 'late-latin1.csv');
    const head = 'sku,desc\n' + Array.from({ length: 5000 }, (_, i) => `A${i},Schraube M${i % 20} für Stahl`).join('\n') + '\n';
    writeFileSync(file, Buffer.concat([Buffer.from(head, 'utf8'), Buffer.from('B1,Gr\xf6\xdfe 3\nB2,x\n', 'latin1')]));
    const source = await openSource({ format: 'csv', path: file });
    expect(source.detected.encoding).toBe('utf-8');
    const e = await sourceError(async () => {
      for await (const _ of source.batches()) void _;
    });
    expect(e.code).toBe('source.encoding');
    expect(e.location?.line).toBe(5002);
    expect(e.hint).toContain('windows-1252');
    // Given the right encoding, the same file reads to the end.
    const { records } = await readAll({ format: 'csv', path: file, encoding: 'windows-1252' });
    expect(records.at(-2)).toEqual({ line: 5002, cells: ['B1', 'Größe 3'] });
    expect(records[1]?.cells[1]).toBe('Schraube M1 fÃ¼r Stahl');
  });

  it('UTF-8 characters split between read chunks are fine', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'forklift-csv-'));
    const file = path.join(dir, 'utf8-long.csv');
    const rows = Array.from({ length: 20_000 }, (_, i) => `${i},Ärger € 東京 ${'ß'.repeat(i % 7)}`);
    writeFileSync(file, 'id,text\n' + rows.join('\n') + '\n');
    const { records } = await readAll({ format: 'csv', path: file });
    expect(records).toHaveLength(20_000);
    expect(records.every((r) => r.cells[1] === `Ärger € 東京 ${'ß'.repeat(Number(r.cells[0]) % 7)}`)).toBe(true);
  });

  it('rejects an unknown encoding name with examples', async () => {
    const e = await sourceError(() => openSource(csv('latin1.csv', { encoding: 'latin-9000' })));
    expect(e.code).toBe('source.encoding');
    expect(e.message).toContain("'latin-9000'");
    expect(e.hint).toContain('windows-1252');
    expect(e.hint).toContain('utf-16le');
  });

  it('reads UTF-16LE with a BOM', async () => {
    const { source, records } = await readAll(csv('utf16le.csv'));
    expect(source.detected.encoding).toBe('utf-16le');
    expect(source.header).toEqual(['code', 'name']);
    expect(records).toEqual([
      { line: 2, cells: ['A1', 'Ærøskøbing'] },
      { line: 3, cells: ['B2', '東京'] },
    ]);
  });

  it('header_row beyond the end of the file names the line count', async () => {
    const e = await sourceError(() => openSource(csv('latin1.csv', { header_row: 7 })));
    expect(e.code).toBe('source.header-row');
    expect(e.message).toBe(`header_row is 7 but ${path.relative(process.cwd(), fixture('latin1.csv'))} has only 6 lines`);
    const e2 = await sourceError(() => openSource(csv('ragged.csv', { header_row: 40 })));
    expect(e2.message).toMatch(/has only 6 lines$/);
  });

  it('rejects a header_row that is not a positive whole number', async () => {
    const e = await sourceError(() => openSource(csv('ragged.csv', { header_row: 0 })));
    expect(e.code).toBe('source.header-row');
  });
});

describe('csv: line endings, quotes and line numbers', () => {
  it('gives the start line of records with quoted LF and CRLF newlines', async () => {
    const { records } = await readAll(csv('quoted-newlines.csv'));
    expect(records).toEqual([
      { line: 2, cells: ['1', 'line one\nline two', '3'] },
      { line: 4, cells: ['2', 'he said "hi"', '4'] },
      { line: 5, cells: ['3', 'a\r\nb\r\nc', '5'] },
      { line: 8, cells: ['4', 'plain', '6'] },
    ]);
  });

  it('skips and counts blank and whitespace-only lines with CRLF endings', async () => {
    const { source, records } = await readAll(csv('crlf.csv'));
    expect(source.header).toEqual(['item', 'desc', 'qty']);
    expect(records).toEqual([
      { line: 2, cells: ['A-1', 'Bolt', '5'] },
      { line: 4, cells: ['A-2', 'Nut, hex', '7'] },
      { line: 6, cells: ['A-3', 'Washer'] },
    ]);
    expect(source.skippedBlank).toBe(3);
  });

  it('reads old-Mac CR-only line endings, with a CR inside quotes', async () => {
    const { records } = await readAll(csv('cr-only.csv'));
    expect(records).toEqual([
      { line: 2, cells: ['1', 'one\rtwo'] },
      { line: 4, cells: ['2', 'three'] },
    ]);
  });

  it('lets ragged rows through unpadded for the mapping to judge', async () => {
    const { source, records } = await readAll(csv('ragged.csv'));
    expect(source.header).toEqual(['a', 'b', 'c']);
    expect(records.map((r) => [r.line, r.cells])).toEqual([
      [2, ['1', '2', '3']],
      [3, ['4', '5']],
      [4, ['6', '7', '8', '9']],
      [6, ['10']],
    ]);
    expect(source.skippedBlank).toBe(1); // the ",," line
  });

  it('keeps a stray inch mark in an unquoted field as text', async () => {
    const { records } = await readAll(csv('inch-quotes.csv'));
    expect(records.map((r) => r.cells[1])).toEqual(['Pipe 5" steel', 'quoted "inch"']);
  });

  it('names the line where a never-closed quote opened', async () => {
    const source = await openSource(csv('unclosed-quote.csv'));
    expect(source.header).toEqual(['id', 'text']);
    const seen: number[] = [];
    const e = await sourceError(async () => {
      for await (const b of source.batches()) seen.push(...b.map((r) => r.line));
    });
    expect(seen).toEqual([2]);
    expect(e.code).toBe('source.quote');
    expect(e.location).toEqual({ file: path.relative(process.cwd(), fixture('unclosed-quote.csv')), line: 3 });
    expect(e.hint).toContain('line 3');
    expect(source.sha256).toBeUndefined();
  });

  it('keeps cells exactly as read and trims only the header', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'forklift-csv-'));
    const file = path.join(dir, 'spaces.csv');
    writeFileSync(file, ' id , name ,,name\n  1 , Bolt ,x,\n');
    const { source, records } = await readAll({ format: 'csv', path: file });
    expect(source.header).toEqual(['id', 'name', '', 'name']);
    expect(records).toEqual([{ line: 2, cells: ['  1 ', ' Bolt ', 'x', ''] }]);
  });

  it('finds the header below blank lines at header_row', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'forklift-csv-'));
    const file = path.join(dir, 'blank-top.csv');
    writeFileSync(file, '\n\n,,\nsku,qty\nA,1\n');
    const { source, records } = await readAll({ format: 'csv', path: file });
    expect(source.header).toEqual(['sku', 'qty']);
    expect(records).toEqual([{ line: 5, cells: ['A', '1'] }]);
    expect(source.skippedBlank).toBe(0);
  });
});

describe('csv: delimiters', () => {
  it('breaks a tie by the header line: as many decimal commas as semicolons in every row', () => {
    const rows = ['ARTIKEL;MENGE;WERT;PREIS', ...Array.from({ length: 39 }, (_, i) => `A${i + 1};${i + 1},5;${(i + 1) * 3},25;1,99`)];
    expect(sniffDelimiter(rows.join('\n') + '\n', true)).toBe(';');
    // and the other way round: a comma header with decimal points and one ';' in every row
    expect(sniffDelimiter(['a,b', '1;2,3', '4;5,6'].join('\n') + '\n', true)).toBe(',');
  });

  it.each([
    ['semicolon.csv', ';', ['4711', '0,12', 'a;b']],
    ['tab.tsv', '\t', ['1', 'Bolt, M6', '5']],
    ['pipe.psv', '|', ['1', 'Bolt; M6', '5']],
    ['quoted-newlines.csv', ',', ['1', 'line one\nline two', '3']],
  ])('sniffs %s as %j', async (name, delimiter, first) => {
    const { source, records } = await readAll(csv(name));
    expect(source.detected.delimiter).toBe(delimiter);
    expect(records[0]?.cells).toEqual(first);
  });

  it('honours an explicit delimiter and accepts "tab"', async () => {
    const { source, records } = await readAll(csv('semicolon.csv', { delimiter: ',' }));
    expect(source.detected.delimiter).toBe(',');
    expect(source.header).toEqual(['Artikel;Preis;Text']);
    expect(records[1]?.cells).toEqual(['4712;1.234', '50;Schraube', ' verzinkt']);
    const tab = await readAll(csv('tab.tsv', { delimiter: 'tab' }));
    expect(tab.source.detected.delimiter).toBe('\t');
  });

  it('rejects a delimiter of more than one character', async () => {
    const e = await sourceError(() => openSource(csv('tab.tsv', { delimiter: ';;' })));
    expect(e.code).toBe('source.delimiter');
  });

  it('sniffs by consistency, not by count', () => {
    // Decimal commas vary per line; the semicolons are the same on every line.
    expect(sniffDelimiter('a;b;c\n1,5;2;3,25\n4;5,5;6\n', true)).toBe(';');
    // One comma in every name but three semicolons on every line: the larger consistent count wins.
    expect(sniffDelimiter('name;a;b;c\nSmith, J;1;2;3\nDoe, A;4;5;6\n', true)).toBe(';');
    // Delimiters inside quotes do not count.
    expect(sniffDelimiter('a|b\n"x,y,z"|1\n"p,q"|2\n', true)).toBe('|');
    // A single column: the default.
    expect(sniffDelimiter('sku\nA\nB\n', true)).toBe(',');
  });

  it('prefers the delimiter the header has as often as the rows over a larger count it lacks', () => {
    // Tabs between the columns, three commas in every description, none in the header.
    const rows = ['ITEMNO\tDESCRIPTION\tUOM', ...Array.from({ length: 50 }, (_, i) => `S-${i}\tScrew, hex, M${(i % 12) + 3}, zinc plated\tPCS`)];
    expect(sniffDelimiter(rows.join('\n') + '\n', true)).toBe('\t');
    // Both in the header as in the rows: the larger count still wins.
    expect(sniffDelimiter('a,b;c,d;e\n1,2;3,4;5\n6,7;8,9;0\n', true)).toBe(',');
  });
});

describe('csv: files that are not CSV', () => {
  it('a missing file says path: is relative to the mapping file', async () => {
    const e = await sourceError(() => openSource(csv('nope.csv')));
    expect(e.code).toBe('source.missing');
    expect(e.location?.file).toBe(path.relative(process.cwd(), fixture('nope.csv')));
    expect(e.hint).toMatch(/relative to the mapping file/);
    expect(e.exitCode).toBe(2);
  });

  it('a file named on the command line is hinted as the path given, not as a mapping key', async () => {
    const missing = await sourceError(() => openSource(csv('nope.csv'), { naming: ARGUMENT_NAMING }));
    expect(missing.hint).toBe('check the path given: it is relative to the current folder');
    const folder = await sourceError(() => openSource({ format: 'csv', path: path.dirname(fixture('empty.csv')) }, { naming: ARGUMENT_NAMING }));
    expect(folder.code).toBe('source.not-a-file');
    expect(folder.hint).toBe('name the data file itself, not a folder');
    const empty = await sourceError(() => openSource(csv('empty.csv'), { naming: ARGUMENT_NAMING }));
    expect(empty.hint).not.toMatch(/path:/);
    // A mapping's source keeps the mapping's words.
    const mapped = await sourceError(() => openSource({ format: 'csv', path: path.dirname(fixture('empty.csv')) }));
    expect(mapped.hint).toBe('point `path:` at the data file itself, not a folder');
  });

  it.each(['empty.csv', 'whitespace.csv'])('%s has no header row', async (name) => {
    const e = await sourceError(() => openSource(csv(name)));
    expect(e.code).toBe('source.empty');
    expect(e.message).toContain('has no header row');
  });

  it('a header-only file has zero records', async () => {
    const { source, records, batchSizes } = await readAll(csv('header-only.csv'));
    expect(source.header).toEqual(['sku', 'qty', 'price']);
    expect(records).toEqual([]);
    expect(batchSizes).toEqual([]);
    expect(source.sha256).toBe(sha256(fixture('header-only.csv')));
  });

  it('a PNG given as CSV asks whether it is an Excel file', async () => {
    const e = await sourceError(() => openSource(csv('binary.csv')));
    expect(e.code).toBe('source.binary');
    expect(e.message).toContain('PNG');
    expect(e.hint).toContain('use format: xlsx');
  });

  it('an xlsx given as CSV is recognised as a zip archive', async () => {
    const e = await sourceError(() => openSource({ format: 'csv', path: fixture('excel-dates.xlsx') }));
    expect(e.code).toBe('source.binary');
    expect(e.hint).toContain('use format: xlsx');
  });

  it('many NUL bytes early in the file are reported with their line', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'forklift-csv-')), 'nuls.csv');
    writeFileSync(file, Buffer.from('a,b\n1,2\n3,\u0000\u0000\u0000\u0000\u0000\n', 'latin1'));
    const e = await sourceError(() => openSource({ format: 'csv', path: file }));
    expect(e.code).toBe('source.binary');
    expect(e.location?.line).toBe(3);
  });

  it('a stray NUL early in the file reaches its row (which the mapping rejects), as a later one does', async () => {
    const source = await openSource(csv('nul.csv'));
    const records = [];
    for await (const b of source.batches()) records.push(...b);
    await source.close();
    expect(records.map((r) => r.cells)).toEqual([['1', '\u0000']]);
  });

  it('UTF-16 without a BOM is never read as text with NULs', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'forklift-csv-')), 'utf16.csv');
    // Mostly non-ASCII text: too few NULs for UTF-16 detection, too many for a stray NUL.
    writeFileSync(file, Buffer.from('id,name\n1,Ωμέγα Δέλτα Σίγμα\n2,Καλημέρα κόσμε\n3,Ελληνικά\n', 'utf16le'));
    const e = await sourceError(async () => {
      const s = await openSource({ format: 'csv', path: file });
      for await (const b of s.batches()) void b;
    });
    expect(e.code).toMatch(/^source\./);
  });

});

describe('csv: streaming', () => {
  it('yields bounded batches and reads the header without reading the file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'forklift-csv-'));
    const file = path.join(dir, 'big.csv');
    const lines = ['id,value'];
    for (let i = 1; i <= 2500; i++) lines.push(`${i},"v${i}"`);
    writeFileSync(file, lines.join('\n') + '\n');
    const source = await openSource({ format: 'csv', path: file }, { batchSize: 1000 });
    expect(source.header).toEqual(['id', 'value']);
    expect(source.sha256).toBeUndefined();
    const sizes: number[] = [];
    let last = 0;
    for await (const batch of source.batches()) {
      sizes.push(batch.length);
      for (const r of batch) {
        expect(r.line).toBe(Number(r.cells[0]) + 1);
        last = r.line;
      }
    }
    expect(sizes).toEqual([1000, 1000, 500]);
    expect(last).toBe(2501);
    expect(source.sha256).toBe(sha256(file));
    await source.close();
  });

  it('stops when the signal aborts', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'forklift-csv-'));
    const file = path.join(dir, 'abort.csv');
    writeFileSync(file, 'id\n' + Array.from({ length: 200_000 }, (_, i) => String(i)).join('\n'));
    const source = await openSource({ format: 'csv', path: file }, { batchSize: 100 });
    const ac = new AbortController();
    let batches = 0;
    await expect(
      (async () => {
        for await (const _ of source.batches(ac.signal)) {
          if (++batches === 3) ac.abort(new Error('stop'));
        }
      })(),
    ).rejects.toThrow('stop');
    expect(source.sha256).toBeUndefined();
  });

  it('close() before iterating releases the file', async () => {
    const source = await openSource(csv('crlf.csv'));
    await source.close();
    await source.close();
    expect(source.header).toEqual(['item', 'desc', 'qty']);
  });

  it('property: any table written as CSV reads back with its cells and start lines', async () => {
    const cell = fc.string({ unit: fc.constantFrom('a', 'b', ' ', ',', '"', '\n', '\r\n', 'é', '€', ';'), maxLength: 6 });
    const row = fc.array(cell, { minLength: 2, maxLength: 2 }).filter((r) => r.some((c) => c.trim() !== ''));
    const dir = mkdtempSync(path.join(tmpdir(), 'forklift-csv-prop-'));
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(row, { maxLength: 12 }), fc.constantFrom('\n', '\r\n', '\r'), async (rows, eol) => {
        const quote = (c: string): string => (/[",\r\n]/.test(c) || c === '' ? `"${c.replace(/"/g, '""')}"` : c);
        let line = 2;
        const expected: { line: number; cells: string[] }[] = [];
        let text = `x,y${eol}`;
        for (const r of rows) {
          expected.push({ line, cells: r });
          const rec = r.map(quote).join(',');
          text += rec + eol;
          line += 1 + (rec.match(/\r\n|\r|\n/g)?.length ?? 0);
        }
        const file = path.join(dir, `t${n++}.csv`);
        writeFileSync(file, text);
        const { records } = await readAll({ format: 'csv', path: file, delimiter: ',' }, { batchSize: 5 });
        expect(records).toEqual(expected);
      }),
      { numRuns: 150 },
    );
  });
});

describe('csv: a file that changes while it is read', () => {
  // A legacy export still being written when the run starts: the part read so far must not pass
  // for the whole file.
  const bigFile = (): string => {
    const dir = mkdtempSync(path.join(tmpdir(), 'forklift-csv-'));
    const file = path.join(dir, 'growing.csv');
    const lines = ['item,qty'];
    for (let i = 0; i < 40_000; i++) lines.push(`I-${i},${i}`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  };

  /** The error of a read during which `change` was done to the file, after the first batch. */
  const changedDuringRead = async (change: (file: string) => void) => {
    const file = bigFile();
    const source = await openSource({ format: 'csv', path: file });
    const e = await sourceError(async () => {
      let first = true;
      for await (const batch of source.batches()) {
        void batch;
        if (first) change(file);
        first = false;
      }
    });
    await source.close();
    return e;
  };

  it('fails naming the file when it shrinks during the read', async () => {
    const e = await changedDuringRead((file) => truncateSync(file, 100_000));
    expect(e.code).toBe('source.changed');
    expect(e.exitCode).toBe(1);
    expect(e.message).toMatch(/growing\.csv changed while it was read \(100000 bytes now, \d+ when reading began\)/);
    expect(e.hint).toMatch(/Nothing was loaded/);
  });

  it('fails when a line is appended during the read', async () => {
    const e = await changedDuringRead((file) => appendFileSync(file, 'I-late,1\n'));
    expect(e.code).toBe('source.changed');
  });

  it('reads a file that stays as it was to the end, with its hash', async () => {
    const file = bigFile();
    const { records, source } = await readAll({ format: 'csv', path: file });
    expect(records).toHaveLength(40_000);
    expect(source.sha256).toBe(sha256(file));
  });
});

describe('csv: a UTF-8 byte-order mark with a single-byte encoding named', () => {
  it('is refused naming the mark, even when the rest is plain ASCII', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'forklift-csv-'));
    const file = path.join(dir, 'bom.csv');
    writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('ITEMNO,NAME\nA-1,Pump\n')]));
    const e = await sourceError(() => readAll({ format: 'csv', path: file, encoding: 'windows-1252' }));
    expect(e.code).toBe('source.encoding');
    expect(e.message).toMatch(/bom\.csv is read as windows-1252 .*, but it starts with a UTF-8 byte-order mark: it is UTF-8$/);
    expect(e.hint).toMatch(/^set encoding: utf-8 \(or auto\)/);
    const { source } = await readAll({ format: 'csv', path: file });
    expect(source.header).toEqual(['ITEMNO', 'NAME']);
  });
});
