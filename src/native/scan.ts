/**
 * The fused Mamba-1 selective scan (docs/models.md 4.1 steps 7-9) on the native addon (native/scan.c):
 *   h_t = exp(dt_t (x) A) * h_{t-1} + (dt_t * x_t) (x) Bm_t;  s_t = h_t @ Cm_t + Dsk * x_t;  y_t = s_t * silu(z_t)
 * x, dt, z, y [B, T, D]; A [D, N]; Bm, Cm [B, T, N]; Dsk [D]; h0, h [B, D, N].
 *
 * Forward and backward are two tfjs kernels (SeqlabScanForward / SeqlabScanBackward, wasm and
 * cpu backends) working in place on the backend's memory; the op's gradient joins them. The
 * forward keeps only the states at chunk boundaries (S [B, ceil(T/C), D, N]) for the backward,
 * which recomputes each chunk's states from its boundary; no [B, T, D, N] tensor is ever formed.
 * Without the addon (or off wasm/cpu, or with fused.scan off in the kernel configuration,
 * SEQLAB_FUSED_SCAN=off) `gatedScan` (src/ops/scan.ts) computes the same function with the tensor forms.
 */
import * as tf from '@tensorflow/tfjs';
import { customOp } from '../backend/custom-op.ts';
import { kernelConfig } from './config.ts';
import { defineNativeOp, type KernelArgs } from './define-op.ts';
import { locateAll, memoryOf } from './memory.ts';

type Views = Array<ArrayBufferView | null>;

/** native/scan.c's JS surface. dims = [B, T, D, N, C, threads]; offsets in bytes. */
interface ScanAddon {
  scanForward(views: Views, offs: Float64Array, dims: number[]): void;
  scanBackward(views: Views, offs: Float64Array, dims: number[]): void;
}

const FORWARD = 'SeqlabScanForward';
const BACKWARD = 'SeqlabScanBackward';

const op = defineNativeOp<ScanAddon>({
  name: 'scan',
  kernels: (native) => ({
    [FORWARD]: ({ inputs, attrs, backend }: KernelArgs) => {
      const { x, dt, A, Bm, Cm, Dsk, z, h0 } = inputs as Record<string, tf.TensorInfo | undefined>;
      const [B, T, D] = x!.shape;
      const N = A!.shape[1];
      const C = Math.max(1, Math.min(T, (attrs as { chunk: number }).chunk));
      const nc = Math.ceil(T / C);
      const mem = memoryOf(backend as tf.KernelBackend);
      const outs = [mem.alloc([B, T, D]), mem.alloc([B, D, N]), mem.alloc([B, nc, D, N])];
      // Locate after every allocation: one may have grown (and detached) the wasm heap.
      const { views, offs } = locateAll(backend as tf.KernelBackend, [x, dt, A, Bm, Cm, Dsk, z, h0, ...outs]);
      native.scanForward(views, offs, [B, T, D, N, C, kernelConfig().threads]);
      return outs;
    },
    [BACKWARD]: ({ inputs, attrs, backend }: KernelArgs) => {
      const { x, dt, A, Bm, Cm, Dsk, z, h0, S, dy, dh } = inputs as Record<string, tf.TensorInfo | undefined>;
      const [B, T, D] = x!.shape;
      const N = A!.shape[1];
      const mem = memoryOf(backend as tf.KernelBackend);
      const outs = [
        mem.alloc([B, T, D]),
        mem.alloc([B, T, D]),
        mem.alloc([D, N]),
        mem.alloc([B, T, N]),
        mem.alloc([B, T, N]),
        Dsk ? mem.alloc([D]) : undefined,
        z ? mem.alloc([B, T, D]) : undefined,
        h0 ? mem.alloc([B, D, N]) : undefined,
      ];
      const { views, offs } = locateAll(backend as tf.KernelBackend, [x, dt, A, Bm, Cm, Dsk, z, h0, S, dy, dh, ...outs]);
      native.scanBackward(views, offs, [B, T, D, N, (attrs as { chunk: number }).chunk, kernelConfig().threads]);
      return outs.filter((o): o is tf.TensorInfo => o !== undefined);
    },
  }),
});

/** Whether selectiveScanFused runs on `backend` (default: the active one), and why not. */
export function fusedScanStatus(backend?: string): { available: boolean; reason: string } {
  return op.status(backend);
}

export interface FusedScanOpts {
  /** skip weights Dsk [D]: s = y + Dsk * x */
  D?: tf.Tensor;
  /** gate z [B, T, D]: y = s * silu(z) */
  z?: tf.Tensor;
  h0?: tf.Tensor;
  /** steps between the states the forward keeps for the backward (default round(sqrt(T))) */
  chunk?: number;
}

/**
 * The fused op (forward + gradient w.r.t. every input, the final state's gradient included).
 * Throws when the addon is not available: check fusedScanStatus() or use gatedScan.
 */
export function selectiveScanFused(
  x: tf.Tensor,
  dt: tf.Tensor,
  A: tf.Tensor,
  Bm: tf.Tensor,
  Cm: tf.Tensor,
  opts: FusedScanOpts = {},
): { y: tf.Tensor3D; h: tf.Tensor3D } {
  const st = fusedScanStatus();
  if (!st.available) throw new Error(`fused selective scan unavailable: ${st.reason}`);
  const T = x.shape[1]!;
  const chunk = Math.max(1, Math.min(T, opts.chunk ?? Math.round(Math.sqrt(T))));
  const inputs: Record<string, tf.Tensor> = { x, dt, A, Bm, Cm };
  if (opts.D) inputs.Dsk = opts.D;
  if (opts.z) inputs.z = opts.z;
  if (opts.h0) inputs.h0 = opts.h0;
  const names = Object.keys(inputs);
  const [y, h] = customOp(
    inputs,
    (save) => {
      const [y, h, S] = tf.engine().runKernel(FORWARD, inputs as tf.NamedTensorMap, { chunk } as unknown as tf.NamedAttrMap) as tf.Tensor[];
      save([...names.map((n) => inputs[n]), S]);
      return [y, h];
    },
    ([dy, dh], saved) => {
      const ins: Record<string, tf.Tensor> = {};
      names.forEach((n, i) => (ins[n] = saved[i]));
      const g = tf
        .engine()
        .runKernel(
          BACKWARD,
          { ...ins, S: saved[names.length], dy, dh } as tf.NamedTensorMap,
          { chunk } as unknown as tf.NamedAttrMap,
        ) as tf.Tensor[];
      const order = ['x', 'dt', 'A', 'Bm', 'Cm', 'Dsk', 'z', 'h0'].filter((n) => n in inputs);
      return Object.fromEntries(order.map((n, i) => [n, g[i]]));
    },
  );
  return { y: y as tf.Tensor3D, h: h as tf.Tensor3D };
}
