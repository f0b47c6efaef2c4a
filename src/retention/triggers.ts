import { ConfigError, StoreError } from '../core/errors.js';
import type { DeleteTrigger } from '../stores/types.js';
import { didYouMean } from '../util/suggest.js';

/**
 * Triggers and rules that a purge's DELETE would set off (SPEC section 11). Foreign keys a purge
 * checks itself (stores/delete-common.ts), but what a trigger does is hidden in its body: it may
 * write an audit row, delete or change rows of other tables that were never archived, or refuse
 * the delete. So a purge refuses, before anything is archived (the dry run too), while a purged
 * table has an enabled DELETE trigger or rule, and names each; the user disables it for the purge,
 * or lets it run by name (`--allow-trigger`), which the result and the ledger entry then record.
 * The delete's transaction checks again (a trigger made after the archive was written).
 */

/** How a trigger is named in messages and records: `table.name (AFTER DELETE trigger)`. */
export function triggerText(t: DeleteTrigger): string {
  return `${t.table}.${t.name} (${t.when} ${t.kind}${t.on ? ` on partition ${t.on}` : ''})`;
}

function disableHint(t: DeleteTrigger, display: string): string {
  if (t.kind === 'rule') return `ALTER TABLE ${t.table} DISABLE RULE ${t.name}, and ENABLE it after the purge`;
  if (/^postgres(ql)?:/.test(display)) return `ALTER TABLE ${t.on ?? t.table} DISABLE TRIGGER ${t.name}, and ENABLE it after the purge`;
  return `DROP TRIGGER ${t.name}, and create it again after the purge`;
}

/**
 * The triggers of `triggers` on the purged `tables` that `allow` lets run (each allowed by its
 * name or `table.name`); throws ConfigError purge.trigger (exit 2) for any other, and
 * purge.allow-trigger for an allowed name that is no DELETE trigger of a purged table.
 */
export function allowedTriggers(triggers: readonly DeleteTrigger[], tables: readonly string[], allow: readonly string[], display: string): DeleteTrigger[] {
  const purged = new Set(tables);
  const firing = triggers.filter((t) => purged.has(t.table));
  const names = (a: string, t: DeleteTrigger): boolean => a === t.name || a === `${t.table}.${t.name}`;
  const allows = (t: DeleteTrigger): boolean => allow.some((a) => names(a, t));
  const unknown = allow.filter((a) => !firing.some((t) => names(a, t)));
  if (unknown.length) {
    throw new ConfigError(`--allow-trigger ${unknown[0]}: ${display} has no DELETE trigger or rule of that name on a purged table${didYouMean(unknown[0]!, firing.map((t) => t.name))}`, {
      code: 'purge.allow-trigger',
      hint: firing.length ? `The purge would set off: ${firing.map(triggerText).join(', ')}.` : 'No purged table has a DELETE trigger or rule: leave --allow-trigger out.',
    });
  }
  const refused = firing.filter((t) => !allows(t));
  if (refused.length) {
    const t = refused[0]!;
    throw new ConfigError(refusal(t, display, 'nothing was archived or deleted'), {
      code: 'purge.trigger',
      hint: `Disable it while the purge runs (${disableHint(t, display)}), or let it run with --allow-trigger ${t.name} if what it does is wanted.`,
      details: refused.slice(1).map((x) => refusal(x, display, 'refused too')),
    });
  }
  return firing.filter(allows);
}

function refusal(t: DeleteTrigger, display: string, outcome: string): string {
  const what = t.kind === 'rule' ? 'rewrites every DELETE of it' : 'runs for the rows the purge deletes';
  return `${t.table}: ${t.kind} ${t.name} (${t.when}${t.on ? ` on its partition ${t.on}` : ''}) of ${display} ${what}, and forklift cannot see what it changes elsewhere or whether it refuses the delete; ${outcome}`;
}

/**
 * The same check inside the delete's transaction, after the archive is in place: a trigger that
 * was not there (or not allowed) when the purge selected is refused as a change of the store
 * during the purge (StoreError, exit 1); the archive stays, and the same command finishes the work.
 */
export function checkTriggersAtDelete(allowed: readonly DeleteTrigger[], tables: readonly string[], archive: string, display: string): (triggers: DeleteTrigger[]) => void {
  return (triggers) => {
    const purged = new Set(tables);
    const known = (t: DeleteTrigger): boolean => allowed.some((a) => a.table === t.table && a.name === t.name && a.kind === t.kind);
    const t = triggers.find((x) => purged.has(x.table) && !known(x));
    if (!t) return;
    throw new StoreError(refusal(t, display, `nothing was deleted; the archive ${archive} is complete and stays`), {
      code: 'purge.trigger',
      hint: `It was made while the purge ran. Disable it (${disableHint(t, display)}) or let it run with --allow-trigger ${t.name}, then run the same command again: it finishes the delete.`,
    });
  };
}
