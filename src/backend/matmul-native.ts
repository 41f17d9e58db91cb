// BatchMatMul / _FusedMatMul kernels that call a native sgemm (native/matmul.c) in place on
// the backend's own memory: the wasm heap (one Uint8Array view shared by a, b and the output) or
// the cpu backend's Float32Arrays. Two engines share the code: OpenBLAS cblas_sgemm (`gemm`, in
// builds with OpenBLAS) and the addon's built-in packed GEMM (`gemmBuiltin`, always). Cases the
// addon does not cover (general batch broadcasting, activations other than linear/relu,
// non-float32) go to the stock kernel.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { tuneOpenblasCore, type CoreChoice } from './openblas-core.ts';
import { envOff } from '../util/env.ts';

/** One batched product: C[i] = act(op(A[i]) @ op(B[i]) + bias). Offsets in bytes, strides in elements. */
export type GemmFn = (
  a: ArrayBufferView, aOff: number, aStride: number,
  b: ArrayBufferView, bOff: number, bStride: number,
  c: ArrayBufferView, cOff: number,
  bias: ArrayBufferView | null, biasOff: number,
  batch: number, M: number, N: number, K: number,
  transA: boolean, transB: boolean, act: 0 | 1,
) => void;

/** The addon's JS surface (see native/matmul.c and native/gemm.c). */
export interface NativeAddon {
  /** True when built with OpenBLAS: then gemm / setThreads / threads exist. */
  hasCblas: boolean;
  gemm?: GemmFn;
  setThreads?(n: number): number;
  threads?(): number;
  gemmBuiltin: GemmFn;
  setBuiltinThreads(n: number): number;
  builtinThreads(): number;
  /** The built-in GEMM's micro-kernel, e.g. "avx512 12x32". */
  builtinKernel(): string;
  /** Forces a micro-kernel (avx512 | avx2 | generic); false when this CPU lacks it. */
  setBuiltinKernel(name: string): boolean;
  /** openblas_get_config(), or a line saying the build has no OpenBLAS. */
  config(): string;
  /** openblas_get_corename(), null without OpenBLAS. */
  corename(): string | null;
}

export const DEFAULT_ADDON_PATH = fileURLToPath(new URL('../../native/build/Release/seqlab_matmul.node', import.meta.url));
export const BUILD_STATUS_PATH = fileURLToPath(new URL('../../native/build/status.json', import.meta.url));

export interface LoadedAddon {
  addon?: NativeAddon;
  reason: string;
  /** The OpenBLAS core in use and how it was chosen (builds with OpenBLAS). */
  blas?: CoreChoice;
}

const loaded = new Map<string, LoadedAddon>();

/**
 * Loads the addon once per path; never throws. Before the first load it settles the OpenBLAS core
 * (openblas-core.ts), which must happen before libopenblas initialises. SEQLAB_NATIVE_MATMUL=off
 * disables it, SEQLAB_NATIVE_MATMUL_PATH overrides the path.
 */
export function loadNativeAddon(path = process.env.SEQLAB_NATIVE_MATMUL_PATH ?? DEFAULT_ADDON_PATH): LoadedAddon {
  if (envOff('SEQLAB_NATIVE_MATMUL')) {
    return { reason: 'native addon disabled by SEQLAB_NATIVE_MATMUL=off' };
  }
  if (!existsSync(path)) {
    return { reason: `native addon not built (${path} missing; install a C compiler (and libopenblas-dev), then run \`node native/build.js\`)` };
  }
  const seen = loaded.get(path);
  if (seen) return seen;
  let out: LoadedAddon;
  try {
    const tuned = tuneOpenblasCore(path);
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    if (typeof addon.gemmBuiltin !== 'function') {
      out = { reason: `native addon at ${path} is outdated (no gemmBuiltin); rebuild it with \`node native/build.js\`` };
    } else {
      // What OpenBLAS really runs with, whatever was asked for.
      const blas = addon.hasCblas ? { ...tuned, core: addon.corename(), config: addon.config() } : undefined;
      out = { addon, blas, reason: `native addon loaded (${addon.hasCblas ? addon.config() : `built-in GEMM ${addon.builtinKernel()}, no OpenBLAS`})` };
    }
  } catch (e) {
    out = { reason: `native addon failed to load: ${(e as Error).message.split('\n')[0]}` };
  }
  loaded.set(path, out);
  return out;
}

/** The loaded addon as T when it exports every function in `names` (an older build may lack some). */
export function addonWith<T>(...names: (keyof T & string)[]): T | undefined {
  const a = loadNativeAddon().addon as unknown as Record<string, unknown> | undefined;
  return a && names.every((n) => typeof a[n] === 'function') ? (a as T) : undefined;
}

/** Shapes of one matmul as the addon sees it, or undefined when only the stock kernel handles it. */
export interface Geometry {
  batch: number; // number of output slices
  M: number;
  N: number;
  K: number;
  strideA: number; // elements between A slices; 0 broadcasts one A over the batch
  strideB: number;
  outShape: number[];
}

