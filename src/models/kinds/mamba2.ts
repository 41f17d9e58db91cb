/** Mamba-2 block with the SSD core (models.md 4.5, 4.6): schema, resolution, counts. */
import { z } from 'zod';
import { chunk, fail, innerWidth, posInt } from './fields.ts';
import { defineMixer } from './types.ts';

export const mamba2 = defineMixer({
  kind: 'mamba2',
  summary: 'Mamba-2 block (SSD)',
  schema: z
    .strictObject({
      kind: z.literal('mamba2'),
      dState: posInt().default(64).describe('SSM state size N'),
      headDim: posInt().default(64).describe('SSM head width P'),
      nGroups: posInt().default(1).describe('B/C groups G'),
      dConv: posInt().default(4).describe('causal depthwise conv taps K'),
      expand: z.number().positive().default(2).describe('SSM expansion E: inner width = E * d_model'),
      aInitRange: z.tuple([z.number().positive(), z.number().positive()]).default([1, 16]).describe('A init range [lo, hi]'),
      chunk: chunk().default(64),
      normEps: z.number().positive().default(1e-5).describe('gated RMSNorm epsilon'),
      convBias: z.boolean().default(true).describe('bias on the causal conv'),
      bias: z.boolean().default(false).describe('biases on W_in and W_out'),
    })
    .describe('Mamba-2 block (SSD)'),
  defaultFfn: null,
  ssmInit: true,
  resolve: (m, c) => {
    if (m.aInitRange[0] > m.aInitRange[1]) fail('model.mixer.aInitRange', `[${m.aInitRange}] must be [lo, hi] with lo <= hi (${c.at})`);
    const dInner = innerWidth(m.expand, c, m.headDim, 'model.mixer.headDim');
    const hm = dInner / m.headDim;
    if (hm % m.nGroups !== 0) fail('model.mixer.nGroups', `nGroups ${m.nGroups} does not divide the ${hm} SSM heads (inner width ${dInner} / headDim ${m.headDim}, ${c.at})`);
    return { ...m, aInitRange: [m.aInitRange[0], m.aInitRange[1]] as [number, number], expand: dInner / c.d, dInner };
  },
}).counts({
  params: (m, d) => {
    const { dInner: din, dConv: K, dState: N, nGroups: G } = m;
    const hm = din / m.headDim;
    const convCh = din + 2 * G * N;
    const inW = 2 * din + 2 * G * N + hm; // W_in out width: [z | x | B | C | dt]
    // W_in; conv taps (+ bias); dt_bias, A_log, D per head; gated-norm weight din; W_out
    return d * inW + convCh * K + (m.convBias ? convCh : 0) + 3 * hm + din + din * d + (m.bias ? inW + d : 0);
  },
  flops: (m, d, T) => {
    const { dInner: din, dState: N, nGroups: G, dConv: K } = m;
    const hm = din / m.headDim;
    const C = Math.min(m.chunk, T);
    const proj = 2 * d * (2 * din + 2 * G * N + hm) + 2 * din * d + 2 * K * (din + 2 * G * N);
    return proj + 2 * C * N * G + C * hm + 2 * C * din + 4 * N * din;
  },
  stateFloats: (m) => m.dInner * m.dState + (m.dInner + 2 * m.nGroups * m.dState) * m.dConv,
  describe: (m) => `mamba2(din${m.dInner} P${m.headDim} N${m.dState} G${m.nGroups})`,
});
export type Mamba2Spec = ReturnType<typeof mamba2.resolve>;
