/**
 * The metric registry: every summary.json metric with its unit, label, direction, display
 * precision and whether it varies over seeds (docs/runner.md section 5). Which evaluation metrics a
 * task reports is said by its task kind (src/tasks/kinds), and nowhere here.
 * summary.json checks, the end-of-run table, report tables, figure axes, LaTeX headers and
 * `compare`'s directions all read it; an unknown metric anywhere is a UserError with did-you-mean.
 *
 * A concrete key is `[split_]name[@suffix]`: `valid_bpb`, `decode_ms_per_token@256` (prefill
 * length L), `test_accuracy@N=64` (an extra evaluation set of the induction task).
 */
import { UserError } from '../errors.ts';
import { closest } from '../util/suggest.ts';

export type Unit =
  | 'count'
  | 'FLOP'
  | 'tokens/s'
  | 'ratio'
  | 'ms'
  | 'bytes'
  | 'nats/token'
  | 'bits/byte'
  | ''
  | 'fraction'
  | 's'
  | 'tokens'
  | 'steps';

/** How a value prints: decimals, SI prefixes (41.1k), bytes (1.2MB), or a percentage of a ratio. */
export type Style = 'decimal' | 'si' | 'bytes' | 'percent';

export interface MetricName {
  name: string;
  unit: Unit;
  /** Human label for axes and headers (no unit; the unit is added where there is room). */
  label: string;
  /** Short header for narrow tables (LaTeX, terminal). */
  short: string;
  /** lower or higher is better, or neither (a property, not a score). */
  direction: 'lower' | 'higher' | 'none';
  style: Style;
  /** decimals for 'decimal' and 'percent', significant digits for 'si' and 'bytes' */
  precision: number;
  /** false for quantities fixed by the config (params, FLOPs): no "± 0" for them. */
  variesOverSeeds: boolean;
  /** Per split (valid_/test_ prefix; 'optional-split': with or without one) or per prefill length (@L). */
  per?: 'split' | 'optional-split' | 'length';
  /**
   * Written only when: 'timed' = the run had timed steps (train.steps > train.timing_warmup); 'done' = the run
   * finished (not diverged); 'stop_at' = a finished run with train.stop_at; 'target_reached' = such a run that
   * reached its target. Unset: every run.
   */
  when?: 'timed' | 'done' | 'stop_at' | 'target_reached';
  /** Part of the summary.json contract of docs/runner.md section 5 (metricKeys lists these). */
  contract: boolean;
  description: string;
}

type Def = Omit<MetricName, 'contract'>;

