/**
 * The model shell's norms with their affine weight (docs/models.md 1.2): LayerNorm
 * (x - mu) r w + b and RMSNorm x r w over the last axis, r = 1 / sqrt(mean(xc^2) + eps). On the
 * wasm and cpu backends with the native kernels, one pass forward and one backward
 * (src/native/norm.ts); the tensor form everywhere else (or with SEQLAB_ELTWISE=off), the same function.
 */
import * as tf from '@tensorflow/tfjs';
import { affineNormFused, affineNormFusedAvailable } from '../native/norm.ts';

/** RMS-normalize over the last axis (no affine). */
export function rmsNormalize(x: tf.Tensor, eps: number): tf.Tensor {
  return x.mul(tf.rsqrt(x.square().mean(-1, true).add(eps)));
}

/** LayerNorm over the last axis (no affine). */
export function layerNormalize(x: tf.Tensor, eps: number): tf.Tensor {
  const mu = x.mean(-1, true);
  const xc = x.sub(mu);
  return xc.mul(tf.rsqrt(xc.square().mean(-1, true).add(eps)));
}

/** LayerNorm (b given) or RMSNorm (no b) with weight w [d] over the last axis of x [..., d]. */
export function affineNorm(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | undefined, eps: number): tf.Tensor {
  if (affineNormFusedAvailable(x, w, b)) return affineNormFused(x, w, b, eps);
  return b ? layerNormalize(x, eps).mul(w).add(b) : rmsNormalize(x, eps).mul(w);
}
