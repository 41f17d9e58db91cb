/**
 * Named presets (docs/models.md 6.5 plus the pure baselines): each is a Pattern in config form;
 * spec.ts parses it (filling mixer defaults) and resolves it like a user pattern.
 */
import { isDeepStrictEqual } from 'node:util';
import type { PatternInput } from './layer.ts';

export const PRESETS = [
  'transformer',
  'retnet',
  'mamba',
  'mamba2',
  'selret',
  'gla',
  'deltanet',
  'jamba',
  'samba',
  'mambaformer',
  'hymba',
  'zamba',
  'fusion-alt',
  'fusion-hier',
  'fusion-selret',
  'fusion-par',
  'fusion-route',
] as const;
export type PresetName = (typeof PRESETS)[number];

type LayerIn = Extract<PatternInput, { type: 'uniform' }>['layer'];
const L = (mixer: LayerIn['mixer'], ffn?: LayerIn['ffn']): LayerIn => (ffn === undefined ? { mixer } : { mixer, ffn });

const attn = { kind: 'attn' } as const;
const attnNoRope = { kind: 'attn', rope: false } as const;
const retnet = { kind: 'retnet' } as const;
const selret = { kind: 'selret' } as const;
/** GLA (Yang et al. 2023) as selective retention: per-key-pair gated decay logsigmoid(.)/tau, no write gate. */
const gla = { kind: 'selret', decay: 'gla', granularity: 'key' } as const;
const mamba = { kind: 'mamba' } as const;

/** Zamba's insertion period; capped at n_layers so that short stacks apply the block once. */
export const ZAMBA_EVERY = 6;

export const PRESET_DESCRIPTIONS: Record<PresetName, string> = {
  transformer: 'uniform(attn + gelu 4d): GPT-style Transformer with RoPE',
  retnet: 'uniform(retnet + swiglu): RetNet',
  mamba: 'uniform(mamba), no FFN: Mamba-1',
  mamba2: 'uniform(mamba2), no FFN: Mamba-2',
  selret: 'uniform(selret + swiglu): selective retention',
  gla: 'uniform(selret(decay gla, granularity key) + swiglu): gated linear attention',
  deltanet: 'uniform(deltanet + swiglu): DeltaNet (delta-rule linear attention)',
  jamba: 'interleave(base mamba, minority attn(rope false), period 8, offsets [4]); FFN per mixer default (gelu on attn layers)',
  samba: 'alternating([mamba + swiglu, swa(W 64) + swiglu])',
  mambaformer: 'explicit([mamba] + repeat([attn(rope false), mamba])), no FFN',
  hymba: 'uniform(parallel([attn, mamba], normMean, width_scale 0.5) + swiglu)',
  zamba: `sharedAttn(base mamba, shared attn + gelu at width 2d, every min(${ZAMBA_EVERY}, n_layers))`,
  'fusion-alt': 'alternating([mamba, retnet + swiglu])',
  'fusion-hier': 'hierarchical(low mamba, high retnet + swiglu, low_fraction 0.5)',
  'fusion-selret': 'uniform(selret + swiglu)',
  'fusion-par': 'uniform(parallel([retnet, mamba], normGateToken, width_scale 0.5) + swiglu)',
  'fusion-route': 'uniform(routed([selret, attn], top1) + swiglu)',
};

export function presetPattern(name: PresetName, n_layers: number): PatternInput {
  const uniform = (layer: LayerIn): PatternInput => ({ type: 'uniform', layer, n_layers });
  switch (name) {
    case 'transformer':
      return uniform(L(attn, 'gelu'));
    case 'retnet':
      return uniform(L(retnet, 'swiglu'));
    case 'mamba':
      return uniform(L(mamba, null));
    case 'mamba2':
      return uniform(L({ kind: 'mamba2' }, null));
    case 'selret':
    case 'fusion-selret':
      return uniform(L(selret, 'swiglu'));
    case 'gla':
      return uniform(L(gla, 'swiglu'));
    case 'deltanet':
      return uniform(L({ kind: 'deltanet' }, 'swiglu'));
    case 'jamba':
      return { type: 'interleave', base: L(mamba), minority: L(attnNoRope), period: 8, offsets: [4], n_layers };
    case 'samba':
      return { type: 'alternating', cycle: [L(mamba, 'swiglu'), L({ kind: 'swa' }, 'swiglu')], n_layers };
    case 'mambaformer':
      return {
        type: 'explicit',
        layers: Array.from({ length: n_layers }, (_, i) => L(i % 2 === 0 ? mamba : attnNoRope, null)),
      };
    case 'hymba':
      return uniform(L({ kind: 'parallel', branches: [attn, mamba], merge: 'normMean', width_scale: 0.5 }, 'swiglu'));
    case 'zamba':
      return { type: 'sharedAttn', base: L(mamba), shared: L(attn, 'gelu'), every: Math.min(ZAMBA_EVERY, n_layers), n_layers };
    case 'fusion-alt':
      return { type: 'alternating', cycle: [L(mamba), L(retnet)], n_layers };
    case 'fusion-hier':
      return { type: 'hierarchical', low: L(mamba), high: L(retnet), low_fraction: 0.5, n_layers };
    case 'fusion-par':
      return uniform(L({ kind: 'parallel', branches: [retnet, mamba], merge: 'normGateToken', width_scale: 0.5 }, 'swiglu'));
    case 'fusion-route':
      return uniform(L({ kind: 'routed', branches: [selret, attn], routing: 'top1' }, 'swiglu'));
  }
}

/**
 * The first preset (in PRESETS order) that expands to the same pattern: presets that are the same
 * model (selret and fusion-selret) resolve alike, so they get one run id.
 */
export function canonicalPreset(name: PresetName, nLayers: number): PresetName {
  const p = presetPattern(name, nLayers);
  return PRESETS.find((q) => isDeepStrictEqual(presetPattern(q, nLayers), p)) ?? name;
}
