/**
 * Text of a legacy database that does not say its own encoding. A PostgreSQL database created
 * with ENCODING 'SQL_ASCII' (common for old ERP systems) stores whatever bytes the application
 * wrote, usually Windows-1252, sometimes mixed with UTF-8: the server cannot convert them, and
 * asked for UTF-8 it refuses the whole query at the first such byte. Such text is read as bytes and
 * decoded here, in the encoding the mapping names (`source.encoding`, UTF-8 when it names none);
 * a value that does not decode becomes a fault of its cell (rule `encoding`) naming its bytes and
 * the fix, never U+FFFD or '?' in its place.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import { SourceError } from '../core/errors.js';
import { isUtf8Name, showNonUtf8Cut } from './encoding.js';
import type { Cell, CellFault, SourceSpec } from './types.js';

/** How the text of a legacy database is read: in `encoding`, named in the mapping or not. */
export interface LegacyText {
  /** An iconv-lite name, lower case; `utf-8` when the mapping names none. */
  encoding: string;
  /** The mapping named it (source.encoding). */
  named: boolean;
  /** A value that is valid UTF-8 (with letters beyond ASCII) is still read in a single-byte `encoding`. */
  allowValidUtf8: boolean;
}

const SINGLE_BYTE = /^(windows-?125\d|cp-?125\d|win-?125\d|iso-?8859-?\d+|iso8859\d+|latin-?\d+|l\d|iso-ir-100|cp819|ibm819|cp\d{3}|ibm\d{3}|koi8-?[ru]|macroman|macintosh)$/;
/** Encodings that can hold U+FFFD itself: a decoded U+FFFD in any other one is a byte it leaves undefined. */
const HOLDS_REPLACEMENT = /^(utf|ucs|gb18030)/;

/** The encoding a sql source's mapping names; a SourceError for a name no decoder knows. */
export function legacyTextOf(spec: Pick<SourceSpec, 'encoding' | 'allow_valid_utf8'>): LegacyText {
  const requested = spec.encoding?.trim() ?? '';
  const allowValidUtf8 = spec.allow_valid_utf8 === true;
  // auto has nothing to detect from before the rows come: the database's text is read as UTF-8.
  if (requested === '' || requested.toLowerCase() === 'auto') return { encoding: 'utf-8', named: false, allowValidUtf8 };
  const name = requested.toLowerCase();
  if (!iconv.encodingExists(name)) {
    throw new SourceError(`unknown encoding '${requested}'`, {
      code: 'source.encoding',
      location: { file: '(mapping)', where: 'source.encoding' },
      hint: 'set encoding: to the encoding the legacy application wrote its text in, e.g. windows-1252, iso-8859-15, utf-8',
    });
  }
  return { encoding: isUtf8Name(name) ? 'utf-8' : name, named: true, allowValidUtf8 };
}

/** A value's bytes, as the decoder of one source reads them: its text, or why it has none. */
export class LegacyTextDecoder {
  private readonly utf8: boolean;
  private readonly singleByte: boolean;
  private readonly holdsReplacement: boolean;

  constructor(
    private readonly text: LegacyText,
    /** Why the bytes may be in another encoding, for the reason: `the database is SQL_ASCII, …`. */
    private readonly why: string,
  ) {
    this.utf8 = text.encoding === 'utf-8';
    this.singleByte = SINGLE_BYTE.test(text.encoding);
    this.holdsReplacement = HOLDS_REPLACEMENT.test(text.encoding);
  }

  /** The value of `bytes`, or the fault of cell `index` of row `row`. */
  decode(bytes: Buffer, index: number, row: number): Cell | CellFault {
    // ASCII reads the same in every encoding a database stores text in.
    if (isAscii(bytes)) return bytes.toString('latin1');
    if (this.utf8) {
      if (isUtf8(bytes)) return bytes.toString('utf8');
      return this.fault(index, row, `is not valid UTF-8: "${showNonUtf8Cut(bytes)}" (\\xNN: a byte that begins no UTF-8 character; ${this.why}): set encoding: in the mapping's source to that encoding, e.g. encoding: windows-1252`);
    }
    if (this.singleByte && !this.text.allowValidUtf8 && isUtf8(bytes)) {
      return this.fault(
        index,
        row,
        `is UTF-8 ("${bytes.toString('utf8')}"), which ${this.text.encoding} would read as "${iconv.decode(bytes, this.text.encoding)}": the database mixes encodings; correct the value in the database, or set allow_valid_utf8: true in the mapping's source to read such values as ${this.text.encoding} all the same`,
      );
    }
    const s = iconv.decode(bytes, this.text.encoding);
    if (!this.holdsReplacement && s.includes('\uFFFD')) {
      return this.fault(index, row, `holds a byte that is no character in ${this.text.encoding}: "${showNonUtf8Cut(bytes)}": check encoding: in the mapping's source (the encoding the legacy application wrote), or correct the value in the database`);
    }
    return s;
  }

