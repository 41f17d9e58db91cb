/**
 * The delta rule (DeltaNet): parallel == chunk (every C, padded tails) == recurrent == float64
 * oracle, with and without an initial state, final states, the UT-transform inverse, gradients.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { deltaChunk, deltaParallel, deltaRecurrent, deltaRule, deltaStep, unitLowerInverse } from '../src/ops/delta.ts';
import { deltaOracle } from './oracle/delta.ts';
import { assertClose, randn, rng, t, uniform } from './oracle/util.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const ATOL = 1e-5;
const RTOL = 1e-4;

/** Unit-norm keys per row (DeltaNet L2-normalizes k, so I - beta k k^T is a contraction). */
function unitRows(x: Float64Array, dk: number): Float64Array {
  for (let r = 0; r < x.length / dk; r++) {
    let n = 0;
    for (let i = 0; i < dk; i++) n += x[r * dk + i] ** 2;
    for (let i = 0; i < dk; i++) x[r * dk + i] /= Math.sqrt(n);
  }
  return x;
}

describe('delta rule', () => {
  it('unitLowerInverse: (I - N)^{-1} of a strictly lower N, for chunk sizes 1..9', () => {
    for (const C of [1, 2, 3, 4, 5, 8, 9]) {
      tf.tidy(() => {
        const r = rng(C);
        const N = tf.mul(
          t(randn(2 * C * C, r, 0.7), [2, C, C]),
          tf.tidy(() => {
            const i = tf.range(0, C, 1, 'int32');
            return tf.greater(i.reshape([C, 1]), i.reshape([1, C])).cast('float32');
          }),
        ) as tf.Tensor3D;
        const inv = unitLowerInverse(N);
        const eye = tf.broadcastTo(tf.eye(C).expandDims(0), [2, C, C]);
        assertClose(tf.matMul(tf.sub(eye, N) as tf.Tensor3D, inv), eye, 1e-5, 0, `C=${C}`);
      });
    }
  });

  it('parallel == chunk (C = 1, 3, 4, 16; padded tails) == recurrent == float64 oracle, outputs and final states, from zero and from S0', () => {
    const B = 2,
      H = 2,
      dk = 4,
      dv = 3;
    for (const T of [1, 5, 13]) {
      const r = rng(100 + T);
      const q = randn(B * H * T * dk, r),
        k = unitRows(randn(B * H * T * dk, r), dk),
        v = randn(B * H * T * dv, r);
      const beta = uniform(B * H * T, r, 0, 1);
      const s0 = randn(B * H * dk * dv, r);
      const dims = { B, H, T, dk, dv };
      for (const init of [undefined, s0]) {
        const ref = deltaOracle(q, k, v, beta, dims, init);
        tf.tidy(() => {
          const Q = t(q, [B, H, T, dk]),
            K = t(k, [B, H, T, dk]),
            V = t(v, [B, H, T, dv]),
            Bt = t(beta, [B, H, T]);
          const initialState = init ? t(init, [B, H, dk, dv]) : undefined;
          const label = `T=${T}${init ? ' S0' : ''}`;
          for (const [name, r2] of [
            ['parallel', deltaParallel(Q, K, V, Bt, { initialState, outputFinalState: true })],
            ['recurrent', deltaRecurrent(Q, K, V, Bt, { initialState, outputFinalState: true })],
            ...[1, 3, 4, 16].map(
              (C) => [`chunk ${C}`, deltaChunk(Q, K, V, Bt, { chunk: C, initialState, outputFinalState: true })] as const,
            ),
          ] as const) {
            assertClose(r2.o, ref.o, ATOL, RTOL, `${label} ${name} o`);
            assertClose(r2.state!, ref.state, ATOL, RTOL, `${label} ${name} state`);
          }
          expect(deltaRule('chunk', Q, K, V, Bt, { chunk: 4 }).state).toBeUndefined();
        });
      }
    }
  });

  it("reductions: beta = 0 writes nothing; beta = 1 with one key replaces that key's value (S^T k = v)", () => {
    const dk = 4,
      dv = 2;
    tf.tidy(() => {
      const k = tf.tensor([1, 0, 0, 0], [1, 1, 1, dk]);
      const v1 = tf.tensor([3, -2], [1, 1, 1, dv]);
      const S0 = tf.randomNormal([1, 1, dk, dv], 0, 1, 'float32', 3);
      const none = deltaChunk(k, k, v1, tf.zeros([1, 1, 1]), { initialState: S0, outputFinalState: true });
      assertClose(none.state!, S0, 0, 0, 'beta 0');
      const full = deltaRecurrent(k, k, v1, tf.ones([1, 1, 1]), { initialState: S0, outputFinalState: true });
      assertClose(tf.matMul(k.reshape([1, dk]), full.state!.reshape([dk, dv])), [3, -2], 1e-6, 0, 'S^T k = v');
      assertClose(full.o, [3, -2], 1e-6, 0, 'o = q S with q = k');
    });
  });

  it('decode: chunk prefill state + deltaStep continues the sequence', () => {
    const B = 1,
      H = 2,
      dk = 4,
      dv = 4,
      T = 9,
      P = 5;
    const r = rng(7);
    const q = randn(B * H * T * dk, r),
      k = unitRows(randn(B * H * T * dk, r), dk),
      v = randn(B * H * T * dv, r),
      beta = uniform(B * H * T, r, 0, 1);
    const ref = deltaOracle(q, k, v, beta, { B, H, T, dk, dv });
    tf.tidy(() => {
      const Q = t(q, [B, H, T, dk]),
        K = t(k, [B, H, T, dk]),
        V = t(v, [B, H, T, dv]),
        Bt = t(beta, [B, H, T]);
      const sl = (x: tf.Tensor, s: number, n: number) =>
        x.slice(
          x.shape.map((_, i) => (i === 2 ? s : 0)),
          x.shape.map((d, i) => (i === 2 ? n : d!)),
        );
      let state = deltaChunk(sl(Q, 0, P), sl(K, 0, P), sl(V, 0, P), sl(Bt, 0, P), { chunk: 2, outputFinalState: true }).state!;
      const outs: tf.Tensor[] = [];
      for (let p = P; p < T; p++) {
        const sq = (x: tf.Tensor) => sl(x, p, 1).squeeze([2]);
        const st = deltaStep(sq(Q), sq(K), sq(V), sq(Bt), state);
        outs.push(st.o);
        state = st.state;
      }
      assertClose(
        tf.stack(outs, 2),
        tf.tensor(Float32Array.from(ref.o), [B, H, T, dv]).slice([0, 0, P, 0], [B, H, T - P, dv]),
        ATOL,
        RTOL,
        'tail',
      );
      assertClose(state, ref.state, ATOL, RTOL, 'state');
    });
  });

  it('gradients w.r.t. q, k, v, beta agree between chunk and recurrent forms', () => {
    const B = 1,
      H = 1,
      T = 7,
      dk = 3,
      dv = 2,
      r = rng(21);
    const q = randn(T * dk, r),
      k = unitRows(randn(T * dk, r), dk),
      v = randn(T * dv, r),
      beta = uniform(T, r, 0.1, 0.9),
      w = randn(T * dv, r);
    tf.tidy(() => {
      const W = t(w, [B, H, T, dv]);
      const g = (f: typeof deltaChunk, opts: { chunk?: number }) =>
        tf.grads((Q: tf.Tensor, K: tf.Tensor, V: tf.Tensor, Bt: tf.Tensor) => tf.sum(tf.mul(f(Q, K, V, Bt, opts).o, W)))([
          t(q, [B, H, T, dk]),
          t(k, [B, H, T, dk]),
          t(v, [B, H, T, dv]),
          t(beta, [B, H, T]),
        ]);
      const gr = g(deltaRecurrent, {});
      const gc = g(deltaChunk, { chunk: 3 });
      const gp = g(deltaParallel, {});
      for (let i = 0; i < 4; i++) {
        assertClose(gc[i]!, gr[i]!, 1e-5, 1e-3, `chunk grad ${i}`);
        assertClose(gp[i]!, gr[i]!, 1e-5, 1e-3, `parallel grad ${i}`);
        expect(tf.max(tf.abs(gr[i]!)).dataSync()[0], `grad ${i} non-zero`).toBeGreaterThan(1e-4);
      }
    });
  });
});
