/**
 * Float64 oracle of the retention recurrence (docs/models.md 5.1, 5.6), plain loops:
 * S_t = diag(exp(a_t)) S_{t-1} + outer(k_t, v_t), o_t = q_t @ S_t.
 * Layouts are row-major: q, k [B, H, T, dk]; v [B, H, T, dv]; a [B, H, T] (scalar decay) or
 * [B, H, T, dk] (per-key decay); state [B, H, dk, dv].
 */
export interface RetDims {
  B: number;
  H: number;
  T: number;
  dk: number;
  dv: number;
}

export function retentionOracle(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  a: ArrayLike<number>,
  dims: RetDims,
  perKey = false,
  state0?: ArrayLike<number>,
): { o: Float64Array; state: Float64Array } {
  const { B, H, T, dk, dv } = dims;
  const o = new Float64Array(B * H * T * dv);
  const state = new Float64Array(B * H * dk * dv);
  if (state0) for (let i = 0; i < state.length; i++) state[i] = state0[i];
  for (let bh = 0; bh < B * H; bh++) {
    const S = state.subarray(bh * dk * dv, (bh + 1) * dk * dv);
    for (let t = 0; t < T; t++) {
      const row = bh * T + t;
      for (let i = 0; i < dk; i++) {
        const dec = Math.exp(perKey ? a[row * dk + i] : a[row]);
        const ki = k[row * dk + i];
        for (let j = 0; j < dv; j++) S[i * dv + j] = dec * S[i * dv + j] + ki * v[row * dv + j];
      }
      for (let j = 0; j < dv; j++) {
        let acc = 0;
        for (let i = 0; i < dk; i++) acc += q[row * dk + i] * S[i * dv + j];
        o[row * dv + j] = acc;
      }
    }
  }
  return { o, state };
}
