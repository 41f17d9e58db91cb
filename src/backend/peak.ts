/**
 * The matmul peak behind `mfu`: one figure per machine and execution setup (backend, matmul path,
 * threads, OpenBLAS core or built-in kernel), measured once and cached with the machine's
 * identity (machine.ts), so runs of one sweep, and sweeps of one machine, divide by the same
 * number. Measuring in every run gave 5 to 12 GFLOP/s within one sweep on a shared machine.
 */
import * as tf from '@tensorflow/tfjs';
import { matmulPeakGflops } from '../metrics/measure.ts';
import { machineKey, readMachineCache, writeMachineCache } from './machine.ts';
import type { MatmulInfo } from './matmul.ts';

export const PEAK_SHAPE = '1024x1024 @ 1024x1024 float32, median of 5';

export interface MatmulPeak {
  gflops: number;
  /** 'cache' (measured earlier on this machine with this setup) or 'measured' (now). */
  source: 'cache' | 'measured';
  measured_at: string;
  shape: string;
  /** What the figure is keyed by (besides the machine). */
  setup: Record<string, unknown>;
}

/** The setup a peak depends on; equal setups on one machine share one peak. */
export function peakSetup(backend: string, matmul: Pick<MatmulInfo, 'path' | 'threads' | 'blas' | 'kernel'>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    backend,
    tfjs: tf.version.tfjs,
    matmul_path: matmul.path,
    threads: matmul.threads,
    openblas_core: matmul.path === 'native' ? (matmul.blas?.core ?? null) : null,
    builtin_kernel: matmul.path === 'builtin' ? (matmul.kernel ?? null) : null,
    shape: PEAK_SHAPE,
    ...extra,
  };
}

/**
 * The cached peak for this setup, or a fresh measurement (then cached). SEQLAB_PEAK_CACHE=off
 * measures every time (and caches nothing).
 */
export async function matmulPeak(setup: Record<string, unknown>): Promise<MatmulPeak> {
  const off = /^(off|0|false|no)$/i.test(process.env.SEQLAB_PEAK_CACHE ?? '');
  const key = machineKey({ kind: 'matmul-peak', ...setup });
  const hit = off ? undefined : readMachineCache<Omit<MatmulPeak, 'source'>>('matmul-peak', key);
  if (hit && Number.isFinite(hit.gflops) && hit.gflops > 0) return { ...hit, source: 'cache' };
  const peak = { gflops: Number((await matmulPeakGflops()).toFixed(3)), measured_at: new Date().toISOString(), shape: PEAK_SHAPE, setup };
  if (!off) writeMachineCache('matmul-peak', key, peak);
  return { ...peak, source: 'measured' };
}
