/**
 * The fused decode step (docs/models.md 0.3): one token through a whole pre-norm block (norm,
 * mixer's recurrent form, residual, norm, FFN, residual) as one native kernel (native/decode.c),
 * where the tensor path launches ~100 tfjs kernels per layer. A mixer opts in by describing its
 * weights and state in decode.c's layout (`Mixer.fusedStep`); every other mixer, backend or build
 * takes the tensor path, which computes the same function. The kernel configuration's fused.decode
 * (SEQLAB_FUSED_DECODE=off) turns it off; the addon call is src/native/decode-step.ts.
 *
 * Slot layout (decode.c): 0 h, 1-2 norm1 w b, 3-4 norm2 w b, 5-10 FFN w1 b1 wg bg w2 b2, 11 h_out,
 * then the mixer's weights, its state tensors and (as outputs) its new state tensors.
 */
import * as tf from '@tensorflow/tfjs';
import { blockStepFused, blockStepReady, type BlockStepAttrs } from '../native/decode-step.ts';
import type { Mixer, MixerState } from './mixers/common.ts';

/** The parts of a pre-norm block the fused step reads (src/models/shell.ts Block). */
export interface FusableBlock {
  norm1: { w: tf.Tensor; b?: tf.Tensor; kind: 'rms' | 'layer'; eps: number };
  norm2?: { w: tf.Tensor; b?: tf.Tensor };
  ffn?: { w1: tf.Tensor; b1?: tf.Tensor; wg?: tf.Tensor; bg?: tf.Tensor; w2: tf.Tensor; b2?: tf.Tensor };
  mixer: Mixer;
}

const MIXER_CODE = { retention: 1, mamba: 2, attention: 3 } as const;
const NORM_CODE = { rms: 0, layer: 1 } as const;

/**
 * One decode step of `block` as one native kernel: h [B, d] -> h' [B, d] and the new mixer state
 * (fresh tensors; `state` is left as it is). Undefined when the fused step does not apply here
 * (mixer variant, backend, addon or fused.decode off): take the tensor path.
 */
export function fusedBlockStep(block: FusableBlock, h: tf.Tensor2D, state: MixerState, pos: number): { h: tf.Tensor2D; state: MixerState } | undefined {
  if (!blockStepReady()) return undefined;
  const m = block.mixer.fusedStep?.(state);
  if (!m) return undefined;
  const { norm1, norm2, ffn } = block;
  const weights = [norm1.w, norm1.b, norm2?.w, norm2?.b, ffn?.w1, ffn?.b1, ffn?.wg, ffn?.bg, ffn?.w2, ffn?.b2];
  // an empty tensor (a KV cache before the first token) is an absent slot
  const stateIn = m.state.map(({ key }) => (state[key]?.size ? state[key] : undefined));
  const all = [h, ...weights, undefined, ...m.weights, ...stateIn];
  if (!blockStepReady(...all.filter((t): t is tf.Tensor => t !== undefined))) return undefined;
  const inputs: Record<string, tf.Tensor> = {};
  all.forEach((t, i) => t && (inputs[`s${i}`] = t));
  const stateOut = m.state.flatMap(({ key, out }, j) => (out ? [{ slot: all.length + j, shape: out, key }] : []));
  const [B, d] = h.shape;
  const f = ffn ? ffn.w1.shape[1]! : 0;
  const ffnCode = !ffn ? 0 : ffn.wg ? 2 : 1;
  const attrs: BlockStepAttrs = {
    ints: Int32Array.from([B, d, MIXER_CODE[m.kind], NORM_CODE[norm1.kind], ffnCode, f, pos, ...m.ints]),
    floats: Float64Array.from([norm1.eps, ...m.floats]),
    nSlots: all.length + m.state.length,
    stateOut: stateOut.map(({ slot, shape }) => ({ slot, shape })),
  };
  const [hOut, ...st] = blockStepFused(inputs, attrs);
  const next: MixerState = {};
  stateOut.forEach((o, j) => (next[o.key] = st[j]!));
  return { h: hOut as tf.Tensor2D, state: next };
}
