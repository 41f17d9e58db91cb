/** Causal softmax attention with RoPE (docs/models.md 2): schema, resolution, counts. */
import { z } from 'zod';
import { auto, fail, heads, posInt, rope, ropeBase, ropeFreqs, scaledHeadWidth, scaleHeads } from './fields.ts';
import { defineMixer, type ResolveContext } from './types.ts';

/** The fields attn and swa share (swa adds `window`). */
/** Query lengths above which attention runs in blocks of ATTN_BLOCK rows (src/ops/attention-blocked.ts). */
export const BLOCKED_ABOVE = 512;
export const ATTN_BLOCK = 256;

export const attnShape = {
  heads: heads().default(4),
  rope: rope().default(true),
  rope_freqs: ropeFreqs().default('standard'),
  rope_base: ropeBase().default(10000),
  bias: z.boolean().default(false).describe('biases on Wq, Wk, Wv, Wo'),
  dh: auto(posInt()).default('auto').describe("attention head width; 'auto' = d_model / heads"),
};

type AttnShape = { heads: number; dh: 'auto' | number; rope: boolean };

/** Head count and width (scaled for parallel branches); rope needs an even width. */
export function resolveAttnHeads<M extends AttnShape & { kind: string }>(m: M, c: ResolveContext): Omit<M, 'dh'> & { dh: number } {
  let dh: number;
  if (m.dh === 'auto') {
    if (c.d % m.heads !== 0)
      fail(
        'model.d_model',
        `${c.d} is not divisible by heads ${m.heads} of the ${m.kind} mixer (${c.at}); change model.d_model or model.heads`,
      );
    dh = c.d / m.heads;
  } else dh = m.dh;
  const h = scaleHeads(m.heads, c);
  if (c.widthScale !== 1) dh = scaledHeadWidth(m.heads * dh, h, c.widthScale);
  if (m.rope && dh % 2 !== 0)
    fail(m.dh === 'auto' ? 'model.heads' : 'model.mixer.dh', `attention head width ${dh} is odd but rope needs an even width (${c.at})`);
  return { ...m, heads: h, dh };
}

/** Wq, Wk, Wv: d x inner; Wo: inner x d (+ biases). */
export const attnParams = (m: { heads: number; dh: number; bias: boolean }, d: number): number => {
  const inner = m.heads * m.dh;
  return 4 * d * inner + (m.bias ? 3 * inner + d : 0);
};

/** Projections plus scores and mixing over a context of `ctx` keys (dense scores: full T). */
export const attnFlops = (m: { heads: number; dh: number }, d: number, ctx: number): number =>
  8 * d * m.heads * m.dh + 4 * ctx * m.heads * m.dh;

export const attn = defineMixer({
  kind: 'attn',
  schema: z.strictObject({ kind: z.literal('attn'), ...attnShape }).describe('causal softmax attention with RoPE'),
  defaultFfn: 'gelu',
  ssmInit: false,
  resolve: (m, c) => resolveAttnHeads(m, c),
}).counts({
  params: attnParams,
  flops: (m, d, T) => attnFlops(m, d, T),
  stateFloats: (m, t) => 2 * t * m.heads * m.dh,
  describe: (m) => `attn(H${m.heads} dh${m.dh}${m.rope ? '' : ' rope=false'})`,
});
export type AttnSpec = ReturnType<typeof attn.resolve>;
