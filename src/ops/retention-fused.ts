/**
 * Parallel retention with a scalar decay per head and position as one fused op (docs/models.md 3.3,
 * 5.4) on the native addon (native/retention.c): o_i = sum_{j <= i} (q_i . k_j) exp(a_{j+1} + ... +
 * a_i) v_j, blockwise, without the [T, T] decay and score matrices, with its gradient for q, k, v
 * and a. q, k [B, H, T, dk]; v [B, H, T, dv]; a [B, H, T]. On the wasm and cpu backends with the
 * native kernels (nativeOpsReady); `retentionParallel` takes it when it applies and otherwise
 * computes the same function with tensor ops.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp, registerKernelsOnce } from '../backend/custom-op.ts';
import { NATIVE_BACKENDS, nativeOpsReady } from '../backend/eltwise.ts';
import { addonWith, locateAll, memoryOf } from '../backend/matmul-native.ts';
import { envOff } from '../util/env.ts';

type Views = (ArrayBufferView | null)[];
interface RetentionAddon {
  retentionForward(views: Views, offs: Float64Array, dims: Float64Array): void;
  retentionBackward(views: Views, offs: Float64Array, dims: Float64Array): void;
}

const FORWARD = 'SeqlabRetentionParallel';
const BACKWARD = 'SeqlabRetentionParallelGrad';

type KernelArgs = Parameters<tf.KernelFunc>[0];
let registered: RetentionAddon | null | undefined;

/** [B*H, T, dk, dv] */
const dims = (q: tf.TensorInfo, v: tf.TensorInfo) => Float64Array.from([q.shape[0]! * q.shape[1]!, q.shape[2]!, q.shape[3]!, v.shape[3]!]);

function addon(): RetentionAddon | undefined {
  if (registered === undefined) {
    const native = addonWith<RetentionAddon>('retentionForward', 'retentionBackward');
    registered = native ?? null;
    if (native) {
      const forward = ({ inputs, backend }: KernelArgs) => {
        const { q, k, v, a } = inputs as Record<string, tf.TensorInfo>;
        const o = memoryOf(backend as tf.KernelBackend).alloc(v.shape);
        const { views, offs } = locateAll(backend as tf.KernelBackend, [q, k, v, a, o]);
        native.retentionForward(views, offs, dims(q, v));
        return o;
      };
      const backward = ({ inputs, backend }: KernelArgs) => {
        const { q, k, v, a, dO } = inputs as Record<string, tf.TensorInfo>;
        const mem = memoryOf(backend as tf.KernelBackend);
        const grads = [mem.alloc(q.shape), mem.alloc(k.shape), mem.alloc(v.shape), mem.alloc(a.shape)];
        const { views, offs } = locateAll(backend as tf.KernelBackend, [q, k, v, a, dO, ...grads]);
        native.retentionBackward(views, offs, dims(q, v));
        return grads;
      };
      registerKernelsOnce({ [FORWARD]: forward, [BACKWARD]: backward }, NATIVE_BACKENDS);
    }
  }
  return registered ?? undefined;
}

/** Whether the fused kernel may run here at all (backend, addon, SEQLAB_FUSED_RETENTION). */
export function fusedRetentionReady(): boolean {
  return !envOff('SEQLAB_FUSED_RETENTION') && nativeOpsReady() && addon() !== undefined;
}

/** Whether retentionFused runs on these tensors here (a per head, not per key). */
export function retentionFusedAvailable(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, a: tf.Tensor): boolean {
  return q.rank === 4 && a.rank === 3 && fusedRetentionReady() && nativeOpsReady(q, k, v, a);
}

/** The parallel form's output [B, H, T, dv], fused; check retentionFusedAvailable first. */
export function retentionFused(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, a: tf.Tensor): tf.Tensor4D {
  if (!addon()) throw new Error('fused retention unavailable: the native addon has no retention kernels');
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
