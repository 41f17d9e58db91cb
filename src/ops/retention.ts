/**
 * Scalar-per-head-decay retention core (models.md 3.3, 5.4, 5.5 SD-CHUNK).
 * S_t = exp(a_t) S_{t-1} + outer(k_t, v_t);  o_t = q_t @ S_t.
 * Shapes: q, k [B, H, T, dk]; v [B, H, T, dv]; a [B, H, T] (log-decay <= 0; write strength beta
 * already folded into k); state S [B, H, dk, dv]. RetNet is the case a_t = log gamma_h.
 */
import * as tf from '@tensorflow/tfjs';
import { cumsum } from '../backend/compat.ts';
import { causalMask, maskedExp, stableSegsum } from './mask.ts';

export type StatePassing = 'matrix' | 'loop';

export interface RetentionChunkOpts {
  chunk: number;
  state0?: tf.Tensor4D;
  /** 'matrix' (default): one matmul with the chunk-level decay matrix (step 6); 'loop': step 5. */
  statePassing?: StatePassing;
}

/** Parallel form (O(T^2) memory, like attention): O = ((Q @ K^T) * exp(segsum(a))) @ V. */
export function retentionParallel(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, a: tf.Tensor): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, H, T, dk] = q.shape;
    const dv = v.shape[3]!;
    const M = tf.exp(stableSegsum(a)).reshape([B * H, T, T]); // decay matrix, 0 above the diagonal
    const S = tf.matMul(q.reshape([B * H, T, dk]), k.reshape([B * H, T, dk]), false, true); // [BH, T, T]
    return tf.matMul(tf.mul(S, M), v.reshape([B * H, T, dv])).reshape([B, H, T, dv]) as tf.Tensor4D;
  });
}

/** Pad axis 2 (time) of a [B, H, T, ...] tensor with zeros to length Tp (rule N5: q = k = v = 0, a = 0). */
export function padTime(x: tf.Tensor, Tp: number, axis = 2): tf.Tensor {
  const T = x.shape[axis]!;
  if (Tp === T) return x.clone();
  const p: Array<[number, number]> = x.shape.map(() => [0, 0] as [number, number]);
  p[axis] = [0, Tp - T];
  return tf.pad(x, p);
}

/**
 * Chunk-level state passing (SD-CHUNK steps 5/6). U: [B, H, nc, dk, dv] chunk-local end states,
 * gl: [B, H, nc] total log-decay of each chunk, S0: [B, H, dk, dv].
 * Returns Sin [B, H, nc, dk, dv] (state entering each chunk) and the final state [B, H, dk, dv].
 */
export function passStates(
  U: tf.Tensor,
  gl: tf.Tensor,
  S0: tf.Tensor,
  mode: StatePassing = 'matrix',
): { Sin: tf.Tensor; last: tf.Tensor4D } {
  return tf.tidy(() => {
    const [B, H, nc, dk, dv] = U.shape;
    if (mode === 'matrix') {
      // Z = W @ [S0, U_0, .., U_{nc-1}], W = exp(segsum([0, gl_0, .., gl_{nc-1}])), lower triangular
      const Lp = tf.concat([tf.zeros([B, H, 1]), gl], 2); // [B, H, nc+1]
      const W = tf.exp(stableSegsum(Lp)).reshape([B * H, nc + 1, nc + 1]);
      const X = tf.concat([S0.reshape([B, H, 1, dk * dv]), U.reshape([B, H, nc, dk * dv])], 2);
      const Z = tf.matMul(W, X.reshape([B * H, nc + 1, dk * dv])).reshape([B, H, nc + 1, dk, dv]);
      return {
        Sin: Z.slice([0, 0, 0, 0, 0], [B, H, nc, dk, dv]),
        last: Z.slice([0, 0, nc, 0, 0], [B, H, 1, dk, dv]).reshape([B, H, dk, dv]) as tf.Tensor4D,
      };
    }
    const decay = tf.exp(gl); // [B, H, nc]
    const Us = tf.unstack(U, 2); // nc x [B, H, dk, dv]
    const ds = tf.unstack(decay, 2); // nc x [B, H]
    let S = S0;
    const Sin: tf.Tensor[] = [];
    for (let c = 0; c < nc; c++) {
      Sin.push(S);
      S = tf.add(tf.mul(S, ds[c].reshape([B, H, 1, 1])), Us[c]);
    }
    return { Sin: tf.stack(Sin, 2), last: S as tf.Tensor4D };
  });
}

/**
 * Chunkwise form SD-CHUNK (models.md 5.5): intra-chunk parallel + inter-chunk state passing.
 * T need not be a multiple of chunk: q, k, v, a are padded after the projections (N5) and unpadded.
 */
