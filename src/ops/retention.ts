/**
 * Scalar-per-head-decay retention core (docs/models.md 3.3, 5.4, 5.5 SD-CHUNK).
 * S_t = exp(a_t) S_{t-1} + outer(k_t, v_t);  o_t = q_t @ S_t.
 * Shapes: q, k [B, H, T, dk]; v [B, H, T, dv]; a [B, H, T] (log-decay <= 0; write strength beta
 * already folded into k); state S [B, H, dk, dv]. RetNet is the case a_t = log gamma_h.
 *
 * Every form has the one signature of flash-linear-attention's ops (q, k, v, log-decay, initial
 * state, output final state): `(q, k, v, a, opts) -> { o, state? }`; retention-forms.ts
 * dispatches on the form (and on per-key decays).
 */
import * as tf from '@tensorflow/tfjs';
import { cumsum } from '../backend/compat.ts';
import { causalMask, decayMatrix, maskedExp } from './mask.ts';
import { retentionFused, retentionFusedAvailable } from '../native/retention.ts';

export type StatePassing = 'matrix' | 'loop';

export interface RetentionOpts {
  /** S_0 [B, H, dk, dv] (default zeros). */
  initialState?: tf.Tensor;
  /** Also return the state after the last token. */
  outputFinalState?: boolean;
  /** Chunk size C of the chunkwise form (default 64). */
  chunk?: number;
  /** Chunk form: 'matrix' (default) one matmul with the chunk-level decay matrix (step 6); 'loop': step 5. */
  statePassing?: StatePassing;
}

export type RetentionOutput = {
  o: tf.Tensor4D; // [B, H, T, dv]
  /** [B, H, dk, dv], when outputFinalState. */
  state?: tf.Tensor4D;
};

/** What every form is: (q, k, v, a, opts) -> { o, state? }. */
export type RetentionFn<O extends RetentionOpts = RetentionOpts> = (
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  a: tf.Tensor,
  opts?: O,
) => RetentionOutput;

/** The (o, state) pair a form returns: the state only when asked for. */
export function output(o: tf.Tensor, state: tf.Tensor | undefined, opts: RetentionOpts | undefined): RetentionOutput {
  return opts?.outputFinalState && state ? { o: o as tf.Tensor4D, state: state as tf.Tensor4D } : { o: o as tf.Tensor4D };
}

/**
 * The parallel form's boundary terms, given the inclusive cumulative log-decay G ([B, H, T, 1]
 * scalar or [B, H, T, dk] per key): o += (q * exp(G)) @ S0 and, when asked for,
 * S_T = exp(G_T) * S0 + (k * exp(G_T - G))^T @ v (rows of S scale with their key's decay).
 */
export function boundaryTerms(
  q: tf.Tensor,
  k: tf.Tensor,
  v: tf.Tensor,
  G: tf.Tensor,
  opts: RetentionOpts | undefined,
): { oInit?: tf.Tensor; state?: tf.Tensor } {
  const [B, H, T, dk] = q.shape as number[];
  const dv = v.shape[3]!;
  const S0 = opts?.initialState;
  const oInit = S0
    ? tf.matMul(tf.mul(q, tf.exp(G)).reshape([B * H, T, dk]), S0.reshape([B * H, dk, dv])).reshape([B, H, T, dv])
    : undefined;
  if (!opts?.outputFinalState) return { oInit };
  const GT = G.slice([0, 0, T - 1, 0], [B, H, 1, G.shape[3]!]); // [B, H, 1, 1 | dk]
  const kw = tf.mul(k, tf.exp(tf.sub(GT, G))).reshape([B * H, T, dk]);
  let state = tf.matMul(kw, v.reshape([B * H, T, dv]), true, false).reshape([B, H, dk, dv]);
  if (S0) state = tf.add(state, tf.mul(tf.exp(GT).reshape([B, H, -1, 1]), S0));
  return { oInit, state };
}

/**
 * Parallel form (O(T^2) memory, like attention): O = ((Q @ K^T) * exp(segsum(a))) @ V, plus the
 * initial state's contribution and the final state in closed form (boundaryTerms).
 */
