/**
 * Causal softmax self-attention with RoPE (docs/models.md 2.1-2.3) and its sliding-window variant
 * `swa` (window W: keys s with t - W < s <= t). Decode keeps rotated keys and raw values
 * (KV cache [B, H, n, dh]); swa trims the cache to the last W entries after each append.
 */
import * as tf from '@tensorflow/tfjs';
import { blockedAttention } from '../../ops/attention-blocked.ts';
import { ATTN_BLOCK, BLOCKED_ABOVE } from '../kinds/attn.ts';
import { attentionFusedAvailable, causalAttentionFused } from '../../native/attention.ts';
import { causalAllowed } from '../../ops/mask.ts';
import { maskedSoftmax } from '../../ops/softmax-masked.ts';
import { applyRope, ropeTables, ropeThetas } from '../../ops/rope.ts';
import { normal, zeros } from '../init.ts';
import type { AttnSpec } from '../kinds/attn.ts';
import type { SwaSpec } from '../kinds/swa.ts';
import {
  linear,
  mergeHeads,
  splitHeads,
  type FusedMixerStep,
  type Mixer,
  type MixerContext,
  type MixerOptions,
  type MixerState,
  type StepOptions,
} from './common.ts';

export class Attention implements Mixer {
  readonly H: number;
  readonly dh: number;
  readonly window: number; // Infinity for full attention
  readonly rope: boolean;
  readonly ropeFreqs: AttnSpec['rope_freqs'];
  readonly ropeBase: number;
  private readonly wq: tf.Variable;
  private readonly wk: tf.Variable;
  private readonly wv: tf.Variable;
  private readonly wo: tf.Variable;
  private readonly bq?: tf.Variable;
  private readonly bk?: tf.Variable;
  private readonly bv?: tf.Variable;
  private readonly bo?: tf.Variable;

  constructor(spec: AttnSpec | SwaSpec, ctx: MixerContext) {
    const d = ctx.d;
    this.H = spec.heads;
    this.dh = spec.dh;
    this.window = spec.kind === 'swa' ? spec.window : Infinity;
    this.rope = spec.rope;
    this.ropeFreqs = spec.rope_freqs;
    this.ropeBase = spec.rope_base;
    const inner = this.H * this.dh;
    const p = ctx.params;
    this.wq = p.create('w_q', [d, inner], normal(0.02));
    this.wk = p.create('w_k', [d, inner], normal(0.02));
    this.wv = p.create('w_v', [d, inner], normal(0.02));
    this.wo = p.create('w_o', [inner, d], normal(0.02 / Math.sqrt(2 * ctx.nLayers)));
    if (spec.bias) {
      this.bq = p.create('b_q', [inner], zeros);
      this.bk = p.create('b_k', [inner], zeros);
      this.bv = p.create('b_v', [inner], zeros);
      this.bo = p.create('b_o', [d], zeros);
    }
  }

