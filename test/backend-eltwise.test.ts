// Native element-wise kernels (src/native/eltwise.ts, native/eltwise.c) against the stock tfjs
// kernels of the same backend, on the shapes the models use and on edge shapes: broadcasting
// patterns, reduce axes, permutations, special values (exp(-1e4) must be exactly 0, NaN and inf
// must propagate), both thread counts; gradients through the ops equal with and without them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { installMatmulKernels } from '../src/native/matmul.ts';
import { loadNativeAddon } from '../src/native/addon.ts';
import { DEFAULT_ADDON_PATH } from '../src/native/config.ts';
import { broadcastLayout } from '../src/backend/broadcast.ts';
import { eltwiseInfo, transposeLayout, type EltwiseAddon } from '../src/native/eltwise.ts';
import { selectBackend } from '../src/backend/select.ts';
import { maskedSoftmax } from '../src/ops/softmax-masked.ts';
import { decayMatrix } from '../src/ops/mask.ts';
import { sparseCrossEntropy } from '../src/backend/compat.ts';
import { buildModel } from '../src/models/model.ts';
import { tinyModel, tokens, useEltwise } from './models-util.ts';

const native = loadNativeAddon(DEFAULT_ADDON_PATH);
const SKIP = native.addon ? '' : ` (SKIPPED: ${native.reason})`;

function rand(shape: number[], seed: number, scale = 3): Float32Array {
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let s = seed * 2654435761 + 1;
  for (let i = 0; i < v.length; i++) {
    s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x9e3779b9) | 0;
    v[i] = (((s >>> 8) / (1 << 24)) * 2 - 1) * scale;
  }
  return v;
}

/** f evaluated with the stock kernels and with the native ones (values copied out). */
function both(f: () => tf.Tensor | tf.Tensor[], threads = 2): { stock: Float32Array[]; native: Float32Array[]; shapes: number[][] } {
  const run = () =>
    tf.tidy(() => {
      const r = f();
      const list = Array.isArray(r) ? r : [r];
      return { values: list.map((t) => Float32Array.from(t.dataSync() as Float32Array)), shapes: list.map((t) => t.shape) };
    });
  useEltwise('stock');
  const s = run();
  useEltwise(threads);
  const n = run();
  expect(n.shapes).toEqual(s.shapes);
  return { stock: s.values, native: n.values, shapes: n.shapes };
}

function close(a: Float32Array, b: Float32Array, rel: number, abs = 0): void {
  expect(a.length).toBe(b.length);
  let worst = 0,
    at = -1;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) || Number.isNaN(b[i])) {
      expect(Number.isNaN(a[i]) && Number.isNaN(b[i]), `NaN mismatch at ${i}: ${a[i]} vs ${b[i]}`).toBe(true);
      continue;
    }
    if (a[i] === b[i]) continue;
    const err = Math.abs(a[i] - b[i]) - abs - rel * Math.max(Math.abs(a[i]), Math.abs(b[i]));
    if (err > worst) (worst = err), (at = i);
  }
  expect(worst, `worst at ${at}: ${a[at]} vs ${b[at]}`).toBe(0);
}

