/**
 * Native element-wise kernels for the wasm and cpu backends (docs/models.md 0.3): unary math
 * (Exp, Erf, Sigmoid, Softplus, Log, ...), broadcasting binary ops (Add, Sub, Multiply, RealDiv,
 * ...), Sum / Mean / Max over a contiguous block of axes, Transpose, Cumsum on the last axis and
 * Softmax, computed by native/eltwise.c in place on the backend's memory on the addon's thread
 * pool. They replace the stock kernels under the same kernel names, so every op's gradient (defined
 * on ops, not kernels) is unchanged; anything a native kernel does not cover (other dtypes,
 * shapes, axes) goes to the stock kernel. A kernel configuration without them (SEQLAB_ELTWISE=off)
 * keeps every stock kernel.
 */
import { broadcastLayout, RANK_MAX } from '../backend/broadcast.ts';
import * as tf from '@tensorflow/tfjs';
import { addonWith, loadNativeAddon } from './addon.ts';
import type { KernelConfig } from './config.ts';
import { memoryOf, type Memory } from './memory.ts';

type View = ArrayBufferView;

/** native/eltwise.c's JS surface (offsets in bytes). */
export interface EltwiseAddon {
  unary(op: number, x: View, xOff: number, y: View, yOff: number, n: number): void;
  binary(op: number, a: View, aOff: number, b: View, bOff: number, y: View, yOff: number, meta: Int32Array): void;
  reduce(op: number, x: View, xOff: number, y: View, yOff: number, outer: number, R: number, inner: number): void;
  transpose(x: View, xOff: number, y: View, yOff: number, meta: Int32Array): void;
  cumsum(x: View, xOff: number, y: View, yOff: number, rows: number, n: number, exclusive: number, reverse: number): void;
  softmax(x: View, xOff: number, y: View, yOff: number, rows: number, n: number): void;
  setEltwiseThreads(n: number): number;
  eltwiseThreads(): number;
  eltwiseIsa(): string;
  /** Forces the portable code ('generic') or AVX2 again; false when this CPU lacks it. */
  setEltwiseIsa(isa: 'generic' | 'avx2'): boolean;
}

/** Op codes of native/eltwise.c (enum order there). */
export const UNARY_OPS = [
  'Exp',
  'Erf',
  'Sigmoid',
  'Softplus',
  'Log',
  'Tanh',
  'Neg',
  'Square',
  'Sqrt',
  'Rsqrt',
  'Reciprocal',
  'Abs',
  'Relu',
  'Log1p',
] as const;
// Maximum / Minimum stay stock: the stock wasm and cpu kernels disagree on NaN.
export const BINARY_OPS = ['Add', 'Sub', 'Multiply', 'RealDiv', 'SquaredDifference'] as const;
export const REDUCE_OPS = ['Sum', 'Mean', 'Max'] as const;
/** The fused GELU's op codes (src/native/gelu.ts): after the stock kernels' ops in native/eltwise.c's enums. */
export const U_GELU = UNARY_OPS.length;
export const B_GELU_GRAD = BINARY_OPS.length;
export const OTHER_OPS = ['Transpose', 'Cumsum', 'Softmax'] as const;
export const ELTWISE_KERNELS: readonly string[] = [...UNARY_OPS, ...BINARY_OPS, ...REDUCE_OPS, ...OTHER_OPS];

/** The backends whose kernels the addon can replace (it reads their memory in place). */
export const NATIVE_BACKENDS = ['wasm', 'cpu'] as const;
const BACKENDS = NATIVE_BACKENDS;

