import { Args, Flags } from '../src/cli/oclif.js';
import { BaseCommand } from '../src/cli/base.js';
import { DataRejectedError } from '../src/core/errors.js';
import { progressReporter } from '../src/cli/progress.js';
import { renderRunReport } from '../src/cli/render.js';
import { runPlan, type RunResult } from '../src/run/pipeline.js';
import { storeUrlFlag } from '../src/cli/store-url.js';

export default class Migrate extends BaseCommand {
  static override summary = 'Extract, map, validate and load every mapping of a plan into the target, in one transaction.';
  static override examples = ['<%= config.bin %> migrate', '<%= config.bin %> migrate mappings/demo/forklift.yaml --target sqlite:./acme.db --json', '<%= config.bin %> migrate --dry-run --target postgres://user@db/erp'];
  static override args = { plan: Args.string({ description: 'The plan file.', default: './forklift.yaml' }) };
  static override flags = {
    target: storeUrlFlag('target', { description: 'Target store URL; overrides the plan (sqlite:PATH, postgres://…, mysql://…, mssql://…).' }),
    'keep-staging': Flags.boolean({ description: 'Keep the run’s staging files (staging.sqlite, and staging-raw.sqlite with the raw source rows) in the run folder for inspection.' }),
    'dry-run': Flags.boolean({ description: 'Rehearse the load on the real target and roll it back: would insert, update, delete, and the rows the target refuses. Nothing is written but a ledger entry.' }),
  };

  async run(): Promise<RunResult> {
    const { args, flags } = await this.parse(Migrate);
    const progress = await progressReporter(this.interactive);
    // Ctrl-C aborts the run instead of ending the process: it stops its statements, rolls back, records the attempt and removes its staging.
    const interrupt = this.interruptible();
    try {
      const result = await runPlan({ plan: args.plan, command: 'migrate', target: flags.target, keepStaging: flags['keep-staging'], dryRun: flags['dry-run'], progress: progress.update, signal: interrupt.signal });
      progress.stop();
      if (!this.jsonEnabled()) this.log(renderRunReport(result));
      return result;
    } catch (e) {
      // The figures matter most when the run found too many problems: shown above the error.
      if (!this.jsonEnabled() && e instanceof DataRejectedError && e.data) {
        progress.stop();
        this.log(renderRunReport(e.data as RunResult));
      }
      throw e;
    } finally {
      interrupt.release();
      progress.stop();
    }
  }
}
