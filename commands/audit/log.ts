import { Flags } from '@oclif/core';
import { BaseCommand } from '../../src/cli/base.js';
import { table } from '../../src/cli/render.js';
import { ConfigError } from '../../src/core/errors.js';
import { exportSource } from '../../src/bundle/source.js';
import { chainOrder, readLedger } from '../../src/audit/source.js';

interface LogEntry {
  seq: number | null;
  id: string | null;
  command: string | null;
  status: string | null;
  started: string | null;
  finished: string | null;
  operator: string | null;
  host: string | null;
  prev_hash: string | null;
  entry_hash: string | null;
}

export default class AuditLog extends BaseCommand {
  static override summary = 'List the audit trail of a store: every run recorded in forklift_runs, in chain order.';
  static override examples = ['<%= config.bin %> audit log', '<%= config.bin %> audit log --target postgres://erp@db/acme --json'];
  static override flags = {
    target: Flags.string({ description: 'Store URL or bundle to read; default: the plan’s target, else sqlite:./forklift.db.' }),
    plan: Flags.string({ description: 'The plan (for the default target).', default: './forklift.yaml' }),
  };

  async run(): Promise<{ source: string; entries: LogEntry[] }> {
    const { flags } = await this.parse(AuditLog);
    const source = flags.target !== undefined && !/^[a-z]+:/.test(flags.target) ? flags.target : exportSource({ source: flags.target, plan: flags.plan }).source;
    const ledger = await readLedger(source);
    if (!ledger.exists) throw new ConfigError(`${ledger.display}: no ledger (forklift_runs) here`, { code: 'audit.no-ledger', hint: 'Runs are recorded by migrate and bundle import.' });
    const entries: LogEntry[] = chainOrder(ledger.records).map((r) => ({
      seq: r.seq === null ? null : Number(r.seq),
      id: r.id,
      command: r.command,
      status: r.status,
      started: r.started,
      finished: r.finished,
      operator: r.operator,
      host: r.host,
      prev_hash: r.prev_hash,
      entry_hash: r.entry_hash,
    }));
    if (!this.jsonEnabled()) {
      this.log(
        table(
          ['seq', 'id', 'command', 'status', 'started', 'operator', 'entry_hash'],
          entries.map((e) => [e.seq === null ? '-' : String(e.seq), e.id ?? '', e.command ?? '', e.status ?? '', e.started ?? '', e.operator ?? '', e.entry_hash ? e.entry_hash.slice(0, 12) : '(unchained)']),
          (c) => c === 0,
        ),
      );
      const unchained = entries.filter((e) => e.seq === null).length;
      this.log(`\n${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} in ${ledger.display}${unchained ? ` (${unchained} from before the audit chain)` : ''}`);
    }
    return { source: ledger.display, entries };
  }
}
