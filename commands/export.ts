import { Args, Flags } from '../src/cli/oclif.js';
import { BaseCommand, TABLES_LIST } from '../src/cli/base.js';
import { textSpinner } from '../src/cli/progress.js';
import { table } from '../src/cli/render.js';
import { sweptText } from '../src/util/work-path.js';
import { exportBundle, notExportedHint, schemaTablesText, type ExportResult } from '../src/bundle/export.js';
import { exportSource } from '../src/bundle/source.js';
import { storeUrlFlag } from '../src/cli/store-url.js';

export default class Export extends BaseCommand {
  static override summary = 'Write every table of a store into an exit bundle: CSV, Arrow, Data Package, data dictionary, BagIt checksums.';
  static override examples = [
    '<%= config.bin %> export acme-exit-2026-11-22 --source postgres://erp@db/acme',
    '<%= config.bin %> export out/bundle --source sqlite:./forklift.db --tables items,bom_lines --parquet --xlsx',
    '<%= config.bin %> export out/for-auditor --profile auditor --zip',
  ];
  static override args = { bundle: Args.string({ description: 'The bundle folder to create (must not exist yet).', required: true }) };
  static override flags = {
    source: storeUrlFlag('source', { description: 'Store URL to export; default: the plan’s target, else sqlite:./forklift.db.' }),
    plan: Flags.string({ description: 'The plan (for --profile and the default source).', default: './forklift.yaml' }),
    tables: Flags.string({ description: 'Only these tables, comma-separated.' }),
    profile: Flags.string({ description: 'Apply a profile of the plan (drop, mask, hash columns).' }),
    parquet: Flags.boolean({ description: 'Also write data/parquet/<table>.parquet.' }),
    xlsx: Flags.boolean({ description: 'Also write data/workbook.xlsx for people.' }),
    zip: Flags.boolean({ description: 'Write the bundle as one deterministic BUNDLE.zip instead of a folder.' }),
  };

  async run(): Promise<ExportResult> {
    const { args, flags } = await this.parse(Export);
    const tables = this.list(flags.tables, TABLES_LIST);
    const { source, profile, urlName } = await exportSource({ source: flags.source, plan: flags.plan, profile: flags.profile });
    const spinner = await textSpinner(this.interactive);
    const fmt = new Intl.NumberFormat('en-US');
    // Ctrl-C stops the export and removes its temporary folder: nothing half-written stays.
    const interrupt = this.interruptible();
    try {
      const result = await exportBundle({
        signal: interrupt.signal,
        dir: args.bundle,
        source,
        sourceUrlName: urlName,
        tables,
        profile,
        parquet: flags.parquet,
        xlsx: flags.xlsx,
        zip: flags.zip,
        progress: (p) => spinner.update(`exporting ${p.table}: ${fmt.format(p.rows)} rows`),
      });
      spinner.stop();
      if (!this.jsonEnabled()) {
        for (const line of sweptText(result.swept)) this.log(line);
        this.log(`exported ${result.source} → ${result.bundle}${result.profile ? ` (profile ${result.profile})` : ''}\n`);
        this.log(table(['table', 'rows', 'csv sha256'], result.tables.map((t) => [t.name, fmt.format(t.rows), t.csv_sha256]), (c) => c === 1));
        this.log(`\n${fmt.format(result.rows_total)} rows in ${result.tables.length} table${result.tables.length === 1 ? '' : 's'} · Payload-Oxum ${result.payload_oxum} · manifest sha256 ${result.manifest_sha256}`);
        if (result.not_exported.length) {
          this.log(`\nnot exported (outside the schema read; recorded in bag-info.txt as Forklift-Not-Exported): ${schemaTablesText(result.not_exported)}`);
          this.log(`to take them out: ${notExportedHint(result.source, result.not_exported)}`);
        }
      }
      return result;
    } finally {
      spinner.stop();
      interrupt.release();
    }
  }
}
