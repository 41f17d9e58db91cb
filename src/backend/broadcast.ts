/**
 * The strided layout of a broadcasting binary op: the output shape and each operand's element
 * strides over it, in the form the native element-wise kernels read (native/eltwise.c) and the
 * wasm compatibility loops walk (compat.ts). Shape arithmetic only.
 */
import * as tf from '@tensorflow/tfjs';

/** The most dims a collapsed layout may keep (native/eltwise.c's limit). */
export const RANK_MAX = 8;

/**
 * The output shape of a broadcast and each operand's element strides over it, with size-1 dims
 * dropped and dims merged wherever both operands stay contiguous across them.
 */
export function broadcastLayout(aShape: number[], bShape: number[]): { out: number[]; meta: Int32Array } | undefined {
  let out: number[];
  try {
    out = tf.backend_util.assertAndGetBroadcastShape(aShape, bShape);
  } catch {
    return undefined;
  }
  const strides = (shape: number[]) => {
    const s = new Array<number>(out.length).fill(0);
    let acc = 1;
    for (let i = shape.length - 1, o = out.length - 1; i >= 0; i--, o--) {
      s[o] = shape[i] === 1 ? 0 : acc;
      acc *= shape[i];
    }
    return s;
  };
  const sa = strides(aShape),
    sb = strides(bShape);
  const dims: { n: number; a: number; b: number }[] = [];
  out.forEach((n, i) => {
    if (n === 1) return;
    const last = dims[dims.length - 1];
    if (last && last.a === sa[i] * n && last.b === sb[i] * n) {
      last.n *= n;
      last.a = sa[i];
      last.b = sb[i];
    } else dims.push({ n, a: sa[i], b: sb[i] });
  });
  if (dims.length === 0) dims.push({ n: 1, a: 0, b: 0 });
  if (dims.length > RANK_MAX) return undefined;
  const r = dims.length;
  const meta = new Int32Array(1 + 3 * r);
  meta[0] = r;
  dims.forEach((d, i) => {
    meta[1 + i] = d.n;
    meta[1 + r + i] = d.a;
    meta[1 + 2 * r + i] = d.b;
  });
  return { out, meta };
}
