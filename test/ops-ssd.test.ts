import { beforeAll, describe, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { ssdChunk, ssdRecurrent, ssdStep } from '../src/ops/ssd.ts';
import { retentionChunk } from '../src/ops/retention.ts';
import { ssdOracle } from './oracle/scan.ts';
import { assertClose, randn, rng, t, tidyData, uniform } from './oracle/util.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('Mamba-2 SSD core', () => {
  it('T8 mamba2: SD-CHUNK == sequential recurrence == float64 oracle (G = 1 and G = 2, state0)', () => {
    const B = 2,
      Hm = 4,
      P = 3,
      N = 5;
    for (const G of [1, 2]) {
      for (const T of [1, 5, 37]) {
        const r = rng(800 + 10 * G + T);
        const x = randn(B * T * Hm * P, r),
          dt = uniform(B * T * Hm, r, 0.001, 2),
          A = uniform(Hm, r, -16, -1);
        const Bm = randn(B * T * G * N, r),
          Cm = randn(B * T * G * N, r),
          s0 = randn(B * Hm * N * P, r);
        const dims = { B, T, Hm, P, G, N };
        const ref = ssdOracle(x, dt, A, Bm, Cm, dims, s0);
        tf.tidy(() => {
          const args = [t(x, [B, T, Hm, P]), t(dt, [B, T, Hm]), t(A, [Hm]), t(Bm, [B, T, G, N]), t(Cm, [B, T, G, N])] as const;
          const S0 = t(s0, [B, Hm, N, P]) as tf.Tensor4D;
          const rec = ssdRecurrent(...args, S0);
          assertClose(rec.y, ref.y, 1e-5, 1e-4, `G=${G} T=${T} recurrent`);
          assertClose(rec.state, ref.state, 1e-5, 1e-4, `G=${G} T=${T} recurrent state`);
          for (const C of [1, 4, 16, 64]) {
            const ch = ssdChunk(...args, { chunk: C, state0: S0 });
            assertClose(ch.y, ref.y, 1e-5, 1e-4, `G=${G} T=${T} C=${C} chunk`);
            assertClose(ch.state, ref.state, 1e-5, 1e-4, `G=${G} T=${T} C=${C} chunk state`);
          }
        });
      }
    }
  });

  it('T9 (core) reduction: SSD == scalar-decay retention with q = C, k = dt*B, v = x, a = dt*A', () => {
    const B = 1,
      T = 9,
      Hm = 2,
      P = 3,
      N = 4,
      r = rng(9);
    const x = randn(B * T * Hm * P, r),
      dt = uniform(B * T * Hm, r, 0.01, 1),
      A = uniform(Hm, r, -4, -1);
    const Bm = randn(B * T * N, r),
      Cm = randn(B * T * N, r);
    tf.tidy(() => {
      const X = t(x, [B, T, Hm, P]),
        DT = t(dt, [B, T, Hm]),
        AA = t(A, [Hm]),
        BB = t(Bm, [B, T, 1, N]),
        CC = t(Cm, [B, T, 1, N]);
      const ssd = ssdChunk(X, DT, AA, BB, CC, { chunk: 4 });
      const dth = DT.transpose([0, 2, 1]); // [B, Hm, T]
      const q = tf.tile(CC.reshape([B, 1, T, N]), [1, Hm, 1, 1]);
      const k = tf.mul(tf.tile(BB.reshape([B, 1, T, N]), [1, Hm, 1, 1]), dth.expandDims(3));
      const ret = retentionChunk(q, k, X.transpose([0, 2, 1, 3]), tf.mul(dth, AA.reshape([1, Hm, 1])), {
        chunk: 3,
        outputFinalState: true,
      });
      assertClose(ssd.y.transpose([0, 2, 1, 3]), ret.o, 1e-6, 1e-5, 'y');
      assertClose(ssd.state, ret.state!, 1e-6, 1e-5, 'state');
    });
  });

  it('T13 SSD gradients: chunk == recurrent w.r.t. x, dt, A, B, C', () => {
    const B = 1,
      T = 7,
      Hm = 2,
      P = 2,
      N = 3,
      r = rng(31);
    const x = randn(B * T * Hm * P, r),
      dt = uniform(B * T * Hm, r, 0.01, 1),
      A = uniform(Hm, r, -3, -1);
    const Bm = randn(B * T * N, r),
      Cm = randn(B * T * N, r);
    type Core = (x0: tf.Tensor, d0: tf.Tensor, a0: tf.Tensor, b0: tf.Tensor, c0: tf.Tensor) => { y: tf.Tensor };
    const grads = (f: Core) =>
      tidyData(() =>
        tf.grads((x0: tf.Tensor, d0: tf.Tensor, a0: tf.Tensor, b0: tf.Tensor, c0: tf.Tensor) => tf.sum(tf.square(f(x0, d0, a0, b0, c0).y)))(
          [t(x, [B, T, Hm, P]), t(dt, [B, T, Hm]), t(A, [Hm]), t(Bm, [B, T, 1, N]), t(Cm, [B, T, 1, N])],
        ),
      );
    const gr = grads((x0, d0, a0, b0, c0) => ssdRecurrent(x0, d0, a0, b0, c0));
    const gc = grads((x0, d0, a0, b0, c0) => ssdChunk(x0, d0, a0, b0, c0, { chunk: 3 }));
    for (let i = 0; i < gr.length; i++) assertClose(gc[i], gr[i], 0, 1e-3, `grad ${i}`);
  });

  it('ssdStep continues a chunked prefill', () => {
    const B = 1,
      T = 6,
      Hm = 2,
      P = 2,
      N = 3,
      G = 1,
      r = rng(41);
    const x = randn(B * T * Hm * P, r),
      dt = uniform(B * T * Hm, r, 0.01, 1),
      A = uniform(Hm, r, -3, -1);
    const Bm = randn(B * T * N, r),
      Cm = randn(B * T * N, r);
    const ref = ssdOracle(x, dt, A, Bm, Cm, { B, T, Hm, P, G, N });
    tf.tidy(() => {
      const X = t(x, [B, T, Hm, P]),
        DT = t(dt, [B, T, Hm]),
        AA = t(A, [Hm]),
        BB = t(Bm, [B, T, 1, N]),
        CC = t(Cm, [B, T, 1, N]);
      const sl = (u: tf.Tensor, a: number, n: number) =>
        u.slice(
          u.shape.map((_, i) => (i === 1 ? a : 0)),
          u.shape.map((d, i) => (i === 1 ? n : d!)),
        );
      let { state } = ssdChunk(sl(X, 0, 4), sl(DT, 0, 4), AA, sl(BB, 0, 4), sl(CC, 0, 4), { chunk: 3 });
      const ys: tf.Tensor[] = [];
      for (let p = 4; p < T; p++) {
        const st = ssdStep(
          sl(X, p, 1).squeeze([1]),
          sl(DT, p, 1).squeeze([1]),
          AA,
          sl(BB, p, 1).squeeze([1]),
          sl(CC, p, 1).squeeze([1]),
          state,
        );
        ys.push(st.y);
        state = st.state;
      }
      assertClose(tf.stack(ys, 1), ref.y.subarray(4 * Hm * P), 1e-5, 1e-4, 'y');
      assertClose(state, ref.state, 1e-5, 1e-4, 'state');
    });
  });
});
