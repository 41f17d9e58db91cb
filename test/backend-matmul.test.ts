// Issue #7: native (OpenBLAS) and fallback matmul kernels for the wasm (and cpu) backend.
// Oracle: the stock kernels of the cpu backend (pure JS). The stock wasm _FusedMatMul is not
// an oracle: it is wrong for batch > 1 with a bias in tfjs 4.22 (see 'stock wasm bug' below).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { BLAS_MIN_FLOPS, installMatmulKernels, matmulInfo } from '../src/native/matmul.ts';
import { resolveThreads } from '../src/backend/threads.ts';
import { DEFAULT_ADDON_PATH, type MatmulPath } from '../src/native/config.ts';
import { loadNativeAddon, type GemmFn } from '../src/native/addon.ts';
import { nativeKernels } from '../src/native/matmul-kernels.ts';
import { fallbackTuning } from '../src/native/matmul-fallback.ts';
import { benchKernels, profileTrainingStep } from '../src/bench/kernels.ts';

const native = loadNativeAddon(DEFAULT_ADDON_PATH);
const NATIVE_SKIP = native.addon ? '' : ` (SKIPPED: ${native.reason})`;
/** The addon's engines present in this build: OpenBLAS ('native', optional) and the built-in GEMM. */
const ENGINES: MatmulPath[] = native.addon ? [...(native.addon.hasCblas ? ['native' as const] : []), 'builtin'] : [];
const ALL_ENGINES: MatmulPath[] = ['native', 'builtin'];
const quiet = () => {};

/** Seeded uniform values in [-1, 1). */
function rand(shape: number[], seed: number): Float32Array {
  const v = new Float32Array(shape.reduce((a, b) => a * b, 1));
  let s = seed * 2654435761 + 1;
  for (let i = 0; i < v.length; i++) {
    s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x9e3779b9) | 0;
    v[i] = ((s >>> 8) / (1 << 24)) * 2 - 1;
  }
  return v;
}

interface Case {
  a: number[];
  b: number[];
  tA: boolean;
  tB: boolean;
  bias?: boolean;
  act?: 'linear' | 'relu';
}

const PRODUCTS: Case[] = [
  ...[false, true].flatMap((tA) =>
    [false, true].flatMap((tB) => [
      { a: tA ? [9, 5] : [5, 9], b: tB ? [7, 9] : [9, 7], tA, tB }, // 2-D
      { a: tA ? [3, 9, 5] : [3, 5, 9], b: tB ? [3, 7, 9] : [3, 9, 7], tA, tB }, // batched 3-D
      { a: tA ? [2, 3, 9, 5] : [2, 3, 5, 9], b: tB ? [2, 3, 7, 9] : [2, 3, 9, 7], tA, tB }, // batched 4-D
      { a: tA ? [4, 9, 5] : [4, 5, 9], b: tB ? [7, 9] : [9, 7], tA, tB }, // rank 3 x rank 2
      { a: tA ? [9, 5] : [5, 9], b: tB ? [4, 7, 9] : [4, 9, 7], tA, tB }, // rank 2 x rank 3
    ]),
  ),
  { a: [2, 1, 5, 9], b: [1, 3, 9, 7], tA: false, tB: false }, // general broadcasting: stock kernel
  { a: [1, 5, 9], b: [3, 9, 7], tA: false, tB: false }, // batch-1 broadcast of a
];

const FUSED: Case[] = [
  { a: [1, 6, 9], b: [1, 9, 7], tA: false, tB: false, bias: true, act: 'relu' },
  { a: [1, 9, 6], b: [1, 7, 9], tA: true, tB: true, bias: true, act: 'linear' },
  { a: [3, 6, 9], b: [3, 9, 7], tA: false, tB: false, bias: true, act: 'relu' },
  { a: [3, 9, 6], b: [1, 9, 7], tA: true, tB: false, bias: true, act: 'relu' },
  { a: [1, 6, 9], b: [3, 7, 9], tA: false, tB: true, bias: false, act: 'relu' },
  { a: [2, 6, 9], b: [2, 9, 7], tA: false, tB: false, bias: false, act: 'linear' },
];

