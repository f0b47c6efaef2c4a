import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, SourceError } from '../core/errors.js';
import { loadPlan, sourceSpecOf, type LoadedMapping, type LoadedPlan } from '../plan/load.js';
import { displayPath } from '../plan/paths.js';
import { encodingCandidates, encodingFlag, namedByFlag } from '../sources/encoding.js';
import type { SourceNaming } from '../sources/common.js';
import { openSource } from '../sources/index.js';
import { redactUrl, storeIdentity } from '../stores/url.js';
import type { SourceSpec } from '../sources/types.js';
import { shellWord } from '../util/shell.js';
import { didYouMean } from '../util/suggest.js';
import { readRunFolder, type RunFolder } from './history.js';
import { openLedgerReader } from '../audit/source.js';
import { runPlan, type Progress, type RunResult } from './pipeline.js';
import { AS_WRITTEN_DIR, REJECT_META } from './rejects.js';
import { keySources } from './reload-check.js';
import type { EntityReport, Follows } from './report.js';

/**
 * `forklift rejects reload RUN_DIR`: the rejects files of a run, fixed by a person (in Excel, say),
 * go through the same mapping and rules again. A rejects file is just another CSV source for its
 * entity's mapping, so the pipeline runs as for a migrate; only the plan is reshaped: the mappings
 * of the entities reloaded, each reading its rejects file, loading with upsert (append where the
 * entity has no key), and no control totals (they are about the whole source, not a few rows).
 */

export interface ReloadOptions {
  runDir: string;
  /** Only these entities (default: every entity with a rejects file). */
  entities?: string[] | undefined;
  target?: string | undefined;
  keepStaging?: boolean;
  /**
   * The encoding the fixed rejects files were saved in (`--encoding`, e.g. windows-1252 for
   * Excel's plain "CSV (Comma delimited)"); auto or unset detects it.
   */
  encoding?: string | undefined;
  log?: (message: string) => void;
  progress?: (p: Progress) => void;
  signal?: AbortSignal;
}

export async function reloadRejects(opts: ReloadOptions): Promise<RunResult> {
  const log = opts.log ?? (() => {});
  const encoding = encodingFlag(opts.encoding);
  const run = readRunFolder(opts.runDir);
  const r = run.report;
  const shown = displayPath(run.dir);
  // The command as a refusal's hint shows it, with the flags given (a target's password as ***).
  const command = ['forklift rejects reload', shellWord(shown), ...(opts.entities?.length ? ['--entity', shellWord(opts.entities.join(','))] : []), ...(opts.target === undefined ? [] : ['--target', shellWord(redactUrl(opts.target))])].join(' ');
  if (!r.committed) {
    throw new ConfigError(`run ${r.run_id} committed nothing (${r.command}, ${r.status}): its accepted rows are not in the target, so its rejects alone cannot follow them`, {
      code: 'reload.not-committed',
      hint: 'Fix the source or the mapping and run `forklift migrate` again; reload the rejects of a run that committed.',
    });
  }
  const chosen = chooseEntities(r.entities, opts.entities, r.run_id);
  const planFile = path.resolve(run.dir, '..', '..', path.basename(r.plan));
  if (!existsSync(planFile)) {
    throw new ConfigError(`${displayPath(planFile)}: the plan of run ${r.run_id} is not there`, {
      code: 'reload.no-plan',
      hint: 'A run folder stays in runs/ next to its plan; reload it from there.',
    });
  }
  const plan = loadPlan(planFile, { target: opts.target });
  const into = storeIdentity(plan.target);
  if (r.target_id !== undefined && r.target_id !== into) {
    // The fixed rows belong with the rows the run loaded; the plan's target may not be where those went.
    if (opts.target === undefined) {
      throw new ConfigError(`run ${r.run_id} loaded into ${r.target_id}, the plan's target is ${into}: the reload would load into another store`, {
        code: 'reload.target',
        hint: `Give the run's target: --target ${r.target_id}`,
      });
    }
    log(`run ${r.run_id} loaded into ${r.target_id}; this reload loads into ${into}, as --target says`);
  }
  await checkTargetHoldsRun(plan.target, r.run_id, r.target_id, chosen.map((e) => e.entity), log, opts.signal);
  if (r.plan_sha256 && r.plan_sha256 !== plan.sha256) log(`${plan.display} changed since run ${r.run_id}; the reload uses it as it is now`);

  const mappings: LoadedMapping[] = [];
  for (const m of plan.mappings) {
    const e = chosen.find((x) => x.entity === m.spec.entity);
    if (!e) continue;
    mappings.push(await rejectsFileRefusals(command, encoding, () => rereadMapping(plan, m, e, run, encoding)));
  }
  for (const e of chosen) {
    if (!mappings.some((m) => m.spec.entity === e.entity)) {
      throw new ConfigError(`${plan.display} no longer maps ${e.entity}, so its rejects cannot be reloaded`, { code: 'reload.no-mapping', hint: `Add the mapping of ${e.entity} back to the plan, or leave it out with --entity.` });
    }
  }
  const follows: Follows = { run_id: r.run_id, read: { ...Object.fromEntries(r.entities.map((e) => [e.entity, e.read])), ...r.follows?.read } };
  log(`reloading ${chosen.map((e) => `${e.entity} (${e.rejected} rejects)`).join(', ')} of run ${r.run_id} from ${shown}`);
  const reshaped: LoadedPlan = { ...plan, mappings, spec: { ...plan.spec, checks: [] } };
  return rejectsFileRefusals(command, encoding, () => runPlan({
    plan: reshaped,
    command: 'rejects reload',
    follows,
    target: opts.target,
    ...(opts.keepStaging === undefined ? {} : { keepStaging: opts.keepStaging }),
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.progress ? { progress: opts.progress } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  }));
}

