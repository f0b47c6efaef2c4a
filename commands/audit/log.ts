import { Flags } from '../../src/cli/oclif.js';
import { BaseCommand } from '../../src/cli/base.js';
import { exportSource } from '../../src/bundle/source.js';
import { auditLog } from '../../src/audit/log.js';
import { storeUrlFlag } from '../../src/cli/store-url.js';

export default class AuditLog extends BaseCommand {
  static override summary = 'List the audit trail of a store: every run recorded in forklift_runs, in chain order.';
  static override examples = ['<%= config.bin %> audit log', '<%= config.bin %> audit log --target postgres://erp@db/acme --json'];
  static override flags = {
    target: storeUrlFlag('target', { description: 'Store URL or bundle to read; default: the plan’s target, else sqlite:./forklift.db.' }),
    plan: Flags.string({ description: 'The plan (for the default target).', default: './forklift.yaml' }),
  };

  /** The table, or with --json the `{ source, entries }` document, is streamed to stdout as the ledger is read (nothing returned for oclif to print). */
  async run(): Promise<undefined> {
    const { flags } = await this.parse(AuditLog);
    const source = flags.target !== undefined && !/^[a-z]+:/.test(flags.target) ? flags.target : (await exportSource({ source: flags.target, plan: flags.plan })).source;
    const interrupt = this.interruptible();
    try {
      await auditLog({ source, format: this.jsonEnabled() ? 'json' : 'text', stream: process.stdout, signal: interrupt.signal });
    } finally {
      interrupt.release();
    }
    return undefined;
  }
}
