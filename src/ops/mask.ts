/**
 * Causal masks and the "stable segsum" of log-decays (docs/models.md 0.4 N2, 5.4).
 * Every mask is applied in the exponent before exp, so masked entries are exp(NEG) = 0 exactly
 * and no inf * 0 = NaN can appear in values or gradients.
 */
import * as tf from '@tensorflow/tfjs';
import { cumsum } from '../backend/compat.ts';
import { decayFusedAvailable, decayMatrixFused } from '../native/decay.ts';

/** Finite "minus infinity": exp(NEG) is exactly 0 in float32 (test T15), and NEG * 0 stays finite. */
export const NEG = -1e4;

/** [T, T] float 0/1 mask, 1 where s <= t (row t = query position, column s = key position). */
export function causalMask(T: number, strict = false): tf.Tensor2D {
  return tf.tidy(() => {
    const t = tf.range(0, T, 1, 'int32').reshape([T, 1]);
    const s = tf.range(0, T, 1, 'int32').reshape([1, T]);
    return (strict ? tf.greater(t, s) : tf.greaterEqual(t, s)).cast('float32') as tf.Tensor2D;
  });
}

/** [T, T] bool, true where query t may see key s (s <= t): attention's causal mask. */
export function causalAllowed(T: number): tf.Tensor2D {
  return tf.tidy(() => {
    const t = tf.range(0, T, 1, 'int32').reshape([T, 1]);
    const s = tf.range(0, T, 1, 'int32').reshape([1, T]);
    return tf.lessEqual(s, t) as tf.Tensor2D;
  });
}

/**
 * exp(x) where mask01 = 1 and exactly 0 where mask01 = 0, for finite x of any sign.
 * x * mask zeroes the masked values before the exp (so a positive masked exponent can neither
 * overflow nor leak a gradient), then NEG pushes them to exp(NEG) = 0.
 */
export function maskedExp(x: tf.Tensor, mask01: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.exp(tf.add(tf.mul(x, mask01), tf.mul(tf.sub(1, mask01), NEG))));
}

/**
 * seg[..., t, s] = sum_{r=s+1..t} a_r for s <= t (0 on the diagonal) and NEG for s > t,
 * built by a cumsum over t of X[t, s] = a_t * [t > s] (no difference of long cumsums, rule N3).
 * a: [..., T] -> [..., T, T]. exp(stableSegsum(a)) is the decay matrix M of docs/models.md 5.4.
 */
export function stableSegsum(a: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const T = a.shape[a.rank - 1];
    // built as [.., s, t] so the cumsum over t runs on the last axis, then transposed to [.., t, s]
    const later = causalMask(T, true).transpose(); // [s, t], 1 where t > s
    const Xst = tf.mul(a.expandDims(-2), later); // [..., T(s), T(t)]: a_t where t > s
    const perm = [...Array(a.rank - 1).keys(), a.rank, a.rank - 1];
    const seg = cumsum(Xst, a.rank).transpose(perm); // [..., T(t), T(s)], 0 where s >= t
    const lower = causalMask(T);
    return tf.add(seg, tf.mul(tf.sub(1, lower), NEG)); // seg is exactly 0 above the diagonal
  });
}

/**
 * The decay matrix M = exp(stableSegsum(a)) of docs/models.md 5.4: a [..., T] -> [..., T, T], 0
 * above the diagonal. One fused native pass where available (src/native/decay.ts), else the
 * tensor form; the same function either way.
 */
export function decayMatrix(a: tf.Tensor): tf.Tensor {
  if (decayFusedAvailable(a)) return decayMatrixFused(a);
  return tf.tidy(() => tf.exp(stableSegsum(a)));
}
