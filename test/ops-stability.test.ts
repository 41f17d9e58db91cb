import '@tensorflow/tfjs-backend-wasm';
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { NEG, stableSegsum } from '../src/ops/mask.ts';
import { retentionChunk } from '../src/ops/retention.ts';
import { selectiveScan } from '../src/ops/scan.ts';
import { patchWasmKernels } from '../src/backend/compat.ts';
import { allFinite } from './oracle/util.ts';

describe('T15 stability', () => {
  it('exp(NEG) === 0 on cpu and wasm; masked segsum entries give exp = 0 and finite gradients', async () => {
    for (const b of ['cpu', 'wasm']) {
      await tf.setBackend(b);
      await tf.ready();
      if (b === 'wasm') patchWasmKernels();
      tf.tidy(() => {
        expect(tf.exp(tf.scalar(NEG)).dataSync()[0]).toBe(0);
        // a huge positive "future" segment must not overflow into the mask (N2)
        const a = tf.tensor1d([-3000, -3000, -3000, -0.5]);
        const M = tf.exp(stableSegsum(a));
        const m = M.dataSync();
        expect(m[1]).toBe(0); // (t=0, s=1) above the diagonal
        expect(m[0]).toBe(1); // diagonal
        const g = tf.grad((z: tf.Tensor) => tf.sum(tf.exp(stableSegsum(z))))(a);
        expect(allFinite(g)).toBe(true);
      });
    }
    await tf.setBackend('cpu');
  });

  it('T = 2048: chunk retention with a ~ -5 and a ~ 0, and the scan with dt = 20, are finite (values and grads)', async () => {
    await tf.setBackend('cpu');
    const B = 1,
      H = 1,
      T = 2048,
      dk = 4,
      dv = 4;
    for (const aval of [-5, 0]) {
      tf.tidy(() => {
        const q = tf.randomNormal([B, H, T, dk], 0, 1, 'float32', 1);
        const k = tf.randomNormal([B, H, T, dk], 0, 0.5, 'float32', 2);
        const v = tf.randomNormal([B, H, T, dv], 0, 1, 'float32', 3);
        const a = tf.add(tf.fill([B, H, T], aval), tf.randomUniform([B, H, T], -1e-3, 0, 'float32', 4));
        const [gq, ga] = tf.grads((Q: tf.Tensor, A: tf.Tensor) => tf.sum(retentionChunk(Q, k, v, A, { chunk: 64 }).o))([q, a]);
        const { o, state } = retentionChunk(q, k, v, a, { chunk: 64, outputFinalState: true });
        for (const x of [o, state!, gq, ga]) expect(allFinite(x)).toBe(true);
      });
    }
    tf.tidy(() => {
      const Bz = 1,
        D = 2,
        N = 4;
      const x = tf.randomNormal([Bz, T, D], 0, 1, 'float32', 5);
      const dt = tf.fill([Bz, T, D], 20);
      const A = tf.tensor2d([
        [-1, -4, -9, -16],
        [-0.5, -1, -2, -16],
      ]);
      const Bm = tf.randomNormal([Bz, T, N], 0, 1, 'float32', 6);
      const Cm = tf.randomNormal([Bz, T, N], 0, 1, 'float32', 7);
      const { y, h } = selectiveScan(x, dt, A, Bm, Cm, { mode: 'chunked', chunk: 64 });
      const g = tf.grads((xx: tf.Tensor, d: tf.Tensor, aa: tf.Tensor) =>
        tf.sum(selectiveScan(xx, d, aa, Bm, Cm, { mode: 'chunked', chunk: 64 }).y),
      )([x, dt, A]);
      for (const z of [y, h, ...g]) expect(allFinite(z)).toBe(true);
    });
  });
});

