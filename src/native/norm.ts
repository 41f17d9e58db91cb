/**
 * The shell's affine norms (docs/models.md 1.2), LayerNorm (x - mu) r w + b and RMSNorm x r w over
 * the last axis, r = 1 / sqrt(mean(xc^2) + eps), as one native pass forward and one backward
 * (native/norm.c) where the tensor form runs about nine kernels forward and twenty backward.
 * `affineNorm` (src/ops/norm.ts) takes it where it runs and the tensor form elsewhere.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp } from '../backend/custom-op.ts';
import { defineNativeOp, type KernelArgs } from './define-op.ts';
import { locateAll, memoryOf } from './memory.ts';

type Views = (ArrayBufferView | null)[];
interface NormAddon {
  normForward(views: Views, offs: Float64Array, dims: Float64Array): void;
  normBackward(views: Views, offs: Float64Array, dims: Float64Array): void;
}

const FORWARD = 'SeqlabNorm';
const BACKWARD = 'SeqlabNormGrad';

interface NormAttrs {
  layer: boolean;
  eps: number;
}

/** [rows, d, layer, eps] */
const dims = (x: tf.TensorInfo, a: NormAttrs) => {
  const d = x.shape[x.shape.length - 1]!;
  return Float64Array.from([tf.util.sizeFromShape(x.shape) / d, d, a.layer ? 1 : 0, a.eps]);
};

const op = defineNativeOp<NormAddon>({
  name: 'norm',
  kernels: (native) => ({
    [FORWARD]: ({ inputs, attrs, backend }: KernelArgs) => {
      const { x, w, b } = inputs as Record<string, tf.TensorInfo | undefined>;
      const mem = memoryOf(backend as tf.KernelBackend);
      const rows = x!.shape.slice(0, -1);
      const outs = [mem.alloc(x!.shape), mem.alloc(rows), mem.alloc(rows)]; // y, mu, r
      const { views, offs } = locateAll(backend as tf.KernelBackend, [x, w, b, ...outs]);
      native.normForward(views, offs, dims(x!, attrs as unknown as NormAttrs));
      return outs;
    },
    [BACKWARD]: ({ inputs, attrs, backend }: KernelArgs) => {
      const { x, w, mu, r, dy, b } = inputs as Record<string, tf.TensorInfo | undefined>;
      const mem = memoryOf(backend as tf.KernelBackend);
      const outs = [mem.alloc(x!.shape), mem.alloc(w!.shape), b ? mem.alloc(w!.shape) : undefined]; // dx, dw, db
      const { views, offs } = locateAll(backend as tf.KernelBackend, [x, w, mu, r, dy, ...outs]);
      native.normBackward(views, offs, dims(x!, attrs as unknown as NormAttrs));
      return outs.filter((t): t is tf.TensorInfo => t !== undefined);
    },
  }),
});

/** Whether affineNormFused runs on these tensors here. */
export function affineNormFusedAvailable(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | undefined): boolean {
  return op.ready(x, w, ...(b ? [b] : []));
}

/** LayerNorm (b given) or RMSNorm (no b) with weight w [d] over the last axis of x [..., d], fused; check affineNormFusedAvailable first. */
export function affineNormFused(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | undefined, eps: number): tf.Tensor {
  op.addon();
  const attrs = { layer: b !== undefined, eps } as unknown as tf.NamedAttrMap;
  const inputs: Record<string, tf.Tensor> = b ? { x, w, b } : { x, w };
  const [y] = customOp(
    inputs,
    (save) => {
      const [out, mu, r] = tf.engine().runKernel(FORWARD, inputs, attrs) as tf.Tensor[];
      save([x, w, mu, r, ...(b ? [b] : [])]);
      return [out];
    },
    ([dy], [x0, w0, mu, r, b0]) => {
      const [dx, dw, db] = tf.engine().runKernel(BACKWARD, { x: x0, w: w0, mu, r, dy, ...(b0 ? { b: b0 } : {}) }, attrs) as tf.Tensor[];
      const grads: Record<string, tf.Tensor> = { x: dx, w: dw };
      if (b0) grads.b = db;
      return grads;
    },
  );
  return y;
}
