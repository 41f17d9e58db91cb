// The self-tuning OpenBLAS core (src/backend/openblas-core.ts): which cores a CPU deserves, the
// choice among probed candidates, the user's OPENBLAS_CORETYPE winning, the per-machine cache,
// and one real probe run that starts from a deliberately old core.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { candidateCores, chooseCore, decideCore, misidentified, probeCore, type ProbeResult } from '../src/backend/openblas-core.ts';
import { cpuFlags } from '../src/backend/machine.ts';
import { loadNativeAddon } from '../src/native/addon.ts';
import { DEFAULT_ADDON_PATH, openblasTuneFromEnv } from '../src/native/config.ts';

const AVX512 = new Set(['avx2', 'fma', 'avx512f', 'avx512dq', 'avx512cd', 'avx512bw', 'avx512vl']);
const BF16 = new Set([...AVX512, 'avx512_bf16']);
const AVX2 = new Set(['avx', 'avx2', 'fma']);

const result = (corename: string | null, gflops: number | null, ok = true, why?: string): ProbeResult => ({
  ok,
  why,
  engine: 'cblas',
  config: corename && `OpenBLAS 0.3.21 DYNAMIC_ARCH ${corename}`,
  corename,
  gflops,
});

let env: Record<string, string | undefined>;
let cache: string;
beforeEach(() => {
  env = { ...process.env };
  cache = mkdtempSync(join(tmpdir(), 'seqlab-core-'));
  process.env.SEQLAB_CACHE_DIR = cache;
  for (const k of ['OPENBLAS_CORETYPE', 'SEQLAB_OPENBLAS_CORETYPE_TUNED', 'SEQLAB_OPENBLAS_TUNE']) delete process.env[k];
});
afterEach(() => {
  process.env = env;
  rmSync(cache, { recursive: true, force: true });
});

describe('which cores a CPU deserves', () => {
  it('AVX-512 with bf16 -> Cooperlake then SkylakeX; AVX-512 -> SkylakeX; AVX2+FMA -> Haswell; otherwise none', () => {
    expect(candidateCores(BF16)).toEqual(['Cooperlake', 'SkylakeX']);
    expect(candidateCores(AVX512)).toEqual(['SkylakeX']);
    expect(candidateCores(AVX2)).toEqual(['Haswell']);
    expect(candidateCores(new Set(['sse3', 'avx']))).toEqual([]);
    expect(candidateCores(new Set(['avx512f', 'avx2', 'fma']))).toEqual(['Haswell']); // AVX-512F alone is not SkylakeX
  });

  it('a generic or older core is misidentified; the best or a newer one is not', () => {
    expect(misidentified('Prescott', AVX512)).toBe(true);
    expect(misidentified('Haswell', BF16)).toBe(true);
    expect(misidentified('SkylakeX', BF16)).toBe(true);
    expect(misidentified('Cooperlake', BF16)).toBe(false);
    expect(misidentified('SapphireRapids', BF16)).toBe(false);
    expect(misidentified('SkylakeX', AVX512)).toBe(false);
    expect(misidentified('Zen', AVX2)).toBe(false);
    expect(misidentified('Sandybridge', AVX2)).toBe(true);
    expect(misidentified('Prescott', new Set())).toBe(false);
    expect(misidentified(null, AVX512)).toBe(false);
  });
});

describe('choosing among probed candidates', () => {
  it('keeps the fastest candidate that passes, drops crashes and cores that run as something else', () => {
    const probes: Record<string, ProbeResult> = {
      default: result('Prescott', 35),
      Cooperlake: result(null, null, false, 'killed by SIGILL'),
      SkylakeX: result('SkylakeX', 160),
    };
    const c = chooseCore(BF16, (core) => probes[core ?? 'default']);
    expect(c).toMatchObject({ core: 'SkylakeX', detected: 'Prescott', source: 'tuned', gflops: 160, detected_gflops: 35 });
    expect(c.note).toMatch(/Cooperlake rejected \(killed by SIGILL\)/);
    const renamed = chooseCore(AVX512, (core) => (core ? result('Haswell', 90) : result('Prescott', 35)));
    expect(renamed).toMatchObject({ core: 'Prescott', source: 'detected' });
    expect(renamed.note).toMatch(/SkylakeX rejected \(runs as Haswell\)/);
  });

  it('a candidate must be clearly faster; a correct detection is never probed further', () => {
    const slow = chooseCore(AVX512, (core) => result(core ?? 'Haswell', core ? 105 : 100));
    expect(slow).toMatchObject({ core: 'Haswell', source: 'detected' });
    let calls = 0;
    const fine = chooseCore(BF16, (core) => (calls++, result(core ?? 'Cooperlake', 240)));
    expect(fine).toMatchObject({ core: 'Cooperlake', source: 'detected' });
    expect(calls).toBe(1);
  });

  it('no OpenBLAS in the addon: unavailable, nothing set', () => {
    const c = chooseCore(BF16, () => ({ ...result(null, null, false, 'engine cblas is not in this build'), engine: 'cblas' }));
    expect(c).toMatchObject({ core: null, source: 'unavailable' });
  });
});