const CONTRACT = [
  {
    name: 'params',
    unit: 'count',
    label: 'parameters',
    short: 'params',
    direction: 'none',
    style: 'si',
    precision: 3,
    variesOverSeeds: false,
    description: 'all trainable parameters (docs/models.md 7)',
  },
  {
    name: 'params_non_embedding',
    unit: 'count',
    label: 'non-embedding parameters',
    short: 'params (non-emb.)',
    direction: 'none',
    style: 'si',
    precision: 3,
    variesOverSeeds: false,
    description: 'parameters minus the token embedding',
  },
  {
    name: 'flops_per_token_fwd',
    unit: 'FLOP',
    label: 'forward FLOPs per token',
    short: 'FLOP/tok',
    direction: 'none',
    style: 'si',
    precision: 3,
    variesOverSeeds: false,
    description: "forward FLOPs per token at the run's seq_len (docs/models.md 8)",
  },
  {
    name: 'train_flops',
    unit: 'FLOP',
    label: 'training FLOPs',
    short: 'train FLOP',
    direction: 'none',
    style: 'si',
    precision: 3,
    variesOverSeeds: false,
    description: '3 x forward x tokens trained',
  },
  {
    name: 'train_tokens_per_s',
    unit: 'tokens/s',
    label: 'training throughput',
    short: 'train tok/s',
    direction: 'higher',
    style: 'si',
    precision: 3,
    variesOverSeeds: true,
    when: 'timed',
    description: 'median over timed steps, warmup steps excluded, data loading included',
  },
  {
    name: 'mfu',
    unit: 'ratio',
    label: 'model FLOP utilisation',
    short: 'MFU',
    direction: 'higher',
    style: 'percent',
    precision: 2,
    variesOverSeeds: true,
    when: 'timed',
    description: "achieved training FLOP/s over the machine's matmul peak (env.json)",
  },
  {
    name: 'prefill_tokens_per_s',
    unit: 'tokens/s',
    label: 'prefill throughput',
    short: 'prefill tok/s',
    direction: 'higher',
    style: 'si',
    precision: 3,
    variesOverSeeds: true,
    per: 'length',
    description: 'batch 1, forward over L tokens, median of repeats',
  },
  {
    name: 'decode_ms_per_token',
    unit: 'ms',
    label: 'decode latency',
    short: 'decode ms/tok',
    direction: 'lower',
    style: 'decimal',
    precision: 2,
    variesOverSeeds: true,
    per: 'length',
    description: 'recurrent / KV-cache step latency after a prefill of L tokens',
  },
  {
    name: 'peak_tensor_bytes',
    unit: 'bytes',
    label: 'peak tensor memory',
    short: 'peak mem',
    direction: 'lower',
    style: 'bytes',
    precision: 3,
    variesOverSeeds: true,
    description: "max of the backend's live tensor bytes during a training step",
  },
  {
    name: 'rss_peak_bytes',
    unit: 'bytes',
    label: 'peak resident memory',
    short: 'RSS',
    direction: 'lower',
    style: 'bytes',
    precision: 3,
    variesOverSeeds: true,
    description: 'process peak resident memory',
  },
  {
    name: 'state_bytes_per_sequence',
    unit: 'bytes',
    label: 'decode state per sequence',
    short: 'state',
    direction: 'lower',
    style: 'bytes',
    precision: 3,
    variesOverSeeds: false,
    when: 'done',
    description: 'decode-time state per sequence (KV cache at the largest bench L for attention)',
  },
  {
    name: 'loss',
    unit: 'nats/token',
    label: 'loss',
    short: 'loss',
    direction: 'lower',
    style: 'decimal',
    precision: 3,
    variesOverSeeds: true,
    per: 'split',
    description: 'mean over all scored tokens of the split (non-overlapping windows)',
  },
  {
    name: 'bpb',
    unit: 'bits/byte',
    label: 'bits per byte',
    short: 'bpb',
    direction: 'lower',
    style: 'decimal',
    precision: 3,
    variesOverSeeds: true,
    per: 'split',
    description: 'docs/tasks.md 5.6',
  },
  {
    name: 'ppl',
    unit: '',
    label: 'perplexity',
    short: 'ppl',
    direction: 'lower',
    style: 'decimal',
    precision: 2,
    variesOverSeeds: true,
    per: 'split',
    description: 'token perplexity exp(loss)',
  },
  {
    name: 'accuracy',
    unit: 'fraction',
    label: 'accuracy',
    short: 'accuracy',
    direction: 'higher',
    style: 'decimal',
    precision: 3,
    variesOverSeeds: true,
    per: 'optional-split',
    description: 'argmax accuracy over the scored positions of the test split',
  },
  {
    name: 'exact_match',
    unit: 'fraction',
    label: 'exact match',
    short: 'exact match',
    direction: 'higher',
    style: 'decimal',
    precision: 3,
    variesOverSeeds: true,
    per: 'optional-split',
    description: 'fraction of test examples whose scored positions are all correct',
  },
  {
    name: 'wall_s',
    unit: 's',
    label: 'wall time',
    short: 'wall',
    direction: 'lower',
    style: 'decimal',
    precision: 1,
    variesOverSeeds: true,
    description: 'whole run',
  },
] as const satisfies readonly Def[];

