/**
 * Text encodings: detection from a sample (BOM, UTF-8 validity, chardet) and streaming decoding
 * to UTF-8 bytes, so every text reader parses one encoding.
 */
import { isAscii, isUtf8 as isValidUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import chardet from 'chardet';
import iconv from 'iconv-lite';
import { firstLoneSurrogate } from '../util/unicode.js';
import { ConfigError, SourceError } from '../core/errors.js';

/** How many bytes detection looks at. */
export const SAMPLE_BYTES = 64 * 1024;

/** Encodings named in hints, so a user sees what a valid name looks like. */
const EXAMPLES = 'utf-8, windows-1252, iso-8859-15, utf-16le, utf-16be, shift_jis, gb18030';

/** chardet names mapped to the iconv-lite codec that reads such files best. */
const DETECTED_ALIASES: Record<string, string> = {
  // Files labelled or detected as Latin-1 are in practice Windows-1252 (as browsers read them):
  // same letters, but 0x80-0x9F are € „ ” – — instead of invisible control characters.
  'iso-8859-1': 'windows-1252',
  'iso-8859-9': 'windows-1254',
  ascii: 'utf-8',
};

export interface DetectedEncoding {
  /** An iconv-lite codec name, lower case, e.g. `utf-8`, `windows-1252`, `utf-16le`. */
  encoding: string;
  /** Named in the mapping rather than detected. */
  explicit?: boolean;
  /** Length of the byte order mark at the start of the file (0 if none). */
  bomLength: number;
  /**
   * A single-byte encoding named in the mapping: the whole file is checked as it streams, and a
   * file that is valid UTF-8 with multi-byte sequences is refused (Utf8ReadAsSingleByteError).
   */
  refuseValidUtf8?: boolean;
}

export function bomOf(sample: Uint8Array): DetectedEncoding | undefined {
  if (sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf) {
    return { encoding: 'utf-8', bomLength: 3 };
  }
  if (sample[0] === 0xff && sample[1] === 0xfe) return { encoding: 'utf-16le', bomLength: 2 };
  if (sample[0] === 0xfe && sample[1] === 0xff) return { encoding: 'utf-16be', bomLength: 2 };
  return undefined;
}

/** True when `sample` is valid UTF-8; a sequence cut off by the end of a partial sample is fine. */
export function isUtf8(sample: Uint8Array, complete: boolean): boolean {
  try {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    decoder.decode(sample, { stream: !complete });
    return true;
  } catch {
    return false;
  }
}

/**
 * UTF-16 without a BOM: ASCII-heavy text has a NUL in every other byte. Returns the byte order
 * when at least 40% of the odd (LE) or even (BE) bytes are NUL and the other half has almost none.
 */
function utf16WithoutBom(sample: Uint8Array): string | undefined {
  const n = Math.min(sample.length, 4096) & ~1;
  if (n < 4) return undefined;
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < n; i += 2) {
    if (sample[i] === 0) evenNul++;
    if (sample[i + 1] === 0) oddNul++;
  }
  const pairs = n / 2;
  if (oddNul >= 0.4 * pairs && evenNul <= 0.05 * pairs) return 'utf-16le';
  if (evenNul >= 0.4 * pairs && oddNul <= 0.05 * pairs) return 'utf-16be';
  return undefined;
}

/** chardet's guess as an iconv-lite name; Windows-1252 when it has no useful answer. */
function guessSingleByte(sample: Uint8Array, file: string): string {
  const matches = chardet.analyse(sample);
  const guess = latinOrChardet(sample, matches);
  if (!LATIN_GUESSES.test(guess) || !cjkShaped(sample)) return guess;
  // The bytes are no Western text (their high bytes stand apart from letters, as double-byte
  // characters do) and some CJK encoding reads them whole: loading them as Latin letters would
  // change every such value without a word.
  const valid: string[] = CJK_ENCODINGS.filter((e) => decodesWhole(sample, e));
  if (valid.length === 0) return guess;
  // Above 10 chardet has found the encoding's common characters, not only well-formed byte pairs.
  const known = matches.find((m) => m.confidence > 10 && valid.includes(cjkName(m.name) ?? ''));
  if (known !== undefined) return cjkName(known.name) as string;
  throw undecidedError(sample, file, guess, valid);
}

function latinOrChardet(sample: Uint8Array, matches: ReturnType<typeof chardet.analyse>): string {
  const best = matches[0];
  // Below ~25 chardet is guessing among noise (Shift_JIS and Big5 at 10 for any high byte).
  if (best === undefined || best.confidence < 25) return 'windows-1252';
  const name = best.name.toLowerCase();
  const mapped = DETECTED_ALIASES[name] ?? name;
  if (LATIN_PARTS.test(mapped) && plausibleWindows1252(sample)) return 'windows-1252';
  return iconv.encodingExists(mapped) ? mapped : 'windows-1252';
}

