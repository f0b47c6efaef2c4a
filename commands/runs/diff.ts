import { Args, Flags } from '../../src/cli/oclif.js';
import { BaseCommand } from '../../src/cli/base.js';
import { ConfigError } from '../../src/core/errors.js';
import { diffRuns, type RunsDiff } from '../../src/run/runs-diff.js';
import { RUNS_DIFF_FORMATS, renderRunsDiffHtml, renderRunsDiffText, type RunsDiffFormat } from '../../src/run/runs-diff-render.js';

export default class RunsDiffCommand extends BaseCommand {
  static override summary = 'Compare two runs: per entity the ledgers side by side, and the rejects fixed, still failing and new, matched by source key.';
  static override examples = [
    '<%= config.bin %> runs diff 20261129T101500Z-1a2b 20261129T113000Z-9f3c',
    '<%= config.bin %> runs diff runs/20261129T101500Z-1a2b runs/20261129T113000Z-9f3c --format html > rehearsal.html',
  ];
  static override args = {
    run_a: Args.string({ description: 'The earlier run: a run id (or its unique start) or a run folder.', required: true }),
    run_b: Args.string({ description: 'The later run, the same kinds.', required: true }),
  };
  static override flags = {
    plan: Flags.string({ description: 'The plan whose runs/ folder run ids are looked up in.', default: './forklift.yaml' }),
    format: Flags.string({ description: 'Report format.', options: [...RUNS_DIFF_FORMATS], default: 'text' }),
  };

  async run(): Promise<RunsDiff | undefined> {
    const { args, flags, raw } = await this.parse(RunsDiffCommand);
    const format = flags.format as RunsDiffFormat;
    if (this.jsonEnabled() && raw.some((t) => t.type === 'flag' && t.flag === 'format') && format !== 'json') {
      throw new ConfigError(`--json prints JSON on stdout, so it cannot be combined with --format ${format}`, { code: 'usage', hint: 'Leave out --json, or use --format json.' });
    }
    const interrupt = this.interruptible();
    try {
      const d = await diffRuns({ a: args.run_a, b: args.run_b, plan: flags.plan, signal: interrupt.signal });
      if (this.jsonEnabled()) return d;
      if (format === 'json') this.log(JSON.stringify(d, null, 2));
      else this.log(format === 'html' ? renderRunsDiffHtml(d) : renderRunsDiffText(d));
      return undefined;
    } finally {
      interrupt.release();
    }
  }
}