function compute(c: Case, seed: number): Float32Array {
  return tf.tidy(() => {
    const a = tf.tensor(rand(c.a, seed), c.a),
      b = tf.tensor(rand(c.b, seed + 1), c.b);
    const n = c.tB ? c.b[c.b.length - 2] : c.b[c.b.length - 1];
    if (c.act === undefined) return tf.matMul(a, b, c.tA, c.tB).dataSync() as Float32Array;
    const bias = c.bias ? tf.tensor(rand([n], seed + 2), [n]) : undefined;
    return tf.fused.matMul({ a, b, transposeA: c.tA, transposeB: c.tB, bias, activation: c.act }).dataSync() as Float32Array;
  });
}

/** Reference results from the cpu backend's stock kernels. */
async function oracle(cases: Case[]): Promise<Float32Array[]> {
  const prev = tf.getBackend();
  await tf.setBackend('cpu');
  await installMatmulKernels({ mode: 'stock', log: quiet });
  const out = cases.map((c, i) => compute(c, i * 10));
  await tf.setBackend(prev);
  return out;
}

function maxAbsDiff(x: Float32Array, y: Float32Array): number {
  expect(x.length).toBe(y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

const name = (c: Case) =>
  `${c.act ? `fused(${c.bias ? 'bias+' : ''}${c.act}) ` : ''}[${c.a}]${c.tA ? 'ᵀ' : ''} x [${c.b}]${c.tB ? 'ᵀ' : ''}`;

let refProducts: Float32Array[];
let refFused: Float32Array[];

beforeAll(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  refProducts = await oracle(PRODUCTS);
  refFused = await oracle(FUSED);
  await tf.setBackend('wasm');
});

afterAll(async () => {
  await tf.setBackend('wasm');
  await installMatmulKernels({ mode: 'stock', log: quiet });
});

async function use(backend: 'wasm' | 'cpu', mode: MatmulPath): Promise<void> {
  await tf.setBackend(backend);
  const info = await installMatmulKernels({ mode, threads: 1, log: quiet });
  expect(info.path).toBe(mode);
}

function expectMatchesOracle(): void {
  const bad: string[] = [];
  PRODUCTS.forEach((c, i) => {
    const d = maxAbsDiff(compute(c, i * 10), refProducts[i]);
    if (!(d < 1e-5)) bad.push(`${name(c)}: ${d}`);
  });
  FUSED.forEach((c, i) => {
    const d = maxAbsDiff(compute(c, i * 10), refFused[i]);
    if (!(d < 1e-5)) bad.push(`${name(c)}: ${d}`);
  });
  expect(bad).toEqual([]);
}

describe.each(ALL_ENGINES)(`native addon kernels: %s${NATIVE_SKIP}`, (engine) => {
  const skip = !ENGINES.includes(engine);
  it.skipIf(skip)(
    `wasm ${engine} == cpu stock on 2-D, batched 3-D/4-D, all transposes, rank-3 x rank-2 both ways, fused bias+relu/linear`,
    async () => {
      await use('wasm', engine);
      expectMatchesOracle();
    },
  );

  it.skipIf(skip)(`cpu ${engine} == cpu stock on the same shapes`, async () => {
    await use('cpu', engine);
    expectMatchesOracle();
    await installMatmulKernels({ mode: 'stock', log: quiet });
  });

  it.skipIf(skip)('gradients through matMul and fused matMul are unchanged by the native kernel', async () => {
    const grads = async (mode: MatmulPath) => {
      await use('wasm', mode);
      return tf.tidy(() => {
        const q = tf.tensor(rand([2, 3, 6, 4], 1), [2, 3, 6, 4]),
          k = tf.tensor(rand([2, 3, 6, 4], 2), [2, 3, 6, 4]);
        const x = tf.tensor(rand([6, 5], 3), [6, 5]),
          w = tf.tensor(rand([5, 7], 4), [5, 7]),
          b = tf.tensor(rand([7], 5), [7]);
        const f = (q: tf.Tensor, k: tf.Tensor, x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => {
          const s = tf.matMul(q, k, false, true); // [2, 3, 6, 6]
          const v = tf.matMul(s, k); // [2, 3, 6, 4]
          const t = tf.matMul(q, v, true, false); // [2, 3, 4, 4]
          const h = tf.fused.matMul({ a: x, b: w, bias: b, activation: 'relu' }); // [6, 7]
          const u = tf.matMul(x, h, true, false); // [5, 7]
          return tf.add(tf.sum(tf.square(t)), tf.sum(tf.mul(h, 0.5))).add(tf.sum(u));
        };
        return tf
          .grads(f)([q, k, x, w, b])
          .map((g) => g.dataSync() as Float32Array);
      });
    };
    const stock = await grads('stock');
    const nat = await grads(engine);
    stock.forEach((g, i) => expect(maxAbsDiff(nat[i], g)).toBeLessThan(1e-4 * (1 + Math.max(...g.map(Math.abs)))));
  });

  it.skipIf(skip)('a stale heap view (wasm memory grew) throws a RangeError instead of writing freed memory', () => {
    const detached = new Uint8Array(new ArrayBuffer(64));
    structuredClone(detached.buffer, { transfer: [detached.buffer] });
    const ok = new Float32Array(4);
    const gemm = engine === 'native' ? native.addon!.gemm! : native.addon!.gemmBuiltin;
    expect(() => gemm(detached, 0, 0, ok, 0, 0, ok, 0, null, 0, 1, 2, 2, 1, false, false, 0)).toThrow(RangeError);
    expect(() => gemm(ok, 12, 0, ok, 0, 0, ok, 0, null, 0, 1, 2, 2, 1, false, false, 0)).toThrow(/out of bounds/);
  });
});

describe('fallback matmul kernels (wasm, no native code)', () => {
  it('fallback == cpu stock on 2-D, batched 3-D/4-D, all transposes, rank-3 x rank-2 both ways, fused bias+relu/linear', async () => {
    await use('wasm', 'fallback');
    const keep = fallbackTuning.minSplitSliceMacs;
    try {
      fallbackTuning.minSplitSliceMacs = 0; // every batched product through the split path
      expectMatchesOracle();
    } finally {
      fallbackTuning.minSplitSliceMacs = keep;
    }
  });

  it('fallback with its default tuning (tiny batched slices on the stock kernel, fused never) == cpu stock', async () => {
    await use('wasm', 'fallback');
    expect(fallbackTuning.minSplitSliceMacs).toBeGreaterThan(3 * 9 * 7); // the small cases here take the stock path
    expectMatchesOracle();
  });

  it('stock wasm bug: _FusedMatMul with batch > 1 and a bias disagrees with cpu (why the oracle is cpu)', async () => {
    await use('wasm', 'stock');
    const i = FUSED.findIndex((c) => c.a[0] === 3 && c.b[0] === 3 && c.bias);
    // If a tfjs upgrade fixes this, the stock path becomes a valid oracle again: revisit the comment above.
    expect(maxAbsDiff(compute(FUSED[i], i * 10), refFused[i])).toBeGreaterThan(1e-2);
  });
});

/** A tiny attention + ReLU FFN block trained with Adam; returns the loss curve. */
async function lossCurve(mode: MatmulPath, steps = 5): Promise<number[]> {
  await use('wasm', mode);
  const [B, T, d] = [2, 8, 16];
  const v = (shape: number[], seed: number) => tf.variable(tf.tensor(rand(shape, seed), shape).mul(1 / Math.sqrt(shape[0])));
  const P = { Wq: v([d, d], 1), Wk: v([d, d], 2), Wv: v([d, d], 3), W1: v([d, 2 * d], 4), b1: v([2 * d], 5), W2: v([2 * d, d], 6) };
  const x = tf.tensor(rand([B * T, d], 7), [B * T, d]);
  const y = tf.tensor(rand([B * T, d], 8), [B * T, d]);
  const heads = (t: tf.Tensor) => t.reshape([B, T, 2, d / 2]).transpose([0, 2, 1, 3]); // [B, H, T, dh]
  const loss = () =>
    tf.tidy(() => {
      const att = tf.softmax(tf.matMul(heads(x.matMul(P.Wq)), heads(x.matMul(P.Wk)), false, true).mul(0.25)); // [B, H, T, T]
      const o = tf
        .matMul(att, heads(x.matMul(P.Wv)))
        .transpose([0, 2, 1, 3])
        .reshape([B * T, d]);
      const h = tf.fused.matMul({ a: o, b: P.W1, bias: P.b1, activation: 'relu' });
      return tf.losses.meanSquaredError(y, tf.add(o, h.matMul(P.W2))) as tf.Scalar;
    });
  const opt = tf.train.adam(0.01);
  const curve: number[] = [];
  for (let s = 0; s < steps; s++) {
    const l = opt.minimize(loss, true, Object.values(P))!;
    curve.push(l.dataSync()[0]);
    l.dispose();
  }
  opt.dispose();
  tf.dispose([...Object.values(P), x, y]);
  return curve;
}

describe('training', () => {
  it('a tiny attention+FFN model gives the same Adam loss curve on stock, fallback and native paths', async () => {
    const stock = await lossCurve('stock');
    expect(stock[stock.length - 1]).toBeLessThan(stock[0]); // it trains
    const fallback = await lossCurve('fallback');
    fallback.forEach((l, i) => expect(Math.abs(l - stock[i])).toBeLessThan(1e-4));
    for (const engine of ENGINES) {
      const nat = await lossCurve(engine);
      nat.forEach((l, i) => expect(Math.abs(l - stock[i])).toBeLessThan(1e-4));
    }
  });
});

describe('no leaks', () => {
  for (const [backend, mode] of [
    ['wasm', 'native'],
    ['wasm', 'builtin'],
    ['wasm', 'fallback'],
    ['cpu', 'native'],
    ['cpu', 'builtin'],
  ] as const) {
    it.skipIf(mode !== 'fallback' && !ENGINES.includes(mode))(
      `${backend} ${mode}: matmuls leave no tensors or backend buffers behind${mode !== 'fallback' ? NATIVE_SKIP : ''}`,
      async () => {
        await use(backend, mode);
        const be = tf.backend();
        const before = [tf.memory().numTensors, be.numDataIds()];
        PRODUCTS.forEach((c, i) => compute(c, i));
        FUSED.forEach((c, i) => compute(c, i));
        expect([tf.memory().numTensors, be.numDataIds()]).toEqual(before);
        await installMatmulKernels({ mode: 'stock', log: quiet });
      },
    );
  }
});

describe('wasm memory growth', () => {
  for (const mode of ['native', 'builtin', 'fallback'] as const) {
    it.skipIf(mode !== 'fallback' && !ENGINES.includes(mode))(
      `${mode}: an output that forces the heap to grow is still correct${mode !== 'fallback' ? NATIVE_SKIP : ''}`,
      async () => {
        await use('wasm', mode);
        const be = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
        const before = be.wasm.HEAPU8.buffer;
        // Output bigger than the whole current heap: its allocation must grow (and detach) it.
        const n = Math.ceil(Math.sqrt(before.byteLength / 4)) + 64;
        const K = 3,
          batch = 2;
        const av = rand([batch, K, n], 1),
          bv = rand([batch, K, n], 2); // product: aᵀ b, [batch, n, n]
        const a = tf.tensor(av, [batch, K, n]),
          b = tf.tensor(bv, [batch, K, n]);
        const c = tf.matMul(a, b, true, false);
        expect(be.wasm.HEAPU8.buffer).not.toBe(before);
        const got = c.dataSync();
        for (const [s, i, j] of [
          [0, 0, 0],
          [1, n - 1, n - 1],
          [1, 17, n - 5],
          [0, n - 3, 2],
        ]) {
          let want = 0;
          for (let k = 0; k < K; k++) want += av[(s * K + k) * n + i] * bv[(s * K + k) * n + j];
          expect(got[(s * n + i) * n + j]).toBeCloseTo(want, 5);
        }
        tf.dispose([a, b, c]);
      },
    );
  }
});

describe('selection and fallback reporting', () => {
  const withEnv = async <T>(env: Record<string, string | undefined>, f: () => Promise<T>): Promise<T> => {
    const old = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.entries(env).forEach(([k, v]) => (v === undefined ? delete process.env[k] : (process.env[k] = v)));
    try {
      return await f();
    } finally {
      Object.entries(old).forEach(([k, v]) => (v === undefined ? delete process.env[k] : (process.env[k] = v)));
    }
  };

  it('SEQLAB_NATIVE_MATMUL=off: auto runs on the fallback path and says why and how to enable native', async () => {
    await tf.setBackend('wasm');
    const lines: string[] = [];
    const info = await withEnv({ SEQLAB_NATIVE_MATMUL: 'off' }, () => installMatmulKernels({ log: (l) => lines.push(l) }));
    expect(info.path).toBe('fallback');
    expect(matmulInfo()).toEqual(info);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/fallback path on wasm .*SEQLAB_NATIVE_MATMUL=off.*libopenblas-dev/);
    expect(tf.matMul(tf.ones([2, 3, 4]), tf.ones([2, 5, 4]), false, true).dataSync()[0]).toBe(4);
  });

  it('a bad addon path: auto falls back, mode native is a one-line UserError', async () => {
    await tf.setBackend('wasm');
    const env = { SEQLAB_NATIVE_MATMUL: undefined, SEQLAB_NATIVE_MATMUL_PATH: '/nonexistent/seqlab.node' };
    const info = await withEnv(env, () => installMatmulKernels({ log: quiet }));
    expect(info).toMatchObject({ path: 'fallback', threads: 1 });
    expect(info.reason).toMatch(/not built/);
    await expect(withEnv(env, () => installMatmulKernels({ mode: 'native', log: quiet }))).rejects.toMatchObject({
      name: 'UserError',
      message: expect.stringMatching(/^matmul mode 'native' is not available on backend wasm: .*not built/),
    });
  });

  it('SEQLAB_MATMUL forces a path for a whole sweep; an unknown value is a UserError', async () => {
    await tf.setBackend('wasm');
    expect((await withEnv({ SEQLAB_MATMUL: 'stock' }, () => installMatmulKernels({ log: quiet }))).path).toBe('stock');
    expect((await withEnv({ SEQLAB_MATMUL: 'fallback' }, () => installMatmulKernels({ log: quiet }))).path).toBe('fallback');
    await expect(withEnv({ SEQLAB_MATMUL: 'blas' }, () => installMatmulKernels({ log: quiet }))).rejects.toMatchObject({
      name: 'UserError',
      message: expect.stringMatching(/unknown matmul mode 'blas'/),
    });
    await installMatmulKernels({ log: quiet });
  });

  it('cpu without the addon stays on stock (the fallback kernels are wasm-only)', async () => {
    await tf.setBackend('cpu');
    const info = await withEnv({ SEQLAB_NATIVE_MATMUL: 'off' }, () => installMatmulKernels({ log: quiet }));
    expect(info.path).toBe('stock');
    await expect(installMatmulKernels({ mode: 'fallback', log: quiet })).rejects.toThrow(/wasm only/);
    await tf.setBackend('wasm');
  });

  it('idempotent: installing twice gives the same result and still-correct kernels', async () => {
    await tf.setBackend('wasm');
    const first = await installMatmulKernels({ threads: 1, log: quiet });
    const second = await installMatmulKernels({ threads: 1, log: quiet });
    expect(second).toEqual(first);
    expect(first.path).toBe(ENGINES[0] ?? 'fallback');
    expectMatchesOracle();
  });

  it('threads: option > SEQLAB_BLAS_THREADS > 1 per worker when SEQLAB_JOBS > 1 > all cores', async () => {
    await withEnv({ SEQLAB_BLAS_THREADS: '3', SEQLAB_JOBS: '4' }, async () => {
      expect(resolveThreads(2)).toBe(2);
      expect(resolveThreads()).toBe(3);
    });
    await withEnv({ SEQLAB_BLAS_THREADS: 'auto', SEQLAB_JOBS: '4' }, async () => expect(resolveThreads()).toBe(1));
    await withEnv({ SEQLAB_BLAS_THREADS: undefined, SEQLAB_JOBS: undefined }, async () => {
      expect(resolveThreads()).toBe((await import('node:os')).availableParallelism());
    });
    await withEnv({ SEQLAB_BLAS_THREADS: 'many' }, async () => expect(() => resolveThreads()).toThrow(/SEQLAB_BLAS_THREADS/));
    if (native.addon?.threads) {
      await tf.setBackend('wasm');
      expect((await installMatmulKernels({ mode: 'native', threads: 1, log: quiet })).threads).toBe(1);
      expect(native.addon.threads()).toBe(1);
    }
    if (native.addon) {
      expect((await installMatmulKernels({ mode: 'builtin', threads: 2, log: quiet })).threads).toBe(2);
      expect(native.addon.builtinThreads()).toBe(2);
    }
  });
});

describe('bench --kernels', () => {
  it('reports every available path side by side with consistent rows', async () => {
    await tf.setBackend('wasm');
    await installMatmulKernels({ mode: 'fallback', log: quiet });
    const lines: string[] = [];
    const rows = await benchKernels((l) => lines.push(l), { sizes: [32], block: { B: 1, T: 8, d: 8, heads: 2 }, steps: 1, threads: 1 });
    const paths = ['stock', 'fallback', ...ENGINES.slice().reverse()];
    expect([...new Set(rows.map((r) => r.path))]).toEqual(paths);
    for (const p of paths) {
      expect(rows.filter((r) => r.path === p).map((r) => r.case)).toEqual(['plain', 'transA', 'transB', 'batched', 'train-step']);
    }
    for (const r of rows) expect(r.ms).toBeGreaterThan(0);
    expect(rows.find((r) => r.case === 'plain')!.gflops).toBeCloseTo((2 * 32 ** 3) / rows[0].ms / 1e6, 6);
    expect(lines.some((l) => l.startsWith('summary'))).toBe(true);
    for (const r of rows.filter((x) => x.path === 'builtin'))
      expect(r.detail).toMatch(/^built-in GEMM (avx512|avx2|generic) \d+x\d+, 1 thread/);
    for (const r of rows.filter((x) => x.path === 'native'))
      expect(r.detail).toMatch(/^OpenBLAS \d+\.\d+\.\d+, core \w+ \((user|tuned|detected|off)\)/);
    if (ENGINES.length === 2) expect(lines.some((l) => /builtin GEMM at n=32: \d+% of OpenBLAS/.test(l))).toBe(true);
    expect(matmulInfo()!.path).toBe('fallback'); // the path before the benchmark is restored
  });
});

describe('profile (stretch)', () => {
  it('profiles one training step and ranks kernels by time, matmuls included', async () => {
    await tf.setBackend('wasm');
    await installMatmulKernels({ mode: 'fallback', log: quiet });
    const lines: string[] = [];
    const ops = await profileTrainingStep((l) => lines.push(l), { block: { B: 1, T: 8, d: 8, heads: 2 }, top: 3 });
    expect(ops.map((o) => o.kernel)).toContain('BatchMatMul');
    expect(ops.every((o, i) => i === 0 || ops[i - 1].ms >= o.ms)).toBe(true);
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/fallback path/);
  });
});

