// Pure-JS speed-up for the wasm backend when the native addon is absent. The stock wasm
// matmul is fast (XNNPACK) only for one 2-D product without transposeA; transposed and
// batched products drop to a naive loop ~15x slower. So: make transposes explicit (the
// stock Transpose kernel is a cheap copy), fold [batch, M, K] @ [K, N] into one 2-D
// product, and split other batches into 2-D stock calls on zero-copy views of the slices.
import type * as tf from '@tensorflow/tfjs';
import { matmulGeometry, type Geometry } from './matmul-kernels.ts';

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Stock = { batchMatMul: tf.KernelConfig; fusedMatMul: tf.KernelConfig; transpose: tf.KernelConfig };

/** The wasm backend internals these kernels rely on (see tfjs-backend-wasm backend_wasm.js). */
interface WasmBackend extends tf.KernelBackend {
  wasm: { HEAPU8: Uint8Array; tfjs: { disposeData(id: number): void } };
  dataIdMap: { get(d: object): { id: number; memoryOffset: number }; delete(d: object): void };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
  disposeData(d: object): boolean;
}

export function isWasmBackend(backend: tf.KernelBackend): backend is WasmBackend {
  const be = backend as unknown as Partial<WasmBackend>;
  return be.wasm != null && be.dataIdMap != null && typeof be.makeOutput === 'function';
}

/** A tensor view of elements [offset, offset + size(shape)) of t, sharing its memory. */
function view(be: WasmBackend, t: tf.TensorInfo, offset: number, shape: number[]): tf.TensorInfo {
  return be.makeOutput(shape, 'float32', be.dataIdMap.get(t.dataId).memoryOffset + 4 * offset);
}

/** Forget a view without freeing the memory it borrows. */
function dropView(be: WasmBackend, v: tf.TensorInfo): void {
  be.wasm.tfjs.disposeData(be.dataIdMap.get(v.dataId).id);
  be.dataIdMap.delete(v.dataId);
}

/** [..., R, C] -> [batch, C, R] as a new tensor. */
function transposeLast2(be: WasmBackend, stock: Stock, t: tf.TensorInfo, batch: number): tf.TensorInfo {
  const [R, C] = t.shape.slice(-2);
  const t3 = { ...t, shape: [batch, R, C] };
  return stock.transpose.kernelFunc({ inputs: { x: t3 }, backend: be, attrs: { perm: [0, 2, 1] } }) as tf.TensorInfo;
}

/**
 * op(A) @ op(B) [+ bias, act] through 2-D stock calls. `call` runs the stock kernel on
 * [1, M, K] x [1, K, N] operands (transposeA false, transposeB false) and returns [1, M', N].
 */
function splitProduct(
  be: WasmBackend,
  stock: Stock,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  g: Geometry,
  transA: boolean,
  transB: boolean,
  call: (a: tf.TensorInfo, b: tf.TensorInfo) => tf.TensorInfo,
): tf.TensorInfo {
  const batchA = g.strideA === 0 ? 1 : g.batch,
    batchB = g.strideB === 0 ? 1 : g.batch;
  const A = transA ? transposeLast2(be, stock, a, batchA) : a; // [batchA, M, K]
  const B = transB ? transposeLast2(be, stock, b, batchB) : b; // [batchB, K, N]
  try {
    if (g.strideB === 0) {
      // [batch, M, K] @ [K, N]: the batch folds into rows, one fast 2-D call.
      const out = call({ ...A, shape: [1, g.batch * g.M, g.K] }, { ...B, shape: [1, g.K, g.N] });
      return { ...out, shape: g.outShape };
    }
    const out = be.makeOutput(g.outShape, 'float32');
    const sliceBytes = 4 * g.M * g.N;
    for (let i = 0; i < g.batch; i++) {
      const ai = view(be, A, i * g.strideA, [1, g.M, g.K]);
      const bi = view(be, B, i * g.strideB, [1, g.K, g.N]);
      const ci = call(ai, bi);
      dropView(be, ai);
      dropView(be, bi);
      // Offsets and heap read after the call: its allocation may have grown wasm memory.
      const src = be.dataIdMap.get(ci.dataId).memoryOffset;
      const dst = be.dataIdMap.get(out.dataId).memoryOffset + i * sliceBytes;
      be.wasm.HEAPU8.copyWithin(dst, src, src + sliceBytes);
      be.disposeData(ci.dataId);
    }
    return out;
  } finally {
    if (A !== a) be.disposeData(A.dataId);
    if (B !== b) be.disposeData(B.dataId);
  }
}