/** The CJK legacy encodings auto-detection can take a file for, as iconv-lite and TextDecoder name them. */
const CJK_ENCODINGS = ['gb18030', 'big5', 'shift_jis', 'euc-jp', 'euc-kr'] as const;

function cjkName(chardetName: string): string | undefined {
  const n = chardetName.toLowerCase();
  return (CJK_ENCODINGS as readonly string[]).includes(n) ? n : undefined;
}

/** Guesses that read high bytes as Latin letters (not Cyrillic, Greek, …, whose words are all high bytes). */
const LATIN_GUESSES = /^(windows-125[02478]|iso-8859-(1|2|3|4|9|10|13|14|15|16))$/;

/**
 * Whether the high bytes of a sample come in runs apart from ASCII letters, as the bytes of
 * double-byte characters do (`A-1,齿轮`), rather than inside words, as accented Latin letters do
 * (`Müller`, `informação`), or one by one, as symbols do (`© 2024`, `12,50 €`): most of them
 * stand next to another high byte, and fewer than half touch an ASCII letter.
 */
function cjkShaped(sample: Uint8Array): boolean {
  const letter = (b: number | undefined): boolean => b !== undefined && ((b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a));
  const high = (b: number | undefined): boolean => b !== undefined && b >= 0x80;
  let count = 0;
  let paired = 0;
  let inWords = 0;
  for (let i = 0; i < sample.length; i++) {
    if (!high(sample[i])) continue;
    count++;
    if (high(sample[i - 1]) || high(sample[i + 1])) paired++;
    if (letter(sample[i - 1]) || letter(sample[i + 1])) inWords++;
  }
  return count > 0 && paired * 2 > count && inWords * 2 < count;
}

/** Whether `encoding` reads all of `sample` without a malformed byte (a cut-off last character is fine). */
function decodesWhole(sample: Uint8Array, encoding: string): boolean {
  try {
    new TextDecoder(encoding, { fatal: true }).decode(sample, { stream: true });
    return true;
  } catch {
    return false;
  }
}

/** auto cannot tell which CJK encoding (if any) the file is in: the line that shows it, read each way. */
function undecidedError(sample: Uint8Array, file: string, guess: string, valid: readonly string[]): SourceError {
  const at = sample.findIndex((b) => b >= 0x80);
  const start = sample.lastIndexOf(10, at) + 1;
  let end = sample.indexOf(10, at);
  if (end < 0 || end - start > 200) end = Math.min(sample.length, start + 200);
  if (end > start && sample[end - 1] === 13) end--;
  const raw = Buffer.from(sample.subarray(start, end));
  let line = 1;
  for (let i = 0; i < start; i++) if (sample[i] === 10) line++;
  const readings = [guess, ...valid].map((e) => `${e}: ${JSON.stringify(iconv.decode(raw, e))}`).join('; ');
  return new SourceError(`${file}: encoding: auto cannot tell which encoding the file is in: line ${line} is no Western text, and it reads as ${readings}`, {
    code: 'source.encoding',
    location: { file, line },
    hint: `set encoding: in the mapping to the encoding the file was written in, e.g. gb18030 for a Chinese (GBK) export, shift_jis for a Japanese one`,
    // The encodings that read the file whole, so a command without a mapping can name them in its own hint.
    data: { candidates: valid },
  });
}

/**
 * Whether a sample chardet took for a Latin ISO-8859 part (on a short file often ISO-8859-2: è read as
 * č, ñ as ń) is as plausibly Western Windows-1252. Bytes 0x80-0x9F are control characters in every
 * ISO-8859 part but € „ " – in Windows-1252: a file holding them is no ISO-8859. Otherwise the
 * giveaway of Central European text is 0xA1-0xBF (ą ł ś š ž ź ż in ISO-8859-2, symbols in 1252):
 * without those, bytes 0xC0-0xFF are accented letters either way, and Western is the likelier.
 */
function plausibleWindows1252(sample: Uint8Array): boolean {
  let c1 = false;
  let centralEuropean = false;
  for (const b of sample) {
    if (b >= 0x80 && b <= 0x9f) {
      if (UNDEFINED_IN_1252.has(b)) return false;
      c1 = true;
    } else if (b >= 0xa1 && b <= 0xbf && !SAME_SYMBOL.has(b)) centralEuropean = true;
  }
  return c1 || !centralEuropean;
}

/** The ISO-8859 parts for Latin script, whose letters a Western file's accented letters can pass for (not Greek, Cyrillic, …). */
const LATIN_PARTS = /^iso-8859-(2|3|4|9|10|13|14|15|16)$/;

/** Bytes Windows-1252 leaves undefined. */
const UNDEFINED_IN_1252 = new Set([0x81, 0x8d, 0x8f, 0x90, 0x9d]);
/** 0xA1-0xBF that are the same symbol in ISO-8859-1, -2 and Windows-1252 (§ ° ´ ¸ ¤ ¨ and the soft hyphen). */
const SAME_SYMBOL = new Set([0xa4, 0xa7, 0xa8, 0xad, 0xb0, 0xb4, 0xb8]);

