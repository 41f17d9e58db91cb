/**
 * The fused decode step (docs/models.md 0.3): one token through a whole pre-norm block (norm,
 * mixer's recurrent form, residual, norm, FFN, residual) as one native kernel (native/decode.c),
 * where the tensor path launches ~100 tfjs kernels per layer. A mixer opts in by describing its
 * weights and state in decode.c's layout (`Mixer.fusedStep`); every other mixer, backend or build
 * takes the tensor path, which computes the same function. The kernel configuration's fused.decode
 * (SEQLAB_FUSED_DECODE=off) turns it off; the addon call is src/native/decode-step.ts.
 *
 * Layout: native/decode-layout.json (src/native/decode-layout.ts), packed by name: the block's
 * slots (h, norms, FFN, h_out), then the mixer's weights, its state tensors and (as outputs) its new
 * state tensors; a stale addon (another compiled layout) is not used.
 */
import type * as tf from '@tensorflow/tfjs';
import { blockStepFused, blockStepReady, type BlockStepAttrs } from '../native/decode-step.ts';
import type { Mixer, MixerState } from './mixers/common.ts';
import { decodeCode, packBlockSlots, packFloats, packInts, packMixerSlots, stateNames } from '../native/decode-layout.ts';

/** The parts of a pre-norm block the fused step reads (src/models/shell.ts Block). */
export interface FusableBlock {
  norm1: { w: tf.Tensor; b?: tf.Tensor; kind: 'rms' | 'layer'; eps: number };
  norm2?: { w: tf.Tensor; b?: tf.Tensor };
  ffn?: { w1: tf.Tensor; b1?: tf.Tensor; wg?: tf.Tensor; bg?: tf.Tensor; w2: tf.Tensor; b2?: tf.Tensor };
  mixer: Mixer;
}

/**
 * One decode step of `block` as one native kernel: h [B, d] -> h' [B, d] and the new mixer state
 * (fresh tensors; `state` is left as it is). Undefined when the fused step does not apply here
 * (mixer variant, backend, addon or fused.decode off): take the tensor path.
 */
export function fusedBlockStep(
  block: FusableBlock,
  h: tf.Tensor2D,
  state: MixerState,
  pos: number,
): { h: tf.Tensor2D; state: MixerState } | undefined {
  if (!blockStepReady()) return undefined;
  const m = block.mixer.fusedStep?.(state);
  if (!m) return undefined;
  const { norm1, norm2, ffn } = block;
  const blockSlots = packBlockSlots<tf.Tensor>({
    h,
    norm1W: norm1.w,
    norm1B: norm1.b,
    norm2W: norm2?.w,
    norm2B: norm2?.b,
    ffnW1: ffn?.w1,
    ffnB1: ffn?.b1,
    ffnWg: ffn?.wg,
    ffnBg: ffn?.bg,
    ffnW2: ffn?.w2,
    ffnB2: ffn?.b2,
    hOut: undefined,
  });
  // an empty tensor (a KV cache before the first token) is an absent slot
  const keys = stateNames(m.kind);
  const stateIn = packMixerSlots(m.kind, 'state', Object.fromEntries(keys.map((key) => [key, state[key]?.size ? state[key] : undefined])));
  const all = [...blockSlots, ...packMixerSlots(m.kind, 'weights', m.weights), ...stateIn];
  if (!blockStepReady(...all.filter((t): t is tf.Tensor => t !== undefined))) return undefined;
  const inputs: Record<string, tf.Tensor> = {};
  all.forEach((t, i) => t && (inputs[`s${i}`] = t));
  const outShapes = packMixerSlots(m.kind, 'state', m.state);
  const stateOut = keys.flatMap((key, j) => (outShapes[j] ? [{ slot: all.length + j, shape: outShapes[j]!, key }] : []));
  const [B, d] = h.shape;
  const f = ffn ? ffn.w1.shape[1]! : 0;
  const ffnKind = !ffn ? 'none' : ffn.wg ? 'swiglu' : 'gelu';
  const attrs: BlockStepAttrs = {
    ints: Int32Array.from([
      ...packInts('block', {
        B,
        d,
        mixer: decodeCode('mixer', m.kind),
        norm: decodeCode('norm', norm1.kind),
        ffn: decodeCode('ffn', ffnKind),
        f,
        pos,
      }),
      ...packInts(m.kind, m.ints),
    ]),
    floats: Float64Array.from([...packFloats('block', { normEps: norm1.eps }), ...packFloats(m.kind, m.floats)]),
    nSlots: all.length + keys.length,
    stateOut: stateOut.map(({ slot, shape }) => ({ slot, shape })),
  };
  const [hOut, ...st] = blockStepFused(inputs, attrs);
  const next: MixerState = {};
  stateOut.forEach((o, j) => (next[o.key] = st[j]!));
  return { h: hOut as tf.Tensor2D, state: next };
}
