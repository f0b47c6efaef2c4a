import { Args, Flags } from '../src/cli/oclif.js';
import path from 'node:path';
import { BaseCommand } from '../src/cli/base.js';
import { askAnswers, initTable, reviewInit } from '../src/cli/init-review.js';
import { PromptCancelled } from '../src/cli/prompt.js';
import { table } from '../src/cli/render.js';
import { INIT_DEFAULTS, defaultLegacyFolder, planInit, writeInit, type InitResult } from '../src/init/index.js';

export default class Init extends BaseCommand {
  static override summary = 'Start a migration project: find the legacy files, guess which entity each holds, write forklift.yaml and one mapping per file.';
  static override examples = [
    '<%= config.bin %> init',
    '<%= config.bin %> init acme --yes',
    '<%= config.bin %> init acme --legacy exports --target postgres://localhost/acme --yes',
    '<%= config.bin %> init acme --encoding gb18030 --yes',
    '<%= config.bin %> init acme --encoding acme/legacy/WULIAO.CSV=gb18030 --yes',
  ];
  static override args = { dir: Args.string({ description: 'The project folder.', default: '.' }) };
  static override flags = {
    yes: Flags.boolean({ char: 'y', description: 'Take every default without asking.' }),
    force: Flags.boolean({ description: 'Overwrite forklift.yaml and mapping files that exist.' }),
    target: Flags.string({ description: 'The target store URL.', defaultHelp: INIT_DEFAULTS.target }),
    model: Flags.string({ description: 'factory, or a model file relative to DIR.', defaultHelp: INIT_DEFAULTS.model }),
    legacy: Flags.string({ description: 'The folder of legacy files, relative to DIR.', defaultHelp: 'DIR itself, or its first subfolder with data files' }),
    encoding: Flags.string({
      description:
        'NAME: the encoding (gb18030, shift_jis, big5, windows-1252, ...) of every file whose encoding detection cannot decide; FILE=NAME: of that one file (relative to the current folder). Repeatable; written to each mapping as encoding:.',
      multiple: true,
      multipleNonGreedy: true,
      helpValue: 'NAME|FILE=NAME',
    }),
  };

  async run(): Promise<InitResult> {
    const { args, flags } = await this.parse(Init);
    const dir = path.resolve(args.dir);
    const interactive = this.interactive && process.stdin.isTTY && !flags.yes;
    let answers = { target: flags.target ?? INIT_DEFAULTS.target, model: flags.model ?? INIT_DEFAULTS.model, legacy: flags.legacy ?? defaultLegacyFolder(dir) };
    if (interactive) answers = await askAnswers(answers);
    const plan = await planInit(dir, answers, { encoding: flags.encoding });
    if (interactive) {
      if (!(await reviewInit(plan, (s) => this.log(s)))) throw new PromptCancelled();
    } else if (!this.jsonEnabled()) this.log(initTable(plan) + '\n');
    const result = writeInit(plan, flags.force);
    if (!this.jsonEnabled()) {
      this.log(table(['mapping', 'source', 'entity', 'fields', 'encoding'], result.mappings.map((m) => [m.file, m.source, m.entity, `${m.fields}/${m.of}`, m.encoding ?? '-']), (c) => c === 3));
      for (const s of result.skipped) this.log(`skipped ${s.source}: ${s.reason}`);
      this.log(`\nwrote ${result.plan} (target ${result.target}, model ${result.model}); next: check the TODOs in the mappings, then forklift validate ${result.plan}`);
    }
    return result;
  }
}