/** Other numeric summary.json fields a user may table or plot (not part of the section 5 contract). */
const AUXILIARY = [
  {
    name: 'train_loss',
    unit: 'nats/token',
    label: 'final training loss',
    short: 'train loss',
    direction: 'lower',
    style: 'decimal',
    precision: 3,
    variesOverSeeds: true,
    description: 'training loss at the last logged step',
  },
  {
    name: 'train_tokens',
    unit: 'tokens',
    label: 'tokens trained',
    short: 'tokens',
    direction: 'none',
    style: 'si',
    precision: 3,
    variesOverSeeds: false,
    description: 'tokens seen in training',
  },
  {
    name: 'train_time_s',
    unit: 's',
    label: 'training time',
    short: 'train s',
    direction: 'lower',
    style: 'decimal',
    precision: 1,
    variesOverSeeds: true,
    description: 'wall time of the training loop',
  },
  {
    name: 'train_resumes',
    unit: 'count',
    label: 'resumes from a training checkpoint',
    short: 'resumes',
    direction: 'none',
    style: 'decimal',
    precision: 0,
    variesOverSeeds: true,
    description: 'times the run was resumed from a training checkpoint (docs/runner.md section 11)',
  },
  {
    name: 'steps',
    unit: 'steps',
    label: 'optimizer steps',
    short: 'steps',
    direction: 'none',
    style: 'si',
    precision: 3,
    variesOverSeeds: false,
    description: 'optimizer steps taken',
  },
  {
    name: 'seq_len',
    unit: 'tokens',
    label: 'sequence length',
    short: 'T',
    direction: 'none',
    style: 'si',
    precision: 4,
    variesOverSeeds: false,
    description: 'training context length',
  },
  {
    name: 'eval_tokens',
    unit: 'tokens',
    label: 'evaluated tokens',
    short: 'eval tok',
    direction: 'none',
    style: 'si',
    precision: 3,
    variesOverSeeds: false,
    per: 'split',
    description: 'scored tokens of the split',
  },
  {
    name: 'target_reached',
    unit: 'fraction',
    label: 'target reached',
    short: 'reached',
    direction: 'higher',
    style: 'decimal',
    precision: 2,
    variesOverSeeds: true,
    when: 'stop_at',
    description: '1 when the train.stop_at target was reached (at a check or the final evaluation), else 0; runs with train.stop_at only',
  },
  {
    name: 'steps_to_target',
    unit: 'steps',
    label: 'steps to target',
    short: 'steps to tgt',
    direction: 'lower',
    style: 'si',
    precision: 3,
    variesOverSeeds: true,
    when: 'target_reached',
    description: 'optimizer steps until the train.stop_at target was reached; runs with train.stop_at that reached it',
  },
  {
    name: 'examples_to_target',
    unit: 'count',
    label: 'examples to target',
    short: 'examples to tgt',
    direction: 'lower',
    style: 'si',
    precision: 3,
    variesOverSeeds: true,
    when: 'target_reached',
    description: 'training sequences until the train.stop_at target (steps x batch_size x grad_accum)',
  },
  {
    name: 'tokens_to_target',
    unit: 'tokens',
    label: 'tokens to target',
    short: 'tokens to tgt',
    direction: 'lower',
    style: 'si',
    precision: 3,
    variesOverSeeds: true,
    when: 'target_reached',
    description: 'training tokens until the train.stop_at target (examples x seq_len)',
  },
  {
    name: 'eval_windows',
    unit: 'count',
    label: 'evaluated windows',
    short: 'windows',
    direction: 'none',
    style: 'si',
    precision: 3,
    variesOverSeeds: false,
    per: 'split',
    description: 'evaluation windows / examples of the split',
  },
] as const satisfies readonly Def[];

type Defined = (typeof CONTRACT)[number] | (typeof AUXILIARY)[number];
/** Every metric name the registry knows. */
export type MetricId = Defined['name'];
/** Metrics with one value per run (no split, no length). */
export type RunMetric = Exclude<Defined, { per: unknown }>['name'];
/** Metrics with one value per evaluated split (`valid_loss`); 'optional-split' ones also plain (`accuracy`). */
export type SplitMetric = Extract<Defined, { per: 'split' }>['name'];
export type OptionalSplitMetric = Extract<Defined, { per: 'optional-split' }>['name'];
/** Evaluation metrics: the ones a task kind says it reports (src/tasks/kinds). */
export type EvalMetric = SplitMetric | OptionalSplitMetric;
/** Metrics per prefill length (`decode_ms_per_token@256`). */
export type LengthMetric = Extract<Defined, { per: 'length' }>['name'];

