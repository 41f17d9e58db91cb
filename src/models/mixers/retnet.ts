/**
 * The retention layer (docs/models.md 3.1-3.6, 5.1-5.3): projections q, k * dk^-1/2, v, g; RoPE
 * (torchscale frequencies) on q, k; a log-decay a <= 0 per head (or per key) and position with write
 * strength beta folded into k, from the layer's decay strategy; the un-normalized core in the
 * configured form; per-head norm without affine; y = silu(g) * o; out = y @ Wo. RetNet is this layer
 * with RetNet's fixed decays (FixedDecay); selective retention (selret.ts) passes its own strategy.
 */
import * as tf from '@tensorflow/tfjs';
import { applyRope, ropeTables, ropeThetas } from '../../ops/rope.ts';
import { decaySqrtNormalizer, retention } from '../../ops/retention-forms.ts';
import type { RetentionKeyOpts } from '../../ops/retention-key.ts';
import { decodeCode } from '../../native/decode-layout.ts';
import { xavier, type ParamScope } from '../init.ts';
import type { Form } from '../kinds/fields.ts';
import type { RetnetSpec } from '../kinds/retnet.ts';
import {
  layerNormalize,
  linear,
  mergeHeads,
  retnetLogGammas,
  rmsNormalize,
  silu,
  splitHeads,
  type FusedMixerStep,
  type Mixer,
  type MixerContext,
  type MixerOptions,
  type MixerState,
  type StepOptions,
} from './common.ts';

export type RetForm = Form;

/**
 * A decay in the fused decode step's terms (native/decode.c; the names of native/decode-layout.json's
 * decay and write codes): 'fixed' log gamma_h or 'mamba' -softplus(u w_dt + b_dt) exp(A_log),
 * clamped at aMin; write none / dt / sigmoid / complement; the weights it reads.
 */
export interface FusedDecay {
  decay: 'fixed' | 'mamba';
  write: 'none' | 'dt' | 'sigmoid' | 'complement';
  aMin: number;
  weights: { w_dt?: tf.Tensor; b_dt?: tf.Tensor; A_log?: tf.Tensor; w_b?: tf.Tensor; b_b?: tf.Tensor };
}

/** Log-decay a (<= 0) and write strength beta (>= 0) for every head and position. */
export interface Decay {
  a: tf.Tensor; // [B, H, T] (scalar per head) or [B, H, T, dk] (per key)
  beta?: tf.Tensor; // same shape as a, or [B, H, T] with per-key a; absent = 1
}

/**
 * How a retention layer decays and writes its state: the strategy owns its parameters (created in
 * the layer's scope when it is built), computes a and beta from the layer input, and says how the
 * fused decode step runs it.
 */
export interface DecayStrategy {
  /** True when a is [B, H, T, dk] (one decay per key) rather than [B, H, T]. */
  readonly perKey: boolean;
  /** Options of the per-key core (intra-chunk mode, the clamp of a); absent for per-head decays. */
  readonly keyOptions?: Pick<RetentionKeyOpts, 'intraMode' | 'aMin'>;
  /** a and beta for u [B, T, d]. */
  decay(u: tf.Tensor3D): Decay;
  /** The decay in the fused decode step's terms; undefined: a variant it lacks. */
  fused(): FusedDecay | undefined;
}

/** What a decay strategy is built from: the layer's geometry and parameter scope. */
export interface RetentionGeometry {
  d: number;
  H: number;
  dk: number;
  /** RetNet's multi-scale log-decays log gamma_h (3.2): the fixed decays, and the init of the others. */
  logGammas: number[];
  params: ParamScope;
}

/** RetNet's decay (3.2): a = log gamma_h at every position, beta = 1; no parameters. */
export class FixedDecay implements DecayStrategy {
  readonly perKey = false;
  constructor(private readonly g: RetentionGeometry) {}

  decay(u: tf.Tensor3D): Decay {
    const [B, T] = u.shape;
    const lg = tf.tensor(this.g.logGammas, [1, this.g.H, 1]);
    return { a: tf.broadcastTo(lg, [B, this.g.H, T]) };
  }

  fused(): FusedDecay {
    return { decay: 'fixed', write: 'none', aMin: -Infinity, weights: {} };
  }
}

/** The layer's shape: the fields RetNet's and selective retention's specs share, and whether q, k are rotated. */
export type RetentionShape = Pick<
  RetnetSpec,
  'heads' | 'dqk' | 'dvt' | 'form' | 'chunk' | 'head_norm' | 'head_norm_eps' | 'ret_scale' | 'rope_freqs' | 'rope_base'
> & { rope: boolean };

