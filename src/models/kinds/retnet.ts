/** RetNet multi-scale retention (docs/models.md 3): schema, resolution, counts. */
import { z } from 'zod';
import {
  chunk,
  dqk,
  dvt,
  fail,
  form,
  headNormEps,
  heads,
  resolveForm,
  ropeBase,
  ropeFreqs,
  round8,
  scaledHeadWidth,
  scaleHeads,
  type Form,
} from './fields.ts';
import { defineMixer, type ResolveContext } from './types.ts';

/** The fields retnet and selret share. */
export const retnetShape = {
  heads: heads().default(4),
  dqk: dqk().default('auto'),
  dvt: dvt('round8(1.6875 d_model)').default('auto'),
  head_norm: z.enum(['rms', 'layer']).default('rms').describe('per-head norm of the retention output (no affine)'),
  head_norm_eps: headNormEps().default(1e-6),
  rope_freqs: ropeFreqs().default('torchscale'),
  rope_base: ropeBase().default(10000),
  ret_scale: z.enum(['none', 'decaySqrt']).default('none').describe("retention output scaling: 'decaySqrt' divides by sqrt(sum of decays)"),
  form: form().default('auto'),
  chunk: chunk().default(64),
};

type RetShape = { kind: string; heads: number; dqk: 'auto' | number; dvt: 'auto' | number; form: Form | 'auto' };

/** RetNet's value width: round8(1.6875 d). */
export const retnetDvt = (d: number): number => round8(1.6875 * d);

/**
 * Widths of a linear-attention kind (retnet, selret, deltanet): dqk ('auto' = d) and dvt ('auto' =
 * autoDvt(d), spelt `autoRule` in errors), scaled for parallel branches, divisible by heads; the form.
 */
export function resolveRetentionWidths<M extends RetShape>(
  m: M,
  c: ResolveContext,
  rope: boolean,
  autoDvt: (d: number) => number = retnetDvt,
  autoRule = 'round8(1.6875 d_model)',
): Omit<M, 'dqk' | 'dvt' | 'form'> & { dqk: number; dvt: number; form: Form } {
  let dqk = m.dqk === 'auto' ? c.d : m.dqk;
  let dvt = m.dvt === 'auto' ? autoDvt(c.d) : m.dvt;
  if (dqk % m.heads !== 0)
    fail(
      m.dqk === 'auto' ? 'model.d_model' : 'model.mixer.dqk',
      `${m.dqk === 'auto' ? 'd_model ' : 'dqk '}${dqk} is not divisible by heads ${m.heads} of the ${m.kind} mixer (${c.at}); change it or model.heads`,
    );
  if (dvt % m.heads !== 0)
    fail(
      'model.mixer.dvt',
      `dvt ${dvt}${m.dvt === 'auto' ? ` (${autoRule})` : ''} is not divisible by heads ${m.heads} of the ${m.kind} mixer (${c.at}); set model.mixer.dvt or model.heads`,
    );
  const h = scaleHeads(m.heads, c);
  if (c.widthScale !== 1) {
    dqk = h * scaledHeadWidth(dqk, h, c.widthScale);
    dvt = h * scaledHeadWidth(dvt, h, c.widthScale);
  }
  if (rope && (dqk / h) % 2 !== 0)
    fail('model.heads', `key head width dqk/heads = ${dqk / h} is odd but rope needs an even width (${c.at})`);
  return { ...m, heads: h, dqk, dvt, form: resolveForm(m.form, c.seqLen) };
}

export interface RetentionCost {
  heads: number;
  dqk: number;
  dvt: number;
  chunk: number;
  form: Form;
}

/**
 * Projections (Wq, Wk; Wv, Wg, Wo) and the retention core in its form. `intraQk` is the per-token
 * intra-chunk score cost (2 C dqk for a scalar decay; selret's per-key decays cost more).
 */
export function retentionFlops(m: RetentionCost, d: number, T: number, perKey?: 'pairwise' | 'factorized'): number {
  const { dqk, dvt, heads: H } = m;
  const C = Math.min(m.chunk, T);
  let f = 4 * d * dqk + 6 * d * dvt;
  if (m.form === 'parallel') f += (perKey ? 4 * T * dqk : 2 * T * dqk) + 2 * T * dvt + H * T;
  else if (m.form === 'chunk') {
    const intraQk = !perKey ? 2 * C * dqk : perKey === 'factorized' ? 2 * C * dqk + 2 * dqk : 4 * C * dqk;
    f += intraQk + 2 * C * dvt + H * C + (4 * dqk * dvt) / H;
  } else f += (5 * dqk * dvt) / H;
  return f;
}

/** S [dk, dv] per head (+ the decaySqrt normalizer z per head). */
export const retentionStateFloats = (m: { dqk: number; dvt: number; heads: number; ret_scale: string }): number =>
  (m.dqk * m.dvt) / m.heads + (m.ret_scale === 'decaySqrt' ? m.heads : 0);

export const retnet = defineMixer({
  kind: 'retnet',
  schema: z.strictObject({ kind: z.literal('retnet'), ...retnetShape }).describe('RetNet multi-scale retention'),
  defaultFfn: 'swiglu',
  ssmInit: false,
  resolve: (m, c) => resolveRetentionWidths(m, c, true),
  // Wq, Wk; Wv, Wg, Wo (the head norm has no affine)
}).counts({
  params: (m, d) => 2 * d * m.dqk + 3 * d * m.dvt,
  flops: (m, d, T) => retentionFlops(m, d, T),
  stateFloats: retentionStateFloats,
  describe: (m) => `retnet(H${m.heads} dqk${m.dqk} dvt${m.dvt} ${m.form})`,
});
export type RetnetSpec = ReturnType<typeof retnet.resolve>;
