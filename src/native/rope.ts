/**
 * The rotary position encoding's native rotation (native/eltwise.c rope; docs/models.md 1.4): one
 * pass forward, and the rotation back (sign -1) for the gradient. `applyRope` (src/ops/rope.ts)
 * takes it where it runs and the tensor form elsewhere, the same function.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp } from '../backend/custom-op.ts';
import { defineNativeOp, type KernelArgs } from './define-op.ts';
import { memoryOf } from './memory.ts';

type View = ArrayBufferView;
interface RopeAddon {
  rope(
    x: View,
    xOff: number,
    cos: View,
    cosOff: number,
    sin: View,
    sinOff: number,
    y: View,
    yOff: number,
    rows: number,
    T: number,
    m: number,
    sign: number,
  ): void;
}
const ROPE = 'SeqlabRope';

const op = defineNativeOp<RopeAddon>({
  name: 'rope',
  kernels: (native) => ({
    // sign +1 rotates by the positions' angles, -1 back (the gradient)
    [ROPE]: ({ inputs, attrs, backend }: KernelArgs) => {
      const { x, cos, sin } = inputs as Record<string, tf.TensorInfo>;
      const mem = memoryOf(backend as tf.KernelBackend);
      const y = mem.alloc(x.shape);
      const [X, C, S, Y] = [x, cos, sin, y].map((t) => mem.locate(t)); // after alloc: it may grow the wasm heap
      const [T, m] = cos.shape;
      native.rope(
        X.view,
        X.off,
        C.view,
        C.off,
        S.view,
        S.off,
        Y.view,
        Y.off,
        tf.util.sizeFromShape(x.shape) / m,
        T,
        m,
        (attrs as { sign: number }).sign,
      );
      return y;
    },
  }),
});

/** Whether ropeFused runs on these tensors here. */
export function ropeFusedAvailable(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): boolean {
  return x.rank >= 2 && op.ready(x, cos, sin);
}

/** x [..., T, m] rotated by the tables cos, sin [T, m], fused; check ropeFusedAvailable first. */
export function ropeFused(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  op.addon();
  const rotate = (t: tf.Tensor, c: tf.Tensor, s: tf.Tensor, sign: number) =>
    tf.engine().runKernel(ROPE, { x: t, cos: c, sin: s }, { sign } as unknown as tf.NamedAttrMap) as tf.Tensor;
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
