/**
 * Matmul kernel selection for the active tfjs backend (docs/models.md 0.3). Replaces the BatchMatMul and
 * _FusedMatMul kernels of wasm (and cpu) with
 *   native:   OpenBLAS sgemm in place on the backend's memory (native/, built by `npm ci`),
 *   builtin:  the addon's own packed GEMM (AVX-512 / AVX2 micro-kernels), when no OpenBLAS,
 *   fallback: wasm only, explicit transposes + 2-D stock calls (no native code),
 *   stock:    the kernels tfjs ships.
 * Each candidate must match a plain-loop reference on a small self-test before it is registered;
 * on a mismatch or load error the next path is used and one log line says why.
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../errors.ts';
import { loadNativeAddon } from './addon.ts';
import { MATMUL_PATHS, kernelConfigFromEnv, useKernelConfig, type KernelConfig, type MatmulMode, type MatmulPath } from './config.ts';
import { nativeKernels } from './matmul-kernels.ts';
import { fallbackKernels } from './matmul-fallback.ts';
import { installEltwiseKernels, type EltwiseInfo } from './eltwise.ts';

/**
 * With OpenBLAS present and the path left to `auto`, products under this many FLOPs run on the
 * built-in GEMM. Measured in the reference training step (d 128, T 256, batch 16, 2 threads, AMD
 * EPYC; products of 4-540 MFLOP): 580-710 ms per step on the built-in GEMM against 600-800 ms with
 * OpenBLAS, whose worker threads keep spinning after each call and slow the element-wise and
 * attention kernels that follow, while on a 1024^3 product alone OpenBLAS is faster (145 against 94
 * GFLOP/s). `SEQLAB_MATMUL=native` sends every non-batched product to OpenBLAS.
 */
export const BLAS_MIN_FLOPS = 1e9;

export interface MatmulOptions {
  /** The kernel configuration to install; default: the environment's (src/native/config.ts) with `threads`. */
  config?: KernelConfig;
  /** BLAS threads (the run config's execution.blas_threads); default SEQLAB_BLAS_THREADS, else 1 when SEQLAB_JOBS > 1, else all cores. */
  threads?: number;
  /** auto: native, else builtin, else fallback, else stock. Any other: that path or a UserError. Default: the configuration's. */
  mode?: MatmulMode;
  log?: (line: string) => void;
}

export interface MatmulInfo {
  path: MatmulPath;
  reason: string;
  threads: number;
  /** OpenBLAS version line, core and how the core was chosen (native path). */
  blas?: { config: string | null; core: string | null; core_source: string; core_note: string };
  /** The built-in GEMM's micro-kernel (builtin path), e.g. "avx512 12x32". */
  kernel?: string;
  /** The element-wise kernels installed with the matmul (src/native/eltwise.ts). */
  eltwise?: EltwiseInfo;
}

const ENABLE_HINT =
  'to enable the native path: apt-get install -y build-essential libopenblas-dev, then `node native/build.js` (or `npm ci`)';
const BLAS_HINT = 'for OpenBLAS: apt-get install -y libopenblas-dev, then `node native/build.js`';

interface Stock {
  batchMatMul: tf.KernelConfig;
  fusedMatMul: tf.KernelConfig;
  transpose: tf.KernelConfig;
}

// The stock configs are captured before the first replacement. The kernel registry is
// process-global, so this table is too (a second copy of this module must not mistake
// our kernels for stock ones).
const STOCK_KEY = Symbol.for('seqlab.matmul.stock');
// biome-ignore lint/suspicious/noExplicitAny: one table per process, kept on globalThis across module copies
const stockTable: Map<string, Stock> = ((globalThis as any)[STOCK_KEY] ??= new Map());

let last: MatmulInfo | undefined;

/** The result of the last installMatmulKernels call, if any. */
export function matmulInfo(): MatmulInfo | undefined {
  return last;
}