/** The retention layer; `makeDecay` builds its decay strategy (RetNet's FixedDecay unless given) in the layer's parameter scope. */
export class Retention implements Mixer {
  readonly H: number;
  readonly dqk: number;
  readonly dvt: number;
  readonly dk: number;
  readonly dv: number;
  readonly form: RetForm;
  readonly chunk: number;
  readonly headNorm: 'rms' | 'layer';
  readonly headNormEps: number;
  readonly retScale: 'none' | 'decaySqrt';
  readonly rope: boolean;
  readonly ropeFreqs: RetnetSpec['rope_freqs'];
  readonly ropeBase: number;
  readonly logGammas: number[];
  /** How this layer decays and writes its state. */
  readonly decayStrategy: DecayStrategy;
  protected readonly wq: tf.Variable;
  protected readonly wk: tf.Variable;
  protected readonly wv: tf.Variable;
  protected readonly wg: tf.Variable;
  protected readonly wo: tf.Variable;

  constructor(
    spec: RetentionShape,
    readonly ctx: MixerContext,
    makeDecay: (g: RetentionGeometry) => DecayStrategy = (g) => new FixedDecay(g),
  ) {
    const d = ctx.d;
    this.H = spec.heads;
    this.dqk = spec.dqk;
    this.dvt = spec.dvt;
    this.dk = this.dqk / this.H;
    this.dv = this.dvt / this.H;
    this.form = spec.form;
    this.chunk = spec.chunk;
    this.headNorm = spec.head_norm;
    this.headNormEps = spec.head_norm_eps;
    this.retScale = spec.ret_scale;
    this.rope = spec.rope;
    this.ropeFreqs = spec.rope_freqs;
    this.ropeBase = spec.rope_base;
    this.logGammas = retnetLogGammas(this.H);
    const p = ctx.params;
    const gIn = 2 ** -2.5;
    this.wq = p.create('w_q', [d, this.dqk], xavier(gIn));
    this.wk = p.create('w_k', [d, this.dqk], xavier(gIn));
    this.wv = p.create('w_v', [d, this.dvt], xavier(gIn));
    this.wg = p.create('w_g', [d, this.dvt], xavier(gIn));
    this.wo = p.create('w_o', [this.dvt, d], xavier(0.5));
    this.decayStrategy = makeDecay({ d, H: this.H, dk: this.dk, logGammas: this.logGammas, params: p });
  }

  /** True when a is [B, H, T, dk] (one decay per key). */
  get perKey(): boolean {
    return this.decayStrategy.perKey;
  }

  /** a and beta of the layer's decay strategy. u [B, T, d]. */
  decay(u: tf.Tensor3D): Decay {
    return this.decayStrategy.decay(u);
  }

  fusedStep(state: MixerState): FusedMixerStep | undefined {
    const f = this.decayStrategy.fused();
    if (!f) return undefined;
    const w = f.weights;
    return {
      kind: 'retention',
      ints: {
        H: this.H,
        dk: this.dk,
        dv: this.dv,
        headNorm: decodeCode('norm', this.headNorm),
        rope: this.rope,
        decay: decodeCode('decay', f.decay),
        write: decodeCode('write', f.write),
        decaySqrt: this.retScale === 'decaySqrt',
      },
      floats: {
        headEps: this.headNormEps,
        aMin: f.aMin,
        logGammas: this.logGammas,
        ropeTheta: this.rope ? ropeThetas(this.dk, this.ropeFreqs, this.ropeBase) : new Float64Array(this.dk / 2),
      },
      weights: {
        wq: this.wq,
        wk: this.wk,
        wv: this.wv,
        wg: this.wg,
        wo: this.wo,
        wDt: w.w_dt,
        bDt: w.b_dt,
        aLog: w.A_log,
        wB: w.w_b,
        bB: w.b_b,
      },
      state: { S: state.S.shape, z: state.z?.shape },
    };
  }

  /** q, kt (beta folded in), v [B, H, T, .], a and beta for positions start..start+T-1. */
  private inputs(u: tf.Tensor3D, start: number, keep?: tf.Tensor2D) {
    const [B, T] = u.shape;
    let q = splitHeads(linear(u, this.wq), this.H) as tf.Tensor;
    let k = splitHeads(linear(u, this.wk), this.H).mul(1 / Math.sqrt(this.dk));
    const v = splitHeads(linear(u, this.wv), this.H);
    if (this.rope) {
      const { cos, sin } = ropeTables(start, T, this.dk, this.ropeFreqs, this.ropeBase);
      q = applyRope(q, cos, sin);
      k = applyRope(k, cos, sin);
    }
    let { a, beta } = this.decay(u);
    if (keep) {
      // stateSkip (6.4): an unabsorbed token neither decays nor writes the state.
      const m = keep.reshape(this.perKey ? [B, 1, T, 1] : [B, 1, T]);
      a = a.mul(m);
      beta = beta ? beta.mul(beta.rank === a.rank ? m : keep.reshape([B, 1, T])) : tf.broadcastTo(keep.reshape([B, 1, T]), [B, this.H, T]);
    }
    const kt = beta ? k.mul(beta.rank === 4 ? beta : beta.expandDims(-1)) : k;
    return { q, kt, v, a, beta };
  }

