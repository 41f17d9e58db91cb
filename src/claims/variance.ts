/**
 * The variance floor of a claim's test (docs/runner.md 6.1): three seeds that all score
 * exactly 1.0 have zero sample variance, and a t-test would then give p = 0 however few examples
 * the accuracy was measured on. The variance of one run's value is therefore never taken below
 *  - for a fraction measured on n held-out examples (accuracy, exact match): the binomial
 *    sampling variance p~(1 - p~)/n, with p~ = (k + 1/2)/(N + 1) pooled over the side's runs
 *    (k successes of N examples; the 1/2 keeps it above 0 at 0% and 100%). Accuracy is over scored
 *    positions, of which there are at least n, so this is conservative;
 *  - for target_reached (one 0/1 trial per run): the same with n = 1;
 *  - for every registry metric: the variance of rounding to the precision it is reported at
 *    (q^2 / 12 for a step q), so no difference finer than the metric's resolution is significant.
 * A metric fixed by the config (params, FLOPs: variesOverSeeds false) is compared exactly, untested.
 */
import { resolveMetric } from '../metrics/names.ts';
import type { ReportRun } from '../report/collect.ts';

/** Held-out examples behind a fraction metric of a run, or undefined when it is not a held-out fraction. */
function trials(metric: string, run: ReportRun): number | undefined {
  const r = resolveMetric(metric);
  if (r?.def.unit !== 'fraction') return undefined;
  if (r.def.name === 'target_reached') return 1;
  // `accuracy` without a split is the last split evaluated (test by default); extra sets (@N=..) have the test split's size.
  const split = r.split ?? (typeof run.summary.test_eval_windows === 'number' ? 'test' : 'valid');
  const n = run.summary[`${split}_eval_windows`];
  return typeof n === 'number' && n > 0 ? n : undefined;
}

/** Variance of rounding to the metric's reported precision, or 0 for a metric the registry does not know. */
function resolutionVariance(metric: string, mean: number): number {
  const r = resolveMetric(metric);
  if (!r || !Number.isFinite(mean)) return 0;
  const { style, precision } = r.def;
  let q: number;
  if (style === 'decimal') q = 10 ** -precision;
  else if (style === 'percent') q = 10 ** -(precision + 2);
  else q = mean === 0 ? 0 : 10 ** (Math.floor(Math.log10(Math.abs(mean))) + 1 - precision); // significant digits
  return (q * q) / 12;
}

export interface Floor {
  variance: number;
  /** which rule set it: 'binomial' or 'resolution' (none: 0) */
  kind: 'binomial' | 'resolution' | 'none';
}

/** The least variance of one run's value of `metric` on a side made of `runs` (their values `values`). */
export function varianceFloor(metric: string, runs: readonly ReportRun[], values: readonly number[]): Floor {
  const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
  const res = resolutionVariance(metric, mean);
  let k = 0;
  let N = 0;
  const ns: number[] = [];
  for (const run of runs) {
    const v = run.summary[metric];
    const n = trials(metric, run);
    if (typeof v !== 'number' || !Number.isFinite(v) || n === undefined) continue;
    k += v * n;
    N += n;
    ns.push(n);
  }
  if (ns.length === 0) return { variance: res, kind: res > 0 ? 'resolution' : 'none' };
  const p = (k + 0.5) / (N + 1);
  const nMean = N / ns.length;
  const bin = (p * (1 - p)) / nMean;
  return bin >= res ? { variance: bin, kind: 'binomial' } : { variance: res, kind: 'resolution' };
}

/** Whether the metric is fixed by the config (compared exactly, not tested). */
export function fixedByConfig(metric: string): boolean {
  return resolveMetric(metric)?.def.variesOverSeeds === false;
}