function stockFor(backendName: string): Stock | undefined {
  let s = stockTable.get(backendName);
  if (!s) {
    const batchMatMul = tf.getKernel('BatchMatMul', backendName);
    const fusedMatMul = tf.getKernel('_FusedMatMul', backendName);
    const transpose = tf.getKernel('Transpose', backendName);
    if (!batchMatMul || !fusedMatMul || !transpose) return undefined;
    s = { batchMatMul, fusedMatMul, transpose };
    stockTable.set(backendName, s);
  }
  return s;
}

function register(configs: tf.KernelConfig[]): void {
  for (const c of configs) {
    if (tf.getKernel(c.kernelName, c.backendName)) tf.unregisterKernel(c.kernelName, c.backendName);
    tf.registerKernel(c);
  }
}

// Deterministic, non-trivial values (no RNG state is touched at start-up).
function filled(shape: number[], seed: number): Float32Array {
  const v = new Float32Array(tf.util.sizeFromShape(shape));
  for (let i = 0; i < v.length; i++) v[i] = Math.sin(seed * 7.13 + i * 1.618) * 1.5;
  return v;
}

type Case = {
  kernel: 'BatchMatMul' | '_FusedMatMul';
  a: number[];
  b: number[];
  tA: boolean;
  tB: boolean;
  bias?: number[];
  act?: 'linear' | 'relu';
};

/** Small shapes that reach every branch of both replacement kernels. */
const SELF_TEST: Case[] = [
  { kernel: 'BatchMatMul', a: [5, 7], b: [7, 3], tA: false, tB: false },
  { kernel: 'BatchMatMul', a: [3, 6, 4], b: [3, 5, 6], tA: true, tB: true },
  { kernel: 'BatchMatMul', a: [2, 3, 4, 5], b: [2, 3, 5, 6], tA: false, tB: false },
  { kernel: 'BatchMatMul', a: [3, 4, 6], b: [6, 5], tA: false, tB: false },
  { kernel: 'BatchMatMul', a: [3, 4, 6], b: [5, 6], tA: false, tB: true },
  { kernel: 'BatchMatMul', a: [3, 6, 4], b: [5, 6], tA: true, tB: true },
  { kernel: 'BatchMatMul', a: [6, 4], b: [3, 6, 5], tA: true, tB: false },
  { kernel: '_FusedMatMul', a: [1, 5, 7], b: [1, 7, 6], tA: false, tB: false, bias: [6], act: 'relu' },
  { kernel: '_FusedMatMul', a: [3, 7, 5], b: [1, 6, 7], tA: true, tB: true, bias: [6], act: 'linear' },
  { kernel: '_FusedMatMul', a: [3, 5, 7], b: [1, 7, 6], tA: false, tB: false, bias: [6], act: 'relu' },
  { kernel: '_FusedMatMul', a: [2, 5, 7], b: [2, 6, 7], tA: false, tB: true, act: 'linear' },
];

/**
 * act(op(A) @ op(B) + bias) by the definition, for the self-test's tiny shapes. A plain loop,
 * not the stock kernel: stock wasm _FusedMatMul is wrong for batch > 1 with a bias (tfjs 4.22).
 */
function reference(c: Case, a: Float32Array, b: Float32Array, bias?: Float32Array): Float32Array {
  const [ra, rb] = [c.a.length, c.b.length];
  const M = c.tA ? c.a[ra - 1] : c.a[ra - 2],
    K = c.tA ? c.a[ra - 2] : c.a[ra - 1];
  const N = c.tB ? c.b[rb - 2] : c.b[rb - 1];
  const batchA = a.length / (M * K),
    batchB = b.length / (K * N),
    batch = Math.max(batchA, batchB);
  const out = new Float32Array(batch * M * N);
  for (let s = 0; s < batch; s++) {
    const A = (batchA === 1 ? 0 : s) * M * K,
      B = (batchB === 1 ? 0 : s) * K * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let acc = bias ? bias[j] : 0;
        for (let k = 0; k < K; k++) acc += a[A + (c.tA ? k * M + i : i * K + k)] * b[B + (c.tB ? j * K + k : k * N + j)];
        out[(s * M + i) * N + j] = c.act === 'relu' ? Math.max(acc, 0) : acc;
      }
    }
  }
  return out;
}

