/**
 * Per-key-dimension decay retention (GLA-style, docs/models.md 5.6).
 * S_t = exp(a_t)[:, None] * S_{t-1} + outer(k_t, v_t);  o_t = q_t @ S_t.
 * Shapes: q, k, a [B, H, T, dk] (a <= 0, beta folded into k); v [B, H, T, dv]; S [B, H, dk, dv].
 * Same signature as the scalar forms of retention.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { cumsum } from '../backend/compat.ts';
import { causalMask, decayMatrix, maskedExp } from './mask.ts';
import { boundaryTerms, output, padTime, type RetentionOpts, type RetentionOutput } from './retention.ts';

export type KeyIntraMode = 'pairwise' | 'factorized';

export interface RetentionKeyOpts extends RetentionOpts {
  /**
   * 'pairwise' (default, exact for any a): [C, C, dk] masked exponent tensor reduced over dk.
   * 'factorized': (q * exp(g)) @ (k * exp(-g))^T; exp(-g) overflows unless chunk * |aMin| <= 60.
   */
  intraMode?: KeyIntraMode;
  /** The caller's clamp of a (docs/models.md 5.2 aMin); when given, 'factorized' checks chunk * |aMin| <= 60. */
  aMin?: number;
}

/** Parallel form (a [T, T, dk] tensor per head: oracle/testing only). */
export function retentionKeyParallel(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, a: tf.Tensor, opts?: RetentionKeyOpts): RetentionOutput {
  return tf.tidy(() => {
    const [B, H, T] = q.shape;
    const dv = v.shape[3]!;
    const M = decayMatrix(a.transpose([0, 1, 3, 2])); // [B, H, dk, T, T]
    const qT = q.transpose([0, 1, 3, 2]).expandDims(4); // [B, H, dk, T, 1]
    const kT = k.transpose([0, 1, 3, 2]).expandDims(3); // [B, H, dk, 1, T]
    const A = tf.sum(tf.mul(tf.mul(qT, kT), M), 2).reshape([B * H, T, T]);
    let o = tf.matMul(A, v.reshape([B * H, T, dv])).reshape([B, H, T, dv]);
    if (!opts?.initialState && !opts?.outputFinalState) return { o: o as tf.Tensor4D };
    const { oInit, state } = boundaryTerms(q, k, v, cumsum(a, 2), opts);
    if (oInit) o = tf.add(o, oInit);
    return output(o, state, opts);
  });
}

/** Chunkwise form (SD-CHUNK with per-key decays; sequential state passing over chunks). */
export function retentionKeyChunk(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, a: tf.Tensor, opts?: RetentionKeyOpts): RetentionOutput {
  const mode = opts?.intraMode ?? 'pairwise';
  const C0 = Math.max(1, Math.min(opts?.chunk ?? 64, q.shape[2]!));
  if (mode === 'factorized' && opts?.aMin !== undefined && C0 * Math.abs(opts.aMin) > 60) {
    throw new Error(
      `retentionKeyChunk: factorized intra mode needs chunk * |aMin| <= 60 (got ${C0} * ${Math.abs(opts.aMin)}); use 'pairwise'`,
    );
  }
  return tf.tidy(() => {
    const [B, H, T, dk] = q.shape;
    const dv = v.shape[3]!;
    const C = C0;
    const nc = Math.ceil(T / C);
    const Tp = nc * C;
    const n = B * H * nc;
    const qc = padTime(q, Tp).reshape([B, H, nc, C, dk]);
    const kc = padTime(k, Tp).reshape([B, H, nc, C, dk]);
    const vc = padTime(v, Tp).reshape([n, C, dv]);
    const g = cumsum(padTime(a, Tp).reshape([B, H, nc, C, dk]), 3); // chunk-local cumsum (N3)
    const gl = g.slice([0, 0, 0, C - 1, 0], [B, H, nc, 1, dk]); // [B, H, nc, 1, dk]

    let Ai: tf.Tensor; // [n, C, C]
    if (mode === 'pairwise') {
      const diff = tf.sub(g.expandDims(4), g.expandDims(3)); // [B, H, nc, C(i), C(j), dk]
      const E = maskedExp(diff, causalMask(C).reshape([C, C, 1]));
      Ai = tf.sum(tf.mul(tf.mul(qc.expandDims(4), kc.expandDims(3)), E), 5).reshape([n, C, C]);
    } else {
      const qg = tf.mul(qc, tf.exp(g)).reshape([n, C, dk]);
      const kg = tf.mul(kc, tf.exp(tf.neg(g))).reshape([n, C, dk]);
      Ai = tf.mul(tf.matMul(qg, kg, false, true), causalMask(C));
    }
    const oIntra = tf.matMul(Ai, vc); // [n, C, dv]

    const kw = tf.mul(kc, tf.exp(tf.sub(gl, g))).reshape([n, C, dk]);
    const U = tf.matMul(kw, vc, true, false).reshape([B, H, nc, dk, dv]);
    const decay = tf.exp(gl).reshape([B, H, nc, dk, 1]);
    const Us = tf.unstack(U, 2);
    const ds = tf.unstack(decay, 2);
    let S: tf.Tensor = opts?.initialState ?? tf.zeros([B, H, dk, dv]);
    const Sin: tf.Tensor[] = [];
    for (let c = 0; c < nc; c++) {
      Sin.push(S);
      S = tf.add(tf.mul(ds[c], S), Us[c]);
    }
    const qe = tf.mul(qc, tf.exp(g)).reshape([n, C, dk]);
    const oInter = tf.matMul(qe, tf.stack(Sin, 2).reshape([n, dk, dv]));
    const o = tf.add(oIntra, oInter).reshape([B, H, Tp, dv]);
    return output(Tp === T ? o : o.slice([0, 0, 0, 0], [B, H, T, dv]), S, opts);
  });
}

/**
 * Decode step and recurrent form: the scalar-decay ones of retention.ts, which broadcast a decay
 * of shape [B, H, dk] over the rows of S just as they broadcast [B, H] over the whole of S.
 */
export { retentionStep as retentionKeyStep, retentionRecurrent as retentionKeyRecurrent } from './retention.ts';
