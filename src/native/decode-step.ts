/**
 * The fused decode step's addon call (native/decode.c blockStep; docs/models.md 0.3): one token
 * through a whole pre-norm block as one kernel. src/models/fused-step.ts lays the block's tensors
 * out in decode.c's slots and takes the tensor step where this does not run.
 */
import * as tf from '@tensorflow/tfjs';
import { blockSlot, decodeLayoutNames } from './decode-layout.ts';
import { defineNativeOp, type KernelArgs } from './define-op.ts';
import { locateAll, memoryOf } from './memory.ts';

interface DecodeAddon {
  blockStep(views: (ArrayBufferView | null)[], offs: Float64Array, ints: Int32Array, floats: Float64Array): void;
  /** The layout (native/decode-layout.json) the addon was compiled with, names in table order. */
  decodeLayout(): string[];
}

const KERNEL = 'SeqlabBlockStep';
const H_OUT_SLOT = blockSlot('hOut');

export interface BlockStepAttrs {
  ints: Int32Array;
  floats: Float64Array;
  /** the number of slots (named inputs are `s<slot>`) */
  nSlots: number;
  /** slots of the outputs after h_out (the new state), with their shapes */
  stateOut: { slot: number; shape: number[] }[];
}

const op = defineNativeOp<DecodeAddon>({
  name: 'decode',
  // an addon compiled with another layout (a stale build) would read the arguments wrongly
  refuse: (native) =>
    native.decodeLayout().join() === decodeLayoutNames().join()
      ? undefined
      : 'the native addon was built with another decode layout (rebuild it: `node native/build.js`)',
  kernels: (native) => ({
    [KERNEL]: ({ inputs, attrs, backend }: KernelArgs) => {
      const a = attrs as unknown as BlockStepAttrs;
      const ins = inputs as Record<string, tf.TensorInfo>;
      const mem = memoryOf(backend as tf.KernelBackend);
      const h = ins.s0;
      const outs = [mem.alloc(h.shape), ...a.stateOut.map((o) => mem.alloc(o.shape))];
      const slots: (tf.TensorInfo | undefined)[] = Array.from({ length: a.nSlots }, (_, i) => ins[`s${i}`]);
      slots[H_OUT_SLOT] = outs[0];
      a.stateOut.forEach((o, j) => (slots[o.slot] = outs[j + 1]));
      const { views, offs } = locateAll(backend as tf.KernelBackend, slots);
      native.blockStep(views, offs, a.ints, a.floats);
      return outs;
    },
  }),
});

/** Whether the fused step may run on these tensors here (none: at all); each layer still checks its mixer. */
export function blockStepReady(...ts: tf.Tensor[]): boolean {
  return op.ready(...ts);
}

/** One block step: inputs `s<slot>` -> [h_out, ...new state] in attrs.stateOut's order; check blockStepReady first. */
export function blockStepFused(inputs: Record<string, tf.Tensor>, attrs: BlockStepAttrs): tf.Tensor[] {
  op.addon();
  return tf.engine().runKernel(KERNEL, inputs as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
}
