// The HTML report (index.html): one self-contained page (vega, vega-lite and vega-embed inlined, no
// network) with the results table, the claims table when given, interactive figures and the
// provenance of the runs.
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { directionOf } from '../metrics/names.ts';
import { bestIndex, headerWithUnit, keyCell, type RenderInput } from './render.ts';
import { compileFigure, type Figure } from './plots.ts';
import { statText } from '../metrics/table.ts';

const require = createRequire(import.meta.url);

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A script's source made safe to inline (no early </script>). */
function inlineScript(src: string): string {
  return `<script>${src.replace(/<\/script/gi, '<\\/script')}</script>`;
}

/** A file of an installed package (the package's "exports" hide its build/ folder from require.resolve). */
function packageFile(pkg: string, rel: string): string {
  let dir = path.dirname(require.resolve(pkg));
  while (!fs.existsSync(path.join(dir, rel))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`${pkg}: ${rel} not found`);
    dir = up;
  }
  return path.join(dir, rel);
}

function libraries(): string {
  return [
    ['vega', 'build/vega.min.js'],
    ['vega-lite', 'build/vega-lite.min.js'],
    ['vega-embed', 'build/vega-embed.min.js'],
  ]
    .map(([pkg, rel]) => inlineScript(fs.readFileSync(packageFile(pkg!, rel!), 'utf8')))
    .join('\n');
}

function resultsTable(r: RenderInput): string {
  const head = [...r.groupBy, 'n', ...r.metrics.map(headerWithUnit)].map((h) => `<th>${esc(h)}</th>`).join('');
  const best = new Map(r.metrics.map((m) => [m, bestIndex(r.groups, m)]));
  const body = r.groups
    .map((g, i) => {
      const cells = [
        ...r.groupBy.map((k) => `<td>${esc(keyCell(g.key[k]))}</td>`),
        `<td class="num">${g.runs.filter((x) => x.state === 'done').length}</td>`,
        ...r.metrics.map((m) => {
          const t = esc(statText(m, g.stats[m]));
          return `<td class="num">${best.get(m) === i ? `<b>${t}</b>` : t}</td>`;
        }),
      ];
      return `<tr>${cells.join('')}</tr>`;
    })
    .join('\n');
  const dirs = r.metrics
    .filter((m) => directionOf(m) !== 0)
    .map((m) => `${m}: ${directionOf(m) === 1 ? 'lower' : 'higher'} is better`)
    .join('; ');
  return `<table class="results"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>\n<p class="note">Bold: best mean per column (${esc(dirs)}).</p>`;
}

function claimsTable(r: RenderInput): string {
  const c = r.claims;
  if (!c || c.rows.length === 0) return '';
  const head = c.columns.map((h) => `<th>${esc(h)}</th>`).join('');
  const rows = c.rows.map((row) => `<tr>${row.map((v) => `<td>${esc(keyCell(v))}</td>`).join('')}</tr>`).join('\n');
  return `<section id="claims"><h2>${esc(c.title)}</h2><table class="claims"><thead><tr>${head}</tr></thead><tbody>\n${rows}\n</tbody></table>${c.note ? `<p class="note">${esc(c.note)}</p>` : ''}</section>`;
}

export interface HtmlInput {
  title: string;
  render: RenderInput;
  figures: Figure[];
  /** provenance lines (sweeps, commit, env of the runs, the command that made the report) */
  provenance: string[];
}

export function renderHtml(h: HtmlInput): string {
  const specs = h.figures.map((f) => compileFigure(f));
  const figs = h.figures
    .map(
      (f, i) =>
        `<figure><div class="vis" id="fig${i}" data-name="${esc(f.name)}"></div><figcaption>${esc(f.title)} (${esc(f.name)}.svg / .png)</figcaption></figure>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(h.title)}</title>
<style>
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}
th{border-bottom:2px solid #444}td.num{text-align:right;font-variant-numeric:tabular-nums}.note,figcaption{color:#555;font-size:13px}
figure{margin:1.5em 0}ul.prov{font-size:13px;color:#444}
</style>
${libraries()}
</head><body>
<h1>${esc(h.title)}</h1>
<section id="results"><h2>Results</h2>
${resultsTable(h.render)}
<p class="note">${esc(h.render.footer)}</p></section>
${claimsTable(h.render)}
<section id="figures"><h2>Figures</h2>
${figs}
</section>
<section id="provenance"><h2>Provenance</h2><ul class="prov">${h.provenance.map((l) => `<li>${esc(l)}</li>`).join('')}</ul></section>
<script>
const specs = ${JSON.stringify(specs).replace(/</g, '\\u003c')};
window.seqlabRendered = 0;
Promise.all(specs.map((s, i) => vegaEmbed('#fig' + i, s, { mode: 'vega', renderer: 'svg', actions: { export: true, source: false, compiled: false, editor: false } })
  .then(() => { window.seqlabRendered++; })))
  .then(() => { document.body.dataset.rendered = 'yes'; })
  .catch((e) => { console.error('figure failed: ' + e); document.body.dataset.rendered = 'error'; });
</script>
</body></html>
`;
}
