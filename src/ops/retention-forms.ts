/**
 * The retention form dispatcher: one entry point for every form of the scalar-decay
 * (retention.ts) and per-key-decay (retention-key.ts) cores, chosen by `form` and by the rank of
 * the log-decay a ([B, H, T] scalar per head, [B, H, T, dk] per key). Every form computes the
 * same function; they differ in cost.
 */
import * as tf from '@tensorflow/tfjs';
import { retentionChunk, retentionParallel, retentionRecurrent, type RetentionFn, type RetentionOutput } from './retention.ts';
import { retentionKeyChunk, retentionKeyParallel, type RetentionKeyOpts } from './retention-key.ts';

export type RetentionFormName = 'parallel' | 'chunk' | 'recurrent';

const SCALAR: Record<RetentionFormName, RetentionFn> = {
  parallel: retentionParallel,
  chunk: retentionChunk,
  recurrent: retentionRecurrent,
};
const PER_KEY: Record<RetentionFormName, RetentionFn<RetentionKeyOpts>> = {
  parallel: retentionKeyParallel,
  chunk: retentionKeyChunk,
  recurrent: retentionRecurrent,
};

/** o [B, H, T, dv] (and the final state when opts.outputFinalState) in the given form. */
export function retention(
  form: RetentionFormName,
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  a: tf.Tensor,
  opts?: RetentionKeyOpts,
): RetentionOutput {
  return (a.rank === 4 ? PER_KEY : SCALAR)[form](q, k, v, a, opts);
}

/**
 * retScale 'decaySqrt' (docs/models.md 3.4, 5.7): z_t = exp(a_t) z_{t-1} + beta_t with z_{-1} = z0
 * (default 0), and the output is divided by sqrt(z_t). z is itself a scalar-decay retention with
 * dk = dv = 1 (q = v = 1, k = beta), so it runs through the same form and matches every form
 * exactly. a, beta: [B, H, T] (beta defaults to 1); state z [B, H, 1, 1].
 */
export function decaySqrtNormalizer(
  form: RetentionFormName,
  a: tf.Tensor,
  beta: tf.Tensor | undefined,
  opts: { chunk?: number; initialState?: tf.Tensor; outputFinalState?: boolean } = {},
): { z: tf.Tensor4D; state?: tf.Tensor4D } {
  return tf.tidy(() => {
    const [B, H, T] = a.shape;
    const ones = tf.ones([B, H, T, 1]);
    const r = SCALAR[form](ones, beta ? beta.reshape([B, H, T, 1]) : ones, ones, a, opts);
    return r.state ? { z: r.o, state: r.state } : { z: r.o };
  });
}
