/**
 * `forklift init [DIR]`: find the legacy CSV and Excel files, guess which entity each holds (by
 * its header's names and values, and its file name), and write forklift.yaml with one mapping
 * per source. Nothing is written when any file to write exists already (unless forced).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, ForkliftError, SourceError } from '../core/errors.js';
import { loadModel } from '../model/load.js';
import { dependencyOrder, type Model } from '../model/types.js';
import { DEFAULT_TARGET, displayPath } from '../plan/paths.js';
import { redactUrl } from '../stores/url.js';
import { visibleWorksheets } from '../sources/xlsx.js';
import { detectLayout, formatOfFile, unreadFormatOf, unreadReason, type SourceLayout } from './detect.js';
import { checkEncodingFiles, initEncodingRefusal, parseInitEncodings, type EncodingRefusal, type InitEncodings } from './encodings.js';
import { shellWord } from '../util/shell.js';
import { guessMapping, type MappingProposal } from './guess.js';
import { ENTITY_FILE_HINTS, nameTokens } from './names.js';
import { isWritten, renderMappingYaml, schemaLine, writeNewFile, yamlScalar } from './write.js';

export interface InitAnswers {
  /** Target store URL, as written into the plan. */
  target: string;
  /** `factory` or a model file relative to DIR. */
  model: string;
  /** The folder of legacy files, relative to DIR. */
  legacy: string;
}

export interface SourceGuess {
  /** Absolute path. */
  file: string;
  /** The sheet, for one of several sheets of a workbook (each is a source of its own). */
  sheet?: string;
  /** The entity chosen, or null when none fits well enough (no mapping written). */
  entity: string | null;
  score: number;
  /** Every entity with its score, best first. */
  ranking: { entity: string; score: number }[];
  /** Why not read (unreadable file), if so. */
  error?: string;
  /** Why no mapping is written though an entity fits. */
  note?: string;
  proposal?: MappingProposal;
  layout?: SourceLayout;
}

export interface InitPlan {
  dir: string;
  answers: InitAnswers;
  model: Model;
  sources: SourceGuess[];
}

export interface InitOptions {
  /** `--encoding` values: `NAME` for every file auto cannot decide, `FILE=NAME` (relative to cwd) for one file. */
  encoding?: readonly string[] | undefined;
  /** The command to run again, as a refusal's hint shows it (default `forklift init DIR`). */
  again?: string | undefined;
  log?: (m: string) => void;
}

export interface InitResult {
  dir: string;
  plan: string;
  target: string;
  model: string;
  /** `encoding` is the text encoding written into the mapping (CSV and JSON Lines sources). */
  mappings: { file: string; source: string; entity: string; fields: number; of: number; score: number; encoding?: string }[];
  skipped: { source: string; reason: string }[];
}

const MIN_ENTITY_SCORE = 0.3;
// Office's lock files (~$Items.xlsx) and hidden files are no exports.
const LISTED = (f: string): boolean => !/^(~\$|\.)/.test(path.basename(f));
const DATA_FILE = (f: string): boolean => formatOfFile(f) !== undefined && LISTED(f);
const UNREAD_FILE = (f: string): boolean => unreadFormatOf(f) !== undefined && LISTED(f);

/** Legacy data files in `folder` and its subfolders (two levels), sorted; mappings/ and runs/ are not searched. */
export function findDataFiles(folder: string, depth = 2): string[] {
  return findFiles(folder, DATA_FILE, depth);
}

function findFiles(folder: string, keep: (file: string) => boolean, depth: number): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(folder).sort();
  } catch {
    return out;
  }
  for (const n of names) {
    const f = path.join(folder, n);
    let st;
    try {
      st = statSync(f);
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      if (depth > 0 && !['mappings', 'runs', 'node_modules', '.git'].includes(n)) out.push(...findFiles(f, keep, depth - 1));
    } else if (keep(f)) out.push(f);
  }
  return out;
}

const isFolder = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();

/** The default legacy folder: DIR itself when it holds data files, else its first subfolder that does. */
export function defaultLegacyFolder(dir: string): string {
  if (!isFolder(dir) || findDataFiles(dir, 0).length > 0) return '.';
  for (const n of readdirSync(dir).sort()) {
    const f = path.join(dir, n);
    if (statSync(f).isDirectory() && !['mappings', 'runs', 'node_modules', '.git'].includes(n) && findDataFiles(f, 1).length > 0) return n;
  }
  return '.';
}

