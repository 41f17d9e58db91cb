/**
 * Forward FLOPs per token (docs/models.md 8) and decode-state sizes (docs/models.md 9), as pure functions
 * of the resolved model: each mixer kind counts its own (kinds/*.ts); here the layers, combinators
 * and the head. One multiply-add = 2 FLOPs; lower-order (O(width)) terms are omitted except the
 * exps the spec lists; softmax is not counted (the spec's worked example omits it).
 */
import { mixerFlops, mixerStateFloats } from './kinds/registry.ts';
import type { LayerSpec, ResolvedModel } from './resolved.ts';

/** Bump when any formula changes (stored with every FLOP figure). */
export const FLOPS_FORMULA_VERSION = 'docs/models.md#8/v1';

export { mixerFlops, mixerStateFloats };

export function ffnFlops(l: LayerSpec, d: number): number {
  if (!l.ffn) return 0;
  return (l.ffn.kind === 'gelu' ? 4 : 6) * d * l.ffn.hidden;
}

/** Forward FLOPs per token of one layer; `shared` is the zamba block (for marker layers). */
export function layerFlops(l: LayerSpec, d: number, T: number, shared?: LayerSpec): number {
  const m = l.mixer;
  if (m.kind === 'shared') return (shared ? layerFlops(shared, 2 * d, T) : 0) + 2 * (2 * d) * d;
  let f: number;
  if (m.kind === 'parallel' || m.kind === 'routed') {
    f = m.branches.reduce((s, b) => s + mixerFlops(b, d, T), 0);
    if (m.kind === 'routed' || m.merge === 'normGateToken') f += 2 * d * m.branches.length; // router / gate
  } else f = mixerFlops(m, d, T);
  return f + ffnFlops(l, d);
}

/** Forward FLOPs per token of the whole model at context T, including the 2 d V head. */
export function flopsPerToken(m: ResolvedModel, seqLen: number): number {
  const d = m.d_model;
  return m.layers.reduce((s, l) => s + layerFlops(l, d, seqLen, m.shared), 0) + 2 * d * m.vocab_size;
}

export function layerStateFloats(l: LayerSpec, t: number, shared?: LayerSpec): number {
  const m = l.mixer;
  if (m.kind === 'shared') return shared ? layerStateFloats(shared, t) : 0; // own cache per insertion
  if (m.kind === 'parallel' || m.kind === 'routed') return m.branches.reduce((s, b) => s + mixerStateFloats(b, t), 0);
  return mixerStateFloats(m, t);
}

/** Recurrent decode state of the whole model, floats per sequence after t tokens (x4 = bytes). */
export function decodeStateFloats(m: ResolvedModel, t: number): number {
  return m.layers.reduce((s, l) => s + layerStateFloats(l, t, m.shared), 0);
}
