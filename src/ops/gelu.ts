/**
 * The exact GELU, 0.5 x (1 + erf(x / sqrt 2)) (docs/models.md 1.3): one native pass forward and one
 * backward on the wasm and cpu backends with the native kernels (src/native/gelu.ts); elsewhere (or
 * SEQLAB_ELTWISE=off) the tensor form below, the same function.
 */
import * as tf from '@tensorflow/tfjs';
import { geluFused, geluFusedAvailable } from '../native/gelu.ts';

/** GELU(x), fused where the native kernels run, else as tensor ops. */
export function gelu(x: tf.Tensor): tf.Tensor {
  if (geluFusedAvailable(x)) return geluFused(x);
  return x.mul(tf.erf(x.mul(Math.SQRT1_2)).add(1)).mul(0.5);
}
