/**
 * Causal softmax attention as one fused op (docs/models.md 2.1-2.3), FlashAttention-2 style on the
 * native addon (native/attention.c): o = softmax(q k^T / sqrt(dh), causal [and window]) v without
 * forming the [T, T] scores; the forward keeps the rows' log-sum-exp, the backward recomputes the
 * probabilities block by block. q, k, v, o [B, H, T, dh]. On the wasm and cpu backends with the
 * native kernels installed (nativeOpsReady); elsewhere attention uses its tensor form (same function).
 * A kernel configuration with fused.attention off (SEQLAB_FUSED_ATTENTION=off) keeps the tensor form.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp } from '../backend/custom-op.ts';
import { defineNativeOp, type KernelArgs } from './define-op.ts';
import { locateAll, memoryOf } from './memory.ts';

type Views = (ArrayBufferView | null)[];
interface AttentionAddon {
  attentionForward(views: Views, offs: Float64Array, dims: Float64Array): void;
  attentionBackward(views: Views, offs: Float64Array, dims: Float64Array): void;
}

const FORWARD = 'SeqlabCausalAttention';
const BACKWARD = 'SeqlabCausalAttentionGrad';

/** dims of the addon: [B*H, T, dh, window (0 = none)]. */
function dims(q: tf.TensorInfo, window: number): Float64Array {
  const [B, H, T, dh] = q.shape;
  return Float64Array.from([B * H, T, dh, Number.isFinite(window) ? window : 0]);
}

const op = defineNativeOp<AttentionAddon>({
  name: 'attention',
  kernels: (native) => {
    const call = (backend: tf.KernelBackend, fn: 'attentionForward' | 'attentionBackward', ts: tf.TensorInfo[], d: Float64Array) => {
      const { views, offs } = locateAll(backend, ts);
      native[fn](views, offs, d);
    };
    return {
      [FORWARD]: ({ inputs, attrs, backend }: KernelArgs) => {
        const { q, k, v } = inputs as Record<string, tf.TensorInfo>;
        const mem = memoryOf(backend as tf.KernelBackend);
        const o = mem.alloc(q.shape),
          lse = mem.alloc(q.shape.slice(0, 3));
        call(backend as tf.KernelBackend, 'attentionForward', [q, k, v, o, lse], dims(q, (attrs as { window: number }).window));
        return [o, lse];
      },
      [BACKWARD]: ({ inputs, attrs, backend }: KernelArgs) => {
        const { q, k, v, o, lse, dO } = inputs as Record<string, tf.TensorInfo>;
        const mem = memoryOf(backend as tf.KernelBackend);
        const grads = [mem.alloc(q.shape), mem.alloc(q.shape), mem.alloc(q.shape)];
        call(
          backend as tf.KernelBackend,
          'attentionBackward',
          [q, k, v, o, lse, dO, ...grads],
          dims(q, (attrs as { window: number }).window),
        );
        return grads;
      },
    };
  },
});

/** Whether causalAttentionFused runs on these tensors here (the kernel configuration's fused.attention, addon, backend). */
export function attentionFusedAvailable(...ts: tf.Tensor[]): boolean {
  return op.ready(...ts);
}

/**
 * softmax(q k^T / sqrt(dh) over keys s <= t (and s > t - window)) v, fused, with its gradient for
 * q, k and v. q, k, v [B, H, T, dh] -> [B, H, T, dh]; check attentionFusedAvailable first.
 */
export function causalAttentionFused(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, window = Infinity): tf.Tensor4D {
  op.addon();
  const attrs = { window } as unknown as tf.NamedAttrMap;
  const [o] = customOp(
    { q, k, v },
    (save) => {
      const [out, lse] = tf.engine().runKernel(FORWARD, { q, k, v }, attrs) as tf.Tensor[];
      save([q, k, v, out, lse]);
      return [out];
    },
    ([dO], [q0, k0, v0, o0, lse]) => {
      const [dq, dk, dv] = tf.engine().runKernel(BACKWARD, { q: q0, k: k0, v: v0, o: o0, lse, dO }, attrs) as tf.Tensor[];
      return { q: dq, k: dk, v: dv };
    },
  );
  return o as tf.Tensor4D;
}
