import { Args } from '../../src/cli/oclif.js';
import { BaseCommand } from '../../src/cli/base.js';
import { table } from '../../src/cli/render.js';
import { checkMappings, type CheckSummary } from '../../src/plan/check.js';

export default class MappingCheck extends BaseCommand {
  static override summary = 'Check the plan and every mapping file: schema, source columns, value maps, types. Reads only headers.';
  static override examples = ['<%= config.bin %> mapping check', '<%= config.bin %> mapping check mappings/demo/forklift.yaml', '<%= config.bin %> mapping check mappings/demo/items.yaml'];
  static override args = { plan: Args.string({ description: 'A plan file, or one mapping file.', default: './forklift.yaml' }) };

  async run(): Promise<CheckSummary> {
    const { args } = await this.parse(MappingCheck);
    const summary = await checkMappings(args.plan);
    if (!this.jsonEnabled()) {
      this.log(table(['mapping', 'entity', 'source', 'columns', 'fields'], summary.mappings.map((m) => [m.mapping, m.entity, m.source, String(m.columns), String(m.fields)]), (c) => c > 2));
      this.log(`\n${summary.mappings.length} mapping file(s) OK`);
    }
    return summary;
  }
}
