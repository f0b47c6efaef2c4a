import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import iconv from 'iconv-lite';
import { describe, expect, it } from 'vitest';
import { SourceError } from '../../../src/core/errors.js';
import { InvalidUtf8Error, UndefinedByteError, Utf8ReadAsSingleByteError, detectEncoding, resolveEncoding, toUtf8 } from '../../../src/sources/encoding.js';
import { HAS_SHARED, SHARED } from '../../helpers.js';

/** `text` in `encoding` as the iconv program writes it (not through the library under test). */
function iconvBytes(text: string, encoding: string): Buffer {
  return execFileSync('iconv', ['-f', 'utf-8', '-t', encoding], { input: text });
}

async function collect(chunks: Buffer[], enc: { encoding: string; bomLength: number; refuseValidUtf8?: boolean }): Promise<string> {
  async function* gen(): AsyncGenerator<Buffer> {
    yield* chunks;
  }
  const out: Buffer[] = [];
  for await (const c of toUtf8(gen(), enc)) out.push(c);
  return Buffer.concat(out).toString('utf8');
}

describe('detectEncoding', () => {
  it('trusts a BOM first', () => {
    expect(detectEncoding(Buffer.from([0xef, 0xbb, 0xbf, 0x61]), true)).toEqual({ encoding: 'utf-8', bomLength: 3 });
    expect(detectEncoding(Buffer.from([0xff, 0xfe, 0x61, 0x00]), true)).toEqual({ encoding: 'utf-16le', bomLength: 2 });
    expect(detectEncoding(Buffer.from([0xfe, 0xff, 0x00, 0x61]), true)).toEqual({ encoding: 'utf-16be', bomLength: 2 });
  });

  it('takes valid UTF-8 as UTF-8, also when the sample ends inside a character', () => {
    const text = Buffer.from('Größe;Preis\nMüller;12 €\n', 'utf8');
    expect(detectEncoding(text, true).encoding).toBe('utf-8');
    const cut = text.subarray(0, text.indexOf(Buffer.from('€')) + 1); // first byte of €
    expect(detectEncoding(cut, false).encoding).toBe('utf-8');
  });

  it('reads Latin-1 as Windows-1252', () => {
    const bytes = iconv.encode('Artikel;Bezeichnung\n4711;Größenadapter für Müller, Düsseldorf\n4712;Schlüssel\n', 'latin1');
    expect(detectEncoding(bytes, true).encoding).toBe('windows-1252');
  });

  it('reads short Western Windows-1252 files as Windows-1252, not as the ISO-8859-2 chardet guesses', () => {
    expect(detectEncoding(iconv.encode('code,desc\n1,Café crème\n2,Señor Niño\n', 'windows-1252'), true).encoding).toBe('windows-1252');
    const words = ['Café crème', 'Señor Niño', 'Pièce détachée', 'Crème brûlée', 'Garçon', 'Éclair', 'Mañana', 'Année', 'Déjà vu', 'Façade', 'Über Größe'];
    const misread: string[] = [];
    for (let k = 0; k < 300; k++) {
      const rows = ['code,desc', ...Array.from({ length: 2 + (k % 30) }, (_, i) => `${i},${words[(i * 7 + k) % words.length]}`)];
      const got = detectEncoding(iconv.encode(rows.join('\n') + '\n', 'windows-1252'), true).encoding;
      if (got !== 'windows-1252') misread.push(`${k}: ${got}`);
    }
    expect(misread).toEqual([]);
  });

  it('refuses short CJK legacy files it cannot tell apart, rather than reading them as Windows-1252', () => {
    const cases = [
      ['物料编号,名称\nA-1,齿轮\n', 'gb18030', 1],
      ['CODE,NAME\nA-1,齿轮\nA-2,轴承\n', 'gb18030', 2],
      ['CODE,NAME\nA-1,歯車\nA-2,軸受\n', 'shift_jis', 2],
      ['CODE,NAME\nA-1,齒輪\n', 'big5', 2],
      ['CODE,NAME\nA-1,기어\n', 'euc-kr', 2],
      ['CODE,NAME\nA-1,歯車\n', 'euc-jp', 2],
    ] as const;
    for (const [text, encoding, line] of cases) {
      const err = (() => {
        try {
          return detectEncoding(iconvBytes(text, encoding), true, 'parts.csv');
        } catch (e) {
          return e;
        }
      })();
      expect(err, `${encoding}: ${text}`).toBeInstanceOf(SourceError);
      const e = err as SourceError;
      expect(e.message).toContain(`parts.csv: encoding: auto cannot tell which encoding the file is in: line ${line} is no Western text`);
      // The user sees the line read the right way among the readings.
      expect(e.message).toContain(`${encoding}: ${JSON.stringify(text.split('\n')[line - 1])}`);
      expect(e.hint).toMatch(/set encoding: in the mapping/);
    }
  });

  it('recognises a CJK legacy file once chardet finds its common characters', () => {
    const zh = ['齿轮', '轴承', '螺栓', '螺母', '垫圈', '电机', '减速器', '联轴器', '法兰', '密封圈'];
    const ja = ['歯車', '軸受', 'ボルト', 'ナット', 'ワッシャー', 'モーター', '減速機', 'カップリング', 'フランジ', 'ばね'];
    const rows = (words: string[]): string => ['CODE,NAME', ...Array.from({ length: 200 }, (_, i) => `A-${i},${words[i % words.length]}${words[(i * 7) % words.length]}`)].join('\n') + '\n';
    expect(detectEncoding(iconvBytes(rows(zh), 'gb18030'), true).encoding).toBe('gb18030');
    expect(detectEncoding(iconvBytes(rows(ja), 'shift_jis'), true).encoding).toBe('shift_jis');
  });

  it('keeps reading Western text whose high bytes are letters inside words or lone symbols as Windows-1252', () => {
    for (const text of ['id,desc\n1,informação técnica\n2,Ações\n', 'id,price\n1,12,50 €\n2,© 2024\n', 'id,desc\n1,GRÖẞE\n'.replace('ẞ', 'SS'), 'id,q\n1,±0,5 mm²\n2,«Größe»\n']) {
      expect(detectEncoding(iconvBytes(text, 'windows-1252'), true, 'x.csv').encoding, text).toMatch(/^windows-125[24]$/);
    }
  });

  it.skipIf(!HAS_SHARED)('detects the real single-byte files of the shared data as before', () => {
    const expected: Record<string, string> = {
      'chardet/windows-1252_github_bug_9.txt': 'windows-1252',
      'frictionless/latin1.csv': 'windows-1252',
      'frictionless/table-with-accents.csv': 'windows-1252',
      'frictionless/table-infer-iso-8859-7.csv': 'iso-8859-7',
      'messytables/spanish_chars.csv': 'windows-1252',
      'messytables/sparse_with_column_errors.csv': 'windows-1252',
      'csvkit/test_latin1.csv': 'windows-1254',
    };
    for (const [file, encoding] of Object.entries(expected)) {
      const bytes = readFileSync(path.join(SHARED, file));
      expect(detectEncoding(bytes.subarray(0, 65536), bytes.length <= 65536, file).encoding, file).toBe(encoding);
    }
  });

  it('recognises UTF-16 without a BOM', () => {
    expect(detectEncoding(iconv.encode('id,name\n1,Bolt\n', 'utf-16le'), true).encoding).toBe('utf-16le');
    expect(detectEncoding(iconv.encode('id,name\n1,Bolt\n', 'utf-16be'), true).encoding).toBe('utf-16be');
  });
});

