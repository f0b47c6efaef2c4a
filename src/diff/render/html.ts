import type { Cell, DiffRecord, DiffResult, SideDescription, TableDiff } from '../types.js';
import { buffered, columnsByTable, describeChange, fmtInt, keyLabel, showCell, unreachable, verdict, type ReportWriter } from './common.js';

/**
 * One self-contained page an auditor opens offline and files: the verdict, both sides (a bundle's
 * Payload-Oxum and the SHA-256 of its manifest, a store's URL without password), the summary of
 * every table, the schema changes, and every table's changes, in pages of PAGE rows. No external
 * file, font or script: the paging is a few lines of inline script that only hides and shows
 * the pages (without it every page shows, and printing shows them all). Every value is escaped.
 */

const PAGE = 100;

const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * A value's cell: NULL (a missing value) and '' (an empty text) shown apart from any text, and a
 * text quoted as the text report quotes it (showCell) where the bare text would mislead: a change
 * that is only a trailing space would otherwise be two cells that look the same.
 */
function cell(v: Cell): string {
  if (v === null) return '<td class="null" title="missing value (NULL)">NULL</td>';
  if (v === '') return '<td class="empty" title="empty text">(empty)</td>';
  const shown = showCell(v);
  if (shown !== v) return `<td class="v" title="quoted (JSON): the text has a space at an end, a quote, a line break or another control character">${esc(shown)}</td>`;
  return `<td class="v">${esc(v)}</td>`;
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#222}
h1{margin-bottom:.2rem}table{border-collapse:collapse;margin:.6rem 0 1.2rem}th,td{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.verdict{display:inline-block;padding:.25rem .7rem;border-radius:4px;font-weight:600}
.identical{background:#dff5e3;color:#0a5a25}.different{background:#fde2e2;color:#8a0016}.null{color:#888;font-style:italic}.empty{color:#888}
.added{background:#effaf1}.removed{background:#fdf0f0}.changed{background:#fff8e5}code,td.v{font-family:ui-monospace,monospace;font-size:13px;white-space:pre-wrap;word-break:break-all}
nav.pager{margin:.4rem 0}nav.pager button{margin-right:.4rem}.sides th{width:12rem;color:#555;font-weight:normal}
@media print{nav.pager{display:none}tbody.page{display:table-row-group!important}}`;

const SCRIPT = `for(const t of document.querySelectorAll('table.changes')){const pages=[...t.tBodies];if(pages.length<2)continue;
const nav=t.previousElementSibling;let at=0;const label=nav.querySelector('span');
const show=(i)=>{at=Math.max(0,Math.min(pages.length-1,i));pages.forEach((p,j)=>{p.hidden=j!==at});label.textContent='page '+(at+1)+' of '+pages.length;};
nav.querySelector('.first').onclick=()=>show(0);nav.querySelector('.prev').onclick=()=>show(at-1);nav.querySelector('.next').onclick=()=>show(at+1);nav.querySelector('.last').onclick=()=>show(pages.length-1);
nav.hidden=false;show(0);}`;

export async function renderHtml(r: DiffResult, records: AsyncIterable<DiffRecord>, sink: ReportWriter): Promise<void> {
  const out = buffered(sink);
  await out.write(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>forklift diff: ${esc(verdict(r))}</title>
<style>${STYLE}</style></head><body>
<h1>forklift diff</h1>
<p><span class="verdict ${r.identical ? 'identical' : 'different'}">${esc(verdict(r))}</span></p>
<p>Compared ${esc(r.started)} in ${(r.duration_ms / 1000).toFixed(1)} s by forklift ${esc(r.tool_version)}. Rows are matched by key; values are compared in their canonical typed form (decimals by value, timestamps in UTC, text exactly).</p>
<h2>The two sides</h2>
<table class="sides"><tr><th></th><th>left</th><th>right</th></tr>
${sideRows(r.left, r.right)}
</table>
<h2>Summary</h2>
<table><tr><th>table</th><th>key</th><th class="n">left rows</th><th class="n">right rows</th><th class="n">added</th><th class="n">removed</th><th class="n">changed</th><th class="n">unchanged</th><th class="n">changed cells</th><th>notes</th></tr>
${r.tables.map(summaryRow).join('\n')}
<tr><th>total</th><td></td><td></td><td></td><td class="n">${fmtInt(r.totals.added)}</td><td class="n">${fmtInt(r.totals.removed)}</td><td class="n">${fmtInt(r.totals.changed)}</td><td class="n">${fmtInt(r.totals.unchanged)}</td><td class="n">${fmtInt(r.totals.changed_cells)}</td><td></td></tr>
</table>
<h2>Schema changes</h2>
${r.schema.length ? `<ul>${r.schema.map((s) => `<li>${esc(describeChange(s))}</li>`).join('')}</ul>` : '<p>None: the same tables, columns, types and keys on both sides.</p>'}
<h2>Changes by table</h2>
`);
  if (!r.details) {
    await out.write('<p>Row-level changes were not collected (forklift diff --details lists them).</p>\n');
  } else {
    const cols = columnsByTable(r);
    const byName = new Map(r.tables.map((t, i) => [t.table, { t, i }]));
    let current: string | undefined;
    let n = 0;
    const close = async (): Promise<void> => {
      if (current !== undefined) await out.write('</tbody></table></section>\n');
    };
    for await (const rec of records) {
      const c = cols.get(rec.table) ?? { key: [], values: [] };
      if (rec.table !== current) {
        await close();
        current = rec.table;
        n = 0;
        const info = byName.get(rec.table);
        const count = info ? info.t.added + info.t.removed + info.t.changed_cells : 0;
        const pages = Math.max(1, Math.ceil(count / PAGE));
        await out.write(`<section id="t${info?.i ?? 0}"><h3>${esc(rec.table)}</h3><p>${plural(count, 'change')}${pages > 1 ? ` in ${pages} pages of ${PAGE}` : ''}: ${plural(info?.t.added ?? 0, 'row')} added, ${fmtInt(info?.t.removed ?? 0)} removed, ${plural(info?.t.changed_cells ?? 0, 'cell')} changed in ${plural(info?.t.changed ?? 0, 'row')}.</p>
<nav class="pager" hidden><button class="first" type="button">first</button><button class="prev" type="button">previous</button><button class="next" type="button">next</button><button class="last" type="button">last</button><span></span></nav>
<table class="changes"><thead><tr><th>change</th>${c.key.map((k) => `<th>${esc(k)}</th>`).join('')}<th>column</th><th>left</th><th>right</th></tr></thead>
<tbody class="page">`);
      } else if (n % PAGE === 0) await out.write('</tbody>\n<tbody class="page">');
      n++;
      await out.write(recordRow(rec, c.values) + '\n');
    }
    await close();
    if (current === undefined) await out.write(`<p>${r.identical || r.totals.added + r.totals.removed + r.totals.changed === 0 ? 'No row differs.' : 'Only whole tables differ (see the summary).'}</p>\n`);
  }
  await out.write(`<script>${SCRIPT}</script>\n</body></html>\n`);
  await out.flush();
}

function recordRow(rec: DiffRecord, values: readonly string[]): string {
  const key = rec.key.map((k) => cell(k)).join('');
  switch (rec.kind) {
    case 'added':
      return `<tr class="added"><td>added</td>${key}<td>(row)</td><td></td><td class="v">${esc(rowText(values, rec.values))}</td></tr>`;
    case 'removed':
      return `<tr class="removed"><td>removed</td>${key}<td>(row)</td><td class="v">${esc(rowText(values, rec.values))}</td><td></td></tr>`;
    case 'changed':
      return `<tr class="changed"><td>changed</td>${key}<td>${esc(rec.column)}</td>${cell(rec.left)}${cell(rec.right)}</tr>`;
    default:
      return unreachable(rec);
  }
}

function rowText(names: readonly string[], cells: readonly Cell[]): string {
  return cells.map((v, i) => `${names[i]}=${showCell(v)}`).join('\n');
}

const plural = (n: number, word: string): string => `${fmtInt(n)} ${word}${n === 1 ? '' : 's'}`;

function summaryRow(t: TableDiff): string {
  const notes: string[] = [];
  if (t.status === 'added') notes.push('on the right only');
  if (t.status === 'removed') notes.push('on the left only');
  if (t.key_source && t.key_source !== 'primary key') notes.push(`matched by ${t.key_source}`);
  if (t.ignored.length) notes.push(`not compared: ${t.ignored.join(', ')}`);
  if (t.order.left === 'sorted' || t.order.right === 'sorted') notes.push(`sorted on disk: ${[t.order.left === 'sorted' ? 'left' : '', t.order.right === 'sorted' ? 'right' : ''].filter(Boolean).join(' and ')}`);
  const diff = t.status !== 'compared' || t.added + t.removed + t.changed > 0;
  return `<tr${diff ? ' class="changed"' : ''}><td>${esc(t.table)}</td><td>${esc(keyLabel(t))}</td><td class="n">${fmtInt(t.left_rows)}</td><td class="n">${fmtInt(t.right_rows)}</td><td class="n">${fmtInt(t.added)}</td><td class="n">${fmtInt(t.removed)}</td><td class="n">${fmtInt(t.changed)}</td><td class="n">${fmtInt(t.unchanged)}</td><td class="n">${fmtInt(t.changed_cells)}</td><td>${esc(notes.join('; '))}</td></tr>`;
}

function sideRows(l: SideDescription, r: SideDescription): string {
  const facts = (d: SideDescription): Map<string, string> => {
    switch (d.kind) {
      case 'bundle':
        return new Map<string, string>([
          ['kind', d.zipped ? 'bundle (zip)' : 'bundle'],
          ['location', d.location],
          ['Payload-Oxum', d.payload_oxum ?? '(none)'],
          ['SHA-256 of manifest-sha256.txt', d.manifest_sha256 ?? '(none)'],
          ...Object.entries(d.bag_info),
        ]);
      case 'store':
        return new Map([
          ['kind', `${d.store} store`],
          ['location', d.url],
        ]);
      default:
        return unreachable(d);
    }
  };
  const a = facts(l);
  const b = facts(r);
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  return keys.map((k) => `<tr><th>${esc(k)}</th><td><code>${esc(a.get(k) ?? '')}</code></td><td><code>${esc(b.get(k) ?? '')}</code></td></tr>`).join('\n');
}
