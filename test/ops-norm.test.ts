/**
 * The fused affine norms (src/native/norm.ts, native/norm.c) against their tensor forms
 * (SEQLAB_ELTWISE=off): LayerNorm and RMSNorm values and the gradients for x, w and b, on row counts
 * that are and are not multiples of the kernel's 64-row units, with rows of very different scales,
 * both ISAs, one and two threads (dw and db must not depend on the thread count).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { expect } from 'vitest';
import { affineNorm } from '../src/ops/norm.ts';
import { describeNative, expectClose, useEltwise, itIsa } from './models-util.ts';

/** y and the gradients of sum(y * g) for x, w (and b), fused (threads 1 or 2) or tensor form. */
function run(mode: 'tensor' | 1 | 2, x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | undefined, g: tf.Tensor): Float32Array[] {
  useEltwise(mode === 'tensor' ? 'stock' : mode);
  const f = (...ts: tf.Tensor[]) => tf.sum(affineNorm(ts[0], ts[1], ts[2], 1e-5).mul(g));
  const inputs = b ? [x, w, b] : [x, w];
  const out = [affineNorm(x, w, b, 1e-5), ...tf.grads(f)(inputs)];
  const values = out.map((t) => t.dataSync() as Float32Array);
  tf.dispose(out);
  return values;
}

describeNative('fused affine norm', 'normForward', () => {
  for (const isa of ['avx2', 'generic'] as const) {
    for (const [kind, shape] of [
      ['layer', [3, 50, 24]],
      ['rms', [2, 64, 16]],
      ['layer', [1, 1, 7]],
    ] as const) {
      itIsa(isa, `${isa}: ${kind} norm of [${shape}]: values and gradients equal the tensor form, any thread count`, () => {
        const d = shape[2];
        const scale = tf.exp(tf.randomUniform([...shape.slice(0, 2), 1], -3, 3, 'float32', 7));
        const x = tf.randomNormal([...shape], 0.5, 1, 'float32', 1).mul(scale);
        const w = tf.randomNormal([d], 1, 0.3, 'float32', 2),
          b = kind === 'layer' ? tf.randomNormal([d], 0, 0.3, 'float32', 3) : undefined;
        const g = tf.randomNormal([...shape], 0, 1, 'float32', 4);
        const tensor = run('tensor', x, w, b, g),
          one = run(1, x, w, b, g),
          two = run(2, x, w, b, g);
        ['y', 'dx', 'dw', 'db']
          .slice(0, tensor.length)
          .forEach((n, i) => expectClose(tf.tensor(two[i]), tf.tensor(tensor[i]), 1e-5, 1e-5, n));
        two.forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(one[i])));
        tf.dispose([scale, x, w, g, ...(b ? [b] : [])]);
      });
    }
  }
});