describe('resolveEncoding', () => {
  const sample = Buffer.from([0xef, 0xbb, 0xbf, 0x61, 0x62]);
  it('uses the mapping encoding and strips its own BOM', () => {
    expect(resolveEncoding('UTF-8', sample, true, 'x.csv')).toEqual({ encoding: 'utf-8', bomLength: 3, explicit: true });
    // A UTF-8 mark before plain ASCII: refused, naming the mark (read as Windows-1252 it is ï»¿).
    expect(() => resolveEncoding('windows-1252', sample, true, 'x.csv')).toThrow(/but it starts with a UTF-8 byte-order mark: it is UTF-8$/);
    expect(() => resolveEncoding('windows-1252', sample, false, 'x.csv')).toThrow(/byte-order mark/);
    expect(resolveEncoding('windows-1252', sample, true, 'x.csv', { allowValidUtf8: true })).toEqual({ encoding: 'windows-1252', bomLength: 0, explicit: true });
    expect(resolveEncoding('auto', sample, true, 'x.csv')).toEqual({ encoding: 'utf-8', bomLength: 3 });
  });

  it('refuses a file named ISO-8859-1 (Latin-1) that holds bytes 0x80-0x9F, its control characters', () => {
    const bytes = iconv.encode('code,desc\n1,Preis 5 €\n', 'windows-1252');
    for (const name of ['latin1', 'iso-8859-1', 'ISO-8859-15']) {
      try {
        resolveEncoding(name, bytes, true, 'x.csv');
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(SourceError);
        const err = e as SourceError;
        expect(err.code).toBe('source.encoding');
        expect(err.message).toContain('line 2 holds byte 0x80');
        expect(err.message).toContain('("€" in Windows-1252)');
        expect(err.hint).toContain('encoding: windows-1252');
      }
    }
    // Latin-1 letters alone are fine.
    expect(resolveEncoding('latin1', iconv.encode('1,Café\n', 'latin1'), true, 'x.csv').encoding).toBe('latin1');
  });

  it('refuses a UTF-8 file read whole that is named windows-1252, latin1 or iso-8859-15, naming the line and the word both ways', () => {
    const utf8 = Buffer.from('CODE,NAME\nA-1,Zahnrad\nA-2,Müller GmbH\n', 'utf8');
    for (const name of ['windows-1252', 'latin1', 'ISO-8859-1', 'iso-8859-15', 'cp1252']) {
      const err = (() => {
        try {
          return resolveEncoding(name, utf8, true, 'items.csv');
        } catch (e) {
          return e;
        }
      })();
      expect(err, name).toBeInstanceOf(SourceError);
      const e = err as SourceError;
      const lower = name.toLowerCase();
      expect(e.message).toBe(`items.csv is read as ${lower} (encoding: in the mapping), but it is UTF-8: line 3 holds "Müller", which ${lower} reads as ${JSON.stringify(iconv.decode(Buffer.from('Müller'), lower))}`);
      expect(e.location).toEqual({ file: 'items.csv', line: 3 });
      expect(e.hint).toMatch(/set encoding: utf-8 .*allow_valid_utf8: true/);
    }
    // allow_valid_utf8 insists; a multi-byte encoding, ASCII only, or real Windows-1252 bytes are not refused.
    expect(resolveEncoding('windows-1252', utf8, true, 'items.csv', { allowValidUtf8: true })).toEqual({ encoding: 'windows-1252', bomLength: 0, explicit: true });
    expect(resolveEncoding('utf-8', utf8, true, 'items.csv').encoding).toBe('utf-8');
    expect(resolveEncoding('windows-1252', Buffer.from('CODE\nA-1\n'), true, 'items.csv').encoding).toBe('windows-1252');
    expect(resolveEncoding('windows-1252', iconvBytes('CODE\nMüller\n', 'windows-1252'), true, 'items.csv').encoding).toBe('windows-1252');
    // With a UTF-8 BOM the quote is the word, not the invisible mark.
    expect(() => resolveEncoding('windows-1252', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8]), true, 'items.csv')).toThrow(/line 3 holds "Müller"/);
    // A partial sample: the stream checks the rest of the file.
    expect(resolveEncoding('windows-1252', utf8, false, 'items.csv')).toEqual({ encoding: 'windows-1252', bomLength: 0, explicit: true, refuseValidUtf8: true });
  });

  it('rejects an unknown encoding with a hint', () => {
    try {
      resolveEncoding('klingon', sample, true, 'x.csv');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SourceError);
      expect((e as SourceError).code).toBe('source.encoding');
      expect((e as SourceError).location).toEqual({ file: 'x.csv' });
      expect((e as SourceError).hint).toMatch(/utf-8, windows-1252/);
    }
  });
});

