import type { RunReport } from './report.js';

const esc = (s: unknown): string =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** One self-contained page (no scripts, no external files) a consultant opens offline. */
export function renderReportHtml(r: RunReport): string {
  const ledgerRows = r.entities
    .map(
      (l) => `<tr><th scope="row">${esc(l.entity)}</th><td>${esc(l.source)}</td><td>${l.read}</td><td>${l.loaded}</td><td>${l.filtered}${l.watermark?.behind ? ` <small>(${l.watermark.behind} already loaded: at or before the target's latest ${esc(l.watermark.column)}${l.watermark.group_by.length ? ` per ${esc(l.watermark.group_by.join(', '))}` : ''})</small>` : ''}</td><td>${l.duplicates_dropped}</td><td class="${l.rejected ? 'bad' : ''}">${l.rejected}</td><td>${
        l.rejects_file ? `<a href="${esc(path(l.rejects_file, r))}">${esc(l.entity)}.csv</a>` : '—'
      }</td></tr>`,
    )
    .join('\n');
  const maxRule = Math.max(1, ...r.entities.flatMap((l) => Object.values(l.rejects_by_rule)));
  const bars = r.entities
    .filter((l) => l.rejected > 0)
    .map(
      (l) =>
        `<h3>${esc(l.entity)}</h3>` +
        Object.entries(l.rejects_by_rule)
          .map(([rule, n]) => `<div class="bar"><span class="label">${esc(rule)}</span><span class="fill" style="width:${Math.max(2, Math.round((n / maxRule) * 60))}%"></span><span class="n">${n}</span></div>`)
          .join(''),
    )
    .join('\n');
  const checks = r.checks.length
    ? `<h2>Control totals</h2><table><tr><th>entity</th><th>measure</th><th>expected</th><th>actual</th><th></th></tr>${r.checks
        .map((c) => `<tr><td>${esc(c.entity)}</td><td>${esc(c.measure)}</td><td>${esc(c.expected)}</td><td>${esc(c.actual)}</td><td class="${c.ok ? 'good' : 'bad'}">${c.ok ? 'ok' : 'MISMATCH'}</td></tr>`)
        .join('')}</table>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>forklift ${esc(r.command)} ${esc(r.run_id)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:1rem 0}th,td{padding:.3rem .7rem;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child,td:nth-child(2){text-align:left}.bad{color:#b00020;font-weight:600}.good{color:#0a7a32}
.status{display:inline-block;padding:.2rem .6rem;border-radius:4px;background:${r.status === 'succeeded' || r.status === 'validated' ? '#dff5e3' : '#fde2e2'}}
.bar{display:flex;align-items:center;gap:.5rem;margin:.2rem 0}.bar .label{width:12rem}.bar .fill{height:.9rem;background:#d9534f}
dl{display:grid;grid-template-columns:10rem auto;gap:.2rem 1rem}dt{color:#666}
</style></head><body>
<h1>forklift ${esc(r.command)} — ${esc(r.plan_name)}</h1>
<p><span class="status">${esc(r.status)}</span> ${r.committed ? 'committed to the target' : 'nothing committed'}</p>
${r.message ? `<p class="bad">${esc(r.message)}</p>` : ''}
<dl><dt>run</dt><dd>${esc(r.run_id)}</dd><dt>plan</dt><dd>${esc(r.plan)}</dd><dt>target</dt><dd>${esc(r.target)}</dd>
<dt>started</dt><dd>${esc(r.started)}</dd><dt>duration</dt><dd>${(r.duration_ms / 1000).toFixed(1)} s</dd><dt>reject limit</dt><dd>${esc(r.reject_limit)}</dd><dt>forklift</dt><dd>${esc(r.tool_version)}</dd></dl>
<h2>Ledger</h2>
<p>Every source row is loaded, filtered, dropped as an exact duplicate, or rejected: read = loaded + filtered + duplicates + rejected.</p>
<table><tr><th>entity</th><th>source</th><th>read</th><th>${r.committed ? 'loaded' : 'would load'}</th><th>filtered</th><th>duplicates</th><th>rejected</th><th>rejects</th></tr>
${ledgerRows}</table>
${checks}
${bars ? `<h2>Rejects by rule</h2>${bars}` : ''}
</body></html>
`;
}

function path(rejectsFile: string, r: RunReport): string {
  // Links are relative to the report, which sits in the run folder.
  const i = rejectsFile.indexOf(r.run_id);
  return i >= 0 ? rejectsFile.slice(i + r.run_id.length + 1) : rejectsFile;
}
