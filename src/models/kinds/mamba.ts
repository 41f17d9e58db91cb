/** Mamba-1 selective SSM block (models.md 4.1-4.4, 4.6): schema, resolution, counts. */
import { z } from 'zod';
import { auto, fail, innerWidth, posInt } from './fields.ts';
import { defineMixer } from './types.ts';

export const mamba = defineMixer({
  kind: 'mamba',
  summary: 'Mamba-1 selective SSM block',
  schema: z
    .strictObject({
      kind: z.literal('mamba'),
      dState: posInt().default(16).describe('SSM state size N'),
      dConv: posInt().default(4).describe('causal depthwise conv taps K'),
      expand: z.number().positive().default(2).describe('SSM expansion E: inner width = E * d_model'),
      innerNorms: z.boolean().default(false).describe('weightful RMSNorm on dtr, B, C (Jamba)'),
      dtRank: auto(posInt()).default('auto').describe("dt rank R; 'auto' = ceil(d_model / 16)"),
      dtMin: z.number().positive().default(1e-3).describe('dt init range minimum'),
      dtMax: z.number().positive().default(0.1).describe('dt init range maximum'),
      dtInit: z.enum(['random', 'constant']).default('random').describe('W_dt init'),
      dtScale: z.number().positive().default(1).describe('W_dt init scale'),
      dtInitFloor: z.number().nonnegative().default(1e-4).describe('dt init floor'),
      convBias: z.boolean().default(true).describe('bias on the causal conv'),
      bias: z.boolean().default(false).describe('biases on W_in and W_out'),
      scan: z.enum(['chunked', 'sequential', 'logdepth']).default('chunked').describe('scan algorithm (same function, different cost)'),
      scanChunk: auto(posInt()).default('auto').describe("chunked-scan chunk; 'auto' = round(sqrt(seq_len))"),
    })
    .describe('Mamba-1 selective SSM block'),
  defaultFfn: null,
  ssmInit: true,
  resolve: (m, c) => {
    if (m.dtMin > m.dtMax) fail('model.mixer.dtMin', `dtMin ${m.dtMin} > dtMax ${m.dtMax} (${c.at})`);
    const dInner = innerWidth(m.expand, c, 1, 'model.mixer.expand');
    const dtRank = m.dtRank === 'auto' ? Math.ceil(c.d / 16) : m.dtRank;
    const scanChunk = m.scanChunk === 'auto' ? Math.max(1, Math.round(Math.sqrt(c.seqLen))) : m.scanChunk;
    return { ...m, expand: dInner / c.d, dtRank, scanChunk, dInner };
  },
}).counts({
  params: (m, d) => {
    const { dInner: din, dConv: K, dtRank: R, dState: N } = m;
    const b = m.bias ? 1 : 0;
    // W_in 2 d din; conv din K (+ din); W_x din (R + 2N); W_dt R din + b_dt din; A_log din N; D din; W_out din d
    return 3 * d * din + din * (K + 2 * R + 3 * N + 3) - (m.convBias ? 0 : din) + b * (2 * din + d) + (m.innerNorms ? R + 2 * N : 0);
  },
  flops: (m, d, T) => {
    const { dInner: din, dtRank: R, dState: N, dConv: K } = m;
    const proj = 4 * d * din + 2 * din * (R + 2 * N) + 2 * R * din + 2 * din * d;
    const scan = 7 * din * N + (m.scan === 'logdepth' ? 3 * din * N * Math.ceil(Math.log2(Math.max(T, 2))) : 0);
    return proj + 2 * K * din + scan;
  },
  stateFloats: (m) => m.dInner * m.dState + m.dInner * m.dConv,
  describe: (m) => `mamba(din${m.dInner} N${m.dState} R${m.dtRank})`,
});
export type MambaSpec = ReturnType<typeof mamba.resolve>;