describe('wasm backend runs the chunked kernels like cpu', () => {
  it('retentionChunk, retentionKeyChunk, selectiveScan chunked and ssdChunk: wasm == cpu (values and grads)', async () => {
    const { retentionKeyChunk } = await import('../src/ops/retention-key.ts');
    const { ssdChunk } = await import('../src/ops/ssd.ts');
    const run = () =>
      tf.tidy(() => {
        const q = tf.randomNormal([2, 2, 19, 4], 0, 1, 'float32', 1);
        const k = tf.randomNormal([2, 2, 19, 4], 0, 0.5, 'float32', 2);
        const v = tf.randomNormal([2, 2, 19, 3], 0, 1, 'float32', 3);
        const a = tf.randomUniform([2, 2, 19], -1, 0, 'float32', 4);
        const ak = tf.randomUniform([2, 2, 19, 4], -1, 0, 'float32', 5);
        const x = tf.randomNormal([2, 19, 6], 0, 1, 'float32', 6);
        const dt = tf.randomUniform([2, 19, 6], 0.01, 1, 'float32', 7);
        const A = tf.randomUniform([6, 3], -4, -0.5, 'float32', 8);
        const Bm = tf.randomNormal([2, 19, 3], 0, 1, 'float32', 9);
        const out: tf.Tensor[] = [];
        out.push(...tf.grads((Q: tf.Tensor, A0: tf.Tensor) => tf.sum(tf.square(retentionChunk(Q, k, v, A0, { chunk: 8 }).o)))([q, a]));
        out.push(...tf.grads((Q: tf.Tensor, A0: tf.Tensor) => tf.sum(tf.square(retentionKeyChunk(Q, k, v, A0, { chunk: 8 }).o)))([q, ak]));
        out.push(
          ...tf.grads((X: tf.Tensor, D0: tf.Tensor, A0: tf.Tensor) =>
            tf.sum(tf.square(selectiveScan(X, D0, A0, Bm, Bm, { mode: 'chunked', chunk: 8 }).y)),
          )([x, dt, A]),
        );
        const xs = x.reshape([2, 19, 2, 3]);
        const dts = dt.slice([0, 0, 0], [2, 19, 2]);
        out.push(
          ...tf.grads((X: tf.Tensor, D0: tf.Tensor) =>
            tf.sum(tf.square(ssdChunk(X, D0, tf.tensor1d([-1, -3]), Bm.reshape([2, 19, 1, 3]), Bm.reshape([2, 19, 1, 3]), { chunk: 8 }).y)),
          )([xs, dts]),
        );
        return out.map((z) => Array.from(z.dataSync()));
      });
    await tf.setBackend('cpu');
    const cpu = run();
    await tf.setBackend('wasm');
    patchWasmKernels();
    const wasm = run();
    await tf.setBackend('cpu');
    for (let i = 0; i < cpu.length; i++) {
      const scale = Math.max(...cpu[i].map(Math.abs));
      const err = Math.max(...cpu[i].map((c, j) => Math.abs(c - wasm[i][j])));
      expect(err).toBeLessThanOrEqual(1e-5 + 1e-4 * scale);
    }
  });
});

