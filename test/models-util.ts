/** Shared helpers of the model tests (tiny configs, tolerance checks, mixer harness). */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { installEltwiseKernels } from '../src/native/eltwise.ts';
import { installMatmulKernels } from '../src/native/matmul.ts';
import { loadNativeAddon } from '../src/native/addon.ts';
import { DEFAULT_ADDON_PATH, kernelConfig, kernelConfigFromEnv, useKernelConfig, type KernelConfig } from '../src/native/config.ts';
import { selectBackend } from '../src/backend/select.ts';
import { ParamStore } from '../src/models/init.ts';
import { mixerSchemas, resolveMixer, type MixerSpec } from '../src/models/kinds/registry.ts';
import type { BuildSpec, Mixer, MixerContext } from '../src/models/mixers/common.ts';
import { buildMixer } from '../src/models/mixers/registry.ts';
import type { ResolvedModel } from '../src/models/resolved.ts';
import { patternSchema } from '../src/models/layer.ts';
import { expandPattern } from '../src/models/patterns.ts';
import { presetPattern, type PresetName } from '../src/models/presets.ts';
import { resolveModelInput } from '../src/models/spec.ts';

/** What the mixer harness builds: a resolved kind or a parallel / routed combinator of them. */
export type Spec = BuildSpec;

/** max|x - y| <= atol + rtol * max|y| (docs/models.md 12); returns the max deviation for messages. */
export function expectClose(x: tf.Tensor, y: tf.Tensor, atol: number, rtol: number, what = ''): number {
  const a = x.dataSync();
  const b = y.dataSync();
  if (a.length !== b.length) throw new Error(`${what}: sizes ${a.length} vs ${b.length}`);
  let dev = 0;
  let mx = 0;
  for (let i = 0; i < a.length; i++) {
    dev = Math.max(dev, Math.abs(a[i] - b[i]));
    mx = Math.max(mx, Math.abs(b[i]));
    if (!Number.isFinite(a[i]) || !Number.isFinite(b[i])) throw new Error(`${what}: non-finite value at ${i}`);
  }
  if (!(dev <= atol + rtol * mx)) throw new Error(`${what}: max deviation ${dev} > ${atol} + ${rtol} * ${mx}`);
  return dev;
}

/** Tiny model of a preset: d 16, heads 2, small SSM states; jamba gets 5 layers so layer 4 is attention. */
export function tinyModel(
  preset: string,
  opts: { seqLen?: number; vocab?: number; d?: number; nLayers?: number; mixer?: Record<string, unknown> } = {},
): ResolvedModel {
  const d = opts.d ?? 16;
  const nLayers = opts.nLayers ?? (preset === 'jamba' ? 5 : 2);
  const base = { preset, d_model: d, n_layers: nLayers };
  const ctx = { vocabSize: opts.vocab ?? 13, seqLen: opts.seqLen ?? 16 };
  // Pass only the small-shape overrides some mixer of this preset has (an override no mixer has
  // is a user error): the preset's own pattern, expanded as resolveModel does, says which.
  const expanded = expandPattern(patternSchema.parse(presetPattern(preset as PresetName, nLayers)), nLayers);
  const configMixers = [...expanded.layers, ...(expanded.shared ? [expanded.shared] : [])].flatMap((l) =>
    l === 'shared' ? [] : l.mixer.kind === 'parallel' || l.mixer.kind === 'routed' ? l.mixer.branches : [l.mixer],
  );
  const wanted: Record<string, unknown> = { head_dim: 8, d_state: 8, chunk: 4, ...opts.mixer };
  const mixer = Object.fromEntries(Object.entries(wanted).filter(([k]) => configMixers.some((m) => k in m)));
  const cfg = { ...base, heads: 2, ...(Object.keys(mixer).length ? { mixer } : {}) };
  return resolveModelInput(cfg as never, ctx);
}

/** Resolve one mixer spec of a kind (defaults filled) at width d. */
export function mixerSpec(kind: keyof typeof mixerSchemas, fields: Record<string, unknown>, d: number, T: number): MixerSpec {
  return resolveMixer(mixerSchemas[kind].parse({ kind, ...fields }), d, T, 'test');
}

export interface MixerHarness {
  mixer: Mixer;
  store: ParamStore;
}

/** Build a mixer (or parallel/routed spec) with its own seeded weights. */
export function makeMixer(spec: Spec, d: number, T: number, seed = 1, scope = 'm.'): MixerHarness {
  const store = new ParamStore(seed);
  const ctx: MixerContext = { params: store.scope(scope), d, nLayers: 2, seqLen: T, normEps: 1e-5, nRes: 1, build: buildMixer };
  return { mixer: buildMixer(spec, ctx), store };
}

