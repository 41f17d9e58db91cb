/**
 * Retention's decay matrix M = exp(stableSegsum(a)) (docs/models.md 5.4) as one native pass
 * (native/eltwise.c) forward and one backward, on the wasm and cpu backends with the native
 * element-wise kernels: a [..., T] -> M [..., T, T], M[t, s] = exp(a_{s+1} + ... + a_t) for s <= t,
 * exactly 0 above the diagonal, summed in the tensor form's order; the gradient is
 * da_r = sum_{t >= r} sum_{s < r} (dM * M)[t, s]. `decayMatrix` in src/ops/mask.ts picks this or the
 * tensor form (same function).
 */
import * as tf from '@tensorflow/tfjs';
import { customOp } from '../backend/custom-op.ts';
import { defineNativeOp, type KernelArgs } from './define-op.ts';
import { memoryOf } from './memory.ts';

type View = ArrayBufferView;
interface DecayAddon {
  decayMatrix(a: View, aOff: number, m: View, mOff: number, rows: number, T: number): void;
  decayMatrixGrad(m: View, mOff: number, dm: View, dmOff: number, da: View, daOff: number, rows: number, T: number): void;
}

const FORWARD = 'SeqlabDecayMatrix';
const BACKWARD = 'SeqlabDecayMatrixGrad';
/** The native kernel keeps one row of T floats on the stack. */
const DECAY_T_MAX = 4096;

const op = defineNativeOp<DecayAddon>({
  name: 'decay',
  kernels: (native) => ({
    [FORWARD]: ({ inputs, backend }: KernelArgs) => {
      const { a: x } = inputs as { a: tf.TensorInfo };
      const T = x.shape[x.shape.length - 1];
      const mem = memoryOf(backend as tf.KernelBackend);
      const m = mem.alloc([...x.shape, T]);
      const [X, M] = [x, m].map((t) => mem.locate(t)); // after alloc: it may grow the wasm heap
      native.decayMatrix(X.view, X.off, M.view, M.off, tf.util.sizeFromShape(x.shape) / T, T);
      return m;
    },
    [BACKWARD]: ({ inputs, backend }: KernelArgs) => {
      const { m, dm } = inputs as { m: tf.TensorInfo; dm: tf.TensorInfo };
      const T = m.shape[m.shape.length - 1];
      const mem = memoryOf(backend as tf.KernelBackend);
      const da = mem.alloc(m.shape.slice(0, -1));
      const [M, DM, DA] = [m, dm, da].map((t) => mem.locate(t));
      native.decayMatrixGrad(M.view, M.off, DM.view, DM.off, DA.view, DA.off, tf.util.sizeFromShape(da.shape) / T, T);
      return da;
    },
  }),
});

/** Whether decayMatrixFused runs for `a` here (src/native/define-op.ts). */
export function decayFusedAvailable(a: tf.Tensor): boolean {
  const T = a.shape[a.rank - 1] ?? 0;
  return a.rank >= 1 && T <= DECAY_T_MAX && op.ready(a);
}

/** M = exp(stableSegsum(a)), fused; check decayFusedAvailable first. */
export function decayMatrixFused(a: tf.Tensor): tf.Tensor {
  op.addon();
  const [m] = customOp(
    { a },
    (save) => {
      const out = tf.engine().runKernel(FORWARD, { a } as tf.NamedTensorMap, {}) as tf.Tensor;
      save([out]);
      return [out];
    },
    ([dm], [out]) => ({ a: tf.engine().runKernel(BACKWARD, { m: out, dm } as tf.NamedTensorMap, {}) as tf.Tensor }),
  );
  return m;
}