/** Max |candidate - reference| over the self-test, relative to the output scale; throws on error. */
export function selfTestError(candidate: tf.KernelConfig[]): number {
  const backend = tf.backend();
  const byName = new Map(candidate.map((c) => [c.kernelName, c]));
  let worst = 0;
  SELF_TEST.forEach((c, i) => {
    const av = filled(c.a, i),
      bv = filled(c.b, i + 100),
      biasv = c.bias ? filled(c.bias, i + 200) : undefined;
    const a = tf.tensor(av, c.a),
      b = tf.tensor(bv, c.b),
      bias = biasv ? tf.tensor(biasv, c.bias) : undefined;
    const inputs = { a, b, ...(bias ? { bias } : {}) } as unknown as tf.NamedTensorInfoMap;
    const attrs = { transposeA: c.tA, transposeB: c.tB, ...(c.act ? { activation: c.act } : {}) } as unknown as tf.NamedAttrMap;
    const got = byName.get(c.kernel)!.kernelFunc({ inputs, backend, attrs }) as tf.TensorInfo;
    try {
      const r = reference(c, av, bv, biasv),
        g = backend.readSync(got.dataId) as Float32Array;
      if (r.length !== g.length) throw new Error(`${c.kernel} ${c.a} x ${c.b}: ${g.length} outputs, expected ${r.length}`);
      const scale = 1 + r.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      for (let j = 0; j < r.length; j++) worst = Math.max(worst, Math.abs(r[j] - g[j]) / scale);
    } finally {
      backend.disposeData(got.dataId);
      tf.dispose([a, b, ...(bias ? [bias] : [])]);
    }
  });
  return worst;
}

const TOLERANCE = 1e-5;

/** Registers candidate kernels if they pass the self-test; returns why not otherwise. */
function tryPath(candidate: tf.KernelConfig[]): string | undefined {
  try {
    const err = selfTestError(candidate);
    if (!(err <= TOLERANCE)) return `self-test mismatch (relative error ${err.toExponential(2)})`;
  } catch (e) {
    return `self-test failed: ${(e as Error).message.split('\n')[0]}`;
  }
  register(candidate);
  return undefined;
}

/**
 * Backend start for the native kernels: installs the kernel configuration (src/native/config.ts)
 * and the fastest matmul kernels that pass the self-test for the active backend, then the
 * element-wise kernels. Call after tf.setBackend(...) and tf.ready(); calling again re-selects
 * (idempotent for equal options).
 */
