import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { scanStep, selectiveScan, type ScanMode } from '../src/ops/scan.ts';
import { causalConv1d, convState, convStep } from '../src/ops/conv.ts';
import { scanInputs, scanOracle } from './oracle/scan.ts';
import { allFinite, assertClose, randn, rng, t, tidyData } from './oracle/util.ts';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('Mamba-1 selective scan', () => {
  it('T7 mamba scan: sequential == chunked (every C) == logdepth == float64 oracle, with and without h0', () => {
    const B = 2,
      D = 4,
      N = 3;
    for (const T of [1, 5, 37]) {
      const s = scanInputs(700 + T, B, T, D, N);
      const dims = { B, T, D, N };
      for (const withH0 of [false, true]) {
        const ref = scanOracle(s.x, s.dt, s.A, s.Bm, s.Cm, dims, withH0 ? s.h0 : undefined);
        tf.tidy(() => {
          const args = [t(s.x, [B, T, D]), t(s.dt, [B, T, D]), t(s.A, [D, N]), t(s.Bm, [B, T, N]), t(s.Cm, [B, T, N])] as const;
          const h0 = withH0 ? (t(s.h0, [B, D, N]) as tf.Tensor3D) : undefined;
          const runs: Array<[ScanMode, number | undefined]> = [
            ['sequential', undefined],
            ['logdepth', undefined],
            ['chunked', undefined],
            ['chunked', 1],
            ['chunked', 4],
            ['chunked', 16],
            ['chunked', 64],
          ];
          for (const [mode, chunk] of runs) {
            const res = selectiveScan(...args, { mode, chunk, h0 });
            assertClose(res.y, ref.y, 1e-5, 1e-4, `T=${T} ${mode} C=${chunk} y`);
            assertClose(res.h, ref.h, 1e-5, 1e-4, `T=${T} ${mode} C=${chunk} h`);
          }
        });
      }
    }
  });

  it('T7 dt up to 20 and A down to -16 give no NaN/Inf (values and gradients)', () => {
    const B = 1,
      T = 40,
      D = 3,
      N = 4;
    const s = scanInputs(77, B, T, D, N, 20, 16);
    s.dt[5] = 20;
    s.A[0] = -16;
    const ref = scanOracle(s.x, s.dt, s.A, s.Bm, s.Cm, { B, T, D, N });
    tf.tidy(() => {
      for (const mode of ['sequential', 'chunked', 'logdepth'] as const) {
        const f = (x: tf.Tensor, dt: tf.Tensor, A: tf.Tensor) =>
          selectiveScan(x, dt, A, t(s.Bm, [B, T, N]), t(s.Cm, [B, T, N]), { mode, chunk: 8 }).y;
        const X = t(s.x, [B, T, D]),
          DT = t(s.dt, [B, T, D]),
          A = t(s.A, [D, N]);
        const y = f(X, DT, A);
        expect(allFinite(y)).toBe(true);
        assertClose(y, ref.y, 1e-5, 1e-4, mode);
        const g = tf.grads((x: tf.Tensor, dt: tf.Tensor, a: tf.Tensor) => tf.sum(f(x, dt, a)))([X, DT, A]);
        for (const gi of g) expect(allFinite(gi)).toBe(true);
      }
    });
  });

  it('T5 known answer: N=1, A=-1, dt=ln 2, B=C=1, x=1/ln 2 -> [1, 1.5, 1.75, 1.875]', () => {
    tf.tidy(() => {
      const x = tf.fill([1, 4, 1], 1 / Math.LN2),
        dt = tf.fill([1, 4, 1], Math.LN2);
      const A = tf.fill([1, 1], -1),
        one = tf.ones([1, 4, 1]);
      for (const mode of ['sequential', 'chunked', 'logdepth'] as const)
        assertClose(selectiveScan(x, dt, A, one, one, { mode, chunk: 3 }).y, [1, 1.5, 1.75, 1.875], 1e-6, 0, mode);
    });
  });

  it('T13 scan gradients: chunked and logdepth agree with sequential w.r.t. every input', () => {
    const B = 1,
      T = 11,
      D = 3,
      N = 2;
    const s = scanInputs(13, B, T, D, N);
    const w = randn(B * T * D, rng(14));
    const grads = (mode: ScanMode) =>
      tidyData(() =>
        tf.grads((x: tf.Tensor, dt: tf.Tensor, A: tf.Tensor, Bm: tf.Tensor, Cm: tf.Tensor, h0: tf.Tensor) =>
          tf.sum(tf.mul(selectiveScan(x, dt, A, Bm, Cm, { mode, chunk: 4, h0: h0 as tf.Tensor3D }).y, t(w, [B, T, D]))),
        )([t(s.x, [B, T, D]), t(s.dt, [B, T, D]), t(s.A, [D, N]), t(s.Bm, [B, T, N]), t(s.Cm, [B, T, N]), t(s.h0, [B, D, N])]),
      );
    const gs = grads('sequential'),
      gc = grads('chunked'),
      gl = grads('logdepth');
    for (let i = 0; i < gs.length; i++) {
      assertClose(gc[i], gs[i], 0, 1e-3, `chunked grad ${i}`);
      assertClose(gl[i], gs[i], 0, 1e-3, `logdepth grad ${i}`);
    }
  });

  it('scanStep continues a prefix scan (decode)', () => {
    const B = 2,
      T = 6,
      D = 3,
      N = 2;
    const s = scanInputs(21, B, T, D, N);
    const ref = scanOracle(s.x, s.dt, s.A, s.Bm, s.Cm, { B, T, D, N });
    tf.tidy(() => {
      const X = t(s.x, [B, T, D]),
        DT = t(s.dt, [B, T, D]),
        A = t(s.A, [D, N]),
        Bm = t(s.Bm, [B, T, N]),
        Cm = t(s.Cm, [B, T, N]);
      const sl = (u: tf.Tensor, a: number, n: number) => u.slice([0, a, 0], [B, n, u.shape[2]!]);
      const pre = selectiveScan(sl(X, 0, 4), sl(DT, 0, 4), A, sl(Bm, 0, 4), sl(Cm, 0, 4), { mode: 'chunked', chunk: 3 });
      let h: tf.Tensor = pre.h;
      const ys: tf.Tensor[] = [];
      for (let p = 4; p < T; p++) {
        const r = scanStep(sl(X, p, 1).squeeze([1]), sl(DT, p, 1).squeeze([1]), A, sl(Bm, p, 1).squeeze([1]), sl(Cm, p, 1).squeeze([1]), h);
        ys.push(r.y);
        h = r.h;
      }
      const want = tf.tensor(Float32Array.from(ref.y), [B, T, D]).slice([0, 4, 0], [B, 2, D]);
      assertClose(tf.stack(ys, 1), want, 1e-5, 1e-4, 'decode y');
      assertClose(h, ref.h, 1e-5, 1e-4, 'decode h');
    });
  });
});

