/**
 * Where a tensor's data lives in backend memory, for the native kernels: the wasm heap (one
 * Uint8Array view shared by every tensor) or the cpu backend's Float32Arrays.
 */
import * as tf from '@tensorflow/tfjs';

/** Where a tensor's float32 data lives: a view plus a byte offset into it. */
export interface Located {
  view: ArrayBufferView;
  off: number;
}

/** Backend memory access the kernels need; wasm and cpu differ only here. */
export interface Memory {
  /** False when a tensor's data is not a float32 buffer the addon can read. */
  usable(t: tf.TensorInfo): boolean;
  /** A fresh output (float32 unless said; 4-byte dtypes only). */
  alloc(shape: number[], dtype?: 'float32' | 'int32'): tf.TensorInfo;
  /** Valid until the next allocation (wasm memory growth detaches the old buffer). */
  locate(t: tf.TensorInfo): Located;
}

// One Memory per backend instance: kernels ask for it on every call.
const memories = new WeakMap<tf.KernelBackend, Memory>();

export function memoryOf(backend: tf.KernelBackend): Memory {
  let m = memories.get(backend);
  if (!m) memories.set(backend, (m = makeMemory(backend)));
  return m;
}

function makeMemory(backend: tf.KernelBackend): Memory {
  // biome-ignore lint/suspicious/noExplicitAny: the backends' private memory maps (wasm dataIdMap, cpu data) have no public type
  const be = backend as any;
  if (be.wasm && be.dataIdMap) {
    return {
      usable: (t) => be.dataIdMap.get(t.dataId)?.memoryOffset != null,
      alloc: (shape, dtype = 'float32') => be.makeOutput(shape, dtype),
      locate: (t) => ({ view: be.wasm.HEAPU8 as Uint8Array, off: be.dataIdMap.get(t.dataId).memoryOffset as number }),
    };
  }
  return {
    usable: (t) => be.data.get(t.dataId)?.values instanceof Float32Array,
    alloc: (shape, dtype = 'float32') => {
      const n = tf.util.sizeFromShape(shape);
      return be.makeTensorInfo(shape, dtype, dtype === 'int32' ? new Int32Array(n) : new Float32Array(n));
    },
    locate: (t) => ({ view: be.data.get(t.dataId).values as Float32Array, off: 0 }),
  };
}

/**
 * The (views, byte offsets) pair the native kernels take for a list of tensors in backend memory
 * (undefined = an absent slot, passed as null). Call after the kernel's last allocation: one may
 * have grown (and detached) the wasm heap.
 */
export function locateAll(
  backend: tf.KernelBackend,
  ts: (tf.TensorInfo | undefined)[],
): { views: (ArrayBufferView | null)[]; offs: Float64Array } {
  const mem = memoryOf(backend);
  const offs = new Float64Array(ts.length);
  const views = ts.map((t, i) => {
    if (!t) return null;
    const l = mem.locate(t);
    offs[i] = l.off;
    return l.view;
  });
  return { views, offs };
}
