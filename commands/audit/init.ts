import { Flags } from '../../src/cli/oclif.js';
import { BaseCommand } from '../../src/cli/base.js';
import { exportSource } from '../../src/bundle/source.js';
import { initAuditChain, type AuditInitResult } from '../../src/audit/init.js';
import { storeUrlFlag } from '../../src/cli/store-url.js';

export default class AuditInit extends BaseCommand {
  static override summary = 'Start the audit chain on a store whose forklift_runs predates it: the old entries are kept and chained in the order they ran.';
  static override examples = ['<%= config.bin %> audit init', '<%= config.bin %> audit init --target postgres://erp@db/acme'];
  static override flags = {
    target: storeUrlFlag('target', { description: 'Store URL; default: the plan’s target, else sqlite:./forklift.db.' }),
    plan: Flags.string({ description: 'The plan (for the default target).', default: './forklift.yaml' }),
  };

  async run(): Promise<AuditInitResult> {
    const { flags } = await this.parse(AuditInit);
    const { source } = await exportSource({ source: flags.target, plan: flags.plan });
    const r = await initAuditChain(source);
    if (!this.jsonEnabled()) {
      this.log(
        r.started
          ? `${r.target}: audit chain started · ${r.adopted} earlier entr${r.adopted === 1 ? 'y' : 'ies'} chained in the order they ran · ${r.entries} entries · head ${r.head}`
          : `${r.target}: the ledger is already one audit chain (${r.entries} entries, head ${r.head}); nothing written`,
      );
    }
    return r;
  }
}