/**
 * An ISO-8859 part named in the mapping for a file that holds bytes 0x80-0x9F: those are
 * invisible C1 control characters there, and a Windows export almost surely meant Windows-1252
 * (€ – „ “). Loading them would change the text without a word, so the file is refused, naming
 * the byte and its line.
 */
function checkIsoLabel(name: string, sample: Uint8Array, file: string): void {
  if (!/^(iso-?8859-?\d+|latin-?\d|l\d|iso-ir-100|cp819|ibm819)$/.test(name)) return;
  const at = sample.findIndex((b) => b >= 0x80 && b <= 0x9f);
  if (at < 0) return;
  let line = 1;
  for (let i = 0; i < at; i++) if (sample[i] === 10) line++;
  const meant = iconv.decode(Buffer.from([sample[at]!]), 'windows-1252');
  throw new SourceError(`${file} is read as ${name}, but line ${line} holds byte 0x${sample[at]!.toString(16).toUpperCase()}, an invisible control character in ${name} (${JSON.stringify(meant)} in Windows-1252)`, {
    code: 'source.encoding',
    location: { file, line },
    hint: 'A Windows export named Latin-1 is almost always Windows-1252: set encoding: windows-1252 (or auto).',
  });
}

/**
 * Detect the encoding of a file from its first bytes: a BOM first, then UTF-16 without BOM,
 * then valid UTF-8, then chardet. `complete` tells whether the sample is the whole file.
 */
export function detectEncoding(sample: Uint8Array, complete: boolean, file = 'the file'): DetectedEncoding {
  const bom = bomOf(sample);
  if (bom !== undefined) return bom;
  const utf16 = utf16WithoutBom(sample);
  if (utf16 !== undefined) return { encoding: utf16, bomLength: 0 };
  if (isUtf8(sample, complete)) return { encoding: 'utf-8', bomLength: 0 };
  return { encoding: guessSingleByte(sample, file), bomLength: 0 };
}

/**
 * The encoding of a file that detection took for UTF-8 from its first 64 KiB, judged where its
 * first byte beyond ASCII is: an export whose first umlaut comes after thousands of plain rows.
 * undefined when that part is UTF-8 too (or the file is ASCII throughout). Reads up to that
 * byte, streamed: for `init` and `mapping init`, which write the encoding into a mapping from a
 * sample of rows and must not write one that fails on the rest of the file.
 */
export async function encodingBeyondHead(file: string): Promise<string | undefined> {
  let offset = 0;
  let first = -1;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    if (!isAscii(chunk)) {
      let i = 0;
      while (chunk[i]! < 0x80) i++;
      first = offset + i;
      break;
    }
    offset += chunk.length;
  }
  if (first < SAMPLE_BYTES) return undefined;
  const fh = await open(file, 'r');
  try {
    const window = Buffer.alloc(SAMPLE_BYTES);
    const { bytesRead } = await fh.read(window, 0, SAMPLE_BYTES, first);
    const found = detectEncoding(window.subarray(0, bytesRead), first + bytesRead >= (await fh.stat()).size, file);
    return isUtf8Name(found.encoding) ? undefined : found.encoding;
  } finally {
    await fh.close();
  }
}

/**
 * A command's `--encoding` (mapping init, init, rejects reload), checked as a mapping's `encoding:`
 * is but named as the flag: the name lower case, undefined for auto.
 */
export function encodingFlag(name: string | undefined, flag = '--encoding'): string | undefined {
  if (name === undefined || name.trim() === '' || name.trim().toLowerCase() === 'auto') return undefined;
  const n = name.trim().toLowerCase();
  if (!iconv.encodingExists(n)) {
    throw new ConfigError(`${flag}: unknown encoding '${name}'`, {
      code: 'usage',
      hint: 'Use auto or a known name, e.g. utf-8, windows-1252, gb18030, big5, shift_jis, euc-kr, utf-16le.',
    });
  }
  return n;
}

/**
 * The encoding a reader should use: `requested` (from the mapping) when it is given and not
 * `auto`, else the detected one. An unknown name is the user's error.
 */
