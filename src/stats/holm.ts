// Holm's step-down correction for multiple comparisons (Holm 1979, "A simple sequentially
// rejective multiple test procedure"): the i-th smallest of m p-values is multiplied by m - i + 1,
// made monotone, capped at 1. It controls the family-wise error rate like Bonferroni and is never
// less powerful. Written here (a dozen lines) rather than pulled in as a dependency; test/stats-
// welch.test.ts checks it against values worked by hand.

/** Holm-adjusted p-values, in the input order; NaN entries are not part of the family and stay NaN. */
export function holm(p: readonly number[]): number[] {
  const order = p
    .map((v, i) => [v, i] as const)
    .filter(([v]) => Number.isFinite(v))
    .sort((a, b) => a[0] - b[0]);
  const m = order.length;
  const out = p.map(() => NaN);
  let running = 0;
  order.forEach(([v, i], k) => {
    running = Math.max(running, Math.min(1, (m - k) * v));
    out[i] = running;
  });
  return out;
}
