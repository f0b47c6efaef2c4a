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
import { isUtf8Name, showNonUtf8 } from './encoding.js';
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

/** Longest value a reason quotes; a longer one is cut around its first byte that does not decode. */
const SHOWN = 80;

function shown(bytes: Buffer): string {
  let s = showNonUtf8(bytes);
  if (s.length > SHOWN) {
    const bad = Math.max(0, s.search(/\\x[0-9A-F]{2}/));
    const from = Math.max(0, Math.min(bad - 30, s.length - SHOWN));
    s = `${from > 0 ? '…' : ''}${s.slice(from, from + SHOWN)}${from + SHOWN < s.length ? '…' : ''}`;
  }
  return s;
}

/** A value's bytes, as the decoder of one source reads them: its text, or why it has none. */
export class LegacyTextDecoder {
  private readonly utf8: boolean;
  private readonly singleByte: boolean;
  private readonly holdsReplacement: boolean;

  constructor(
    private readonly text: LegacyText,
    /** Where the database says what its text is, for the reason: `the database is SQL_ASCII`. */
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
      return this.fault(index, row, `is not valid UTF-8: "${shown(bytes)}" (\\xNN: a byte that begins no UTF-8 character; ${this.why}, so its text is in whatever encoding the legacy application wrote): set encoding: in the mapping's source to that encoding, e.g. encoding: windows-1252`);
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
      return this.fault(index, row, `holds a byte that is no character in ${this.text.encoding}: "${shown(bytes)}": check encoding: in the mapping's source (the encoding the legacy application wrote), or correct the value in the database`);
    }
    return s;
  }

  private fault(index: number, row: number, reason: string): CellFault {
    return { index, ref: `row ${row}`, rule: 'encoding', reason };
  }
}

export const isFault = (v: Cell | CellFault): v is CellFault => v !== null && typeof v === 'object';
