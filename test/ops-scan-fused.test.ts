/**
 * The fused native selective scan (src/native/scan.ts, native/scan.c) against the float64
 * oracle (T7) and the tensor forms (T13 gradients), with the D skip, the silu(z) gate, h0 and the
 * final state's gradient, on odd shapes (T not a multiple of the chunk, D not a multiple of the
 * kernel's 16-channel blocks, N = 1 and 17), on cpu and wasm, one thread and two.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { fusedScanStatus, selectiveScanFused } from '../src/native/scan.ts';
import { gatedScan } from '../src/ops/scan.ts';
import { kernelConfig, useKernelConfig } from '../src/native/config.ts';
import { useKernelEnv } from './models-util.ts';
import { selectiveScan } from '../src/ops/scan.ts';
import { withPeakBytes } from '../src/measure/measure.ts';
import { gatedScanInputs, scanOracle } from './oracle/scan.ts';
import { allFinite, assertClose, randn, rng, t, tidyData } from './oracle/util.ts';

const prevConfig = kernelConfig();
beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterAll(async () => {
  useKernelConfig(prevConfig);
  await tf.setBackend('cpu');
});

const available = fusedScanStatus('cpu').available;

/** float64 (scan + Dsk x) * silu(z) from the oracle's scan. */
function gatedOracle(s: ReturnType<typeof gatedScanInputs>, dims: { B: number; T: number; D: number; N: number }, h0: boolean) {
  const ref = scanOracle(s.x, s.dt, s.A, s.Bm, s.Cm, dims, h0 ? s.h0 : undefined);
  const y = new Float64Array(ref.y.length);
  for (let i = 0; i < y.length; i++) {
    const d = i % dims.D,
      z = s.z[i];
    y[i] = (ref.y[i] + s.Dsk[d] * s.x[i]) * (z / (1 + Math.exp(-z)));
  }
  return { y, h: ref.h };
}

