/**
 * The delta rule (DeltaNet: Schlag et al. 2021; chunkwise form of Yang et al. 2024, "Parallelizing
 * Linear Transformers with the Delta Rule over Sequence Length", as in flash-linear-attention's
 * ops/delta_rule). With S [dk, dv] (rows indexed by key dimensions, as in retention.ts):
 *   S_t = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T = S_{t-1} + beta_t k_t (v_t - S_{t-1}^T k_t)^T
 *   o_t = q_t @ S_t
 * Shapes: q, k [B, H, T, dk]; v [B, H, T, dv]; beta [B, H, T] in [0, 1]; S [B, H, dk, dv].
 * Same signature as the retention forms: (q, k, v, beta, {initialState, outputFinalState}) -> {o, state?}.
 */
import * as tf from '@tensorflow/tfjs';
import { causalMask } from './mask.ts';
import { chunkInputs, output, padTime, type RetentionOpts, type RetentionOutput } from './retention.ts';

export type DeltaFormName = 'parallel' | 'chunk' | 'recurrent';

/**
 * (I - N)^{-1} for strictly lower triangular N [n, C, C] (nilpotent: N^C = 0), as the log-depth
 * product prod_{i < ceil(log2 C)} (I + N^(2^i)): 2 (ceil(log2 C) - 1) batched matmuls, no solve.
 */
export function unitLowerInverse(N: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const C = N.shape[1];
    const I = tf.eye(C).expandDims(0);
    if (C === 1) return tf.broadcastTo(I, N.shape) as tf.Tensor3D;
    let P: tf.Tensor = tf.add(I, N);
    let Np: tf.Tensor = N;
    for (let span = 2; span < C; span *= 2) {
      Np = tf.matMul(Np as tf.Tensor3D, Np as tf.Tensor3D); // N^(2^i)
      P = tf.matMul(P as tf.Tensor3D, tf.add(I, Np) as tf.Tensor3D);
    }
    return P as tf.Tensor3D;
  });
}

/**
 * Chunkwise form (WY representation / UT transform). Per chunk of C tokens with K, V, beta:
 *   A = tril(diag(beta) K K^T, -1),  T = (I + A)^{-1} diag(beta),  W = T K,  U = T V
 * then, from the state S entering the chunk:
 *   U' = U - W S,  O = Q S + tril(Q K^T) U',  S <- S + K^T U'.
 * T need not be a multiple of C: the tail is padded with k = v = q = 0, beta = 0 (no write).
 */
export function deltaChunk(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, beta: tf.Tensor, opts?: RetentionOpts): RetentionOutput {
  return tf.tidy(() => {
    const { B, H, T, dk, dv, C, nc, Tp, n, qc, kc, vc } = chunkInputs(q, k, v, opts?.chunk);
    const bc = padTime(beta, Tp).reshape([n, C, 1]);

    const kb = tf.mul(kc, bc); // diag(beta) K
    const A = tf.mul(tf.matMul(kb, kc, false, true), causalMask(C, true)); // strictly lower [n, C, C]
    const Tinv = unitLowerInverse(tf.neg(A) as tf.Tensor3D); // (I + A)^{-1}
    const W = tf.matMul(Tinv, kb); // [n, C, dk]
    const U = tf.matMul(Tinv, tf.mul(vc, bc)); // [n, C, dv]
    const Aqk = tf.mul(tf.matMul(qc, kc, false, true), causalMask(C)); // tril(Q K^T) inclusive

    // Chunk c of [n, C, w] as [BH, C, w]; slices, not unstack: the last chunk's K gets no gradient
    // unless the final state is used, and unstack's gradient cannot stack a missing one.
    const chunkOf = (x: tf.Tensor, c: number) => {
      const w = x.shape[2]!;
      return x
        .reshape([B * H, nc, C, w])
        .slice([0, c, 0, 0], [B * H, 1, C, w])
        .reshape([B * H, C, w]) as tf.Tensor3D;
    };
    let S = (opts?.initialState ?? tf.zeros([B, H, dk, dv])).reshape([B * H, dk, dv]) as tf.Tensor3D;
    const os: tf.Tensor[] = [];
    for (let c = 0; c < nc; c++) {
      const Up = tf.sub(chunkOf(U, c), tf.matMul(chunkOf(W, c), S)) as tf.Tensor3D; // U' = U - W S
      os.push(tf.add(tf.matMul(chunkOf(qc, c), S), tf.matMul(chunkOf(Aqk, c), Up)));
      S = tf.add(S, tf.matMul(chunkOf(kc, c), Up, true, false)) as tf.Tensor3D;
    }
    const o = tf.stack(os, 1).reshape([B, H, Tp, dv]);
    return output(Tp === T ? o : o.slice([0, 0, 0, 0], [B, H, T, dv]), S.reshape([B, H, dk, dv]), opts);
  });
}

/** Parallel form: the chunkwise form with one chunk of the whole sequence (O(T^2) like attention). */
export function deltaParallel(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, beta: tf.Tensor, opts?: RetentionOpts): RetentionOutput {
  return deltaChunk(q, k, v, beta, { ...opts, chunk: q.shape[2]! });
}

/** One step. q, k [B, H, dk]; v [B, H, dv]; beta [B, H]; state [B, H, dk, dv]. */
export function deltaStep(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  beta: tf.Tensor,
  state: tf.Tensor,
): { o: tf.Tensor3D; state: tf.Tensor4D } {
  return tf.tidy(() => {
    const [B, H, dk] = q.shape;
    const dv = v.shape[2]!;
    const S = state.reshape([B * H, dk, dv]) as tf.Tensor3D;
    const kr = k.reshape([B * H, 1, dk]) as tf.Tensor3D;
    const vOld = tf.matMul(kr, S); // k^T S: [BH, 1, dv]
    const delta = tf.mul(tf.sub(v.reshape([B * H, 1, dv]), vOld), beta.reshape([B * H, 1, 1])) as tf.Tensor3D;
    const S1 = tf.add(S, tf.matMul(kr, delta, true, false)) as tf.Tensor3D; // S + beta k (v - k^T S)^T
    const o = tf.matMul(q.reshape([B * H, 1, dk]) as tf.Tensor3D, S1).reshape([B, H, dv]) as tf.Tensor3D;
    return { o, state: S1.reshape([B, H, dk, dv]) as tf.Tensor4D };
  });
}

/** Recurrent form: a loop of deltaStep over T (the decode path). */
export function deltaRecurrent(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, beta: tf.Tensor, opts?: RetentionOpts): RetentionOutput {
  return tf.tidy(() => {
    const [B, H, T, dk] = q.shape;
    const dv = v.shape[3]!;
    let S: tf.Tensor = opts?.initialState ?? tf.zeros([B, H, dk, dv]);
    const [qs, ks, vs, bs] = [tf.unstack(q, 2), tf.unstack(k, 2), tf.unstack(v, 2), tf.unstack(beta, 2)];
    const os: tf.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const r = deltaStep(qs[t], ks[t], vs[t], bs[t], S);
      os.push(r.o);
      S = r.state;
    }
    return output(tf.stack(os, 2), S, opts);
  });
}

const FORMS = { parallel: deltaParallel, chunk: deltaChunk, recurrent: deltaRecurrent } as const;

/** The form dispatcher (every form computes the same function). */
export function deltaRule(
  form: DeltaFormName,
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  beta: tf.Tensor,
  opts?: RetentionOpts,
): RetentionOutput {
  return FORMS[form](q, k, v, beta, opts);
}