export function matmulGeometry(aShape: number[], bShape: number[], transA: boolean, transB: boolean): Geometry | undefined {
  const ra = aShape.length, rb = bShape.length;
  if (ra < 2 || rb < 2) return undefined;
  const M = transA ? aShape[ra - 1] : aShape[ra - 2];
  const K = transA ? aShape[ra - 2] : aShape[ra - 1];
  const Kb = transB ? bShape[rb - 1] : bShape[rb - 2];
  const N = transB ? bShape[rb - 2] : bShape[rb - 1];
  if (K !== Kb || M === 0 || N === 0 || K === 0) return undefined; // let stock report errors / empty shapes
  let outer: number[];
  try {
    outer = tf.broadcast_util.assertAndGetBroadcastShape(aShape.slice(0, -2), bShape.slice(0, -2));
  } catch {
    return undefined;
  }
  const batch = tf.util.sizeFromShape(outer);
  const batchA = tf.util.sizeFromShape(aShape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(bShape.slice(0, -2));
  // Equal batches or a single broadcast operand; anything else is general broadcasting.
  if ((batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)) return undefined;
  return {
    batch, M, N, K,
    strideA: batchA === 1 ? 0 : M * K,
    strideB: batchB === 1 ? 0 : K * N,
    outShape: [...outer, M, N],
  };
}

/** Where a tensor's float32 data lives: a view plus a byte offset into it. */
export interface Located { view: ArrayBufferView; off: number }

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
export function locateAll(backend: tf.KernelBackend, ts: (tf.TensorInfo | undefined)[]): { views: (ArrayBufferView | null)[]; offs: Float64Array } {
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

const ACT: Record<string, 0 | 1> = { linear: 0, relu: 1 };

/** Which engine runs the products: `gemm`, with `batched` for batched products and those under `minFlops`. */
export interface Engines {
  gemm: GemmFn;
  batched: GemmFn;
  minFlops: number;
}

/**
 * C = act(op(A) @ op(B) + bias) into a fresh output; the caller has checked the geometry. Batched
 * products go to `e.batched`: OpenBLAS pays a threaded call per slice (attention's [B*H, T, dh]
 * products ran 2x slower than the built-in GEMM, which splits the batch over threads); so do
 * products under `e.minFlops` (see BLAS_MIN_FLOPS in matmul.ts).
 */
function run(e: Engines, mem: Memory, a: tf.TensorInfo, b: tf.TensorInfo, g: Geometry,
  transA: boolean, transB: boolean, bias: tf.TensorInfo | null, act: 0 | 1): tf.TensorInfo {
  const small = 2 * g.batch * g.M * g.N * g.K < e.minFlops;
  const gemm = small ? e.batched : e.gemm, batched = e.batched;
  const out = mem.alloc(g.outShape);
  // Locate only after the allocation: it may have grown (and detached) the wasm heap.
  const A = mem.locate(a), B = mem.locate(b), C = mem.locate(out);
  const bi = bias ? mem.locate(bias) : null;
  if (g.strideB === 0 && !transA && g.batch > 1) {
    // [batch, M, K] @ [K, N]: the batch folds into rows, one large sgemm.
    gemm(A.view, A.off, 0, B.view, B.off, 0, C.view, C.off, bi?.view ?? null, bi?.off ?? 0,
      1, g.batch * g.M, g.N, g.K, false, transB, act);
  } else {
    (g.batch > 1 ? batched : gemm)(A.view, A.off, g.strideA, B.view, B.off, g.strideB, C.view, C.off, bi?.view ?? null, bi?.off ?? 0,
      g.batch, g.M, g.N, g.K, transA, transB, act);
  }
  return out;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

/**
 * Kernel configs for one backend on one engine (`batched`: the engine of batched products and of
 * products under `minFlops`, default the same); `stock` handles whatever the addon does not.
 */
export function nativeKernels(gemm: GemmFn, stock: { batchMatMul: tf.KernelConfig; fusedMatMul: tf.KernelConfig }, batched: GemmFn = gemm, minFlops = 0): tf.KernelConfig[] {
  const engines: Engines = { gemm, batched, minFlops };
  const batchMatMul = (args: KernelArgs) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA = false, transposeB = false } = args.attrs as { transposeA?: boolean; transposeB?: boolean };
    const mem = memoryOf(args.backend as tf.KernelBackend);
    const g = a.dtype === 'float32' && b.dtype === 'float32' && mem.usable(a) && mem.usable(b)
      ? matmulGeometry(a.shape, b.shape, transposeA, transposeB) : undefined;
    if (!g) return stock.batchMatMul.kernelFunc(args);
    return run(engines, mem, a, b, g, transposeA, transposeB, null, 0);
  };
  const fusedMatMul = (args: KernelArgs) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const { transposeA = false, transposeB = false, activation = 'linear' } = args.attrs as { transposeA?: boolean; transposeB?: boolean; activation?: string };
    const act = ACT[activation];
    const mem = memoryOf(args.backend as tf.KernelBackend);
    const g = a!.dtype === 'float32' && b!.dtype === 'float32' && act !== undefined && preluActivationWeights == null && mem.usable(a!) && mem.usable(b!)
      ? matmulGeometry(a!.shape, b!.shape, transposeA, transposeB) : undefined;
    // Bias must be one row of N (any rank, e.g. [N] or [1, N]) to be broadcast by the addon.
    const biasOk = bias == null || (bias.dtype === 'float32' && mem.usable(bias) && tf.util.sizeFromShape(bias.shape) === g?.N && bias.shape[bias.shape.length - 1] === g.N);
    if (!g || !biasOk) return stock.fusedMatMul.kernelFunc(args);
    return run(engines, mem, a!, b!, g, transposeA, transposeB, bias ?? null, act);
  };
  return [
    { ...stock.batchMatMul, kernelFunc: batchMatMul as unknown as tf.KernelFunc },
    { ...stock.fusedMatMul, kernelFunc: fusedMatMul as unknown as tf.KernelFunc },
  ];
}