/** How well a proposal covers its entity: required fields count twice; plus a bonus for a telling file name. */
export function entityScore(p: MappingProposal, file: string, sheet?: string): number {
  let sum = 0;
  let weight = 0;
  for (const f of p.fields) {
    const w = f.required ? 2 : 1;
    weight += w;
    if (isWritten(f) && f.const === undefined) sum += w * f.score;
  }
  // A sheet's name tells what it holds as a file's name does ("BOM" in erp.xlsx).
  const tokens = nameTokens(sheet ?? path.basename(file, path.extname(file)));
  const compact = tokens.join('');
  const hints = ENTITY_FILE_HINTS[p.entity] ?? [];
  const named = hints.some((h) => compact === h || tokens.includes(h) || (h.length >= 4 && compact.includes(h)));
  return Math.min(1, (weight === 0 ? 0 : sum / weight) + (named ? 0.15 : 0));
}

/** Reads every legacy file and guesses its entity. */
export async function planInit(dir: string, answers: InitAnswers, opts: InitOptions = {}): Promise<InitPlan> {
  const log = opts.log ?? (() => undefined);
  const encodings = parseInitEncodings(opts.encoding);
  const root = path.resolve(dir);
  if (existsSync(root) && !isFolder(root)) throw new ConfigError(`${dir} is a file, not a folder`, { code: 'usage', hint: 'Name the project folder (a new one is created when --legacy names the legacy files).' });
  const model = loadModel(answers.model, root, displayPath);
  const folder = path.resolve(root, answers.legacy);
  // One walk of the folder: the files to read, and those of a format forklift does not, in the order found.
  const found = findFiles(folder, (f) => DATA_FILE(f) || UNREAD_FILE(f), 2);
  const files = found.filter(DATA_FILE);
  // A missing DIR is created when the files are written (with its parents), but only when there
  // are legacy files elsewhere to start from: an empty new folder would scaffold nothing.
  if (files.length === 0 && !existsSync(root)) {
    throw new ConfigError(`${dir} does not exist, so it holds no legacy files to start from; nothing was created`, {
      code: 'init.no-folder',
      hint: 'Create the folder and put the legacy exports (.csv, .txt, .xlsx, .jsonl) in it, or name them with --legacy FOLDER (absolute or relative to DIR), and init creates DIR.',
    });
  }
  const unread = found.filter(UNREAD_FILE).map((file) => ({ file, reason: `${unreadReason(unreadFormatOf(file)!)}, then run init again` }));
  if (files.length === 0) {
    throw new ConfigError(`no CSV or Excel files in ${displayPath(folder)}${unread.length ? ` (${unread.length === 1 ? 'one file' : `${unread.length} files`} of a format forklift does not read)` : ''}`, {
      code: 'init.no-sources',
      hint: unread.length ? 'Save or export those files as CSV, .xlsx or JSON Lines (see below), then run init again.' : 'Name the folder that holds the legacy exports (.csv, .txt, .xlsx, .jsonl).',
      details: unread.map((u) => `${displayPath(u.file)}: ${u.reason}`),
    });
  }
  checkEncodingFiles(encodings, files);
  const sources: SourceGuess[] = [];
  const refusals: EncodingRefusal[] = [];
  for (const { file, sheet } of await sheetsOf(files)) {
    const on = sheet === undefined ? {} : { sheet };
    log(`reading ${sourceLabel({ file, ...on })}`);
    let layout: SourceLayout;
    try {
      layout = await readLayout(file, encodings, sheet);
    } catch (e) {
      if (e instanceof EncodingRefused) {
        refusals.push(e.refusal);
        continue;
      }
      if (!(e instanceof ForkliftError)) throw e;
      sources.push({ file, ...on, entity: null, score: 0, ranking: [], error: e.message });
      continue;
    }
    const ranking = [...model.entities.values()]
      .map((e) => {
        const proposal = guessMapping(layout, e);
        return { entity: e.name, score: entityScore(proposal, file, sheet), proposal };
      })
      .sort((a, b) => b.score - a.score);
    const best = ranking[0];
    sources.push({
      file,
      ...on,
      entity: best !== undefined && best.score >= MIN_ENTITY_SCORE ? best.entity : null,
      score: best?.score ?? 0,
      ranking: ranking.map((r) => ({ entity: r.entity, score: Math.round(r.score * 100) / 100 })),
      ...(best === undefined ? {} : { proposal: best.proposal }),
      layout,
    });
  }
  // A file whose encoding is not settled stops init before anything is written: skipped, it would
  // leave the project without it, and its fix is a flag of this command.
  if (refusals.length > 0) throw initEncodingRefusal(refusals, opts.again ?? againCommand(root, answers));
  // One mapping per entity and run: where two files claim one entity, the better one keeps it.
  const byEntity = new Map<string, SourceGuess>();
  for (const s of [...sources].sort((a, b) => b.score - a.score)) {
    if (s.entity === null) continue;
    const other = byEntity.get(s.entity);
    if (other !== undefined) {
      s.note = `${s.entity} is taken by ${sourceLabel(other)}, which fits better`;
      s.entity = null;
    } else byEntity.set(s.entity, s);
  }
  // Listed among the readable files, in the order found, as unreadable (never mapped): a file left out must be seen.
  for (const u of unread) sources.push({ file: u.file, entity: null, score: 0, ranking: [], error: u.reason });
  const at = new Map(found.map((f, i) => [f, i]));
  sources.sort((a, b) => at.get(a.file)! - at.get(b.file)!);
  return { dir: root, answers, model, sources };
}

