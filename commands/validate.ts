import { Args, Flags } from '../src/cli/oclif.js';
import { BaseCommand } from '../src/cli/base.js';
import { DataRejectedError } from '../src/core/errors.js';
import { progressReporter } from '../src/cli/progress.js';
import { renderRunReport } from '../src/cli/render.js';
import { runPlan, type RunResult } from '../src/run/pipeline.js';
import { storeUrlFlag } from '../src/cli/store-url.js';

export default class Validate extends BaseCommand {
  static override summary = 'Extract, map and validate everything; write the run report and rejects; load nothing.';
  static override examples = ['<%= config.bin %> validate', '<%= config.bin %> validate mappings/demo/forklift.yaml --json'];
  static override args = { plan: Args.string({ description: 'The plan file.', default: './forklift.yaml' }) };
  static override flags = {
    target: storeUrlFlag('target', { description: 'Store whose existing rows count for foreign keys; overrides the plan.' }),
    'keep-staging': Flags.boolean({ description: 'Keep the run’s staging files (staging.sqlite, and staging-raw.sqlite with the raw source rows) in the run folder for inspection.' }),
  };

  async run(): Promise<RunResult> {
    const { args, flags } = await this.parse(Validate);
    const progress = await progressReporter(this.interactive);
    const interrupt = this.interruptible();
    try {
      const result = await runPlan({ plan: args.plan, command: 'validate', target: flags.target, keepStaging: flags['keep-staging'], progress: progress.update, signal: interrupt.signal });
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
      progress.stop();
      interrupt.release();
    }
  }
}
