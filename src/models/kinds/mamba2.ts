/** Mamba-2 block with the SSD core (docs/models.md 4.5, 4.6): schema, resolution, counts. */
import { z } from 'zod';
import { chunk, convBias, dConv, dState, expand, fail, innerWidth, posInt, ssmBias } from './fields.ts';
import { defineMixer } from './types.ts';

export const mamba2 = defineMixer({
  kind: 'mamba2',
  schema: z
    .strictObject({
      kind: z.literal('mamba2'),
      d_state: dState().default(64),
      head_dim: posInt().default(64).describe('SSM head width P'),
      n_groups: posInt().default(1).describe('B/C groups G'),
      d_conv: dConv().default(4),
      expand: expand().default(2),
      a_init_range: z.tuple([z.number().positive(), z.number().positive()]).default([1, 16]).describe('A init range [lo, hi]'),
      chunk: chunk().default(64),
      norm_eps: z.number().positive().default(1e-5).describe('gated RMSNorm epsilon'),
      conv_bias: convBias().default(true),
      bias: ssmBias().default(false),
    })
    .describe('Mamba-2 block (SSD)'),
  defaultFfn: null,
  ssmInit: true,
  resolve: (m, c) => {
    if (m.a_init_range[0] > m.a_init_range[1])
      fail('model.mixer.a_init_range', `[${m.a_init_range}] must be [lo, hi] with lo <= hi (${c.at})`);
    const d_inner = innerWidth(m.expand, c, m.head_dim, 'model.mixer.head_dim');
    const hm = d_inner / m.head_dim;
    if (hm % m.n_groups !== 0)
      fail(
        'model.mixer.n_groups',
        `n_groups ${m.n_groups} does not divide the ${hm} SSM heads (inner width ${d_inner} / head_dim ${m.head_dim}, ${c.at})`,
      );
    return { ...m, a_init_range: [m.a_init_range[0], m.a_init_range[1]] as [number, number], expand: d_inner / c.d, d_inner };
  },
}).counts({
  params: (m, d) => {
    const { d_inner: din, d_conv: K, d_state: N, n_groups: G } = m;
    const hm = din / m.head_dim;
    const convCh = din + 2 * G * N;
    const inW = 2 * din + 2 * G * N + hm; // W_in out width: [z | x | B | C | dt]
    // W_in; conv taps (+ bias); dt_bias, A_log, D per head; gated-norm weight din; W_out
    return d * inW + convCh * K + (m.conv_bias ? convCh : 0) + 3 * hm + din + din * d + (m.bias ? inW + d : 0);
  },
  flops: (m, d, T) => {
    const { d_inner: din, d_state: N, n_groups: G, d_conv: K } = m;
    const hm = din / m.head_dim;
    const C = Math.min(m.chunk, T);
    const proj = 2 * d * (2 * din + 2 * G * N + hm) + 2 * din * d + 2 * K * (din + 2 * G * N);
    return proj + 2 * C * N * G + C * hm + 2 * C * din + 4 * N * din;
  },
  stateFloats: (m) => m.d_inner * m.d_state + (m.d_inner + 2 * m.n_groups * m.d_state) * m.d_conv,
  describe: (m) => `mamba2(din${m.d_inner} P${m.head_dim} N${m.d_state} G${m.n_groups})`,
});
export type Mamba2Spec = ReturnType<typeof mamba2.resolve>;
