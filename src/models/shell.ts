/**
 * The model shell (docs/models.md 1.1-1.3): embedding, norms, FFNs, head. Mixers live in ./mixers.
 */
import type * as tf from '@tensorflow/tfjs';
import { embeddingLookup } from '../backend/compat.ts';
import { gelu } from '../ops/gelu.ts';
import { normal, ones, scaled, torchLinear, zeros, type ParamScope } from './init.ts';
import { fusedBlockStep } from './fused-step.ts';
import type { FfnSpec } from './resolved.ts';
import { linear, silu, type Mixer, type MixerState } from './mixers/common.ts';
import { affineNorm } from '../ops/norm.ts';

export type NormKind = 'rms' | 'layer';

/** RMSNorm (w init 1) or LayerNorm (w 1, bias 0) over the last axis. Names `<scope>w`, `<scope>b`. */
export class Norm {
  readonly w: tf.Variable;
  readonly b?: tf.Variable;
  constructor(
    params: ParamScope,
    dim: number,
    readonly kind: NormKind,
    readonly eps: number,
  ) {
    this.w = params.create('w', [dim], ones);
    if (kind === 'layer') this.b = params.create('b', [dim], zeros);
  }
  apply(x: tf.Tensor): tf.Tensor {
    return affineNorm(x, this.w, this.kind === 'layer' ? this.b : undefined, this.eps);
  }
}

/**
 * gelu: GELU(x W1) W2 (nanoGPT init, W2 rescaled by 1/sqrt(2 nL));
 * swiglu: (silu(x W1) * (x Wg)) W2 (PyTorch Linear default init; W2 additionally divided by
 * sqrt(nRes nL) in Mamba-style stacks, docs/models.md 4.6, passed in as `w2Rescale`).
 */
export class Ffn {
  readonly w1: tf.Variable;
  readonly wg?: tf.Variable;
  readonly w2: tf.Variable;
  readonly b1?: tf.Variable;
  readonly bg?: tf.Variable;
  readonly b2?: tf.Variable;
  constructor(params: ParamScope, d: number, spec: FfnSpec, nLayers: number, w2Rescale = 1) {
    const f = spec.hidden;
    if (spec.kind === 'gelu') {
      this.w1 = params.create('w1', [d, f], normal(0.02));
      this.w2 = params.create('w2', [f, d], normal(0.02 / Math.sqrt(2 * nLayers)));
    } else {
      this.w1 = params.create('w1', [d, f], torchLinear);
      this.wg = params.create('wg', [d, f], torchLinear);
      this.w2 = params.create('w2', [f, d], scaled(torchLinear, w2Rescale));
    }
    if (spec.bias) {
      this.b1 = params.create('b1', [f], zeros);
      if (this.wg) this.bg = params.create('bg', [f], zeros);
      this.b2 = params.create('b2', [d], zeros);
    }
  }
  apply(x: tf.Tensor): tf.Tensor {
    if (!this.wg) return linear(gelu(linear(x, this.w1, this.b1)), this.w2, this.b2);
    return linear(silu(linear(x, this.w1, this.b1)).mul(linear(x, this.wg, this.bg)), this.w2, this.b2);
  }
}

/** Token embedding [V, d] (N(0, 0.02)), gathered through the wasm-safe compat lookup. */
export class Embedding {
  readonly table: tf.Variable;
  constructor(params: ParamScope, name: string, V: number, d: number) {
    this.table = params.create(name, [V, d], normal(0.02));
  }
  apply(ids: tf.Tensor): tf.Tensor {
    return embeddingLookup(this.table, ids);
  }
}

/**
 * Pre-norm residual block (1.1): h <- h + Mixer(Norm1(h)); if FFN: h <- h + FFN(Norm2(h)).
 * Works on [B, T, d] (forward, prefill) and on one token [B, d] (step).
 */
export class Block {
  constructor(
    readonly norm1: Norm,
    readonly mixer: Mixer,
    readonly norm2?: Norm,
    readonly ffn?: Ffn,
  ) {}

  private addFfn(h: tf.Tensor): tf.Tensor {
    return this.ffn ? h.add(this.ffn.apply(this.norm2!.apply(h))) : h;
  }

  forward(h: tf.Tensor3D): { h: tf.Tensor3D; aux?: tf.Scalar } {
    const r = this.mixer.forward(this.norm1.apply(h) as tf.Tensor3D);
    return { h: this.addFfn(h.add(r.y)) as tf.Tensor3D, aux: r.aux };
  }

  prefill(h: tf.Tensor3D): { h: tf.Tensor3D; state: MixerState } {
    const r = this.mixer.prefill(this.norm1.apply(h) as tf.Tensor3D);
    return { h: this.addFfn(h.add(r.y)) as tf.Tensor3D, state: r.state };
  }

  step(h: tf.Tensor2D, state: MixerState, pos: number): { h: tf.Tensor2D; state: MixerState } {
    const fused = fusedBlockStep(this, h, state, pos);
    if (fused) return fused;
    const r = this.mixer.step(this.norm1.apply(h) as tf.Tensor2D, state, pos);
    return { h: this.addFfn(h.add(r.y)) as tf.Tensor2D, state: r.state };
  }

  emptyState(batch: number): MixerState {
    return this.mixer.emptyState(batch);
  }
}
