/**
 * The fused GELU (src/native/gelu.ts, native/eltwise.c U_GELU / B_GELU_GRAD) against its tensor form
 * (SEQLAB_ELTWISE=off): values and gradients on the FFN's shapes and on special values, both ISAs.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { expect } from 'vitest';
import { gelu } from '../src/ops/gelu.ts';
import { describeNative, expectClose, useEltwise, itIsa } from './models-util.ts';

/** GELU and its gradient (times g) with the native kernels (fused) or without (tensor form). */
function run(fused: boolean, x: tf.Tensor, g: tf.Tensor): Float32Array[] {
  useEltwise(fused ? 2 : 'stock');
  const y = gelu(x),
    [dx] = tf.grads((a: tf.Tensor) => tf.sum(gelu(a).mul(g)))([x]);
  const out = [y.dataSync() as Float32Array, dx.dataSync() as Float32Array];
  tf.dispose([y, dx]);
  return out;
}

describeNative('fused GELU', 'unary', () => {
  for (const isa of ['avx2', 'generic'] as const) {
    itIsa(isa, `${isa}: values and gradients equal the tensor form ([2, 33, 20], N(0, 3) plus 0, +-1e-3, +-5, +-30)`, () => {
      const x = tf
        .concat([tf.randomNormal([2 * 33 * 20 - 8], 0, 3, 'float32', 1), tf.tensor([0, 1e-3, -1e-3, 5, -5, 30, -30, 0.5])])
        .reshape([2, 33, 20]);
      const g = tf.randomNormal([2, 33, 20], 0, 1, 'float32', 2);
      const [yf, df] = run(true, x, g),
        [yt, dt] = run(false, x, g);
      expectClose(tf.tensor(yf), tf.tensor(yt), 1e-6, 1e-6, 'gelu');
      expectClose(tf.tensor(df), tf.tensor(dt), 1e-5, 1e-5, 'gelu grad');
      expect(Array.from(yf.slice(-8, -1)).map((v) => Math.round(v * 1e4) / 1e4)).toEqual([0, 0.0005, -0.0005, 5, -0, 30, -0]);
      tf.dispose([x, g]);
    });
  }
});
