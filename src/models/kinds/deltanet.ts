/**
 * DeltaNet (Schlag et al. 2021; chunkwise training of Yang et al. 2024, as flash-linear-attention's
 * layers/delta_net.py without the short conv and output gate): q, k L2-normalized per head,
 * beta = sigmoid(u W_beta) per head, the delta rule S_t = (I - beta k k^T) S_{t-1} + beta k v^T,
 * per-head RMS norm (no affine), output projection. Schema, resolution, counts.
 */
import { z } from 'zod';
import { chunk, dqk, dvt, form, headNormEps, heads } from './fields.ts';
import { resolveRetentionWidths } from './retnet.ts';
import { defineMixer } from './types.ts';

export const deltanet = defineMixer({
  kind: 'deltanet',
  schema: z
    .strictObject({
      kind: z.literal('deltanet'),
      heads: heads().default(4),
      dqk: dqk().default('auto'),
      dvt: dvt('d_model').default('auto'),
      head_norm_eps: headNormEps().default(1e-6),
      form: form().default('chunk'), // trained chunkwise (FLA); 'parallel' is one chunk of T
      chunk: chunk().default(16), // fastest of 8..64 here (wasm, T 256: the UT transform costs C^2 log C per token)
    })
    .describe('DeltaNet: linear attention with the delta-rule state update'),
  defaultFfn: 'swiglu',
  ssmInit: false,
  resolve: (m, c) => resolveRetentionWidths(m, c, false, (d) => d, 'd_model'),
}).counts({
  // Wq, Wk: d x dqk; Wv: d x dvt; W_beta: d x H; Wo: dvt x d
  params: (m, d) => 2 * d * m.dqk + 2 * d * m.dvt + d * m.heads,
  flops: (m, d, T) => {
    const { dqk, dvt, heads: H } = m;
    const proj = 4 * d * dqk + 4 * d * dvt + 2 * d * H;
    if (m.form === 'recurrent') return proj + (6 * dqk * dvt) / H; // k^T S, the rank-1 update, q S
    const C = m.form === 'parallel' ? T : Math.min(m.chunk, T);
    // per chunk: A = beta K K^T, W = T K, Q K^T (2 C dqk each); U = T V, tril(QK^T) U' (2 C dvt each);
    // W S, Q S, K^T U' (2 dqk dvt / H each); (I + A)^-1 by 2 (ceil(log2 C) - 1) C x C x C matmuls
    const inverse = 4 * H * C * C * Math.max(0, Math.ceil(Math.log2(Math.max(C, 1))) - 1);
    return proj + 6 * C * dqk + 4 * C * dvt + (6 * dqk * dvt) / H + inverse;
  },
  stateFloats: (m) => (m.dqk * m.dvt) / m.heads,
  describe: (m) => `deltanet(H${m.heads} dqk${m.dqk} dvt${m.dvt} ${m.form}${m.form === 'chunk' ? ` C${m.chunk}` : ''})`,
});
export type DeltanetSpec = ReturnType<typeof deltanet.resolve>;
