/**
 * The native addon (native/*.c, built by native/build.js into native/build/Release/seqlab.node):
 * its JS surface, its loader and the one way to ask it for a set of functions. Only src/native/
 * talks to it (test/native-room.test.ts).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { tuneOpenblasCore, type CoreChoice } from '../backend/openblas-core.ts';
import { kernelConfig, type KernelConfig } from './config.ts';

/** One batched product: C[i] = act(op(A[i]) @ op(B[i]) + bias). Offsets in bytes, strides in elements. */
export type GemmFn = (
  a: ArrayBufferView,
  aOff: number,
  aStride: number,
  b: ArrayBufferView,
  bOff: number,
  bStride: number,
  c: ArrayBufferView,
  cOff: number,
  bias: ArrayBufferView | null,
  biasOff: number,
  batch: number,
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
  act: 0 | 1,
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

export interface LoadedAddon {
  addon?: NativeAddon;
  reason: string;
  /** The OpenBLAS core in use and how it was chosen (builds with OpenBLAS). */
  blas?: CoreChoice;
}

const loaded = new Map<string, LoadedAddon>();

/**
 * Loads the addon once per path (default: the kernel configuration's); never throws. Before the
 * first load it settles the OpenBLAS core (src/backend/openblas-core.ts), which must happen before
 * libopenblas initialises. A configuration without the addon (SEQLAB_NATIVE_MATMUL=off) loads none.
 */
export function loadNativeAddon(path?: string, config: KernelConfig = kernelConfig()): LoadedAddon {
  if (!config.addon) {
    return { reason: 'native addon disabled by SEQLAB_NATIVE_MATMUL=off' };
  }
  path ??= config.addonPath;
  if (!existsSync(path)) {
    return {
      reason: `native addon not built (${path} missing; install a C compiler (and libopenblas-dev), then run \`node native/build.js\`)`,
    };
  }
  const seen = loaded.get(path);
  if (seen) return seen;
  let out: LoadedAddon;
  try {
    const tuned = tuneOpenblasCore(path, config.openblasTune);
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    if (typeof addon.gemmBuiltin !== 'function') {
      out = { reason: `native addon at ${path} is outdated (no gemmBuiltin); rebuild it with \`node native/build.js\`` };
    } else {
      // What OpenBLAS really runs with, whatever was asked for.
      const blas = addon.hasCblas ? { ...tuned, core: addon.corename(), config: addon.config() } : undefined;
      out = {
        addon,
        blas,
        reason: `native addon loaded (${addon.hasCblas ? addon.config() : `built-in GEMM ${addon.builtinKernel()}, no OpenBLAS`})`,
      };
    }
  } catch (e) {
    out = { reason: `native addon failed to load: ${(e as Error).message.split('\n')[0]}` };
  }
  loaded.set(path, out);
  return out;
}

/** The loaded addon as T when it exports every function in `names` (an older build may lack some). */
export function addonWith<T>(names: readonly string[], config: KernelConfig = kernelConfig()): T | undefined {
  const a = loadNativeAddon(undefined, config).addon as unknown as Record<string, unknown> | undefined;
  return a && names.every((n) => typeof a[n] === 'function') ? (a as T) : undefined;
}