export function retentionParallel(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, a: tf.Tensor, opts?: RetentionOpts): RetentionOutput {
  return tf.tidy(() => {
    // Without a state to take in or hand on, the fused kernel computes exactly this (src/native/retention.ts).
    if (!opts?.initialState && !opts?.outputFinalState && retentionFusedAvailable(q, k, v, a)) return { o: retentionFused(q, k, v, a) };
    const [B, H, T, dk] = q.shape;
    const dv = v.shape[3]!;
    const M = decayMatrix(a).reshape([B * H, T, T]); // decay matrix, 0 above the diagonal
    const S = tf.matMul(q.reshape([B * H, T, dk]), k.reshape([B * H, T, dk]), false, true); // [BH, T, T]
    let o = tf.matMul(tf.mul(S, M), v.reshape([B * H, T, dv])).reshape([B, H, T, dv]);
    if (!opts?.initialState && !opts?.outputFinalState) return { o: o as tf.Tensor4D };
    const { oInit, state } = boundaryTerms(q, k, v, cumsum(a, 2).expandDims(-1), opts);
    if (oInit) o = tf.add(o, oInit);
    return output(o, state, opts);
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
      const W = decayMatrix(Lp).reshape([B * H, nc + 1, nc + 1]);
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
 * The chunk layout shared by the chunkwise forms: C = min(chunk, T), nc chunks of the time axis
 * padded to Tp = nc * C (docs/models.md N5), and q, k, v as [n = B*H*nc, C, d] chunk batches.
 */
export function chunkInputs(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, chunk = 64) {
  const [B, H, T, dk] = q.shape as [number, number, number, number];
  const dv = v.shape[3]!;
  const C = Math.max(1, Math.min(chunk, T));
  const nc = Math.ceil(T / C);
  const Tp = nc * C;
  const n = B * H * nc;
  const qc = padTime(q, Tp).reshape([n, C, dk]) as tf.Tensor3D;
  const kc = padTime(k, Tp).reshape([n, C, dk]) as tf.Tensor3D;
  const vc = padTime(v, Tp).reshape([n, C, dv]) as tf.Tensor3D;
  return { B, H, T, dk, dv, C, nc, Tp, n, qc, kc, vc };
}

/**
 * Chunkwise form SD-CHUNK (docs/models.md 5.5): intra-chunk parallel + inter-chunk state passing.
 * T need not be a multiple of chunk: q, k, v, a are padded after the projections (N5) and unpadded.
 */
export function retentionChunk(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, a: tf.Tensor, opts?: RetentionOpts): RetentionOutput {
  return tf.tidy(() => {
    const { B, H, T, dk, dv, C, nc, Tp, n, qc, kc, vc } = chunkInputs(q, k, v, opts?.chunk);
    const g = cumsum(padTime(a, Tp).reshape([B, H, nc, C]), 3); // chunk-local inclusive cumsum (N3)
    const gl = g.slice([0, 0, 0, C - 1], [B, H, nc, 1]); // [B, H, nc, 1] total decay per chunk

    // intra-chunk: Mi[i, j] = exp(g_i - g_j) for j <= i
    const Mi = maskedExp(tf.sub(g.expandDims(4), g.expandDims(3)), causalMask(C)).reshape([n, C, C]);
    const oIntra = tf.matMul(tf.mul(tf.matMul(qc, kc, false, true), Mi), vc); // [n, C, dv]

    // chunk-local end states U_c = (k_c * exp(gl - g))^T @ v_c
    const wk = tf.exp(tf.sub(gl, g)).reshape([n, C, 1]);
    const U = tf.matMul(tf.mul(kc, wk), vc, true, false).reshape([B, H, nc, dk, dv]);

    const S0 = opts?.initialState ?? tf.zeros([B, H, dk, dv]);
    const { Sin, last } = passStates(U, gl.reshape([B, H, nc]), S0, opts?.statePassing ?? 'matrix');

    // inter-chunk: (q_c * exp(g_c)) @ Sin_c
    const qg = tf.mul(qc, tf.exp(g).reshape([n, C, 1]));
    const oInter = tf.matMul(qg, Sin.reshape([n, dk, dv]));
    const o = tf.add(oIntra, oInter).reshape([B, H, Tp, dv]);
    return output(Tp === T ? o : o.slice([0, 0, 0, 0], [B, H, T, dv]), last, opts);
  });
}

/**
 * One decode step. q, k [B, H, dk]; v [B, H, dv]; state [B, H, dk, dv]; a [B, H] (per-head decay)
 * or [B, H, dk] (per-key decay, docs/models.md 5.6: row i of S decays with a[i]).
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

/** Recurrent form: a loop of retentionStep over T (the decode path; slow for long T). a: [B, H, T] or [B, H, T, dk]. */
export function retentionRecurrent(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, a: tf.Tensor, opts?: RetentionOpts): RetentionOutput {
  return tf.tidy(() => {
    const [B, H, T, dk] = q.shape;
    const dv = v.shape[3]!;
    let S: tf.Tensor = opts?.initialState ?? tf.zeros([B, H, dk, dv]);
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
    return output(tf.stack(os, 2), S, opts);
  });
}