  /** q, k (rotated for positions start..start+T-1) and v, each [B, H, T, dh]. */
  private qkv(u: tf.Tensor3D, start: number): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
    let q = splitHeads(linear(u, this.wq, this.bq), this.H);
    let k = splitHeads(linear(u, this.wk, this.bk), this.H);
    const v = splitHeads(linear(u, this.wv, this.bv), this.H);
    if (this.rope) {
      const { cos, sin } = ropeTables(start, u.shape[1], this.dh, this.ropeFreqs, this.ropeBase);
      q = applyRope(q, cos, sin) as tf.Tensor4D;
      k = applyRope(k, cos, sin) as tf.Tensor4D;
    }
    return [q, k, v];
  }

  /** softmax((q k^T) / sqrt(dh) masked) v; allowed [.., Tq, Tk] 0/1 broadcastable to [B, H, Tq, Tk]. */
  private attend(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, allowed?: tf.Tensor, causal = false): tf.Tensor4D {
    const [B, H, Tq, dh] = q.shape;
    const Tk = k.shape[2];
    // Long sequences: query blocks with a recomputing backward, O(block * T) memory (same function).
    if (Tq > BLOCKED_ABOVE) return blockedAttention(q, k, v, allowed, { block: ATTN_BLOCK, causal });
    const S = tf.matMul(q.reshape([B * H, Tq, dh]), k.reshape([B * H, Tk, dh]), false, true).reshape([B, H, Tq, Tk]);
    // Rule N2: masked logits become NEG before the softmax's exp (exp(NEG - max) === 0).
    const P = maskedSoftmax(S, allowed, 1 / Math.sqrt(dh));
    return tf.matMul(P.reshape([B * H, Tq, Tk]), v.reshape([B * H, Tk, dh])).reshape([B, H, Tq, dh]) as tf.Tensor4D;
  }

  /** [B or 1, 1, T, T] 0/1: causal, inside the window, and (stateSkip) only absorbed keys. */
  private mask(T: number, keep?: tf.Tensor2D): tf.Tensor {
    const t = tf.range(0, T, 1, 'int32').reshape([T, 1]);
    const s = tf.range(0, T, 1, 'int32').reshape([1, T]);
    let m: tf.Tensor = causalAllowed(T);
    if (Number.isFinite(this.window)) m = tf.logicalAnd(m, tf.greater(s, t.sub(this.window)));
    let mf: tf.Tensor = m.cast('float32').reshape([1, 1, T, T]);
    if (keep) mf = mf.mul(keep.reshape([keep.shape[0], 1, 1, T]));
    return mf;
  }

  forward(u: tf.Tensor3D, opts?: MixerOptions): { y: tf.Tensor3D } {
    return { y: this.prefillInner(u, opts).y };
  }

  private prefillInner(u: tf.Tensor3D, opts?: MixerOptions): { y: tf.Tensor3D; k: tf.Tensor4D; v: tf.Tensor4D } {
    const [q, k, v] = this.qkv(u, 0);
    // The fused kernel (src/native/attention.ts) computes the same causal, windowed attention
    // without [T, T] tensors; a stateSkip key mask needs the tensor form.
    const fused = !opts?.keep && attentionFusedAvailable(q, k, v);
    const o = fused ? causalAttentionFused(q, k, v, this.window) : this.attend(q, k, v, this.mask(u.shape[1], opts?.keep), true);
    return { y: linear(mergeHeads(o), this.wo, this.bo) as tf.Tensor3D, k, v };
  }

  prefill(u: tf.Tensor3D, opts?: MixerOptions): { y: tf.Tensor3D; state: MixerState } {
    const { y, k, v } = this.prefillInner(u, opts);
    const state: MixerState = { k: this.trim(k), v: this.trim(v) };
    if (opts?.keep) state.m = this.trim(opts.keep.reshape([u.shape[0], 1, u.shape[1], 1])); // [B, 1, n, 1]
    return { y, state };
  }

  /** Sliding window: keep the last W cache entries along axis 2 (positions p-W+1..p). */
  private trim<X extends tf.Tensor>(x: X): X {
    const len = x.shape[2]!;
    if (!Number.isFinite(this.window) || len <= this.window) return x;
    return x.slice([0, 0, len - this.window], [-1, -1, this.window]) as X;
  }

  step(u: tf.Tensor2D, state: MixerState, pos: number, opts?: StepOptions): { y: tf.Tensor2D; state: MixerState } {
    const B = u.shape[0];
    const [q, k, v] = this.qkv(u.reshape([B, 1, -1]) as tf.Tensor3D, pos);
    const K = tf.concat([state.k, k], 2) as tf.Tensor4D;
    const V = tf.concat([state.v, v], 2) as tf.Tensor4D;
    const next: MixerState = { k: this.trim(K), v: this.trim(V) };
    let allowed: tf.Tensor | undefined;
    if (opts?.keep || state.m) {
      // stateSkip: a cached key mask [B, 1, n, 1]; unabsorbed tokens stay in the cache, masked out.
      const prevM = state.m ?? tf.ones([B, 1, state.k.shape[2]!, 1]);
      const mNew = opts?.keep ? opts.keep.reshape([B, 1, 1, 1]) : tf.ones([B, 1, 1, 1]);
      next.m = this.trim(tf.concat([prevM, mNew], 2));
      allowed = next.m.reshape([B, 1, 1, -1]);
    }
    const o = this.attend(q, next.k as tf.Tensor4D, next.v as tf.Tensor4D, allowed);
    const y = linear(mergeHeads(o), this.wo, this.bo).reshape([B, -1]) as tf.Tensor2D;
    return { y, state: next };
  }

  /** The fused decode step (native/decode.c); not with a stateSkip key mask in the state. */
  fusedStep(state: MixerState): FusedMixerStep | undefined {
    if (state.m) return undefined;
    const [B, H, n, dh] = state.k.shape;
    const nOut = Math.min(n + 1, this.window);
    return {
      kind: 'attention',
      ints: { H, dh, rope: this.rope, n, nOut },
      floats: { ropeTheta: this.rope ? ropeThetas(dh, this.ropeFreqs, this.ropeBase) : [] },
      weights: { wq: this.wq, wk: this.wk, wv: this.wv, wo: this.wo, bq: this.bq, bk: this.bk, bv: this.bv, bo: this.bo },
      state: { k: [B, H, nOut, dh], v: [B, H, nOut, dh] },
    };
  }

  emptyState(batch: number): MixerState {
    return { k: tf.zeros([batch, this.H, 0, this.dh]), v: tf.zeros([batch, this.H, 0, this.dh]) };
  }
}
