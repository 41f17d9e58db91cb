/**
 * Float64 oracle of the whole DeltaNet mixer, written from docs/models.md section 16.1 alone (not
 * from src/): per head q = d_k^-1/2 L2norm(u W_q), k = L2norm(u W_k), v = u W_v,
 * beta = sigmoid(u W_beta); the delta rule (oracle/delta.ts); y = RMS_head(o) W_o.
 * u [B, T, d] row-major; weights stored [in, out] as in the checkpoint.
 */
import { deltaOracle } from './delta.ts';

export interface DeltanetWeights {
  w_q: ArrayLike<number>; // [d, dqk]
  w_k: ArrayLike<number>; // [d, dqk]
  w_v: ArrayLike<number>; // [d, dvt]
  w_beta: ArrayLike<number>; // [d, H]
  w_o: ArrayLike<number>; // [dvt, d]
}

export interface DeltanetDims {
  B: number;
  T: number;
  d: number;
  H: number;
  dqk: number;
  dvt: number;
  /** eps of the per-head RMS norm of the output (section 16.1: head_norm_eps). */
  headNormEps: number;
  /** The query scale of section 16.1; d_k^-1/2 there. A parameter so a test can show it matters. */
  qScale?: number;
}

/** eps inside the root of the L2 norm (section 16.1). */
export const L2_EPS = 1e-6;

/** x [rows, n] @ w [n, m] -> [rows, m], float64. */
function matmul(x: ArrayLike<number>, w: ArrayLike<number>, rows: number, n: number, m: number): Float64Array {
  const out = new Float64Array(rows * m);
  for (let r = 0; r < rows; r++)
    for (let i = 0; i < n; i++) {
      const xi = x[r * n + i]!;
      for (let j = 0; j < m; j++) out[r * m + j]! += xi * w[i * m + j]!;
    }
  return out;
}

/** [B*T, H*m] (token-major) -> [B, H, T, m] (head-major), with a per-head row transform. */
function toHeads(x: Float64Array, B: number, T: number, H: number, m: number, f: (row: Float64Array) => void): Float64Array {
  const out = new Float64Array(B * H * T * m);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let h = 0; h < H; h++) {
        const row = x.slice((b * T + t) * H * m + h * m, (b * T + t) * H * m + (h + 1) * m);
        f(row);
        out.set(row, ((b * H + h) * T + t) * m);
      }
  return out;
}

const l2normalize = (scale: number) => (row: Float64Array) => {
  let s = 0;
  for (const x of row) s += x * x;
  const r = scale / Math.sqrt(s + L2_EPS);
  for (let i = 0; i < row.length; i++) row[i]! *= r;
};

/** y [B, T, d] of the DeltaNet mixer, float64. */
export function deltanetLayerOracle(u: ArrayLike<number>, w: DeltanetWeights, dims: DeltanetDims): Float64Array {
  const { B, T, d, H, dqk, dvt, headNormEps } = dims;
  const dk = dqk / H;
  const dv = dvt / H;
  const rows = B * T;
  const q = toHeads(matmul(u, w.w_q, rows, d, dqk), B, T, H, dk, l2normalize(dims.qScale ?? 1 / Math.sqrt(dk)));
  const k = toHeads(matmul(u, w.w_k, rows, d, dqk), B, T, H, dk, l2normalize(1));
  const v = toHeads(matmul(u, w.w_v, rows, d, dvt), B, T, H, dv, () => {});
  const beta = toHeads(matmul(u, w.w_beta, rows, d, H), B, T, H, 1, (row) => {
    row[0] = 1 / (1 + Math.exp(-row[0]!));
  });
  const { o } = deltaOracle(q, k, v, beta, { B, H, T, dk, dv });
  // RMS_head(o), merged back to [B*T, dvt]
  const merged = new Float64Array(rows * dvt);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let t = 0; t < T; t++) {
        const src = ((b * H + h) * T + t) * dv;
        let ms = 0;
        for (let j = 0; j < dv; j++) ms += o[src + j]! ** 2;
        const r = 1 / Math.sqrt(ms / dv + headNormEps);
        for (let j = 0; j < dv; j++) merged[(b * T + t) * dvt + h * dv + j] = o[src + j]! * r;
      }
  return matmul(merged, w.w_o, rows, dvt, d);
}
