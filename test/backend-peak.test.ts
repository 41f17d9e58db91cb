// The matmul peak behind mfu is measured once per machine and setup and then read from the cache,
// so every run of a sweep divides by the same number.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matmulPeak, peakSetup } from '../src/measure/peak.ts';
import { machineCacheDir, machineId, machineKey, cpuFlags } from '../src/backend/machine.ts';
import { installMatmulKernels } from '../src/native/matmul.ts';
import { testBackend } from './fixtures/backend.ts';

let dir: string;
const saved = { ...process.env };
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'seqlab-peak-'));
  process.env.SEQLAB_CACHE_DIR = dir;
  delete process.env.SEQLAB_PEAK_CACHE;
  const backend = await testBackend('wasm');
  if (backend !== 'tensorflow') await installMatmulKernels({ log: () => {} }); // a fast path: the measurement is 6 products of 1024^3
});
afterAll(() => {
  process.env = saved;
  rmSync(dir, { recursive: true, force: true });
});

describe('matmul peak cache', () => {
  it('measured once, then read back for the same setup; another setup measures again', async () => {
    const setup = peakSetup('wasm', {
      path: 'native',
      threads: 2,
      blas: { config: 'x', core: 'Cooperlake', core_source: 'tuned', core_note: '' },
    });
    expect(setup).toMatchObject({ backend: 'wasm', matmul_path: 'native', threads: 2, openblas_core: 'Cooperlake', builtin_kernel: null });
    const first = await matmulPeak(setup);
    expect(first.source).toBe('measured');
    expect(first.gflops).toBeGreaterThan(0);
    expect(existsSync(join(machineCacheDir(), 'matmul-peak.json'))).toBe(true);
    const again = await matmulPeak(setup);
    expect(again).toEqual({ ...first, source: 'cache' });
    const other = await matmulPeak({ ...setup, threads: 1 });
    expect(other.source).toBe('measured');
    const store = JSON.parse(readFileSync(join(machineCacheDir(), 'matmul-peak.json'), 'utf8'));
    expect(Object.keys(store)).toHaveLength(2);
  });

  it('runs that start together share one measurement; a stale lock (its owner died) is taken over', async () => {
    const setup = peakSetup('wasm', { path: 'native', threads: 7 });
    const both = await Promise.all([matmulPeak(setup), matmulPeak(setup)]);
    expect(both.map((p) => p.source).sort()).toEqual(['cache', 'measured']);
    expect(both[0].gflops).toBe(both[1].gflops);
    expect(readdirSync(machineCacheDir()).filter((f) => f.endsWith('.lock'))).toEqual([]);

    const other = peakSetup('wasm', { path: 'native', threads: 8 });
    const lock = join(machineCacheDir(), `matmul-peak-${machineKey({ kind: 'matmul-peak', ...other })}.lock`);
    writeFileSync(lock, '');
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(lock, old, old);
    const t0 = Date.now();
    expect((await matmulPeak(other)).source).toBe('measured');
    expect(Date.now() - t0).toBeLessThan(60_000);
  });

  it('SEQLAB_PEAK_CACHE=refresh measures again and replaces the cached figure', async () => {
    const setup = peakSetup('wasm', { path: 'native', threads: 2 });
    const first = await matmulPeak(setup);
    process.env.SEQLAB_PEAK_CACHE = 'refresh';
    const fresh = await matmulPeak(setup);
    delete process.env.SEQLAB_PEAK_CACHE;
    expect(fresh.source).toBe('measured');
    expect(fresh.measured_at >= first.measured_at).toBe(true);
    expect(await matmulPeak(setup)).toEqual({ ...fresh, source: 'cache' });
  });

  it('SEQLAB_PEAK_CACHE=off measures every time and stores nothing', async () => {
    process.env.SEQLAB_PEAK_CACHE = 'off';
    try {
      const setup = peakSetup('wasm', { path: 'builtin', threads: 1, kernel: 'avx2 6x16' });
      expect((await matmulPeak(setup)).source).toBe('measured');
      expect((await matmulPeak(setup)).source).toBe('measured');
      const store = JSON.parse(readFileSync(join(machineCacheDir(), 'matmul-peak.json'), 'utf8'));
      expect(Object.keys(store)).toHaveLength(5);
    } finally {
      delete process.env.SEQLAB_PEAK_CACHE;
    }
  });

  it('the machine identity names the CPU and its SIMD features', () => {
    const id = machineId();
    expect(id.cpu_count).toBeGreaterThan(0);
    expect(id.simd.every((f) => cpuFlags().has(f))).toBe(true);
    expect(cpuFlags('processor : 0\nflags\t\t: fpu sse avx2 fma\n')).toEqual(new Set(['fpu', 'sse', 'avx2', 'fma']));
    expect(cpuFlags('Features\t: fp asimd\n').has('asimd')).toBe(true);
  });
});
