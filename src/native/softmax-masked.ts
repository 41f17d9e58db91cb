/**
 * Attention's masked, scaled softmax (docs/models.md 2.1; rule N2 of 0.4) and its gradient,
 * dS = scale * allowed * P * (dP - sum(dP * P)), as one native pass each (native/eltwise.c) instead
 * of five tensor ops and their gradients. s [B, H, Tq, Tk], allowed 0/1 broadcastable to it (or
 * none). `maskedSoftmax` (src/ops/softmax-masked.ts) takes it where it runs and the tensor form elsewhere.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp } from '../backend/custom-op.ts';
import { defineNativeOp, type KernelArgs } from './define-op.ts';
import { memoryOf } from './memory.ts';

type View = ArrayBufferView;
interface MaskedSoftmaxAddon {
  maskedSoftmax(x: View, xOff: number, mask: View | null, maskOff: number, y: View, yOff: number, meta: Int32Array, scale: number): void;
  maskedSoftmaxGrad(
    p: View,
    pOff: number,
    dp: View,
    dpOff: number,
    mask: View | null,
    maskOff: number,
    dx: View,
    dxOff: number,
    meta: Int32Array,
    scale: number,
  ): void;
}

const FORWARD = 'SeqlabMaskedSoftmax';
const BACKWARD = 'SeqlabMaskedSoftmaxGrad';

/** [B, H, Tq, Tk] and the mask's element strides over it (0 on broadcast dims). */
function meta(shape: number[], mask?: number[]): Int32Array {
  const strides = [0, 0, 0, 0];
  if (mask) {
    let acc = 1;
    for (let i = 3; i >= 0; i--) {
      strides[i] = mask[i] === 1 ? 0 : acc;
      acc *= mask[i];
    }
  }
  return Int32Array.from([...shape, ...strides]);
}

const locate = (backend: tf.KernelBackend, t: tf.TensorInfo | undefined) => (t ? memoryOf(backend).locate(t) : { view: null, off: 0 });

const op = defineNativeOp<MaskedSoftmaxAddon>({
  name: 'maskedSoftmax',
  kernels: (native) => ({
    [FORWARD]: ({ inputs, attrs, backend }: KernelArgs) => {
      const { s, mask } = inputs as { s: tf.TensorInfo; mask?: tf.TensorInfo };
      const y = memoryOf(backend as tf.KernelBackend).alloc(s.shape);
      const [S, M, Y] = [s, mask, y].map((t) => locate(backend as tf.KernelBackend, t));
      native.maskedSoftmax(S.view!, S.off, M.view, M.off, Y.view!, Y.off, meta(s.shape, mask?.shape), (attrs as { scale: number }).scale);
      return y;
    },
    [BACKWARD]: ({ inputs, attrs, backend }: KernelArgs) => {
      const { p, dp, mask } = inputs as { p: tf.TensorInfo; dp: tf.TensorInfo; mask?: tf.TensorInfo };
      const dx = memoryOf(backend as tf.KernelBackend).alloc(p.shape);
      const [P, DP, M, DX] = [p, dp, mask, dx].map((t) => locate(backend as tf.KernelBackend, t));
      native.maskedSoftmaxGrad(
        P.view!,
        P.off,
        DP.view!,
        DP.off,
        M.view,
        M.off,
        DX.view!,
        DX.off,
        meta(p.shape, mask?.shape),
        (attrs as { scale: number }).scale,
      );
      return dx;
    },
  }),
});

/** Whether maskedSoftmaxFused runs here for this layout (rank 4, the mask broadcastable dim by dim). */
export function maskedSoftmaxFusedAvailable(s: tf.Tensor, allowed?: tf.Tensor): boolean {
  if (s.rank !== 4 || (allowed && (allowed.rank !== 4 || allowed.shape.some((n, i) => n !== 1 && n !== s.shape[i])))) return false;
  return op.ready(s, ...(allowed ? [allowed] : []));
}

/** softmax(allowed ? scale * s : NEG) over the last axis, fused; check maskedSoftmaxFusedAvailable first. */
export function maskedSoftmaxFused(s: tf.Tensor, allowed: tf.Tensor | undefined, scale: number): tf.Tensor {
  op.addon();
  const attrs = { scale } as unknown as tf.NamedAttrMap;
  const [p] = customOp(
    { s },
    (save) => {
      const out = tf.engine().runKernel(FORWARD, (allowed ? { s, mask: allowed } : { s }) as tf.NamedTensorMap, attrs) as tf.Tensor;
      save(allowed ? [out, allowed] : [out]);
      return [out];
    },
    ([dp], [out, mask]) => ({
      s: tf.engine().runKernel(BACKWARD, (mask ? { p: out, dp, mask } : { p: out, dp }) as tf.NamedTensorMap, attrs) as tf.Tensor,
    }),
  );
  return p;
}