/**
 * The fixed rows belong with the rows the run loaded: a store whose ledger has no entry of the run
 * (a SQLite file deleted or recreated, a database reset since, another store given with --target)
 * does not hold those rows, and a reload would leave it with the fixed rows alone. A SQLite file
 * that is not there is refused as every command refuses a store to read (no empty file is made).
 */
async function checkTargetHoldsRun(target: string, runId: string, runTarget: string | undefined, entities: readonly string[], log: (message: string) => void, signal: AbortSignal | undefined): Promise<void> {
  const ledger = await openLedgerReader(target, { signal });
  try {
    let started: number | undefined;
    // Migrates that loaded an entity of this reload: one after the run has loaded over its rows.
    const migrates: { id: string; started: string; entities: string[] }[] = [];
    if (ledger.exists) {
      for await (const batch of ledger.records({ ordered: false })) {
        for (const rec of batch) {
          if (rec.id === runId) started = Date.parse(rec.started ?? '');
          if (rec.command !== 'migrate' || rec.status !== 'succeeded' || rec.id === null) continue;
          const loaded = entities.filter((e) => loadedIn(rec.counts, e));
          if (loaded.length) migrates.push({ id: rec.id, started: rec.started ?? '', entities: loaded });
        }
      }
    }
    if (started !== undefined) {
      for (const m of migrates.filter((x) => Date.parse(x.started) > started!).sort((a, b) => a.started.localeCompare(b.started))) {
        log(`run ${m.id} (migrate, ${m.started}) loaded ${m.entities.join(', ')} into this store after run ${runId}: the reload upserts the fixed rows of run ${runId} over what it loaded; the rows that run rejected are in its own rejects files`);
      }
      return;
    }
    // A store made from a bundle of the run's store holds its rows, and its ledger as imported.
    for (const recs of (await ledger.imported()).values()) if (recs.some((rec) => rec.id === runId)) return;
    const into = storeIdentity(target);
    throw new ConfigError(`${redactUrl(target)} does not hold run ${runId}: its ledger (forklift_runs) has no entry of that run, so the rows it loaded are not there (a database deleted, recreated or reset since, or another store)`, {
      code: 'reload.not-in-target',
      hint:
        runTarget !== undefined && runTarget !== into
          ? `Reload into the store run ${runId} loaded into: --target ${runTarget}. Or run \`forklift migrate\` into this store first, then reload the rejects of the new run.`
          : `Run \`forklift migrate\` into this store again, then reload the rejects of the new run.`,
    });
  } finally {
    await ledger.close();
  }
}

/** Whether a ledger entry's counts say it loaded rows of an entity. */
function loadedIn(counts: string | null, entity: string): boolean {
  try {
    const c = (JSON.parse(counts ?? '{}') as Record<string, { loaded?: unknown } | undefined>)[entity];
    return typeof c?.loaded === 'number' && c.loaded > 0;
  } catch {
    return false;
  }
}

