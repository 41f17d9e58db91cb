import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { retention } from '../src/ops/retention-forms.ts';
import { retentionKeyChunk, retentionKeyParallel, retentionKeyRecurrent, retentionKeyStep } from '../src/ops/retention-key.ts';
import { retentionOracle } from './oracle/retention.ts';
import { assertClose, randn, rng, t, uniform } from './oracle/util.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('retention core (per-key decay)', () => {
  it('T3 key decay: parallel == recurrent == chunk pairwise (== factorized when C*|aMin| <= 60) == oracle', () => {
    const B = 2,
      H = 2,
      dk = 4,
      dv = 3;
    for (const T of [1, 5, 37]) {
      const r = rng(300 + T);
      const q = randn(B * H * T * dk, r),
        k = randn(B * H * T * dk, r, 0.5),
        v = randn(B * H * T * dv, r);
      const a = uniform(B * H * T * dk, r, -1, 0); // aMin = -1
      if (T > 3) a[3 * dk + 1] = -60;
      const s0 = randn(B * H * dk * dv, r);
      const dims = { B, H, T, dk, dv };
      const ref = retentionOracle(q, k, v, a, dims, true);
      const ref0 = retentionOracle(q, k, v, a, dims, true, s0);
      tf.tidy(() => {
        const Q = t(q, [B, H, T, dk]),
          K = t(k, [B, H, T, dk]),
          V = t(v, [B, H, T, dv]),
          A = t(a, [B, H, T, dk]);
        const S0 = t(s0, [B, H, dk, dv]) as tf.Tensor4D;
        assertClose(retentionKeyParallel(Q, K, V, A).o, ref.o, 1e-5, 1e-4, `T=${T} parallel`);
        const par = retentionKeyParallel(Q, K, V, A, { initialState: S0, outputFinalState: true });
        assertClose(par.o, ref0.o, 1e-5, 1e-4, `T=${T} parallel from S0`);
        assertClose(par.state!, ref0.state, 1e-5, 1e-4, `T=${T} parallel state`);
        const rec = retentionKeyRecurrent(Q, K, V, A, { initialState: S0, outputFinalState: true });
        assertClose(rec.o, ref0.o, 1e-5, 1e-4, `T=${T} recurrent`);
        assertClose(rec.state!, ref0.state, 1e-5, 1e-4, `T=${T} recurrent state`);
        for (const form of ['parallel', 'chunk', 'recurrent'] as const) {
          const r = retention(form, Q, K, V, A, { chunk: 4, initialState: S0, outputFinalState: true }); // a [B, H, T, dk]: per key
          assertClose(r.o, ref0.o, 1e-5, 1e-4, `T=${T} retention(${form})`);
          assertClose(r.state!, ref0.state, 1e-5, 1e-4, `T=${T} retention(${form}) state`);
        }
        for (const C of [1, 4, 16, 64]) {
          const pw = retentionKeyChunk(Q, K, V, A, { chunk: C, initialState: S0, outputFinalState: true });
          assertClose(pw.o, ref0.o, 1e-5, 1e-4, `T=${T} C=${C} pairwise`);
          assertClose(pw.state!, ref0.state, 1e-5, 1e-4, `T=${T} C=${C} pairwise state`);
        }
      });
      // factorized: only with a >= aMin = -1 and C <= 60; rebuild a without the -60 spike
      const af = a.map((x) => Math.max(x, -1));
      const reff = retentionOracle(q, k, v, af, dims, true);
      tf.tidy(() => {
        for (const C of [4, 16]) {
          const f = retentionKeyChunk(t(q, [B, H, T, dk]), t(k, [B, H, T, dk]), t(v, [B, H, T, dv]), t(af, [B, H, T, dk]), {
            chunk: C,
            intraMode: 'factorized',
            aMin: -1,
            outputFinalState: true,
          });
          assertClose(f.o, reff.o, 1e-5, 1e-4, `T=${T} C=${C} factorized`);
          assertClose(f.state!, reff.state, 1e-5, 1e-4, `T=${T} C=${C} factorized state`);
        }
      });
    }
  });

  it('factorized mode refuses chunk * |aMin| > 60', () => {
    const x = tf.zeros([1, 1, 8, 2]);
    expect(() => retentionKeyChunk(x, x, x, x, { chunk: 8, intraMode: 'factorized', aMin: -10 })).toThrow(/chunk \* \|aMin\| <= 60/);
    x.dispose();
  });

  it('key step equals one recurrent step; gradients of chunk and recurrent agree', () => {
    const B = 1,
      H = 1,
      T = 6,
      dk = 2,
      dv = 2,
      r = rng(9);
    const q = randn(T * dk, r),
      k = randn(T * dk, r),
      v = randn(T * dv, r),
      a = uniform(T * dk, r, -2, 0);
    const ref = retentionOracle(q, k, v, a, { B, H, T, dk, dv }, true);
    tf.tidy(() => {
      const step = retentionKeyStep(
        t(q.subarray(0, dk), [1, 1, dk]),
        t(k.subarray(0, dk), [1, 1, dk]),
        t(v.subarray(0, dv), [1, 1, dv]),
        t(a.subarray(0, dk), [1, 1, dk]),
        tf.zeros([1, 1, dk, dv]),
      );
      assertClose(step.o, ref.o.subarray(0, dv), 1e-6, 1e-5, 'step');
      const g = (f: (A: tf.Tensor, K: tf.Tensor) => tf.Tensor) =>
        tf.grads((A: tf.Tensor, K: tf.Tensor) => tf.sum(tf.square(f(A, K))))([t(a, [B, H, T, dk]), t(k, [B, H, T, dk])]);
      const Q = t(q, [B, H, T, dk]),
        V = t(v, [B, H, T, dv]);
      const gr = g((A, K) => retentionKeyRecurrent(Q, K, V, A).o);
      const gc = g((A, K) => retentionKeyChunk(Q, K, V, A, { chunk: 4 }).o);
      const gp = g((A, K) => retentionKeyParallel(Q, K, V, A).o);
      assertClose(gc[0], gr[0], 0, 1e-3, 'da chunk');
      assertClose(gp[0], gr[0], 0, 1e-3, 'da parallel');
      assertClose(gc[1], gr[1], 0, 1e-3, 'dk chunk');
    });
  });
});
