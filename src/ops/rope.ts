/**
 * Rotary position encoding, normative interleaved-pair form of docs/models.md 1.4:
 * rope(x, p) = x * COS[p] + swapPairs(x) * SIN[p], swapPairs(x) = x @ Psw.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp, registerKernelsOnce } from '../backend/custom-op.ts';
import { NATIVE_BACKENDS, nativeOpsReady } from '../backend/eltwise.ts';
import { addonWith, memoryOf } from '../backend/matmul-native.ts';

export type RopeFreqs = 'standard' | 'torchscale';

/** theta_i, i = 0..m/2-1 (float64). */
export function ropeThetas(m: number, freqs: RopeFreqs, base = 10000): Float64Array {
  if (m % 2 !== 0 || m <= 0) throw new Error(`rope: head width must be even and positive, got ${m}`);
  const half = m / 2;
  const th = new Float64Array(half);
  for (let i = 0; i < half; i++) {
    // torchscale: base^(-linspace(0, 1, m/2)); linspace with one point is [0], so th_0 = 1 for m = 2
    const e = freqs === 'standard' ? (2 * i) / m : half === 1 ? 0 : i / (half - 1);
    th[i] = Math.pow(base, -e);
  }
  return th;
}

/** COS/SIN tables [T, m] for positions start..start+T-1, each pair's entry duplicated. */
export function ropeTables(
  start: number,
  T: number,
  m: number,
  freqs: RopeFreqs,
  base = 10000,
): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
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

type View = ArrayBufferView;
interface RopeAddon {
  rope(x: View, xOff: number, cos: View, cosOff: number, sin: View, sinOff: number, y: View, yOff: number, rows: number, T: number, m: number, sign: number): void;
}
const ROPE = 'SeqlabRope';
let registered: RopeAddon | null | undefined;

/** The native rotation (native/eltwise.c): sign +1 rotates by the positions' angles, -1 back (the gradient). */
function ropeAddon(): RopeAddon | undefined {
  if (registered === undefined) {
    const native = addonWith<RopeAddon>('rope');
    registered = native ?? null;
    if (native) {
      const kernel = ({ inputs, attrs, backend }: Parameters<tf.KernelFunc>[0]) => {
        const { x, cos, sin } = inputs as Record<string, tf.TensorInfo>;
        const mem = memoryOf(backend as tf.KernelBackend);
        const y = mem.alloc(x.shape);
        const [X, C, S, Y] = [x, cos, sin, y].map((t) => mem.locate(t)); // after alloc: it may grow the wasm heap
        const [T, m] = cos.shape;
        native.rope(X.view, X.off, C.view, C.off, S.view, S.off, Y.view, Y.off, tf.util.sizeFromShape(x.shape) / m, T, m, (attrs as { sign: number }).sign);
        return y;
      };
      registerKernelsOnce({ [ROPE]: kernel }, NATIVE_BACKENDS);
    }
  }
  return registered ?? undefined;
}

/**
 * x: [..., T, m] (e.g. [B, H, T, m]); cos, sin: [T, m] (broadcast over leading dims). On the native
 * backends one pass forward and one (the rotation back) for the gradient; elsewhere differentiable
 * tensor ops only (reshape, matMul with a constant, element-wise), the same function.
 */
export function applyRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  if (x.rank >= 2 && nativeOpsReady(x, cos, sin) && ropeAddon()) {
    const rotate = (t: tf.Tensor, c: tf.Tensor, s: tf.Tensor, sign: number) => tf.engine().runKernel(ROPE, { x: t, cos: c, sin: s }, { sign } as unknown as tf.NamedAttrMap) as tf.Tensor;
    // the tables are saved: the caller's tidy may have disposed them by the time the gradient runs
    const [y] = customOp(
      { x },
      (save) => {
        save([cos, sin]);
        return [rotate(x, cos, sin, 1)];
      },
      ([dy], [c, s]) => ({ x: rotate(dy, c, s, -1) }),
    );
    return y;
  }
  return tf.tidy(() => {
    const m = x.shape[x.rank - 1];
    const swapped = tf.matMul(x.reshape([-1, m]), swapPairsMatrix(m)).reshape(x.shape);
    return tf.add(tf.mul(x, cos), tf.mul(swapped, sin));
  });
}