/**
 * An encoding refusal of a rejects file (one read as UTF-8 from its start that is not UTF-8 further
 * on, one named windows-1252 that is UTF-8, and so on) hints at a mapping's `encoding:`, which the
 * reload never reads: the hint names `--encoding` and how to save the file instead.
 */
async function rejectsFileRefusals<T>(command: string, given: string | undefined, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (e) {
    if (!(e instanceof SourceError) || e.code !== 'source.encoding' || !/[\\/]rejects[\\/][^\\/]+\.csv$/.test(e.location?.file ?? '')) throw e;
    throw rejectsEncodingError(e, command, given);
  }
}

function rejectsEncodingError(e: SourceError, command: string, given: string | undefined): SourceError {
  const candidates = encodingCandidates(e);
  const again = (name: string): string => `\`${command} --encoding ${name}\``;
  const save = `save the file as CSV UTF-8 (Excel: Save As, "CSV UTF-8 (Comma delimited)"; forklift wrote it so) and run \`${command}\` again`;
  let hint: string;
  if (given !== undefined) {
    // The file is not what --encoding says (UTF-8 named windows-1252, a byte windows-1252 leaves undefined).
    hint = `the rejects file is not ${given} as --encoding says: leave out --encoding to detect it (UTF-8, with or without byte-order mark, Windows-1252), run ${again('NAME')} with the encoding it was saved in, or ${save}.`;
  } else if (candidates.length) {
    hint = `rejects reload cannot tell the encoding of this rejects file: it reads whole as ${candidates.join(', ')}. Run ${again(candidates[0] as string)} with the encoding it was saved in, or ${save}.`;
  } else {
    hint =
      `rejects reload detects the encoding of a rejects file (UTF-8, with or without byte-order mark, Windows-1252, and a longer Chinese, Japanese or Korean file); this one it cannot read. ` +
      `Run ${again('NAME')} with the encoding it was saved in (windows-1252 for Excel's "CSV (Comma delimited)" on Western Windows), or ${save}.`;
  }
  return new SourceError(namedByFlag(e.message), {
    code: e.code,
    hint,
    cause: e,
    details: e.details,
    ...(e.location === undefined ? {} : { location: e.location }),
    ...(e.data === undefined || candidates.length > 0 ? {} : { data: e.data }),
  });
}

function chooseEntities(entities: EntityReport[], wanted: string[] | undefined, runId: string): EntityReport[] {
  const withRejects = entities.filter((e) => e.rejected > 0 && e.rejects_file);
  if (!wanted?.length) {
    if (!withRejects.length) throw new ConfigError(`run ${runId} has no rejects: nothing to reload`, { code: 'reload.no-rejects', hint: 'Every row of that run was loaded, filtered or dropped as an exact duplicate.' });
    return withRejects;
  }
  return wanted.map((name) => {
    const e = entities.find((x) => x.entity === name);
    if (!e) {
      throw new ConfigError(`--entity ${name}: run ${runId} has no entity ${name}${didYouMean(name, entities.map((x) => x.entity))} (it has ${entities.map((x) => x.entity).join(', ')})`, {
        code: 'usage',
        hint: 'Name an entity of that run.',
      });
    }
    if (!withRejects.includes(e)) throw new ConfigError(`run ${runId} has no rejects of ${name}: nothing to reload`, { code: 'reload.no-rejects', hint: `Entities with rejects in that run: ${withRejects.map((x) => x.entity).join(', ') || 'none'}.` });
    return e;
  });
}

