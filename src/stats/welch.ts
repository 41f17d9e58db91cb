// Seed statistics shared by `report`, `compare` and `check`: sample mean and std (ddof 1) and
// Welch's unequal-variance t-test (Welch 1947), one-sided, with the Welch-Satterthwaite degrees
// of freedom. The Student t CDF comes from @stdlib (a maintained implementation of the
// regularized incomplete beta function) rather than a hand-written series.
import tcdf from '@stdlib/stats-base-dists-t-cdf';
import tquantile from '@stdlib/stats-base-dists-t-quantile';

export interface Stats {
  n: number;
  mean: number;
  std: number;
}

/** n, mean and sample standard deviation (ddof 1; NaN for n < 2) of the finite values. */
export function meanStd(values: number[]): Stats {
  const xs = values.filter((v) => Number.isFinite(v));
  const n = xs.length;
  if (n === 0) return { n, mean: NaN, std: NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const std = n < 2 ? NaN : Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { n, mean, std };
}

export type Alternative = 'greater' | 'less';

export interface WelchResult {
  a: Stats;
  b: Stats;
  /** t statistic of the tested difference (positive = evidence for the alternative) */
  t: number;
  df: number;
  /** one-sided p-value; NaN when either side has n < 2 (the test is undefined) */
  p: number;
  /** mean(a) - mean(b): the raw effect, in the metric's unit */
  diff: number;
  /** two-sided 95% confidence interval of diff (Welch's standard error and df) */
  ci: [number, number];
}

export interface VarianceFloors {
  /** least variance of one value of a (and of b): a sample variance below it is replaced by it */
  a?: number;
  b?: number;
}

/**
 * One-sided Welch t-test of H1: mean(a) > mean(b) + margin ('greater') or
 * mean(a) < mean(b) - margin ('less'). `b` may be a single constant bound (pass [bound] with
 * `bIsConstant`), in which case it is a one-sample t-test of mean(a) against that bound.
 * Zero variance on both sides gives t = +-Infinity (p 0 or 1) when the means differ.
 */
export function welchOneSided(
  a: number[],
  b: number[],
  alternative: Alternative,
  margin = 0,
  bIsConstant = false,
  floors: VarianceFloors = {},
): WelchResult {
  const sa = meanStd(a);
  const sb = bIsConstant ? { n: Infinity, mean: b[0]!, std: 0 } : meanStd(b);
  const raw = sa.mean - sb.mean;
  const diff = alternative === 'greater' ? raw - margin : -raw - margin;
  if (sa.n < 2 || (!bIsConstant && sb.n < 2)) return { a: sa, b: sb, t: NaN, df: NaN, p: NaN, diff: raw, ci: [NaN, NaN] };
  const va = Math.max(sa.std * sa.std, floors.a ?? 0) / sa.n;
  const vb = bIsConstant ? 0 : Math.max(sb.std * sb.std, floors.b ?? 0) / sb.n;
  const se = Math.sqrt(va + vb);
  const df = bIsConstant ? sa.n - 1 : (va + vb) ** 2 / ((va * va) / (sa.n - 1) + (vb * vb) / (sb.n - 1));
  if (se === 0) {
    const t = diff > 0 ? Infinity : diff < 0 ? -Infinity : 0;
    return {
      a: sa,
      b: sb,
      t,
      df: Number.isFinite(df) ? df : sa.n + (bIsConstant ? 0 : sb.n) - 2,
      p: diff > 0 ? 0 : diff < 0 ? 1 : 0.5,
      diff: raw,
      ci: [raw, raw],
    };
  }
  const t = diff / se;
  const half = tquantile(0.975, df) * se;
  return { a: sa, b: sb, t, df, p: 1 - tcdf(t, df), diff: raw, ci: [raw - half, raw + half] };
}
