/**
 * The addon's one thread pool (native/pool.c): the built-in GEMM's and the element-wise kernels'
 * thread setters are one budget, and a kernel split into parts (the fused scan's per-part
 * gradient sums) gives the same bits whatever the budget that runs the parts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadNativeAddon } from '../src/native/addon.ts';

type Views = (Float32Array | null)[];
interface PoolAddon {
  setPoolThreads(n: number): number;
  poolThreads(): number;
  setBuiltinThreads(n: number): number;
  builtinThreads(): number;
  setEltwiseThreads(n: number): number;
  eltwiseThreads(): number;
  scanForward(views: Views, offs: Float64Array, dims: number[]): void;
  scanBackward(views: Views, offs: Float64Array, dims: number[]): void;
}
const addon = loadNativeAddon().addon as unknown as PoolAddon | undefined;
const before = addon?.poolThreads();
afterAll(() => void (before !== undefined && addon!.setPoolThreads(before)));

/** Deterministic values in [-1, 1) (a linear congruential sequence). */
function values(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = (s / 1073741824 - 1) * scale;
  }
  return out;
}

describe.skipIf(!addon)('the native thread pool', () => {
  it('one budget: every thread setter sets it and every getter reads it', () => {
    expect(addon!.setBuiltinThreads(2)).toBe(2);
    expect([addon!.poolThreads(), addon!.eltwiseThreads()]).toEqual([2, 2]);
    expect(addon!.setEltwiseThreads(3)).toBe(3);
    expect([addon!.poolThreads(), addon!.builtinThreads()]).toEqual([3, 3]);
    expect(addon!.setPoolThreads(1000)).toBe(64);
  });

  it('the scan split into 4 parts gives the same bits on 1, 2 or 4 threads of the budget', () => {
    const [B, T, D, N, C, parts] = [2, 64, 32, 16, 16, 4]; // B T D N = 65536: large enough to split
    const nc = T / C;
    const x = values(B * T * D, 1),
      dt = values(B * T * D, 2, 0.5).map(Math.abs),
      A = values(D * N, 3).map((v) => -Math.abs(v) - 0.1);
    const Bm = values(B * T * N, 4),
      Cm = values(B * T * N, 5),
      dy = values(B * T * D, 6);
    const run = (threads: number) => {
      addon!.setPoolThreads(threads);
      const y = new Float32Array(B * T * D),
        hT = new Float32Array(B * D * N),
        S = new Float32Array(B * nc * D * N);
      addon!.scanForward([x, dt, A, Bm, Cm, null, null, null, y, hT, S], new Float64Array(11), [B, T, D, N, C, parts]);
      const grads = [B * T * D, B * T * D, D * N, B * T * N, B * T * N].map((n) => new Float32Array(n));
      addon!.scanBackward([x, dt, A, Bm, Cm, null, null, null, S, dy, null, ...grads, null, null, null], new Float64Array(19), [
        B,
        T,
        D,
        N,
        C,
        parts,
      ]);
      return [y, hT, ...grads].map((a) => Array.from(a));
    };
    const one = run(1);
    expect(one[0]!.some((v) => v !== 0)).toBe(true);
    expect(run(2)).toEqual(one);
    expect(run(4)).toEqual(one);
  });
});
