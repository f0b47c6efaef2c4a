import type { EntityReport, RunReport, TrendPoint } from './report.js';

export const esc = (s: unknown): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
export const num = (n: number): string => n.toLocaleString('en-US');
const share = (part: number, whole: number): string => (whole > 0 ? `${((part * 100) / whole).toFixed(1)}%` : '—');

/**
 * One self-contained page a consultant opens offline: no scripts, no external files or URLs, every
 * value escaped. A pure function of the report data (report.json holds the same).
 */
export function renderReportHtml(r: RunReport): string {
  const loadedWord = r.committed ? 'loaded' : 'would load';
  const ledgerRows = r.entities
    .map(
      (l) => `<tr data-entity="${esc(l.entity)}"><th scope="row"><a href="#entity-${esc(l.entity)}">${esc(l.entity)}</a></th><td>${esc(l.source)}${l.source_encoding ? ` <small>(${esc(l.source_encoding)})</small>` : ''}</td><td class="read">${num(l.read)}</td><td class="loaded">${num(l.loaded)}</td><td class="filtered">${num(l.filtered)}${l.watermark?.behind ? ` <small>(${num(l.watermark.behind)} already loaded: at or before the target's latest ${esc(l.watermark.column)}${l.watermark.group_by.length ? ` per ${esc(l.watermark.group_by.join(', '))}` : ''})</small>` : ''}</td><td class="duplicates">${num(l.duplicates_dropped)}</td><td class="rejected${l.rejected ? ' bad' : ''}">${num(l.rejected)}</td><td>${
        l.rejects_file ? `<a href="${esc(relative(l.rejects_file, r))}">${esc(l.entity)}.csv</a>` : '—'
      }</td></tr>`,
    )
    .join('\n');
  const checks = r.checks.length
    ? `<h2>Control totals</h2><table class="checks"><tr><th>entity</th><th>measure</th><th>expected</th><th>actual</th><th></th></tr>${r.checks
        .map((c) => `<tr><td>${esc(c.entity)}</td><td>${esc(c.measure)}</td><td>${esc(c.expected)}</td><td>${esc(c.actual)}</td><td class="${c.ok ? 'good' : 'bad'}">${c.ok ? 'ok' : 'MISMATCH'}</td></tr>`)
        .join('')}</table>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>forklift ${esc(r.command)} ${esc(r.run_id)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:.6rem 0 1rem}th,td{padding:.3rem .7rem;border-bottom:1px solid #ddd;text-align:right;vertical-align:top}
th:first-child,td:first-child,#ledger th:nth-child(2),#ledger td:nth-child(2),.checks th:nth-child(2),.checks td:nth-child(2){text-align:left}.bad{color:#b00020;font-weight:600}.good{color:#0a7a32}
.status{display:inline-block;padding:.2rem .6rem;border-radius:4px;background:${r.status === 'succeeded' || r.status === 'validated' || (r.status === 'dry-run' && !r.message) ? '#dff5e3' : '#fde2e2'}}
dl{display:grid;grid-template-columns:10rem auto;gap:.2rem 1rem}dt{color:#666}dd{margin:0}
section.entity{border-top:2px solid #ccc;margin-top:2rem;padding-top:.5rem}
.split{display:flex;height:.8rem;width:100%;max-width:640px;border-radius:3px;overflow:hidden;background:#eee}
.split span{display:block;height:100%}.k-loaded{background:#3c9a5f}.k-filtered{background:#9aa0a6}.k-duplicates{background:#e0a526}.k-rejected{background:#d9534f}
.legend{font-size:12px;color:#555}.legend i{display:inline-block;width:.7rem;height:.7rem;margin:0 .3rem 0 .8rem;vertical-align:-1px}
table.rejects th,table.rejects td{text-align:left}table.rejects td.reason{max-width:40rem}
td.share{min-width:12rem}.meter{display:inline-block;width:8rem;height:.6rem;background:#eee;margin-right:.5rem;vertical-align:middle}.meter span{display:block;height:100%;background:#8e6cc0}
.cols{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:0 2.5rem;align-items:start}
svg.rules text,svg.trend text{font:12px system-ui,sans-serif;fill:#222}svg.rules rect,svg.trend rect{fill:#d9534f}svg.trend g.current text{font-weight:700}svg.trend g.current rect{fill:#8a0016}
</style></head><body>
<h1>forklift ${esc(r.command)} — ${esc(r.plan_name)}</h1>
<p><span class="status">${esc(r.status)}</span> ${r.committed ? 'committed to the target' : r.dry_run ? (r.status === 'failed' ? 'dry run: nothing was written' : 'dry run: nothing was written (rehearsed on the target and rolled back)') : 'nothing committed'}</p>
${r.message ? `<p class="bad">${esc(r.message)}</p>` : ''}
<dl><dt>run</dt><dd>${esc(r.run_id)}</dd><dt>plan</dt><dd>${esc(r.plan)}</dd><dt>target</dt><dd>${esc(r.target)}</dd>
<dt>started</dt><dd>${esc(r.started)}</dd><dt>duration</dt><dd>${(r.duration_ms / 1000).toFixed(1)} s</dd><dt>reject limit</dt><dd>${esc(r.reject_limit)}${r.follows ? ' <small>(of the rows of the run it follows)</small>' : ''}</dd><dt>forklift</dt><dd>${esc(r.tool_version)}</dd>${
    r.follows ? `<dt>follows</dt><dd class="follows"><a href="../${esc(r.follows.run_id)}/report.html">${esc(r.follows.run_id)}</a>: this run reloads its fixed rejects</dd>` : ''
  }</dl>
${trendSection(r.trend ?? [], r.run_id)}<h2>Ledger</h2>
<p>Every source row is loaded, filtered, dropped as an exact duplicate, or rejected: read = loaded + filtered + duplicates + rejected.</p>
<table id="ledger"><tr><th>entity</th><th>source</th><th>read</th><th>${loadedWord}</th><th>filtered</th><th>duplicates</th><th>rejected</th><th>rejects</th></tr>
${ledgerRows}</table>
${dryRunTable(r)}
${checks}
${r.entities.map((l) => entitySection(l, r)).join('\n')}
</body></html>
`;
}

function entitySection(l: EntityReport, r: RunReport): string {
  const parts: [string, number][] = [
    ['loaded', l.loaded],
    ['filtered', l.filtered],
    ['duplicates', l.duplicates_dropped],
    ['rejected', l.rejected],
  ];
  const split =
    `<div class="split" role="img" aria-label="${esc(parts.map(([k, n]) => `${k} ${n}`).join(', '))}">` +
    parts
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `<span class="k-${k}" style="width:${((n * 100) / Math.max(l.read, 1)).toFixed(2)}%" title="${k} ${num(n)}"></span>`)
      .join('') +
    `</div><div class="legend">${parts.map(([k, n]) => `<i class="k-${k}"></i>${k === 'loaded' && !r.committed ? 'would load' : k} ${num(n)}`).join('')}</div>`;
  const shown = l.first_rejects.length;
  const chart = shown ? `<h3>Rejects by rule</h3>${ruleChart(l.rejects_by_rule)}` : '<h3>Rejects by rule</h3><p class="good">No rejects.</p>';
  const firstRejects = shown
    ? `<h3>First rejects</h3>
<p>${shown < l.rejected ? `The first ${num(shown)} of ${num(l.rejected)}, by position in the source` : `All ${num(l.rejected)}`}${
        l.rejects_file ? `; every reject, with the source row as read, is in <a href="${esc(relative(l.rejects_file, r))}">${esc(l.entity)}.csv</a>` : ''
      }.</p>
<table class="rejects"><tr><th>position</th><th>field</th><th>rule</th><th>reason</th></tr>${l.first_rejects
        .map((x) => `<tr><td class="position">${esc(x.position)}</td><td class="field">${esc(x.field)}</td><td class="rule">${esc(x.rule)}</td><td class="reason">${esc(x.reason)}</td></tr>`)
        .join('')}</table>`
    : '';
  const missing = Object.entries(l.missing_values);
  const missingTable = missing.length
    ? `<h3>Missing values</h3>
<p>Share of the ${num(l.loaded)} ${r.committed ? 'loaded' : 'accepted'} rows with no value in each column.</p>
<table class="missing"><tr><th>column</th><th>missing</th><th>share</th></tr>${missing
        .map(
          ([col, n]) =>
            `<tr data-column="${esc(col)}"><td>${esc(col)}</td><td class="count">${num(n)}</td><td class="share"><span class="meter"><span style="width:${l.loaded ? ((n * 100) / l.loaded).toFixed(2) : 0}%"></span></span><span class="pct">${share(n, l.loaded)}</span></td></tr>`,
        )
        .join('')}</table>`
    : '';
  return `<section class="entity" id="entity-${esc(l.entity)}" data-entity="${esc(l.entity)}">
<h2>${esc(l.entity)} <small>${esc(l.source)}</small></h2>
<p class="ledger-line">read ${num(l.read)} = ${r.committed ? 'loaded' : 'would load'} ${num(l.loaded)} + filtered ${num(l.filtered)} + duplicates ${num(l.duplicates_dropped)} + rejected ${num(l.rejected)}</p>
${l.blank_skipped > 0 ? `<p class="blank-line">${num(l.blank_skipped)} blank ${l.blank_skipped === 1 ? 'row' : 'rows'} in the source skipped (no value in any column; not counted as read)</p>\n` : ''}${split}
<div class="cols"><div>${chart}</div><div>${missingTable}</div></div>
${firstRejects}
</section>`;
}

/** migrate --dry-run: per entity what the load would do to the target, and the rows the target refuses. */
function dryRunTable(r: RunReport): string {
  // A dry run stopped before its rehearsal ended (interrupted) has no figures to show.
  if (!r.dry_run || !r.entities.some((l) => l.dry_run)) return '';
  const rows = r.entities
    .map((l) => {
      const d = l.dry_run;
      if (!d) return '';
      return `<tr data-entity="${esc(l.entity)}"><th scope="row">${esc(l.entity)}</th><td class="would-insert">${num(d.would_insert)}</td><td class="would-update">${num(d.would_update)}</td><td class="unchanged">${num(d.unchanged)}</td><td class="would-delete">${num(d.would_delete)}</td><td class="refused${d.refused ? ' bad' : ''}">${num(d.refused)}</td></tr>`;
    })
    .join('\n');
  return `<h2>Dry run</h2>
<p>The load was rehearsed on the target under its own constraints and rolled back: nothing was written. Rows the target refuses are rejects of rule <code>target-constraint</code>, with the database's message.</p>
<table id="dry-run"><tr><th>entity</th><th>would insert</th><th>would update</th><th>unchanged</th><th>would delete</th><th>refused by the target</th></tr>
${rows}</table>${countersMoved(r.counters_advanced ?? [])}`;
}

/** The target's counters the rehearsal moved for good (sequences, identities), where any did. */
function countersMoved(moved: NonNullable<RunReport['counters_advanced']>): string {
  if (!moved.length) return '';
  const rows = moved.map((c) => `<tr><th scope="row"><code>${esc(c.counter)}</code></th><td>${esc(c.before ?? 'unused')}</td><td>${esc(c.after ?? 'unused')}</td></tr>`).join('\n');
  return `
<p class="bad">The rollback did not take back these counters of the target: they moved while the dry run rehearsed (by its inserts, a trigger's, or another session's). forklift leaves them so, since setting one back could hand out again a number another session has taken.</p>
<table id="counters-advanced"><tr><th>counter</th><th>before</th><th>after</th></tr>
${rows}</table>`;
}

/** Rejects by rule as an inline SVG bar chart, largest first, each bar labelled with its count. */
function ruleChart(byRule: Record<string, number>): string {
  const rules = Object.entries(byRule).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return barChart(
    'rules',
    'rejects by rule',
    rules.map(([rule, n]) => ({ label: rule, n, group: `class="rule" data-rule="${esc(rule)}" data-count="${n}"` })),
  );
}

/** The rejects of every run of the plan up to this one: the rehearsal loop at a glance. */
function trendSection(trend: TrendPoint[], current: string): string {
  if (trend.length < 2) return '';
  const bars = trend.map((t) => ({
    label: `${t.run_id} ${t.command}`,
    n: t.rejected,
    group: `class="run${t.run_id === current ? ' current' : ''}" data-run="${esc(t.run_id)}" data-count="${t.rejected}"`,
  }));
  const first = trend[0]!.rejected;
  const last = trend[trend.length - 1]!.rejected;
  return `<h2>Rejects across the runs of this plan</h2>
<p class="trend-line">${num(first)} → ${num(last)} rejects over the last ${trend.length} runs (this run in dark red).</p>
${barChart('trend', 'rejects per run', bars, 300)}`;
}

/** A horizontal inline SVG bar chart, each bar labelled with its count; `group` holds the attributes of each bar's <g>. */
export function barChart(cls: string, aria: string, rows: { label: string; n: number; group: string }[], label = 150): string {
  const max = Math.max(1, ...rows.map((r) => r.n));
  const width = 260;
  const row = 22;
  const height = rows.length * row + 4;
  const bars = rows
    .map(({ label: text, n, group }, i) => {
      const y = i * row + 2;
      const w = n > 0 ? Math.max(2, Math.round((n / max) * width)) : 0;
      return `<g ${group}><title>${esc(text)}: ${num(n)}</title><text x="0" y="${y + 14}">${esc(text)}</text><rect x="${label}" y="${y + 3}" width="${w}" height="${row - 8}" rx="2"></rect><text class="n" x="${label + w + 6}" y="${y + 14}">${num(n)}</text></g>`;
    })
    .join('');
  return `<svg class="${cls}" width="${label + width + 60}" height="${height}" viewBox="0 0 ${label + width + 60} ${height}" role="img" aria-label="${esc(aria)}">${bars}</svg>`;
}

function relative(rejectsFile: string, r: RunReport): string {
  // Links are relative to the report, which sits in the run folder.
  const i = rejectsFile.indexOf(r.run_id);
  return i >= 0 ? rejectsFile.slice(i + r.run_id.length + 1) : rejectsFile;
}
