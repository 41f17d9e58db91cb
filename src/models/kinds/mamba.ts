/** Mamba-1 selective SSM block (docs/models.md 4.1-4.4, 4.6): schema, resolution, counts. */
import { z } from 'zod';
import { auto, convBias, dConv, dState, expand, fail, innerWidth, posInt, ssmBias } from './fields.ts';
import { defineMixer } from './types.ts';

export const mamba = defineMixer({
  kind: 'mamba',
  schema: z
    .strictObject({
      kind: z.literal('mamba'),
      d_state: dState().default(16),
      d_conv: dConv().default(4),
      expand: expand().default(2),
      inner_norms: z.boolean().default(false).describe('weightful RMSNorm on dtr, B, C (Jamba)'),
      dt_rank: auto(posInt()).default('auto').describe("dt rank R; 'auto' = ceil(d_model / 16)"),
      dt_min: z.number().positive().default(1e-3).describe('dt init range minimum'),
      dt_max: z.number().positive().default(0.1).describe('dt init range maximum'),
      dt_init: z.enum(['random', 'constant']).default('random').describe('W_dt init'),
      dt_scale: z.number().positive().default(1).describe('W_dt init scale'),
      dt_init_floor: z.number().nonnegative().default(1e-4).describe('dt init floor'),
      conv_bias: convBias().default(true),
      bias: ssmBias().default(false),
      scan: z.enum(['chunked', 'sequential', 'logdepth']).default('chunked').describe('scan algorithm (same function, different cost)'),
      scan_chunk: auto(posInt()).default('auto').describe("chunked-scan chunk; 'auto' = round(sqrt(seq_len))"),
    })
    .describe('Mamba-1 selective SSM block'),
  defaultFfn: null,
  ssmInit: true,
  resolve: (m, c) => {
    if (m.dt_min > m.dt_max) fail('model.mixer.dt_min', `dt_min ${m.dt_min} > dt_max ${m.dt_max} (${c.at})`);
    const d_inner = innerWidth(m.expand, c, 1, 'model.mixer.expand');
    const dt_rank = m.dt_rank === 'auto' ? Math.ceil(c.d / 16) : m.dt_rank;
    const scan_chunk = m.scan_chunk === 'auto' ? Math.max(1, Math.round(Math.sqrt(c.seqLen))) : m.scan_chunk;
    return { ...m, expand: d_inner / c.d, dt_rank, scan_chunk, d_inner };
  },
}).counts({
  params: (m, d) => {
    const { d_inner: din, d_conv: K, dt_rank: R, d_state: N } = m;
    const b = m.bias ? 1 : 0;
    // W_in 2 d din; conv din K (+ din); W_x din (R + 2N); W_dt R din + b_dt din; A_log din N; D din; W_out din d
    return 3 * d * din + din * (K + 2 * R + 3 * N + 3) - (m.conv_bias ? 0 : din) + b * (2 * din + d) + (m.inner_norms ? R + 2 * N : 0);
  },
  flops: (m, d, T) => {
    const { d_inner: din, dt_rank: R, d_state: N, d_conv: K } = m;
    const proj = 4 * d * din + 2 * din * (R + 2 * N) + 2 * R * din + 2 * din * d;
    const scan = 7 * din * N + (m.scan === 'logdepth' ? 3 * din * N * Math.ceil(Math.log2(Math.max(T, 2))) : 0);
    return proj + 2 * K * din + scan;
  },
  stateFloats: (m) => m.d_inner * m.d_state + m.d_inner * m.d_conv,
  describe: (m) => `mamba(din${m.d_inner} N${m.d_state} R${m.dt_rank})`,
});
export type MambaSpec = ReturnType<typeof mamba.resolve>;
