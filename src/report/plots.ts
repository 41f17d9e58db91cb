// Figures for a paper, as vega-lite specs rendered headless by vega to SVG (and PNG by resvg):
// seed mean with a band (± 1 std, or a 95% t interval; the subtitle says which), one fixed colour
// per family across every figure of a report, train / valid / test told apart by dash with a
// legend that draws the dash, axis titles with units from the metric registry, log axes only when
// the data span more than a decade (domain fitted to the data), a chance line on accuracy plots,
// and legends that never truncate a label.
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { Resvg } from '@resvg/resvg-js';
import tquantile from '@stdlib/stats-base-dists-t-quantile';
import { axisTitle, resolveMetric } from '../metrics/names.ts';
import { meanStd } from '../stats/welch.ts';
import { keyValue, lossCurve, type ReportGroup } from './collect.ts';

export type Band = 'std' | 'ci95';

export interface Figure {
  /** file stem: loss_curves, accuracy_vs_width, ... */
  name: string;
  title: string;
  spec: vl.TopLevelSpec;
}

export interface FigureContext {
  groups: ReportGroup[];
  groupBy: string[];
  band: Band;
  /** accuracy chance level per task (mqar 1/(V/2), ...), when known */
  chance?: number;
}

// Tableau 10 (colour-blind-aware, print-safe); more than 10 families take Tableau 20 (vega's
// tableau20: each hue in a dark and a light shade), so no two of up to 20 families share a colour.
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const PALETTE_20 = [
  '#4c78a8',
  '#9ecae9',
  '#f58518',
  '#ffbf79',
  '#54a24b',
  '#88d27a',
  '#b79a20',
  '#f2cf5b',
  '#439894',
  '#83bcb6',
  '#e45756',
  '#ff9d98',
  '#79706e',
  '#bab0ac',
  '#d67195',
  '#fcbfd2',
  '#b279a2',
  '#d6a5c9',
  '#9e765f',
  '#d8b5a5',
];

/** Axis titles for config keys that figures put on x. */
const KEY_TITLES: Record<string, string> = {
  'task.seq_len': 'sequence length (tokens)',
  'model.d_model': 'model width d',
  'model.layers': 'layers',
  'train.lr': 'learning rate',
  'train.steps': 'optimizer steps',
  params: 'parameters',
};

export function keyTitle(key: string): string {
  return KEY_TITLES[key] ?? (resolveMetric(key) ? axisTitle(key) : key);
}

/**
 * The key that names a group's family: the sweep's case when it has one (the user's own labels:
 * a pattern-built model has no preset of its own), else model.preset.
 */
function familyKey(g: ReportGroup): string | undefined {
  return ['case', 'model.preset'].find((k) => g.key[k] !== undefined);
}

