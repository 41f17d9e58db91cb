/**
 * The exact GELU, 0.5 x (1 + erf(x / sqrt 2)) (docs/models.md 1.3), as one native pass forward and
 * one backward on the wasm and cpu backends with the native kernels (native/eltwise.c U_GELU and
 * B_GELU_GRAD: dx = dy (Phi(x) + x phi(x))) where the tensor form runs four element-wise kernels
 * forward and about ten backward over [B, T, f] tensors; elsewhere (or SEQLAB_ELTWISE=off) the
 * tensor form, the same function.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp, registerKernelsOnce } from '../backend/custom-op.ts';
import { B_GELU_GRAD, NATIVE_BACKENDS, U_GELU, broadcastLayout, nativeOpsReady, type EltwiseAddon } from '../backend/eltwise.ts';
import { addonWith, memoryOf } from '../backend/matmul-native.ts';

const FORWARD = 'SeqlabGelu';
const BACKWARD = 'SeqlabGeluGrad';

type KernelArgs = Parameters<tf.KernelFunc>[0];
let registered: EltwiseAddon | null | undefined;

function addon(): EltwiseAddon | undefined {
  if (registered === undefined) {
    const native = addonWith<EltwiseAddon>('unary', 'binary');
    registered = native ?? null;
    if (native) {
      const forward = ({ inputs, backend }: KernelArgs) => {
        const x = inputs.x as tf.TensorInfo;
        const mem = memoryOf(backend as tf.KernelBackend);
        const y = mem.alloc(x.shape);
        const X = mem.locate(x), Y = mem.locate(y); // after alloc: it may grow the wasm heap
        native.unary(U_GELU, X.view, X.off, Y.view, Y.off, tf.util.sizeFromShape(x.shape));
        return y;
      };
      const backward = ({ inputs, backend }: KernelArgs) => {
        const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
        const mem = memoryOf(backend as tf.KernelBackend);
        const dx = mem.alloc(x.shape);
        const X = mem.locate(x), DY = mem.locate(dy), DX = mem.locate(dx);
        native.binary(B_GELU_GRAD, X.view, X.off, DY.view, DY.off, DX.view, DX.off, broadcastLayout(x.shape, dy.shape)!.meta);
        return dx;
      };
      registerKernelsOnce({ [FORWARD]: forward, [BACKWARD]: backward }, NATIVE_BACKENDS);
    }
  }
  return registered ?? undefined;
}

/** GELU(x), fused where the native kernels run, else as tensor ops. */
export function gelu(x: tf.Tensor): tf.Tensor {
  if (!nativeOpsReady(x) || !addon()) return x.mul(tf.erf(x.mul(Math.SQRT1_2)).add(1)).mul(0.5);
  const [y] = customOp(
    { x },
    (save) => {
      save([x]);
      return [tf.engine().runKernel(FORWARD, { x }) as tf.Tensor];
    },
    ([dy], [x0]) => ({ x: tf.engine().runKernel(BACKWARD, { x: x0, dy }) as tf.Tensor }),
  );
  return y;
}
