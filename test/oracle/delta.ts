/**
 * Float64 oracle of the delta rule, plain loops: S_t = S_{t-1} + beta_t k_t (v_t - S_{t-1}^T k_t)^T,
 * o_t = q_t @ S_t. Row-major: q, k [B, H, T, dk]; v [B, H, T, dv]; beta [B, H, T]; state [B, H, dk, dv].
 */
import type { RetDims } from './retention.ts';

export function deltaOracle(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  beta: ArrayLike<number>,
  dims: RetDims,
  state0?: ArrayLike<number>,
): { o: Float64Array; state: Float64Array } {
  const { B, H, T, dk, dv } = dims;
  const o = new Float64Array(B * H * T * dv);
  const state = new Float64Array(B * H * dk * dv);
  if (state0) for (let i = 0; i < state.length; i++) state[i] = state0[i];
  const old = new Float64Array(dv);
  for (let bh = 0; bh < B * H; bh++) {
    const S = state.subarray(bh * dk * dv, (bh + 1) * dk * dv);
    for (let t = 0; t < T; t++) {
      const row = bh * T + t;
      for (let j = 0; j < dv; j++) {
        let acc = 0;
        for (let i = 0; i < dk; i++) acc += k[row * dk + i] * S[i * dv + j];
        old[j] = acc;
      }
      for (let i = 0; i < dk; i++) for (let j = 0; j < dv; j++) S[i * dv + j] += beta[row] * k[row * dk + i] * (v[row * dv + j] - old[j]);
      for (let j = 0; j < dv; j++) {
        let acc = 0;
        for (let i = 0; i < dk; i++) acc += q[row * dk + i] * S[i * dv + j];
        o[row * dv + j] = acc;
      }
    }
  }
  return { o, state };
}