/** The family of a group: its case (or model.preset) value, else its whole label. */
export function familyOf(g: ReportGroup): string {
  const k = familyKey(g);
  return k ? String(g.key[k]) : labelOf(g, []);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** "retnet / lr 0.003": the group's key values except `without` (the x axis, facets). */
export function labelOf(g: ReportGroup, without: string[]): string {
  const parts = Object.entries(g.key)
    .filter(([k]) => !without.includes(k))
    .map(([, v]) => str(v));
  return parts.join(' / ') || 'all';
}

/**
 * The group's key values other than its family and `without`: "d_model 64, seq_len 32". Given all
 * groups, only the keys whose value differs between groups of the same family are named (a key
 * that is constant within a family, or unset, tells its lines apart from nothing).
 */
export function variantOf(g: ReportGroup, without: string[], all?: ReportGroup[]): string {
  const fam = familyKey(g);
  const varies = (k: string) => !all || new Set(all.filter((h) => familyOf(h) === familyOf(g)).map((h) => str(h.key[k]))).size > 1;
  return Object.entries(g.key)
    .filter(([k, v]) => k !== fam && v !== undefined && !without.includes(k) && varies(k))
    .map(([k, v]) => `${k.split('.').pop()} ${str(v)}`)
    .join(', ');
}

/** One colour per family for the whole report, in sorted family order. */
export function familyColours(groups: ReportGroup[]): { domain: string[]; range: string[] } {
  const domain = [...new Set(groups.map(familyOf))].sort();
  const palette = domain.length > PALETTE.length ? PALETTE_20 : PALETTE;
  return { domain, range: domain.map((_, i) => palette[i % palette.length]!) };
}

interface Point {
  family: string;
  /** the group's other key values (lr 0.003 / d 64): told apart by dash when a family has several */
  variant?: string;
  series: string;
  x: number;
  y: number;
}

interface Agg {
  family: string;
  single?: boolean;
  variant?: string;
  series: string;
  x: number;
  mean: number;
  lo: number;
  hi: number;
  n: number;
}

/** Mean and band per (series, x) over the seeds behind each point. */
export function aggregate(points: Point[], band: Band): Agg[] {
  const by = new Map<string, Point[]>();
  for (const p of points) {
    const k = JSON.stringify([p.series, p.x]);
    by.set(k, [...(by.get(k) ?? []), p]);
  }
  const out: Agg[] = [];
  for (const ps of by.values()) {
    const s = meanStd(ps.map((p) => p.y));
    const half = !Number.isFinite(s.std) ? 0 : band === 'std' ? s.std : (tquantile(0.975, s.n - 1) * s.std) / Math.sqrt(s.n);
    out.push({
      family: ps[0]!.family,
      variant: ps[0]!.variant,
      series: ps[0]!.series,
      x: ps[0]!.x,
      mean: s.mean,
      lo: s.mean - half,
      hi: s.mean + half,
      n: s.n,
    });
  }
  return out.sort((a, b) => (a.series < b.series ? -1 : a.series > b.series ? 1 : a.x - b.x));
}

/** Log scale only when the positive data span more than a decade; the domain fitted to the data. */
export function fittedScale(values: number[]): { type: 'log' | 'linear'; domain: [number, number]; nice?: boolean; zero?: boolean } {
  const xs = values.filter((v) => Number.isFinite(v));
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  if (lo > 0 && hi / lo > 10) return { type: 'log', domain: [lo, hi], nice: false };
  const pad = hi > lo ? 0.04 * (hi - lo) : Math.abs(hi) * 0.05 || 1;
  return { type: 'linear', domain: [lo - pad, hi + pad], nice: false, zero: false };
}

function bandText(band: Band, ns: number[]): string {
  const n = [...new Set(ns)];
  const nText = n.length === 1 ? `n = ${n[0]}` : `n = ${Math.min(...n)}-${Math.max(...n)}`;
  if (Math.max(...ns) < 2) return `one seed per point (${nText}); no band`;
  return `line / point: mean over seeds (${nText}); band / bar: ${band === 'std' ? '± 1 sample std' : '95% t-interval of the mean'}`;
}

const capitalise = (t: string) => t.charAt(0).toUpperCase() + t.slice(1);

const WIDTH = 420;
const HEIGHT = 260;

function base(title: string, subtitle: string) {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    title: { text: title, subtitle, anchor: 'start' as const, fontSize: 14, subtitleFontSize: 11, subtitleColor: '#555' },
    config: {
      font: 'DejaVu Sans, Helvetica, Arial, sans-serif',
      legend: { labelLimit: 0, titleLimit: 0, orient: 'right' as const },
      axis: { titleLimit: 0, labelLimit: 0, titleFontSize: 12, labelFontSize: 11, grid: true, gridColor: '#eee' },
      header: { labelLimit: 0, titleLimit: 0 },
      view: { stroke: '#ccc' },
    },
  };
}

