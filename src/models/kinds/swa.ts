/** Sliding-window causal attention: attn whose token t sees keys t-W+1..t (cache of W entries). */
import { z } from 'zod';
import { attnFlops, attnParams, attnShape, resolveAttnHeads } from './attn.ts';
import { posInt } from './fields.ts';
import { defineMixer } from './types.ts';

export const swa = defineMixer({
  kind: 'swa',
  schema: z
    .strictObject({
      kind: z.literal('swa'),
      ...attnShape,
      window: posInt().default(64).describe('sliding-window size W: a token sees itself and the W-1 before it'),
    })
    .describe('sliding-window causal attention'),
  defaultFfn: 'gelu',
  ssmInit: false,
  resolve: (m, c) => resolveAttnHeads(m, c),
}).counts({
  params: attnParams,
  flops: (m, d, T) => attnFlops(m, d, Math.min(T, m.window)),
  stateFloats: (m, t) => 2 * Math.min(t, m.window) * m.heads * m.dh,
  describe: (m) => `swa(H${m.heads} dh${m.dh} W${m.window}${m.rope ? '' : ' rope=false'})`,
});
export type SwaSpec = ReturnType<typeof swa.resolve>;
