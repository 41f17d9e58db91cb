/**
 * The wasm heap is at most 4 GiB. When a tensor does not fit, the stock backend gets 0 from
 * malloc and registers the tensor at address 0 (heap corruption, then `memory access out of
 * bounds` or `Aborted()` somewhere later). guardWasmHeap makes that allocation throw instead, with
 * one line naming the tensor that did not fit and what to change.
 */
import * as tf from '@tensorflow/tfjs';

export class HeapExhaustedError extends Error {
  override name = 'HeapExhausted';
}

const GiB = 2 ** 30;
const fmt = (bytes: number) => (bytes >= GiB ? `${(bytes / GiB).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`);

interface WasmLike {
  wasm: { _malloc(n: number): number; HEAPU8: Uint8Array };
  move(dataId: object, values: unknown, shape: number[], dtype: string, refCount: number): void;
}

const GUARDED = Symbol.for('seqlab.heapGuard');

/** Install the guard on the active backend when it is wasm (idempotent); returns whether it is on. */
export function guardWasmHeap(): boolean {
  if (tf.getBackend() !== 'wasm') return false;
  const be = tf.backend() as unknown as WasmLike & { [GUARDED]?: boolean };
  if (be[GUARDED]) return true;
  const wasm = be.wasm;
  const malloc = wasm._malloc.bind(wasm);
  wasm._malloc = (n: number) => {
    // malloc takes a 32-bit size: 4 GiB and more would wrap around to a small allocation
    if (n >= 2 ** 32) throw new HeapExhaustedError(`${n}`);
    const p = malloc(n);
    if (p === 0 && n > 0) throw new HeapExhaustedError(`${n}`);
    return p;
  };
  const move = be.move.bind(be);
  be.move = (dataId, values, shape, dtype, refCount) => {
    try {
      move(dataId, values, shape, dtype, refCount);
    } catch (e) {
      if (!(e instanceof HeapExhaustedError)) throw e;
      const bytes = Number(e.message);
      const live = tf.memory().numBytes;
      throw new HeapExhaustedError(
        `a ${dtype} [${shape.join(', ')}] tensor (${fmt(bytes)}) does not fit in the wasm heap (${fmt(wasm.HEAPU8.length)} of 4 GiB grown, ` +
          `${fmt(live)} in live tensors): reduce train.batch_size or task.seq_len, or set train.checkpoint_activations: true`,
      );
    }
  };
  be[GUARDED] = true;
  return true;
}
