import { Args, Flags } from '../../src/cli/oclif.js';
import { ConfigError } from '../../src/core/errors.js';
import { BaseCommand } from '../../src/cli/base.js';
import { renderRunsList } from '../../src/run/runs-diff-render.js';
import { listRuns, type RunsList } from '../../src/run/runs-list.js';
import { storeUrlFlag } from '../../src/cli/store-url.js';

export default class RunsListCommand extends BaseCommand {
  static override summary = 'List the runs of a plan (its runs/ folder) and, with --target, of a store’s ledger: id, command, status, time, per-entity counts.';
  static override examples = ['<%= config.bin %> runs list', '<%= config.bin %> runs list mappings/demo/forklift.yaml', '<%= config.bin %> runs list --plan mappings/demo/forklift.yaml --target sqlite:./acme.db --json'];
  // PLAN as an argument too, as migrate and validate take it: `runs list forklift.yaml` is what a user types.
  static override args = { plan: Args.string({ description: 'The plan whose runs/ folder to read (the same as --plan).' }) };
  static override flags = {
    plan: Flags.string({ description: 'The plan whose runs/ folder to read; default ./forklift.yaml.' }),
    target: storeUrlFlag('target', { description: 'Also list the runs recorded in this store’s forklift_runs (a store URL or a bundle).' }),
  };

  async run(): Promise<RunsList> {
    const { args, flags } = await this.parse(RunsListCommand);
    if (args.plan !== undefined && flags.plan !== undefined && args.plan !== flags.plan) {
      throw new ConfigError(`two plans given: ${args.plan} and --plan ${flags.plan}`, { code: 'usage.plan', hint: 'Give the plan once, as the argument or as --plan.' });
    }
    const result = await listRuns({ plan: args.plan ?? flags.plan ?? './forklift.yaml', target: flags.target });
    if (!this.jsonEnabled()) this.log(renderRunsList(result));
    return result;
  }
}
