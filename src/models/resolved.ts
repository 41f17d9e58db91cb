/**
 * The resolved model: the explicit layer list every run stores and the model code builds from.
 *
 * - Every MixerSpec field is concrete (no 'auto'); each kind's resolved type is what its module
 *   in ./kinds resolves to (head widths: attn dh; retention dk = dqk / heads, dv = dvt / heads;
 *   mamba/mamba2 `d_inner` = expand * d, the inner width; mamba2 Hm = d_inner / head_dim).
 * - Parallel branches are ALREADY width-scaled (width_scale is informational; do not scale again).
 *   Each branch maps d -> d with its own output projection; merge per docs/models.md 6.3.
 *   Routed branches are full width (6.4).
 * - Shared block (zamba, 6.2): a marker layer { mixer: { kind: 'shared', index: k }, ffn: null }
 *   means: g = concat(h, h_emb) [2d]; g <- g + Mixer(Norm1(g)); if ffn: g <- g + FFN(Norm2(g))
 *   using the `shared` LayerSpec's weights (one copy, norms of width 2d); then h <- h + g @ W_k
 *   with W_k a per-insertion Linear 2d -> d (no bias). Each insertion keeps its own KV cache.
 * - Biases: FFN `bias` = bias on W1 (and Wg) and W2. norm 'layer' = LayerNorm with bias.
 */
import type { MixerSpec } from './kinds/registry.ts';
import type { ParallelConfig, RoutedConfig } from './layer.ts';

export type ParallelSpec = Omit<ParallelConfig, 'branches'> & { branches: MixerSpec[] };
export type RoutedSpec = Omit<RoutedConfig, 'branches'> & { branches: MixerSpec[] };
export interface SharedMarker {
  kind: 'shared';
  /** Insertion index k (0-based): selects the per-insertion Linear W_k and the KV cache. */
  index: number;
}
export interface FfnSpec {
  kind: 'gelu' | 'swiglu';
  hidden: number;
  bias: boolean;
}
export interface LayerSpec {
  mixer: MixerSpec | ParallelSpec | RoutedSpec | SharedMarker;
  ffn: FfnSpec | null;
}

export interface ResolvedModel {
  /** The preset's canonical name (presets that expand alike share one), or 'custom'. */
  preset: string;
  d_model: number;
  /** Number of base layers (zamba's shared-block markers come on top of these in `layers`). */
  n_layers: number;
  vocab_size: number;
  seq_len: number;
  norm: 'rms' | 'layer';
  norm_eps: number;
  tie_embeddings: boolean;
  abs_pos: 'none' | 'learned';
  layers: LayerSpec[];
  /** zamba: the shared block, at width 2 * d_model. */
  shared?: LayerSpec;
}
