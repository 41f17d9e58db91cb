/**
 * Parallel branches in one layer (Hymba-like, docs/models.md 6.3): every branch reads the same u and
 * produces y_b [B, T, d]; each is RMS-normalized with its own weight (Hymba's beta_b) and the
 * results are merged by a mean, a static softmax gate, or a per-token softmax gate.
 * Branch widths (heads, dvt, expand) are already scaled by width_scale in the resolved spec.
 */
import * as tf from '@tensorflow/tfjs';
import { zeros } from '../init.ts';
import type { ParallelSpec } from '../resolved.ts';
import { Norm } from '../shell.ts';
import {
  prefixState,
  unprefixState,
  type Mixer,
  type MixerContext,
  type MixerOptions,
  type MixerState,
  type StepOptions,
} from './common.ts';

export type MergeKind = 'normMean' | 'normGateStatic' | 'normGateToken';

export class ParallelMixer implements Mixer {
  readonly branches: Mixer[];
  readonly norms: Norm[];
  readonly merge: MergeKind;
  private readonly alpha?: tf.Variable;
  private readonly wLam?: tf.Variable;
  private readonly bLam?: tf.Variable;

  constructor(spec: ParallelSpec, ctx: MixerContext) {
    const branchSpecs = spec.branches;
    this.merge = spec.merge;
    this.branches = branchSpecs.map((b, i) => ctx.build(b, { ...ctx, params: ctx.params.scope(`branches.${i}.`) }));
    this.norms = branchSpecs.map((_, i) => new Norm(ctx.params.scope(`norms.${i}.`), ctx.d, 'rms', ctx.normEps));
    const nb = branchSpecs.length;
    if (this.merge === 'normGateStatic') this.alpha = ctx.params.create('alpha', [nb], zeros);
    if (this.merge === 'normGateToken') {
      this.wLam = ctx.params.create('w_lam', [ctx.d, nb], zeros);
      this.bLam = ctx.params.create('b_lam', [nb], zeros);
    }
  }

  /** ys: nb x [..., d]; u [..., d] -> merged [..., d]. Per token, so decode == forward. */
  private combine(ys: tf.Tensor[], u: tf.Tensor): tf.Tensor {
    const normed = ys.map((y, i) => this.norms[i].apply(y));
    const nb = ys.length;
    if (this.merge === 'normMean') return tf.addN(normed).div(nb);
    const stacked = tf.stack(normed, -1); // [..., d, nb]
    let lam: tf.Tensor;
    if (this.merge === 'normGateStatic') lam = tf.softmax(this.alpha!);
    else {
      const logits = tf.matMul(u.reshape([-1, u.shape[u.rank - 1]]), this.wLam!).add(this.bLam!);
      lam = tf.softmax(logits).reshape([...u.shape.slice(0, -1), 1, nb]);
    }
    return stacked.mul(lam).sum(-1);
  }

  forward(u: tf.Tensor3D, opts?: MixerOptions): { y: tf.Tensor3D } {
    const ys = this.branches.map((b) => b.forward(u, opts).y);
    return { y: this.combine(ys, u) as tf.Tensor3D };
  }

  prefill(u: tf.Tensor3D, opts?: MixerOptions): { y: tf.Tensor3D; state: MixerState } {
    const rs = this.branches.map((b) => b.prefill(u, opts));
    const state = Object.assign({}, ...rs.map((r, i) => prefixState(`b${i}.`, r.state))) as MixerState;
    return {
      y: this.combine(
        rs.map((r) => r.y),
        u,
      ) as tf.Tensor3D,
      state,
    };
  }

  step(u: tf.Tensor2D, state: MixerState, pos: number, opts?: StepOptions): { y: tf.Tensor2D; state: MixerState } {
    const rs = this.branches.map((b, i) => b.step(u, unprefixState(`b${i}.`, state), pos, opts));
    const next = Object.assign({}, ...rs.map((r, i) => prefixState(`b${i}.`, r.state))) as MixerState;
    return {
      y: this.combine(
        rs.map((r) => r.y),
        u,
      ) as tf.Tensor2D,
      state: next,
    };
  }

  emptyState(batch: number): MixerState {
    return Object.assign({}, ...this.branches.map((b, i) => prefixState(`b${i}.`, b.emptyState(batch)))) as MixerState;
  }
}
