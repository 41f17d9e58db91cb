import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { applyRope, ropeTables, ropeThetas } from '../src/ops/rope.ts';
import { assertClose, randn, rng, t } from './oracle/util.ts';
import { describeNative, expectClose, useEltwise, itIsa } from './models-util.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Float64 reference of the normative pair rotation (docs/models.md 1.4). */
function ropeRef(x: Float64Array, p: number, th: Float64Array): Float64Array {
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length / 2; i++) {
    const c = Math.cos(p * th[i]),
      s = Math.sin(p * th[i]);
    y[2 * i] = x[2 * i] * c - x[2 * i + 1] * s;
    y[2 * i + 1] = x[2 * i + 1] * c + x[2 * i] * s;
  }
  return y;
}

describe('RoPE', () => {
  it('thetas follow both conventions', () => {
    const st = ropeThetas(8, 'standard');
    expect(st[1]).toBeCloseTo(10000 ** (-2 / 8), 12);
    const ts = ropeThetas(8, 'torchscale');
    expect(ts[0]).toBe(1);
    expect(ts[3]).toBeCloseTo(1e-4, 12); // linspace(0, 1, 4) -> last exponent 1
    expect(ropeThetas(2, 'torchscale')[0]).toBe(1);
  });

  it('T4 RoPE: rope(q,p).rope(k,s) depends only on s - p; rope(x, 0) = x (both conventions)', () => {
    const m = 16,
      T = 12,
      r = rng(3);
    for (const freqs of ['standard', 'torchscale'] as const) {
      tf.tidy(() => {
        const q = t(randn(2 * T * m, r), [1, 2, T, m]);
        const k = t(randn(2 * T * m, r), [1, 2, T, m]);
        const dots = (start: number) => {
          const { cos, sin } = ropeTables(start, T, m, freqs);
          return tf.matMul(applyRope(q, cos, sin), applyRope(k, cos, sin), false, true); // [1, 2, T, T]
        };
        assertClose(dots(7), dots(0), 1e-5, 1e-5, `${freqs} shift by 7`);
        const { cos, sin } = ropeTables(0, 1, m, freqs);
        const x0 = q.slice([0, 0, 0, 0], [1, 2, 1, m]);
        assertClose(applyRope(x0, cos, sin), x0, 1e-7, 0, `${freqs} rope(x, 0)`);
        // matches the float64 pairwise formula at positions 5..5+T-1
        const tb = ropeTables(5, T, m, freqs);
        const got = applyRope(q, tb.cos, tb.sin).dataSync();
        const qd = Float64Array.from(q.dataSync());
        const th = ropeThetas(m, freqs);
        const want = new Float64Array(qd.length);
        for (let row = 0; row < 2 * T; row++) want.set(ropeRef(qd.subarray(row * m, row * m + m), 5 + (row % T), th), row * m);
        assertClose(got, want, 1e-5, 1e-5, `${freqs} formula`);
      });
    }
  });

  it('applyRope is differentiable (gradient = inverse rotation of the cotangent)', () => {
    tf.tidy(() => {
      const m = 4,
        { cos, sin } = ropeTables(3, 2, m, 'standard');
      const x = tf.randomNormal([1, 1, 2, m], 0, 1, 'float32', 1);
      const dy = tf.randomNormal([1, 1, 2, m], 0, 1, 'float32', 2);
      const g = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(applyRope(xx, cos, sin), dy)))(x);
      // rotation is orthogonal: <R x, dy> = <x, R^T dy>, and |grad| = |dy|
      assertClose(tf.norm(g).dataSync(), tf.norm(dy).dataSync(), 1e-5, 1e-5, 'orthogonal');
    });
  });
});

// The native rotation (native/eltwise.c rope) against the tensor form (SEQLAB_ELTWISE=off): values and
// the gradient (the rotation back), for positions from an offset, both ISAs.
describeNative('native RoPE', 'rope', () => {
  for (const isa of ['avx2', 'generic'] as const) {
    itIsa(isa, `${isa}: values and gradient equal the tensor form ([2, 3, 9, 8] from position 5, torchscale and standard)`, () => {
      for (const freqs of ['torchscale', 'standard'] as const) {
        const { cos, sin } = ropeTables(5, 9, 8, freqs);
        const x = tf.randomNormal([2, 3, 9, 8], 0, 1, 'float32', 1),
          g = tf.randomNormal([2, 3, 9, 8], 0, 1, 'float32', 2);
        const run = (mode: 'stock' | number) => {
          useEltwise(mode);
          const y = applyRope(x, cos, sin),
            [dx] = tf.grads((a: tf.Tensor) => tf.sum(applyRope(a, cos, sin).mul(g)))([x]);
          return [y, dx];
        };
        const [yt, dt] = run('stock'),
          [yn, dn] = run(2);
        expectClose(yn, yt, 1e-6, 1e-6, `${freqs} rope`);
        expectClose(dn, dt, 1e-6, 1e-6, `${freqs} rope gradient`);
        tf.dispose([cos, sin, x, g, yt, dt, yn, dn]);
      }
    });
  }
});
