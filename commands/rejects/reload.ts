import { Args, Flags } from '../../src/cli/oclif.js';
import { BaseCommand } from '../../src/cli/base.js';
import { progressReporter } from '../../src/cli/progress.js';
import { renderRunReport } from '../../src/cli/render.js';
import type { RunResult } from '../../src/run/pipeline.js';
import { reloadRejects } from '../../src/run/reload.js';
import { storeUrlFlag } from '../../src/cli/store-url.js';

export default class RejectsReload extends BaseCommand {
  static override summary = 'Reload the fixed rejects files of a run through the same mapping and rules; rows that now pass are loaded (upsert), rows still failing get new rejects files.';
  static override examples = [
    '<%= config.bin %> rejects reload mappings/demo/runs/20261129T101500Z-1a2b',
    '<%= config.bin %> rejects reload runs/20261129T101500Z-1a2b --entity items --json',
    '<%= config.bin %> rejects reload runs/20261129T101500Z-1a2b --encoding windows-1252',
  ];
  static override args = { run_dir: Args.string({ description: 'The run folder (runs/<run-id>/ next to the plan).', required: true }) };
  static override flags = {
    entity: Flags.string({ description: 'Only these entities’ rejects (comma-separated).' }),
    target: storeUrlFlag('target', { description: 'Target store URL; overrides the plan (give the one the run loaded into).' }),
    encoding: Flags.string({
      description: 'The encoding the fixed rejects files were saved in (windows-1252 for Excel\'s "CSV (Comma delimited)" on Western Windows, gb18030, ...), for a file detection cannot read.',
      defaultHelp: 'auto',
    }),
    'keep-staging': Flags.boolean({ description: 'Keep the run’s staging files (staging.sqlite, and staging-raw.sqlite with the raw source rows) in the run folder for inspection.' }),
  };

  async run(): Promise<RunResult> {
    const { args, flags } = await this.parse(RejectsReload);
    const entities = this.list(flags.entity, { name: '--entity', item: 'entity', without: 'for every entity with rejects', example: 'items,bom_lines' });
    const progress = await progressReporter(this.interactive);
    const interrupt = this.interruptible();
    try {
      const result = await reloadRejects({
        runDir: args.run_dir,
        entities,
        target: flags.target,
        encoding: flags.encoding,
        keepStaging: flags['keep-staging'],
        progress: progress.update,
        signal: interrupt.signal,
        log: (m) => {
          if (!this.jsonEnabled()) this.logToStderr(m);
        },
      });
      progress.stop();
      if (!this.jsonEnabled()) this.log(renderRunReport(result));
      return result;
    } finally {
      progress.stop();
      interrupt.release();
    }
  }
}