export function resolveEncoding(
  requested: string | undefined,
  sample: Uint8Array,
  complete: boolean,
  file: string,
  opts: { allowValidUtf8?: boolean } = {},
): DetectedEncoding {
  if (requested === undefined || requested.trim() === '' || requested.trim().toLowerCase() === 'auto') {
    return detectEncoding(sample, complete, file);
  }
  const name = requested.trim().toLowerCase();
  if (!iconv.encodingExists(name)) {
    throw new SourceError(`unknown encoding '${requested}'`, {
      code: 'source.encoding',
      location: { file },
      hint: `set encoding: to auto or a known name, e.g. ${EXAMPLES}`,
    });
  }
  checkIsoLabel(name, sample, file);
  const bom = bomOf(sample);
  const canonical = canonicalName(name);
  // A BOM of the encoding the user named is not text: strip it.
  const bomLength = bom !== undefined && canonicalName(bom.encoding) === canonical ? bom.bomLength : 0;
  if (!SINGLE_BYTE.test(name) || opts.allowValidUtf8 === true) return { encoding: name, bomLength, explicit: true };
  // Read in a single-byte encoding, a UTF-8 byte-order mark is three letters (ï»¿) glued to the
  // first column's name; a file of plain ASCII after it gives no other sign of being UTF-8.
  const utf8Bom = bom !== undefined && canonicalName(bom.encoding) === canonicalName('utf-8');
  const bomError = (): SourceError =>
    new SourceError(`${file} is read as ${name} ${NAMED_IN_MAPPING}, but it starts with a UTF-8 byte-order mark: it is UTF-8`, {
      code: 'source.encoding',
      location: { file, line: 1 },
      hint: `set encoding: utf-8 (or auto) in the mapping's source; if the file really is ${name} text behind those three bytes, set allow_valid_utf8: true there`,
    });
  if (!complete) {
    if (utf8Bom) throw bomError();
    return { encoding: name, bomLength, explicit: true, refuseValidUtf8: true };
  }
  // The sample is the whole file: refuse before any row is read (preview shows no mojibake either).
  const watch = new ValidUtf8Watch();
  watch.feed(Buffer.from(sample.buffer, sample.byteOffset, sample.byteLength), 0);
  const at = watch.end();
  // A word the encoding reads wrong says more than the mark.
  if (at >= 0) throw utf8ReadAsSingleByteError(file, name, sample, at, lineAt(sample, at));
  if (utf8Bom) throw bomError();
  return { encoding: name, bomLength, explicit: true };
}

/**
 * Single-byte encodings, in which every byte is a character: a UTF-8 file read in one of them
 * loads without an error, each letter beyond ASCII as two or three wrong ones (Müller as MÃ¼ller).
 */
const SINGLE_BYTE = /^(windows-?125\d|cp-?125\d|win-?125\d|iso-?8859-?\d+|iso8859\d+|latin-?\d+|l\d|iso-ir-100|cp819|ibm819|binary)$/;

/**
 * Watches a file named in a single-byte encoding, chunk by chunk, for the telltale of UTF-8: all
 * its bytes >= 0x80 form valid UTF-8 sequences. Real Windows-1252 text almost never does (an é
 * would have to follow an Ã or Â), so the watch gives up at its first stray byte, usually the
 * first umlaut; ASCII chunks cost one vectorised scan each.
 */
export class ValidUtf8Watch {
  private valid = true;
  private firstMultiByte = -1;
  /** The start of a UTF-8 sequence the chunk end cut off. */
  private tail: Buffer | undefined;

  /** `start` is the file offset of the first byte of `chunk`. */
  feed(chunk: Buffer, start: number): void {
    if (!this.valid) return;
    let b = chunk;
    let s = start;
    if (this.tail !== undefined) {
      b = Buffer.concat([this.tail, chunk]);
      s -= this.tail.length;
      this.tail = undefined;
    }
    const keep = incompleteTail(b);
    if (keep > 0) {
      this.tail = Buffer.from(b.subarray(b.length - keep));
      b = b.subarray(0, b.length - keep);
    }
    if (isAscii(b)) return;
    if (!isValidUtf8(b)) {
      this.valid = false;
      this.tail = undefined;
      return;
    }
    if (this.firstMultiByte >= 0) return;
    // A UTF-8 BOM alone is left to the header check (its first name no longer matches): the
    // message quotes the first letter beyond ASCII in the text, which a user can find.
    const from = s === 0 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
    for (let i = from; i < b.length; i++) {
      if (b[i]! >= 0x80) {
        this.firstMultiByte = s + i;
        return;
      }
    }
  }

  /** The file offset of the first multi-byte sequence while the bytes fed so far are valid UTF-8 and hold one; else -1 (the file is no UTF-8, or all ASCII so far). */
  suspect(): number {
    return this.valid ? this.firstMultiByte : -1;
  }

  /** The file offset of the first multi-byte sequence when the whole file was valid UTF-8 and held one; else -1. */
  end(): number {
    return this.valid && this.tail === undefined ? this.firstMultiByte : -1;
  }
}

/** 1-based line of `bytes[at]` (CRLF, LF and CR each end a line). */
function lineAt(bytes: Uint8Array, at: number): number {
  return 1 + countLines((i) => bytes[i]!, at, false).lines;
}

/** A file named in a single-byte encoding is all valid UTF-8; `offset` is the file offset of its first multi-byte sequence. */
export class Utf8ReadAsSingleByteError extends Error {
  constructor(readonly offset: number) {
    super(`valid UTF-8 read as a single-byte encoding, first multi-byte sequence at byte ${offset}`);
    this.name = 'Utf8ReadAsSingleByteError';
  }
}

