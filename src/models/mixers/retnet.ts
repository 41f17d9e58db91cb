/**
 * RetNet multi-scale retention (models.md 3.1-3.6), written as the general retention layer that
 * selective retention (selret.ts) extends by overriding `decay`: projections q, k * dk^-1/2, v, g;
 * RoPE (torchscale frequencies) on q, k; a scalar (or per-key) log-decay a <= 0 per head and
 * position with write strength beta folded into k; the un-normalized core in the configured form;
 * per-head norm without affine; y = silu(g) * o; out = y @ Wo.
 */
import * as tf from '@tensorflow/tfjs';
import { applyRope, ropeTables } from '../../ops/rope.ts';
import * as ret from '../../ops/retention.ts';
import * as retKey from '../../ops/retention-key.ts';
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
  type Mixer,
  type MixerContext,
  type MixerOptions,
  type MixerState,
  type StepOptions,
} from './common.ts';

export type RetForm = Form;

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
  readonly ropeFreqs: RetnetSpec['ropeFreqs'];
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
    this.headNorm = spec.headNorm;
    this.headNormEps = spec.headNormEps;
    this.retScale = spec.retScale;
    this.rope = spec.kind === 'retnet' || spec.rope;
    this.ropeFreqs = spec.ropeFreqs;
    this.ropeBase = spec.ropeBase;
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

  /** q, kt (beta folded in), v [B, H, T, .], a, and the z-recurrence inputs for decaySqrt. */
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
    return { q, kt, v, a, beta, B, T };
  }

  /** Core o [B, H, T, dv] (and final state when wanted) in the given form. */
  core(q: tf.Tensor, kt: tf.Tensor, v: tf.Tensor, a: tf.Tensor, form: RetForm | 'prefill'): { o: tf.Tensor; state?: tf.Tensor } {
    const ops = this.perKey
      ? { par: retKey.retentionKeyParallel, chunk: retKey.retentionKeyChunk, rec: retKey.retentionKeyRecurrent }
      : { par: ret.retentionParallel, chunk: ret.retentionChunk, rec: ret.retentionRecurrent };
    const extra = this.perKey && this.spec.kind === 'selret' ? { intraMode: this.spec.intraMode, aMin: this.spec.aMin } : {};
    if (form === 'parallel') return { o: asO(ops.par(q as never, kt as never, v as never, a as never)) };
    if (form === 'recurrent') return ops.rec(q as never, kt as never, v as never, a as never) as { o: tf.Tensor; state: tf.Tensor };
    return ops.chunk(q as never, kt as never, v as never, a as never, { chunk: this.chunk, ...extra } as never) as {
      o: tf.Tensor;
      state: tf.Tensor;
    };
  }

  /** decaySqrt: z_t = exp(a_t) z_{t-1} + beta_t is a retention with dk = dv = 1 and q = v = 1. */
  private zInputs(beta: tf.Tensor | undefined, a: tf.Tensor): [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor] {
    if (this.perKey) throw new Error("retScale 'decaySqrt' needs a scalar decay (granularity 'head')");
    const one = tf.onesLike(a).expandDims(-1);
    return [one, beta ? beta.expandDims(-1) : one, one, a];
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
  coreOutput(u: tf.Tensor3D, form?: RetForm): tf.Tensor {
    const { q, kt, v, a, beta, T } = this.inputs(u, 0);
    const f = form ?? this.form;
    let { o } = this.core(q, kt, v, a, f);
    if (this.retScale === 'decaySqrt') {
      const [zq, zk, zv, za] = this.zInputs(beta, a);
      o = o.div(tf.sqrt(this.core(zq, zk, zv, za, f).o));
    }
    return o;
  }

  forward(u: tf.Tensor3D, opts?: MixerOptions): { y: tf.Tensor3D } {
    const { q, kt, v, a, beta, T } = this.inputs(u, 0, opts?.keep);
    const form = this.form;
    let { o } = this.core(q, kt, v, a, form);
    if (this.retScale === 'decaySqrt') {
      const [zq, zk, zv, za] = this.zInputs(beta, a);
      o = o.div(tf.sqrt(this.core(zq, zk, zv, za, form).o));
    }
    return { y: this.output(o, u) };
  }

  prefill(u: tf.Tensor3D, opts?: MixerOptions): { y: tf.Tensor3D; state: MixerState } {
    const { q, kt, v, a, beta } = this.inputs(u, 0, opts?.keep);
    const r = this.core(q, kt, v, a, 'prefill');
    let o = r.o;
    const state: MixerState = { S: r.state! };
    if (this.retScale === 'decaySqrt') {
      const [zq, zk, zv, za] = this.zInputs(beta, a);
      const z = this.core(zq, zk, zv, za, 'prefill');
      o = o.div(tf.sqrt(z.o));
      state.z = z.state!;
    }
    return { y: this.output(o, u), state };
  }

  step(u: tf.Tensor2D, state: MixerState, pos: number, opts?: StepOptions): { y: tf.Tensor2D; state: MixerState } {
    const B = u.shape[0];
    const u3 = u.reshape([B, 1, -1]) as tf.Tensor3D;
    const { q, kt, v, a, beta } = this.inputs(u3, pos, opts?.keep?.reshape([B, 1]) as tf.Tensor2D | undefined);
    const sq = (x: tf.Tensor) => x.squeeze([2]); // drop T = 1
    const stepFn = this.perKey ? retKey.retentionKeyStep : ret.retentionStep;
    const r = stepFn(sq(q) as never, sq(kt) as never, sq(v) as never, sq(a) as never, state.S as never) as { o: tf.Tensor; state: tf.Tensor };
    let o = r.o.expandDims(2); // [B, H, 1, dv]
    const next: MixerState = { S: r.state };
    if (this.retScale === 'decaySqrt') {
      const [zq, zk, zv, za] = this.zInputs(beta, a);
      const z = ret.retentionStep(sq(zq) as never, sq(zk) as never, sq(zv) as never, sq(za) as never, state.z as never) as {
        o: tf.Tensor;
        state: tf.Tensor;
      };
      o = o.div(tf.sqrt(z.o.expandDims(2)));
      next.z = z.state;
    }
    return { y: this.output(o, u3).reshape([B, -1]) as tf.Tensor2D, state: next };
  }

  emptyState(batch: number): MixerState {
    const s: MixerState = { S: tf.zeros([batch, this.H, this.dk, this.dv]) };
    if (this.retScale === 'decaySqrt') s.z = tf.zeros([batch, this.H, 1, 1]);
    return s;
  }
}

function asO(r: unknown): tf.Tensor {
  return r instanceof tf.Tensor ? r : (r as { o: tf.Tensor }).o;
}

/** The RetNet mixer (fixed multi-scale decays). */
export class RetNet extends MultiScaleRetention {}
