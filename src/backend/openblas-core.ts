/**
 * OpenBLAS that tunes itself. A DYNAMIC_ARCH OpenBLAS picks its kernels from the CPU it thinks it
 * runs on, and older releases misidentify newer CPUs (Debian's 0.3.21 calls an AVX-512 Xeon
 * "Prescott" and runs SSE3 kernels, an AVX-512 EPYC "Haswell"). It reads OPENBLAS_CORETYPE when
 * the library is loaded, so before the addon is first required this:
 *   1. asks a child process which core OpenBLAS detects, and how fast it multiplies;
 *   2. if that core is older than the CPU's features allow (AVX-512 -> SkylakeX / Cooperlake,
 *      AVX2 -> Haswell), probes each better candidate in its own child process (a wrong core may
 *      crash it), keeping one only if it passes the self-test and is faster;
 *   3. sets OPENBLAS_CORETYPE for this process and the workers it starts.
 * The outcome is cached per machine and addon build, so the probes cost once. A user's own
 * OPENBLAS_CORETYPE always wins; SEQLAB_OPENBLAS_TUNE=off keeps whatever OpenBLAS detects, and
 * SEQLAB_OPENBLAS_TUNE=refresh probes again (e.g. after a probe on a busy machine).
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpuFlags, machineKey, readMachineCache, writeMachineCache } from './machine.ts';

/** How the core is chosen: tuned and cached, OpenBLAS's own (off), or probed again (refresh). */
export type OpenblasTune = 'auto' | 'off' | 'refresh';

export const PROBE_SCRIPT = fileURLToPath(new URL('../../native/probe.cjs', import.meta.url));

/** One run of native/probe.cjs. */
export interface ProbeResult {
  ok: boolean;
  why?: string;
  engine: string | null;
  config: string | null;
  corename: string | null;
  gflops: number | null;
}

export interface CoreChoice {
  /** The core OpenBLAS runs with (null: no OpenBLAS in the addon, or it did not load). */
  core: string | null;
  /** What OpenBLAS detects by itself. */
  detected: string | null;
  /** OpenBLAS version line (openblas_get_config). */
  config: string | null;
  /** user: OPENBLAS_CORETYPE set by the user; tuned: chosen here; detected: OpenBLAS's own choice. */
  source: 'user' | 'tuned' | 'detected' | 'off' | 'unavailable';
  /** GFLOP/s of the 1024^2 product with the detected and the chosen core (probe: best of 7, all cores). */
  detected_gflops?: number | null;
  gflops?: number | null;
  note: string;
}

/** OpenBLAS x86 core names, oldest first (kernels of a later core need the later features). */
const AGE = [
  'prescott',
  'atom',
  'core2',
  'penryn',
  'dunnington',
  'nehalem',
  'bulldozer',
  'piledriver',
  'steamroller',
  'excavator',
  'sandybridge',
  'haswell',
  'zen',
  'skylakex',
  'cooperlake',
  'sapphirerapids',
];

/** The cores worth trying on a CPU with these flags, best first (x86 only; none elsewhere). */
export function candidateCores(flags: Set<string>): string[] {
  const avx512 = ['avx512f', 'avx512dq', 'avx512cd', 'avx512bw', 'avx512vl'].every((f) => flags.has(f));
  if (avx512 && flags.has('avx512_bf16')) return ['Cooperlake', 'SkylakeX'];
  if (avx512) return ['SkylakeX'];
  if (flags.has('avx2') && flags.has('fma')) return ['Haswell'];
  return [];
}

/** True when `core` (as OpenBLAS names it) is older than the best candidate for these flags. */
export function misidentified(core: string | null, flags: Set<string>): boolean {
  const best = candidateCores(flags)[0];
  if (!core || !best) return false;
  const age = AGE.indexOf(core.toLowerCase());
  return age < AGE.indexOf(best.toLowerCase()) && !(core.toLowerCase() === 'zen' && best === 'Haswell');
}

/** Runs native/probe.cjs on the addon with OPENBLAS_CORETYPE = core (undefined: unset): self-test, n^2 product. */
export function probeCore(addonPath: string, core: string | undefined, n = 1024): ProbeResult {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  if (core) env.OPENBLAS_CORETYPE = core;
  const r = spawnSync(process.execPath, [PROBE_SCRIPT, '--addon', addonPath, '--engine', 'cblas', '--n', String(n)], {
    encoding: 'utf8',
    env,
    timeout: 60_000,
  });
  try {
    return JSON.parse((r.stdout ?? '').trim().split('\n').pop()!) as ProbeResult;
  } catch {
    const why = r.signal ? `killed by ${r.signal}` : (r.stderr ?? '').trim().split('\n')[0] || `exit ${r.status}`;
    return { ok: false, why, engine: 'cblas', config: null, corename: null, gflops: null };
  }
}