  private fault(index: number, row: number, reason: string): CellFault {
    return { index, ref: `row ${row}`, rule: 'encoding', reason };
  }
}

export const isFault = (v: Cell | CellFault): v is CellFault => v !== null && typeof v === 'object';

/** A decoded value into its cell, or its fault into the row's faults (the cell then null): the faults, made on the first one. */
export function putDecoded(cells: Cell[], i: number, d: Cell | CellFault, bad: CellFault[] | undefined): CellFault[] | undefined {
  if (!isFault(d)) {
    cells[i] = d;
    return bad;
  }
  cells[i] = null;
  (bad ??= []).push(d);
  return bad;
}

/** MySQL/MariaDB character sets (information_schema) as iconv-lite names; latin1, ascii, binary and UTF-8 are read by mysqlText itself. */
const MYSQL_CHARSETS: Record<string, string> = {
  latin2: 'iso-8859-2', latin5: 'iso-8859-9', latin7: 'iso-8859-13', greek: 'iso-8859-7', hebrew: 'iso-8859-8',
  cp1250: 'windows-1250', cp1251: 'windows-1251', cp1256: 'windows-1256', cp1257: 'windows-1257',
  cp850: 'cp850', cp852: 'cp852', cp866: 'cp866', koi8r: 'koi8-r', koi8u: 'koi8-u', macroman: 'macintosh', macce: 'maccenteuro',
  tis620: 'tis620', armscii8: 'armscii8', sjis: 'shift_jis', cp932: 'cp932', ujis: 'euc-jp', eucjpms: 'euc-jp',
  gbk: 'gbk', gb2312: 'gb2312', gb18030: 'gb18030', big5: 'big5', euckr: 'euc-kr',
  ucs2: 'utf-16be', utf16: 'utf-16be', utf16le: 'utf-16le', utf32: 'utf-32be',
};

/** Bytes MySQL's latin1 (Windows-1252) reads as the C1 control character of the same number, where Windows-1252 has none. */
function mysqlLatin1(b: Buffer): string {
  const s = iconv.decode(b, 'windows-1252');
  if (!s.includes('\uFFFD')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) out += s[i] === '\uFFFD' ? String.fromCharCode(b[i] as number) : s[i];
  return out;
}

/**
 * How the bytes of a MySQL/MariaDB text column become its value: in the character set the column
 * declares (`charset`, undefined when the server did not say), or, for a column declared latin1
 * or ascii, the sets legacy applications filled with bytes of their own (UTF-8 in latin1,
 * Windows-1252 in ascii), in the encoding the mapping names. The server sends them unconverted:
 * converting them itself, it sent '?' for every byte the declared set does not hold (0xFC in an
 * ascii column), without a word.
 */
export function mysqlText(charset: string | undefined, text: LegacyText): (b: Buffer, index: number, row: number) => Cell | CellFault {
  const declared = charset ?? 'unknown';
  if (text.named && (declared === 'latin1' || declared === 'ascii')) return decoderFor(text, `the column is declared ${declared}`);
  switch (declared) {
    case 'utf8':
    case 'utf8mb3':
    case 'utf8mb4': {
      const d = new LegacyTextDecoder({ encoding: 'utf-8', named: false, allowValidUtf8: true }, `the column is declared ${declared}, but holds bytes in another encoding`);
      // One decode per value: only one holding U+FFFD (rare) is checked byte by byte.
      return (b, index, row) => {
        const s = b.toString('utf8');
        return s.includes('\uFFFD') ? d.decode(b, index, row) : s;
      };
    }
    case 'latin1':
      return (b) => mysqlLatin1(b);
    case 'ascii':
      return (b, index, row) =>
        isAscii(b)
          ? b.toString('latin1')
          : { index, ref: `row ${row}`, rule: 'encoding', reason: `holds bytes beyond ASCII: "${showNonUtf8Cut(b)}" (the column is declared ascii, which the server would have sent as '?'): set encoding: in the mapping's source to the encoding the legacy application wrote, e.g. encoding: windows-1252` };
    default: {
      const name = MYSQL_CHARSETS[declared];
      if (name !== undefined && iconv.encodingExists(name)) return decoderFor({ encoding: name, named: false, allowValidUtf8: true }, `the column is declared ${declared}`);
      return (b, index, row) =>
        isAscii(b)
          ? b.toString('latin1')
          : { index, ref: `row ${row}`, rule: 'encoding', reason: `is in character set ${declared}, which forklift cannot decode: "${showNonUtf8Cut(b)}": convert the column in the query, e.g. CONVERT(col USING utf8mb4)` };
    }
  }
}

function decoderFor(text: LegacyText, why: string): (b: Buffer, index: number, row: number) => Cell | CellFault {
  const d = new LegacyTextDecoder(text, why);
  return (b, index, row) => d.decode(b, index, row);
}
