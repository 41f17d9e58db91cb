// Standalone SVG plots (vega-lite rendered headless by vega): loss curves per group, metrics vs
// sequence length on log axes, accuracy vs width for recall tasks.
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { keyValue, lossCurve, type ReportGroup, type ReportRun } from './collect.ts';

type Row = Record<string, unknown>;

async function toSvg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

function label(g: ReportGroup, without: string[] = []): string {
  const parts = Object.entries(g.key)
    .filter(([k]) => !without.includes(k))
    .map(([, v]) => (typeof v === 'string' ? v : JSON.stringify(v)));
  return parts.join(' / ') || 'all';
}

const base = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', width: 480, height: 300, background: 'white' } as const;

export async function lossCurvesSvg(groups: ReportGroup[]): Promise<string | undefined> {
  const values: Row[] = [];
  for (const g of groups) {
    for (const run of g.runs) for (const p of lossCurve(run)) values.push({ ...p, group: label(g), run: run.id });
  }
  if (values.length === 0) return undefined;
  return toSvg({
    ...base,
    title: 'Loss (nats/token) over training',
    data: { values },
    mark: { type: 'line', point: { size: 16 } },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: { field: 'value', type: 'quantitative', title: 'loss (nats/token)', scale: { zero: false } },
      color: { field: 'group', type: 'nominal', title: null },
      strokeDash: { field: 'series', type: 'nominal', title: 'split' },
      detail: { field: 'run', type: 'nominal' },
    },
  } as vl.TopLevelSpec);
}

/** `name@L` metrics (prefill, decode) against L, one line per group, log-log. */
export async function benchVsLengthSvg(groups: ReportGroup[], metric: 'decode_ms_per_token' | 'prefill_tokens_per_s'): Promise<string | undefined> {
  const values: Row[] = [];
  for (const g of groups) {
    const keys = new Set(g.runs.flatMap((r) => Object.keys(r.summary).filter((k) => k.startsWith(`${metric}@`))));
    for (const k of keys) {
      const xs = g.runs.map((r) => r.summary[k]).filter((v): v is number => typeof v === 'number' && v > 0);
      if (xs.length) values.push({ L: Number(k.split('@')[1]), value: xs.reduce((a, b) => a + b, 0) / xs.length, group: label(g) });
    }
  }
  if (new Set(values.map((v) => v.L)).size < 2) return undefined;
  return toSvg({
    ...base,
    title: `${metric} vs context length`,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'L', type: 'quantitative', scale: { type: 'log' }, title: 'context length L (tokens)' },
      y: { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: metric },
      color: { field: 'group', type: 'nominal', title: null },
    },
  } as vl.TopLevelSpec);
}

/** A summary metric against a swept numeric config key (e.g. task.seq_len, model.d_model). */
export async function metricVsKeySvg(runs: ReportRun[], groups: ReportGroup[], metric: string, xKey: string, logX: boolean): Promise<string | undefined> {
  const values: Row[] = [];
  for (const g of groups) {
    for (const r of g.runs) {
      const x = keyValue(r, xKey);
      const y = r.summary[metric];
      if (typeof x === 'number' && typeof y === 'number' && Number.isFinite(y)) values.push({ x, y, group: label(g, [xKey]) });
    }
  }
  if (new Set(values.map((v) => v.x)).size < 2) return undefined;
  return toSvg({
    ...base,
    title: `${metric} vs ${xKey}`,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', scale: logX ? { type: 'log' } : { zero: false }, title: xKey },
      y: { aggregate: 'mean', field: 'y', type: 'quantitative', scale: { zero: false }, title: metric },
      color: { field: 'group', type: 'nominal', title: null },
    },
  } as vl.TopLevelSpec);
}