describe('toUtf8', () => {
  it('decodes across chunk boundaries that split a character', async () => {
    const bytes = iconv.encode('ab€c東京', 'utf-16le');
    const chunks = [bytes.subarray(0, 3), bytes.subarray(3, 5), bytes.subarray(5)];
    expect(await collect(chunks, { encoding: 'utf-16le', bomLength: 0 })).toBe('ab€c東京');
  });

  it('drops the BOM even when it is split between chunks', async () => {
    const bytes = Buffer.from('\uFEFFid\n', 'utf8');
    expect(await collect([bytes.subarray(0, 1), bytes.subarray(1)], { encoding: 'utf-8', bomLength: 3 })).toBe('id\n');
  });

  it('maps Windows-1252 C1 bytes to their letters', async () => {
    expect(await collect([Buffer.from([0x80, 0x84, 0x93, 0x94, 0x96])], { encoding: 'windows-1252', bomLength: 0 })).toBe('€„“”–');
  });

  it('checks UTF-8 and reports the offset of the first bad byte, across chunks', async () => {
    const good = Buffer.from('aé€😀b', 'utf8');
    // every split point of a valid text passes
    for (let i = 0; i <= good.length; i++) {
      expect(await collect([good.subarray(0, i), good.subarray(i)], { encoding: 'utf-8', bomLength: 0 })).toBe('aé€😀b');
    }
    const bad = Buffer.concat([Buffer.from('abc\n', 'utf8'), Buffer.from([0x66, 0xfc, 0x72])]);
    const err = await collect([bad.subarray(0, 2), bad.subarray(2)], { encoding: 'utf-8', bomLength: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidUtf8Error);
    expect((err as InvalidUtf8Error).offset).toBe(5);
    const cut = await collect([Buffer.from([0x61, 0xe2, 0x82])], { encoding: 'utf-8', bomLength: 0 }).catch((e: unknown) => e);
    expect((cut as InvalidUtf8Error).offset).toBe(1);
  });

  it('named single-byte: refuses at the end a file all valid UTF-8, at its first multi-byte sequence, however the chunks split it', async () => {
    const enc = { encoding: 'windows-1252', bomLength: 0, refuseValidUtf8: true };
    const text = Buffer.from(`${'A-1,Zahnrad\n'.repeat(1000)}A-2,Müller\nA-3,Größe\n`, 'utf8');
    const at = text.indexOf(Buffer.from('ü'));
    for (const cut of [1, at, at + 1, at + 2, text.length - 1]) {
      const err = await collect([text.subarray(0, cut), text.subarray(cut)], enc).catch((e: unknown) => e);
      expect(err, `cut at ${cut}`).toBeInstanceOf(Utf8ReadAsSingleByteError);
      expect((err as Utf8ReadAsSingleByteError).offset).toBe(at);
    }
    // Real Windows-1252 bytes (its first umlaut far down), ASCII only, a cut-off sequence at the end: read as named.
    const cp1252 = iconvBytes(`${'A-1,Zahnrad\n'.repeat(1000)}A-2,Müller\n`, 'windows-1252');
    expect(await collect([cp1252.subarray(0, 5000), cp1252.subarray(5000)], enc)).toBe(`${'A-1,Zahnrad\n'.repeat(1000)}A-2,Müller\n`);
    expect(await collect([Buffer.from('A-1\n')], enc)).toBe('A-1\n');
    expect(await collect([Buffer.from([0x41, 0xc3])], enc)).toBe('AÃ');
  });

  it('stops at a byte the encoding leaves undefined rather than yield U+FFFD; encodings that hold U+FFFD pass it', async () => {
    for (const [bytes, encoding] of [
      [Buffer.from('A,M\x81ller\n', 'latin1'), 'windows-1252'],
      [Buffer.from('A,\x9D\n', 'latin1'), 'windows-1252'],
      [Buffer.from([0x41, 0x2c, 0x82, 0x20]), 'shift_jis'],
      [Buffer.from([0x41, 0x2c, 0xa4]), 'big5'], // a lead byte the file ends after
    ] as const) {
      const err = await collect([bytes.subarray(0, 3), bytes.subarray(3)], { encoding, bomLength: 0 }).catch((e: unknown) => e);
      expect(err, `${encoding} ${bytes.toString('hex')}`).toBeInstanceOf(UndefinedByteError);
    }
    expect(await collect([Buffer.from('\uFFFD\n', 'utf8')], { encoding: 'utf-8', bomLength: 0 })).toBe('\uFFFD\n');
    expect(await collect([iconv.encode('a\uFFFD', 'utf-16le')], { encoding: 'utf-16le', bomLength: 0 })).toBe('a\uFFFD');
    expect(await collect([iconvBytes('齿轮\uFFFD', 'gb18030')], { encoding: 'gb18030', bomLength: 0 })).toBe('齿轮\uFFFD');
  });

  it('stops UTF-16 at half a surrogate pair, with its line, where it became U+FFFD unnoticed', async () => {
    // A pair split across chunks is whole, and passes.
    const emoji = iconv.encode('a\r\nb😀c', 'utf-16le');
    for (let i = 0; i <= emoji.length; i++) expect(await collect([emoji.subarray(0, i), emoji.subarray(i)], { encoding: 'utf-16le', bomLength: 0 })).toBe('a\r\nb😀c');
    for (const [text, line] of [['id\r\nA1,ok\r\nA2,bad \ud800 end\r\n', 3], ['x\ry\n\udc00', 3], ['\ud83d', 1]] as const) {
      const bytes = Buffer.alloc(text.length * 2);
      for (let i = 0; i < text.length; i++) bytes.writeUInt16LE(text.charCodeAt(i), i * 2);
      const err = await collect([bytes.subarray(0, 7), bytes.subarray(7)], { encoding: 'utf-16le', bomLength: 0 }).catch((e: unknown) => e);
      expect(err, JSON.stringify(text)).toBeInstanceOf(InvalidUtf8Error);
      expect((err as InvalidUtf8Error).illFormed).toEqual({ encoding: 'UTF-16LE', line });
    }
  });
});