export async function installMatmulKernels(opts: MatmulOptions = {}): Promise<MatmulInfo> {
  await tf.ready();
  // SEQLAB_MATMUL (in the configuration) picks the path for a whole sweep (workers inherit it), e.g. to measure speedups.
  const base = opts.config ?? kernelConfigFromEnv(undefined, opts.threads !== undefined ? { threads: opts.threads } : {});
  const mode = opts.mode ?? base.matmul;
  if (mode !== 'auto' && !MATMUL_PATHS.includes(mode))
    throw new UserError(`unknown matmul mode '${mode}' (expected one of: auto, ${MATMUL_PATHS.join(', ')})`);
  const config = useKernelConfig({ ...base, matmul: mode });
  const log = opts.log ?? ((line: string) => console.error(line));
  const backendName = tf.getBackend();
  const threads = config.threads;
  const stock = stockFor(backendName);
  const done = (info: MatmulInfo): MatmulInfo => {
    // The non-matmul kernels share the matmul's thread budget.
    last = { ...info, eltwise: installEltwiseKernels(config) };
    log(`matmul: ${info.path} path on ${backendName} (${info.reason}); element-wise: ${last.eltwise!.reason}`);
    return last;
  };
  const fail = (why: string): never => {
    throw new UserError(`matmul mode '${mode}' is not available on backend ${backendName}: ${why}`);
  };

  if (!stock || (backendName !== 'wasm' && backendName !== 'cpu')) {
    if (mode !== 'auto' && mode !== 'stock') fail('only the wasm and cpu backends have replacement kernels');
    return done({ path: 'stock', reason: `backend ${backendName} keeps its own matmul kernels`, threads: 1 });
  }
  // Start from stock so a failed candidate never leaves a previous choice half-installed.
  register([stock.batchMatMul, stock.fusedMatMul]);
  if (mode === 'stock') return done({ path: 'stock', reason: 'stock tfjs kernels requested', threads: 1 });

  let whyNotNative = `${mode} path requested`;
  let hint = '';
  if (mode === 'auto' || mode === 'native' || mode === 'builtin') {
    const { addon, reason, blas } = loadNativeAddon(undefined, config);
    whyNotNative = reason;
    hint = `; ${ENABLE_HINT}`;
    if (addon && mode !== 'builtin') {
      if (addon.gemm && addon.setThreads) {
        const used = addon.setThreads(threads);
        addon.setBuiltinThreads(threads); // batched products run on the built-in GEMM (src/native/matmul-kernels.ts run)
        const minFlops = mode === 'auto' ? BLAS_MIN_FLOPS : 0;
        const why = tryPath(nativeKernels(addon.gemm, stock, addon.gemmBuiltin, minFlops));
        const core = blas?.core
          ? `, core ${blas.core}${blas.source === 'tuned' ? ` (tuned; OpenBLAS detects ${blas.detected})` : blas.source === 'user' ? ` (${blas.note})` : ''}`
          : '';
        const info = blas ? { config: blas.config, core: blas.core, core_source: blas.source, core_note: blas.note } : undefined;
        const routed = minFlops ? `batched products and products under ${minFlops / 1e9} GFLOP` : 'batched products';
        if (!why)
          return done({
            path: 'native',
            reason: `OpenBLAS sgemm${core} (${routed}: built-in GEMM ${addon.builtinKernel()}), ${used} thread${used === 1 ? '' : 's'}`,
            threads: used,
            blas: info,
          });
        whyNotNative = `native addon rejected: ${why}`;
        hint = '; please report this (SEQLAB_NATIVE_MATMUL=off silences it)';
      } else {
        whyNotNative = `the native addon was built without OpenBLAS; ${BLAS_HINT}`;
        if (mode === 'native') fail(whyNotNative);
      }
    }
    if (addon && mode !== 'native') {
      const used = addon.setBuiltinThreads(threads);
      const why = tryPath(nativeKernels(addon.gemmBuiltin, stock));
      const kernel = addon.builtinKernel();
      if (!why)
        return done({
          path: 'builtin',
          reason: `built-in GEMM ${kernel}, ${used} thread${used === 1 ? '' : 's'}${mode === 'auto' ? ` (${whyNotNative})` : ''}`,
          threads: used,
          kernel,
        });
      whyNotNative = `${whyNotNative}; built-in GEMM rejected: ${why}`;
      hint = '; please report this (SEQLAB_NATIVE_MATMUL=off silences it)';
    }
    if (mode === 'native' || mode === 'builtin') fail(`${whyNotNative}${hint}`);
  }
  if (backendName === 'wasm') {
    const why = tryPath(fallbackKernels(stock));
    if (!why) return done({ path: 'fallback', reason: `${whyNotNative}${hint}`, threads: 1 });
    if (mode === 'fallback') fail(why);
    register([stock.batchMatMul, stock.fusedMatMul]);
    return done({ path: 'stock', reason: `${whyNotNative}; fallback kernels rejected: ${why}${hint}`, threads: 1 });
  }
  if (mode === 'fallback') fail('the JS fallback kernels exist for wasm only');
  return done({ path: 'stock', reason: `${whyNotNative}${hint}`, threads: 1 });
}
