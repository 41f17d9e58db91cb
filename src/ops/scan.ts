/**
 * Mamba-1 selective scan (docs/models.md 4.1 steps 7-8, 4.4), without the D skip and the gate:
 *   h_t[d, n] = exp(dt_t[d] A[d, n]) h_{t-1}[d, n] + dt_t[d] x_t[d] Bm_t[n];  y_t[d] = sum_n Cm_t[n] h_t[d, n]
 * Shapes: x, dt [B, T, D]; A [D, N] (< 0); Bm, Cm [B, T, N]; h [B, D, N].
 * The decay differs per (d, n), so no shared decay matrix exists (no SSD trick): every form
 * materializes [.., D, N] states.
 */
import * as tf from '@tensorflow/tfjs';
import { fusedScanStatus, selectiveScanFused } from '../native/scan.ts';

// Contractions with hand-picked primitives per direction: on wasm a broadcast multiply is fast,
// a batched matmul with an inner dim > 1 is fast, but reductions over non-innermost axes (what
// autograd emits for broadcasts) and transposed batched matmuls are slow.

/** outer(u, w)[m, d, n] = u[m, d] * w[m, n]. u [M, D], w [M, N] -> [M, D, N]. */
const outer = tf.customGrad(((u: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
  const [M, D] = u.shape;
  const N = w.shape[1]!;
  save([u, w]);
  return {
    value: tf.mul(u.reshape([M, D, 1]), w.reshape([M, 1, N])),
    gradFunc: (dy: tf.Tensor, [uu, ww]: tf.Tensor[]) => [
      tf.matMul(dy, ww.reshape([M, N, 1])).reshape([M, D]),
      tf.matMul(uu.reshape([M, 1, D]), dy).reshape([M, N]),
    ],
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (u: tf.Tensor, w: tf.Tensor) => tf.Tensor;

/** readout(h, c)[m, d] = sum_n h[m, d, n] c[m, n]. h [M, D, N], c [M, N] -> [M, D]. */
const readout = tf.customGrad(((h: tf.Tensor, c: tf.Tensor, save: tf.GradSaveFunc) => {
  const [M, D, N] = h.shape;
  save([h, c]);
  return {
    value: tf.matMul(h, c.reshape([M, N, 1])).reshape([M, D]),
    gradFunc: (dy: tf.Tensor, [hh, cc]: tf.Tensor[]) => [
      tf.mul(dy.reshape([M, D, 1]), cc.reshape([M, 1, N])),
      tf.matMul(dy.reshape([M, 1, D]), hh).reshape([M, N]),
    ],
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (h: tf.Tensor, c: tf.Tensor) => tf.Tensor;

/** L[r, d, n] = dt[r, d] * A[d, n] (log-decays). dt [R, D], A [D, N] -> [R, D, N]. */
const logDecay = tf.customGrad(((dt: tf.Tensor, A: tf.Tensor, save: tf.GradSaveFunc) => {
  const [R, D] = dt.shape;
  const N = A.shape[1]!;
  save([dt, A]);
  return {
    value: tf.mul(dt.reshape([R, D, 1]), A),
    gradFunc: (dy: tf.Tensor, [d0, a0]: tf.Tensor[]) => [
      tf.sum(tf.mul(dy, a0), 2), // innermost reduction: fast
      // sum over r as a plain 2-D matmul with a ones row
      tf.matMul(tf.ones([1, R]), tf.mul(dy, d0.reshape([R, D, 1])).reshape([R, D * N])).reshape([D, N]),
    ],
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (dt: tf.Tensor, A: tf.Tensor) => tf.Tensor;

export type ScanMode = 'sequential' | 'chunked' | 'logdepth';

export interface ScanOpts {
  mode: ScanMode;
  /** chunk size for 'chunked' (default 64: measured fastest on wasm at T = 1024 among 16/32/64). */
  chunk?: number;
  h0?: tf.Tensor3D;
}

/**
 * One recurrence step. x_t, dt_t [B, D]; B_t, C_t [B, N]; h [B, D, N].
 * The outer product and the read-out are batched matmuls rather than broadcasts: their gradients
 * are then matmuls too, instead of reductions over non-innermost axes (slow on wasm).
 */
export function scanStep(
  x_t: tf.Tensor,
  dt_t: tf.Tensor,
  A: tf.Tensor,
  B_t: tf.Tensor,
  C_t: tf.Tensor,
  h: tf.Tensor,
): { y: tf.Tensor2D; h: tf.Tensor3D } {
  return tf.tidy(() => {
    const dA = tf.exp(logDecay(dt_t, A)); // [B, D, N], exponent <= 0
    const hn = tf.add(tf.mul(dA, h), outer(tf.mul(dt_t, x_t), B_t)) as tf.Tensor3D;
    const y = readout(hn, C_t) as tf.Tensor2D;
    return { y, h: hn };
  });
}

/** S1: loop over t (oracle/reference; T dependent steps). */
function scanSequential(x: tf.Tensor, dt: tf.Tensor, A: tf.Tensor, Bm: tf.Tensor, Cm: tf.Tensor, h0: tf.Tensor) {
  const T = x.shape[1]!;
  const xs = tf.unstack(x, 1);
  const dts = tf.unstack(dt, 1);
  const Bs = tf.unstack(Bm, 1);
  const Cs = tf.unstack(Cm, 1);
  let h = h0;
  const ys: tf.Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const r = scanStep(xs[t], dts[t], A, Bs[t], Cs[t], h);
    ys.push(r.y);
    h = r.h;
  }
  return { y: tf.stack(ys, 1), h };
}

/** Shift a [B, T, ...] tensor k steps later in time, zero-filling the first k positions. */
function shiftTime(X: tf.Tensor, k: number, axis = 1): tf.Tensor {
  const T = X.shape[axis]!;
  const p: Array<[number, number]> = X.shape.map(() => [0, 0] as [number, number]);
  p[axis] = [k, 0];
  const size = X.shape.slice();
  size[axis] = T - k;
  return tf.pad(
    X.slice(
      X.shape.map(() => 0),
      size,
    ),
    p,
  );
}

/** S3: Hillis-Steele log-depth scan over the full sequence (O(T log T) work on [B, T, D, N]). */
function scanLogDepth(x: tf.Tensor, dt: tf.Tensor, A: tf.Tensor, Bm: tf.Tensor, Cm: tf.Tensor, h0: tf.Tensor) {
  const [Bsz, T, D] = x.shape;
  const N = A.shape[1]!;
  let La: tf.Tensor = tf.mul(dt.reshape([Bsz, T, D, 1]), A); // [B, T, D, N] <= 0
  let X: tf.Tensor = tf.mul(tf.mul(dt, x).reshape([Bsz, T, D, 1]), Bm.reshape([Bsz, T, 1, N]));
  // fold the initial state into step 0: h_0 = exp(L_0) h0 + U_0
  const h0term = tf.mul(tf.exp(La.slice([0, 0, 0, 0], [Bsz, 1, D, N])), h0.reshape([Bsz, 1, D, N]));
  X = tf.add(
    X,
    tf.pad(h0term, [
      [0, 0],
      [0, T - 1],
      [0, 0],
      [0, 0],
    ]),
  );
  for (let k = 1; k < T; k *= 2) {
    X = tf.add(X, tf.mul(tf.exp(La), shiftTime(X, k)));
    La = tf.add(La, shiftTime(La, k));
  }
  const y = tf.sum(tf.mul(X, Cm.reshape([Bsz, T, 1, N])), 3);
  return { y, h: X.slice([0, T - 1, 0, 0], [Bsz, 1, D, N]).reshape([Bsz, D, N]) };
}

/**
 * S2: two-level chunked scan (docs/models.md 4.4), chunk-major layout [C, B, nc, ...] so that each
 * in-chunk step is a contiguous slice batched over all B * nc chunks.
 *   pass 1: C steps from a zero state -> chunk-local end states (total chunk decays come from
 *           the chunk's summed dt: one small [B, nc, D, N] exp);
 *   carry:  nc steps on [B, D, N]: Sin_{c+1} = P_c * Sin_c + hend_c;
 *   pass 2: C steps again from Sin with the same step decays, reading out y.
 * Dependent steps: 2C + nc. All decays are exp of non-positive numbers; no [B, T, D, N] tensor
 * other than the step decays and write terms is formed, and every contraction is a matmul.
 */
function scanChunked(x: tf.Tensor, dt: tf.Tensor, A: tf.Tensor, Bm: tf.Tensor, Cm: tf.Tensor, h0: tf.Tensor, chunk: number) {
  const [Bsz, T, D] = x.shape;
  const N = A.shape[1]!;
  const C = Math.max(1, Math.min(chunk, T));
  const nc = Math.ceil(T / C);
  const Tp = nc * C;
  const M = Bsz * nc; // batch of independent chunks
  // pad (N5: dt = 0 so the decay is 1 and the write is 0), then chunk-major [C, B, nc, .]
  const major = (u: tf.Tensor) =>
    (Tp === T
      ? u
      : tf.pad(u, [
          [0, 0],
          [0, Tp - T],
          [0, 0],
        ])
    )
      .reshape([Bsz, nc, C, -1])
      .transpose([2, 0, 1, 3]);
  const dtc = major(dt); // [C, B, nc, D]
  const dA = tf.exp(logDecay(dtc.reshape([C * M, D]), A)).reshape([C, M, D, N]);
  const U = outer(major(tf.mul(dt, x)).reshape([C * M, D]), major(Bm).reshape([C * M, N])).reshape([C, M, D, N]);
  const dAs = tf.unstack(dA, 0);
  const Us = tf.unstack(U, 0);
  const Cs = tf.unstack(major(Cm).reshape([C, M, N]), 0);

  // pass 1: local end states; chunk decays from the chunk's total dt (an [M, D, N] exp only)
  let h = Us[0];
  for (let j = 1; j < C; j++) h = tf.add(tf.mul(dAs[j], h), Us[j]);
  const P = tf.exp(logDecay(tf.sum(dtc, 0).reshape([M, D]), A)); // [M, D, N]

  // carry across chunks
  const hs = tf.unstack(h.reshape([Bsz, nc, D, N]), 1);
  const Ps = tf.unstack(P.reshape([Bsz, nc, D, N]), 1);
  let S = h0;
  const Sin: tf.Tensor[] = [];
  for (let c = 0; c < nc; c++) {
    Sin.push(S);
    S = tf.add(tf.mul(Ps[c], S), hs[c]);
  }

  // pass 2: full states from the carried ones; y = h @ Cm
  let hf = tf.stack(Sin, 1).reshape([M, D, N]);
  const ys: tf.Tensor[] = [];
  for (let j = 0; j < C; j++) {
    hf = tf.add(tf.mul(dAs[j], hf), Us[j]);
    ys.push(readout(hf, Cs[j])); // [M, D]
  }
  let y = tf.stack(ys, 0).reshape([C, Bsz, nc, D]).transpose([1, 2, 0, 3]).reshape([Bsz, Tp, D]);
  if (Tp !== T) y = y.slice([0, 0, 0], [Bsz, T, D]);
  return { y, h: S };
}

/** Selective scan over a whole sequence; returns y (no D skip, no gate) and the final state. */
export function selectiveScan(
  x: tf.Tensor,
  dt: tf.Tensor,
  A: tf.Tensor,
  Bm: tf.Tensor,
  Cm: tf.Tensor,
  opts: ScanOpts,
): { y: tf.Tensor3D; h: tf.Tensor3D } {
  return tf.tidy(() => {
    const [Bsz, , D] = x.shape;
    const N = A.shape[1]!;
    const h0 = opts.h0 ?? tf.zeros([Bsz, D, N]);
    const r =
      opts.mode === 'sequential'
        ? scanSequential(x, dt, A, Bm, Cm, h0)
        : opts.mode === 'logdepth'
          ? scanLogDepth(x, dt, A, Bm, Cm, h0)
          : scanChunked(x, dt, A, Bm, Cm, h0, opts.chunk ?? 64);
    return { y: r.y as tf.Tensor3D, h: r.h as tf.Tensor3D };
  });
}

export interface GatedScanOpts {
  D: tf.Tensor;
  z: tf.Tensor;
  mode: ScanMode;
  chunk: number;
}

/**
 * Mamba-1 steps 7-9: y = (scan(x, dt, A, Bm, Cm) + D * x) * silu(z), and the final state. The
 * chunked mode runs the fused kernel when available (same function, same chunk), every other
 * mode and every other backend the tensor forms.
 */
export function gatedScan(
  x: tf.Tensor,
  dt: tf.Tensor,
  A: tf.Tensor,
  Bm: tf.Tensor,
  Cm: tf.Tensor,
  opts: GatedScanOpts,
): { y: tf.Tensor3D; h: tf.Tensor3D } {
  if (opts.mode === 'chunked' && fusedScanStatus().available) {
    return selectiveScanFused(x, dt, A, Bm, Cm, { D: opts.D, z: opts.z, chunk: opts.chunk });
  }
  const { y, h } = selectiveScan(x, dt, A, Bm, Cm, { mode: opts.mode, chunk: opts.chunk });
  return { y: y.add(x.mul(opts.D)).mul(opts.z.mul(tf.sigmoid(opts.z))) as tf.Tensor3D, h };
}
