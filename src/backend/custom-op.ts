/**
 * customOp: tf.customGrad for ops with several outputs and named inputs (tf.customGrad allows
 * one output only). It is the engine entry tf.customGrad itself uses (runKernelFunc): the
 * forward runs untaped inside a tidy, so only what it returns and what it saves survives; in
 * the backward pass an unused output arrives as a zero gradient.
 */
import * as tf from '@tensorflow/tfjs';

type Save = (tensors: tf.Tensor[]) => void;

interface KernelFuncEngine {
  runKernelFunc(params: {
    forwardFunc: (backend: tf.KernelBackend, save: Save) => tf.Tensor | tf.Tensor[];
    backwardsFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => Record<string, () => tf.Tensor>;
    inputs: Record<string, tf.Tensor>;
  }): tf.Tensor | tf.Tensor[];
}

/**
 * outputs = forward(save); backward(dys, saved) returns the gradient of every input, by name
 * (dys[i] is the gradient of outputs[i]). Returns the outputs.
 */
export function customOp(
  inputs: Record<string, tf.Tensor>,
  forward: (save: Save) => tf.Tensor[],
  backward: (dys: tf.Tensor[], saved: tf.Tensor[]) => Record<string, tf.Tensor>,
): tf.Tensor[] {
  const engine = tf.engine() as unknown as KernelFuncEngine;
  const out = engine.runKernelFunc({
    forwardFunc: (_backend, save) => forward(save),
    backwardsFunc: (dy, saved) => {
      const g = backward(Array.isArray(dy) ? dy : [dy], saved);
      const map: Record<string, () => tf.Tensor> = {};
      for (const name of Object.keys(inputs)) {
        const t = g[name];
        if (!t) throw new Error(`customOp: backward returned no gradient for input '${name}'`);
        map[name] = () => t;
      }
      return map;
    },
    inputs,
  });
  return Array.isArray(out) ? out : [out];
}
