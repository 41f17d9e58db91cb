/**
 * Rotary position encoding, normative interleaved-pair form of docs/models.md 1.4:
 * rope(x, p) = x * COS[p] + swapPairs(x) * SIN[p], swapPairs(x) = x @ Psw.
 */
import * as tf from '@tensorflow/tfjs';
import { ropeFused, ropeFusedAvailable } from '../native/rope.ts';

export type RopeFreqs = 'standard' | 'torchscale';

/** theta_i, i = 0..m/2-1 (float64). */
export function ropeThetas(m: number, freqs: RopeFreqs, base = 10000): Float64Array {
  if (m % 2 !== 0 || m <= 0) throw new Error(`rope: head width must be even and positive, got ${m}`);
  const half = m / 2;
  const th = new Float64Array(half);
  for (let i = 0; i < half; i++) {
    // torchscale: base^(-linspace(0, 1, m/2)); linspace with one point is [0], so th_0 = 1 for m = 2
    const e = freqs === 'standard' ? (2 * i) / m : half === 1 ? 0 : i / (half - 1);
    th[i] = base ** -e;
  }
  return th;
}

/** COS/SIN tables [T, m] for positions start..start+T-1, each pair's entry duplicated. */
export function ropeTables(start: number, T: number, m: number, freqs: RopeFreqs, base = 10000): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const th = ropeThetas(m, freqs, base);
  const cos = new Float32Array(T * m);
  const sin = new Float32Array(T * m);
  for (let t = 0; t < T; t++) {
    const p = start + t;
    for (let i = 0; i < m / 2; i++) {
      const ang = p * th[i]; // float64 angle, rounded once: tables agree across start offsets
      const c = Math.cos(ang);
      const s = Math.sin(ang);
      cos[t * m + 2 * i] = c;
      cos[t * m + 2 * i + 1] = c;
      sin[t * m + 2 * i] = s;
      sin[t * m + 2 * i + 1] = s;
    }
  }
  return { cos: tf.tensor2d(cos, [T, m]), sin: tf.tensor2d(sin, [T, m]) };
}

/** Psw [m, m]: (x @ Psw)[2i] = -x[2i+1], (x @ Psw)[2i+1] = x[2i]. */
export function swapPairsMatrix(m: number): tf.Tensor2D {
  const P = new Float32Array(m * m);
  for (let i = 0; i < m / 2; i++) {
    P[(2 * i + 1) * m + 2 * i] = -1;
    P[2 * i * m + 2 * i + 1] = 1;
  }
  return tf.tensor2d(P, [m, m]);
}

/**
 * x: [..., T, m] (e.g. [B, H, T, m]); cos, sin: [T, m] (broadcast over leading dims). On the native
 * backends one pass forward and one (the rotation back) for the gradient (src/native/rope.ts); elsewhere differentiable
 * tensor ops only (reshape, matMul with a constant, element-wise), the same function.
 */
export function applyRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  if (ropeFusedAvailable(x, cos, sin)) return ropeFused(x, cos, sin);
  return tf.tidy(() => {
    const m = x.shape[x.rank - 1];
    const swapped = tf.matMul(x.reshape([-1, m]), swapPairsMatrix(m)).reshape(x.shape);
    return tf.add(tf.mul(x, cos), tf.mul(swapped, sin));
  });
}