export interface EltwiseInfo {
  enabled: boolean;
  reason: string;
  threads: number;
  /** "avx2" or "generic": the vector code the CPU runs. */
  isa?: string;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Info = tf.TensorInfo;

// Stock kernels, captured once before the first replacement (the registry is process-global).
const STOCK_KEY = Symbol.for('seqlab.eltwise.stock');
// biome-ignore lint/suspicious/noExplicitAny: one table per process, kept on globalThis across module copies
const stockTable: Map<string, tf.KernelConfig> = ((globalThis as any)[STOCK_KEY] ??= new Map());

function stock(name: string, backend: string): tf.KernelConfig | undefined {
  const key = `${backend}/${name}`;
  let k = stockTable.get(key);
  if (!k) {
    k = tf.getKernel(name, backend);
    if (k) stockTable.set(key, k);
  }
  return k;
}

const size = tf.util.sizeFromShape;

/** The input shape and permutation of a transpose with size-1 dims dropped and kept runs merged. */
export function transposeLayout(shape: number[], perm: number[]): Int32Array | undefined {
  const keep = shape.map((n, i) => (n === 1 ? -1 : i)).filter((i) => i >= 0);
  const rank = new Map(keep.map((d, i) => [d, i]));
  let p = perm.filter((d) => rank.has(d)).map((d) => rank.get(d)!);
  let s = keep.map((d) => shape[d]);
  // merge input dims d, d+1 that stay adjacent (d then d+1) in the output
  for (let i = 0; i + 1 < p.length; ) {
    if (p[i + 1] === p[i] + 1) {
      const d = p[i];
      s = [...s.slice(0, d), s[d] * s[d + 1], ...s.slice(d + 2)];
      p = p.filter((_, j) => j !== i + 1).map((x) => (x > d ? x - 1 : x));
    } else i++;
  }
  if (s.length === 0) (s = [1]), (p = [0]);
  if (s.length > RANK_MAX) return undefined;
  return Int32Array.from([s.length, ...s, ...p]);
}

function kernels(addon: EltwiseAddon, backendName: string): tf.KernelConfig[] {
  const configs: tf.KernelConfig[] = [];
  const add = (name: string, f: (args: KernelArgs, mem: Memory) => Info | undefined) => {
    const fallback = stock(name, backendName);
    if (!fallback) return;
    configs.push({
      ...fallback,
      kernelFunc: ((args: KernelArgs) => f(args, memoryOf(args.backend as tf.KernelBackend)) ?? fallback.kernelFunc(args)) as tf.KernelFunc,
    });
  };
  const f32 = (mem: Memory, ...ts: Info[]) => ts.every((t) => t.dtype === 'float32' && mem.usable(t));

  UNARY_OPS.forEach((name, op) =>
    add(name, ({ inputs }, mem) => {
      const x = inputs.x as Info;
      const n = size(x.shape);
      if (n === 0 || !f32(mem, x)) return undefined;
      const y = mem.alloc(x.shape);
      const X = mem.locate(x),
        Y = mem.locate(y); // after alloc: it may grow the wasm heap
      addon.unary(op, X.view, X.off, Y.view, Y.off, n);
      return y;
    }),
  );

  BINARY_OPS.forEach((name, op) =>
    add(name, ({ inputs }, mem) => {
      const { a, b } = inputs as { a: Info; b: Info };
      if (!f32(mem, a, b)) return undefined;
      const layout = broadcastLayout(a.shape, b.shape);
      if (!layout || size(layout.out) === 0) return undefined;
      const y = mem.alloc(layout.out);
      const A = mem.locate(a),
        B = mem.locate(b),
        Y = mem.locate(y);
      addon.binary(op, A.view, A.off, B.view, B.off, Y.view, Y.off, layout.meta);
      return y;
    }),
  );

  REDUCE_OPS.forEach((name, op) =>
    add(name, ({ inputs, attrs }, mem) => {
      const x = inputs.x as Info;
      if (!f32(mem, x) || size(x.shape) === 0) return undefined;
      // Sum and Mean name their axes `axis`, Max `reductionIndices`.
      const { axis, reductionIndices, keepDims } = attrs as unknown as {
        axis?: number | number[];
        reductionIndices?: number | number[];
        keepDims: boolean;
      };
      const axes = tf.util.parseAxisParam(axis ?? reductionIndices!, x.shape).sort((p, q) => p - q);
      if (axes.length === 0 || axes.some((d, i) => i > 0 && d !== axes[i - 1] + 1)) return undefined;
      const a0 = axes[0],
        a1 = axes[axes.length - 1];
      const outer = size(x.shape.slice(0, a0)),
        R = size(x.shape.slice(a0, a1 + 1)),
        inner = size(x.shape.slice(a1 + 1));
      const outShape = keepDims ? x.shape.map((n, i) => (i >= a0 && i <= a1 ? 1 : n)) : x.shape.filter((_, i) => i < a0 || i > a1);
      const y = mem.alloc(outShape);
      const X = mem.locate(x),
        Y = mem.locate(y);
      addon.reduce(op, X.view, X.off, Y.view, Y.off, outer, R, inner);
      return y;
    }),
  );

  add('Transpose', ({ inputs, attrs }, mem) => {
    const x = inputs.x as Info;
    const perm = (attrs as unknown as { perm: number[] }).perm;
    // 4-byte elements only: float32 anywhere; int32 on wasm (Memory.usable checks Float32Array on cpu).
    const ok = (x.dtype === 'float32' || (x.dtype === 'int32' && backendName === 'wasm')) && mem.usable(x);
    if (!ok || size(x.shape) === 0) return undefined;
    const meta = transposeLayout(x.shape, perm);
    if (!meta) return undefined;
    const y = mem.alloc(
      perm.map((d) => x.shape[d]),
      x.dtype as 'float32' | 'int32',
    );
    const X = mem.locate(x),
      Y = mem.locate(y);
    addon.transpose(X.view, X.off, Y.view, Y.off, meta);
    return y;
  });

  add('Cumsum', ({ inputs, attrs }, mem) => {
    const x = inputs.x as Info;
    const { axis, exclusive, reverse } = attrs as unknown as { axis: number; exclusive: boolean; reverse: boolean };
    const r = x.shape.length;
    if (!f32(mem, x) || r === 0 || size(x.shape) === 0 || (axis < 0 ? axis + r : axis) !== r - 1) return undefined;
    const n = x.shape[r - 1];
    const y = mem.alloc(x.shape);
    const X = mem.locate(x),
      Y = mem.locate(y);
    addon.cumsum(X.view, X.off, Y.view, Y.off, size(x.shape) / n, n, exclusive ? 1 : 0, reverse ? 1 : 0);
    return y;
  });

  add('Softmax', ({ inputs, attrs }, mem) => {
    const x = inputs.logits as Info;
    const dim = (attrs as unknown as { dim: number }).dim;
    const r = x.shape.length;
    if (!f32(mem, x) || r === 0 || size(x.shape) === 0 || (dim < 0 ? dim + r : dim) !== r - 1) return undefined;
    const n = x.shape[r - 1];
    const y = mem.alloc(x.shape);
    const X = mem.locate(x),
      Y = mem.locate(y);
    addon.softmax(X.view, X.off, Y.view, Y.off, size(x.shape) / n, n);
    return y;
  });
  return configs;
}

let last: EltwiseInfo | undefined;

/** The result of the last installEltwiseKernels call, if any. */
export function eltwiseInfo(): EltwiseInfo | undefined {
  return last;
}

/**
 * Whether a fused native op (attention's masked softmax, retention's decay matrix) may run on these
 * tensors now: the native element-wise kernels are installed, the active backend is wasm or cpu, and
 * every tensor is float32 memory the addon can read (a cpu tensor cast from bool keeps its bytes).
 */
export function nativeOpsReady(...ts: tf.Tensor[]): boolean {
  if (!last?.enabled || !(BACKENDS as readonly string[]).includes(tf.getBackend())) return false;
  const mem = memoryOf(tf.backend());
  return ts.every((t) => t.dtype === 'float32' && t.size > 0 && mem.usable(t));
}

/**
 * Registers the native element-wise kernels on the active backend (wasm or cpu) on
 * `config.threads` threads when the addon has them, or puts the stock kernels back (config.eltwise
 * off, other backends, no addon). Idempotent; call after tf.setBackend and tf.ready.
 */
export function installEltwiseKernels(config: KernelConfig): EltwiseInfo {
  const backendName = tf.getBackend();
  const restore = () => {
    for (const name of ELTWISE_KERNELS) {
      const s = stock(name, backendName);
      if (s && tf.getKernel(name, backendName) !== s) {
        tf.unregisterKernel(name, backendName);
        tf.registerKernel(s);
      }
    }
  };
  const off = (reason: string): EltwiseInfo => {
    if ((BACKENDS as readonly string[]).includes(backendName)) restore();
    return (last = { enabled: false, reason, threads: 1 });
  };
  if (!config.eltwise) return off('native element-wise kernels disabled by SEQLAB_ELTWISE=off');
  if (!(BACKENDS as readonly string[]).includes(backendName)) return off(`backend ${backendName} keeps its own element-wise kernels`);
  const { addon, reason } = loadNativeAddon(undefined, config);
  const el = addonWith<EltwiseAddon>(['unary', 'binary', 'reduce', 'transpose', 'cumsum', 'softmax', 'setEltwiseThreads'], config);
  if (!el) return off(addon ? 'native addon has no element-wise kernels (rebuild it: `node native/build.js`)' : reason);
  const used = el.setEltwiseThreads(config.threads);
  for (const name of ELTWISE_KERNELS) stock(name, backendName); // capture before replacing
  for (const c of kernels(el, backendName)) {
    tf.unregisterKernel(c.kernelName, c.backendName);
    tf.registerKernel(c);
  }
  const isa = el.eltwiseIsa();
  return (last = {
    enabled: true,
    reason: `native element-wise kernels (${isa}), ${used} thread${used === 1 ? '' : 's'}`,
    threads: used,
    isa,
  });
}