/**
 * At or below this many multiply-adds per slice, one stock batched call beats a 2-D call per slice
 * (each costs ~5 us of dispatch): measured on wasm, [2048 x 8x8x8] takes 2.2 ms stock vs 11 ms
 * split, [512 x 16x16x16] is even, [256 x 16x64x16] is 4.7 ms stock vs 2.8 ms split.
 */
export const fallbackTuning = { minSplitSliceMacs: 4096 };

/**
 * The stock kernel is already fast (or at least not slower) for this product. Never for a fused
 * product with batch > 1: stock wasm _FusedMatMul adds the bias wrongly there (tfjs 4.22).
 */
function stockIsFast(g: Geometry, transA: boolean, transB: boolean, fused = false): boolean {
  if (g.batch === 1) return !transA && !transB;
  return !fused && g.strideB !== 0 && g.M * g.K * g.N <= fallbackTuning.minSplitSliceMacs; // folding [b, M, K] @ [K, N] always pays
}

/** Kernel configs for the wasm backend built only from its stock kernels. */
export function fallbackKernels(stock: Stock): tf.KernelConfig[] {
  const batchMatMul = (args: KernelArgs) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA = false, transposeB = false } = args.attrs as { transposeA?: boolean; transposeB?: boolean };
    const be = args.backend as tf.KernelBackend;
    const g = a.dtype === 'float32' && b.dtype === 'float32' ? matmulGeometry(a.shape, b.shape, transposeA, transposeB) : undefined;
    if (!g || !isWasmBackend(be) || stockIsFast(g, transposeA, transposeB)) return stock.batchMatMul.kernelFunc(args);
    const call = (ai: tf.TensorInfo, bi: tf.TensorInfo) =>
      stock.batchMatMul.kernelFunc({
        inputs: { a: ai, b: bi },
        backend: be,
        attrs: { transposeA: false, transposeB: false },
      }) as tf.TensorInfo;
    return splitProduct(be, stock, a, b, g, transposeA, transposeB, call);
  };
  const fusedMatMul = (args: KernelArgs) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const attrs = args.attrs as { transposeA?: boolean; transposeB?: boolean; activation?: string; leakyreluAlpha?: number };
    const { transposeA = false, transposeB = false } = attrs;
    const be = args.backend as tf.KernelBackend;
    const g = a!.dtype === 'float32' && b!.dtype === 'float32' ? matmulGeometry(a!.shape, b!.shape, transposeA, transposeB) : undefined;
    // PReLU weights may vary over the batch, so they cannot be applied slice by slice.
    if (!g || !isWasmBackend(be) || preluActivationWeights != null || stockIsFast(g, transposeA, transposeB, true)) {
      return stock.fusedMatMul.kernelFunc(args);
    }
    const call = (ai: tf.TensorInfo, bi: tf.TensorInfo) =>
      stock.fusedMatMul.kernelFunc({
        inputs: { a: ai, b: bi, ...(bias ? { bias } : {}) },
        backend: be,
        attrs: { ...attrs, transposeA: false, transposeB: false },
      }) as tf.TensorInfo;
    return splitProduct(be, stock, a!, b!, g, transposeA, transposeB, call);
  };
  return [
    { ...stock.batchMatMul, kernelFunc: batchMatMul as unknown as tf.KernelFunc },
    { ...stock.fusedMatMul, kernelFunc: fusedMatMul as unknown as tf.KernelFunc },
  ];
}
