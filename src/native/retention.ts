/**
 * Parallel retention with a scalar decay per head and position as one fused op (docs/models.md 3.3,
 * 5.4) on the native addon (native/retention.c): o_i = sum_{j <= i} (q_i . k_j) exp(a_{j+1} + ... +
 * a_i) v_j, blockwise, without the [T, T] decay and score matrices, with its gradient for q, k, v
 * and a. q, k [B, H, T, dk]; v [B, H, T, dv]; a [B, H, T]. On the wasm and cpu backends with the
 * native kernels (nativeOpsReady); `retentionParallel` takes it when it applies and otherwise
 * computes the same function with tensor ops (so does a kernel configuration with fused.retention
 * off, SEQLAB_FUSED_RETENTION=off).
 */
import * as tf from '@tensorflow/tfjs';
import { customOp } from '../backend/custom-op.ts';
import { defineNativeOp, type KernelArgs } from './define-op.ts';
import { locateAll, memoryOf } from './memory.ts';

type Views = (ArrayBufferView | null)[];
interface RetentionAddon {
  retentionForward(views: Views, offs: Float64Array, dims: Float64Array): void;
  retentionBackward(views: Views, offs: Float64Array, dims: Float64Array): void;
}

const FORWARD = 'SeqlabRetentionParallel';
const BACKWARD = 'SeqlabRetentionParallelGrad';

/** [B*H, T, dk, dv] */
const dims = (q: tf.TensorInfo, v: tf.TensorInfo) => Float64Array.from([q.shape[0]! * q.shape[1]!, q.shape[2]!, q.shape[3]!, v.shape[3]!]);

const op = defineNativeOp<RetentionAddon>({
  name: 'retention',
  kernels: (native) => ({
    [FORWARD]: ({ inputs, backend }: KernelArgs) => {
      const { q, k, v, a } = inputs as Record<string, tf.TensorInfo>;
      const o = memoryOf(backend as tf.KernelBackend).alloc(v.shape);
      const { views, offs } = locateAll(backend as tf.KernelBackend, [q, k, v, a, o]);
      native.retentionForward(views, offs, dims(q, v));
      return o;
    },
    [BACKWARD]: ({ inputs, backend }: KernelArgs) => {
      const { q, k, v, a, dO } = inputs as Record<string, tf.TensorInfo>;
      const mem = memoryOf(backend as tf.KernelBackend);
      const grads = [mem.alloc(q.shape), mem.alloc(k.shape), mem.alloc(v.shape), mem.alloc(a.shape)];
      const { views, offs } = locateAll(backend as tf.KernelBackend, [q, k, v, a, dO, ...grads]);
      native.retentionBackward(views, offs, dims(q, v));
      return grads;
    },
  }),
});

/** Whether the fused kernel may run here at all (the kernel configuration's fused.retention, backend, addon). */
export function fusedRetentionReady(): boolean {
  return op.ready();
}

/** Whether retentionFused runs on these tensors here (a per head, not per key). */
export function retentionFusedAvailable(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, a: tf.Tensor): boolean {
  return q.rank === 4 && a.rank === 3 && op.ready(q, k, v, a);
}

/** The parallel form's output [B, H, T, dv], fused; check retentionFusedAvailable first. */
export function retentionFused(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, a: tf.Tensor): tf.Tensor4D {
  op.addon();
  const [o] = customOp(
    { q, k, v, a },
    (save) => {
      save([q, k, v, a]);
      return [tf.engine().runKernel(FORWARD, { q, k, v, a }) as tf.Tensor];
    },
    ([dO], [q0, k0, v0, a0]) => {
      const [dq, dk, dv, da] = tf.engine().runKernel(BACKWARD, { q: q0, k: k0, v: v0, a: a0, dO }) as tf.Tensor[];
      return { q: dq, k: dk, v: dv, a: da };
    },
  );
  return o as tf.Tensor4D;
}
