/** Test helpers: seeded random arrays, tolerance checks (docs/models.md 12: max|x-y| <= atol + rtol*max|y|). */
import * as tf from '@tensorflow/tfjs';

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples, already rounded to float32 so tensors and oracles see the same inputs. */
export function randn(n: number, r: () => number, scale = 1): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out[i] = Math.fround(scale * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r()));
  }
  return out;
}

/** Uniform samples in [lo, hi), rounded to float32. */
export function uniform(n: number, r: () => number, lo: number, hi: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround(lo + (hi - lo) * r());
  return out;
}

export function t(data: Float64Array | number[], shape: number[]): tf.Tensor {
  return tf.tensor(Float32Array.from(data), shape, 'float32');
}

/** max|x - y| and the allowed bound atol + rtol * max|y|. */
export function maxErr(x: ArrayLike<number>, y: ArrayLike<number>): { err: number; scale: number } {
  if (x.length !== y.length) throw new Error(`length mismatch ${x.length} vs ${y.length}`);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i] - y[i]);
    if (!(d <= err)) err = Number.isNaN(d) ? Infinity : Math.max(err, d);
    scale = Math.max(scale, Math.abs(y[i]));
  }
  return { err, scale };
}

export function data(x: tf.Tensor | ArrayLike<number>): ArrayLike<number> {
  return x instanceof tf.Tensor ? x.dataSync() : x;
}

/** Throws with a readable message unless max|x - y| <= atol + rtol * max|y|. */
export function assertClose(
  x: tf.Tensor | ArrayLike<number>,
  y: tf.Tensor | ArrayLike<number>,
  atol: number,
  rtol: number,
  what = '',
): void {
  const { err, scale } = maxErr(data(x), data(y));
  const bound = atol + rtol * scale;
  if (!(err <= bound)) throw new Error(`${what}: max|x-y| = ${err} > ${bound} (atol ${atol}, rtol ${rtol}, max|y| ${scale})`);
}

export function allFinite(x: tf.Tensor | ArrayLike<number>): boolean {
  const d = data(x);
  for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return false;
  return true;
}

/** Run fn in a tidy scope and return its tensors' values as float64 arrays (tensors disposed). */
export function tidyData(fn: () => tf.Tensor[]): Float64Array[] {
  const ts = tf.tidy(fn);
  const out = ts.map((x) => Float64Array.from(x.dataSync()));
  tf.dispose(ts);
  return out;
}
