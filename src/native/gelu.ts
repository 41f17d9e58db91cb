/**
 * The exact GELU (docs/models.md 1.3) as one native pass forward and one backward (native/eltwise.c
 * U_GELU and B_GELU_GRAD: dx = dy (Phi(x) + x phi(x))) where the tensor form runs four element-wise
 * kernels forward and about ten backward over [B, T, f] tensors. `gelu` (src/ops/gelu.ts) takes it
 * where it runs and the tensor form elsewhere, the same function.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp } from '../backend/custom-op.ts';
import { defineNativeOp, type KernelArgs } from './define-op.ts';
import { broadcastLayout } from '../backend/broadcast.ts';
import { B_GELU_GRAD, U_GELU, type EltwiseAddon } from './eltwise.ts';
import { memoryOf } from './memory.ts';

const FORWARD = 'SeqlabGelu';
const BACKWARD = 'SeqlabGeluGrad';

const op = defineNativeOp<EltwiseAddon>({
  name: 'gelu',
  kernels: (native) => ({
    [FORWARD]: ({ inputs, backend }: KernelArgs) => {
      const x = inputs.x as tf.TensorInfo;
      const mem = memoryOf(backend as tf.KernelBackend);
      const y = mem.alloc(x.shape);
      const X = mem.locate(x),
        Y = mem.locate(y); // after alloc: it may grow the wasm heap
      native.unary(U_GELU, X.view, X.off, Y.view, Y.off, tf.util.sizeFromShape(x.shape));
      return y;
    },
    [BACKWARD]: ({ inputs, backend }: KernelArgs) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const mem = memoryOf(backend as tf.KernelBackend);
      const dx = mem.alloc(x.shape);
      const X = mem.locate(x),
        DY = mem.locate(dy),
        DX = mem.locate(dx);
      native.binary(B_GELU_GRAD, X.view, X.off, DY.view, DY.off, DX.view, DX.off, broadcastLayout(x.shape, dy.shape)!.meta);
      return dx;
    },
  }),
});

/** Whether geluFused runs on x here. */
export function geluFusedAvailable(x: tf.Tensor): boolean {
  return op.ready(x);
}

/** GELU(x), fused; check geluFusedAvailable first. */
export function geluFused(x: tf.Tensor): tf.Tensor {
  op.addon();
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
