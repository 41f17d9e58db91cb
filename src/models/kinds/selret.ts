/**
 * Selective retention (docs/models.md 5): RetNet's retention with an input-dependent log-decay and
 * write strength. Schema, resolution, counts.
 */
import { z } from 'zod';
import { fail, rope } from './fields.ts';
import { resolveRetentionWidths, retentionFlops, retentionStateFloats, retnetShape } from './retnet.ts';
import { defineMixer } from './types.ts';

/** GLA low-rank gate width (gate_low_rank_dim) of the per-key gla decay. */
export const GLA_RANK = 16;

export const selret = defineMixer({
  kind: 'selret',
  schema: z
    .strictObject({
      kind: z.literal('selret'),
      ...retnetShape,
      decay: z
        .enum(['mamba', 'gla', 'fixed'])
        .default('mamba')
        .describe("log-decay: 'mamba' -exp(A_log) softplus(.), 'gla' logsigmoid(.)/tau, 'fixed' RetNet gammas"),
      write: z
        .enum(['auto', 'dt', 'none', 'sigmoid', 'complement'])
        .default('auto')
        .describe("write strength; 'auto' = 'dt' with decay mamba, else 'none'"),
      granularity: z.enum(['head', 'key']).default('head').describe("decay per head ('head') or per key-dimension pair ('key', GLA-style)"),
      decay_init: z
        .enum(['retnet', 'mamba'])
        .default('retnet')
        .describe("decay init: 'retnet' gammas or 'mamba' (dt ~ logU(1e-3, 0.1), A ~ U(1, 16))"),
      key_decay_init: z
        .enum(['tied', 'spread'])
        .default('tied')
        .describe("key-decay init: 'tied' = head gamma for all pairs, 'spread' = rates x 1/4..4"),
      tau: z.number().positive().default(16).describe('gla decay normalizer tau'),
      // null is accepted because JSON writes -Infinity as null (stored configs round-trip).
      a_min: z
        .union([z.number().nonpositive(), z.literal(-Infinity), z.null()])
        .default(-Infinity)
        .describe('lower clamp of the log-decay (-Infinity or null = none)'),
      intra_mode: z
        .enum(['pairwise', 'factorized'])
        .default('pairwise')
        .describe("key-decay intra-chunk mode ('factorized' needs chunk*|a_min| <= 60)"),
      rope: rope().default(true),
    })
    .describe('selective retention: retention with an input-dependent decay and write strength'),
  defaultFfn: 'swiglu',
  ssmInit: false,
  resolve: (m, c) => {
    const s = resolveRetentionWidths(m, c, m.rope);
    const dk = s.dqk / s.heads;
    /** -Infinity = no clamp */
    const a_min: number = s.a_min ?? -Infinity;
    const write = s.write === 'auto' ? (s.decay === 'mamba' ? 'dt' : 'none') : s.write;
    if (write === 'dt' && s.decay !== 'mamba')
      fail('model.mixer.write', `write 'dt' needs decay 'mamba' (decay is '${s.decay}', ${c.at}); use none, sigmoid or complement`);
    if (s.granularity === 'key') {
      if (s.decay === 'fixed')
        fail('model.mixer.granularity', `granularity 'key' needs an input-dependent decay (decay is 'fixed', ${c.at})`);
      if (dk % 2 !== 0) fail('model.heads', `key decay pairs need an even key head width (dqk/heads = ${dk}, ${c.at})`);
      if (s.ret_scale === 'decaySqrt')
        fail('model.mixer.ret_scale', `'decaySqrt' is defined for scalar decays only (granularity 'key', ${c.at})`);
      if (s.intra_mode === 'factorized' && !(s.chunk * Math.abs(a_min) <= 60))
        fail(
          'model.mixer.intra_mode',
          `'factorized' needs chunk * |a_min| <= 60 (chunk ${s.chunk}, a_min ${a_min}, ${c.at}); set model.mixer.a_min or use 'pairwise'`,
        );
    }
    return { ...s, write, a_min };
  },
}).counts({
  params: (m, d) => 2 * d * m.dqk + 3 * d * m.dvt + selretGateParams(m, d),
  flops: (m, d, T) => {
    const key = m.granularity === 'key';
    const { heads: H, dqk } = m;
    let f = retentionFlops(m, d, T, key ? m.intra_mode : undefined);
    // gate projections + input-dependent decay-mask exps (key decay: already in the intra scores)
    if (key && m.decay === 'gla') f += 2 * d * GLA_RANK + 2 * GLA_RANK * H * (dqk / H / 2);
    else if (m.decay !== 'fixed') f += 2 * d * H;
    if (m.write === 'sigmoid') f += 2 * d * H;
    if (m.decay !== 'fixed' && !key) f += m.form === 'parallel' ? H * T : m.form === 'chunk' ? H * Math.min(m.chunk, T) : 0;
    return f;
  },
  stateFloats: retentionStateFloats,
  describe: (m) =>
    `selret(H${m.heads} dqk${m.dqk} dvt${m.dvt} ${m.form} decay=${m.decay} write=${m.write}${m.granularity === 'key' ? ' key' : ''})`,
});
export type SelretSpec = ReturnType<typeof selret.resolve>;

/** Gate parameters on top of RetNet (docs/models.md 5.2, 5.6, 7). */
export function selretGateParams(
  m: { heads: number; dqk: number; granularity: 'head' | 'key'; decay: string; write: string },
  d: number,
): number {
  const H = m.heads;
  const pairs = m.dqk / H / 2; // per-key decays are tied on rope pairs
  let n = 0;
  if (m.granularity === 'head') {
    if (m.decay === 'mamba') n += d * H + 2 * H; // w_dt, b_dt, A_log
    if (m.decay === 'gla') n += d * H + H; // w_a, b_a
  } else {
    if (m.decay === 'mamba') n += d * H + H + H * pairs; // w_dt, b_dt, A_log per pair
    if (m.decay === 'gla') n += GLA_RANK * d + GLA_RANK * H * pairs + H * pairs; // Wa1 d x 16, Wa2 16 x H dk/2, b_a
  }
  if (m.write === 'sigmoid') n += d * H + H; // w_b, b_b
  return n;
}
