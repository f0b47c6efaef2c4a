import { Args, Flags } from '../src/cli/oclif.js';
import { BaseCommand } from '../src/cli/base.js';
import { fullGc } from '../src/cli/gc.js';
import { textSpinner } from '../src/cli/progress.js';
import { PromptCancelled, ask } from '../src/cli/prompt.js';
import { table } from '../src/cli/render.js';
import { purgePlan } from '../src/retention/plan.js';
import { purge, type PurgeResult, type PurgeStep } from '../src/retention/purge.js';
import { databaseName } from '../src/stores/url.js';
import { sweptText } from '../src/util/work-path.js';
import { storeUrlFlag } from '../src/cli/store-url.js';

const STEP_TEXT: Record<PurgeStep, string> = {
  select: 'selecting the rows the rules let go',
  archive: 'archiving',
  verify: 'verifying the archive',
  compare: 'comparing the store with the archive of the earlier run',
  delete: 'deleting the archived rows',
};

export default class Purge extends BaseCommand {
  static override summary = 'Retention and deletion: archive the rows the retention rules let go, verify the archive, then delete exactly those rows.';
  static override description =
    'Rows go only after a verified archive bundle of exactly them is in place (with deletion-record.json); the delete is one transaction that counts every table again, and the purge is recorded in forklift_runs with the archive’s manifest hash. A row that rows staying in the store reference is kept. Run the same command again after a crash: it finishes the work.';
  static override examples = [
    '<%= config.bin %> purge --archive archive/purge-2026-11 --dry-run',
    '<%= config.bin %> purge forklift.yaml --archive archive/purge-2026-11 --as-of 2026-11-01',
    '<%= config.bin %> purge --all --archive archive/contract-end --confirm acme.db',
  ];
  static override args = { plan: Args.string({ description: 'The plan with the retention rules.', default: './forklift.yaml' }) };
  static override flags = {
    archive: Flags.string({ description: 'The archive bundle folder to write (must not exist, unless it is the complete archive of the same purge).' }),
    target: storeUrlFlag('target', { description: 'Store URL; default: the plan’s target, else sqlite:./forklift.db.' }),
    'as-of': Flags.string({ description: 'Count retention back from this day (YYYY-MM-DD, not in the future); default: today (UTC).' }),
    'dry-run': Flags.boolean({ description: 'Print the rows each table would lose and the cut-offs; change nothing.' }),
    all: Flags.boolean({ description: 'Contract end: archive everything, then empty every data table (forklift_runs stays).' }),
    confirm: Flags.string({ description: 'With --all: the store’s database name (the file name for SQLite).' }),
    'allow-trigger': Flags.string({
      description: 'Let these DELETE triggers (or PostgreSQL rules) of purged tables run, by name or table.name, comma-separated; a purge refuses any other, since forklift cannot see what a trigger changes.',
    }),
    yes: Flags.boolean({ description: 'No prompts (with --all, --confirm is then required).' }),
  };

  async run(): Promise<PurgeResult> {
    const { args, flags } = await this.parse(Purge);
    const allowTriggers = this.list(flags['allow-trigger'], { name: '--allow-trigger', item: 'trigger', without: 'to allow none', example: 'audit_items,items.keep_history' });
    const plan = purgePlan({ plan: args.plan, target: flags.target, all: flags.all });
    let confirm = flags.confirm;
    if (flags.all && confirm === undefined && !flags['dry-run'] && !flags.yes && this.interactive && process.stdin.isTTY) {
      const { input } = await import('@inquirer/prompts');
      confirm = await ask(input({ message: `This empties every table of ${databaseName(plan.target)}. Type its name to confirm:` }), () => new PromptCancelled('cancelled; nothing was archived or deleted', `Run it again and type the name, or give --confirm ${databaseName(plan.target)}.`));
    }
    const spinner = await textSpinner(this.interactive);
    const fmt = new Intl.NumberFormat('en-US');
    const interrupt = this.interruptible();
    try {
      const result = await purge({
        target: plan.target,
        archive: flags.archive,
        rules: plan.rules,
        all: flags.all,
        confirm,
        asOf: flags['as-of'],
        dryRun: flags['dry-run'],
        allowTriggers,
        planSha256: plan.sha256,
        model: plan.model,
        signal: interrupt.signal,
        collectGarbage: fullGc(),
        progress: (p) => spinner.update(`${STEP_TEXT[p.step]}${p.table ? ` ${p.table}` : ''}${p.rows ? `: ${fmt.format(p.rows)} rows` : ''}`),
      });
      spinner.stop();
      if (!this.jsonEnabled()) {
        for (const line of sweptText(result.swept)) this.log(line);
        this.log(render(result, fmt));
      }
      return result;
    } finally {
      spinner.stop();
      interrupt.release();
    }
  }
}

function render(r: PurgeResult, fmt: Intl.NumberFormat): string {
  const head = r.dry_run
    ? `dry run of the purge of ${r.store} as of ${r.as_of}: nothing was changed`
    : r.already_purged
      ? `${r.archive} is complete and its rows are already deleted from ${r.store} (an earlier run committed): nothing to do`
      : `purged ${r.store} as of ${r.as_of} → archive ${r.archive}${r.resumed ? ' (finished the delete of an earlier run)' : ''}`;
  const rows = r.tables.map((t) => [t.name, t.rule, fmt.format(t.rows), fmt.format(t.kept_referenced + t.kept_unevaluable), t.kept_because.join('; ')]);
  const verb = r.dry_run ? 'would go' : r.already_purged ? 'archived' : 'deleted';
  const lines = [head, '', table(['table', 'rule', verb, 'kept', 'kept because'], rows, (c) => c === 2 || c === 3), ''];
  if (r.triggers_allowed.length) lines.push(`${r.dry_run ? 'DELETE triggers that would run (--allow-trigger)' : 'DELETE triggers that ran (--allow-trigger)'}: ${r.triggers_allowed.join(', ')}`);
  if (r.dry_run) lines.push(`${fmt.format(r.rows_total)} rows would be archived and deleted`);
  else if (r.already_purged) lines.push(`${fmt.format(r.rows_total)} rows archived and deleted by the earlier run (manifest sha256 ${r.manifest_sha256}, in forklift_runs); nothing deleted now`);
  else lines.push(`${fmt.format(r.deleted_total)} rows deleted · ${fmt.format(r.rows_total)} archived and verified · manifest sha256 ${r.manifest_sha256} · recorded in forklift_runs, ledger head ${r.ledger_head ?? 'none'}`);
  return lines.join('\n');
}
