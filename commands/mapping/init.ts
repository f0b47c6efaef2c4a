import { Args, Flags } from '../../src/cli/oclif.js';
import { BaseCommand } from '../../src/cli/base.js';
import { proposalTable, reviewProposal } from '../../src/cli/mapping-review.js';
import { PromptCancelled } from '../../src/cli/prompt.js';
import { proposeMapping, summarize, writeMapping, type ProposalSummary } from '../../src/init/index.js';
import { cellText } from '../../src/cli/render.js';

export default class MappingInit extends BaseCommand {
  static override summary = 'Guess a mapping of a legacy file to an entity: layout, fields, formats, value maps; review it on a terminal; write commented YAML.';
  static override description =
    'Reads the header and the first rows of SOURCE (CSV, Excel, JSON Lines), detects encoding, delimiter, header row, decimal comma and date formats, and proposes a field for every column of the entity with how sure it is. On a terminal you accept or change the proposal; without one (or with --yes) the best guess is written and printed.';
  static override examples = [
    '<%= config.bin %> mapping init legacy/ITEMMAST.CSV --entity items',
    '<%= config.bin %> mapping init legacy/OPENBAL.xlsx --entity stock_balances --out mappings/balances.yaml --yes',
    '<%= config.bin %> mapping init legacy/MACHLOG.CSV --entity machine_events --json',
    '<%= config.bin %> mapping init legacy/WULIAO.CSV --entity items --encoding gb18030',
  ];
  static override args = { source: Args.string({ description: 'The legacy file (.csv, .txt, .xlsx, .jsonl).', required: true }) };
  static override flags = {
    entity: Flags.string({ char: 'e', description: 'The entity of the model the file holds (items, bom_lines, stock_balances, machine_events, ...).', required: true }),
    out: Flags.string({ char: 'o', description: 'The mapping file to write.', defaultHelp: 'mappings/<entity>.yaml' }),
    yes: Flags.boolean({ char: 'y', description: 'Write the guess without asking.' }),
    force: Flags.boolean({ description: 'Overwrite the mapping file if it exists.' }),
    sheet: Flags.string({ description: 'The Excel sheet (default: the first).' }),
    encoding: Flags.string({
      description: 'The encoding the file was written in (gb18030, shift_jis, big5, windows-1252, ...), for a file detection cannot decide; written to the mapping as encoding:.',
      defaultHelp: 'auto',
    }),
    plan: Flags.string({ description: 'The plan whose model to use (default: a forklift.yaml beside or above the output, else the factory model).' }),
  };

  async run(): Promise<ProposalSummary> {
    const { args, flags } = await this.parse(MappingInit);
    const proposed = await proposeMapping({ source: args.source, entity: flags.entity, out: flags.out, sheet: flags.sheet, encoding: flags.encoding, plan: flags.plan });
    // Prompts only with a person at both ends: never waits for input from a pipe or under --json.
    if (this.interactive && process.stdin.isTTY && !flags.yes) {
      if (!(await reviewProposal(proposed, (s) => this.log(s)))) throw new PromptCancelled();
    }
    writeMapping(proposed, flags.force);
    const summary = summarize(proposed, true);
    if (!this.jsonEnabled()) {
      const s = summary.source;
      this.log(`${s.path}: ${s.format}${s.encoding ? `, ${s.encoding}` : ''}${s.delimiter ? `, delimiter ${JSON.stringify(s.delimiter)}` : ''}${s.sheet ? `, sheet ${s.sheet}` : ''}, header on ${s.format === 'xlsx' ? 'row' : 'line'} ${s.header_row}, ${s.sampled_rows} rows sampled`);
      this.log('');
      this.log(proposalTable(proposed));
      if (summary.filter) this.log(`\nfilter: ${summary.filter.expr} (${summary.filter.why})`);
      if (summary.unused_columns.length > 0) this.log(`not read: ${summary.unused_columns.map(cellText).join(', ')}`);
      const todo = summary.fields.reduce((n, f) => n + f.todo.length, 0);
      this.log(`\nwrote ${summary.file}${todo > 0 ? ` (${todo} TODO${todo === 1 ? '' : 's'} to check)` : ''}; next: forklift preview ${summary.file}`);
    }
    return summary;
  }
}