describe('Mamba causal depthwise conv', () => {
  /** float64 reference of docs/models.md 4.1 step 2 */
  function convRef(x: Float64Array, w: Float64Array, b: Float64Array, B: number, T: number, C: number, K: number) {
    const y = new Float64Array(B * T * C);
    for (let bb = 0; bb < B; bb++)
      for (let tt = 0; tt < T; tt++)
        for (let c = 0; c < C; c++) {
          let acc = b[c];
          for (let j = 0; j < K; j++) {
            const src = tt - K + 1 + j;
            if (src >= 0) acc += w[c * K + j] * x[(bb * T + src) * C + c];
          }
          y[(bb * T + tt) * C + c] = acc;
        }
    return y;
  }

  it('causalConv1d matches the formula (tap K-1 = current token); convState + convStep continue it', () => {
    const B = 2,
      C = 3,
      K = 4,
      r = rng(5);
    for (const T of [1, 2, 9]) {
      const x = randn(B * T * C, r),
        w = randn(C * K, r),
        b = randn(C, r);
      const ref = convRef(x, w, b, B, T, C, K);
      tf.tidy(() => {
        const X = t(x, [B, T, C]),
          W = t(w, [C, K]),
          Bb = t(b, [C]);
        assertClose(causalConv1d(X, W, Bb), ref, 1e-6, 1e-5, `T=${T} conv`);
        // prefill the first P tokens, then step the rest
        const P = Math.floor(T / 2);
        let st: tf.Tensor = convState(X.slice([0, 0, 0], [B, P, C]), K);
        expect(st.shape).toEqual([B, C, K]);
        const ys: tf.Tensor[] = [];
        for (let p = P; p < T; p++) {
          const r2 = convStep(X.slice([0, p, 0], [B, 1, C]).reshape([B, C]), st, W, Bb);
          ys.push(r2.y);
          st = r2.state;
        }
        const want = tf.tensor(Float32Array.from(ref), [B, T, C]).slice([0, P, 0], [B, T - P, C]);
        assertClose(tf.stack(ys, 1), want, 1e-6, 1e-5, `T=${T} step`);
        assertClose(st, convState(X, K), 0, 0, `T=${T} state`);
      });
    }
  });

  it('causalConv1d is causal: perturbing token t0 leaves outputs before t0 bitwise unchanged', () => {
    tf.tidy(() => {
      const x = tf.randomNormal([1, 8, 2], 0, 1, 'float32', 3);
      const w = tf.randomNormal([2, 4], 0, 1, 'float32', 4);
      const x2 = tf.add(x, tf.oneHot([5], 8).reshape([1, 8, 1]).mul(3));
      const y1 = causalConv1d(x, w).slice([0, 0, 0], [1, 5, 2]);
      const y2 = causalConv1d(x2, w);
      assertClose(y2.slice([0, 0, 0], [1, 5, 2]), y1, 0, 0, 'prefix');
      expect(
        Math.abs(
          y2
            .slice([0, 5, 0], [1, 1, 2])
            .sub(causalConv1d(x, w).slice([0, 5, 0], [1, 1, 2]))
            .sum()
            .dataSync()[0],
        ),
      ).toBeGreaterThan(0);
    });
  });
});
