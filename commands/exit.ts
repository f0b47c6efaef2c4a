import { Flags } from '../src/cli/oclif.js';
import { BaseCommand } from '../src/cli/base.js';
import { fullGc } from '../src/cli/gc.js';
import { textSpinner } from '../src/cli/progress.js';
import { table } from '../src/cli/render.js';
import { exportSource } from '../src/bundle/source.js';
import { schemaTablesText } from '../src/bundle/export.js';
import { runExit, type ExitResult, type ExitStep } from '../src/exit/exit.js';
import { sweptText } from '../src/util/work-path.js';
import { storeUrlFlag } from '../src/cli/store-url.js';

const STEP_TEXT: Record<ExitStep, string> = {
  export: 'exporting',
  verify: 'verifying the bundle',
  import: 're-importing into a scratch SQLite file',
  diff: 'comparing the re-import with the source',
  certificate: 'writing the exit certificate',
  'final-verify': 'verifying the finished bundle',
  place: 'moving the bundle into place',
  ledger: 'recording the exit in the source’s ledger',
};

export default class Exit extends BaseCommand {
  static override summary = 'Contract end in one command: export every table, verify, re-import, compare with the source, and write an exit certificate.';
  static override description =
    'The bundle is built in a work folder beside BUNDLE_DIR and moved there only when every step passed: export, verify, re-import into a scratch SQLite file, diff against the source (must be identical), exit-certificate.json and exit-certificate.html as tag files, a last verify. The exit is recorded in the source’s forklift_runs.';
  static override examples = [
    '<%= config.bin %> exit --source postgres://erp@db/acme --to acme-exit-2026-11-22',
    '<%= config.bin %> exit --source sqlite:./forklift.db --to out/acme-exit --parquet --zip',
    "<%= config.bin %> exit --source 'postgres://erp@db/acme?options=-c%20search_path%3Dplant' --to acme-plant-exit",
  ];
  static override flags = {
    source: storeUrlFlag('source', { description: 'Store URL to take out; default: the plan’s target, else sqlite:./forklift.db.' }),
    to: Flags.string({ description: 'The bundle folder to create (must not exist, unless --force).', required: true }),
    plan: Flags.string({ description: 'The plan (for --profile and the default source).', default: './forklift.yaml' }),
    profile: Flags.string({ description: 'Apply a profile of the plan (drop, mask, hash columns); those columns are left out of the diff.' }),
    parquet: Flags.boolean({ description: 'Also write data/parquet/<table>.parquet.' }),
    xlsx: Flags.boolean({ description: 'Also write data/workbook.xlsx for people.' }),
    zip: Flags.boolean({ description: 'Write the bundle as one BUNDLE_DIR.zip instead of a folder.' }),
    force: Flags.boolean({ description: 'Replace an existing BUNDLE_DIR, once the new bundle is complete.' }),
    'skip-schemas': Flags.string({
      description:
        'PostgreSQL: leave out these other schemas on purpose, comma-separated (recorded in bag-info.txt and the certificate). Without it an exit refuses a source with tables outside the schema its URL reads.',
    }),
  };

  async run(): Promise<ExitResult> {
    const { flags } = await this.parse(Exit);
    const skipSchemas = this.list(flags['skip-schemas'], { name: '--skip-schemas', item: 'schema', without: 'to skip none', example: 'audit,staging' });
    const { source, profile, urlName } = await exportSource({ source: flags.source, plan: flags.plan, profile: flags.profile });
    const spinner = await textSpinner(this.interactive);
    const fmt = new Intl.NumberFormat('en-US');
    const interrupt = this.interruptible();
    let current = '';
    let verifying = '';
    try {
      const result = await runExit({
        source,
        sourceUrlName: urlName,
        to: flags.to,
        profile,
        parquet: flags.parquet,
        xlsx: flags.xlsx,
        zip: flags.zip,
        force: flags.force,
        skipSchemas,
        signal: interrupt.signal,
        collectGarbage: fullGc(),
        progress: (p) => {
          // The verify runs beside the re-import and the diff: both are shown until it has passed.
          const text = `${STEP_TEXT[p.step]}${p.table ? ` ${p.table}` : ''}${p.rows ? `: ${fmt.format(p.rows)} rows` : ''}`;
          if (p.step === 'verify') verifying = p.done ? '' : text;
          else current = text;
          spinner.update([current, verifying].filter(Boolean).join(' · '));
        },
      });
      spinner.stop();
      if (!this.jsonEnabled()) {
        const c = result.certificate;
        for (const line of sweptText(result.swept)) this.log(line);
        this.log(`exit of ${c.source} → ${result.bundle}${c.profile ? ` (profile ${c.profile})` : ''}\n`);
        this.log(table(['table', 'rows', 'csv sha256'], c.tables.map((t) => [t.name, fmt.format(t.rows), t.csv_sha256]), (col) => col === 1));
        this.log(`\n${fmt.format(c.rows_total)} rows in ${c.tables.length} table${c.tables.length === 1 ? '' : 's'} · Payload-Oxum ${c.payload_oxum} · manifest sha256 ${c.manifest_sha256}`);
        if (c.not_exported?.length) this.log(`left out as asked (--skip-schemas), not in the bundle: ${schemaTablesText(c.not_exported)}`);
        this.log(`verified, re-imported and compared with the source: identical · certificate: exit-certificate.json, exit-certificate.html · recorded in forklift_runs`);
      }
      return result;
    } finally {
      spinner.stop();
      interrupt.release();
    }
  }
}
