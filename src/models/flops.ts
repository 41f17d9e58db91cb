/**
 * Forward FLOPs per token (models.md 8) and decode-state sizes (models.md 9), as pure functions
 * of the resolved model. One multiply-add = 2 FLOPs; lower-order (O(width)) terms are omitted
 * except the exps the spec lists; softmax is not counted (the spec's worked example omits it).
 */
import type { LayerSpec, MixerSpec, ResolvedModel } from './spec.ts';

/** Bump when any formula below changes (stored with every FLOP figure). */
export const FLOPS_FORMULA_VERSION = 'models.md#8/v1';

/** Forward FLOPs per token of one mixer (width d, context T). */
export function mixerFlops(m: MixerSpec, d: number, T: number): number {
  switch (m.kind) {
    case 'attn':
    case 'swa': {
      const inner = m.heads * m.dh;
      const ctx = m.kind === 'swa' ? Math.min(T, m.window) : T; // (Q) dense scores: full T
      return 8 * d * inner + 4 * ctx * inner;
    }
    case 'retnet':
    case 'selret': {
      const { dqk, dvt, heads: H } = m;
      const C = Math.min(m.chunk, T);
      let f = 4 * d * dqk + 6 * d * dvt;
      const key = m.kind === 'selret' && m.granularity === 'key';
      if (m.form === 'parallel') f += (key ? 4 * T * dqk : 2 * T * dqk) + 2 * T * dvt + H * T;
      else if (m.form === 'chunk') {
        const intraQk = !key ? 2 * C * dqk : m.kind === 'selret' && m.intraMode === 'factorized' ? 2 * C * dqk + 2 * dqk : 4 * C * dqk;
        f += intraQk + 2 * C * dvt + H * C + (4 * dqk * dvt) / H;
      } else f += (5 * dqk * dvt) / H;
      if (m.kind === 'selret') {
        // gate projections + input-dependent decay-mask exps (key decay: already in intraQk)
        if (m.granularity === 'key' && m.decay === 'gla') f += 2 * d * 16 + 2 * 16 * H * (dqk / H / 2);
        else if (m.decay !== 'fixed') f += 2 * d * H;
        if (m.write === 'sigmoid') f += 2 * d * H;
        if (m.decay !== 'fixed' && !key) f += m.form === 'parallel' ? H * T : m.form === 'chunk' ? H * C : 0;
      }
      return f;
    }
    case 'mamba': {
      const { dInner: din, dtRank: R, dState: N, dConv: K } = m;
      const proj = 4 * d * din + 2 * din * (R + 2 * N) + 2 * R * din + 2 * din * d;
      const scan = 7 * din * N + (m.scan === 'logdepth' ? 3 * din * N * Math.ceil(Math.log2(Math.max(T, 2))) : 0);
      return proj + 2 * K * din + scan;
    }
    case 'mamba2': {
      const { dInner: din, dState: N, nGroups: G, dConv: K } = m;
      const hm = din / m.headDim;
      const C = Math.min(m.chunk, T);
      const proj = 2 * d * (2 * din + 2 * G * N + hm) + 2 * din * d + 2 * K * (din + 2 * G * N);
      return proj + 2 * C * N * G + C * hm + 2 * C * din + 4 * N * din;
    }
  }
}

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

/** Decode-state floats of one mixer per sequence after t tokens (models.md 9). */
export function mixerStateFloats(m: MixerSpec, t: number): number {
  switch (m.kind) {
    case 'attn':
      return 2 * t * m.heads * m.dh;
    case 'swa':
      return 2 * Math.min(t, m.window) * m.heads * m.dh;
    case 'retnet':
    case 'selret':
      return (m.dqk * m.dvt) / m.heads + (m.retScale === 'decaySqrt' ? m.heads : 0);
    case 'mamba':
      return m.dInner * m.dState + m.dInner * m.dConv;
    case 'mamba2':
      return m.dInner * m.dState + (m.dInner + 2 * m.nGroups * m.dState) * m.dConv;
  }
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
