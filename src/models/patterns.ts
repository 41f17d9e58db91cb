/**
 * Deterministic expansion of a hybrid stacking pattern (docs/models.md 6.1-6.2) into a layer list.
 * Pure data: the mixers stay config mixers ('auto' resolved later by spec.ts).
 */
import { UserError } from '../errors.ts';
import { describeMixer } from './kinds/registry.ts';
import type { LayerConfig, Pattern } from './layer.ts';
import type { LayerSpec, ResolvedModel } from './resolved.ts';

export interface ExpandedPattern {
  /** Base layers in order from the embedding; 'shared' = one application of the shared block. */
  layers: (LayerConfig | 'shared')[];
  shared?: LayerConfig;
}

/** Each layer gets its own copy (later overrides mutate mixers). */
const copy = (l: LayerConfig): LayerConfig => structuredClone(l);

export function expandPattern(p: Pattern, defaultLayers: number, where = 'model.pattern'): ExpandedPattern {
  const n = p.type === 'explicit' ? p.layers.length : (p.n_layers ?? defaultLayers);
  const range = Array.from({ length: n }, (_, i) => i);
  switch (p.type) {
    case 'uniform':
      return { layers: range.map(() => copy(p.layer)) };
    case 'alternating':
      return { layers: range.map((i) => copy(p.cycle[i % p.cycle.length]!)) };
    case 'hierarchical': {
      // Math.round rounds halves up: low_fraction 0.5 with 5 layers gives 3 low layers.
      const nLow = Math.round(p.low_fraction * n);
      return { layers: range.map((i) => copy(i < nLow ? p.low : p.high)) };
    }
    case 'interleave': {
      const bad = p.offsets.find((o) => o >= p.period);
      if (bad !== undefined) throw new UserError(`${where}.offsets: offset ${bad} is not below period ${p.period}`);
      return { layers: range.map((i) => copy(p.offsets.includes(i % p.period) ? p.minority : p.base)) };
    }
    case 'sharedAttn': {
      const layers: ExpandedPattern['layers'] = [];
      for (const i of range) {
        layers.push(copy(p.base));
        if ((i + 1) % p.every === 0) layers.push('shared');
      }
      return { layers, shared: copy(p.shared) };
    }
    case 'explicit':
      return { layers: p.layers.map(copy) };
  }
}

/** Ratio r:m as an interleave (period r + m, r evenly spread offsets), docs/models.md 6.2. */
export function ratioOffsets(minority: number, majority: number): { period: number; offsets: number[] } {
  const period = minority + majority;
  const offsets = Array.from({ length: minority }, (_, j) => Math.floor(((j + 0.5) * period) / minority));
  return { period, offsets };
}

export function describeLayer(l: LayerSpec): string {
  const m = l.mixer;
  const mix =
    m.kind === 'shared'
      ? `shared block #${m.index}`
      : m.kind === 'parallel'
        ? `parallel[${m.branches.map(describeMixer).join(' | ')}] ${m.merge}`
        : m.kind === 'routed'
          ? `routed[${m.branches.map(describeMixer).join(' | ')}] ${m.routing}`
          : describeMixer(m);
  return l.ffn ? `${mix} + ${l.ffn.kind}(${l.ffn.hidden})` : mix;
}

/** The expansion as log lines ("0: mamba(...)"), to print with every run. */
export function summarizeLayers(m: ResolvedModel): string[] {
  const lines = m.layers.map((l, i) => `${i}: ${describeLayer(l)}`);
  if (m.shared) lines.push(`shared (width ${2 * m.d_model}): ${describeLayer(m.shared)}`);
  return lines;
}