/** Bytes that end a word in a message's quote: line breaks, the delimiters, quote and space. */
const WORD_END = new Set([10, 13, 44, 59, 9, 124, 34, 32]);

/** Where a message says the encoding was named; a command that takes it as a flag says `(--encoding)` instead (namedByFlag). */
export const NAMED_IN_MAPPING = '(encoding: in the mapping)';

/** The encodings that read a refused file whole (an undecided short CJK file), for a command's own hint; [] for other refusals. */
export function encodingCandidates(e: SourceError): string[] {
  return (e.data as { candidates?: string[] } | undefined)?.candidates ?? [];
}

/** Which encoding to name, for a file that several CJK encodings read whole. */
export const CJK_ENCODING_ADVICE = 'gb18030 for a Chinese (GBK) export, shift_jis for a Japanese one, big5 for Traditional Chinese';
/** Which encoding to name, for a file no encoding was guessed for. */
export const ANY_ENCODING_ADVICE = 'e.g. windows-1252 for a Western European export, gb18030 for a Chinese one';

/** A refusal's message, for an encoding given as `--encoding` rather than in a mapping. */
export function namedByFlag(message: string): string {
  return message.replace(NAMED_IN_MAPPING, '(--encoding)');
}

/**
 * The SourceError for a UTF-8 file named in a single-byte encoding: `around` holds the file's
 * bytes near the first multi-byte sequence, at `at`; the word there is quoted both ways.
 */
function utf8ReadAsSingleByteError(file: string, encoding: string, around: Uint8Array, at: number, line: number): SourceError {
  let from = at;
  while (from > 0 && at - from < 40 && !WORD_END.has(around[from - 1]!)) from--;
  let to = at;
  while (to < around.length && to - at < 40 && !WORD_END.has(around[to]!)) to++;
  // Never cut a UTF-8 sequence in two at the quote's end.
  while (to < around.length && (around[to]! & 0xc0) === 0x80) to++;
  const word = Buffer.from(around.buffer, around.byteOffset + from, to - from);
  return new SourceError(
    `${file} is read as ${encoding} ${NAMED_IN_MAPPING}, but it is UTF-8: line ${line} holds ${JSON.stringify(word.toString('utf8'))}, which ${encoding} reads as ${JSON.stringify(iconv.decode(word, encoding))}`,
    {
      code: 'source.encoding',
      location: { file, line },
      hint: `set encoding: utf-8 (or auto) in the mapping's source; if the file really is ${encoding} text whose bytes happen to be valid UTF-8, set allow_valid_utf8: true there`,
    },
  );
}

/** The SourceError for Utf8ReadAsSingleByteError, with the line and the word the file holds there. */
export async function utf8ReadAsSingleByte(file: string, label: string, encoding: string, err: Utf8ReadAsSingleByteError): Promise<SourceError> {
  const line = await lineOfByte(file, err.offset);
  const from = Math.max(0, err.offset - 64);
  const around = Buffer.alloc(128);
  const fh = await open(file, 'r');
  try {
    const { bytesRead } = await fh.read(around, 0, around.length, from);
    return utf8ReadAsSingleByteError(label, encoding, around.subarray(0, bytesRead), err.offset - from, line);
  } finally {
    await fh.close();
  }
}

function canonicalName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

/** True for encodings whose bytes for ASCII characters are the ASCII bytes (UTF-8 and kin). */
export function isUtf8Name(encoding: string): boolean {
  const c = canonicalName(encoding);
  return c === 'utf8' || c === 'unicode11utf8';
}

/** Decode a whole (small) buffer, e.g. the sample, without a BOM. */
export function decodeSample(bytes: Uint8Array, enc: DetectedEncoding): string {
  const body = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).subarray(enc.bomLength);
  if (isUtf8Name(enc.encoding)) return body.toString('utf8');
  return iconv.decode(body, enc.encoding, { stripBOM: false });
}

/** A file read as UTF-8 holds bytes that are not; `offset` is the file offset of the first. */
export class InvalidUtf8Error extends Error {
  constructor(
    readonly offset: number,
    /** Where the file is not UTF-8 but its text is ill-formed (UTF-16 with half a surrogate pair): the line, counted in the decoded text. */
    readonly illFormed?: { encoding: string; line: number },
  ) {
    super(illFormed ? `ill-formed ${illFormed.encoding} on line ${illFormed.line}` : `invalid UTF-8 at byte ${offset}`);
    this.name = 'InvalidUtf8Error';
  }
}

/** Line breaks (CRLF, LF and CR each one) among the first `end` code units or bytes, and whether the last was a CR whose LF may follow. */
function countLines(codeAt: (i: number) => number, end: number, afterCR: boolean): { lines: number; cr: boolean } {
  let lines = 0;
  let cr = afterCR;
  for (let i = 0; i < end; i++) {
    const c = codeAt(i);
    if (c === 10) {
      if (!cr) lines++;
      cr = false;
    } else if (c === 13) {
      lines++;
      cr = true;
    } else cr = false;
  }
  return { lines, cr };
}

