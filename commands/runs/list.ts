import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { renderRunsList } from '../../src/run/runs-diff-render.js';
import { listRuns, type RunsList } from '../../src/run/runs-list.js';
import { storeUrlFlag } from '../../src/cli/store-url.js';

export default class RunsListCommand extends BaseCommand {
  static override summary = 'List the runs of a plan (its runs/ folder) and, with --target, of a store’s ledger: id, command, status, time, per-entity counts.';
  static override examples = ['<%= config.bin %> runs list', '<%= config.bin %> runs list --plan mappings/demo/forklift.yaml --target sqlite:./acme.db --json'];
  static override flags = {
    plan: Flags.string({ description: 'The plan whose runs/ folder to read.', default: './forklift.yaml' }),
    target: storeUrlFlag('target', { description: 'Also list the runs recorded in this store’s forklift_runs (a store URL or a bundle).' }),
  };

  async run(): Promise<RunsList> {
    const { flags } = await this.parse(RunsListCommand);
    const result = await listRuns({ plan: flags.plan, target: flags.target });
    if (!this.jsonEnabled()) this.log(renderRunsList(result));
    return result;
  }
}