/** The docs/runner.md section 5 metrics (the summary.json contract). */
export const METRICS: readonly MetricName[] = CONTRACT.map((d) => ({ ...d, contract: true }));
/** Every metric the registry knows. */
export const REGISTRY: readonly MetricName[] = [...METRICS, ...AUXILIARY.map((d) => ({ ...d, contract: false }))];

const SPLITS = ['valid', 'test', 'train'] as const;

/** Whether a metric is evaluated per split: then the task kind says whether it reports it. */
export const isEvalMetric = (m: MetricName): boolean => m.per === 'split' || m.per === 'optional-split';

/** The concrete contract keys of a run's summary.json; `reports` = the evaluation metrics of its task kind. */
export function metricKeys(opts: {
  reports: readonly EvalMetric[];
  splits: readonly string[];
  prefillLengths: readonly number[];
  bench: boolean;
}): string[] {
  const out: string[] = [];
  for (const m of METRICS) {
    if (isEvalMetric(m) && !(opts.reports as readonly string[]).includes(m.name)) continue;
    if (m.per === 'split') for (const s of opts.splits) out.push(`${s}_${m.name}`);
    else if (m.per === 'length') {
      if (opts.bench) for (const L of opts.prefillLengths) out.push(`${m.name}@${L}`);
    } else out.push(m.name);
  }
  return out;
}

/** A concrete key resolved against the registry. */
export interface ResolvedMetric {
  key: string;
  def: MetricName;
  split?: string;
  /** prefill length L (`@256`) */
  length?: number;
  /** extra evaluation set (`@N=64`) */
  evalSet?: string;
}

/** Resolve a concrete key (`valid_bpb`, `decode_ms_per_token@256`, `test_accuracy@N=64`), or undefined. */
export function resolveMetric(key: string): ResolvedMetric | undefined {
  const at = key.indexOf('@');
  const base = at < 0 ? key : key.slice(0, at);
  const suffix = at < 0 ? undefined : key.slice(at + 1);
  const lengthSuffix = suffix !== undefined && /^\d+$/.test(suffix) ? Number(suffix) : undefined;
  const evalSet = suffix !== undefined && /^[A-Za-z]\w*=\d+$/.test(suffix) ? suffix : undefined;
  if (suffix !== undefined && lengthSuffix === undefined && evalSet === undefined) return undefined;
  const candidates: { def: MetricName; split?: string }[] = [];
  for (const def of REGISTRY) {
    if (def.name === base) candidates.push({ def });
    for (const s of SPLITS) if (base === `${s}_${def.name}`) candidates.push({ def, split: s });
  }
  for (const { def, split } of candidates) {
    const splitOk = def.per === 'split' ? split !== undefined : def.per === 'optional-split' ? true : split === undefined;
    if (!splitOk) continue;
    if (def.per === 'length' ? lengthSuffix === undefined : lengthSuffix !== undefined) continue;
    if (evalSet !== undefined && def.per !== 'optional-split') continue;
    return { key, def, split, length: lengthSuffix, evalSet };
  }
  return undefined;
}

/** Every concrete key form of the registry, for did-you-mean (`@L` shown as @256). */
function spelledKeys(present: readonly string[]): string[] {
  const out = new Set(present);
  for (const d of REGISTRY) {
    if (d.per === 'split') for (const s of ['valid', 'test']) out.add(`${s}_${d.name}`);
    else if (d.per === 'length') out.add(`${d.name}@256`);
    else out.add(d.name);
  }
  return [...out];
}

/**
 * The resolved metric, or a UserError naming `where` (e.g. `--metric`) with did-you-mean over the
 * registry and the keys present in the data (`present`).
 */