/** How many bytes at the end of `b` start a UTF-8 sequence that continues in the next chunk. */
function incompleteTail(b: Buffer): number {
  for (let back = 1; back <= 3 && back <= b.length; back++) {
    const c = b[b.length - back] as number;
    if ((c & 0xc0) === 0x80) continue; // continuation byte: look further back
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

/** Length of the valid UTF-8 sequence that starts at `b[i]`, or 0 when none does there. */
function utf8SequenceAt(b: Uint8Array, i: number): number {
  const c = b[i] as number;
  if (c < 0x80) return 1;
  const need = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
  if (need === -1) return 0;
  const c1 = b[i + 1] ?? 0;
  const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
  const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
  if (c1 < lo || c1 > hi) return 0;
  for (let k = 2; k <= need; k++) if (((b[i + k] ?? 0) & 0xc0) !== 0x80) return 0;
  return need + 1;
}

/** Index of the first byte of `b` that does not begin a valid UTF-8 sequence (0 if none is found). */
function firstInvalid(b: Buffer): number {
  for (let i = 0; i < b.length; ) {
    const n = utf8SequenceAt(b, i);
    if (n === 0) return i;
    i += n;
  }
  return 0;
}

/**
 * Bytes that are not all UTF-8, as text a message can quote: the valid characters as they are,
 * every byte that begins none as `\xE9`, never U+FFFD in place of what the bytes hold.
 */
export function showNonUtf8(b: Uint8Array): string {
  let out = '';
  let from = 0;
  const text = (to: number): string => Buffer.from(b.buffer, b.byteOffset + from, to - from).toString('utf8');
  for (let i = 0; i < b.length; ) {
    const n = utf8SequenceAt(b, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += `${text(i)}\\x${(b[i] as number).toString(16).toUpperCase().padStart(2, '0')}`;
    from = ++i;
  }
  return out + text(b.length);
}

/** Longest value a reason quotes; a longer one is cut around its first byte that does not decode. */
const SHOWN = 80;

/** showNonUtf8, cut to SHOWN characters around the first byte shown as `\xNN`. */
export function showNonUtf8Cut(b: Uint8Array): string {
  const s = showNonUtf8(b);
  if (s.length <= SHOWN) return s;
  const bad = s.search(/\\x[0-9A-F]{2}/);
  const from = Math.max(0, Math.min(bad - 30, s.length - SHOWN));
  return `${from > 0 ? '…' : ''}${s.slice(from, from + SHOWN)}${from + SHOWN < s.length ? '…' : ''}`;
}

/**
 * Streaming decode of raw chunks into UTF-8 chunks (iconv-lite's decoder, the engine of its
 * decodeStream, used without a stream object in between). The BOM is dropped. UTF-8 input passes
 * through untouched but is checked: detection sees only the first 64 KiB, and a Latin-1 byte
 * further on must stop the read (InvalidUtf8Error) rather than become U+FFFD unnoticed.
 */
export async function* toUtf8(
  chunks: AsyncIterable<Buffer>,
  enc: DetectedEncoding,
  /** The watch of a single-byte encoding named for a file that may be UTF-8 (a reader keeps it to ask how it stands before the end). */
  watch: ValidUtf8Watch | undefined = newWatch(enc),
): AsyncGenerator<Buffer> {
  let bomLeft = enc.bomLength;
  let offset = 0;
  if (isUtf8Name(enc.encoding)) {
    let tail: Buffer | undefined;
    for await (let chunk of chunks) {
      // file offset of the first byte of `chunk` as checked (a carried tail comes first)
      let start = offset;
      offset += chunk.length;
      if (bomLeft > 0) {
        const cut = Math.min(bomLeft, chunk.length);
        chunk = chunk.subarray(cut);
        start += cut;
        bomLeft -= cut;
      }
      if (tail !== undefined) {
        start -= tail.length;
        chunk = Buffer.concat([tail, chunk]);
        tail = undefined;
      }
      const keep = incompleteTail(chunk);
      if (keep > 0) {
        tail = chunk.subarray(chunk.length - keep);
        chunk = chunk.subarray(0, chunk.length - keep);
      }
      if (!isValidUtf8(chunk)) throw new InvalidUtf8Error(start + firstInvalid(chunk));
      if (chunk.length > 0) yield chunk;
    }
    if (tail !== undefined) throw new InvalidUtf8Error(offset - tail.length);
    return;
  }
  const decoder = iconv.getDecoder(enc.encoding, { stripBOM: true });
  // A byte the encoding leaves undefined (0x81 in Windows-1252) decodes to U+FFFD: the read stops
  // rather than load a character the file does not hold.
  const exact = !HOLDS_REPLACEMENT.test(enc.encoding);
  // Half of a UTF-16 surrogate pair (a character the writing system cut in two) has no UTF-8 form:
  // Buffer.from would make it U+FFFD unnoticed. It stops the read with its line instead, as
  // invalid UTF-8 does. A pair split across chunks comes out in two pieces: a high surrogate at
  // the end of one text waits for the next.
  let line = 1;
  let cr = false;
  let held = '';
  // Only UTF-16 can decode to half a pair; every other codec gives whole characters.
  const utf16 = /^(utf-?16|ucs-?2)/i.test(enc.encoding);
  const checked = (decoded: string, last = false): Buffer => {
    if (!utf16) return Buffer.from(decoded, 'utf8');
    let text = held + decoded;
    held = '';
    const end = text.charCodeAt(text.length - 1);
    if (!last && end >= 0xd800 && end <= 0xdbff) {
      held = text.slice(-1);
      text = text.slice(0, -1);
    }
    const bad = firstLoneSurrogate(text);
    const counted = countLines((i) => text.charCodeAt(i), bad < 0 ? text.length : bad, cr);
    if (bad >= 0) throw new InvalidUtf8Error(-1, { encoding: enc.encoding.toUpperCase(), line: line + counted.lines });
    line += counted.lines;
    cr = counted.cr;
    return Buffer.from(text, 'utf8');
  };
  for await (let chunk of chunks) {
    watch?.feed(chunk, offset);
    offset += chunk.length;
    if (bomLeft > 0) {
      // iconv strips a BOM only for BOM-aware codecs; drop it ourselves so every codec behaves alike.
      const cut = Math.min(bomLeft, chunk.length);
      chunk = chunk.subarray(cut);
      bomLeft -= cut;
    }
    const decoded = decoder.write(chunk);
    if (exact && decoded.includes('\uFFFD')) throw new UndefinedByteError(enc.encoding);
    const out = checked(decoded);
    if (out.length > 0) yield out;
  }
  // Only the whole file tells valid UTF-8: the rows read so far never reach a commit, as after a bad byte.
  const multiByte = watch?.end() ?? -1;
  if (multiByte >= 0) throw new Utf8ReadAsSingleByteError(multiByte);
  const last = decoder.end() ?? '';
  if (exact && last.includes('\uFFFD')) throw new UndefinedByteError(enc.encoding);
  const out = checked(last, true);
  if (out.length > 0) yield out;
}

/** The watch toUtf8 keeps for `enc`: one when a single-byte encoding was named for a file that may be UTF-8. */
export function newWatch(enc: DetectedEncoding): ValidUtf8Watch | undefined {
  return enc.refuseValidUtf8 === true ? new ValidUtf8Watch() : undefined;
}

/** How far a look at the rest of a text file went (preview reads its first rows only, then this). */
export interface AheadCheck {
  /** Whether the whole file was read: the text shown is what a whole read gives, or this threw its refusal. */
  complete: boolean;
  /** Bytes read from the file's start. */
  checkedBytes: number;
  /** The file's size in bytes. */
  size: number;
  /**
   * Not complete, a single-byte encoding named, and every byte read so far valid UTF-8 with a
   * letter beyond ASCII: the refusal a whole read gives if the rest is valid UTF-8 too.
   */
  utf8Suspect?: SourceError;
}

/**
 * Reads on through `input`, the decoding stream of a text reader whose first rows were taken,
 * discarding the text, until the file ends or `readBytes()` reaches `maxBytes`: the checks of the
 * decoding (invalid UTF-8, a byte the encoding leaves undefined, a UTF-8 file named in a
 * single-byte encoding) throw the SourceError a whole read throws.
 */
export async function checkAhead(
  input: AsyncIterator<Buffer>,
  readBytes: () => number,
  maxBytes: number,
  at: { file: string; label: string; enc: DetectedEncoding; watch: ValidUtf8Watch | undefined },
): Promise<AheadCheck> {
  const { file, label, enc, watch } = at;
  const size = (await stat(file)).size;
  while (readBytes() < maxBytes) {
    let r: IteratorResult<Buffer>;
    try {
      r = await input.next();
    } catch (e) {
      throw await decodingError(e, file, label, enc);
    }
    if (r.done === true) return { complete: true, checkedBytes: readBytes(), size };
  }
  const checkedBytes = readBytes();
  const suspect = watch?.suspect() ?? -1;
  if (suspect < 0) return { complete: false, checkedBytes, size };
  return { complete: false, checkedBytes, size, utf8Suspect: await utf8ReadAsSingleByte(file, label, enc.encoding, new Utf8ReadAsSingleByteError(suspect)) };
}

/** Encodings that can hold U+FFFD itself: a decoded U+FFFD in any other one is a byte it leaves undefined. */
const HOLDS_REPLACEMENT = /^(utf|ucs|gb18030)/i;

/** A file read in `encoding` holds a byte (or byte sequence) that is no character there. */
export class UndefinedByteError extends Error {
  constructor(readonly encoding: string) {
    super(`a byte that is no character in ${encoding}`);
    this.name = 'UndefinedByteError';
  }
}

/**
 * The SourceError for UndefinedByteError: the file is read again line by line (a cold path) to
 * name the first line holding such a byte, and the byte itself where the encoding is single-byte.
 */
export async function undefinedByteError(file: string, label: string, enc: DetectedEncoding, err: UndefinedByteError): Promise<SourceError> {
  const decoder = iconv.getDecoder(enc.encoding, { stripBOM: true });
  let line = 1;
  let cr = false;
  let shown = '';
  for await (const chunk of createReadStream(file, { highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>) {
    const text = decoder.write(chunk);
    const at = text.indexOf('\uFFFD');
    const counted = countLines((i) => text.charCodeAt(i), at < 0 ? text.length : at, cr);
    line += counted.lines;
    cr = counted.cr;
    if (at >= 0) {
      const from = Math.max(text.lastIndexOf('\n', at) + 1, text.lastIndexOf('\r', at) + 1, at - 40);
      const to = text.slice(at).search(/[\r\n]/);
      shown = text.slice(from, to < 0 ? Math.min(text.length, at + 40) : Math.min(at + to, at + 40));
      break;
    }
  }
  const single = SINGLE_BYTE.test(enc.encoding);
  const byte = single ? await firstUndefinedByte(file, enc.encoding) : undefined;
  const hex = byte === undefined ? undefined : byte.toString(16).toUpperCase().padStart(2, '0');
  const what = hex === undefined ? `bytes that are no character in ${enc.encoding}: ${JSON.stringify(shown)} (\uFFFD where they are)` : `byte 0x${hex}, which is no character in ${enc.encoding}: ${JSON.stringify(shown).replace('\uFFFD', `\\x${hex}`)}`;
  return new SourceError(`${label}:${line} is read as ${enc.encoding}, but holds ${what}`, {
    code: 'source.encoding',
    location: { file: label, line },
    hint: `the file is in another encoding: set encoding: in the mapping to the one it was written in${single ? ', e.g. windows-1250 for a Central European export, cp850 for a DOS one' : ''}`,
    cause: err,
  });
}

/** The first byte of `file` that single-byte `encoding` leaves undefined. */
async function firstUndefinedByte(file: string, encoding: string): Promise<number | undefined> {
  const undefinedBytes = new Set<number>();
  for (let b = 0x80; b <= 0xff; b++) if (iconv.decode(Buffer.from([b]), encoding) === '\uFFFD') undefinedBytes.add(b);
  for await (const chunk of createReadStream(file, { highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>) {
    for (const b of chunk) if (undefinedBytes.has(b)) return b;
  }
  return undefined;
}

/** 1-based line of the byte at `offset` of a file (CRLF, LF and CR each end a line), streamed. */
export async function lineOfByte(file: string, offset: number): Promise<number> {
  let line = 1;
  let prevCR = false;
  const stream = createReadStream(file, { end: Math.max(0, offset - 1), highWaterMark: 64 * 1024 });
  if (offset === 0) {
    stream.destroy();
    return 1;
  }
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const counted = countLines((i) => chunk[i]!, chunk.length, prevCR);
    line += counted.lines;
    prevCR = counted.cr;
  }
  return line;
}

/**
 * What a text reader throws for an error of its decoding stream: the SourceError naming the file
 * and line for the two ways the bytes are not what the encoding says, any other error as it is.
 */
export async function decodingError(e: unknown, file: string, label: string, enc: DetectedEncoding): Promise<unknown> {
  if (e instanceof InvalidUtf8Error) return invalidUtf8Error(file, label, e, enc.explicit === true);
  if (e instanceof Utf8ReadAsSingleByteError) return utf8ReadAsSingleByte(file, label, enc.encoding, e);
  if (e instanceof UndefinedByteError) return undefinedByteError(file, label, enc, e);
  return e;
}

/** The SourceError for invalid UTF-8 in a file read as UTF-8. */
export async function invalidUtf8Error(file: string, label: string, err: InvalidUtf8Error, explicit: boolean): Promise<SourceError> {
  if (err.illFormed) {
    const { encoding, line } = err.illFormed;
    return new SourceError(`${label}:${line} is not valid ${encoding}: it holds half of a surrogate pair, a character (an emoji, a rare CJK character) cut in two`, {
      code: 'source.encoding',
      location: { file: label, line },
      hint: 'correct the value in the source system, or, if the file is not UTF-16, set encoding: to the encoding it was written in',
      cause: err,
    });
  }
  const line = await lineOfByte(file, err.offset);
  return new SourceError(`${label}:${line} is not valid UTF-8${explicit ? '' : ' (encoding: auto took the file for UTF-8 from its beginning)'}`, {
    code: 'source.encoding',
    location: { file: label, line },
    hint: 'set encoding: in the mapping to the encoding the file was written in, e.g. windows-1252 for a Western European export',
    cause: err,
  });
}
