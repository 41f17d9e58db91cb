/**
 * buildModel: the TensorFlow.js language model of a resolved model spec (docs/models.md 1, 6).
 *
 * Weight naming scheme (stable; used by checkpoints). Every weight is stored [in, out] (a Linear
 * computes x @ W); norms hold `w` (and `b` for LayerNorm).
 *   embed                      token embedding [V, d] (also the head when tie_embeddings)
 *   pos                        learned absolute positions [seq_len, d] (abs_pos 'learned' only)
 *   layers.<i>.norm1.w|b       pre-mixer norm of layer i (0 = next to the embedding)
 *   layers.<i>.mixer.<p>       mixer weights:
 *       attn/swa  w_q w_k w_v w_o (+ b_q b_k b_v b_o with bias)
 *       retnet    w_q w_k w_v w_g w_o
 *       selret    retnet + w_dt b_dt A_log (decay mamba) | w_a b_a, or w_a1 w_a2 b_a (gla; per key)
 *                 + w_b b_b (write sigmoid)
 *       mamba     w_in conv_w conv_b w_x w_dt b_dt A_log D w_out (+ b_in b_out; dt_norm.w b_norm.w
 *                 c_norm.w with inner_norms)
 *       mamba2    w_in conv_w conv_b dt_bias A_log D norm.w w_out (+ b_in b_out)
 *       deltanet  w_q w_k w_v w_beta w_o
 *       parallel  branches.<b>.<p> norms.<b>.w (+ alpha | w_lam b_lam)
 *       routed    branches.<b>.<p> w_r (+ norms.<b>.w for soft routing)
 *       shared    w_proj (the per-insertion Linear 2d -> d of a zamba insertion)
 *   layers.<i>.norm2.w|b       pre-FFN norm (layers with an FFN)
 *   layers.<i>.ffn.w1 wg w2    FFN (wg for swiglu; b1 bg b2 with bias)
 *   shared.norm1 shared.mixer.* shared.norm2 shared.ffn.*   zamba's one shared block (width 2d)
 *   norm_f.w|b                 final norm
 *   head                       untied LM head [d, V] (tie_embeddings false only)
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../errors.ts';
import { ParamStore, normal, type ParamScope } from './init.ts';
import { mixerDef } from './kinds/registry.ts';
import type { BuildSpec, Mixer, MixerContext, MixerState } from './mixers/common.ts';
import { buildMixer } from './mixers/registry.ts';
import { recomputed } from './recompute.ts';
import { SharedInsertion } from './mixers/shared.ts';
import type { FfnSpec, LayerSpec, ResolvedModel } from './resolved.ts';
import { Block, Embedding, Ffn, Norm, type NormKind } from './shell.ts';
import type { DecodeState, ForwardOptions, ForwardResult, LanguageModel } from './types.ts';

type Layer = { kind: 'block'; block: Block } | { kind: 'shared'; ins: SharedInsertion };

class Model implements LanguageModel {
  readonly weights: Map<string, tf.Variable>;
  private readonly embed: Embedding;
  private readonly pos?: tf.Variable;
  private readonly layers: Layer[];
  private readonly normF: Norm;
  private readonly head?: tf.Variable;
  private readonly d: number;

  constructor(
    readonly config: ResolvedModel,
    readonly seed: number,
  ) {
    const cfg = config;
    const store = new ParamStore(seed);
    const root = store.scope('');
    const d = (this.d = cfg.d_model);
    const nL = cfg.n_layers;
    const norm = (p: ParamScope, width: number) => new Norm(p, width, cfg.norm as NormKind, cfg.norm_eps);
    this.embed = new Embedding(root, 'embed', cfg.vocab_size, d);
    if (cfg.abs_pos === 'learned') this.pos = root.create('pos', [cfg.seq_len, d], normal(0.02));

    const makeBlock = (p: ParamScope, width: number, mixerSpec: BuildSpec, ffn: FfnSpec | null): Block => {
      const nRes = ffn ? 2 : 1;
      const ctx: MixerContext = {
        params: p.scope('mixer.'),
        d: width,
        nLayers: nL,
        seqLen: cfg.seq_len,
        normEps: cfg.norm_eps,
        nRes,
        build: buildMixer,
      };
      const n1 = norm(p.scope('norm1.'), width);
      const mixer: Mixer = buildMixer(mixerSpec, ctx);
      if (!ffn) return new Block(n1, mixer);
      // Mamba-style stacks rescale the FFN's output projection like W_out (docs/models.md 4.6).
      const ssm = mixerSpec.kind !== 'parallel' && mixerSpec.kind !== 'routed' && mixerDef(mixerSpec.kind).ssmInit;
      const ffnMod = new Ffn(p.scope('ffn.'), width, ffn, nL, ssm ? 1 / Math.sqrt(nRes * nL) : 1);
      return new Block(n1, mixer, norm(p.scope('norm2.'), width), ffnMod);
    };

    let shared: Block | undefined;
    this.layers = cfg.layers.map((L, i) => {
      const p = root.scope(`layers.${i}.`);
      const m = L.mixer;
      if (m.kind === 'shared') {
        if (!cfg.shared) throw new Error('model config has a shared-block marker but no `shared` block');
        shared ??= makeBlock(root.scope('shared.'), 2 * d, blockMixer(cfg.shared), cfg.shared.ffn);
        return { kind: 'shared', ins: new SharedInsertion(shared, p.scope('mixer.'), d, nL) };
      }
      return { kind: 'block', block: makeBlock(p, d, m, L.ffn) };
    });
    this.normF = norm(root.scope('norm_f.'), d);
    if (!cfg.tie_embeddings) this.head = root.create('head', [d, cfg.vocab_size], normal(d ** -0.5));
    this.weights = store.weights;
  }

  /** Token (+ position) embedding. ids [B, T] -> [B, T, d], or [B] -> [B, d] at position `start`. */
  private embedTokens(ids: tf.Tensor, start: number): tf.Tensor {
    let h = this.embed.apply(ids);
    if (this.pos) {
      const T = ids.rank === 2 ? ids.shape[1]! : 1;
      if (start + T > this.config.seq_len)
        throw new UserError(`position ${start + T - 1} is beyond the learned position table (seq_len ${this.config.seq_len})`);
      const p = this.pos.slice([start, 0], [T, this.d]);
      h = h.add(ids.rank === 2 ? p : p.reshape([this.d]));
    }
    return h;
  }

  /** Norm_f(h) @ Emb^T (tied) or @ head. h [..., d] -> [..., V]. */
  private logits(h: tf.Tensor): tf.Tensor {
    const x = this.normF.apply(h);
    const lead = x.shape.slice(0, -1);
    const flat = x.reshape([-1, this.d]) as tf.Tensor2D;
    // Explicit transpose: stock wasm's transposed 2-D matMul is ~10x slower than transpose + matMul.
    const out = tf.matMul(flat, this.head ?? tf.transpose(this.embed.table));
    return out.reshape([...lead, this.config.vocab_size]);
  }

  /** The weights layer i reads (its own `layers.<i>.` ones, plus `shared.` for a shared insertion). */
  private layerWeights(i: number): tf.Variable[] {
    const own = `layers.${i}.`;
    const shared = this.layers[i].kind === 'shared';
    return [...this.weights].filter(([n]) => n.startsWith(own) || (shared && n.startsWith('shared.'))).map(([, v]) => v);
  }

  forward(tokens: tf.Tensor2D, opts?: ForwardOptions): ForwardResult {
    return tf.tidy(() => {
      let h = this.embedTokens(tokens, 0) as tf.Tensor3D;
      const emb = h;
      const aux: tf.Scalar[] = [];
      this.layers.forEach((L, i) => {
        // one block's outputs: [h] or [h, aux]
        const run = (x: tf.Tensor, e: tf.Tensor): tf.Tensor[] => {
          if (L.kind === 'shared') return [L.ins.forward(x as tf.Tensor3D, e as tf.Tensor3D).h];
          const r = L.block.forward(x as tf.Tensor3D);
          return r.aux ? [r.h, r.aux] : [r.h];
        };
        // activation checkpointing (train.checkpoint_activations): recompute the block in the backward pass
        const outs = opts?.checkpointActivations ? recomputed(run, [h, emb], this.layerWeights(i)) : run(h, emb);
        h = outs[0] as tf.Tensor3D;
        if (outs[1]) aux.push(outs[1] as tf.Scalar);
      });
      const logits = this.logits(h) as tf.Tensor3D;
      return aux.length ? { logits, auxLoss: tf.addN(aux) as tf.Scalar } : { logits };
    }) as ForwardResult;
  }

  prefill(tokens: tf.Tensor2D): { logits: tf.Tensor3D; state: DecodeState } {
    const T = tokens.shape[1];
    const r = tf.tidy(() => {
      let h = this.embedTokens(tokens, 0) as tf.Tensor3D;
      const emb = h;
      const layers: MixerState[] = [];
      for (const L of this.layers) {
        const s = L.kind === 'shared' ? L.ins.prefill(h, emb) : L.block.prefill(h);
        h = s.h;
        layers.push(s.state);
      }
      return { logits: this.logits(h) as tf.Tensor3D, layers };
    }) as unknown as { logits: tf.Tensor3D; layers: MixerState[] };
    return { logits: r.logits, state: { position: T, layers: r.layers } };
  }

  step(token: tf.Tensor1D, state: DecodeState): { logits: tf.Tensor2D; state: DecodeState } {
    const pos = state.position;
    const r = tf.tidy(() => {
      let h = this.embedTokens(token, pos) as tf.Tensor2D;
      const emb = h;
      const layers: MixerState[] = [];
      this.layers.forEach((L, i) => {
        const s = L.kind === 'shared' ? L.ins.step(h, emb, state.layers[i], pos) : L.block.step(h, state.layers[i], pos);
        h = s.h;
        layers.push(s.state);
      });
      return { logits: this.logits(h) as tf.Tensor2D, layers };
    }) as unknown as { logits: tf.Tensor2D; layers: MixerState[] };
    return { logits: r.logits, state: { position: pos + 1, layers: r.layers } };
  }

  emptyState(batch: number): DecodeState {
    const layers = tf.tidy(() =>
      this.layers.map((L) => (L.kind === 'shared' ? L.ins.emptyState(batch) : L.block.emptyState(batch))),
    ) as unknown as MixerState[];
    return { position: 0, layers };
  }

  disposeState(state: DecodeState): void {
    for (const l of state.layers) for (const t of Object.values(l)) t.dispose();
  }

  stateBytes(state: DecodeState): number {
    let n = 0;
    for (const l of state.layers) for (const t of Object.values(l)) n += t.size * 4;
    return n;
  }

  dispose(): void {
    for (const v of this.weights.values()) v.dispose();
  }
}

/** The shared block's mixer (a block is never itself a shared marker). */
function blockMixer(l: LayerSpec): BuildSpec {
  if (l.mixer.kind === 'shared') throw new Error('the shared block cannot itself be a shared-block marker');
  return l.mixer;
}

/** Build the model of a resolved spec; weights are drawn deterministically from `seed`. */
export function buildModel(cfg: ResolvedModel, seed: number): LanguageModel & { readonly config: ResolvedModel; readonly seed: number } {
  return new Model(cfg, seed);
}
