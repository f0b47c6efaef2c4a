/**
 * `forklift init --encoding`: the encodings of legacy files that detection cannot decide. Each
 * value is `NAME`, for every file auto cannot read (a short GB18030 export: it reads whole as
 * several CJK encodings), or `FILE=NAME`, for that one file whether auto reads it or not. A file
 * auto reads keeps the encoding detected: one project often mixes UTF-8 and legacy exports, and a
 * project-wide name would read the UTF-8 ones wrong.
 */
import path from 'node:path';
import { ConfigError, SourceError } from '../core/errors.js';
import { displayPath } from '../plan/paths.js';
import { ANY_ENCODING_ADVICE, CJK_ENCODING_ADVICE, encodingCandidates, encodingFlag, namedByFlag } from '../sources/encoding.js';
import { didYouMean } from '../util/suggest.js';
import { formatOfFile } from './detect.js';
import { shellWord } from '../util/shell.js';

export interface InitEncodings {
  /** `--encoding NAME`: for every file auto cannot read. */
  fallback?: string;
  /** `--encoding FILE=NAME`, by absolute path. */
  files: Map<string, string>;
}

/** The `--encoding` values, checked: known names, at most one without a file. Paths are relative to `cwd`. */
export function parseInitEncodings(values: readonly string[] | undefined, cwd = process.cwd()): InitEncodings {
  const out: InitEncodings = { files: new Map() };
  for (const v of values ?? []) {
    const eq = v.lastIndexOf('=');
    if (eq < 0) {
      const name = encodingFlag(v);
      if (out.fallback !== undefined && name !== undefined && name !== out.fallback) {
        throw new ConfigError(`--encoding ${out.fallback} and --encoding ${name}: one name applies to every file auto cannot decide`, {
          code: 'usage',
          hint: 'Name the encoding of each such file instead: --encoding FILE=NAME, once per file.',
        });
      }
      if (name !== undefined) out.fallback = name;
      continue;
    }
    const file = v.slice(0, eq);
    if (file.trim() === '') throw new ConfigError(`--encoding ${v}: no file before '='`, { code: 'usage', hint: 'Give --encoding NAME, or --encoding FILE=NAME with FILE a legacy file.' });
    const name = encodingFlag(v.slice(eq + 1), `--encoding ${file}=`);
    if (name !== undefined) out.files.set(path.resolve(cwd, file), name);
  }
  return out;
}

/** Every `FILE=` names a legacy file init reads: a typo would otherwise leave that file to auto without a word. */
export function checkEncodingFiles(enc: InitEncodings, files: readonly string[]): void {
  for (const f of enc.files.keys()) {
    if (files.includes(f) && formatOfFile(f) === 'xlsx') {
      throw new ConfigError(`--encoding ${displayPath(f)}=…: an Excel workbook's text carries its own encoding`, { code: 'usage', hint: 'Name the encoding of a CSV or JSON Lines file only.' });
    }
    if (files.includes(f)) continue;
    const shown = files.map((x) => displayPath(x));
    throw new ConfigError(`--encoding ${displayPath(f)}=…: not one of the legacy files init reads${didYouMean(displayPath(f), shown)}`, {
      code: 'usage',
      hint: `Name one of: ${shown.join(', ')} (relative to the current folder).`,
    });
  }
}

/** A legacy file init could not read for its encoding, and the encoding it was given, if any. */
export interface EncodingRefusal {
  file: string;
  error: SourceError;
  given?: string | undefined;
}

/**
 * Every file whose encoding init could not settle, in one error (nothing is written): the first
 * file's message, the others as details, and the command to run again with `--encoding`.
 */
export function initEncodingRefusal(refusals: readonly EncodingRefusal[], again: string): SourceError {
  const choices = refusals.map((r) => ({ file: displayPath(r.file), name: firstCandidate(r.error) }));
  const names = new Set(choices.map((c) => c.name ?? 'NAME'));
  const anyGiven = refusals.some((r) => r.given !== undefined);
  // One name read every file (one export tool, one locale): --encoding NAME; else one per file.
  const flags =
    names.size === 1 && !anyGiven && refusals.every((r) => firstCandidate(r.error) !== undefined)
      ? `--encoding ${[...names][0] as string}`
      : choices.map((c) => `--encoding ${shellWord(`${c.file}=${c.name ?? 'NAME'}`)}`).join(' ');
  const command = `${again} ${flags}`;
  const candidates = [...new Set(refusals.flatMap((r) => encodingCandidates(r.error)))];
  const why = anyGiven
    ? `${refusals
        .filter((r) => r.given !== undefined)
        .map((r) => `${displayPath(r.file)} is not ${r.given as string} as named`)
        .join('; ')}: run \`${command}\` with the encoding each file was written in, or leave out --encoding to detect it`
    : candidates.length > 0
      ? `run \`${command}\` with the encoding the file was written in (${candidates.join(', ')} read it whole): ${CJK_ENCODING_ADVICE}`
      : `run \`${command}\` with the encoding the file was written in, ${ANY_ENCODING_ADVICE}`;
  const first = refusals[0] as EncodingRefusal;
  if (refusals.length === 1) {
    return new SourceError(`${namedByFlag(first.error.message)}; nothing was written`, {
      code: 'source.encoding',
      hint: why,
      cause: first.error,
      ...(first.error.location === undefined ? {} : { location: first.error.location }),
    });
  }
  return new SourceError(`${refusals.length} legacy files cannot be read in an encoding init can tell (${choices.map((c) => c.file).join(', ')}); nothing was written`, {
    code: 'source.encoding',
    hint: why,
    cause: first.error,
    details: refusals.map((r) => namedByFlag(r.error.message)),
  });
}

function firstCandidate(e: SourceError): string | undefined {
  return encodingCandidates(e)[0];
}