describe('engine routing of the native kernels', () => {
  it('products under minFlops and batched products go to the second engine, the rest to the first', async () => {
    await tf.setBackend('cpu');
    const calls: string[] = [];
    const spy =
      (name: string): GemmFn =>
      () =>
        void calls.push(name);
    const stock = { batchMatMul: tf.getKernel('BatchMatMul', 'cpu')!, fusedMatMul: tf.getKernel('_FusedMatMul', 'cpu')! };
    const [bmm] = nativeKernels(spy('blas'), stock, spy('builtin'), 1e6);
    const product = (a: number[], b: number[]) => {
      const [x, y] = [tf.zeros(a), tf.zeros(b)];
      const out = bmm.kernelFunc({ inputs: { a: x, b: y }, attrs: {}, backend: tf.backend() }) as tf.TensorInfo;
      tf.backend().disposeData(out.dataId);
      tf.dispose([x, y]);
      return calls.pop();
    };
    expect(product([8, 8], [8, 8])).toBe('builtin'); // 1 kFLOP
    expect(product([128, 128], [128, 128])).toBe('blas'); // 4.2 MFLOP
    expect(product([2, 128, 128], [2, 128, 128])).toBe('builtin'); // batched
    expect(BLAS_MIN_FLOPS).toBeGreaterThan(0);
  });
});
