/**
 * Attention's masked, scaled softmax (docs/models.md 2.1; rule N2 of 0.4):
 *   z = allowed * (scale * s) + (1 - allowed) * NEG,   P = softmax(z) over the last axis,
 * s [B, H, Tq, Tk], allowed 0/1 broadcastable to it (or none). On the wasm and cpu backends with
 * the native addon the forward and its gradient, dS = scale * allowed * P * (dP - sum(dP * P)),
 * are one pass each (native/eltwise.c) instead of five tensor ops and their gradients; elsewhere
 * (or with SEQLAB_ELTWISE=off) the tensor ops compute the same function.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp, registerKernelsOnce } from '../backend/custom-op.ts';
import { NATIVE_BACKENDS, nativeOpsReady } from '../backend/eltwise.ts';
import { addonWith, memoryOf } from '../backend/matmul-native.ts';
import { NEG } from './mask.ts';

type View = ArrayBufferView;
interface MaskedSoftmaxAddon {
  maskedSoftmax(x: View, xOff: number, mask: View | null, maskOff: number, y: View, yOff: number, meta: Int32Array, scale: number): void;
  maskedSoftmaxGrad(p: View, pOff: number, dp: View, dpOff: number, mask: View | null, maskOff: number, dx: View, dxOff: number, meta: Int32Array, scale: number): void;
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

type KernelArgs = Parameters<tf.KernelFunc>[0];

let registered: MaskedSoftmaxAddon | undefined;

function addon(): MaskedSoftmaxAddon | undefined {
  if (registered) return registered;
  const native = addonWith<MaskedSoftmaxAddon>('maskedSoftmax', 'maskedSoftmaxGrad');
  if (!native) return undefined;
  const locate = (backend: tf.KernelBackend, t: tf.TensorInfo | undefined) => (t ? memoryOf(backend).locate(t) : { view: null, off: 0 });
  const forward = ({ inputs, attrs, backend }: KernelArgs) => {
    const { s, mask } = inputs as { s: tf.TensorInfo; mask?: tf.TensorInfo };
    const y = memoryOf(backend as tf.KernelBackend).alloc(s.shape);
    const [S, M, Y] = [s, mask, y].map((t) => locate(backend as tf.KernelBackend, t));
    native.maskedSoftmax(S.view!, S.off, M.view, M.off, Y.view!, Y.off, meta(s.shape, mask?.shape), (attrs as { scale: number }).scale);
    return y;
  };
  const backward = ({ inputs, attrs, backend }: KernelArgs) => {
    const { p, dp, mask } = inputs as { p: tf.TensorInfo; dp: tf.TensorInfo; mask?: tf.TensorInfo };
    const dx = memoryOf(backend as tf.KernelBackend).alloc(p.shape);
    const [P, DP, M, DX] = [p, dp, mask, dx].map((t) => locate(backend as tf.KernelBackend, t));
    native.maskedSoftmaxGrad(P.view!, P.off, DP.view!, DP.off, M.view, M.off, DX.view!, DX.off, meta(p.shape, mask?.shape), (attrs as { scale: number }).scale);
    return dx;
  };
  registerKernelsOnce({ [FORWARD]: forward, [BACKWARD]: backward }, NATIVE_BACKENDS);
  return (registered = native);
}

/** Whether the fused kernels run here (src/backend/eltwise.ts nativeOpsReady) for this layout. */
function fused(s: tf.Tensor, allowed?: tf.Tensor): boolean {
  if (s.rank !== 4 || (allowed && (allowed.rank !== 4 || allowed.shape.some((n, i) => n !== 1 && n !== s.shape[i])))) return false;
  return nativeOpsReady(s, ...(allowed ? [allowed] : [])) && addon() !== undefined;
}

/** softmax(allowed ? scale * s : NEG) over the last axis; see the header. */
export function maskedSoftmax(s: tf.Tensor, allowed: tf.Tensor | undefined, scale: number): tf.Tensor {
  if (!fused(s, allowed)) {
    return tf.tidy(() => {
      let z = s.mul(scale);
      if (allowed) z = z.mul(allowed).add(tf.sub(1, allowed).mul(NEG));
      return tf.softmax(z, -1);
    });
  }
  const attrs = { scale } as unknown as tf.NamedAttrMap;
  const [p] = customOp(
    { s },
    (save) => {
      const out = tf.engine().runKernel(FORWARD, (allowed ? { s, mask: allowed } : { s }) as tf.NamedTensorMap, attrs) as tf.Tensor;
      save(allowed ? [out, allowed] : [out]);
      return [out];
    },
    ([dp], [out, mask]) => ({ s: tf.engine().runKernel(BACKWARD, (mask ? { p: out, dp, mask } : { p: out, dp }) as tf.NamedTensorMap, attrs) as tf.Tensor }),
  );
  return p;
}
