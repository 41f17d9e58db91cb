/**
 * Mamba-2 block (docs/models.md 4.5, init 4.6), after mamba2_simple.py: in_proj [z | x | B | C | dt],
 * causal conv + silu over xBC, SSD core with a scalar decay dt * A_h per SSM head (B, C shared by
 * the heads of a group), + D_h x, gate silu(z) then RMSNorm (gate first), out_proj.
 * Decode state: conv [B, din + 2GN, K] and ssm S [B, Hm, N, P].
 */
import * as tf from '@tensorflow/tfjs';
import { causalConv1d, convState, convStep } from '../../ops/conv.ts';
import { ssdChunk, ssdStep } from '../../ops/ssd.ts';
import { dtBias, logUniformA, ones, scaled, torchLinear, uniform, zeros } from '../init.ts';
import type { Mamba2Spec } from '../kinds/mamba2.ts';
import {
  linear,
  rmsNormalize,
  silu,
  type Mixer,
  type MixerContext,
  type MixerOptions,
  type MixerState,
  type StepOptions,
} from './common.ts';

/** dt init range and floor (mamba2_simple.py defaults; not config fields of mamba2). */
const DT_MIN = 1e-3;
const DT_MAX = 0.1;
const DT_INIT_FLOOR = 1e-4;

export class Mamba2 implements Mixer {
  readonly din: number;
  readonly N: number;
  readonly P: number;
  readonly G: number;
  readonly Hm: number;
  readonly K: number;
  readonly chunk: number;
  readonly normEps: number;
  private readonly w: Record<string, tf.Variable> = {};

  constructor(spec: Mamba2Spec, ctx: MixerContext) {
    const d = ctx.d;
    this.din = spec.d_inner;
    this.N = spec.d_state;
    this.P = spec.head_dim;
    this.G = spec.n_groups;
    this.K = spec.d_conv;
    this.chunk = spec.chunk;
    this.normEps = spec.norm_eps;
    this.Hm = this.din / this.P;
    if (!Number.isInteger(this.Hm) || this.Hm % this.G !== 0)
      throw new Error(
        `mamba2: inner width ${this.din} must be a multiple of head_dim ${this.P} with heads divisible by n_groups ${this.G}`,
      );
    const { din, N, G, Hm, K } = this;
    const convCh = din + 2 * G * N;
    const p = ctx.params;
    const bias = spec.bias;
    const [aLo, aHi] = spec.a_init_range;
    this.w.w_in = p.create('w_in', [d, 2 * din + 2 * G * N + Hm], torchLinear);
    if (bias) this.w.b_in = p.create('b_in', [2 * din + 2 * G * N + Hm], zeros);
    this.w.conv_w = p.create('conv_w', [convCh, K], uniform(1 / Math.sqrt(K)));
    if (spec.conv_bias) this.w.conv_b = p.create('conv_b', [convCh], uniform(1 / Math.sqrt(K)));
    this.w.dt_bias = p.create('dt_bias', [Hm], dtBias(DT_MIN, DT_MAX, DT_INIT_FLOOR));
    this.w.A_log = p.create('A_log', [Hm], logUniformA(aLo, aHi));
    this.w.D = p.create('D', [Hm], ones);
    this.w.norm = p.create('norm.w', [din], ones);
    this.w.w_out = p.create('w_out', [din, d], scaled(torchLinear, 1 / Math.sqrt(ctx.nRes * ctx.nLayers)));
    if (bias) this.w.b_out = p.create('b_out', [d], zeros);
  }

  /** Split the in_proj output along the last axis. */
  private split(zxbcdt: tf.Tensor): { z: tf.Tensor; xBC: tf.Tensor; dtRaw: tf.Tensor } {
    const { din, G, N, Hm } = this;
    const [z, xBC, dtRaw] = tf.split(zxbcdt, [din, din + 2 * G * N, Hm], zxbcdt.rank - 1);
    return { z, xBC, dtRaw };
  }

  /** xBC (post-conv, post-silu) [..., din + 2GN] -> x [..., Hm, P], Bm, Cm [..., G, N]. */
  private heads(xBC: tf.Tensor) {
    const { din, G, N, Hm, P } = this;
    const lead = xBC.shape.slice(0, -1);
    const [x, Bm, Cm] = tf.split(xBC, [din, G * N, G * N], xBC.rank - 1);
    return { x: x.reshape([...lead, Hm, P]), Bm: Bm.reshape([...lead, G, N]), Cm: Cm.reshape([...lead, G, N]) };
  }

  private dt(dtRaw: tf.Tensor, keep?: tf.Tensor): tf.Tensor {
    const dt = tf.softplus(dtRaw.add(this.w.dt_bias));
    return keep ? dt.mul(keep.expandDims(-1)) : dt; // stateSkip: dt = 0 -> decay 1, no write
  }

  /** y [..., Hm, P] (+ D skip) -> gated RMSNorm -> out_proj. */
  private output(y: tf.Tensor, x: tf.Tensor, z: tf.Tensor): tf.Tensor {
    const lead = z.shape.slice(0, -1);
    const yd = y.add(x.mul(this.w.D.reshape([this.Hm, 1]))).reshape([...lead, this.din]);
    const g = rmsNormalize(yd.mul(silu(z)), this.normEps).mul(this.w.norm);
    return linear(g, this.w.w_out, this.w.b_out);
  }

  private run(u: tf.Tensor3D, opts: MixerOptions | undefined) {
    const { z, xBC, dtRaw } = this.split(linear(u, this.w.w_in, this.w.b_in));
    const xc = silu(causalConv1d(xBC, this.w.conv_w, this.w.conv_b));
    const { x, Bm, Cm } = this.heads(xc);
    const dt = this.dt(dtRaw, opts?.keep);
    const A = tf.neg(tf.exp(this.w.A_log));
    const r = ssdChunk(x, dt, A, Bm, Cm, { chunk: this.chunk });
    return { y: this.output(r.y, x, z) as tf.Tensor3D, S: r.state, xBC };
  }

  forward(u: tf.Tensor3D, opts?: MixerOptions): { y: tf.Tensor3D } {
    return { y: this.run(u, opts).y };
  }

  prefill(u: tf.Tensor3D, opts?: MixerOptions): { y: tf.Tensor3D; state: MixerState } {
    const r = this.run(u, opts);
    return { y: r.y, state: { conv: convState(r.xBC, this.K), S: r.S } };
  }

  step(u: tf.Tensor2D, state: MixerState, _pos: number, opts?: StepOptions): { y: tf.Tensor2D; state: MixerState } {
    const { z, xBC, dtRaw } = this.split(linear(u, this.w.w_in, this.w.b_in));
    const c = convStep(xBC, state.conv, this.w.conv_w, this.w.conv_b);
    const { x, Bm, Cm } = this.heads(silu(c.y));
    const dt = this.dt(dtRaw, opts?.keep);
    const r = ssdStep(x, dt, tf.neg(tf.exp(this.w.A_log)), Bm, Cm, state.S);
    return { y: this.output(r.y, x, z) as tf.Tensor2D, state: { conv: c.state, S: r.state } };
  }

  emptyState(batch: number): MixerState {
    return {
      conv: tf.zeros([batch, this.din + 2 * this.G * this.N, this.K]),
      S: tf.zeros([batch, this.Hm, this.N, this.P]),
    };
  }
}
