/**
 * Activation checkpointing (Chen et al. 2016, "Training deep nets with sublinear memory cost"):
 * outputs = f(...xs) computed without keeping f's intermediates; the backward pass runs f's
 * forward again from the saved inputs and differentiates that. Same values and gradients, the
 * memory of one block's activations at a time, about one extra forward of compute.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp } from '../backend/custom-op.ts';

/**
 * f(...xs) with recomputation in the backward pass. `weights` must hold every variable f reads
 * (their gradients flow only through this list); f must be deterministic.
 */
export function recomputed(f: (...xs: tf.Tensor[]) => tf.Tensor[], xs: tf.Tensor[], weights: tf.Variable[]): tf.Tensor[] {
  const inputs: Record<string, tf.Tensor> = {};
  xs.forEach((x, i) => (inputs[`x${i}`] = x));
  weights.forEach((w, i) => (inputs[`w${i}`] = w));
  return customOp(
    inputs,
    (save) => {
      save(xs);
      return f(...xs);
    },
    (dys, saved) => {
      const all = [...saved, ...weights];
      // d/d(all) of sum_i <f_i, dy_i>: one vector-Jacobian product of the recomputed forward.
      // The engine runs this nested gradients() on a fresh tape that it disposes and drops at the
      // end (gradient depth is 0 during a backward pass); the outer pass's tape is put back after.
      const state = (tf.engine() as unknown as { state: { activeTape: unknown } }).state;
      const outerTape = state.activeTape;
      let grads: (tf.Tensor | undefined)[];
      try {
        grads = tf.engine().gradients(
          () => {
            const outs = f(...saved);
            return tf.addN(outs.map((o, i) => tf.sum(tf.mul(o, dys[i])))) as tf.Scalar;
          },
          all,
          undefined,
          true,
        ).grads;
      } finally {
        state.activeTape = outerTape;
      }
      const out: Record<string, tf.Tensor> = {};
      all.forEach((t, i) => (out[i < xs.length ? `x${i}` : `w${i - xs.length}`] = grads[i] ?? tf.zerosLike(t)));
      return out;
    },
  );
}
