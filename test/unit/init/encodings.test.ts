import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, SourceError } from '../../../src/core/errors.js';
import { checkEncodingFiles, initEncodingRefusal, parseInitEncodings } from '../../../src/init/encodings.js';

const undecided = (file: string, candidates: string[]): SourceError =>
  new SourceError(`${file}: encoding: auto cannot tell which encoding the file is in`, { code: 'source.encoding', location: { file, line: 2 }, hint: 'set encoding: in the mapping', data: { candidates } });

describe('init --encoding values', () => {
  it('NAME for the files auto cannot decide, FILE=NAME for one file (relative to cwd), names lower-cased; auto is no name', () => {
    const e = parseInitEncodings(['GB18030', 'legacy/a b.csv=Shift_JIS', 'legacy/c.csv=auto'], '/p');
    expect(e.fallback).toBe('gb18030');
    expect([...e.files]).toEqual([[path.resolve('/p', 'legacy/a b.csv'), 'shift_jis']]);
    expect(parseInitEncodings(undefined)).toEqual({ files: new Map() });
  });

  it('refuses an unknown name, naming the flag; two different NAMEs; a FILE= with no file', () => {
    expect(() => parseInitEncodings(['gbk-ish'])).toThrow(/--encoding: unknown encoding 'gbk-ish'/);
    expect(() => parseInitEncodings(['a.csv=nope'])).toThrow(/--encoding a\.csv=: unknown encoding 'nope'/);
    expect(() => parseInitEncodings(['gb18030', 'big5'])).toThrow(/one name applies to every file auto cannot decide/);
    expect(() => parseInitEncodings(['=gb18030'])).toThrow(ConfigError);
    expect(parseInitEncodings(['gb18030', 'GB18030']).fallback).toBe('gb18030');
  });

  it('a FILE= that init does not read, or an Excel workbook, is a usage error', () => {
    const e = parseInitEncodings(['legacy/x.csv=gb18030'], process.cwd());
    expect(() => checkEncodingFiles(e, [path.resolve('legacy/y.csv')])).toThrow(/--encoding legacy\/x\.csv=…: not one of the legacy files init reads/);
    expect(() => checkEncodingFiles(e, [path.resolve('legacy/x.csv')])).not.toThrow();
    const xlsx = parseInitEncodings(['legacy/x.xlsx=gb18030'], process.cwd());
    expect(() => checkEncodingFiles(xlsx, [path.resolve('legacy/x.xlsx')])).toThrow(/an Excel workbook's text carries its own encoding/);
  });
});

describe('the refusal of files whose encoding init cannot settle', () => {
  it('one file: its message, nothing written, the command with the first encoding that reads it whole', () => {
    const err = initEncodingRefusal([{ file: path.resolve('legacy/k.csv'), error: undecided('legacy/k.csv', ['gb18030', 'big5']) }], 'forklift init .');
    expect(err.message).toMatch(/cannot tell which encoding the file is in; nothing was written$/);
    expect(err.hint).toMatch(/^run `forklift init \. --encoding gb18030` with the encoding the file was written in \(gb18030, big5 read it whole\)/);
    expect(err.location).toEqual({ file: 'legacy/k.csv', line: 2 });
    expect(err.exitCode).toBe(2);
  });

  it('files read whole by different encodings: one FILE=NAME per file, quoted for the shell, each message as a detail', () => {
    const err = initEncodingRefusal(
      [
        { file: path.resolve('legacy/k.csv'), error: undecided('legacy/k.csv', ['gb18030']) },
        { file: path.resolve('legacy/z a.csv'), error: undecided('legacy/z a.csv', ['shift_jis']) },
      ],
      'forklift init .',
    );
    expect(err.message).toBe('2 legacy files cannot be read in an encoding init can tell (legacy/k.csv, legacy/z a.csv); nothing was written');
    expect(err.hint).toContain("`forklift init . --encoding legacy/k.csv=gb18030 --encoding 'legacy/z a.csv=shift_jis'`");
    expect(err.details).toHaveLength(2);
  });

  it('two files one encoding reads: one --encoding NAME', () => {
    const err = initEncodingRefusal(
      [
        { file: path.resolve('a.csv'), error: undecided('a.csv', ['gb18030', 'big5']) },
        { file: path.resolve('b.csv'), error: undecided('b.csv', ['gb18030']) },
      ],
      'forklift init .',
    );
    expect(err.hint).toContain('`forklift init . --encoding gb18030`');
  });

  it('a file not in the encoding given: says so, and to leave out --encoding to detect it', () => {
    const e = new SourceError('a.csv is read as windows-1252 (encoding: in the mapping), but it is UTF-8: line 2 holds "Müller"', { code: 'source.encoding', location: { file: 'a.csv', line: 2 } });
    const err = initEncodingRefusal([{ file: path.resolve('a.csv'), error: e, given: 'windows-1252' }], 'forklift init .');
    expect(err.message).toMatch(/^a\.csv is read as windows-1252 \(--encoding\), but it is UTF-8/);
    expect(err.hint).toMatch(/^a\.csv is not windows-1252 as named: run `forklift init \. --encoding a\.csv=NAME`.*leave out --encoding to detect it$/);
  });
});