describe.skipIf(!available)('fused selective scan (native)', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    for (const threads of ['1', '2']) {
      it(`T7 ${backend}, ${threads} thread(s): y and final state == float64 oracle, plain and gated, with and without h0`, async () => {
        await tf.setBackend(backend);
        useKernelEnv({}, { threads: Number(threads) });
        // the second shape is large enough (B T D N >= 64k) for the kernel to use the threads
        for (const [B, T, D, N, C] of [
          [2, 37, 19, 3, 8],
          [3, 70, 40, 17, 9],
          [1, 5, 4, 1, 64],
          [2, 16, 16, 16, 16],
        ]) {
          const s = gatedScanInputs(900 + T, B, T, D, N);
          const dims = { B, T, D, N };
          for (const withH0 of [false, true]) {
            const plain = scanOracle(s.x, s.dt, s.A, s.Bm, s.Cm, dims, withH0 ? s.h0 : undefined);
            const gated = gatedOracle(s, dims, withH0);
            tf.tidy(() => {
              const X = t(s.x, [B, T, D]),
                DT = t(s.dt, [B, T, D]),
                A = t(s.A, [D, N]),
                Bm = t(s.Bm, [B, T, N]),
                Cm = t(s.Cm, [B, T, N]);
              const h0 = withH0 ? t(s.h0, [B, D, N]) : undefined;
              const what = `${backend} B=${B} T=${T} D=${D} N=${N} C=${C} h0=${withH0}`;
              const p = selectiveScanFused(X, DT, A, Bm, Cm, { h0, chunk: C });
              assertClose(p.y, plain.y, 1e-5, 1e-4, `${what} y`);
              assertClose(p.h, plain.h, 1e-5, 1e-4, `${what} h`);
              const g = selectiveScanFused(X, DT, A, Bm, Cm, { h0, chunk: C, D: t(s.Dsk, [D]), z: t(s.z, [B, T, D]) });
              assertClose(g.y, gated.y, 1e-5, 1e-4, `${what} gated y`);
              assertClose(g.h, gated.h, 1e-5, 1e-4, `${what} gated h`);
            });
          }
        }
      });
    }
  }

  it('T13 gradients w.r.t. x, dt, A, Bm, Cm, D, z, h0 (through y and the final state) == sequential tensor form', async () => {
    await tf.setBackend('cpu');
    const B = 2,
      T = 13,
      D = 18,
      N = 5;
    const s = gatedScanInputs(131, B, T, D, N);
    const r = rng(132);
    const wy = randn(B * T * D, r),
      wh = randn(B * D * N, r);
    const loss =
      (fused: boolean) =>
      (x: tf.Tensor, dt: tf.Tensor, A: tf.Tensor, Bm: tf.Tensor, Cm: tf.Tensor, Dsk: tf.Tensor, z: tf.Tensor, h0: tf.Tensor) => {
        let y: tf.Tensor, h: tf.Tensor;
        if (fused) ({ y, h } = selectiveScanFused(x, dt, A, Bm, Cm, { D: Dsk, z, h0, chunk: 4 }));
        else {
          const r0 = selectiveScan(x, dt, A, Bm, Cm, { mode: 'sequential', h0: h0 as tf.Tensor3D });
          y = r0.y.add(x.mul(Dsk)).mul(z.mul(tf.sigmoid(z)));
          h = r0.h;
        }
        return tf.add(tf.sum(tf.mul(y, t(wy, [B, T, D]))), tf.sum(tf.mul(h, t(wh, [B, D, N]))));
      };
    const args = () => [
      t(s.x, [B, T, D]),
      t(s.dt, [B, T, D]),
      t(s.A, [D, N]),
      t(s.Bm, [B, T, N]),
      t(s.Cm, [B, T, N]),
      t(s.Dsk, [D]),
      t(s.z, [B, T, D]),
      t(s.h0, [B, D, N]),
    ];
    const gf = tidyData(() => tf.grads(loss(true))(args()));
    const gs = tidyData(() => tf.grads(loss(false))(args()));
    const names = ['x', 'dt', 'A', 'Bm', 'Cm', 'D', 'z', 'h0'];
    for (let i = 0; i < gs.length; i++) assertClose(gf[i], gs[i], 1e-6, 1e-4, `grad ${names[i]}`);
  });

  it('T13 gradients on two threads (wasm) == one thread, and with dt up to 20 and A down to -16 all finite', async () => {
    await tf.setBackend('wasm');
    const B = 3,
      T = 70,
      D = 40,
      N = 17;
    const s = gatedScanInputs(133, B, T, D, N, 20, 16);
    const w = randn(B * T * D, rng(134));
    const grads = (threads: string) => {
      useKernelEnv({}, { threads: Number(threads) });
      return tidyData(() =>
        tf.grads((x: tf.Tensor, dt: tf.Tensor, A: tf.Tensor, Bm: tf.Tensor, Cm: tf.Tensor, Dsk: tf.Tensor, z: tf.Tensor) =>
          tf.sum(tf.mul(selectiveScanFused(x, dt, A, Bm, Cm, { D: Dsk, z, chunk: 9 }).y, t(w, [B, T, D]))),
        )([
          t(s.x, [B, T, D]),
          t(s.dt, [B, T, D]),
          t(s.A, [D, N]),
          t(s.Bm, [B, T, N]),
          t(s.Cm, [B, T, N]),
          t(s.Dsk, [D]),
          t(s.z, [B, T, D]),
        ]),
      );
    };
    const g1 = grads('1'),
      g2 = grads('2');
    for (let i = 0; i < g1.length; i++) {
      expect(allFinite(g2[i])).toBe(true);
      assertClose(g2[i], g1[i], 1e-6, 1e-5, `grad ${i}`);
    }
  });

  it('keeps no [B, T, D, N] tensor: forward + backward peak stays under one such tensor (the tensor form needs several)', async () => {
    await tf.setBackend('cpu');
    const B = 2,
      T = 64,
      D = 32,
      N = 16,
      C = 8;
    const s = gatedScanInputs(5, B, T, D, N);
    const X = t(s.x, [B, T, D]),
      DT = t(s.dt, [B, T, D]),
      A = t(s.A, [D, N]),
      Bm = t(s.Bm, [B, T, N]),
      Cm = t(s.Cm, [B, T, N]);
    const before = tf.memory().numTensors;
    const peak = async (fused: boolean) => {
      const base = tf.memory().numBytes;
      const r = await withPeakBytes(() =>
        tf.tidy(() => {
          const f = (x: tf.Tensor, dt: tf.Tensor, a: tf.Tensor, bm: tf.Tensor, cm: tf.Tensor) =>
            tf.sum(
              (fused ? selectiveScanFused(x, dt, a, bm, cm, { chunk: C }) : selectiveScan(x, dt, a, bm, cm, { mode: 'chunked', chunk: C }))
                .y,
            );
          return tf.addN(
            tf
              .grads(f)([X, DT, A, Bm, Cm])
              .map((g) => tf.sum(g)),
          );
        }),
      );
      r.result.dispose();
      return r.peakBytes - base;
    };
    const full = B * T * D * N * 4;
    const fusedPeak = await peak(true),
      tensorPeak = await peak(false);
    expect(fusedPeak).toBeLessThan(full);
    expect(tensorPeak).toBeGreaterThan(2 * full);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([X, DT, A, Bm, Cm]);
  });

  it('gatedScan: every mode (fused chunked, tensor sequential and logdepth) gives the oracle y', async () => {
    await tf.setBackend('cpu');
    const B = 1,
      T = 9,
      D = 5,
      N = 2;
    const s = gatedScanInputs(7, B, T, D, N);
    const ref = gatedOracle(s, { B, T, D, N }, false);
    tf.tidy(() => {
      for (const mode of ['chunked', 'sequential', 'logdepth'] as const) {
        const y = gatedScan(t(s.x, [B, T, D]), t(s.dt, [B, T, D]), t(s.A, [D, N]), t(s.Bm, [B, T, N]), t(s.Cm, [B, T, N]), {
          D: t(s.Dsk, [D]),
          z: t(s.z, [B, T, D]),
          mode,
          chunk: 4,
        }).y;
        assertClose(y, ref.y, 1e-5, 1e-4, mode);
      }
    });
  });
});
