import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { decaySqrtNormalizer, retention } from '../src/ops/retention-forms.ts';
import { retentionChunk, retentionParallel, retentionRecurrent, retentionStep } from '../src/ops/retention.ts';
import { retentionOracle } from './oracle/retention.ts';
import { assertClose, randn, rng, t, tidyData, uniform } from './oracle/util.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const TS = [1, 5, 37, 64, 100];
const CS = [1, 4, 16, 64, 128];
const ATOL = 1e-5;
const RTOL = 1e-4;

function inputs(seed: number, B: number, H: number, T: number, dk: number, dv: number) {
  const r = rng(seed);
  const s = 1 / Math.sqrt(dk); // k scaled by dk^-1/2 as in RetNet (3.1), keeps outputs O(1)
  return {
    q: randn(B * H * T * dk, r),
    k: randn(B * H * T * dk, r, s),
    v: randn(B * H * T * dv, r),
    r,
  };
}

/** Check every form against the float64 oracle for one (a, state0) setting. */
function checkAllForms(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  a: Float64Array,
  dims: { B: number; H: number; T: number; dk: number; dv: number },
  state0?: Float64Array,
  label = '',
) {
  const { B, H, T, dk, dv } = dims;
  const ref = retentionOracle(q, k, v, a, dims, false, state0);
  tf.tidy(() => {
    const Q = t(q, [B, H, T, dk]);
    const K = t(k, [B, H, T, dk]);
    const V = t(v, [B, H, T, dv]);
    const A = t(a, [B, H, T]);
    const S0 = state0 ? (t(state0, [B, H, dk, dv]) as tf.Tensor4D) : undefined;
    const par = retentionParallel(Q, K, V, A, { initialState: S0, outputFinalState: true });
    assertClose(par.o, ref.o, ATOL, RTOL, `${label} parallel o`);
    assertClose(par.state!, ref.state, ATOL, RTOL, `${label} parallel state`);
    const rec = retentionRecurrent(Q, K, V, A, { initialState: S0, outputFinalState: true });
    assertClose(rec.o, ref.o, ATOL, RTOL, `${label} recurrent o`);
    assertClose(rec.state!, ref.state, ATOL, RTOL, `${label} recurrent state`);
    for (const form of ['parallel', 'chunk', 'recurrent'] as const) {
      const r = retention(form, Q, K, V, A, { chunk: 4, initialState: S0, outputFinalState: true });
      assertClose(r.o, ref.o, ATOL, RTOL, `${label} retention(${form}) o`);
      assertClose(r.state!, ref.state, ATOL, RTOL, `${label} retention(${form}) state`);
      expect(retention(form, Q, K, V, A, { chunk: 4, initialState: S0 }).state, 'no state unless asked').toBeUndefined();
    }
    for (const C of CS) {
      for (const statePassing of ['matrix', 'loop'] as const) {
        const ch = retentionChunk(Q, K, V, A, { chunk: C, initialState: S0, statePassing, outputFinalState: true });
        assertClose(ch.o, ref.o, ATOL, RTOL, `${label} chunk C=${C} ${statePassing} o`);
        assertClose(ch.state!, ref.state, ATOL, RTOL, `${label} chunk C=${C} ${statePassing} state`);
      }
    }
  });
}

