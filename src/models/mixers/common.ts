/**
 * What every mixer implements, plus the small tensor helpers they share. A mixer maps the
 * normalized residual input u [B, T, d] to y [B, T, d] (its own output projection included).
 */
import * as tf from '@tensorflow/tfjs';
import type { MixerSpec } from '../kinds/registry.ts';
import type { ParamScope } from '../init.ts';
import type { ParallelSpec, RoutedSpec } from '../resolved.ts';
import type { DecodeMixer } from '../../native/decode-layout.ts';

/** What a mixer class is built from: one resolved kind, or a combinator of them. */
export type BuildSpec = MixerSpec | ParallelSpec | RoutedSpec;

/** A mixer's decode state: named tensors (KV cache, retention S, conv and ssm states). */
export type MixerState = Record<string, tf.Tensor>;

export interface MixerOptions {
  /** stateSkip routing (docs/models.md 6.4): 1 where the token is absorbed by this branch, else 0. [B, T] */
  keep?: tf.Tensor2D;
}

export interface StepOptions {
  keep?: tf.Tensor1D; // [B]
}

/**
 * What a mixer hands the fused decode step (src/models/fused-step.ts), every field by its name in
 * native/decode-layout.json (the layout native/decode.c is compiled with) under its kind.
 */
export interface FusedMixerStep {
  kind: DecodeMixer;
  /** the mixer's integer fields (booleans as 0 / 1) */
  ints: Record<string, number | boolean>;
  /** the mixer's float fields after the block's (runs as arrays) */
  floats: Record<string, number | ArrayLike<number>>;
  /** weight slots; undefined = absent (a bias the config leaves out) */
  weights: Record<string, tf.Tensor | undefined>;
  /** each state tensor (its MixerState key) with the shape of its successor; undefined: not in this state */
  state: Record<string, number[] | undefined>;
}

export interface Mixer {
  /** Training / evaluation path (the configured form). u [B, T, d] -> y [B, T, d]. */
  forward(u: tf.Tensor3D, opts?: MixerOptions): { y: tf.Tensor3D; aux?: tf.Scalar };
  /** Same function as forward, also returning the state after the last token. */
  prefill(u: tf.Tensor3D, opts?: MixerOptions): { y: tf.Tensor3D; state: MixerState };
  /** One token at absolute position `pos`: u [B, d] -> y [B, d] and the new state. */
  step(u: tf.Tensor2D, state: MixerState, pos: number, opts?: StepOptions): { y: tf.Tensor2D; state: MixerState };
  emptyState(batch: number): MixerState;
  /** Its decode step in the fused native block step's layout (src/models/fused-step.ts), or undefined when it has none. */
  fusedStep?(state: MixerState): FusedMixerStep | undefined;
}

/** Everything a mixer constructor needs besides its spec. */
export interface MixerContext {
  params: ParamScope; // already scoped to `layers.i.mixer.`
  d: number; // width of the residual stream this mixer reads and writes
  nLayers: number;
  seqLen: number;
  normEps: number;
  /** Residual branches per layer (1 without FFN, 2 with): Mamba's W_out rescale (4.6). */
  nRes: number;
  /** Builds a branch mixer (parallel / routed layers); injected to avoid an import cycle. */
  build: (spec: BuildSpec, ctx: MixerContext) => Mixer;
}

/** x [..., in] @ W [in, out] (+ b) as one 2-D matmul (the fast path on wasm). */
export function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const shape = x.shape;
  const inDim = shape[shape.length - 1]!;
  let y = tf.matMul(x.reshape([-1, inDim]), w as tf.Tensor2D);
  if (b) y = y.add(b);
  return y.reshape([...shape.slice(0, -1), w.shape[1]!]);
}

/** [B, T, H*m] -> [B, H, T, m] */
export function splitHeads(x: tf.Tensor, H: number): tf.Tensor4D {
  const [B, T, D] = x.shape as number[];
  return x.reshape([B, T, H, D / H]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
}

/** [B, H, T, m] -> [B, T, H*m] */
export function mergeHeads(x: tf.Tensor): tf.Tensor3D {
  const [B, H, T, m] = x.shape as number[];
  return x.transpose([0, 2, 1, 3]).reshape([B, T, H * m]) as tf.Tensor3D;
}

export function silu(x: tf.Tensor): tf.Tensor {
  return x.mul(tf.sigmoid(x));
}

// The per-head and inner norms without affine live with the shell's fused norm (src/ops/norm.ts).
export { layerNormalize, rmsNormalize } from '../../ops/norm.ts';

/** Prefix every key of a state (branch states inside parallel/routed layers). */
export function prefixState(prefix: string, s: MixerState): MixerState {
  const out: MixerState = {};
  for (const [k, v] of Object.entries(s)) out[prefix + k] = v;
  return out;
}

export function unprefixState(prefix: string, s: MixerState): MixerState {
  const out: MixerState = {};
  for (const [k, v] of Object.entries(s)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

/** RetNet multi-scale log-decays log(1 - 2^(-5-h)), h = 0..H-1 (docs/models.md 3.2). */
export function retnetLogGammas(H: number): number[] {
  return Array.from({ length: H }, (_, h) => Math.log1p(-(2 ** (-5 - h))));
}
