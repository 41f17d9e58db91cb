/**
 * A run's summary.json (docs/runner.md section 5), built from the metric registry (./names.ts):
 * its keys are typed by the registry's names, the evaluation metrics written per split are the
 * ones the task kind says it reports (src/tasks/kinds), and `summaryKeys` says which keys a run
 * writes. Reports, compare, check and docs/results read these keys; keep them stable.
 */
import {
  REGISTRY,
  isEvalMetric,
  type EvalMetric,
  type LengthMetric,
  type MetricName,
  type OptionalSplitMetric,
  type RunMetric,
} from './names.ts';

export type SummarySplit = 'valid' | 'test';

/** A concrete metric key: `params`, `valid_loss`, `accuracy`, `test_accuracy@N=64`, `decode_ms_per_token@256`. */
export type SummaryKey =
  | RunMetric
  | OptionalSplitMetric
  | `${SummarySplit}_${EvalMetric}`
  | `test_${OptionalSplitMetric}@${string}`
  | `${LengthMetric}@${number}`;

/** The fields of summary.json that are not metrics. */
export type SummaryInfo = {
  state: 'done' | 'diverged';
  flops_formula: string;
  backend: string;
  /** How the splits were evaluated (finished runs). */
  eval_protocol?: string;
  /** The prefill length state_bytes_per_sequence was measured at. */
  state_bytes_at?: number;
};

export type Summary = SummaryInfo & { [K in SummaryKey]?: number };

const ofKind = (per: MetricName['per']) => REGISTRY.filter((m) => m.per === per);

/** Builds a summary in the order runTraining measures it; values the measurement did not give (undefined) are left out. */
export class SummaryBuilder {
  private readonly s: Summary;

  /** `reports`: the evaluation metrics of the run's task kind, in its order. */
  constructor(
    info: SummaryInfo,
    private readonly reports: readonly EvalMetric[],
  ) {
    this.s = { ...info };
  }

  /** A metric with one value per run. */
  set(name: RunMetric, value: number): void {
    this.s[name] = value;
  }

  /** Several per-run metrics at once (e.g. the train.stop_at metrics). */
  setAll(values: Partial<Record<RunMetric, number>>): void {
    for (const [name, v] of Object.entries(values) as [RunMetric, number | undefined][]) if (v !== undefined) this.s[name] = v;
  }

  info<K extends keyof SummaryInfo>(key: K, value: SummaryInfo[K]): void {
    (this.s as SummaryInfo)[key] = value;
  }

  get(key: SummaryKey): number | undefined {
    return this.s[key];
  }

  /** One evaluated split: `<split>_<metric>` for every metric the task reports; optional-split metrics also plain (the last split evaluated). */
  split(split: SummarySplit, values: Partial<Record<EvalMetric, number>>): void {
    for (const m of this.reports) if (values[m] !== undefined) this.s[`${split}_${m}`] = values[m];
    for (const m of this.optionalSplit()) if (values[m] !== undefined) this.s[m] = values[m];
  }

  /** An extra evaluation set of the task (induction: `N=64`), test split: `test_<metric>@<name>`. */
  extra(name: string, values: Partial<Record<OptionalSplitMetric, number>>): void {
    for (const m of this.optionalSplit()) if (values[m] !== undefined) this.s[`test_${m}@${name}`] = values[m];
  }

  /** The decode benchmark at prefill length L: `<metric>@L` for every per-length metric. */
  bench(L: number, values: Record<LengthMetric, number>): void {
    for (const m of ofKind('length')) this.s[`${m.name as LengthMetric}@${L}`] = values[m.name as LengthMetric];
  }

  build(): Summary {
    return { ...this.s };
  }

  private optionalSplit(): OptionalSplitMetric[] {
    return this.reports.filter((m): m is OptionalSplitMetric => ofKind('optional-split').some((d) => d.name === m));
  }
}

/**
 * The metric keys a run writes (every registry metric, without the info fields): the per-run
 * metrics (those marked `when` only when it holds), and for a finished run the task's evaluation
 * metrics per split, its extra evaluation sets and the benchmarked prefill lengths.
 */
export function summaryKeys(o: {
  reports: readonly EvalMetric[];
  splits: readonly SummarySplit[];
  timed: boolean;
  done: boolean;
  /** train.stop_at set (target_reached is written), and whether the target was reached (steps/examples/tokens to target). */
  stopAt?: boolean;
  targetReached?: boolean;
  extraEvals?: readonly string[];
  prefillLengths?: readonly number[];
}): SummaryKey[] {
  const out: string[] = [];
  for (const m of REGISTRY) {
    const holds = {
      timed: o.timed,
      done: o.done,
      stop_at: o.done && !!o.stopAt,
      target_reached: o.done && !!o.stopAt && !!o.targetReached,
    };
    if (m.per !== undefined || (m.when !== undefined && !holds[m.when])) continue;
    out.push(m.name);
  }
  if (!o.done) return out as SummaryKey[];
  const reported = REGISTRY.filter((m) => isEvalMetric(m) && (o.reports as readonly string[]).includes(m.name));
  for (const split of o.splits) for (const m of reported) out.push(`${split}_${m.name}`);
  for (const m of reported.filter((d) => d.per === 'optional-split')) {
    if (o.splits.length) out.push(m.name);
    for (const e of o.extraEvals ?? []) out.push(`test_${m.name}@${e}`);
  }
  for (const L of o.prefillLengths ?? []) for (const m of ofKind('length')) out.push(`${m.name}@${L}`);
  return out as SummaryKey[];
}
