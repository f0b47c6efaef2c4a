/**
 * The questions of `forklift init` on a terminal: target, model, legacy folder, then which
 * entity each file holds (the guess, to accept or change).
 */
import { input, select } from '@inquirer/prompts';
import { chooseEntity, sourceLabel, type InitAnswers, type InitPlan } from '../init/index.js';
import { ask } from './prompt.js';
import { table } from './render.js';

export async function askAnswers(defaults: InitAnswers): Promise<InitAnswers> {
  const target = await ask(input({ message: 'Target store URL', default: defaults.target }));
  const model = await ask(input({ message: 'Model (factory, or a model file)', default: defaults.model }));
  const legacy = await ask(input({ message: 'Folder of the legacy files', default: defaults.legacy }));
  return { target, model, legacy };
}

export function initTable(plan: InitPlan): string {
  return table(
    ['source', 'entity', 'fit', 'next best'],
    plan.sources.map((s) => [
      sourceLabel(s),
      s.entity ?? '-',
      s.error !== undefined ? 'unreadable' : `${Math.round(s.score * 100)}%`,
      s.error ?? s.note ?? s.ranking.filter((r) => r.entity !== s.entity).slice(0, 1).map((r) => `${r.entity} ${Math.round(r.score * 100)}%`).join(''),
    ]),
    () => false,
  );
}

/** Accept the entity of every file or change some; false when the person cancels. */
export async function reviewInit(plan: InitPlan, out: (s: string) => void): Promise<boolean> {
  for (;;) {
    out('');
    out(initTable(plan));
    out('');
    const action = await ask(
      select({
        message: 'Write forklift.yaml and these mappings?',
        choices: [
          { name: 'Write them', value: 'write' },
          { name: "Change a file's entity", value: 'change' },
          { name: 'Cancel (write nothing)', value: 'cancel' },
        ],
      }),
    );
    if (action === 'write') return true;
    if (action === 'cancel') return false;
    const readable = plan.sources.filter((s) => s.error === undefined);
    const at = await ask(select({ message: 'Which file?', choices: readable.map((s, i) => ({ name: `${sourceLabel(s)} (${s.entity ?? '-'})`, value: i })), pageSize: 15 }));
    const source = readable[at];
    if (source === undefined) continue;
    const entity = await ask(
      select({
        message: `${sourceLabel(source)} holds`,
        choices: [...source.ranking.map((r) => ({ name: `${r.entity} (${Math.round(r.score * 100)}%)`, value: r.entity })), { name: '(none: skip this file)', value: '' }],
      }),
    );
    // One mapping per entity: a file that had this entity gives it up.
    for (const s of plan.sources) if (s !== source && s.entity === entity && entity !== '') s.entity = null;
    chooseEntity(plan, source, entity === '' ? null : entity);
  }
}