/** A candidate replaces the detected core only when it is this much faster (the probe is noisy). */
const MIN_SPEEDUP = 1.1;

/** Probe the detected core and, if it is misidentified, the candidates; pure apart from `probe`. */
export function chooseCore(flags: Set<string>, probe: (core: string | undefined) => ProbeResult): CoreChoice {
  const base = probe(undefined);
  if (!base.ok || base.engine !== 'cblas') {
    return {
      core: null,
      detected: null,
      config: base.config,
      source: 'unavailable',
      note: `no OpenBLAS in the addon (${base.why ?? 'built without it'})`,
    };
  }
  const detected = base.corename;
  const common = { detected, config: base.config, detected_gflops: base.gflops };
  if (!misidentified(detected, flags)) {
    return {
      ...common,
      core: detected,
      source: 'detected',
      gflops: base.gflops,
      note: `OpenBLAS detects ${detected}, which matches the CPU's features`,
    };
  }
  let best: { core: string; gflops: number } | undefined;
  const tried: string[] = [];
  for (const c of candidateCores(flags)) {
    const r = probe(c);
    const fine = r.ok && r.corename?.toLowerCase() === c.toLowerCase() && r.gflops != null;
    tried.push(`${c} ${fine ? `${r.gflops} GFLOP/s` : `rejected (${r.ok ? `runs as ${r.corename}` : r.why})`}`);
    if (fine && r.gflops! > (best?.gflops ?? (base.gflops ?? 0) * MIN_SPEEDUP)) best = { core: c, gflops: r.gflops! };
  }
  const probes = `probe 1024^2: ${detected} ${base.gflops} GFLOP/s, ${tried.join(', ')}`;
  if (!best)
    return {
      ...common,
      core: detected,
      source: 'detected',
      gflops: base.gflops,
      note: `OpenBLAS detects ${detected} on a CPU with newer features, no candidate was faster (${probes})`,
    };
  return {
    ...common,
    core: best.core,
    source: 'tuned',
    gflops: best.gflops,
    note: `OpenBLAS detects ${detected}; using ${best.core} (${probes})`,
  };
}

let choice: CoreChoice | undefined;

/**
 * Decide the OpenBLAS core for the addon at `addonPath` and export OPENBLAS_CORETYPE accordingly.
 * Call before the addon is first loaded in this process; later calls return the first answer.
 */
export function tuneOpenblasCore(addonPath: string, tune: OpenblasTune): CoreChoice {
  return (choice ??= decideCore(addonPath, (c) => probeCore(addonPath, c), tune));
}

/** tuneOpenblasCore without the per-process memo (tests pass a fake `probe`). */
export function decideCore(addonPath: string, probe: (core: string | undefined) => ProbeResult, tune: OpenblasTune): CoreChoice {
  const user = process.env.OPENBLAS_CORETYPE?.trim();
  const fromSeqlab = process.env.SEQLAB_OPENBLAS_CORETYPE_TUNED;
  const st = statSync(addonPath, { throwIfNoEntry: false });
  const key = machineKey({ addon: addonPath, size: st?.size, mtime: st?.mtimeMs });
  if (user && user !== fromSeqlab) {
    const flags = cpuFlags();
    const better = misidentified(user, flags)
      ? `; it is older than this CPU allows (${candidateCores(flags).join(' or ')}): unset it for faster matmuls`
      : '';
    return {
      core: user,
      detected: null,
      config: null,
      source: 'user',
      note: `OPENBLAS_CORETYPE=${user} set by the user (not tuned)${better}`,
    };
  }
  let c = readMachineCache<CoreChoice>('openblas-core', key);
  if (user && user === fromSeqlab) {
    if (c?.core === user) return c; // a worker of a tuned parent
    // Inherited from a seqlab process on another machine (e.g. a SLURM job): not ours to keep.
    delete process.env.OPENBLAS_CORETYPE;
    delete process.env.SEQLAB_OPENBLAS_CORETYPE_TUNED;
  }
  if (tune === 'off') {
    return {
      core: null,
      detected: null,
      config: null,
      source: 'off',
      note: 'SEQLAB_OPENBLAS_TUNE=off: OpenBLAS keeps the core it detects',
    };
  }
  if (!c || tune === 'refresh') {
    c = chooseCore(cpuFlags(), probe);
    writeMachineCache('openblas-core', key, c);
  }
  if (c.source === 'tuned' && c.core) {
    process.env.OPENBLAS_CORETYPE = c.core;
    process.env.SEQLAB_OPENBLAS_CORETYPE_TUNED = c.core;
  }
  return c;
}
