import { table } from '../cli/render.js';
import { barChart, esc, num } from './report-html.js';
import type { EntityRunsDiff, RejectRef, RunsDiff } from './runs-diff.js';
import type { RunsList } from './runs-list.js';

/** Text and HTML of `runs list` and `runs diff` (JSON is the data itself). */

export const RUNS_DIFF_FORMATS = ['text', 'json', 'html'] as const;
export type RunsDiffFormat = (typeof RUNS_DIFF_FORMATS)[number];

/** How many rejects of each kind the text shows per entity (JSON and HTML show all). */
const SHOWN = 10;

export function renderRunsList(l: RunsList): string {
  const others = l.other_plans ? ` (${l.other_plans} run${l.other_plans === 1 ? '' : 's'} of other plans in the same runs/ folder left out)` : '';
  const unread = l.unreadable.length
    ? ['', `${l.unreadable.length} folder${l.unreadable.length === 1 ? '' : 's'} of runs/ could not be read as a run, and ${l.unreadable.length === 1 ? 'is' : 'are'} left out:`, ...l.unreadable.map((u) => `  ${u.run_dir}: ${u.why}`)]
    : [];
  if (!l.runs.length) return [`no runs of ${l.plan}${l.target ? ` or in ${l.target}` : ''} yet${others}`, ...unread].join('\n');
  const entities = [...new Set(l.runs.flatMap((r) => Object.keys(r.entities)))];
  const head = ['id', 'command', 'status', 'started', 'follows', ...entities.map((e) => `${e} loaded/rejected`)];
  const rows = l.runs.map((r) => [
    r.id,
    r.command,
    r.status,
    r.started.replace(/\.\d+Z$/, 'Z'),
    r.follows ?? '',
    ...entities.map((e) => {
      const c = r.entities[e];
      return c ? `${num(c.loaded)}/${num(c.rejected)}` : '';
    }),
  ]);
  const notInLedger = l.target ? l.runs.filter((r) => r.in_ledger === false).length : 0;
  const uncommitted = l.runs.some((r) => Object.values(r.entities).some((c) => (c.would_have_loaded ?? 0) > 0));
  return [
    table(head, rows, (c) => c >= 5),
    '',
    ...(uncommitted ? ['loaded is what a run committed: 0 for a rejected, failed or dry run (what would have loaded: would_have_loaded in --json)'] : []),
    `${l.runs.length} run${l.runs.length === 1 ? '' : 's'} of ${l.plan}${l.target ? ` and ${l.target}` : ''}${notInLedger ? ` (${notInLedger} not in the target's ledger: validate runs, or runs against another target)` : ''}${others}`,
    ...unread,
  ].join('\n');
}

export function renderRunsDiffText(d: RunsDiff): string {
  const t = d.totals;
  const out = [
    `runs diff ${d.a.run_id} (${d.a.command}, ${d.a.status}) → ${d.b.run_id} (${d.b.command}, ${d.b.status})${d.b.follows === d.a.run_id ? ', a reload of its rejects' : ''}`,
    `rejects ${num(t.rejected_a)} → ${num(t.rejected_b)}: ${num(t.fixed)} fixed, ${num(t.still_failing)} still failing, ${num(t.new)} new${deleted(t.deleted_from_file, t.rekeyed)}${notCompared(d)}`,
    // A fixed row of a run that committed nothing passed its rules there, and is not in the target.
    ...(d.b.committed ? [] : [`${d.b.run_id} committed nothing (${d.b.status}): its fixed rows pass the rules but were not loaded; loaded is what a run committed`]),
    '',
    table(
      ['entity', 'read', 'loaded', 'filtered', 'duplicates', 'rejected', 'fixed', 'still failing', 'new'],
      d.entities.map((e) => [
        e.entity,
        pair(e, 'read'),
        pair(e, 'loaded'),
        pair(e, 'filtered'),
        pair(e, 'duplicates_dropped'),
        pair(e, 'rejected'),
        e.in === 'both' ? num(e.fixed.length) : '',
        e.in === 'both' ? num(e.still_failing.length) : '',
        e.in === 'both' ? num(e.new.length) : '',
      ]),
    ),
  ];
  for (const e of d.entities) {
    if (e.in !== 'both') {
      out.push('', `${e.entity}: only in run ${e.in === 'a' ? `${d.a.run_id} (not run by ${d.b.run_id})` : d.b.run_id}`);
      continue;
    }
    const lists: [string, RejectRef[]][] = [
      ['fixed', e.fixed],
      ['still failing', e.still_failing],
      ['new', e.new],
    ];
    if (lists.every(([, xs]) => !xs.length) && !e.deleted_from_file && !e.rekeyed) continue;
    out.push('', `${e.entity} (by ${e.key.join(' + ')})${deleted(e.deleted_from_file, e.rekeyed)}:`);
    for (const [name, xs] of lists) {
      if (!xs.length) continue;
      out.push(`  ${name} ${num(xs.length)}:`);
      for (const x of xs.slice(0, SHOWN)) out.push(`    ${x.key}  ${x.rule}: ${x.reason}`);
      if (xs.length > SHOWN) out.push(`    … ${num(xs.length - SHOWN)} more (--format json or html lists all)`);
    }
  }
  return out.join('\n');
}

/** Rejects of entities only one run has: a reload of some entities leaves the others' rejects open, not fixed. */
function notCompared(d: RunsDiff): string {
  const part = (o: { rejects: number; entities: string[] }, what: string): string => (o.rejects ? `; ${num(o.rejects)} of run ${what} (${o.entities.join(', ')})` : '');
  const a = part(d.totals.only_in_a, d.b.follows === d.a.run_id ? "A's rejects still open, not reloaded" : "A's rejects not compared, not in run B");
  const b = part(d.totals.only_in_b, "B's rejects not compared, not in run A");
  return a + b;
}

function deleted(n: number, rekeyed: number): string {
  const r = rekeyed ? `, ${num(rekeyed)} re-keyed by Excel (00123 saved as 123, rejected by the reload)` : '';
  return (n ? `, ${num(n)} deleted from run A's rejects file by hand` : '') + r;
}

function pair(e: EntityRunsDiff, k: 'read' | 'loaded' | 'filtered' | 'duplicates_dropped' | 'rejected'): string {
  return `${e.a ? num(e.a[k]) : '–'} → ${e.b ? num(e.b[k]) : '–'}`;
}

export function renderRunsDiffHtml(d: RunsDiff): string {
  const t = d.totals;
  const side = (x: RunsDiff['a'], which: string): string =>
    `<tr><th>${which}</th><td><a href="${esc(`${x.run_dir}/report.html`)}">${esc(x.run_id)}</a></td><td>${esc(x.command)}</td><td>${esc(x.status)}</td><td>${esc(x.started)}</td><td class="n">${num(x.rejected)}</td></tr>`;
  const rows = d.entities
    .map(
      (e) =>
        `<tr data-entity="${esc(e.entity)}"><th scope="row"><a href="#entity-${esc(e.entity)}">${esc(e.entity)}</a></th>${(['read', 'loaded', 'filtered', 'duplicates_dropped', 'rejected'] as const)
          .map((k) => `<td class="n ${k}">${esc(pair(e, k))}</td>`)
          .join('')}<td class="n fixed good">${e.in === 'both' ? num(e.fixed.length) : '—'}</td><td class="n still">${e.in === 'both' ? num(e.still_failing.length) : '—'}</td><td class="n new${e.new.length ? ' bad' : ''}">${e.in === 'both' ? num(e.new.length) : '—'}</td></tr>`,
    )
    .join('\n');
  const chart = barChart('trend', 'rejects per run', [
    { label: `A ${d.a.run_id}`, n: t.rejected_a, group: `class="run" data-run="${esc(d.a.run_id)}" data-count="${t.rejected_a}"` },
    { label: `B ${d.b.run_id}`, n: t.rejected_b, group: `class="run current" data-run="${esc(d.b.run_id)}" data-count="${t.rejected_b}"` },
  ], 220);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>forklift runs diff ${esc(d.a.run_id)} → ${esc(d.b.run_id)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:.6rem 0 1rem}th,td{padding:.3rem .7rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}td.n{text-align:right}
.bad{color:#b00020;font-weight:600}.good{color:#0a7a32}section.entity{border-top:2px solid #ccc;margin-top:2rem;padding-top:.5rem}
svg.trend text{font:12px system-ui,sans-serif;fill:#222}svg.trend rect{fill:#d9534f}svg.trend g.current rect{fill:#8a0016}
</style></head><body>
<h1>forklift runs diff</h1>
<p class="summary">Rejects <b>${num(t.rejected_a)}</b> → <b>${num(t.rejected_b)}</b>: <span class="good">${num(t.fixed)} fixed</span>, ${num(t.still_failing)} still failing, <span class="${t.new ? 'bad' : ''}">${num(t.new)} new</span>${esc(deleted(t.deleted_from_file, t.rekeyed))}${esc(notCompared(d))}.</p>
${chart}
<table class="sides"><tr><th></th><th>run</th><th>command</th><th>status</th><th>started</th><th>rejects</th></tr>${side(d.a, 'A')}${side(d.b, 'B')}</table>
<h2>Ledgers, A → B</h2>
<table id="ledgers"><tr><th>entity</th><th>read</th><th>loaded</th><th>filtered</th><th>duplicates</th><th>rejected</th><th>fixed</th><th>still failing</th><th>new</th></tr>
${rows}</table>
${d.entities.map(entityHtml).join('\n')}
</body></html>
`;
}

function entityHtml(e: EntityRunsDiff): string {
  if (e.in !== 'both') return `<section class="entity" id="entity-${esc(e.entity)}"><h2>${esc(e.entity)}</h2><p>Only in run ${e.in === 'a' ? 'A' : 'B'}: no rejects to compare.</p></section>`;
  const list = (name: string, cls: string, xs: RejectRef[]): string =>
    xs.length
      ? `<h3>${name} (${num(xs.length)})</h3><table class="${cls}"><tr><th>${esc(e.key.join(' + '))}</th><th>position</th><th>field</th><th>rule</th><th>reason</th></tr>${xs
          .map((x) => `<tr><td>${esc(x.key)}</td><td>${esc(x.position)}</td><td>${esc(x.field)}</td><td>${esc(x.rule)}</td><td>${esc(x.reason)}</td></tr>`)
          .join('')}</table>`
      : '';
  return `<section class="entity" id="entity-${esc(e.entity)}" data-entity="${esc(e.entity)}"><h2>${esc(e.entity)}</h2>
${e.deleted_from_file || e.rekeyed ? `<p class="deleted">${esc(deleted(e.deleted_from_file, e.rekeyed).slice(2))}.</p>` : ''}${list('Fixed', 'fixed', e.fixed)}${list('Still failing', 'still', e.still_failing)}${list('New', 'new', e.new)}${!e.fixed.length && !e.still_failing.length && !e.new.length ? '<p class="good">No rejects in either run.</p>' : ''}</section>`;
}
