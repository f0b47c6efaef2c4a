/**
 * `forklift mapping init SOURCE --entity E`: detect the source's layout, guess the mapping, and
 * (after a person reviewed it, or not) write it. The review itself is the command's business.
 */
import path from 'node:path';
import { ConfigError, SourceError } from '../core/errors.js';
import type { Entity, Model } from '../model/types.js';
import { modelForMapping } from '../plan/check.js';
import { ANY_ENCODING_ADVICE, CJK_ENCODING_ADVICE, encodingCandidates, encodingFlag, namedByFlag } from '../sources/encoding.js';
import { shellWord } from '../util/shell.js';
import { didYouMean } from '../util/suggest.js';
import { detectLayout } from './detect.js';
import { guessMapping, type Confidence, type MappingProposal } from './guess.js';
import { isWritten, renderMappingYaml, writeNewFile } from './write.js';

export interface MappingInitOptions {
  source: string;
  entity: string;
  /** The mapping file to write (default mappings/<entity>.yaml under cwd). */
  out?: string | undefined;
  /** A plan whose model to use (default: a forklift.yaml beside or above the output, else factory). */
  plan?: string | undefined;
  sheet?: string | undefined;
  /** The source's encoding (`--encoding`), for a file detection cannot decide; auto or unset detects. */
  encoding?: string | undefined;
  sampleRows?: number | undefined;
  cwd?: string | undefined;
}

export function defaultMappingFile(entity: string, cwd = process.cwd()): string {
  return path.resolve(cwd, 'mappings', `${entity}.yaml`);
}

export function entityOf(model: Model, name: string): Entity {
  const e = model.entities.get(name);
  if (e === undefined) {
    throw new ConfigError(`--entity: '${name}' is not an entity of the model ${model.name}${didYouMean(name, model.entities.keys())}`, {
      code: 'usage',
      hint: `Use one of: ${[...model.entities.keys()].join(', ')}.`,
    });
  }
  return e;
}

export interface Proposed {
  proposal: MappingProposal;
  entity: Entity;
  /** Absolute path of the mapping file to write. */
  file: string;
}

export async function proposeMapping(opts: MappingInitOptions): Promise<Proposed> {
  const cwd = opts.cwd ?? process.cwd();
  const file = path.resolve(cwd, opts.out ?? defaultMappingFile(opts.entity, cwd));
  const model = modelForMapping(file, opts.plan === undefined ? undefined : path.resolve(cwd, opts.plan));
  const entity = entityOf(model, opts.entity);
  const encoding = encodingFlag(opts.encoding);
  let layout;
  try {
    layout = await detectLayout(path.resolve(cwd, opts.source), {
      ...(opts.sheet === undefined ? {} : { sheet: opts.sheet }),
      ...(opts.sampleRows === undefined ? {} : { sampleRows: opts.sampleRows }),
      ...(encoding === undefined ? {} : { encoding }),
    });
  } catch (e) {
    throw e instanceof SourceError && e.code === 'source.encoding' ? encodingRefusal(e, opts, encoding) : e;
  }
  return { proposal: guessMapping(layout, entity), entity, file };
}

/**
 * An encoding refusal while init reads the file: its hint names the mapping's `encoding:`, but
 * no mapping exists yet, so it is told as the command to run again.
 */
function encodingRefusal(e: SourceError, opts: MappingInitOptions, given: string | undefined): SourceError {
  const again = (enc: string): string =>
    ['forklift mapping init', shellWord(opts.source), '--entity', shellWord(opts.entity), ...(opts.out === undefined ? [] : ['--out', shellWord(opts.out)]), '--encoding', enc].join(' ');
  const candidates = encodingCandidates(e);
  let hint: string;
  if (candidates.length > 0) {
    const [first, ...rest] = candidates as [string, ...string[]];
    hint = `run \`${again(first)}\`${rest.length > 0 ? ` (or --encoding ${rest.join(', ')})` : ''} with the encoding the file was written in: ${CJK_ENCODING_ADVICE}`;
  } else if (given !== undefined) {
    hint = `the file is not ${given} as named: run \`${again('NAME')}\` with the encoding it was written in, or leave out --encoding to detect it`;
  } else {
    hint = `run \`${again('NAME')}\` with the encoding the file was written in, ${ANY_ENCODING_ADVICE}`;
  }
  return new SourceError(namedByFlag(e.message), { code: e.code, hint, cause: e, ...(e.location === undefined ? {} : { location: e.location }) });
}

/** A proposal as JSON and as the lines a person reads: no sampled data, only what was guessed. */
export interface FieldSummary {
  field: string;
  required: boolean;
  from: string[] | null;
  expr?: string;
  const?: string | boolean;
  confidence: Confidence;
  score: number;
  why: string[];
  todo: string[];
  options: Record<string, unknown>;
}

export interface ProposalSummary {
  entity: string;
  file: string;
  written: boolean;
  source: { format: string; path: string; encoding?: string; delimiter?: string; sheet?: string; header_row: number; preamble: string[]; sampled_rows: number };
  filter: { expr: string; why: string } | null;
  fields: FieldSummary[];
  unused_columns: string[];
}

export function summarize(p: Proposed, written: boolean, display: (f: string) => string = (f) => path.relative(process.cwd(), f) || f): ProposalSummary {
  const L = p.proposal.layout;
  return {
    entity: p.proposal.entity,
    file: display(p.file),
    written,
    source: {
      format: L.format,
      path: display(L.path),
      ...(L.encoding === undefined ? {} : { encoding: L.encoding }),
      ...(L.delimiter === undefined ? {} : { delimiter: L.delimiter }),
      ...(L.sheet === undefined ? {} : { sheet: L.sheet }),
      header_row: L.headerRow,
      preamble: L.preamble,
      sampled_rows: L.rows.length,
    },
    filter: p.proposal.filter ?? null,
    fields: p.proposal.fields.map((f) => {
      const options: Record<string, unknown> = {};
      for (const k of ['join', 'clean', 'default', 'values', 'decimal', 'date', 'timestamp', 'timezone'] as const) if (f[k] !== undefined) options[k] = f[k];
      return {
        field: f.field,
        required: f.required,
        from: f.from ?? null,
        ...(f.expr === undefined ? {} : { expr: f.expr }),
        ...(f.const === undefined ? {} : { const: f.const }),
        confidence: isWritten(f) ? f.confidence : 'none',
        score: Math.round(f.score * 100) / 100,
        why: f.why,
        todo: f.todo,
        options,
      };
    }),
    unused_columns: p.proposal.unused,
  };
}

/** Writes the mapping file of a proposal; refuses to overwrite unless `force`. Returns the text written. */
export function writeMapping(p: Proposed, force: boolean): string {
  const text = renderMappingYaml(p.proposal, p.file);
  writeNewFile(p.file, text, force);
  return text;
}

/** What a person reads: one line per field, and what to check. */
export function fieldRows(s: ProposalSummary): string[][] {
  return s.fields.map((f) => [
    f.field + (f.required ? '*' : ''),
    f.from?.join(' + ') ?? (f.expr !== undefined ? `expr: ${f.expr}` : f.const !== undefined ? `const: ${JSON.stringify(f.const)}` : '-'),
    f.confidence === 'none' ? '-' : `${f.confidence} ${Math.round(f.score * 100)}%`,
    [...f.todo.map((t) => `TODO ${t}`), ...(f.todo.length === 0 ? f.why.slice(-1) : [])].join('; '),
  ]);
}
