import { Args, Flags } from '../../src/cli/oclif.js';
import { BaseCommand, TABLES_LIST } from '../../src/cli/base.js';
import { textSpinner } from '../../src/cli/progress.js';
import { table } from '../../src/cli/render.js';
import { importBundle, type ImportResult } from '../../src/bundle/import.js';
import { storeUrlFlag } from '../../src/cli/store-url.js';

export default class BundleImport extends BaseCommand {
  static override summary = 'Load a bundle into any supported store, after verifying it, in one transaction.';
  static override examples = ['<%= config.bin %> bundle import acme-exit-2026-11-22 --target postgres://me@newdb/acme', '<%= config.bin %> bundle import archive.zip --target sqlite:./restored.db --load upsert'];
  static override args = { bundle: Args.string({ description: 'A bundle folder or zipped bundle.', required: true }) };
  static override flags = {
    target: storeUrlFlag('target', { description: 'Store URL to load into (sqlite:PATH, postgres://…, mysql://…, mssql://…).', required: true }),
    load: Flags.string({ description: 'append (default: keys already in the target fail the import), replace or upsert.', options: ['append', 'replace', 'upsert'], default: 'append' }),
    tables: Flags.string({ description: 'Only these tables, comma-separated.' }),
  };

  async run(): Promise<ImportResult> {
    const { args, flags } = await this.parse(BundleImport);
    const tables = this.list(flags.tables, TABLES_LIST);
    const spinner = await textSpinner(this.interactive);
    const fmt = new Intl.NumberFormat('en-US');
    const interrupt = this.interruptible();
    try {
      const result = await importBundle({
        bundle: args.bundle,
        target: flags.target,
        load: flags.load as 'append' | 'replace' | 'upsert',
        tables,
        signal: interrupt.signal,
        progress: (p) => spinner.update(p.stage === 'verify' ? `verifying${p.table ? ` ${p.table}` : ''}` : p.stage === 'stage' ? `reading ${p.table}: ${fmt.format(p.rows)} rows` : 'loading in one transaction'),
      });
      spinner.stop();
      if (!this.jsonEnabled()) {
        this.log(`imported ${result.bundle} → ${result.target} (${result.load}, run ${result.run_id})\n`);
        // Only ledger entries an earlier import of the same bundle kept are skipped: a column for them only where there are some.
        // An upsert's loaded rows are new or updated: it does not count which.
        const skipped = result.tables.some((t) => t.already_in_target > 0);
        const header = ['table', 'rows', result.load === 'upsert' ? 'loaded (new or updated)' : 'loaded', ...(skipped ? ['ledger entries already kept'] : [])];
        this.log(table(header, result.tables.map((t) => [t.name, fmt.format(t.rows), fmt.format(t.loaded), ...(skipped ? [fmt.format(t.already_in_target)] : [])])));
        const l = result.ledger;
        if (l) this.log(`\nthe bundle's ledger is kept in ${l.kept_in}, apart from the target's own chain${l.head ? ` (the bundle's head ${l.head}, recorded in this import's entry)` : ' (from before the audit chain)'}`);
        this.log(`${l ? '' : '\n'}the import is recorded in the ledger of ${result.target}: ledger head ${result.ledger_head ?? 'none'}`);
      }
      return result;
    } finally {
      spinner.stop();
      interrupt.release();
    }
  }
}