/** The mapping of one entity, reading that entity's rejects file instead of its source. */
async function rereadMapping(plan: LoadedPlan, m: LoadedMapping, e: EntityReport, run: RunFolder, encoding: string | undefined): Promise<LoadedMapping> {
  const file = path.join(run.dir, 'rejects', `${e.entity}.csv`);
  const shown = displayPath(file);
  const putBack = `Run ${run.report.run_id} wrote it; put it back (saved as CSV) or leave ${e.entity} out with --entity.`;
  if (!existsSync(file)) {
    throw new ConfigError(`${shown}: the rejects file of ${e.entity} is missing`, { code: 'reload.no-rejects', hint: putBack });
  }
  // The run named this file, not a mapping: a hint about `path:` would send the person to a key they never wrote.
  const naming: SourceNaming = {
    missing: putBack,
    notAFile: `It must be the rejects file of ${e.entity}, a CSV file: ${putBack.charAt(0).toLowerCase()}${putBack.slice(1)}`,
    empty: `Save the fixed rows of ${e.entity} in it, under the header the run wrote, or leave ${e.entity} out with --entity.`,
    sheet: 'sheet:', // never said: a rejects file is CSV
  };
  // Encoding (unless --encoding names it) and delimiter are detected: Excel saves UTF-8 with a BOM,
  // or (German locale) ';' in Windows-1252. Only the header is read here: the rows to reject again
  // as they are are found while the load reads the file (reject_again), so it is read once whole.
  const probe = await openSource({ format: 'csv', path: file, encoding: encoding ?? 'auto', delimiter: 'auto', header_row: 1 }, { naming });
  await probe.close();
  const expected = e.source_columns ?? (await sourceHeader(m));
  checkRejectsHeader(expected, probe.header, shown, probe.detected);
  const entity = plan.model.entities.get(m.spec.entity)!;
  const reread: SourceSpec = {
    format: 'csv',
    path: file,
    encoding: probe.detected.encoding ?? 'auto',
    delimiter: probe.detected.delimiter ?? 'auto',
    header_row: 1,
    // A spreadsheet may save an unnamed empty column after the data: not a source column, unless the source had one.
    ignore_columns: expected.includes('') ? REJECT_META : [...REJECT_META, ''],
    ...(e.excel_date_system === undefined ? {} : { excel_date_system: e.excel_date_system }),
    reject_again: {
      asWritten: path.join(run.dir, AS_WRITTEN_DIR, `${e.entity}.csv`),
      width: expected.length,
      keys: keySources(m, entity),
      sourceColumns: expected,
      runId: run.report.run_id,
    },
  };
  return { ...m, reread, sourcePath: file, sourceLabel: shown, spec: { ...m.spec, load: entity.primaryKey.length ? 'upsert' : 'append' } };
}

/** The header of the mapping's own source (a report from before source_columns were recorded). */
async function sourceHeader(m: LoadedMapping): Promise<string[]> {
  const s = await openSource(sourceSpecOf(m));
  await s.close();
  return s.header;
}

/**
 * The source columns of a rejects file must be those of the source, by name and in order (the
 * meta columns after them are ignored, and may be deleted): a renamed, moved or deleted column
 * would map other values than the person fixed, so it stops the reload, naming the column.
 */
export function checkRejectsHeader(expected: readonly string[], header: readonly string[], file: string, detected: { encoding?: string; delimiter?: string }): void {
  const meta = REJECT_META as readonly string[];
  const got = header.filter((h) => !meta.includes(h) && (h !== '' || expected.includes('')));
  const how = `read as ${detected.encoding ?? 'text'} with delimiter ${JSON.stringify(detected.delimiter ?? ',')}`;
  const fail = (message: string, hint: string): never => {
    throw new ConfigError(`${file}: ${message}`, { code: 'reload.columns', location: { file, line: 1 }, hint, details: [`header ${how}: ${header.join(' | ')}`, `source columns: ${expected.join(' | ')}`] });
  };
  const restore = 'Keep the source columns exactly as they were written (names and order); edit only the values in the rows.';
  if (got.length === 1 && expected.length > 1 && !expected.includes(got[0]!)) {
    fail(`the header is one column '${got[0]}' (${how}): the file's delimiter or encoding is not one forklift recognises`, 'Save the file as CSV (comma- or semicolon-separated, UTF-8 or Windows-1252).');
  }
  for (const [i, name] of expected.entries()) {
    if (got[i] === name) continue;
    const at = got.indexOf(name);
    if (at < 0) {
      const other = got[i];
      if (other !== undefined && !expected.includes(other)) fail(`column '${name}' was renamed to '${other}' (column ${i + 1})`, restore);
      fail(`column '${name}' was removed`, restore);
    }
    fail(`column '${name}' was moved: it is column ${at + 1}, the source has it as column ${i + 1}`, restore);
  }
  const extra = got.slice(expected.length);
  if (extra.length) fail(`column '${extra[0]}' is not a column of the source`, `${restore} Delete the columns you added.`);
}
