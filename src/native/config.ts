/**
 * The kernel configuration: which native kernels run (addon, matmul path, element-wise kernels,
 * each fused op), on how many threads, and how OpenBLAS picks its core. Built once at backend start
 * (src/native/matmul.ts installMatmulKernels) from the environment's SEQLAB_* switches (docs/runner.md 10)
 * and the run config's say (execution.blas_threads), recorded in env.json, and read by the kernels and
 * fused ops from here: no kernel, op or decode step reads the environment.
 */
import { fileURLToPath } from 'node:url';
import { UserError } from '../errors.ts';
import type { OpenblasTune } from '../backend/openblas-core.ts';
import { resolveThreads } from '../backend/threads.ts';
import { envOff } from '../util/env.ts';
import { FUSED_OPS, FUSED_OP_NAMES, type FusedOpName } from './registry.ts';

export type MatmulPath = 'native' | 'builtin' | 'fallback' | 'stock';
export const MATMUL_PATHS: readonly MatmulPath[] = ['native', 'builtin', 'fallback', 'stock'];
export type MatmulMode = 'auto' | MatmulPath;

export const DEFAULT_ADDON_PATH = fileURLToPath(new URL('../../native/build/Release/seqlab.node', import.meta.url));

export interface KernelConfig {
  /** Load the native addon at all (SEQLAB_NATIVE_MATMUL=off: no). */
  addon: boolean;
  /** Where from (SEQLAB_NATIVE_MATMUL_PATH). */
  addonPath: string;
  /** The matmul path (SEQLAB_MATMUL; auto: native, else builtin, else fallback, else stock). */
  matmul: MatmulMode;
  /** The native element-wise kernels (SEQLAB_ELTWISE). */
  eltwise: boolean;
  /** Each fused op's switch (src/native/registry.ts). */
  fused: Record<FusedOpName, boolean>;
  /** Threads of the matmul, element-wise and fused kernels. */
  threads: number;
  /** OpenBLAS core choice (SEQLAB_OPENBLAS_TUNE): tuned and cached, OpenBLAS's own, or probed again. */
  openblasTune: OpenblasTune;
}

/** SEQLAB_OPENBLAS_TUNE: off keeps OpenBLAS's own core, refresh probes the candidates again. */
export function openblasTuneFromEnv(env: NodeJS.ProcessEnv = process.env): OpenblasTune {
  if (envOff('SEQLAB_OPENBLAS_TUNE', env)) return 'off';
  return /^refresh$/i.test(env.SEQLAB_OPENBLAS_TUNE ?? '') ? 'refresh' : 'auto';
}

/** The configuration the environment (and the caller's thread count) asks for; a bad value is a UserError. */
export function kernelConfigFromEnv(env: NodeJS.ProcessEnv = process.env, run: { threads?: number } = {}): KernelConfig {
  const matmul = (env.SEQLAB_MATMUL?.trim() || 'auto') as MatmulMode;
  if (matmul !== 'auto' && !MATMUL_PATHS.includes(matmul)) {
    throw new UserError(
      `unknown matmul mode '${matmul}' (expected one of: auto, ${MATMUL_PATHS.join(', ')}; from SEQLAB_MATMUL or the caller)`,
    );
  }
  return {
    addon: !envOff('SEQLAB_NATIVE_MATMUL', env),
    addonPath: env.SEQLAB_NATIVE_MATMUL_PATH || DEFAULT_ADDON_PATH,
    matmul,
    eltwise: !envOff('SEQLAB_ELTWISE', env),
    fused: Object.fromEntries(FUSED_OP_NAMES.map((n) => [n, !envOff(FUSED_OPS[n].switch, env)])) as Record<FusedOpName, boolean>,
    threads: resolveThreads(run.threads, env),
    openblasTune: openblasTuneFromEnv(env),
  };
}

let current: KernelConfig | undefined;

/** The installed configuration; before any install, the environment's (built once). */
export function kernelConfig(): KernelConfig {
  return (current ??= kernelConfigFromEnv());
}

/** Installs `config` for every kernel and fused op from now on (backend start; tests). */
export function useKernelConfig(config: KernelConfig): KernelConfig {
  return (current = config);
}