export function retentionChunk(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  a: tf.Tensor,
  opts: RetentionChunkOpts,
): { o: tf.Tensor4D; state: tf.Tensor4D } {
  return tf.tidy(() => {
    const [B, H, T, dk] = q.shape;
    const dv = v.shape[3]!;
    const C = Math.max(1, Math.min(opts.chunk, T));
    const nc = Math.ceil(T / C);
    const Tp = nc * C;
    const n = B * H * nc;
    const qc = padTime(q, Tp).reshape([n, C, dk]);
    const kc = padTime(k, Tp).reshape([n, C, dk]);
    const vc = padTime(v, Tp).reshape([n, C, dv]);
    const g = cumsum(padTime(a, Tp).reshape([B, H, nc, C]), 3); // chunk-local inclusive cumsum (N3)
    const gl = g.slice([0, 0, 0, C - 1], [B, H, nc, 1]); // [B, H, nc, 1] total decay per chunk

    // intra-chunk: Mi[i, j] = exp(g_i - g_j) for j <= i
    const Mi = maskedExp(tf.sub(g.expandDims(4), g.expandDims(3)), causalMask(C)).reshape([n, C, C]);
    const oIntra = tf.matMul(tf.mul(tf.matMul(qc, kc, false, true), Mi), vc); // [n, C, dv]

    // chunk-local end states U_c = (k_c * exp(gl - g))^T @ v_c
    const wk = tf.exp(tf.sub(gl, g)).reshape([n, C, 1]);
    const U = tf.matMul(tf.mul(kc, wk), vc, true, false).reshape([B, H, nc, dk, dv]);

    const S0 = opts.state0 ?? tf.zeros([B, H, dk, dv]);
    const { Sin, last } = passStates(U, gl.reshape([B, H, nc]), S0, opts.statePassing ?? 'matrix');

    // inter-chunk: (q_c * exp(g_c)) @ Sin_c
    const qg = tf.mul(qc, tf.exp(g).reshape([n, C, 1]));
    const oInter = tf.matMul(qg, Sin.reshape([n, dk, dv]));
    const o = tf.add(oIntra, oInter).reshape([B, H, Tp, dv]);
    return { o: (Tp === T ? o : o.slice([0, 0, 0, 0], [B, H, T, dv])) as tf.Tensor4D, state: last };
  });
}

/**
 * One decode step. q, k [B, H, dk]; v [B, H, dv]; state [B, H, dk, dv]; a [B, H] (per-head decay)
 * or [B, H, dk] (per-key decay, models.md 5.6: row i of S decays with a[i]).
 */
export function retentionStep(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  a: tf.Tensor,
  state: tf.Tensor,
): { o: tf.Tensor3D; state: tf.Tensor4D } {
  return tf.tidy(() => {
    const [B, H, dk] = q.shape;
    const dv = v.shape[2]!;
    const S = tf.add(
      tf.mul(tf.exp(a).reshape([B, H, -1, 1]), state),
      tf.mul(k.reshape([B, H, dk, 1]), v.reshape([B, H, 1, dv])),
    ) as tf.Tensor4D;
    const o = tf.matMul(q.reshape([B * H, 1, dk]), S.reshape([B * H, dk, dv])).reshape([B, H, dv]) as tf.Tensor3D;
    return { o, state: S };
  });
}

/** Recurrent form: a loop of retentionStep over T (decode reference; slow by design). a: [B, H, T] or [B, H, T, dk]. */
export function retentionRecurrent(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  a: tf.Tensor,
  state0?: tf.Tensor,
): { o: tf.Tensor4D; state: tf.Tensor4D } {
  return tf.tidy(() => {
    const [B, H, T, dk] = q.shape;
    const dv = v.shape[3]!;
    let S: tf.Tensor = state0 ?? tf.zeros([B, H, dk, dv]);
    const qs = tf.unstack(q, 2);
    const ks = tf.unstack(k, 2);
    const vs = tf.unstack(v, 2);
    const as = tf.unstack(a, 2);
    const os: tf.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const r = retentionStep(qs[t], ks[t], vs[t], as[t], S);
      os.push(r.o);
      S = r.state;
    }
    return { o: tf.stack(os, 2) as tf.Tensor4D, state: S as tf.Tensor4D };
  });
}

/**
 * retScale 'decaySqrt' (models.md 3.4, 5.7): c_t = z_t^(-1/2) with z_t = exp(a_t) z_{t-1} + beta_t,
 * z_{-1} = z0 (default 0). z is itself a scalar-decay retention with dk = dv = 1 (q = v = 1,
 * k = beta), so it is computed by the same chunk algorithm and matches every form exactly.
 * a, beta: [B, H, T] (beta defaults to 1); z0: [B, H]. Returns scale [B, H, T] and the final z [B, H].
 */
export function decaySqrtScale(
  a: tf.Tensor,
  beta?: tf.Tensor,
  opts: { chunk?: number; z0?: tf.Tensor } = {},
): { scale: tf.Tensor3D; z: tf.Tensor2D } {
  return tf.tidy(() => {
    const [B, H, T] = a.shape;
    const ones = tf.ones([B, H, T, 1]);
    const kb = beta ? beta.reshape([B, H, T, 1]) : ones;
    const state0 = opts.z0 ? (opts.z0.reshape([B, H, 1, 1]) as tf.Tensor4D) : undefined;
    const { o, state } = retentionChunk(ones, kb, ones, a, { chunk: opts.chunk ?? 64, state0 });
    return { scale: tf.rsqrt(o.reshape([B, H, T])) as tf.Tensor3D, z: state.reshape([B, H]) as tf.Tensor2D };
  });
}
