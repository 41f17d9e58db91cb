// Aggregated groups as Markdown, CSV (one row per run and one per group) and LaTeX (booktabs, best
// value per column in bold), plus a JSON record for machines and `compare`.
import { markdownTable } from '../util/format.ts';
import { direction, type ReportGroup } from './collect.ts';
import { formatMetric, type Stats } from './table.ts';

export interface RenderInput {
  groups: ReportGroup[];
  groupBy: string[];
  metrics: string[];
  deltas?: Map<ReportGroup, Record<string, number>>;
  /** Printed under every table: backend and machine, since absolute times compare only within one. */
  footer: string;
}

function keyCell(v: unknown): string {
  if (v === undefined || v === null) return '-';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function statCell(metric: string, s: Stats): string {
  if (s.n === 0) return '-';
  if (s.n === 1 || !Number.isFinite(s.std)) return formatMetric(metric, s.mean);
  return `${formatMetric(metric, s.mean)} ± ${formatMetric(metric, s.std, 2)}`;
}

function deltaCell(d: number | undefined): string {
  if (d === undefined || !Number.isFinite(d)) return '';
  return ` (${d >= 0 ? '+' : ''}${(100 * d).toFixed(1)}%)`;
}

/** Index of the best group per metric (undefined when the metric has no direction). */
function bestIndex(groups: ReportGroup[], metric: string): number | undefined {
  const dir = direction(metric);
  if (dir === 0) return undefined;
  let best: number | undefined;
  groups.forEach((g, i) => {
    const m = g.stats[metric]?.mean;
    if (!Number.isFinite(m)) return;
    if (best === undefined || dir * (m - groups[best].stats[metric].mean) < 0) best = i;
  });
  return best;
}

export function renderMarkdown(r: RenderInput): string {
  const header = [...r.groupBy, 'n', ...r.metrics];
  const rows = r.groups.map((g) => [
    ...r.groupBy.map((k) => keyCell(g.key[k])),
    String(g.runs.filter((x) => x.state === 'done').length),
    ...r.metrics.map((m) => statCell(m, g.stats[m]) + deltaCell(r.deltas?.get(g)?.[m])),
  ]);
  return `${markdownTable(header, rows)}\n\n${r.footer}\n`;
}

function csvField(v: unknown): string {
  const s = v === undefined || v === null ? '' : typeof v === 'string' ? v : typeof v === 'number' ? String(v) : JSON.stringify(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function renderCsv(r: RenderInput): string {
  const header = ['row', 'id', 'state', ...r.groupBy, 'n', ...r.metrics.flatMap((m) => [m, `${m}_std`])];
  const lines = [header.map(csvField).join(',')];
  for (const g of r.groups) {
    for (const run of g.runs) {
      lines.push(
        ['run', run.id, run.state, ...r.groupBy.map((k) => g.key[k]), 1, ...r.metrics.flatMap((m) => [run.summary[m], ''])].map(csvField).join(','),
      );
    }
    lines.push(
      ['group', '', '', ...r.groupBy.map((k) => g.key[k]), g.stats[r.metrics[0]]?.n ?? g.runs.length, ...r.metrics.flatMap((m) => [g.stats[m].mean, g.stats[m].std])]
        .map((v) => (typeof v === 'number' && !Number.isFinite(v) ? '' : v))
        .map(csvField)
        .join(','),
    );
  }
  return lines.join('\n') + '\n';
}

function tex(s: string): string {
  return s.replace(/\\/g, '\\textbackslash{}').replace(/([&%$#_{}])/g, '\\$1').replace(/~/g, '\\textasciitilde{}').replace(/\^/g, '\\textasciicircum{}');
}

export function renderLatex(r: RenderInput): string {
  const best = new Map(r.metrics.map((m) => [m, bestIndex(r.groups, m)]));
  const cols = `${'l'.repeat(r.groupBy.length)}r${'r'.repeat(r.metrics.length)}`;
  const lines = [
    `% ${r.footer}`,
    `\\begin{tabular}{${cols}}`,
    '\\toprule',
    [...r.groupBy, 'n', ...r.metrics].map((h) => tex(h)).join(' & ') + ' \\\\',
    '\\midrule',
  ];
  r.groups.forEach((g, i) => {
    const cells = [
      ...r.groupBy.map((k) => tex(keyCell(g.key[k]))),
      String(g.runs.filter((x) => x.state === 'done').length),
      ...r.metrics.map((m) => {
        const s = g.stats[m];
        if (s.n === 0) return '--';
        const body = s.n > 1 && Number.isFinite(s.std) ? `${tex(formatMetric(m, s.mean))} $\\pm$ ${tex(formatMetric(m, s.std, 2))}` : tex(formatMetric(m, s.mean));
        return best.get(m) === i ? `\\textbf{${body}}` : body;
      }),
    ];
    lines.push(cells.join(' & ') + ' \\\\');
  });
  lines.push('\\bottomrule', '\\end{tabular}');
  return lines.join('\n') + '\n';
}

export function renderJson(r: RenderInput): string {
  return (
    JSON.stringify(
      {
        group_by: r.groupBy,
        metrics: r.metrics,
        footer: r.footer,
        groups: r.groups.map((g) => ({
          key: g.key,
          n: g.runs.filter((x) => x.state === 'done').length,
          runs: g.runs.map((x) => ({ id: x.id, state: x.state, sweep: x.sweep })),
          stats: Object.fromEntries(Object.entries(g.stats).map(([m, s]) => [m, { n: s.n, mean: Number.isFinite(s.mean) ? s.mean : null, std: Number.isFinite(s.std) ? s.std : null }])),
          delta: r.deltas?.get(g),
        })),
      },
      null,
      2,
    ) + '\n'
  );
}
