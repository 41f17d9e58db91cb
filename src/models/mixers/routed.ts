/**
 * Token-wise routing between branches (docs/models.md 6.4). Router p_t = softmax(u_t W_r / temperature),
 * W_r init 0. soft: y = sum_b p_b RMS_b(y_b); top1: y = p_b* y_b* with the Switch load-balancing
 * loss. All branches see all tokens unless stateSkip, where a branch absorbs only the tokens routed
 * to it (argmax of p; the decision gets no gradient). Routing reads only u_t: causal, and decode
 * computes the same function as forward.
 */
import * as tf from '@tensorflow/tfjs';
import { zeros } from '../init.ts';
import type { RoutedSpec } from '../resolved.ts';
import { Norm } from '../shell.ts';
import { prefixState, unprefixState, type Mixer, type MixerContext, type MixerState } from './common.ts';

/**
 * Switch Transformer load-balancing loss: coef * nb * sum_b frac_b * meanP_b, with frac_b the share
 * of tokens whose argmax is b and meanP_b the mean router probability. p: [n, nb] (rows sum to 1).
 */
export function switchAuxLoss(p: tf.Tensor2D, coef: number): tf.Scalar {
  return tf.tidy(() => {
    const nb = p.shape[1];
    const frac = tf.oneHot(tf.argMax(p, 1), nb).cast('float32').mean(0); // no gradient (a count)
    return frac
      .mul(p.mean(0))
      .sum()
      .mul(coef * nb) as tf.Scalar;
  });
}

export class RoutedMixer implements Mixer {
  readonly branches: Mixer[];
  readonly norms?: Norm[];
  readonly routing: 'soft' | 'top1';
  readonly temperature: number;
  readonly auxLossCoef: number;
  readonly stateSkip: boolean;
  private readonly wR: tf.Variable;

  constructor(spec: RoutedSpec, ctx: MixerContext) {
    const branchSpecs = spec.branches;
    this.routing = spec.routing;
    this.temperature = spec.temperature;
    this.auxLossCoef = spec.aux_loss_coef;
    this.stateSkip = spec.state_skip;
    this.branches = branchSpecs.map((b, i) => ctx.build(b, { ...ctx, params: ctx.params.scope(`branches.${i}.`) }));
    if (this.routing === 'soft')
      this.norms = branchSpecs.map((_, i) => new Norm(ctx.params.scope(`norms.${i}.`), ctx.d, 'rms', ctx.normEps));
    this.wR = ctx.params.create('w_r', [ctx.d, branchSpecs.length], zeros);
  }

  /** Router probabilities [..., nb] and the hard choice as a one-hot [..., nb] (no gradient). */
  private route(u: tf.Tensor): { p: tf.Tensor; hot: tf.Tensor } {
    const nb = this.branches.length;
    const lead = u.shape.slice(0, -1);
    const logits = tf.matMul(u.reshape([-1, u.shape[u.rank - 1]]), this.wR).div(this.temperature);
    const p = tf.softmax(logits).reshape([...lead, nb]);
    const hot = tf.oneHot(tf.argMax(p, -1), nb).cast('float32');
    return { p, hot };
  }

  private keeps(hot: tf.Tensor): (tf.Tensor | undefined)[] {
    if (!this.stateSkip) return this.branches.map(() => undefined);
    return tf.unstack(hot, hot.rank - 1);
  }

  private combine(ys: tf.Tensor[], p: tf.Tensor, hot: tf.Tensor): tf.Tensor {
    const nb = ys.length;
    const w = this.routing === 'top1' ? p.mul(hot) : p; // top1: p_b* on the chosen branch, 0 elsewhere
    const yb = this.routing === 'soft' ? ys.map((y, i) => this.norms![i].apply(y)) : ys;
    const ws = tf.unstack(w, w.rank - 1);
    return tf.addN(yb.slice(0, nb).map((y, i) => y.mul(ws[i].expandDims(-1))));
  }

  forward(u: tf.Tensor3D): { y: tf.Tensor3D; aux: tf.Scalar } {
    const { p, hot } = this.route(u);
    const keeps = this.keeps(hot);
    const ys = this.branches.map((b, i) => b.forward(u, { keep: keeps[i] as tf.Tensor2D | undefined }).y);
    const aux = switchAuxLoss(p.reshape([-1, this.branches.length]) as tf.Tensor2D, this.auxLossCoef);
    return { y: this.combine(ys, p, hot) as tf.Tensor3D, aux };
  }

  prefill(u: tf.Tensor3D): { y: tf.Tensor3D; state: MixerState } {
    const { p, hot } = this.route(u);
    const keeps = this.keeps(hot);
    const rs = this.branches.map((b, i) => b.prefill(u, { keep: keeps[i] as tf.Tensor2D | undefined }));
    const state = Object.assign({}, ...rs.map((r, i) => prefixState(`b${i}.`, r.state))) as MixerState;
    return {
      y: this.combine(
        rs.map((r) => r.y),
        p,
        hot,
      ) as tf.Tensor3D,
      state,
    };
  }

  step(u: tf.Tensor2D, state: MixerState, pos: number): { y: tf.Tensor2D; state: MixerState } {
    const { p, hot } = this.route(u);
    const keeps = this.keeps(hot);
    const rs = this.branches.map((b, i) => b.step(u, unprefixState(`b${i}.`, state), pos, { keep: keeps[i] as tf.Tensor1D | undefined }));
    const next = Object.assign({}, ...rs.map((r, i) => prefixState(`b${i}.`, r.state))) as MixerState;
    return {
      y: this.combine(
        rs.map((r) => r.y),
        p,
        hot,
      ) as tf.Tensor2D,
      state: next,
    };
  }

  emptyState(batch: number): MixerState {
    return Object.assign({}, ...this.branches.map((b, i) => prefixState(`b${i}.`, b.emptyState(batch)))) as MixerState;
  }
}
