/**
 * Mamba-2 SSD core (docs/models.md 4.5): SD-CHUNK with q = Cm, k = dt * Bm, v = x (per head), a = dt * A_h,
 * no rotation, no D skip. Per head h (group g(h) = floor(h / (Hm / G))):
 *   S_t = exp(dt_t A_h) S_{t-1} + dt_t outer(Bm_t, x_t^h)   (N x P);  y_t^h = Cm_t @ S_t
 * Shapes: x [B, T, Hm, P]; dt [B, T, Hm]; A [Hm] (< 0); Bm, Cm [B, T, G, N]; state [B, Hm, N, P].
 */
import * as tf from '@tensorflow/tfjs';
import { cumsum } from '../backend/compat.ts';
import { causalMask, maskedExp } from './mask.ts';
import { padTime, passStates, retentionStep } from './retention.ts';

export interface SsdOpts {
  chunk: number;
  state0?: tf.Tensor4D;
}

/** [B, ..., G, N] -> [B, ..., Hm, N]: each group's vector repeated for its Hm / G heads. */
function perHead(t: tf.Tensor, Hm: number): tf.Tensor {
  const s = t.shape;
  const G = s[s.length - 2];
  const N = s[s.length - 1];
  const lead = s.slice(0, -2);
  return tf.mul(t.reshape([...lead, G, 1, N]), tf.ones([G, Hm / G, N])).reshape([...lead, Hm, N]);
}

/** Chunked SSD. The score matrix Cm_c @ Bm_c^T is computed once per group and shared by its heads. */
export function ssdChunk(
  x: tf.Tensor,
  dt: tf.Tensor,
  A: tf.Tensor,
  Bm: tf.Tensor,
  Cm: tf.Tensor,
  opts: SsdOpts,
): { y: tf.Tensor4D; state: tf.Tensor4D } {
  return tf.tidy(() => {
    const [Bsz, T, Hm, P] = x.shape;
    const [, , G, N] = Bm.shape;
    if (Hm % G !== 0) throw new Error(`ssdChunk: heads ${Hm} not divisible by groups ${G}`);
    const hg = Hm / G;
    const C = Math.max(1, Math.min(opts.chunk, T));
    const nc = Math.ceil(T / C);
    const Tp = nc * C;
    const n = Bsz * Hm * nc;
    const xc = padTime(x.transpose([0, 2, 1, 3]), Tp).reshape([n, C, P]); // v
    const dth = padTime(dt.transpose([0, 2, 1]), Tp).reshape([Bsz, G, hg, nc, C]); // write strength (N5: 0)
    const a = tf.mul(dth, A.reshape([1, G, hg, 1, 1]));
    const Bg = padTime(Bm.transpose([0, 2, 1, 3]), Tp).reshape([Bsz, G, 1, nc, C, N]);
    const Cg = padTime(Cm.transpose([0, 2, 1, 3]), Tp).reshape([Bsz, G, 1, nc, C, N]);

    const g = cumsum(a, 4); // [B, G, hg, nc, C] chunk-local
    const gl = g.slice([0, 0, 0, 0, C - 1], [Bsz, G, hg, nc, 1]);

    // intra: (CB^T (shared per group) * Mi (per head) * dt_j) @ x
    const CB = tf.matMul(Cg.reshape([Bsz * G * nc, C, N]), Bg.reshape([Bsz * G * nc, C, N]), false, true).reshape([Bsz, G, 1, nc, C, C]);
    const Mi = maskedExp(tf.sub(g.expandDims(5), g.expandDims(4)), causalMask(C)); // [B, G, hg, nc, C, C]
    const W = tf.mul(tf.mul(CB, Mi), dth.expandDims(4)).reshape([n, C, C]);
    const oIntra = tf.matMul(W, xc); // [n, C, P]

    // chunk-local end states U = (dt * exp(gl - g) * Bm)^T @ x
    const kw = tf.mul(Bg, tf.mul(dth, tf.exp(tf.sub(gl, g))).expandDims(5)).reshape([n, C, N]);
    const U = tf.matMul(kw, xc, true, false).reshape([Bsz, Hm, nc, N, P]);
    const S0 = opts.state0 ?? tf.zeros([Bsz, Hm, N, P]);
    const { Sin, last } = passStates(U, gl.reshape([Bsz, Hm, nc]), S0, 'matrix');

    // inter: (Cm * exp(g)) @ Sin
    const qe = tf.mul(Cg, tf.exp(g).expandDims(5)).reshape([n, C, N]);
    const oInter = tf.matMul(qe, Sin.reshape([n, N, P]));
    let y = tf.add(oIntra, oInter).reshape([Bsz, Hm, Tp, P]);
    if (Tp !== T) y = y.slice([0, 0, 0, 0], [Bsz, Hm, T, P]);
    return { y: y.transpose([0, 2, 1, 3]) as tf.Tensor4D, state: last };
  });
}

/** One decode step. x_t [B, Hm, P]; dt_t [B, Hm]; B_t, C_t [B, G, N]; state [B, Hm, N, P]. */
export function ssdStep(
  x_t: tf.Tensor,
  dt_t: tf.Tensor,
  A: tf.Tensor,
  B_t: tf.Tensor,
  C_t: tf.Tensor,
  state: tf.Tensor,
): { y: tf.Tensor3D; state: tf.Tensor4D } {
  return tf.tidy(() => {
    const [Bsz, Hm] = dt_t.shape;
    const q = perHead(C_t, Hm); // [B, Hm, N]
    const k = tf.mul(perHead(B_t, Hm), dt_t.reshape([Bsz, Hm, 1]));
    const r = retentionStep(q, k, x_t, tf.mul(dt_t, A), state);
    return { y: r.o, state: r.state };
  });
}

/** Recurrent reference: loop of ssdStep over T. Returns y [B, T, Hm, P] and the final state. */
export function ssdRecurrent(
  x: tf.Tensor,
  dt: tf.Tensor,
  A: tf.Tensor,
  Bm: tf.Tensor,
  Cm: tf.Tensor,
  state0?: tf.Tensor,
): { y: tf.Tensor4D; state: tf.Tensor4D } {
  return tf.tidy(() => {
    const [Bsz, T, Hm, P] = x.shape;
    const N = Bm.shape[3]!;
    let S: tf.Tensor = state0 ?? tf.zeros([Bsz, Hm, N, P]);
    const xs = tf.unstack(x, 1);
    const dts = tf.unstack(dt, 1);
    const Bs = tf.unstack(Bm, 1);
    const Cs = tf.unstack(Cm, 1);
    const ys: tf.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const r = ssdStep(xs[t], dts[t], A, Bs[t], Cs[t], S);
      ys.push(r.y);
      S = r.state;
    }
    return { y: tf.stack(ys, 1) as tf.Tensor4D, state: S as tf.Tensor4D };
  });
}