/** `forklift init DIR` with the answers that are not the defaults, as a hint shows it (a target's password as ***). */
function againCommand(root: string, answers: InitAnswers): string {
  const words = ['forklift', 'init', shellWord(displayPath(root))];
  if (answers.legacy !== defaultLegacyFolder(root)) words.push('--legacy', shellWord(answers.legacy));
  if (answers.target !== INIT_DEFAULTS.target) words.push('--target', shellWord(redactUrl(answers.target)));
  if (answers.model !== INIT_DEFAULTS.model) words.push('--model', shellWord(answers.model));
  return words.join(' ');
}

/** Thrown by readLayout for a file whose encoding is not settled; planInit collects them. */
class EncodingRefused extends Error {
  constructor(readonly refusal: EncodingRefusal) {
    super(refusal.error.message);
  }
}

/**
 * The layout of one legacy file: in the encoding `--encoding FILE=NAME` gives it, else detected,
 * else (auto cannot read it) in the one `--encoding NAME` gives every such file.
 */
async function readLayout(file: string, enc: InitEncodings, sheet?: string): Promise<SourceLayout> {
  const isEncoding = (e: unknown): e is SourceError => e instanceof SourceError && e.code === 'source.encoding';
  const named = enc.files.get(file);
  try {
    return await detectLayout(file, { sampleRows: 500, ...(named === undefined ? {} : { encoding: named }), ...(sheet === undefined ? {} : { sheet }) });
  } catch (e) {
    if (!isEncoding(e)) throw e;
    if (named !== undefined || enc.fallback === undefined) throw new EncodingRefused({ file, error: e, given: named });
  }
  try {
    return await detectLayout(file, { sampleRows: 500, encoding: enc.fallback });
  } catch (e) {
    if (!isEncoding(e)) throw e;
    throw new EncodingRefused({ file, error: e, given: enc.fallback });
  }
}

/** A source as init shows it: the file, and the sheet where a workbook has several (`erp.xlsx[BOM]`). */
export function sourceLabel(s: Pick<SourceGuess, 'file' | 'sheet'>): string {
  return s.sheet === undefined ? displayPath(s.file) : `${displayPath(s.file)}[${s.sheet}]`;
}

/**
 * Each file to read, a workbook once per sheet a person sees when it has more than one. A
 * workbook that cannot be opened is read once, and its error said then.
 */
async function sheetsOf(files: readonly string[]): Promise<{ file: string; sheet?: string }[]> {
  const out: { file: string; sheet?: string }[] = [];
  for (const file of files) {
    const sheets = formatOfFile(file) === 'xlsx' ? await visibleWorksheets(file).catch(() => []) : [];
    if (sheets.length > 1) for (const sheet of sheets) out.push({ file, sheet });
    else out.push({ file });
  }
  return out;
}

