/**
 * Mamba causal depthwise conv (docs/models.md 4.1 step 2, 4.3):
 * y_t[c] = b[c] + sum_{j=0}^{K-1} w[c, j] * x_{t-K+1+j}[c], x_{<0} = 0; tap K-1 is the current token.
 */
import * as tf from '@tensorflow/tfjs';

/** x [B, T, C], w [C, K], b [C] -> [B, T, C]. Left-pad K-1 zeros, sum K shifted slices times w[:, j]. */
export function causalConv1d(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, T, C] = x.shape;
    const K = w.shape[1]!;
    const xp = tf.pad(x, [
      [0, 0],
      [K - 1, 0],
      [0, 0],
    ]);
    const taps = tf.unstack(w, 1); // K x [C]
    const terms = taps.map((wj, j) => tf.mul(xp.slice([0, j, 0], [B, T, C]), wj));
    const y = terms.length === 1 ? terms[0] : tf.addN(terms);
    return (b ? tf.add(y, b) : y) as tf.Tensor3D;
  });
}

/** Decode cache after a prefill: the last K pre-conv columns of [zeros(K) | x], oldest first. -> [B, C, K] */
export function convState(x: tf.Tensor, K: number): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, T, C] = x.shape;
    const xp = tf.pad(x, [
      [0, 0],
      [K, 0],
      [0, 0],
    ]);
    return xp.slice([0, T, 0], [B, K, C]).transpose([0, 2, 1]) as tf.Tensor3D;
  });
}

/** One decode step: shift the cache left, append x_t, apply the taps. x_t [B, C], state [B, C, K]. */
export function convStep(x_t: tf.Tensor, state: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): { y: tf.Tensor2D; state: tf.Tensor3D } {
  return tf.tidy(() => {
    const [B, C, K] = state.shape;
    const s = tf.concat([state.slice([0, 0, 1], [B, C, K - 1]), x_t.reshape([B, C, 1])], 2) as tf.Tensor3D;
    const y = tf.sum(tf.mul(s, w), 2);
    return { y: (b ? tf.add(y, b) : y) as tf.Tensor2D, state: s };
  });
}
