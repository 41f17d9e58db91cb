/**
 * Exact parameter counts (models.md 7). Every tensor the tf model creates is counted here:
 * norms (and LayerNorm biases), Linear biases, gates, conv taps and bias, A_log, D, dt bias,
 * routers, the shared block and its per-insertion Linears, an untied head, learned positions.
 */
import type { FfnSpec, LayerSpec, MixerSpec, ResolvedModel } from './spec.ts';

type Norm = 'rms' | 'layer';
const normParams = (width: number, norm: Norm): number => (norm === 'layer' ? 2 * width : width);

export function ffnParams(f: FfnSpec, d: number): number {
  if (!f) return 0;
  const b = f.bias ? 1 : 0;
  // gelu: W1 d x f, W2 f x d; swiglu adds Wg d x f.
  return f.kind === 'gelu' ? 2 * d * f.hidden + b * (f.hidden + d) : 3 * d * f.hidden + b * (2 * f.hidden + d);
}

/** One mixer mapping width d -> d (its input norm not included). */
export function mixerParams(m: MixerSpec, d: number): number {
  switch (m.kind) {
    case 'attn':
    case 'swa': {
      const inner = m.heads * m.dh; // Wq, Wk, Wv: d x inner; Wo: inner x d
      return 4 * d * inner + (m.bias ? 3 * inner + d : 0);
    }
    case 'retnet':
      return 2 * d * m.dqk + 3 * d * m.dvt; // Wq, Wk; Wv, Wg, Wo (head norm has no affine)
    case 'selret':
      return 2 * d * m.dqk + 3 * d * m.dvt + selretGateParams(m, d);
    case 'mamba': {
      const { dInner: din, dConv: K, dtRank: R, dState: N } = m;
      const b = m.bias ? 1 : 0;
      // W_in 2 d din; conv din K (+ din); W_x din (R + 2N); W_dt R din + b_dt din; A_log din N; D din; W_out din d
      return (
        3 * d * din + din * (K + 2 * R + 3 * N + 3) - (m.convBias ? 0 : din) + b * (2 * din + d) + (m.innerNorms ? R + 2 * N : 0)
      );
    }
    case 'mamba2': {
      const { dInner: din, dConv: K, dState: N, nGroups: G } = m;
      const hm = din / m.headDim;
      const convCh = din + 2 * G * N;
      const inW = 2 * din + 2 * G * N + hm; // W_in out width: [z | x | B | C | dt]
      // W_in; conv taps (+ bias); dt_bias, A_log, D per head; gated-norm weight din; W_out
      return d * inW + convCh * K + (m.convBias ? convCh : 0) + 3 * hm + din + din * d + (m.bias ? inW + d : 0);
    }
  }
}

/** Selective-retention gate parameters on top of RetNet (models.md 5.2, 5.6, 7). */
export function selretGateParams(m: Extract<MixerSpec, { kind: 'selret' }>, d: number): number {
  const H = m.heads;
  const pairs = m.dqk / H / 2; // per-key decays are tied on rope pairs
  let n = 0;
  if (m.granularity === 'head') {
    if (m.decay === 'mamba') n += d * H + 2 * H; // w_dt, b_dt, A_log
    if (m.decay === 'gla') n += d * H + H; // w_a, b_a
  } else {
    if (m.decay === 'mamba') n += d * H + H + H * pairs; // w_dt, b_dt, A_log per pair
    if (m.decay === 'gla') n += 16 * d + 16 * H * pairs + H * pairs; // Wa1 d x 16, Wa2 16 x H dk/2, b_a
  }
  if (m.write === 'sigmoid') n += d * H + H; // w_b, b_b
  return n;
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
