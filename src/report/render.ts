// Aggregated groups as Markdown, tidy CSV (runs.csv: one row per run; groups.csv: one per group),
// LaTeX (booktabs, fitted to a one-column article, best mean per column in bold) and a JSON record
// for machines and `compare`. Labels, units, decimals and directions come from the metric registry.
import { markdownTable } from '../util/format.ts';
import { axisTitle, directionOf, formatValue, headerUnit, resolveMetric, shortLabel } from '../metrics/names.ts';
import { keyValue, type ReportGroup, type ReportRun } from './collect.ts';
import { statText, type Stats } from '../metrics/table.ts';
import type { ClaimsSection } from './claims.ts';

export interface RenderInput {
  groups: ReportGroup[];
  groupBy: string[];
  metrics: string[];
  deltas?: Map<ReportGroup, Record<string, number>>;
  /** Printed under every table: backend and machine, since absolute times compare only within one. */
  footer: string;
  /** Claims table (`seqlab check`), shown in its own section when given. */
  claims?: ClaimsSection;
  /** LaTeX: the group keys and metrics to show (default: chosen to fit a one-column article). */
  texColumns?: string[];
}

export function keyCell(v: unknown): string {
  if (v === undefined || v === null) return '-';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function deltaCell(d: number | undefined): string {
  if (d === undefined || !Number.isFinite(d)) return '';
  return ` (${d >= 0 ? '+' : ''}${(100 * d).toFixed(1)}%)`;
}

/** Index of the best group mean per metric (undefined when the metric has no direction or a tie for all). */
export function bestIndex(groups: ReportGroup[], metric: string): number | undefined {
  const dir = directionOf(metric);
  if (dir === 0 || groups.length < 2) return undefined;
  let best: number | undefined;
  groups.forEach((g, i) => {
    const m = g.stats[metric]?.mean;
    if (!Number.isFinite(m)) return;
    if (best === undefined || dir * (m - groups[best].stats[metric].mean) < 0) best = i;
  });
  return best;
}

/** Header of a metric column: "valid bpb (bits/byte)". */
export function headerWithUnit(metric: string): string {
  const u = headerUnit(metric);
  return `${shortLabel(metric)}${u ? ` (${u})` : ''}`;
}

const nDone = (g: ReportGroup) => g.runs.filter((x) => x.state === 'done').length;

/** The claims section as Markdown (empty when there are no claims). */
export function claimsMarkdown(c: ClaimsSection | undefined): string {
  if (!c || c.rows.length === 0) return '';
  return `\n## ${c.title}\n\n${markdownTable(
    c.columns,
    c.rows.map((r) => r.map((v) => keyCell(v))),
  )}\n${c.note ? `\n${c.note}\n` : ''}`;
}

export function renderMarkdown(r: RenderInput): string {
  const header = [...r.groupBy, 'n', ...r.metrics.map(headerWithUnit)];
  const rows = r.groups.map((g) => [
    ...r.groupBy.map((k) => keyCell(g.key[k])),
    String(nDone(g)),
    ...r.metrics.map((m) => statText(m, g.stats[m]) + deltaCell(r.deltas?.get(g)?.[m])),
  ]);
  return `${markdownTable(header, rows)}\n\n${r.footer}\n${claimsMarkdown(r.claims)}`;
}

function csvField(v: unknown): string {
  const s =
    v === undefined || v === null
      ? ''
      : typeof v === 'string'
        ? v
        : typeof v === 'number'
          ? Number.isFinite(v)
            ? String(v)
            : ''
          : JSON.stringify(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const csvLine = (cells: unknown[]) => cells.map(csvField).join(',');

/** Every metric key some run reports that the registry knows (tidy CSV: all of them). */
export function allMetricKeys(runs: ReportRun[]): string[] {
  const keys = new Set<string>();
  for (const run of runs) for (const [k, v] of Object.entries(run.summary)) if (typeof v === 'number' && resolveMetric(k)) keys.add(k);
  return [...keys].sort();
}

/** Every swept axis of the runs (seed last), plus the group-by keys. */
function allAxes(runs: ReportRun[], groupBy: string[]): string[] {
  const axes = new Set<string>(groupBy.filter((k) => k !== 'sweep' && k !== 'case'));
  for (const run of runs) for (const k of Object.keys(run.axes)) if (k !== 'seed') axes.add(k);
  return [...axes];
}

/** runs.csv: one row per run with sweep, id, state, case, seed, every axis and every metric. */
export function renderRunsCsv(r: RenderInput): string {
  const runs = r.groups.flatMap((g) => g.runs);
  const axes = allAxes(runs, r.groupBy);
  const metrics = allMetricKeys(runs);
  const lines = [csvLine(['sweep', 'id', 'state', 'case', 'seed', ...axes, ...metrics])];
  for (const run of runs) {
    lines.push(
      csvLine([
        run.sweep,
        run.id,
        run.state,
        run.case ?? '',
        keyValue(run, 'seed'),
        ...axes.map((k) => keyValue(run, k)),
        ...metrics.map((m) => run.summary[m]),
      ]),
    );
  }
  return lines.join('\n') + '\n';
}

/** groups.csv: one row per group with its keys, n and mean / std of every reported metric. */
export function renderGroupsCsv(r: RenderInput): string {
  const metrics = r.metrics;
  const lines = [csvLine([...r.groupBy, 'n', ...metrics.flatMap((m) => [`${m}_mean`, `${m}_std`])])];
  for (const g of r.groups) {
    lines.push(csvLine([...r.groupBy.map((k) => g.key[k]), nDone(g), ...metrics.flatMap((m) => [g.stats[m].mean, g.stats[m].std])]));
  }
  return lines.join('\n') + '\n';
}

export function tex(s: string): string {
  return s
    .replace(/\\/g, '\\textbackslash{}')
    .replace(/([&%$#_{}])/g, '\\$1')
    .replace(/~/g, '\\textasciitilde{}')
    .replace(/\^/g, '\\textasciicircum{}')
    .replace(/±/g, '$\\pm$');
}

/** Header of a group key: its last dotted segment (model.preset -> preset). */
function keyHeader(k: string): string {
  return k.split('.').pop() ?? k;
}

/** LaTeX cell of a metric: mean (± std when it varies over seeds), decimals per metric. */
function texStat(m: string, s: Stats): string {
  if (s.n === 0 || !Number.isFinite(s.mean)) return '--';
  if (s.n > 1 && Number.isFinite(s.std) && s.std !== 0) return `${tex(formatValue(m, s.mean))}\\,$\\pm$\\,${tex(formatValue(m, s.std))}`;
  return tex(formatValue(m, s.mean));
}

/** Rendered width estimate in pt at 10 pt Computer Modern (digits and lower case ~5 pt, ± ~9 pt). */
function texWidthPt(text: string): number {
  let w = 0;
  for (const ch of text) w += ch === '±' ? 10 : /[A-Z%mwMW]/.test(ch) ? 8.5 : /[\s.,]/.test(ch) ? 3 : 5.3;
  return w;
}

/** \textwidth of a one-column 10 pt article, and the space a column adds (2 \tabcolsep). */
export const ARTICLE_TEXTWIDTH_PT = 345;
const TABCOLSEP_PT = 6;

/** Headline metrics first: quality (valid bpb / accuracy), size, training speed, decode latency at the longest L. */
export function headlineOrder(metrics: string[]): string[] {
  const decode = metrics
    .filter((m) => m.startsWith('decode_ms_per_token@'))
    .sort((a, b) => Number(b.split('@')[1]) - Number(a.split('@')[1]));
  const first = ['valid_bpb', 'accuracy', 'valid_loss', 'params', 'train_tokens_per_s', ...decode.slice(0, 1)].filter((m) =>
    metrics.includes(m),
  );
  return [...first, ...metrics.filter((m) => !first.includes(m))];
}

/**
 * LaTeX columns that fit a one-column article: the group keys whose value varies between groups
 * (a key with one value goes to the caption), then the metrics in order while the estimated width
 * fits. `columns` (group keys and metrics) overrides the choice.
 */
export function chooseTexColumns(r: RenderInput): { keys: string[]; fixed: [string, string][]; metrics: string[]; dropped: string[] } {
  const fixed: [string, string][] = [];
  let keys = r.groupBy.filter((k) => {
    const vals = new Set(r.groups.map((g) => keyCell(g.key[k])));
    if (vals.size === 1 && r.groups.length > 1) fixed.push([k, [...vals][0]!]);
    return vals.size > 1 || r.groups.length === 1;
  });
  // A key zipped with an earlier one (num_kv_pairs with seq_len) is one column too many: the caption says how it follows.
  keys = keys.filter((k, i) => {
    const lead = keys.slice(0, i).find((j) => {
      const map = new Map<string, string>();
      const back = new Map<string, string>();
      return r.groups.every((g) => {
        const a = keyCell(g.key[j]);
        const b = keyCell(g.key[k]);
        if ((map.get(a) ?? b) !== b || (back.get(b) ?? a) !== a) return false;
        map.set(a, b);
        back.set(b, a);
        return true;
      });
    });
    if (lead === undefined) return true;
    const pairs = [...new Map(r.groups.map((g) => [keyCell(g.key[lead]), keyCell(g.key[k])]))];
    fixed.push([k, `${pairs.map(([, b]) => b).join(', ')} with ${keyHeader(lead)} = ${pairs.map(([a]) => a).join(', ')}`]);
    return false;
  });
  let metrics = headlineOrder(r.metrics);
  if (r.texColumns) {
    keys = r.groupBy.filter((k) => r.texColumns!.includes(k));
    metrics = r.texColumns.filter((c) => !r.groupBy.includes(c));
    return { keys, fixed, metrics, dropped: [] };
  }
  const colWidth = (header: string[], cells: string[]) => Math.max(...header.map(texWidthPt), ...cells.map(texWidthPt)) + 2 * TABCOLSEP_PT;
  let width =
    keys.reduce(
      (a, k) =>
        a +
        colWidth(
          [keyHeader(k)],
          r.groups.map((g) => keyCell(g.key[k])),
        ),
      0,
    ) + colWidth(['n'], ['10']);
  const chosen: string[] = [];
  const dropped: string[] = [];
  for (const m of metrics) {
    const w = colWidth(
      [shortLabel(m), headerUnit(m)],
      r.groups.map((g) => statText(m, g.stats[m])),
    );
    if (width + w <= ARTICLE_TEXTWIDTH_PT - 5 || chosen.length === 0) {
      chosen.push(m);
      width += w;
    } else dropped.push(m);
  }
  return { keys, fixed, metrics: chosen, dropped };
}

/** A table float for \input in a paper (needs \usepackage{booktabs}); caption states the aggregation. */
export function renderLatex(r: RenderInput): string {
  const { keys, fixed, metrics, dropped } = chooseTexColumns(r);
  const best = new Map(metrics.map((m) => [m, bestIndex(r.groups, m)]));
  const ns = [...new Set(r.groups.map(nDone))];
  const cols = `${'l'.repeat(keys.length)}r${'r'.repeat(metrics.length)}`;
  const fixedText = fixed.length ? ` ${fixed.map(([k, v]) => `${tex(keyHeader(k))} = ${tex(v)}`).join(', ')}.` : '';
  const caption =
    `Mean $\\pm$ sample std (ddof 1) over ${ns.length === 1 ? `n = ${ns[0]}` : 'n'} seeds; best mean per column in bold; ` +
    `no std where all seeds agree (e.g. parameters).${fixedText}`;
  const lines = [
    `% ${r.footer}`,
    ...(dropped.length ? [`% left out to fit one column (seqlab report --columns to choose): ${dropped.join(', ')}`] : []),
    '\\begin{table}[t]',
    '\\centering',
    `\\begin{tabular}{${cols}}`,
    '\\toprule',
    [...keys.map((k) => tex(keyHeader(k))), '$n$', ...metrics.map((m) => tex(shortLabel(m)))].join(' & ') + ' \\\\',
    ...(metrics.some((m) => headerUnit(m))
      ? [
          [...keys.map(() => ''), '', ...metrics.map((m) => (headerUnit(m) ? `{\\footnotesize ${tex(headerUnit(m))}}` : ''))].join(' & ') +
            ' \\\\',
        ]
      : []),
    '\\midrule',
  ];
  r.groups.forEach((g, i) => {
    const cells = [
      ...keys.map((k) => tex(keyCell(g.key[k]))),
      String(nDone(g)),
      ...metrics.map((m) => {
        const body = texStat(m, g.stats[m]);
        return best.get(m) === i ? `\\textbf{${body}}` : body;
      }),
    ];
    lines.push(cells.join(' & ') + ' \\\\');
  });
  lines.push('\\bottomrule', '\\end{tabular}', `\\caption{${caption}}`, '\\end{table}');
  return lines.join('\n') + '\n';
}

export function renderJson(r: RenderInput): string {
  return (
    JSON.stringify(
      {
        group_by: r.groupBy,
        metrics: r.metrics,
        units: Object.fromEntries(r.metrics.map((m) => [m, resolveMetric(m)?.def.unit ?? null])),
        labels: Object.fromEntries(r.metrics.map((m) => [m, axisTitle(m)])),
        footer: r.footer,
        groups: r.groups.map((g) => ({
          key: g.key,
          n: nDone(g),
          runs: g.runs.map((x) => ({ id: x.id, state: x.state, sweep: x.sweep, seed: keyValue(x, 'seed') })),
          stats: Object.fromEntries(
            Object.entries(g.stats).map(([m, s]) => [
              m,
              { n: s.n, mean: Number.isFinite(s.mean) ? s.mean : null, std: Number.isFinite(s.std) ? s.std : null },
            ]),
          ),
          delta: r.deltas?.get(g),
        })),
        ...(r.claims ? { claims: r.claims } : {}),
      },
      null,
      2,
    ) + '\n'
  );
}
