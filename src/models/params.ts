/**
 * Exact parameter counts (docs/models.md 7). Every tensor the tf model creates is counted: each mixer
 * kind counts its own (kinds/*.ts); here the shell: norms (and LayerNorm biases), FFNs, the
 * parallel merge and router weights, the shared block and its per-insertion Linears, an untied
 * head, learned positions.
 */
import { mixerParams } from './kinds/registry.ts';
import type { FfnSpec, LayerSpec, ResolvedModel } from './resolved.ts';

type Norm = 'rms' | 'layer';
const normParams = (width: number, norm: Norm): number => (norm === 'layer' ? 2 * width : width);

export function ffnParams(f: FfnSpec | null, d: number): number {
  if (!f) return 0;
  const b = f.bias ? 1 : 0;
  // gelu: W1 d x f, W2 f x d; swiglu adds Wg d x f.
  return f.kind === 'gelu' ? 2 * d * f.hidden + b * (f.hidden + d) : 3 * d * f.hidden + b * (2 * f.hidden + d);
}

/** One layer at width d: its norms, mixer (or merge/router) and FFN. */
export function layerParams(l: LayerSpec, d: number, norm: Norm): number {
  const m = l.mixer;
  if (m.kind === 'shared') return 2 * d * d; // per-insertion Linear 2d -> d; the block is counted once
  let mix: number;
  if (m.kind === 'parallel') {
    const nb = m.branches.length;
    mix = m.branches.reduce((s, b) => s + mixerParams(b, d), 0) + nb * d; // + RMS_b weights
    if (m.merge === 'normGateToken') mix += d * nb + nb;
    if (m.merge === 'normGateStatic') mix += nb;
  } else if (m.kind === 'routed') {
    const nb = m.branches.length;
    mix = m.branches.reduce((s, b) => s + mixerParams(b, d), 0) + d * nb + (m.routing === 'soft' ? nb * d : 0);
  } else mix = mixerParams(m, d);
  return normParams(d, norm) + mix + (l.ffn ? normParams(d, norm) + ffnParams(l.ffn, d) : 0);
}

export function countParams(m: ResolvedModel): { params: number; paramsNonEmbedding: number } {
  const d = m.d_model;
  let body = m.layers.reduce((s, l) => s + layerParams(l, d, m.norm), 0) + normParams(d, m.norm);
  if (m.shared) body += layerParams(m.shared, 2 * d, m.norm);
  const embedding = m.vocab_size * d * (m.tie_embeddings ? 1 : 2) + (m.abs_pos === 'learned' ? m.seq_len * d : 0);
  return { params: body + embedding, paramsNonEmbedding: body };
}