/** Line + band layers for aggregated points; `dash` = the series field told apart by stroke dash. */
function lineLayers(
  values: Agg[],
  colours: { domain: string[]; range: string[] },
  xTitle: string,
  yTitle: string,
  opts: {
    dashField?: string;
    dashTitle?: string;
    dashScale?: { domain: string[]; range: number[][] };
    linearX?: boolean;
    fraction?: boolean;
    variantTitle?: string;
    extra?: unknown[];
  } = {},
) {
  const xValues = values.map((v) => v.x);
  const xScale = opts.linearX
    ? {
        ...fittedScale(xValues.map(() => 1)),
        domain: [Math.min(...xValues), Math.max(...xValues)] as [number, number],
        type: 'linear' as const,
      }
    : fittedScale(xValues);
  // Fractions (accuracy) keep their natural [0, 1] axis, so the chance line is always in view.
  // Otherwise the scale follows the means (a band reaching below zero must not turn a log axis
  // linear); the domain is widened to the band, clipped at the log axis' floor.
  let yScale: ReturnType<typeof fittedScale>;
  if (opts.fraction) yScale = { type: 'linear', domain: [0, 1], nice: false, zero: true };
  else {
    const means = fittedScale(values.map((v) => v.mean));
    const lo = Math.min(...values.map((v) => (means.type === 'log' && !(v.lo > 0) ? v.mean : v.lo)));
    const hi = Math.max(...values.map((v) => v.hi));
    yScale = means.type === 'log' ? { ...means, domain: [lo, hi] } : fittedScale([lo, hi]);
    if (means.type === 'log') values = values.map((v) => ({ ...v, lo: Math.max(v.lo, lo) }));
  }
  if (!opts.dashField && new Set(values.map((v) => v.variant ?? '')).size > 1) {
    opts = { ...opts, dashField: 'variant', dashTitle: opts.variantTitle ?? 'variant' };
  }
  const colour = {
    field: 'family',
    type: 'nominal',
    title: 'family',
    scale: colours,
    legend: { symbolType: 'stroke', symbolStrokeWidth: 3, symbolOpacity: 1 },
  };
  const x = {
    field: 'x',
    type: 'quantitative',
    title: xTitle,
    scale: xScale,
    axis: { ...(xScale.type === 'log' ? { tickCount: 6 } : {}), ...(Math.max(...xValues) >= 1e5 ? { format: '~s' } : {}) },
  };
  const dash = opts.dashField
    ? {
        strokeDash: {
          field: opts.dashField,
          type: 'nominal',
          title: opts.dashTitle,
          scale: opts.dashScale,
          // vega draws legend strokes only with an explicit stroke colour
          legend: {
            symbolType: 'stroke',
            symbolStrokeWidth: 2,
            symbolSize: 600,
            encode: { symbols: { update: { stroke: { value: '#333' } } } },
          },
        },
      }
    : {};
  // A series with one x (one model size) has no band to draw: it gets an error bar instead.
  const perSeries = new Map<string, number>();
  for (const v of values) perSeries.set(v.series, (perSeries.get(v.series) ?? 0) + 1);
  values = values.map((v) => ({ ...v, single: perSeries.get(v.series) === 1 }));
  return {
    data: { values },
    width: WIDTH,
    height: HEIGHT,
    layer: [
      {
        transform: [{ filter: 'datum.single' }],
        mark: { type: 'rule', strokeWidth: 1.5 },
        encoding: { x, y: { field: 'lo', type: 'quantitative', scale: yScale, title: yTitle }, y2: { field: 'hi' }, color: colour },
      },
      {
        mark: { type: 'area', opacity: 0.18 },
        encoding: {
          x,
          y: { field: 'lo', type: 'quantitative', scale: yScale, title: yTitle },
          y2: { field: 'hi' },
          color: colour,
          detail: { field: 'series' },
        },
      },
      {
        mark: { type: 'line', strokeWidth: 2, point: { filled: true, size: 30 } },
        encoding: {
          x,
          y: { field: 'mean', type: 'quantitative', scale: yScale, title: yTitle },
          color: colour,
          detail: { field: 'series' },
          ...dash,
          tooltip: [
            { field: 'series' },
            { field: 'x', title: xTitle },
            { field: 'mean', title: yTitle, format: '.4g' },
            { field: 'n', title: 'seeds' },
          ],
        },
      },
      ...(opts.extra ?? []),
    ],
  };
}

const isFraction = (metric: string) => resolveMetric(metric)?.def.unit === 'fraction';

function chanceRule(chance: number | undefined) {
  if (chance === undefined) return [];
  return [
    {
      data: { values: [{ chance }] },
      mark: { type: 'rule', color: '#888', strokeDash: [2, 3] },
      encoding: { y: { field: 'chance', type: 'quantitative' } },
    },
    {
      data: { values: [{ chance, t: 'chance' }] },
      mark: { type: 'text', align: 'left', dx: 4, dy: -6, color: '#666', x: 0 },
      encoding: { y: { field: 'chance', type: 'quantitative' }, text: { field: 't' } },
    },
  ];
}

/**
 * Training loss (and the eval losses) over steps: colour = family, dash = split, and one panel per
 * value of the other grouping keys (task.selective, lr, ...) so that two groups of one family are
 * never two unlabelled lines of the same colour.
 */
