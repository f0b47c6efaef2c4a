/**
 * The interactive review of a guessed mapping (TTY only): the proposal as a table, then accept it
 * or change any field's source column, expression or constant, with @inquirer/prompts.
 */
import { input, select } from '@inquirer/prompts';
import { buildField, fieldRows, summarize, type Proposed } from '../init/index.js';
import { describeProfile } from '../init/profile.js';
import { table } from './render.js';
import { ask } from './prompt.js';

export function proposalTable(p: Proposed): string {
  return table(['field', 'from', 'confidence', 'notes'], fieldRows(summarize(p, false)), () => false);
}

/** Lets a person accept the proposal or change fields; returns false when they chose not to write. */
export async function reviewProposal(p: Proposed, out: (s: string) => void): Promise<boolean> {
  const L = p.proposal.layout;
  out(
    `${L.format}${L.encoding ? `, ${L.encoding}` : ''}${L.delimiter ? `, delimiter ${JSON.stringify(L.delimiter)}` : ''}${L.sheet ? `, sheet ${L.sheet}` : ''}, header on ${L.format === 'xlsx' ? 'row' : 'line'} ${L.headerRow}, ${L.rows.length} rows sampled`,
  );
  for (;;) {
    out('');
    out(proposalTable(p));
    if (p.proposal.filter) out(`filter: ${p.proposal.filter.expr} (${p.proposal.filter.why})`);
    out('');
    const action = await ask(
      select({
        message: `Write ${p.proposal.entity} mapping?`,
        choices: [
          { name: 'Write it', value: 'write' },
          { name: 'Change a field', value: 'change' },
          { name: 'Cancel (write nothing)', value: 'cancel' },
        ],
      }),
    );
    if (action === 'write') return true;
    if (action === 'cancel') return false;
    const field = await ask(
      select({
        message: 'Which field?',
        choices: p.proposal.fields.map((f) => ({ name: `${f.field} ← ${f.from?.join(' + ') ?? f.expr ?? (f.const === undefined ? '-' : JSON.stringify(f.const))}`, value: f.field })),
        pageSize: 15,
      }),
    );
    const source = await ask(
      select({
        message: `${field}: read from`,
        choices: [
          ...p.proposal.profiles.map((c) => ({ name: `${c.name}  (${describeProfile(c)}${c.values[0] === undefined ? '' : `, e.g. ${c.values[0].slice(0, 30)}`})`, value: `col:${c.name}` })),
          { name: '(an expression)', value: 'expr' },
          { name: '(a constant)', value: 'const' },
          { name: '(not mapped)', value: 'none' },
        ],
        pageSize: 15,
      }),
    );
    const col = p.entity.columns.find((c) => c.name === field);
    const i = p.proposal.fields.findIndex((f) => f.field === field);
    if (col === undefined || i < 0) continue;
    const base = { field, type: col.type, required: col.required, score: 1, confidence: 'high' as const, why: ['chosen by you'], todo: [] as string[] };
    if (source.startsWith('col:')) {
      const prof = p.proposal.profiles.find((c) => c.name === source.slice(4));
      if (prof) p.proposal.fields[i] = buildField(col, p.entity, [prof], { score: 1, why: `${prof.name}, chosen by you`, german: p.proposal.german });
    } else if (source === 'expr') {
      const expr = await ask(input({ message: `${field} = (expression over the source columns, e.g. LT_WEEKS * 7)`, required: true }));
      p.proposal.fields[i] = { ...base, expr };
    } else if (source === 'const') {
      const value = await ask(input({ message: `${field} = (a constant)` }));
      p.proposal.fields[i] = { ...base, const: col.type === 'boolean' ? /^(true|1|yes|y|ja|j)$/i.test(value) : value };
    } else {
      p.proposal.fields[i] = { ...base, score: 0, confidence: 'none', why: [], todo: col.required ? [`the required ${field} is not mapped`] : [] };
    }
    p.proposal.unused = p.proposal.profiles.filter((c) => !p.proposal.fields.some((f) => f.from?.includes(c.name) || f.expr?.includes(c.name))).map((c) => c.name);
  }
}
