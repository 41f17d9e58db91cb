// The results table of a sweep (Markdown): one row per run, or one per group of runs that differ
// only in the aggregated axes (seed by default) with mean ± std (ddof 1). The runner prints it at
// the end of a sweep (`renderResultsTable`, fitted to the terminal width); `report` writes the
// full tables. Headers, decimals and directions come from the metric registry.
import { markdownTable } from '../util/format.ts';
import { meanStd, type Stats } from '../stats/welch.ts';
import { formatValue, resolveMetric, shortLabel } from './names.ts';
export { meanStd, type Stats };

export interface ResultRow {
  id: string;
  axes: Record<string, unknown>;
  state: string;
  case?: string;
  summary?: Record<string, unknown>;
}

export interface TableOptions {
  /** Column specs: 'id', 'axes' (one column per axis), 'case', 'n', 'state', or a summary metric.
   *  A trailing '@*' expands to every `name@L` key present, ordered by L. */
  columns?: string[];
  /** Axes to aggregate over (rows equal in every other axis form a group); [] = one row per run. */
  aggregateOver?: string[];
  /** Axis column order (default: first-seen order in rows). */
  axisKeys?: string[];
  /** Fit the table into this many characters per line by leaving out the last metric columns
   *  (a note names them). Default: the terminal's width when stdout is a terminal, else no limit. */
  width?: number;
}

export const DEFAULT_COLUMNS = [
  'id',
  'axes',
  'valid_bpb',
  'accuracy',
  'exact_match',
  'params',
  'flops_per_token_fwd',
  'train_tokens_per_s',
  'decode_ms_per_token@*',
  'peak_tensor_bytes',
  'state',
];

/** A metric value as the registry prints it (decimals per metric, SI counts, bytes). */
export function formatMetric(name: string, v: number): string {
  return formatValue(name, v);
}

/** "mean ± std" over n > 1 seeds, else the mean alone; no "± 0" where every seed agrees (params, FLOPs). */
export function statText(name: string, s: Stats): string {
  if (s.n === 0) return '-';
  if (s.n === 1 || !Number.isFinite(s.std) || s.std === 0) return formatValue(name, s.mean);
  return `${formatValue(name, s.mean)} ± ${formatValue(name, s.std)}`;
}

export interface RowGroup {
  axes: Record<string, unknown>;
  rows: ResultRow[];
}

/** Groups in first-seen order; rows whose axes (minus `over`) are equal share a group. */
export function groupRows(rows: ResultRow[], over: string[]): RowGroup[] {
  const groups = new Map<string, RowGroup>();
  for (const r of rows) {
    const axes: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r.axes)) if (!over.includes(k)) axes[k] = v;
    const key = JSON.stringify([r.case ?? null, Object.entries(axes).sort(([a], [b]) => (a < b ? -1 : 1))]);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { axes, rows: [] }));
    g.rows.push(r);
  }
  return [...groups.values()];
}

function expandColumns(specs: string[], rows: ResultRow[], axisKeys: string[]): string[] {
  const out: string[] = [];
  for (const c of specs) {
    if (c === 'axes') out.push(...axisKeys.map((k) => `axis:${k}`));
    else if (c.endsWith('@*')) {
      const prefix = c.slice(0, -1);
      const keys = new Set<string>();
      for (const r of rows) for (const k of Object.keys(r.summary ?? {})) if (k.startsWith(prefix)) keys.add(k);
      out.push(...[...keys].sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)) || (a < b ? -1 : 1)));
    } else out.push(c);
  }
  return out;
}

function axisCell(v: unknown): string {
  if (v === undefined) return '-';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
  return JSON.stringify(v);
}

function stateCell(rows: ResultRow[]): string {
  if (rows.length === 1) return rows[0]!.state;
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${n} ${s}`).join(', ');
}

function metricCell(name: string, rows: ResultRow[]): string {
  const values = rows.map((r) => r.summary?.[name]).filter((v): v is number => typeof v === 'number');
  if (values.length === 0) {
    const other = rows.map((r) => r.summary?.[name]).find((v) => v !== undefined && v !== null);
    return other === undefined ? '-' : axisCell(other);
  }
  return statText(name, meanStd(values));
}

function terminalWidth(): number | undefined {
  return process.stdout.isTTY && process.stdout.columns > 0 ? process.stdout.columns : undefined;
}

const lineWidth = (header: string[], body: string[][]): number =>
  header.reduce((a, h, i) => a + Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)) + 3, 1);

/** The Markdown table (no trailing newline). */
export function renderResultsTable(rows: ResultRow[], opts: TableOptions = {}): string {
  const over = opts.aggregateOver ?? ['seed'];
  const groups = groupRows(rows, over);
  const grouped = groups.some((g) => g.rows.length > 1);
  const allAxes = opts.axisKeys ?? [...new Set(rows.flatMap((r) => Object.keys(r.axes)))];
  const axisKeys = grouped ? allAxes.filter((k) => !over.includes(k)) : allAxes;
  const hasCase = rows.some((r) => r.case);
  let specs = opts.columns ?? DEFAULT_COLUMNS;
  if (hasCase && !specs.includes('case')) specs = specs.flatMap((c) => (c === 'axes' ? ['case', c] : [c]));
  if (grouped && !specs.includes('n')) specs = specs.flatMap((c) => (c === 'axes' ? [c, 'n'] : [c]));
  const structural = (c: string) => c === 'id' || c === 'n' || c === 'state' || c === 'case' || c.startsWith('axis:');
  // Default columns cover LM and recall tasks; keep only the metrics some run reports.
  let cols = expandColumns(specs, rows, axisKeys).filter(
    (c) => opts.columns !== undefined || structural(c) || rows.some((r) => r.summary?.[c] !== undefined),
  );
  const headerOf = (c: string) => (c.startsWith('axis:') ? c.slice(5) : resolveMetric(c) ? shortLabel(c) : c);
  const cellsOf = (cs: string[]) =>
    (grouped ? groups : rows.map((r) => ({ axes: r.axes, rows: [r] }))).map((g) =>
      cs.map((c) => {
        if (c === 'id') return g.rows.length === 1 ? g.rows[0]!.id : `${g.rows[0]!.id} +${g.rows.length - 1}`;
        if (c === 'n') return String(g.rows.filter((r) => r.state === 'done').length);
        if (c === 'state') return stateCell(g.rows);
        if (c === 'case') return g.rows[0]!.case ?? '-';
        if (c.startsWith('axis:')) return axisCell(g.axes[c.slice(5)]);
        return metricCell(
          c,
          g.rows.filter((r) => r.state === 'done' || r.state === 'diverged'),
        );
      }),
    );
  const width = opts.width ?? terminalWidth();
  const hidden: string[] = [];
  let body = cellsOf(cols);
  // Leave out metric columns from the right (the first metric always stays) until the table fits.
  while (width !== undefined && lineWidth(cols.map(headerOf), body) > width) {
    const metricCols = cols.filter((c) => !structural(c));
    if (metricCols.length <= 1) break;
    const drop = metricCols[metricCols.length - 1]!;
    hidden.unshift(headerOf(drop));
    cols = cols.filter((c) => c !== drop);
    body = cellsOf(cols);
  }
  const table = markdownTable(cols.map(headerOf), body);
  return hidden.length
    ? `${table}\n(${hidden.length} more column${hidden.length > 1 ? 's' : ''} in seqlab report: ${hidden.join(', ')})`
    : table;
}