export function lossCurvesFigure(ctx: FigureContext, colours = familyColours(ctx.groups)): Figure | undefined {
  const points: (Point & { split: string; panel: string })[] = [];
  for (const g of ctx.groups) {
    const [family, panel, label] = [familyOf(g), variantOf(g, [], ctx.groups), labelOf(g, [])];
    for (const run of g.runs) {
      for (const p of lossCurve(run))
        points.push({ family, series: `${label} · ${p.series}`, x: p.step, y: p.value, split: p.series, panel });
    }
  }
  if (points.length === 0) return undefined;
  const splitOf = new Map(points.map((p) => [p.series, p.split]));
  const panelOf = new Map(points.map((p) => [p.series, p.panel]));
  const values = aggregate(points, ctx.band).map((a) => ({ ...a, split: splitOf.get(a.series)!, panel: panelOf.get(a.series)! }));
  const head = base(
    'Loss over training',
    bandText(
      ctx.band,
      values.map((v) => v.n),
    ),
  );
  const layers = lineLayers(values as Agg[], colours, 'optimizer step', 'loss (nats/token)', {
    dashField: 'split',
    dashTitle: 'split',
    dashScale: {
      domain: ['train', 'valid', 'test'],
      range: [
        [1, 0],
        [7, 3],
        [2, 2],
      ],
    },
    linearX: true,
  });
  if (new Set(values.map((v) => v.panel)).size > 1) {
    const { data, ...inner } = layers;
    return {
      name: 'loss_curves',
      title: 'Loss over training',
      spec: {
        ...head,
        data,
        // panels wrap after 4 (an ablation of 10 variants would otherwise be one strip 11 panels wide)
        facet: { field: 'panel', type: 'ordinal', title: null, header: { labelLimit: 0 } },
        columns: 4,
        spec: { ...inner, width: 260, height: 220 },
        resolve: { scale: { y: 'shared' } },
      } as unknown as vl.TopLevelSpec,
    };
  }
  return { name: 'loss_curves', title: 'Loss over training', spec: { ...head, ...layers } as unknown as vl.TopLevelSpec };
}

/** A summary metric against a numeric key (axis or metric), mean and band over seeds; optional facet. */
export function metricVsKeyFigure(
  ctx: FigureContext,
  o: { name: string; metric: string; xKey: string; facet?: string; chance?: number; title?: string },
  colours = familyColours(ctx.groups),
): Figure | undefined {
  const points: (Point & { facet?: unknown })[] = [];
  // Keys that move with the facet (num_kv_pairs zipped with seq_len) say nothing new inside a panel.
  const redundant = o.facet
    ? Object.keys(ctx.groups[0]?.key ?? {}).filter((k) => {
        const seen = new Map<string, Set<string>>();
        for (const g of ctx.groups) {
          const f = str(g.runs[0] ? keyValue(g.runs[0], o.facet!) : undefined);
          if (!seen.has(f)) seen.set(f, new Set());
          seen.get(f)!.add(str(g.key[k]));
        }
        return [...seen.values()].every((v) => v.size === 1);
      })
    : [];
  const without = [o.xKey, ...(o.facet ? [o.facet] : []), ...redundant];
  for (const g of ctx.groups) {
    const [family, variant, label] = [familyOf(g), variantOf(g, without, ctx.groups), labelOf(g, without)];
    for (const r of g.runs) {
      const x = r.summary[o.xKey] ?? keyValue(r, o.xKey);
      const y = r.summary[o.metric];
      const facet = o.facet ? keyValue(r, o.facet) : undefined;
      if (typeof x === 'number' && typeof y === 'number' && Number.isFinite(y)) {
        points.push({ family, variant, series: `${label}${o.facet ? ` | ${str(facet)}` : ''}`, x, y, facet });
      }
    }
  }
  if (new Set(points.map((v) => v.x)).size < 2) return undefined;
  const facetOf = new Map(points.map((p) => [p.series, p.facet]));
  const values = aggregate(points, ctx.band).map((a) => ({ ...a, facet: facetOf.get(a.series) }));
  const title = o.title ?? capitalise(`${axisTitle(o.metric).replace(/ \(.*\)$/, '')} vs ${keyTitle(o.xKey).replace(/ \(.*\)$/, '')}`);
  const layers = lineLayers(values as Agg[], colours, keyTitle(o.xKey), axisTitle(o.metric), {
    extra: chanceRule(o.chance),
    fraction: isFraction(o.metric),
  });
  const head = base(
    title,
    bandText(
      ctx.band,
      values.map((v) => v.n),
    ) + (o.chance !== undefined ? `; dotted: chance ${Number(o.chance.toPrecision(3))}` : ''),
  );
  if (o.facet && new Set(values.map((v) => str(v.facet))).size > 1) {
    const { data, ...inner } = layers;
    return {
      name: o.name,
      title,
      spec: {
        ...head,
        data,
        facet: { column: { field: 'facet', type: 'ordinal', title: keyTitle(o.facet), header: { labelLimit: 0 } } },
        spec: { ...inner, width: 260, height: 220 },
        resolve: { scale: { y: 'shared' } },
      } as unknown as vl.TopLevelSpec,
    };
  }
  return { name: o.name, title, spec: { ...head, ...layers } as unknown as vl.TopLevelSpec };
}

