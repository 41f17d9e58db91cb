/**
 * The fused causal attention op (src/native/attention.ts, native/attention.c) against the tensor
 * form (scores, masked softmax, product) on shapes that cross its block edges: output and the
 * gradients for q, k and v, with and without a sliding window, head widths with and without a
 * specialised body, both ISAs; the model's attention takes it exactly when it should.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { expect, it } from 'vitest';
import { attentionFusedAvailable, causalAttentionFused } from '../src/native/attention.ts';
import { maskedSoftmax } from '../src/ops/softmax-masked.ts';
import { describeNative, expectClose, withKernelEnv, itIsa } from './models-util.ts';

/** The tensor form: softmax(q k^T / sqrt(dh), causal and windowed) v. */
function reference(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, window: number): tf.Tensor {
  const [, , T, dh] = q.shape;
  const t = tf.range(0, T, 1, 'int32').reshape([T, 1]),
    s = tf.range(0, T, 1, 'int32').reshape([1, T]);
  let m = tf.lessEqual(s, t);
  if (Number.isFinite(window)) m = tf.logicalAnd(m, tf.greater(s, t.sub(window)));
  const P = maskedSoftmax(tf.matMul(q, k, false, true), m.cast('float32').reshape([1, 1, T, T]), 1 / Math.sqrt(dh!));
  return tf.matMul(P, v);
}

describeNative('fused causal attention', 'attentionForward', () => {
  const SHAPES: [number, number, number, number, number][] = [
    [2, 2, 70, 8, Infinity], // a short last block, a head width without a specialised body
    [1, 3, 130, 16, 5], // a window far shorter than a block
    [2, 1, 129, 32, 80], // a window crossing block edges
    [1, 2, 64, 64, Infinity], // exactly one block
    [1, 1, 1, 4, Infinity], // one token
  ];
  for (const isa of ['avx2', 'generic'] as const) {
    for (const [B, H, T, dh, W] of SHAPES) {
      itIsa(isa, `${isa}: [${B}, ${H}, ${T}, ${dh}] window ${W}: output and gradients equal the tensor form`, () => {
        const q = tf.randomNormal([B, H, T, dh], 0, 1, 'float32', 1),
          k = tf.randomNormal([B, H, T, dh], 0, 1, 'float32', 2);
        const v = tf.randomNormal([B, H, T, dh], 0, 1, 'float32', 3),
          g = tf.randomNormal([B, H, T, dh], 0, 1, 'float32', 4);
        expect(attentionFusedAvailable(q, k, v)).toBe(true);
        const loss = (f: (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.Tensor) => (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          tf.sum(f(a, b, c).mul(g));
        const fused = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          causalAttentionFused(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor4D, W);
        const ref = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => reference(a, b, c, W);
        expectClose(fused(q, k, v), ref(q, k, v), 1e-5, 1e-5, 'o');
        const gf = tf.grads(loss(fused))([q, k, v]),
          gr = tf.grads(loss(ref))([q, k, v]);
        ['dq', 'dk', 'dv'].forEach((n, i) => expectClose(gf[i], gr[i], 1e-5, 1e-5, n));
        tf.dispose([q, k, v, g, ...gf, ...gr]);
      });
    }
  }

  it('SEQLAB_FUSED_ATTENTION=off turns it off', () => {
    const q = tf.zeros([1, 1, 4, 4]);
    withKernelEnv({ SEQLAB_FUSED_ATTENTION: 'off' }, () => expect(attentionFusedAvailable(q)).toBe(false));
    expect(attentionFusedAvailable(q)).toBe(true);
    q.dispose();
  });
});