/** Replace weights whose name matches `re` with N(0, std) draws (e.g. zero-init routers and gates). */
export function randomize(store: ParamStore, re: RegExp, std = 0.5, seed = 7): void {
  let i = 0;
  for (const [name, v] of store.weights) {
    if (!re.test(name)) continue;
    const r = tf.randomNormal(v.shape, 0, std, 'float32', seed + i++);
    v.assign(r);
    r.dispose();
  }
}

/** Decode u [B, T, d] token by token from an empty state; returns [B, T, d]. */
export function decodeAll(m: Mixer, u: tf.Tensor3D, prefix = 0): tf.Tensor3D {
  return tf.tidy(() => {
    const [B, T] = u.shape;
    const outs: tf.Tensor[] = [];
    let state: ReturnType<typeof m.emptyState>;
    if (prefix > 0) {
      const p = m.prefill(u.slice([0, 0, 0], [B, prefix, -1]) as tf.Tensor3D);
      outs.push(p.y);
      state = p.state;
    } else state = m.emptyState(B);
    for (let t = prefix; t < T; t++) {
      const r = m.step(u.slice([0, t, 0], [B, 1, -1]).reshape([B, -1]) as tf.Tensor2D, state, t);
      outs.push(r.y.expandDims(1));
      state = r.state;
    }
    return tf.concat(outs, 1) as tf.Tensor3D;
  });
}

/** Deterministic pseudo-random token ids [B, T] (mulberry32; an LCG's low bits would be periodic). */
export function tokens(B: number, T: number, V: number, seed = 3): tf.Tensor2D {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const ids = Array.from({ length: B * T }, () => Math.floor(next() * V));
  return tf.tensor2d(ids, [B, T], 'int32');
}

/** The stock element-wise kernels (SEQLAB_ELTWISE=off: fused ops take their tensor forms) or the native ones on n threads. */
export function useEltwise(mode: 'stock' | number): void {
  installEltwiseKernels(useKernelEnv(mode === 'stock' ? { SEQLAB_ELTWISE: 'off' } : {}, { threads: mode === 'stock' ? 1 : mode }));
}

/**
 * Installs the kernel configuration the environment plus `env` asks for (the switches as a user sets
 * them, e.g. SEQLAB_FUSED_RETENTION: 'off'; threads as the run config gives them) and returns it.
 */
export function useKernelEnv(env: Record<string, string | undefined>, run: { threads?: number } = {}): KernelConfig {
  return useKernelConfig(kernelConfigFromEnv({ ...process.env, ...env }, run));
}

/** Runs `body` under useKernelEnv(env), then puts the previous kernel configuration back. */
export function withKernelEnv<T>(env: Record<string, string | undefined>, body: () => T): T {
  const prev = kernelConfig();
  useKernelEnv(env, { threads: prev.threads });
  try {
    return body();
  } finally {
    useKernelConfig(prev);
  }
}

const addon = loadNativeAddon(DEFAULT_ADDON_PATH).addon as unknown as Record<string, unknown> | undefined;

/** Whether the native addon exports `fn` (a build without it skips the suites that need it). */
export const addonHas = (fn: string): boolean => typeof addon?.[fn] === 'function';

/** Runs the native kernels' AVX2 ('avx2') or portable ('generic') code; false when this CPU lacks AVX2. */
export function forceIsa(isa: 'avx2' | 'generic'): boolean {
  return (addon?.setEltwiseIsa as ((n: string) => boolean) | undefined)?.(isa) ?? false;
}

/** Whether this CPU runs the native kernels' AVX2 code (AVX2 is also the default the suites restore). */
const AVX2 = forceIsa('avx2');

/**
 * A test of the native kernels' `isa` code: it runs with that ISA forced, and is skipped (saying so)
 * for AVX2 on a CPU without it.
 */
export function itIsa(isa: 'avx2' | 'generic', title: string, body: () => void | Promise<void>): void {
  const skip = isa === 'avx2' && !AVX2;
  it.skipIf(skip)(`${title}${skip ? ' (SKIPPED: this CPU has no AVX2)' : ''}`, () => {
    forceIsa(isa);
    return body();
  });
}

/**
 * One describe() per native backend (wasm, cpu) with the native matmul and element-wise kernels on
 * 2 threads, skipped (saying so) without `fn` in the addon; restores AVX2 and the native kernels after.
 */
export function describeNative(title: string, fn: string, body: () => void): void {
  for (const backend of ['wasm', 'cpu'] as const) {
    describe.skipIf(!addonHas(fn))(`${title} on ${backend}${addonHas(fn) ? '' : ` (SKIPPED: the native addon has no ${fn})`}`, () => {
      beforeAll(async () => {
        await selectBackend(backend);
        await installMatmulKernels({ threads: 2, log: () => {} });
      });
      afterAll(() => {
        forceIsa('avx2');
        useEltwise(2);
      });
      body();
    });
  }
}