for (const backend of ['wasm', 'cpu'] as const) {
  describe.skipIf(!native.addon)(`native element-wise kernels on ${backend}${SKIP}`, () => {
    beforeAll(async () => {
      await selectBackend(backend);
      await installMatmulKernels({ threads: 2, log: () => {} });
    });
    afterAll(() => {
      delete process.env.SEQLAB_ELTWISE;
    });

    it('is installed with the matmul kernels and says so', () => {
      const info = eltwiseInfo()!;
      expect(info.enabled).toBe(true);
      expect(info.reason).toMatch(/native element-wise kernels \((avx2|generic)\), 2 threads/);
    });

    const unary: [string, (x: tf.Tensor) => tf.Tensor, number, (v: Float32Array) => Float32Array][] = [
      ['exp', tf.exp, 2e-7, (v) => v],
      ['erf', tf.erf, 0, (v) => v],
      ['sigmoid', tf.sigmoid, 5e-7, (v) => v],
      ['softplus', tf.softplus, 3e-7, (v) => v],
      ['log', tf.log, 2e-7, (v) => v.map(Math.abs)],
      ['tanh', tf.tanh, 3e-7, (v) => v],
      ['neg', tf.neg, 0, (v) => v],
      ['square', tf.square, 0, (v) => v],
      ['sqrt', tf.sqrt, 1e-7, (v) => v.map(Math.abs)],
      ['rsqrt', tf.rsqrt, 2e-7, (v) => v.map((x) => Math.abs(x) + 0.1)],
      ['reciprocal', tf.reciprocal, 1e-7, (v) => v],
      ['abs', tf.abs, 0, (v) => v],
      ['relu', tf.relu, 0, (v) => v],
      ['log1p', tf.log1p, 2e-7, (v) => v.map(Math.abs)],
    ];
    for (const [name, op, rel, prep] of unary) {
      it(`${name}: equals the stock kernel on long (threaded, vector) and odd (tail) lengths`, () => {
        for (const shape of [[8, 64, 128], [3, 37], [5]]) {
          const v = prep(rand(shape, 11, 12));
          const r = both(() => op(tf.tensor(v, shape)));
          // erf: native is Eigen/XLA's float rational (|error| <= 4.2e-7), stock wasm libm's erf,
          // stock cpu A&S 7.1.26 (|error| <= 1.5e-7)
          close(r.native[0], r.stock[0], rel, name === 'erf' ? 6e-7 : 0);
        }
      });
    }

    it('exp: exactly 0 at the mask value -1e4, inf above 88.8, NaN kept; sigmoid saturates', () => {
      const v = new Float32Array([-1e4, -200, -87.5, -20, 0, 1, 88, 89, 1e4, NaN, -Infinity, Infinity, 0.5, -0.5, 3, -3]);
      const r = both(() => [tf.exp(tf.tensor(v)), tf.sigmoid(tf.tensor(v)), tf.erf(tf.tensor(v))]);
      expect(r.native[0][0]).toBe(0);
      expect(r.native[0][1]).toBe(0);
      expect(r.native[0][7]).toBe(Infinity);
      expect(r.native[0][8]).toBe(Infinity);
      expect(Number.isNaN(r.native[0][9])).toBe(true);
      expect(r.native[0][10]).toBe(0);
      expect(r.native[0][11]).toBe(Infinity);
      close(r.native[0].subarray(3, 7), r.stock[0].subarray(3, 7), 2e-7);
      expect(Array.from(r.native[1].subarray(0, 2))).toEqual([0, 0]);
      expect(r.native[1][8]).toBe(1);
      expect(Number.isNaN(r.native[1][9])).toBe(true);
      expect(r.native[2][8]).toBe(1);
      expect(r.native[2][0]).toBe(-1);
    });

    const BROADCASTS: [number[], number[]][] = [
      [
        [4, 64, 128],
        [4, 64, 128],
      ], // same shape (threaded)
      [[4, 64, 128], [128]], // bias / gain row
      [
        [4, 64, 128],
        [4, 64, 1],
      ], // per-token scale
      [
        [4, 4, 64, 64],
        [64, 64],
      ], // mask over heads
      [
        [1, 4, 1, 7],
        [3, 1, 5, 1],
      ], // both sides broadcast
      [[3, 5, 7], []], // scalar
      [[], [2, 3]],
      [
        [2, 1, 3],
        [2, 4, 3],
      ],
      [
        [7, 1],
        [1, 9],
      ], // outer product
    ];
    for (const [name, op] of [
      ['add', tf.add],
      ['sub', tf.sub],
      ['mul', tf.mul],
      ['div', tf.div],
      ['squaredDifference', tf.squaredDifference],
    ] as const) {
      it(`${name}: equals the stock kernel under every broadcasting pattern`, () => {
        BROADCASTS.forEach(([sa, sb], i) => {
          const r = both(() =>
            (op as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor)(
              tf.tensor(rand(sa, i), sa),
              tf.tensor(
                rand(sb, i + 50).map((x) => (name === 'div' ? x + 4 : x)),
                sb,
              ),
            ),
          );
          // the cpu backend squares the difference in float64 before rounding
          close(r.native[0], r.stock[0], name === 'squaredDifference' ? 3e-7 : 0);
        });
      });
    }

    const REDUCES: [number[], number | number[], boolean][] = [
      [[4, 64, 128], -1, false], // row sums
      [[4, 64, 128], [0, 1], false], // bias gradient
      [[4, 64, 128], 1, true], // middle axis, keepDims
      [[4, 3, 5], [0, 1, 2], false], // everything
      [[4, 3, 5, 6], [1, 2], true],
      [[4096, 257], 1, true], // loss rows
      [[2, 3, 4], [0, 2], false], // non-contiguous: stock kernel
      [[37], 0, false],
    ];
    for (const [name, op, rel] of [
      ['sum', tf.sum, 2e-6],
      ['mean', tf.mean, 2e-6],
      ['max', tf.max, 0],
    ] as const) {
      it(`${name}: equals the stock kernel over contiguous and non-contiguous axes`, () => {
        REDUCES.forEach(([shape, axis, keep], i) => {
          const r = both(() =>
            (op as (x: tf.Tensor, a: number | number[], k: boolean) => tf.Tensor)(tf.tensor(rand(shape, i + 7), shape), axis, keep),
          );
          // float32 sums in another order: relative to the sum of magnitudes
          close(r.native[0], r.stock[0], rel, rel * Math.sqrt(shape.reduce((a, b) => a * b, 1)) * 3);
        });
      });
    }

    const PERMS: [number[], number[]][] = [
      [
        [4, 64, 4, 32],
        [0, 2, 1, 3],
      ], // heads out
      [
        [4, 4, 64, 32],
        [0, 2, 1, 3],
      ], // heads back
      [
        [64, 64],
        [1, 0],
      ],
      [
        [5, 33, 70],
        [0, 2, 1],
      ], // swap last two, ragged tiles
      [
        [2, 3, 4, 5, 6],
        [4, 2, 0, 3, 1],
      ], // general
      [
        [1, 7, 1, 9],
        [3, 2, 1, 0],
      ], // size-1 dims
      [
        [3, 4],
        [0, 1],
      ], // identity
    ];
    it('transpose: equals the stock kernel on every permutation (float32 and int32)', () => {
      PERMS.forEach(([shape, perm], i) => {
        const r = both(() => [
          tf.transpose(tf.tensor(rand(shape, i), shape), perm),
          tf
            .transpose(
              tf.tensor(
                rand(shape, i).map((x) => Math.round(x * 100)),
                shape,
                'int32',
              ),
              perm,
            )
            .cast('float32'),
        ]);
        close(r.native[0], r.stock[0], 0);
        close(r.native[1], r.stock[1], 0);
      });
    });

    it('cumsum: equals the stock kernel (last axis, exclusive and reverse; other axes via stock)', () => {
      for (const [exclusive, reverse] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ]) {
        const r = both(() => [
          tf.cumsum(tf.tensor(rand([4, 4, 64, 64], 3), [4, 4, 64, 64]), 3, exclusive, reverse),
          tf.cumsum(tf.tensor(rand([5, 6], 4), [5, 6]), 0, exclusive, reverse),
        ]);
        close(r.native[0], r.stock[0], 1e-6, 1e-5);
        close(r.native[1], r.stock[1], 0);
      }
    });

    it('softmax: equals the stock kernel, rows sum to 1, large logits stay finite', () => {
      const v = rand([4, 4, 64, 64], 9, 20);
      v[0] = 1e4;
      const r = both(() => [tf.softmax(tf.tensor(v, [4, 4, 64, 64])), tf.softmax(tf.tensor(rand([3, 257], 2), [3, 257]))]);
      close(r.native[0], r.stock[0], 2e-6, 1e-8);
      close(r.native[1], r.stock[1], 2e-6, 1e-8);
      expect(r.native[0][0]).toBe(1);
    });

    it('the portable (non-AVX2) code gives the same values as the stock kernels', () => {
      const el = native.addon as unknown as EltwiseAddon;
      expect(el.setEltwiseIsa('generic')).toBe(true);
      try {
        const v = rand([1000, 37], 3, 6);
        const r = both(() => [
          tf.exp(tf.tensor(v)),
          tf.erf(tf.tensor(v)),
          tf.sigmoid(tf.tensor(v)),
          tf.softmax(tf.tensor(v, [1000, 37])),
          tf.sum(tf.tensor(v, [1000, 37]), 1),
          tf.mul(tf.tensor(v, [1000, 37]), tf.tensor(v.slice(0, 37))),
        ]);
        [2e-7, 0, 5e-7, 2e-6, 2e-6, 0].forEach((rel, i) => close(r.native[i], r.stock[i], rel, i === 1 ? 3e-7 : i === 4 ? 1e-4 : 1e-8));
      } finally {
        el.setEltwiseIsa('avx2');
      }
    });

    it('maskedSoftmax: the fused kernels equal the tensor ops in value and gradient for every mask layout', () => {
      const [B, H, T] = [3, 2, 9];
      const causal = tf.tidy(() => tf.linalg.bandPart(tf.ones([T, T]), -1, 0));
      const masks: (tf.Tensor | undefined)[] = [
        undefined,
        causal.reshape([1, 1, T, T]), // training: causal
        tf
          .mul(
            causal.reshape([1, 1, T, T]),
            tf.tensor(
              rand([B], 3).map((x) => (x > -0.5 ? 1 : 0)),
              [B, 1, 1, 1],
            ),
          )
          .reshape([B, 1, T, T]) as tf.Tensor, // stateSkip keep
        tf.tensor(
          rand([B * T], 4).map((x) => (x > 0 ? 1 : 0)),
          [B, 1, 1, T],
        ), // decode key mask
      ];
      for (const mask of masks) {
        const s = tf.tensor(rand([B, H, T, T], 5, 4), [B, H, T, T]);
        const w = tf.tensor(rand([B, H, T, T], 6), [B, H, T, T]);
        const f = (x: tf.Tensor) => tf.sum(tf.mul(maskedSoftmax(x, mask, 0.3), w));
        const r = both(() => [maskedSoftmax(s, mask, 0.3), tf.grad(f)(s)]);
        close(r.native[0], r.stock[0], 2e-6, 1e-8);
        close(r.native[1], r.stock[1], 1e-5, 1e-7);
        if (mask === masks[1]) {
          // causal: masked entries are exactly 0 (a fully masked row would be uniform instead)
          const m = tf.broadcastTo(mask!, [B, H, T, T]).dataSync();
          for (let i = 0; i < m.length; i++)
            if (m[i] === 0 && r.native[0][i] !== 0) throw new Error(`masked entry ${i} = ${r.native[0][i]}`);
        }
        tf.dispose([s, w]);
      }
      tf.dispose([causal, ...masks.filter((m): m is tf.Tensor => !!m)]);
    });

    it('decayMatrix: the fused kernels equal exp(stableSegsum(a)) in value and gradient', () => {
      for (const shape of [[2, 3, 17], [1, 2, 4, 9], [5], [2, 1, 1]]) {
        const a = tf.tensor(
          rand(shape, 8, 0.7).map((x) => -Math.abs(x)),
          shape,
        ); // log-decays <= 0
        const T = shape[shape.length - 1];
        const w = tf.tensor(rand([...shape, T], 9), [...shape, T]);
        const r = both(() => [decayMatrix(a), tf.grad((x: tf.Tensor) => tf.sum(tf.mul(decayMatrix(x), w)))(a)]);
        close(r.native[0], r.stock[0], 2e-7); // same summation order; exp within an ulp
        close(r.native[1], r.stock[1], 1e-5, 1e-6);
        // exactly 0 above the diagonal, 1 on it
        for (let i = 0; i < r.native[0].length; i++) {
          const t = Math.floor(i / T) % T,
            s0 = i % T;
          if (s0 > t) expect(r.native[0][i]).toBe(0);
          if (s0 === t) expect(r.native[0][i]).toBe(1);
        }
        tf.dispose([a, w]);
      }
    });

    // Every native kernel inside real model graphs: loss and every weight's gradient of each
    // family (both retention forms, the key-decay form, both attention paths) equal stock kernels.
    // (the last two recompute every block in the backward pass: the fused ops run twice there)
    const MODELS: [string, Record<string, unknown>, boolean?][] = [
      ['transformer', {}],
      ['retnet', {}],
      ['retnet', { form: 'chunk', chunk: 4 }],
      ['selret', {}],
      ['selret', { form: 'chunk', chunk: 3 }],
      ['selret', { granularity: 'key', key_decay_init: 'spread' }],
      ['gla', {}],
      ['mamba', {}],
      ['mamba2', {}],
      ['deltanet', {}],
      ['fusion-alt', {}],
      ['transformer', {}, true],
      ['selret', {}, true],
    ];
    for (const [preset, mixer, checkpointActivations = false] of MODELS) {
      it(`${preset} ${JSON.stringify(mixer)}${checkpointActivations ? ' with checkpoint_activations' : ''}: loss and gradients with native kernels equal the stock kernels`, () => {
        const [V, B, T] = [11, 2, 12];
        const cfg = tinyModel(preset, { vocab: V, seqLen: T, mixer });
        const ids = tokens(B, T, V, 1),
          targets = tokens(B, T, V, 2);
        const run = (): tf.Tensor[] => {
          const m = buildModel(cfg, 3);
          const { value, grads } = tf.variableGrads(() => {
            const { sumLoss, count } = sparseCrossEntropy(
              m.forward(ids, { checkpointActivations }).logits.reshape([-1, V]),
              targets.reshape([-1]),
            );
            return sumLoss.div(count) as tf.Scalar;
          }, [...m.weights.values()]);
          const out = [value, ...[...m.weights.values()].map((v) => grads[v.name])];
          m.dispose();
          return out;
        };
        const r = both(run);
        close(r.native[0], r.stock[0], 1e-5);
        for (let i = 1; i < r.native.length; i++) {
          const scale = r.stock[i].reduce((mx, x) => Math.max(mx, Math.abs(x)), 0);
          close(r.native[i], r.stock[i], 1e-4, 1e-4 * scale + 1e-7);
        }
        tf.dispose([ids, targets]);
      });
    }

    it('one thread and two threads give identical results', () => {
      const f = () => [
        tf.exp(tf.tensor(rand([300000], 1))),
        tf.sum(tf.tensor(rand([1000, 300], 2), [1000, 300]), 0),
        tf.mul(tf.tensor(rand([600, 500], 3), [600, 500]), tf.tensor(rand([500], 4))),
      ];
      const one = both(f, 1).native,
        two = both(f, 2).native;
      one.forEach((v, i) => expect(Array.from(two[i])).toEqual(Array.from(v)));
    });

    it('gradients through a GELU + softmax-attention + layer-norm chain equal the stock kernels', () => {
      const x = tf.tensor(rand([2, 8, 16], 5, 1), [2, 8, 16]);
      const w = tf.tensor(rand([16, 16], 6, 0.5), [16, 16]);
      const f = (x0: tf.Tensor, w0: tf.Tensor) => {
        const h = tf.matMul(x0.reshape([16, 16]), w0).reshape([2, 8, 16]);
        const g = h.mul(tf.erf(h.mul(Math.SQRT1_2)).add(1)).mul(0.5);
        const s = tf.softmax(tf.matMul(g, g, false, true).div(4));
        const mu = tf.mean(s, -1, true);
        const n = s.sub(mu).mul(tf.rsqrt(tf.mean(tf.square(s.sub(mu)), -1, true).add(1e-5)));
        return tf.sum(tf.mul(n, tf.sigmoid(g.transpose([0, 2, 1]).sum(1, true)))).add(tf.sum(tf.softplus(tf.cumsum(g, 2))));
      };
      const r = both(() => tf.grads(f)([x, w]));
      close(r.native[0], r.stock[0], 1e-4, 1e-5);
      close(r.native[1], r.stock[1], 1e-4, 1e-5);
      tf.dispose([x, w]);
    });

    it('leaks no tensors and keeps values right after the wasm heap grows', () => {
      const before = tf.memory().numTensors;
      const big = tf.zeros([64, 1024, 1024]); // 256 MB: grows the heap
      const r = both(() => tf.add(tf.exp(tf.tensor(rand([1000], 1))), tf.tensor(rand([1000], 2))));
      close(r.native[0], r.stock[0], 3e-7);
      big.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}

describe('layouts handed to the native kernels', () => {
  it('broadcastLayout drops size-1 dims and merges contiguous runs', () => {
    expect(Array.from(broadcastLayout([16, 256, 128], [16, 256, 128])!.meta)).toEqual([1, 16 * 256 * 128, 1, 1]);
    expect(Array.from(broadcastLayout([16, 256, 128], [128])!.meta)).toEqual([2, 16 * 256, 128, 128, 1, 0, 1]);
    expect(Array.from(broadcastLayout([16, 256, 1], [16, 256, 128])!.meta)).toEqual([2, 16 * 256, 128, 1, 0, 128, 1]);
    expect(broadcastLayout([2, 3], [4, 3])).toBeUndefined();
  });
  it('transposeLayout merges the dims that stay together', () => {
    expect(Array.from(transposeLayout([16, 256, 4, 32], [0, 2, 1, 3])!)).toEqual([4, 16, 256, 4, 32, 0, 2, 1, 3]);
    expect(Array.from(transposeLayout([2, 3, 4], [0, 2, 1])!)).toEqual([3, 2, 3, 4, 0, 2, 1]);
    expect(Array.from(transposeLayout([2, 3, 4, 5], [2, 3, 0, 1])!)).toEqual([2, 6, 20, 1, 0]);
    expect(Array.from(transposeLayout([1, 7, 1, 9], [3, 2, 1, 0])!)).toEqual([2, 7, 9, 1, 0]);
  });
});
