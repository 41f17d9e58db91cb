/**
 * RetNet multi-scale retention (docs/models.md 3.1-3.6), written as the general retention layer that
 * selective retention (selret.ts) extends by overriding `decay`: projections q, k * dk^-1/2, v, g;
 * RoPE (torchscale frequencies) on q, k; a scalar (or per-key) log-decay a <= 0 per head and
 * position with write strength beta folded into k; the un-normalized core in the configured form;
 * per-head norm without affine; y = silu(g) * o; out = y @ Wo.
 */
import * as tf from '@tensorflow/tfjs';
import { applyRope, ropeTables, ropeThetas } from '../../ops/rope.ts';
import { decaySqrtNormalizer, retention } from '../../ops/retention-forms.ts';
import { xavier } from '../init.ts';
import type { Form } from '../kinds/fields.ts';
import type { RetnetSpec } from '../kinds/retnet.ts';
import type { SelretSpec } from '../kinds/selret.ts';
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
 * The decay of the fused decode step (native/decode.c): 'fixed' log gamma_h or 'mamba'
 * -softplus(u w_dt + b_dt) exp(A_log), clamped at aMin; write none / dt / sigmoid / complement.
 */
export interface FusedDecay {
  decay: 'fixed' | 'mamba';
  write: 'none' | 'dt' | 'sigmoid' | 'complement';
  aMin: number;
  weights: { w_dt?: tf.Tensor; b_dt?: tf.Tensor; A_log?: tf.Tensor; w_b?: tf.Tensor; b_b?: tf.Tensor };
}
const DECAY_CODE = { fixed: 0, mamba: 1 } as const;
const WRITE_CODE = { none: 0, dt: 1, sigmoid: 2, complement: 3 } as const;

/** Log-decay a (<= 0) and write strength beta (>= 0) for every head and position. */
export interface Decay {
  a: tf.Tensor; // [B, H, T] (scalar per head) or [B, H, T, dk] (granularity 'key')
  beta?: tf.Tensor; // same shape as a, or [B, H, T] with per-key a; absent = 1
}

export class MultiScaleRetention implements Mixer {
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
  /** True when a is [B, H, T, dk] (selret granularity 'key'). */
  perKey = false;
  readonly logGammas: number[];
  protected readonly wq: tf.Variable;
  protected readonly wk: tf.Variable;
  protected readonly wv: tf.Variable;
  protected readonly wg: tf.Variable;
  protected readonly wo: tf.Variable;

  constructor(
    readonly spec: RetnetSpec | SelretSpec,
    readonly ctx: MixerContext,
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
    this.rope = spec.kind === 'retnet' || spec.rope;
    this.ropeFreqs = spec.rope_freqs;
    this.ropeBase = spec.rope_base;
    this.logGammas = retnetLogGammas(this.H);
    const p = ctx.params;
    const gIn = Math.pow(2, -2.5);
    this.wq = p.create('w_q', [d, this.dqk], xavier(gIn));
    this.wk = p.create('w_k', [d, this.dqk], xavier(gIn));
    this.wv = p.create('w_v', [d, this.dvt], xavier(gIn));
    this.wg = p.create('w_g', [d, this.dvt], xavier(gIn));
    this.wo = p.create('w_o', [this.dvt, d], xavier(0.5));
  }

  /** RetNet: a = log gamma_h at every position, beta = 1. u [B, T, d]. */
  decay(u: tf.Tensor3D): Decay {
    const [B, T] = u.shape;
    const lg = tf.tensor(this.logGammas, [1, this.H, 1]);
    return { a: tf.broadcastTo(lg, [B, this.H, T]) };
  }

  /** The decay in the fused decode step's terms (undefined: a variant it lacks). RetNet: fixed gammas. */
  fusedDecay(): FusedDecay | undefined {
    return { decay: 'fixed', write: 'none', aMin: -Infinity, weights: {} };
  }

  fusedStep(state: MixerState): FusedMixerStep | undefined {
    const f = this.fusedDecay();
    if (!f) return undefined;
    const w = f.weights;
    return {
      kind: 'retention',
      ints: [this.H, this.dk, this.dv, this.headNorm === 'layer' ? 1 : 0, this.rope ? 1 : 0, DECAY_CODE[f.decay], WRITE_CODE[f.write], this.retScale === 'decaySqrt' ? 1 : 0],
      floats: [this.headNormEps, f.aMin, ...this.logGammas, ...(this.rope ? ropeThetas(this.dk, this.ropeFreqs, this.ropeBase) : new Float64Array(this.dk / 2))],
      weights: [this.wq, this.wk, this.wv, this.wg, this.wo, w.w_dt, w.b_dt, w.A_log, w.w_b, w.b_b],
      state: [{ key: 'S', out: state.S.shape }, { key: 'z', out: state.z?.shape }],
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
  core(q: tf.Tensor, kt: tf.Tensor, v: tf.Tensor, a: tf.Tensor, form: RetForm, opts: { initialState?: tf.Tensor; outputFinalState?: boolean } = {}) {
    const keyOpts = this.spec.kind === 'selret' && this.perKey ? { intraMode: this.spec.intra_mode, aMin: this.spec.a_min ?? -Infinity } : {};
    return retention(form, q, kt, v, a, { chunk: this.chunk, ...keyOpts, ...opts });
  }

  /**
   * Retention of u [B, T, d] at positions start.., from `state` (S and, with decaySqrt, z) when
   * given: o [B, H, T, dv] (divided by sqrt(z) with decaySqrt) and, when `wantState`, the state
   * after the last token. forward, prefill and step are this one function.
   */
  private retain(u: tf.Tensor3D, start: number, form: RetForm, o: { keep?: tf.Tensor2D; state?: MixerState; wantState: boolean }): { o: tf.Tensor; state?: MixerState } {
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

/** The RetNet mixer (fixed multi-scale decays). */
export class RetNet extends MultiScaleRetention {}