export function requireMetric(key: string, where: string, present: readonly string[] = []): ResolvedMetric {
  const r = resolveMetric(key);
  if (r) return r;
  const guess = closest(key, spelledKeys(present));
  const known = present.length
    ? ` (metrics present: ${[...new Set(present)]
        .filter((k) => resolveMetric(k))
        .slice(0, 12)
        .join(', ')})`
    : '';
  throw new UserError(`${where}: unknown metric "${key}"${guess ? ` (did you mean "${guess}"?)` : known}`);
}

/** Unit of a concrete key (`valid_bpb`, `decode_ms_per_token@256`, ...). */
export function unitOf(key: string): string | undefined {
  return resolveMetric(key)?.def.unit;
}

/** +1 when lower is better, -1 when higher is better, 0 when neither (or unknown). */
export function directionOf(key: string): 1 | -1 | 0 {
  const d = resolveMetric(key)?.def.direction;
  return d === 'lower' ? 1 : d === 'higher' ? -1 : 0;
}

/** Whether the metric can differ between seeds of one config (false: print without "± 0"). */
export function variesOverSeeds(key: string): boolean {
  return resolveMetric(key)?.def.variesOverSeeds ?? true;
}

const UNIT_TEXT: Partial<Record<Unit, string>> = { ratio: '%', fraction: '', count: '' };

/** The unit as printed next to a label (mfu prints as %). */
export function displayUnit(key: string): string {
  const r = resolveMetric(key);
  if (!r) return '';
  if (r.def.style === 'percent') return '%';
  return UNIT_TEXT[r.def.unit] ?? r.def.unit;
}

function qualifier(r: ResolvedMetric): string {
  const parts: string[] = [];
  if (r.length !== undefined) parts.push(`L=${r.length}`);
  if (r.evalSet) parts.push(r.evalSet.replace('=', ' = '));
  return parts.length ? ` @ ${parts.join(', ')}` : '';
}

/** The unit beside a short header: none where the values carry it (41.1k tok/s in "train tok/s", 1.2MB, 0.35%). */
export function headerUnit(key: string): string {
  const r = resolveMetric(key);
  if (!r || r.def.style === 'bytes' || r.def.style === 'percent') return '';
  const u = displayUnit(key);
  return r.def.short.includes('/') || r.def.short.includes(u) ? '' : u;
}

/** Axis title: "valid bits per byte (bits/byte)", "decode latency @ L=256 (ms)". */
export function axisTitle(key: string): string {
  const r = resolveMetric(key);
  if (!r) return key;
  const unit = displayUnit(key);
  return `${r.split ? `${r.split} ` : ''}${r.def.label}${qualifier(r)}${unit ? ` (${unit})` : ''}`;
}

/** Short header without unit: "valid bpb", "decode ms/tok @256". */
export function shortLabel(key: string): string {
  const r = resolveMetric(key);
  if (!r) return key;
  const suffix = r.length !== undefined ? ` @${r.length}` : r.evalSet ? ` @${r.evalSet}` : '';
  return `${r.split ? `${r.split} ` : ''}${r.def.short}${suffix}`;
}

const SI: [number, string][] = [
  [1e15, 'P'],
  [1e12, 'T'],
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

function si(v: number, digits: number): string {
  const abs = Math.abs(v);
  for (const [scale, p] of SI) if (abs >= scale) return `${Number((v / scale).toPrecision(digits))}${p}`;
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(digits)));
}

/**
 * A value as the registry says it prints: fixed decimals (3.025), SI (41.1k), bytes (1.2MB),
 * percent (0.35%). `extraDigits` adds decimals (a std printed next to its mean uses the mean's).
 * Unknown keys print with 4 significant digits.
 */
export function formatValue(key: string, v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? '-' : String(v);
  const r = resolveMetric(key);
  if (!r) return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(4)));
  const { style, precision } = r.def;
  if (style === 'si') return si(v, precision);
  if (style === 'bytes') return `${si(v, precision)}B`;
  if (style === 'percent') return `${(100 * v).toFixed(precision)}%`;
  return v.toFixed(precision);
}
