import { Args, Flags } from '../src/cli/oclif.js';
import { BaseCommand } from '../src/cli/base.js';
import { table } from '../src/cli/render.js';
import { previewMapping, type PreviewResult } from '../src/plan/preview.js';

export default class Preview extends BaseCommand {
  static override summary = 'Show the first mapped rows of a mapping and the errors they would get; writes nothing.';
  static override examples = ['<%= config.bin %> preview mappings/demo/items.yaml', '<%= config.bin %> preview mappings/demo/balances.yaml -n 5 --json'];
  static override args = { mapping: Args.string({ description: 'The mapping file.', required: true }) };
  static override flags = {
    rows: Flags.integer({ char: 'n', description: 'How many source rows.', default: 20, min: 1 }),
    plan: Flags.string({ description: 'The plan whose model to use (default: a forklift.yaml beside or above the mapping, else the factory model).' }),
  };

  async run(): Promise<PreviewResult> {
    const { args, flags } = await this.parse(Preview);
    const result = await previewMapping(args.mapping, { rows: flags.rows, plan: flags.plan });
    if (!this.jsonEnabled()) {
      const head = ['line', ...result.columns, 'status'];
      const rows = result.rows.map((r) => [String(r.line), ...result.columns.map((c) => (r.values?.[c] === null || r.values?.[c] === undefined ? '' : String(r.values[c]))), r.status === 'rejected' ? `REJECT ${r.rule}: ${r.reason}` : r.status]);
      this.log(table(head, rows, () => false));
      if (result.warning !== undefined) this.logToStderr(`Warning: ${result.warning}`);
    }
    return result;
  }
}