/** Sets the entity of one source (a person's choice), rebuilding its proposal. */
export function chooseEntity(plan: InitPlan, source: SourceGuess, entity: string | null): void {
  source.entity = entity;
  const e = entity === null ? undefined : plan.model.entities.get(entity);
  if (e !== undefined && source.layout !== undefined) {
    source.proposal = guessMapping(source.layout, e);
    source.score = entityScore(source.proposal, source.file, source.sheet);
  }
}

function mappingFileOf(plan: InitPlan, entity: string): string {
  return path.join(plan.dir, 'mappings', `${entity}.yaml`);
}

/** Writes forklift.yaml and the mappings. Checks first that none exists (unless `force`), so nothing is half written. */
export function writeInit(plan: InitPlan, force: boolean): InitResult {
  const chosen = plan.sources.filter((s) => s.entity !== null && s.proposal !== undefined && s.proposal.entity === s.entity);
  const modelOrder = [...plan.model.entities.keys()];
  const names = chosen.map((s) => s.entity as string).sort((a, b) => modelOrder.indexOf(a) - modelOrder.indexOf(b));
  const order = dependencyOrder(plan.model, names);
  chosen.sort((a, b) => order.indexOf(a.entity as string) - order.indexOf(b.entity as string));
  const planFile = path.join(plan.dir, 'forklift.yaml');
  const files = [planFile, ...chosen.map((s) => mappingFileOf(plan, s.entity as string))];
  const existing = files.filter((f) => existsSync(f));
  if (!force && existing.length > 0) {
    throw new ConfigError(`${existing.map((f) => displayPath(f)).join(', ')} already exist${existing.length === 1 ? 's' : ''}; nothing was written`, {
      code: 'init.exists',
      hint: 'Use --force to overwrite them, or init another folder.',
    });
  }
  if (chosen.length === 0) {
    throw new ConfigError(`none of the ${plan.sources.length} legacy files looks like an entity of the model ${plan.model.name}; nothing was written`, {
      code: 'init.no-match',
      hint: 'Write a mapping with `forklift mapping init SOURCE --entity E` for each file.',
    });
  }
  const mappings: InitResult['mappings'] = [];
  for (const s of chosen) {
    const file = mappingFileOf(plan, s.entity as string);
    const p = s.proposal as MappingProposal;
    writeNewFile(file, renderMappingYaml(p, file, { tool: 'forklift init' }), true);
    mappings.push({
      file: displayPath(file),
      source: sourceLabel(s),
      entity: s.entity as string,
      fields: p.fields.filter(isWritten).length,
      of: p.fields.length,
      score: Math.round(s.score * 100) / 100,
      ...(p.layout.encoding === undefined ? {} : { encoding: p.layout.encoding }),
    });
  }
  const name = (path.basename(plan.dir) || 'migration').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'migration';
  const lines: string[] = [];
  const schema = schemaLine('plan', plan.dir);
  if (schema !== undefined) lines.push(schema);
  lines.push(
    '# Written by `forklift init`. Check each mapping (TODO comments), `forklift preview mappings/<entity>.yaml`,',
    '# then `forklift validate` and `forklift migrate`.',
    `name: ${yamlScalar(name)}`,
    `target: ${yamlScalar(plan.answers.target)}`,
    `model: ${yamlScalar(plan.answers.model)}`,
    'mappings:                       # relative to this plan, run in this order',
    ...mappings.map((m) => `  - ${yamlScalar(path.relative(plan.dir, path.resolve(m.file)).split(path.sep).join('/'))}`),
    'reject_limit: 1%                # more rejects than this in any entity: nothing is committed, exit 3',
    'load: replace',
  );
  writeNewFile(planFile, lines.join('\n') + '\n', true);
  return {
    dir: displayPath(plan.dir),
    plan: displayPath(planFile),
    target: plan.answers.target,
    model: plan.answers.model,
    mappings,
    skipped: plan.sources
      .filter((s) => !chosen.includes(s))
      .map((s) => ({ source: sourceLabel(s), reason: s.error ?? s.note ?? (s.ranking[0] === undefined ? 'no entity' : `no entity fits well (best: ${s.ranking[0].entity} ${Math.round(s.ranking[0].score * 100)}%)`) })),
  };
}

export const INIT_DEFAULTS = { target: DEFAULT_TARGET, model: 'factory' } as const;
