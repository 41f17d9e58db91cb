import { randn, rng, uniform } from './util.ts';
/**
 * Float64 oracles of the Mamba-1 selective scan (docs/models.md 4.1 steps 7-8) and the Mamba-2 SSD
 * recurrence (4.5), plain loops. Row-major layouts as in src/ops/scan.ts and src/ops/ssd.ts.
 */
export function scanOracle(
  x: ArrayLike<number>, // [B, T, D]
  dt: ArrayLike<number>, // [B, T, D]
  A: ArrayLike<number>, // [D, N]
  Bm: ArrayLike<number>, // [B, T, N]
  Cm: ArrayLike<number>, // [B, T, N]
  dims: { B: number; T: number; D: number; N: number },
  h0?: ArrayLike<number>, // [B, D, N]
): { y: Float64Array; h: Float64Array } {
  const { B, T, D, N } = dims;
  const y = new Float64Array(B * T * D);
  const h = new Float64Array(B * D * N);
  if (h0) for (let i = 0; i < h.length; i++) h[i] = h0[i];
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let d = 0; d < D; d++) {
        const r = (b * T + t) * D + d;
        let acc = 0;
        for (let n = 0; n < N; n++) {
          const hi = (b * D + d) * N + n;
          h[hi] = Math.exp(dt[r] * A[d * N + n]) * h[hi] + dt[r] * x[r] * Bm[(b * T + t) * N + n];
          acc += Cm[(b * T + t) * N + n] * h[hi];
        }
        y[r] = acc;
      }
  return { y, h };
}

export function ssdOracle(
  x: ArrayLike<number>, // [B, T, Hm, P]
  dt: ArrayLike<number>, // [B, T, Hm]
  A: ArrayLike<number>, // [Hm]
  Bm: ArrayLike<number>, // [B, T, G, N]
  Cm: ArrayLike<number>, // [B, T, G, N]
  dims: { B: number; T: number; Hm: number; P: number; G: number; N: number },
  state0?: ArrayLike<number>, // [B, Hm, N, P]
): { y: Float64Array; state: Float64Array } {
  const { B, T, Hm, P, G, N } = dims;
  const y = new Float64Array(B * T * Hm * P);
  const S = new Float64Array(B * Hm * N * P);
  if (state0) for (let i = 0; i < S.length; i++) S[i] = state0[i];
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let h = 0; h < Hm; h++) {
        const g = Math.floor(h / (Hm / G));
        const d = dt[(b * T + t) * Hm + h];
        const dec = Math.exp(d * A[h]);
        const bc = ((b * T + t) * G + g) * N;
        const xo = ((b * T + t) * Hm + h) * P;
        const so = (b * Hm + h) * N * P;
        for (let n = 0; n < N; n++) for (let p = 0; p < P; p++) S[so + n * P + p] = dec * S[so + n * P + p] + d * Bm[bc + n] * x[xo + p];
        for (let p = 0; p < P; p++) {
          let acc = 0;
          for (let n = 0; n < N; n++) acc += Cm[bc + n] * S[so + n * P + p];
          y[xo + p] = acc;
        }
      }
  return { y, state: S };
}

function drawScan(r: () => number, B: number, T: number, D: number, N: number, dtMax: number, aMax: number) {
  return {
    x: randn(B * T * D, r),
    dt: uniform(B * T * D, r, 0.001, dtMax),
    A: uniform(D * N, r, -aMax, -0.1),
    Bm: randn(B * T * N, r),
    Cm: randn(B * T * N, r),
    h0: randn(B * D * N, r),
  };
}

/** Random inputs of the selective scan: x, dt in (0.001, dtMax), A in (-aMax, -0.1), Bm, Cm, h0. */
export function scanInputs(seed: number, B: number, T: number, D: number, N: number, dtMax = 1, aMax = 4) {
  return drawScan(rng(seed), B, T, D, N, dtMax, aMax);
}

/** The same scan inputs of a seed plus the fused Mamba op's D skip and z gate (drawn after them). */
export function gatedScanInputs(seed: number, B: number, T: number, D: number, N: number, dtMax = 1, aMax = 4) {
  const r = rng(seed);
  const base = drawScan(r, B, T, D, N, dtMax, aMax);
  return { ...base, Dsk: randn(D, r), z: randn(B * T * D, r) };
}