  /** The un-normalized core o [B, H, T, dv] in a form (per-key options from the spec). */
  core(
    q: tf.Tensor,
    kt: tf.Tensor,
    v: tf.Tensor,
    a: tf.Tensor,
    form: RetForm,
    opts: { initialState?: tf.Tensor; outputFinalState?: boolean } = {},
  ) {
    return retention(form, q, kt, v, a, { chunk: this.chunk, ...this.decayStrategy.keyOptions, ...opts });
  }

  /**
   * Retention of u [B, T, d] at positions start.., from `state` (S and, with decaySqrt, z) when
   * given: o [B, H, T, dv] (divided by sqrt(z) with decaySqrt) and, when `wantState`, the state
   * after the last token. forward, prefill and step are this one function.
   */
  private retain(
    u: tf.Tensor3D,
    start: number,
    form: RetForm,
    o: { keep?: tf.Tensor2D; state?: MixerState; wantState: boolean },
  ): { o: tf.Tensor; state?: MixerState } {
    const { q, kt, v, a, beta } = this.inputs(u, start, o.keep);
    const r = this.core(q, kt, v, a, form, { initialState: o.state?.S, outputFinalState: o.wantState });
    const state: MixerState | undefined = o.wantState ? { S: r.state! } : undefined;
    if (this.retScale !== 'decaySqrt') return { o: r.o, state };
    const z = decaySqrtNormalizer(form, a, beta, { chunk: this.chunk, initialState: o.state?.z, outputFinalState: o.wantState });
    if (state) state.z = z.state!;
    return { o: r.o.div(tf.sqrt(z.z)), state };
  }

  /** Per-head norm (1.2): each head's dv vector on its own, no affine. [B, H, T, dv] */
  headNormalize(o: tf.Tensor): tf.Tensor {
    return this.headNorm === 'rms' ? rmsNormalize(o, this.headNormEps) : layerNormalize(o, this.headNormEps);
  }

  /** Per-head norm, gate and output projection (3.5). o [B, H, T, dv], u [B, T, d] -> [B, T, d]. */
  output(o: tf.Tensor, u: tf.Tensor3D): tf.Tensor3D {
    const g = linear(u, this.wg);
    return linear(silu(g).mul(mergeHeads(this.headNormalize(o))), this.wo) as tf.Tensor3D;
  }

  /** Core output before the per-head norm (tests compare cores, pitfall 7). [B, H, T, dv] */
  coreOutput(u: tf.Tensor3D, form: RetForm = this.form): tf.Tensor {
    return this.retain(u, 0, form, { wantState: false }).o;
  }

  forward(u: tf.Tensor3D, opts?: MixerOptions): { y: tf.Tensor3D } {
    return { y: this.output(this.retain(u, 0, this.form, { keep: opts?.keep, wantState: false }).o, u) };
  }

  prefill(u: tf.Tensor3D, opts?: MixerOptions): { y: tf.Tensor3D; state: MixerState } {
    const r = this.retain(u, 0, this.form, { keep: opts?.keep, wantState: true });
    return { y: this.output(r.o, u), state: r.state! };
  }

  /** One token: the recurrent form over T = 1 from the state. */
  step(u: tf.Tensor2D, state: MixerState, pos: number, opts?: StepOptions): { y: tf.Tensor2D; state: MixerState } {
    const B = u.shape[0];
    const u3 = u.reshape([B, 1, -1]) as tf.Tensor3D;
    const r = this.retain(u3, pos, 'recurrent', { keep: opts?.keep?.reshape([B, 1]) as tf.Tensor2D | undefined, state, wantState: true });
    return { y: this.output(r.o, u3).reshape([B, -1]) as tf.Tensor2D, state: r.state! };
  }

  emptyState(batch: number): MixerState {
    const s: MixerState = { S: tf.zeros([batch, this.H, this.dk, this.dv]) };
    if (this.retScale === 'decaySqrt') s.z = tf.zeros([batch, this.H, 1, 1]);
    return s;
  }
}

/** The RetNet mixer: retention with RetNet's fixed multi-scale decays (RoPE always on). */
export class RetNet extends Retention {
  constructor(spec: RetnetSpec, ctx: MixerContext) {
    super({ ...spec, rope: true }, ctx);
  }
}
