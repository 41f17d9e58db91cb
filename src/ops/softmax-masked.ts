/**
 * Attention's masked, scaled softmax (docs/models.md 2.1; rule N2 of 0.4):
 *   z = allowed * (scale * s) + (1 - allowed) * NEG,   P = softmax(z) over the last axis,
 * s [B, H, Tq, Tk], allowed 0/1 broadcastable to it (or none). On the wasm and cpu backends with
 * the native addon the forward and its gradient are one pass each (src/native/softmax-masked.ts);
 * elsewhere (or with SEQLAB_ELTWISE=off) the tensor ops below compute the same function.
 */
import * as tf from '@tensorflow/tfjs';
import { maskedSoftmaxFused, maskedSoftmaxFusedAvailable } from '../native/softmax-masked.ts';
import { NEG } from './mask.ts';

/** softmax(allowed ? scale * s : NEG) over the last axis; see the header. */
export function maskedSoftmax(s: tf.Tensor, allowed: tf.Tensor | undefined, scale: number): tf.Tensor {
  if (maskedSoftmaxFusedAvailable(s, allowed)) return maskedSoftmaxFused(s, allowed, scale);
  return tf.tidy(() => {
    let z = s.mul(scale);
    if (allowed) z = z.mul(allowed).add(tf.sub(1, allowed).mul(NEG));
    return tf.softmax(z, -1);
  });
}
