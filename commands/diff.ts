import { Flags } from '../src/cli/oclif.js';
import { BaseCommand, TABLES_LIST } from '../src/cli/base.js';
import { fullGc } from '../src/cli/gc.js';
import { textSpinner } from '../src/cli/progress.js';
import { ConfigError } from '../src/core/errors.js';
import { checkReportFile, diffSnapshots, parseKeySpecs, writeReport, DIFF_FORMATS, type DiffFormat, type DiffResult } from '../src/diff/index.js';
import { storeUrlArg } from '../src/cli/store-url.js';

export default class Diff extends BaseCommand {
  static override summary = 'Compare two snapshots (bundle folders, zipped bundles or store URLs): schema, then rows matched by key. Exit 0 identical, 1 different, 2 trouble.';
  static override examples = [
    '<%= config.bin %> diff acme-exit-2026-11-22 postgres://erp@db/acme',
    '<%= config.bin %> diff before.zip after.zip --details --format html --output diff.html',
    '<%= config.bin %> diff sqlite:./old.db sqlite:./new.db --tables items --ignore-columns items.updated_at --details',
    '<%= config.bin %> diff a b --key readings=sensor+ts --format csv --output changes.csv',
  ];
  static override args = {
    left: storeUrlArg('LEFT', { description: 'The snapshot before: a bundle folder, a .zip bundle, or a store URL.', required: true }),
    right: storeUrlArg('RIGHT', { description: 'The snapshot after, the same kinds.', required: true }),
  };
  static override flags = {
    details: Flags.boolean({ description: 'List every added and removed row and every changed cell (implied by csv and html).' }),
    key: Flags.string({ description: 'Match a table’s rows by these columns: TABLE=COL or TABLE=COL1+COL2 (repeatable, or comma-separated).', multiple: true, multipleNonGreedy: true }),
    'ignore-columns': Flags.string({ description: 'Leave columns out: COL in every table, TABLE.COL in one (comma-separated).', multiple: true, multipleNonGreedy: true }),
    tables: Flags.string({ description: 'Only these tables (comma-separated).' }),
    format: Flags.string({ description: 'Report format.', options: [...DIFF_FORMATS], default: 'text' }),
    output: Flags.string({ char: 'o', description: 'Write the report to this file instead of stdout.' }),
  };

  async run(): Promise<DiffResult | undefined> {
    const { args, flags, raw } = await this.parse(Diff);
    const tables = this.list(flags.tables, TABLES_LIST);
    this.checkListValues(flags.key, { name: '--key', item: 'TABLE=COLUMN', without: 'to match rows by their primary keys', example: 'items=item_code,readings=sensor+ts' });
    this.checkListValues(flags['ignore-columns'], { name: '--ignore-columns', item: 'column', without: 'to compare every column', example: 'updated_at,items.note' });
    const json = this.jsonEnabled();
    const formatGiven = raw.some((t) => t.type === 'flag' && t.flag === 'format');
    // With --json stdout holds one JSON document: the report itself, or (with --output) the summary.
    if (json && !flags.output && formatGiven && flags.format !== 'json') {
      throw new ConfigError(`--json prints JSON on stdout, so --format ${flags.format} needs --output FILE`, { code: 'usage', hint: 'Add --output FILE, or leave out --json.' });
    }
    const format = (json && !flags.output ? 'json' : flags.format) as DiffFormat;
    if (flags.output) checkReportFile(flags.output);
    const spinner = await textSpinner(this.interactive);
    const fmt = new Intl.NumberFormat('en-US');
    const interrupt = this.interruptible();
    try {
      const run = await diffSnapshots({
        left: args.left,
        right: args.right,
        details: flags.details || format === 'csv' || format === 'html',
        keys: parseKeySpecs(flags.key ?? []),
        ignore: flags['ignore-columns'] ?? [],
        tables,
        signal: interrupt.signal,
        progress: (p) => spinner.update(`${p.phase} ${p.table}: ${fmt.format(p.rows)} rows`),
        collectGarbage: fullGc(),
      });
      spinner.stop();
      try {
        await writeReport(run, format, flags.output ? { file: flags.output } : { stream: process.stdout });
      } finally {
        run.dispose();
      }
      process.exitCode = run.result.identical ? 0 : 1;
      if (flags.output && !json) this.log(`diff: ${run.result.identical ? 'identical' : 'different'} · ${format} report written to ${flags.output}`);
      return flags.output ? run.result : undefined;
    } finally {
      spinner.stop();
      interrupt.release();
    }
  }
}
