/**
 * The matmul peak behind `mfu`: one figure per machine and execution setup (backend, matmul path,
 * threads, OpenBLAS core or built-in kernel), measured once and cached with the machine's
 * identity (machine.ts), so runs of one sweep, and sweeps of one machine, divide by the same
 * number. Measuring in every run gave 5 to 12 GFLOP/s within one sweep on a shared machine.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { matmulPeakGflops } from './measure.ts';
import { machineCacheDir, machineKey, readMachineCache, writeMachineCache } from '../backend/machine.ts';
import type { MatmulInfo } from '../native/matmul.ts';

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
export function peakSetup(
  backend: string,
  matmul: Pick<MatmulInfo, 'path' | 'threads' | 'blas' | 'kernel'>,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
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
 * measures every time (and caches nothing); =refresh measures again and replaces the cached
 * figure (e.g. after it was taken on a busy machine).
 */
export async function matmulPeak(setup: Record<string, unknown>): Promise<MatmulPeak> {
  const mode = process.env.SEQLAB_PEAK_CACHE?.trim().toLowerCase() ?? '';
  const off = /^(off|0|false|no)$/.test(mode);
  const key = machineKey({ kind: 'matmul-peak', ...setup });
  const cached = (): MatmulPeak | undefined => {
    const hit = readMachineCache<Omit<MatmulPeak, 'source'>>('matmul-peak', key);
    return hit && Number.isFinite(hit.gflops) && hit.gflops > 0 ? { ...hit, source: 'cache' } : undefined;
  };
  const measure = async (): Promise<MatmulPeak> => {
    const peak = { gflops: Number((await matmulPeakGflops()).toFixed(3)), measured_at: new Date().toISOString(), shape: PEAK_SHAPE, setup };
    if (!off) writeMachineCache('matmul-peak', key, peak);
    return { ...peak, source: 'measured' };
  };
  if (off) return measure();
  if (mode !== 'refresh') {
    const hit = cached();
    if (hit) return hit;
  }
  // The first runs of a sweep start together: one measures, the others wait for its figure.
  const release = await measureLock(key, mode === 'refresh' ? undefined : cached);
  if (typeof release !== 'function') return release;
  try {
    return await measure();
  } finally {
    release();
  }
}

const LOCK_STALE_MS = 120_000;

/** Takes the measuring lock of `key` (returns its release), or returns the figure another process measured meanwhile. */
async function measureLock(key: string, cached?: () => MatmulPeak | undefined): Promise<(() => void) | MatmulPeak> {
  const file = path.join(machineCacheDir(), `matmul-peak-${key}.lock`);
  const deadline = Date.now() + LOCK_STALE_MS;
  for (;;) {
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.closeSync(fs.openSync(file, 'wx'));
      const release = () => fs.rmSync(file, { force: true });
      const hit = cached?.(); // the previous holder may have just stored it
      if (hit) release();
      return hit ?? release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return () => {}; // unwritable cache: measure unlocked
    }
    const hit = cached?.();
    if (hit) return hit;
    const age = Date.now() - (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
    if (age > LOCK_STALE_MS || Date.now() > deadline) fs.rmSync(file, { force: true }); // its owner died
    await new Promise((r) => setTimeout(r, 100));
  }
}
