/**
 * Zamba's shared attention block (docs/models.md 6.2): ONE pre-norm block (attention + FFN) at width 2d,
 * applied at several depths. Insertion k reads g = concat(h, h_emb) [.., 2d], runs the shared
 * block (residual form at width 2d) and adds g @ W_k to the residual stream, W_k a per-insertion
 * Linear 2d -> d without bias. Each insertion keeps its own KV cache (its own decode state).
 */
import * as tf from '@tensorflow/tfjs';
import { normal } from '../init.ts';
import type { Block } from '../shell.ts';
import { linear, type MixerState } from './common.ts';
import type { ParamScope } from '../init.ts';

export class SharedInsertion {
  readonly proj: tf.Variable;

  constructor(
    readonly block: Block,
    params: ParamScope,
    d: number,
    nLayers: number,
  ) {
    // A residual output projection: nanoGPT's N(0, 0.02 / sqrt(2 nL)) (docs/models.md 6.2 leaves it open).
    this.proj = params.create('w_proj', [2 * d, d], normal(0.02 / Math.sqrt(2 * nLayers)));
  }

  forward(h: tf.Tensor3D, emb: tf.Tensor3D): { h: tf.Tensor3D } {
    const g = this.block.forward(tf.concat([h, emb], 2) as tf.Tensor3D).h;
    return { h: h.add(linear(g, this.proj)) as tf.Tensor3D };
  }

  prefill(h: tf.Tensor3D, emb: tf.Tensor3D): { h: tf.Tensor3D; state: MixerState } {
    const r = this.block.prefill(tf.concat([h, emb], 2) as tf.Tensor3D);
    return { h: h.add(linear(r.h, this.proj)) as tf.Tensor3D, state: r.state };
  }

  step(h: tf.Tensor2D, emb: tf.Tensor2D, state: MixerState, pos: number): { h: tf.Tensor2D; state: MixerState } {
    const r = this.block.step(tf.concat([h, emb], 1) as tf.Tensor2D, state, pos);
    return { h: h.add(linear(r.h, this.proj)) as tf.Tensor2D, state: r.state };
  }

  emptyState(batch: number): MixerState {
    return this.block.emptyState(batch);
  }
}