describe('decideCore: environment and cache', () => {
  const addon = DEFAULT_ADDON_PATH;
  const never = (): ProbeResult => {
    throw new Error('must not probe');
  };

  it("the user's OPENBLAS_CORETYPE always wins, and an old one gets a hint", () => {
    process.env.OPENBLAS_CORETYPE = 'Prescott';
    const c = decideCore(addon, never, openblasTuneFromEnv());
    expect(c).toMatchObject({ core: 'Prescott', source: 'user' });
    if (candidateCores(cpuFlags()).length) expect(c.note).toMatch(/older than this CPU allows .*unset it/);
    expect(process.env.OPENBLAS_CORETYPE).toBe('Prescott');
  });

  it('a tuned choice is exported to the environment (workers inherit it) and cached per machine', () => {
    let calls = 0;
    const fake = (core: string | undefined) => (
      calls++, core === 'SkylakeX' ? result('SkylakeX', 150) : result(core ? null : 'Prescott', 30, !core)
    );
    // Pretend to be an AVX-512 machine only through the probe: candidates come from the real CPU.
    const flagsHaveAvx512 = candidateCores(cpuFlags()).includes('SkylakeX');
    const first = decideCore(addon, fake, openblasTuneFromEnv());
    if (!flagsHaveAvx512) {
      expect(first.source).toBe('detected');
      return;
    }
    expect(first).toMatchObject({ core: 'SkylakeX', source: 'tuned' });
    expect(process.env.OPENBLAS_CORETYPE).toBe('SkylakeX');
    const probed = calls;
    // A worker started by this process: the variable is seqlab's, the cache answers, nothing is probed.
    expect(decideCore(addon, never, openblasTuneFromEnv())).toEqual(first);
    delete process.env.OPENBLAS_CORETYPE;
    expect(decideCore(addon, never, openblasTuneFromEnv())).toEqual(first); // a fresh process on the same machine
    expect(calls).toBe(probed);
  });

  it("a core exported by seqlab on another machine is dropped, not taken for the user's", () => {
    process.env.OPENBLAS_CORETYPE = 'SapphireRapids';
    process.env.SEQLAB_OPENBLAS_CORETYPE_TUNED = 'SapphireRapids';
    const c = decideCore(addon, (core) => result(core ?? 'Haswell', 100), openblasTuneFromEnv());
    expect(c.source).not.toBe('user');
    expect(c.detected).toBe('Haswell');
    if (c.source !== 'tuned') expect(process.env.OPENBLAS_CORETYPE).toBeUndefined();
  });

  it('SEQLAB_OPENBLAS_TUNE=refresh probes again and replaces the cached choice', () => {
    const first = decideCore(addon, (core) => result(core ?? 'Haswell', 100), openblasTuneFromEnv());
    expect(decideCore(addon, never, openblasTuneFromEnv())).toEqual(first);
    process.env.SEQLAB_OPENBLAS_TUNE = 'refresh';
    let calls = 0;
    decideCore(addon, (core) => (calls++, result(core ?? 'Haswell', 100)), openblasTuneFromEnv());
    expect(calls).toBeGreaterThan(0);
  });

  it('SEQLAB_OPENBLAS_TUNE=off probes nothing', () => {
    process.env.SEQLAB_OPENBLAS_TUNE = 'off';
    expect(decideCore(addon, never, openblasTuneFromEnv())).toMatchObject({ source: 'off', core: null });
    expect(process.env.OPENBLAS_CORETYPE).toBeUndefined();
  });
});

const addon = loadNativeAddon(DEFAULT_ADDON_PATH).addon;
const real = !!addon?.hasCblas && candidateCores(cpuFlags()).length > 0;
describe(`real probes${real ? '' : ' (SKIPPED: no OpenBLAS in the addon or no AVX2/AVX-512 CPU)'}`, () => {
  it.skipIf(!real)('starting from a forced Prescott, the probes find a newer core that passes and is faster', () => {
    const c = chooseCore(cpuFlags(), (core) => probeCore(DEFAULT_ADDON_PATH, core ?? 'Prescott', 512));
    expect(c.detected).toBe('Prescott');
    expect(c.source).toBe('tuned');
    expect(candidateCores(cpuFlags())).toContain(c.core);
    expect(c.gflops!).toBeGreaterThan(c.detected_gflops!);
  });
});
