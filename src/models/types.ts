/**
 * The one model interface the rest of seqlab uses (training, evaluation, benchmarks, generate).
 * Implemented by src/models/model.ts (buildModel). Shapes in comments; tokens are int32.
 */
import type * as tf from '@tensorflow/tfjs';

/** Opaque per-layer decode state (KV cache, retention matrices, conv + ssm states). */
export interface DecodeState {
  /** Number of tokens absorbed so far (the next token's absolute position). */
  position: number;
  /** Per-layer tensors; owned by the state (dispose with model.disposeState). */
  layers: Record<string, tf.Tensor>[];
}

export interface ForwardResult {
  logits: tf.Tensor3D; // [B, T, V]
  /** Auxiliary loss to add to the LM loss (routed layers' load balancing); absent when none. */
  auxLoss?: tf.Scalar;
}

export interface ForwardOptions {
  /** Recompute each block's forward in the backward pass instead of keeping its activations. */
  checkpointActivations?: boolean;
}

export interface LanguageModel {
  /** The resolved model config (explicit layer list), as stored in checkpoints. */
  readonly config: unknown;
  /** Trainable weights by stable hierarchical name, e.g. `layers.3.mixer.w_q`; stored [in, out]. */
  readonly weights: Map<string, import('@tensorflow/tfjs').Variable>;
  /** Training / evaluation path (chunkwise or parallel forms, per the config's `form`). */
  forward(tokens: tf.Tensor2D, opts?: ForwardOptions): ForwardResult; // tokens [B, T]
  /** Forward over a prompt that also returns the decode state after its last token. */
  prefill(tokens: tf.Tensor2D): { logits: tf.Tensor3D; state: DecodeState };
  /** One decode step from `state`; returns a NEW state (the old one is not disposed). */
  step(token: tf.Tensor1D, state: DecodeState): { logits: tf.Tensor2D; state: DecodeState }; // [B] -> [B, V]
  /** An empty state for batch size B (decode from scratch). */
  emptyState(batch: number): DecodeState;
  disposeState(state: DecodeState): void;
  /** Bytes held by a decode state (per the whole batch). */
  stateBytes(state: DecodeState): number;
  dispose(): void;
}