describe('retention core (scalar decay)', () => {
  it('T1 retnet core: parallel == recurrent == chunkwise (every C) == float64 oracle', () => {
    const B = 2,
      H = 4,
      dk = 8,
      dv = 8;
    for (const T of TS) {
      const { q, k, v } = inputs(100 + T, B, H, T, dk, dv);
      const a = new Float64Array(B * H * T);
      for (let i = 0; i < a.length; i++) {
        const h = Math.floor(i / T) % H;
        a[i] = Math.fround(Math.log(1 - 2 ** (-5 - h))); // RetNet gammas (3.2)
      }
      checkAllForms(q, k, v, a, { B, H, T, dk, dv }, undefined, `T=${T}`);
    }
  });

  it('T2 selret core: input-dependent a, a = -60 spike, all-zero a, state0 (loop and matrix passing)', () => {
    const B = 2,
      H = 2,
      dk = 8,
      dv = 4;
    for (const T of [5, 37, 100]) {
      const { q, k, v, r } = inputs(200 + T, B, H, T, dk, dv);
      const dims = { B, H, T, dk, dv };
      const a = uniform(B * H * T, r, -2, 0);
      a[Math.floor(T / 2)] = -60; // one near-total forget in the middle of head 0
      checkAllForms(q, k, v, a, dims, undefined, `T=${T} gated`);
      checkAllForms(q, k, v, new Float64Array(B * H * T), dims, undefined, `T=${T} a=0`);
      const s0 = randn(B * H * dk * dv, r);
      checkAllForms(q, k, v, a, dims, s0, `T=${T} state0`);
    }
  });

  it('T10 padding: T not a multiple of C gives the oracle outputs and final state', () => {
    const B = 1,
      H = 2,
      dk = 4,
      dv = 4,
      T = 37;
    const { q, k, v, r } = inputs(7, B, H, T, dk, dv);
    const a = uniform(B * H * T, r, -1, -0.01);
    const ref = retentionOracle(q, k, v, a, { B, H, T, dk, dv });
    tf.tidy(() => {
      for (const C of [4, 5, 16, 36]) {
        const res = retentionChunk(t(q, [B, H, T, dk]), t(k, [B, H, T, dk]), t(v, [B, H, T, dv]), t(a, [B, H, T]), {
          chunk: C,
          outputFinalState: true,
        });
        expect(res.o.shape).toEqual([B, H, T, dv]);
        assertClose(res.o, ref.o, ATOL, RTOL, `C=${C} o`);
        assertClose(res.state!, ref.state, ATOL, RTOL, `C=${C} state`);
      }
    });
  });

  it('T5 known answers: retnet gamma 0.5 and selret exp(a) = [0.5, 0.25, 1, 0.5]', () => {
    tf.tidy(() => {
      const one = tf.ones([1, 1, 4, 1]);
      const retnet = tf.fill([1, 1, 4], Math.log(0.5));
      const selret = tf.tensor3d([[[0.5, 0.25, 1, 0.5].map(Math.log)]]);
      for (const C of [1, 2, 4]) {
        assertClose(retentionChunk(one, one, one, retnet, { chunk: C }).o, [1, 1.5, 1.75, 1.875], 1e-6, 0, 'retnet');
        assertClose(retentionChunk(one, one, one, selret, { chunk: C }).o, [1, 1.25, 2.25, 2.125], 1e-6, 0, 'selret');
      }
      assertClose(retentionParallel(one, one, one, retnet).o, [1, 1.5, 1.75, 1.875], 1e-6, 0, 'retnet parallel');
      assertClose(retentionRecurrent(one, one, one, selret).o, [1, 1.25, 2.25, 2.125], 1e-6, 0, 'selret recurrent');
    });
  });

  it('decode: prefill state + retentionStep continues the chunk form', () => {
    const B = 2,
      H = 2,
      dk = 4,
      dv = 4,
      T = 9,
      P = 6;
    const { q, k, v, r } = inputs(11, B, H, T, dk, dv);
    const a = uniform(B * H * T, r, -1, 0);
    const ref = retentionOracle(q, k, v, a, { B, H, T, dk, dv });
    tf.tidy(() => {
      const Q = t(q, [B, H, T, dk]),
        K = t(k, [B, H, T, dk]),
        V = t(v, [B, H, T, dv]),
        A = t(a, [B, H, T]);
      const sl = (x: tf.Tensor, s: number, n: number) =>
        x.slice(
          x.shape.map((_, i) => (i === 2 ? s : 0)),
          x.shape.map((d, i) => (i === 2 ? n : d!)),
        );
      let state = retentionChunk(sl(Q, 0, P), sl(K, 0, P), sl(V, 0, P), sl(A, 0, P), { chunk: 4, outputFinalState: true }).state!;
      const outs: tf.Tensor[] = [];
      for (let p = P; p < T; p++) {
        const sq = (x: tf.Tensor) => sl(x, p, 1).squeeze([2]);
        const st = retentionStep(sq(Q), sq(K), sq(V), sq(A), state);
        outs.push(st.o);
        state = st.state;
      }
      const refTail = tf.tensor(Float32Array.from(ref.o), [B, H, T, dv]).slice([0, 0, P, 0], [B, H, T - P, dv]);
      assertClose(tf.stack(outs, 2), refTail, ATOL, RTOL, 'decode tail');
      assertClose(state, ref.state, ATOL, RTOL, 'decode state');
    });
  });

  it('decaySqrt scale: c_t = z_t^-1/2 with z the beta-weighted decay sum (closed form for constant gamma)', () => {
    const gamma = 0.9,
      T = 10;
    tf.tidy(() => {
      const expected: number[] = [];
      for (let h = 0; h < 2; h++) for (let i = 0; i < T; i++) expected.push(1 / Math.sqrt((1 - gamma ** (i + 1)) / (1 - gamma)));
      for (const form of ['parallel', 'chunk', 'recurrent'] as const) {
        const { z, state } = decaySqrtNormalizer(form, tf.fill([1, 2, T], Math.log(gamma)), undefined, {
          chunk: 4,
          outputFinalState: true,
        });
        assertClose(tf.rsqrt(z), expected, 1e-6, 1e-5, `decaySqrt ${form}`);
        assertClose(state!, [(1 - gamma ** T) / (1 - gamma), (1 - gamma ** T) / (1 - gamma)], 1e-5, 1e-5, `z ${form}`);
      }
    });
  });

  it('T13 gradients: parallel, chunk (matrix/loop) and recurrent agree w.r.t. q, k, v, a', () => {
    const B = 1,
      H = 2,
      T = 13,
      dk = 4,
      dv = 3;
    const { q, k, v, r } = inputs(5, B, H, T, dk, dv);
    const a = uniform(B * H * T, r, -1.5, -0.01);
    const w = randn(B * H * T * dv, r); // random cotangent so every output entry matters
    const grads = (f: (Q: tf.Tensor, K: tf.Tensor, V: tf.Tensor, A: tf.Tensor) => tf.Tensor) =>
      tidyData(() =>
        tf.grads((Q: tf.Tensor, K: tf.Tensor, V: tf.Tensor, A: tf.Tensor) => tf.sum(tf.mul(f(Q, K, V, A), t(w, [B, H, T, dv]))))([
          t(q, [B, H, T, dk]),
          t(k, [B, H, T, dk]),
          t(v, [B, H, T, dv]),
          t(a, [B, H, T]),
        ]),
      );
    const gp = grads((Q, K, V, A) => retentionParallel(Q, K, V, A).o);
    const gr = grads((Q, K, V, A) => retentionRecurrent(Q, K, V, A).o);
    const gm = grads((Q, K, V, A) => retentionChunk(Q, K, V, A, { chunk: 4 }).o);
    const gl = grads((Q, K, V, A) => retentionChunk(Q, K, V, A, { chunk: 5, statePassing: 'loop' }).o);
    const names = ['q', 'k', 'v', 'a'];
    for (let i = 0; i < 4; i++) {
      assertClose(gr[i], gp[i], 0, 1e-3, `recurrent vs parallel d${names[i]}`);
      assertClose(gm[i], gp[i], 0, 1e-3, `chunk matrix vs parallel d${names[i]}`);
      assertClose(gl[i], gp[i], 0, 1e-3, `chunk loop vs parallel d${names[i]}`);
    }
    // central finite differences of the float32 chunk form (step 1e-3, tolerance 2e-2 rel)
    const loss = (qq: Float64Array, aa: Float64Array) =>
      tf.tidy(
        () =>
          tf
            .sum(
              tf.mul(
                retentionChunk(t(qq, [B, H, T, dk]), t(k, [B, H, T, dk]), t(v, [B, H, T, dv]), t(aa, [B, H, T]), { chunk: 4 }).o,
                t(w, [B, H, T, dv]),
              ),
            )
            .dataSync()[0],
      );
    const eps = 1e-3;
    const fdA: number[] = [],
      adA: number[] = [],
      fdQ: number[] = [],
      adQ: number[] = [];
    for (const i of [0, 3, 7, 12, 20, 25]) {
      const ap = a.slice(),
        am = a.slice();
      ap[i] += eps;
      am[i] -= eps;
      fdA.push((loss(q, ap) - loss(q, am)) / (2 * eps));
      adA.push(gm[3][i]);
      const qp = q.slice(),
        qm = q.slice();
      qp[i] += eps;
      qm[i] -= eps;
      fdQ.push((loss(qp, a) - loss(qm, a)) / (2 * eps));
      adQ.push(gm[0][i]);
    }
    assertClose(fdA, adA, 0, 2e-2, 'FD da');
    assertClose(fdQ, adQ, 0, 2e-2, 'FD dq');
  });

  it('chunk form leaves no tensors behind', () => {
    const before = tf.memory().numTensors;
    const x = tf.ones([1, 1, 10, 2]);
    const a = tf.fill([1, 1, 10], -0.1);
    const r = retentionChunk(x, x, x, a, { chunk: 4, outputFinalState: true });
    expect(tf.memory().numTensors).toBe(before + 4);
    const o = retentionChunk(x, x, x, a, { chunk: 4 }).o; // no state asked for: none kept
    expect(tf.memory().numTensors).toBe(before + 5);
    tf.dispose([x, a, r.o, r.state!, o]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
