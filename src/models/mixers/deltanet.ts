/**
 * DeltaNet layer (docs/models.md 16.1; kinds/deltanet.ts): u [B, T, d] -> q, k (L2-normalized per
 * head; q then scaled by dk^-1/2, the reference implementation's default, which the per-head RMS
 * norm does not cancel: 16.1 says why), v, beta = sigmoid(u W_beta) [B, H, T];
 * o = delta rule (ops/delta.ts) in the configured form; y = RMS_head(o) @ Wo.
 * Decode state: S [B, H, dk, dv].
 */
import * as tf from '@tensorflow/tfjs';
import { deltaRule, type DeltaFormName } from '../../ops/delta.ts';
import { normal } from '../init.ts';
import type { DeltanetSpec } from '../kinds/deltanet.ts';
import {
  linear,
  mergeHeads,
  rmsNormalize,
  splitHeads,
  type Mixer,
  type MixerContext,
  type MixerOptions,
  type MixerState,
  type StepOptions,
} from './common.ts';

/** x / ||x|| over the last axis (eps inside the root, as FLA's l2norm). */
const l2Normalize = (x: tf.Tensor): tf.Tensor => x.mul(tf.rsqrt(x.square().sum(-1, true).add(1e-6)));

export class DeltaNet implements Mixer {
  readonly H: number;
  readonly dk: number;
  readonly dv: number;
  private readonly w: Record<string, tf.Variable> = {};

  constructor(
    readonly spec: DeltanetSpec,
    ctx: MixerContext,
  ) {
    const d = ctx.d;
    this.H = spec.heads;
    this.dk = spec.dqk / spec.heads;
    this.dv = spec.dvt / spec.heads;
    const p = ctx.params;
    this.w.w_q = p.create('w_q', [d, spec.dqk], normal(0.02));
    this.w.w_k = p.create('w_k', [d, spec.dqk], normal(0.02));
    this.w.w_v = p.create('w_v', [d, spec.dvt], normal(0.02));
    this.w.w_beta = p.create('w_beta', [d, this.H], normal(0.02));
    this.w.w_o = p.create('w_o', [spec.dvt, d], normal(0.02 / Math.sqrt(2 * ctx.nLayers)));
  }

  /** o [B, H, T, dv] of u [B, T, d] in a form, from `state` when given. */
  private run(u: tf.Tensor3D, form: DeltaFormName, o: { keep?: tf.Tensor2D; state?: MixerState; wantState: boolean }) {
    const q = l2Normalize(splitHeads(linear(u, this.w.w_q), this.H)).mul(1 / Math.sqrt(this.dk));
    const k = l2Normalize(splitHeads(linear(u, this.w.w_k), this.H));
    const v = splitHeads(linear(u, this.w.w_v), this.H);
    let beta = tf.sigmoid(linear(u, this.w.w_beta)).transpose([0, 2, 1]); // [B, H, T]
    // stateSkip (6.4): beta = 0 leaves S unchanged for an unabsorbed token.
    if (o.keep) beta = beta.mul(o.keep.reshape([u.shape[0], 1, u.shape[1]]));
    return deltaRule(form, q, k, v, beta, { chunk: this.spec.chunk, initialState: o.state?.S, outputFinalState: o.wantState });
  }

  private output(o: tf.Tensor): tf.Tensor {
    return linear(mergeHeads(rmsNormalize(o, this.spec.head_norm_eps)), this.w.w_o);
  }

  forward(u: tf.Tensor3D, opts?: MixerOptions): { y: tf.Tensor3D } {
    return { y: this.output(this.run(u, this.spec.form, { keep: opts?.keep, wantState: false }).o) as tf.Tensor3D };
  }

  prefill(u: tf.Tensor3D, opts?: MixerOptions): { y: tf.Tensor3D; state: MixerState } {
    const r = this.run(u, this.spec.form, { keep: opts?.keep, wantState: true });
    return { y: this.output(r.o) as tf.Tensor3D, state: { S: r.state! } };
  }

  step(u: tf.Tensor2D, state: MixerState, _pos: number, opts?: StepOptions): { y: tf.Tensor2D; state: MixerState } {
    const B = u.shape[0];
    const r = this.run(u.reshape([B, 1, -1]) as tf.Tensor3D, 'recurrent', {
      keep: opts?.keep?.reshape([B, 1]) as tf.Tensor2D | undefined,
      state,
      wantState: true,
    });
    return { y: this.output(r.o).reshape([B, -1]) as tf.Tensor2D, state: { S: r.state! } };
  }

  emptyState(batch: number): MixerState {
    return { S: tf.zeros([batch, this.H, this.dk, this.dv]) };
  }
}