describe('no leaked tensors', () => {
  it('every kernel (forward and forward+backward inside tidy) leaves only its outputs', async () => {
    await tf.setBackend('cpu');
    const { retentionKeyChunk, retentionKeyRecurrent } = await import('../src/ops/retention-key.ts');
    const { retentionRecurrent, retentionParallel } = await import('../src/ops/retention.ts');
    const { ssdChunk, ssdRecurrent } = await import('../src/ops/ssd.ts');
    const { causalConv1d, convState } = await import('../src/ops/conv.ts');
    const { applyRope, ropeTables } = await import('../src/ops/rope.ts');
    const { embeddingLookup, sparseCrossEntropy } = await import('../src/backend/compat.ts');
    const q = tf.randomNormal([1, 2, 9, 4]);
    const a = tf.randomUniform([1, 2, 9], -1, 0);
    const ak = tf.randomUniform([1, 2, 9, 4], -1, 0);
    const x = tf.randomNormal([1, 9, 4]);
    const dt = tf.randomUniform([1, 9, 4], 0.01, 1);
    const A = tf.randomUniform([4, 3], -3, -1);
    const Bm = tf.randomNormal([1, 9, 3]);
    const table = tf.randomNormal([5, 4]);
    const ids = tf.tensor2d([[1, 4, 0]], [1, 3], 'int32');
    const tgt = tf.tensor1d([1, -100, 3], 'int32');
    const { cos, sin } = ropeTables(0, 9, 4, 'torchscale');
    const xs = x.reshape([1, 9, 2, 2]),
      dts = dt.slice([0, 0, 0], [1, 9, 2]),
      Ah = tf.tensor1d([-1, -2]);
    const Bg = Bm.reshape([1, 9, 1, 3]),
      w = A.slice([0, 0], [4, 3]),
      logits = tf.randomNormal([3, 6]);
    const fns: Array<() => tf.Tensor[]> = [
      () => [retentionParallel(q, q, q, a).o],
      () => Object.values(retentionChunk(q, q, q, a, { chunk: 4, outputFinalState: true })),
      () => Object.values(retentionChunk(q, q, q, a, { chunk: 4, statePassing: 'loop', outputFinalState: true })),
      () => Object.values(retentionRecurrent(q, q, q, a, { outputFinalState: true })),
      () => Object.values(retentionKeyChunk(q, q, q, ak, { chunk: 4, outputFinalState: true })),
      () => Object.values(retentionKeyRecurrent(q, q, q, ak, { outputFinalState: true })),
      () => Object.values(selectiveScan(x, dt, A, Bm, Bm, { mode: 'chunked', chunk: 4 })),
      () => Object.values(selectiveScan(x, dt, A, Bm, Bm, { mode: 'sequential' })),
      () => Object.values(selectiveScan(x, dt, A, Bm, Bm, { mode: 'logdepth' })),
      () => Object.values(ssdChunk(xs, dts, Ah, Bg, Bg, { chunk: 4 })),
      () => Object.values(ssdRecurrent(xs, dts, Ah, Bg, Bg)),
      () => [causalConv1d(x, w), convState(x, 4)],
      () => [applyRope(q, cos, sin)],
      () => [embeddingLookup(table, ids)],
      () => [sparseCrossEntropy(logits, tgt).sumLoss],
    ];
    for (const [i, f] of fns.entries()) {
      const before = tf.memory().numTensors;
      const outs = f();
      expect(tf.memory().numTensors - before, `forward ${i}`).toBe(outs.length);
      tf.dispose(outs);
      const g = tf.tidy(() =>
        tf.grads((z: tf.Tensor) =>
          tf.tidy(() =>
            f()
              .reduce((acc, o) => tf.add(acc, tf.sum(o)), tf.scalar(0))
              .mul(z),
          ),
        )([tf.scalar(1)]),
      );
      tf.dispose(g);
      expect(tf.memory().numTensors, `grad ${i}`).toBe(before);
    }
    // gradients w.r.t. the kernels' inputs must not leak either
    const before = tf.memory().numTensors;
    const gs = tf.tidy(() =>
      tf.grads((xx: tf.Tensor, dd: tf.Tensor, aa: tf.Tensor) => tf.sum(selectiveScan(xx, dd, aa, Bm, Bm, { mode: 'chunked', chunk: 4 }).y))(
        [x, dt, A],
      ),
    );
    expect(tf.memory().numTensors).toBe(before + 3);
    tf.dispose(gs);
    const ge = tf.tidy(() => tf.grad((tb: tf.Tensor) => tf.sum(embeddingLookup(tb, ids)))(table));
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([ge, q, a, ak, x, dt, A, Bm, table, ids, tgt, cos, sin, xs, dts, Ah, Bg, w, logits]);
  });
});
