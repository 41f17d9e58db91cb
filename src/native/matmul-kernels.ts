/**
 * Shapes a matmul as the addon sees it and the BatchMatMul / _FusedMatMul kernels that call a
 * native sgemm (native/matmul.c) in place on the backend's own memory (src/native/memory.ts). Two
 * engines share the code: OpenBLAS cblas_sgemm (`gemm`, in builds with OpenBLAS) and the addon's
 * built-in packed GEMM (`gemmBuiltin`, always). Cases the addon does not cover (general batch
 * broadcasting, activations other than linear/relu, non-float32) go to the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import type { GemmFn } from './addon.ts';
import { memoryOf, type Memory } from './memory.ts';

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
  const ra = aShape.length,
    rb = bShape.length;
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
    batch,
    M,
    N,
    K,
    strideA: batchA === 1 ? 0 : M * K,
    strideB: batchB === 1 ? 0 : K * N,
    outShape: [...outer, M, N],
  };
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
function run(
  e: Engines,
  mem: Memory,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  g: Geometry,
  transA: boolean,
  transB: boolean,
  bias: tf.TensorInfo | null,
  act: 0 | 1,
): tf.TensorInfo {
  const small = 2 * g.batch * g.M * g.N * g.K < e.minFlops;
  const gemm = small ? e.batched : e.gemm,
    batched = e.batched;
  const out = mem.alloc(g.outShape);
  // Locate only after the allocation: it may have grown (and detached) the wasm heap.
  const A = mem.locate(a),
    B = mem.locate(b),
    C = mem.locate(out);
  const bi = bias ? mem.locate(bias) : null;
  if (g.strideB === 0 && !transA && g.batch > 1) {
    // [batch, M, K] @ [K, N]: the batch folds into rows, one large sgemm.
    gemm(A.view, A.off, 0, B.view, B.off, 0, C.view, C.off, bi?.view ?? null, bi?.off ?? 0, 1, g.batch * g.M, g.N, g.K, false, transB, act);
  } else {
    (g.batch > 1 ? batched : gemm)(
      A.view,
      A.off,
      g.strideA,
      B.view,
      B.off,
      g.strideB,
      C.view,
      C.off,
      bi?.view ?? null,
      bi?.off ?? 0,
      g.batch,
      g.M,
      g.N,
      g.K,
      transA,
      transB,
      act,
    );
  }
  return out;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

/**
 * Kernel configs for one backend on one engine (`batched`: the engine of batched products and of
 * products under `minFlops`, default the same); `stock` handles whatever the addon does not.
 */
export function nativeKernels(
  gemm: GemmFn,
  stock: { batchMatMul: tf.KernelConfig; fusedMatMul: tf.KernelConfig },
  batched: GemmFn = gemm,
  minFlops = 0,
): tf.KernelConfig[] {
  const engines: Engines = { gemm, batched, minFlops };
  const batchMatMul = (args: KernelArgs) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA = false, transposeB = false } = args.attrs as { transposeA?: boolean; transposeB?: boolean };
    const mem = memoryOf(args.backend as tf.KernelBackend);
    const g =
      a.dtype === 'float32' && b.dtype === 'float32' && mem.usable(a) && mem.usable(b)
        ? matmulGeometry(a.shape, b.shape, transposeA, transposeB)
        : undefined;
    if (!g) return stock.batchMatMul.kernelFunc(args);
    return run(engines, mem, a, b, g, transposeA, transposeB, null, 0);
  };
  const fusedMatMul = (args: KernelArgs) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const {
      transposeA = false,
      transposeB = false,
      activation = 'linear',
    } = args.attrs as { transposeA?: boolean; transposeB?: boolean; activation?: string };
    const act = ACT[activation];
    const mem = memoryOf(args.backend as tf.KernelBackend);
    const g =
      a!.dtype === 'float32' &&
      b!.dtype === 'float32' &&
      act !== undefined &&
      preluActivationWeights == null &&
      mem.usable(a!) &&
      mem.usable(b!)
        ? matmulGeometry(a!.shape, b!.shape, transposeA, transposeB)
        : undefined;
    // Bias must be one row of N (any rank, e.g. [N] or [1, N]) to be broadcast by the addon.
    const biasOk =
      bias == null ||
      (bias.dtype === 'float32' &&
        mem.usable(bias) &&
        tf.util.sizeFromShape(bias.shape) === g?.N &&
        bias.shape[bias.shape.length - 1] === g.N);
    if (!g || !biasOk) return stock.fusedMatMul.kernelFunc(args);
    return run(engines, mem, a!, b!, g, transposeA, transposeB, bias ?? null, act);
  };
  return [
    { ...stock.batchMatMul, kernelFunc: batchMatMul as unknown as tf.KernelFunc },
    { ...stock.fusedMatMul, kernelFunc: fusedMatMul as unknown as tf.KernelFunc },
  ];
}