/** `name@S` metrics against the number in S (prefill / decode vs L, accuracy vs test length N). */
export function suffixSeriesFigure(
  ctx: FigureContext,
  o: { name: string; prefix: string; xTitle: string; title: string; chance?: number },
  colours = familyColours(ctx.groups),
): Figure | undefined {
  const points: Point[] = [];
  let metricKey: string | undefined;
  for (const g of ctx.groups) {
    const [family, variant, series] = [familyOf(g), variantOf(g, [], ctx.groups), labelOf(g, [])];
    for (const r of g.runs) {
      for (const [k, v] of Object.entries(r.summary)) {
        if (!k.startsWith(o.prefix) || typeof v !== 'number' || !Number.isFinite(v)) continue;
        const x = Number(/(\d+)$/.exec(k)?.[1]);
        if (!Number.isFinite(x)) continue;
        metricKey ??= k;
        points.push({ family, variant, series, x, y: v });
      }
    }
  }
  if (!metricKey || new Set(points.map((p) => p.x)).size < 2) return undefined;
  const values = aggregate(points, ctx.band);
  const yTitle = axisTitle(metricKey).replace(/ @ [^(]*/, ' ');
  return {
    name: o.name,
    title: o.title,
    spec: {
      ...base(
        o.title,
        bandText(
          ctx.band,
          values.map((v) => v.n),
        ) + (o.chance !== undefined ? `; dotted: chance ${Number(o.chance.toPrecision(3))}` : ''),
      ),
      ...lineLayers(values, colours, o.xTitle, yTitle.replace(/\s+\(/, ' ('), {
        extra: chanceRule(o.chance),
        fraction: isFraction(metricKey),
      }),
    } as unknown as vl.TopLevelSpec,
  };
}

/** Every figure the data support (the paper suite's types); the report decides where they go. */
export function reportFigures(ctx: FigureContext): Figure[] {
  const colours = familyColours(ctx.groups);
  const has = (k: string) => ctx.groups.some((g) => g.runs.some((r) => typeof r.summary[k] === 'number'));
  const figs: (Figure | undefined)[] = [
    lossCurvesFigure(ctx, colours),
    has('accuracy')
      ? metricVsKeyFigure(
          ctx,
          {
            name: 'accuracy_vs_width',
            metric: 'accuracy',
            xKey: 'model.d_model',
            facet: 'task.seq_len',
            chance: ctx.chance,
            title: 'Recall accuracy vs model width',
          },
          colours,
        )
      : undefined,
    suffixSeriesFigure(
      ctx,
      {
        name: 'accuracy_vs_test_length',
        prefix: 'test_accuracy@N=',
        xTitle: 'test length N (tokens)',
        title: 'Accuracy vs test length (extrapolation)',
        chance: ctx.chance,
      },
      colours,
    ),
    suffixSeriesFigure(
      ctx,
      {
        name: 'prefill_throughput_vs_length',
        prefix: 'prefill_tokens_per_s@',
        xTitle: 'prompt length L (tokens)',
        title: 'Prefill throughput vs prompt length',
      },
      colours,
    ),
    suffixSeriesFigure(
      ctx,
      {
        name: 'decode_latency_vs_length',
        prefix: 'decode_ms_per_token@',
        xTitle: 'prompt length L (tokens)',
        title: 'Decode latency vs prompt length',
      },
      colours,
    ),
    metricVsKeyFigure(ctx, { name: 'train_throughput_vs_seq_len', metric: 'train_tokens_per_s', xKey: 'task.seq_len' }, colours),
    metricVsKeyFigure(ctx, { name: 'memory_vs_seq_len', metric: 'peak_tensor_bytes', xKey: 'task.seq_len' }, colours),
    has('valid_bpb') ? metricVsKeyFigure(ctx, { name: 'bpb_vs_params', metric: 'valid_bpb', xKey: 'params' }, colours) : undefined,
    has('valid_bpb') ? metricVsKeyFigure(ctx, { name: 'bpb_vs_flops', metric: 'valid_bpb', xKey: 'train_flops' }, colours) : undefined,
  ];
  return figs.filter((f): f is Figure => f !== undefined);
}

/** The compiled vega spec (what the HTML report embeds and the SVG renderer draws). */
export function compileFigure(f: Figure): vega.Spec {
  return vl.compile(f.spec).spec;
}

export async function figureSvg(f: Figure): Promise<string> {
  const view = new vega.View(vega.parse(compileFigure(f)), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** PNG at 2x from the SVG (resvg; system fonts). */
export function svgToPng(svg: string, scale = 2): Buffer {
  const r = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
  });
  return r.render().asPng();
}
