/** The training / evaluation loss: summed masked cross-entropy over the scored positions. */
import type * as tf from '@tensorflow/tfjs';
import { sparseCrossEntropy } from '../backend/compat.ts';
import { IGNORE } from '../tasks/types.ts';

export { IGNORE };

/**
 * Sum of -log p(target) in nats over the scored positions of logits [B, T, V] (targets == IGNORE
 * add nothing). compat's one-hot form keeps the gradient working on wasm (no gather).
 */
export function nllSum(logits: tf.Tensor3D, targets: tf.Tensor2D): tf.Scalar {
  return sparseCrossEntropy(logits, targets, IGNORE).sumLoss;
}

export function countScored(targets: Int32Array): number {
  let n = 0;
  for (let i = 0; i < targets.length; i++) if (targets[i] !== IGNORE) n++;
  return n;
}
