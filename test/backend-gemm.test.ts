// The addon's built-in packed SGEMM (native/gemm.c) against a float64 reference: every
// micro-kernel this CPU supports, one and two threads, odd shapes across the MR/NR/KC/MC/NC
// block edges, transposes, batches with broadcast operands, bias and relu; and an addon built
// without OpenBLAS (simulated with SEQLAB_CBLAS=off), which auto then runs on the builtin path.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadNativeAddon, type NativeAddon } from '../src/native/addon.ts';
import { DEFAULT_ADDON_PATH } from '../src/native/config.ts';
import { installMatmulKernels } from '../src/native/matmul.ts';

const { addon, reason } = loadNativeAddon(DEFAULT_ADDON_PATH);
const SKIP = addon ? '' : ` (SKIPPED: ${reason})`;

function rand(n: number, seed: number): Float32Array {
  const v = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 31 - 1;
  }
  return v;
}

interface P {
  batch: number;
  M: number;
  N: number;
  K: number;
  tA: boolean;
  tB: boolean;
  bcastA?: boolean;
  bcastB?: boolean;
  bias?: boolean;
  relu?: boolean;
}

/** Max |C - reference| / (1 + sqrt K) over one product; the C buffer starts as NaN so unwritten cells fail. */
function error(a: NativeAddon, p: P, seed: number): number {
  const sa = p.bcastA ? 0 : p.M * p.K,
    sb = p.bcastB ? 0 : p.K * p.N;
  const A = rand(Math.max(1, p.bcastA ? 1 : p.batch) * p.M * p.K, seed),
    B = rand(Math.max(1, p.bcastB ? 1 : p.batch) * p.K * p.N, seed + 1);
  const bias = p.bias ? rand(p.N, seed + 2) : null;
  const C = new Float32Array(p.batch * p.M * p.N).fill(NaN);
  a.gemmBuiltin(A, 0, sa, B, 0, sb, C, 0, bias, 0, p.batch, p.M, p.N, p.K, p.tA, p.tB, p.relu ? 1 : 0);
  let worst = 0;
  for (let s = 0; s < p.batch; s++)
    for (let i = 0; i < p.M; i++)
      for (let j = 0; j < p.N; j++) {
        let acc = bias ? bias[j] : 0;
        for (let k = 0; k < p.K; k++)
          acc += A[s * sa + (p.tA ? k * p.M + i : i * p.K + k)] * B[s * sb + (p.tB ? j * p.K + k : k * p.N + j)];
        if (p.relu && acc < 0) acc = 0;
        const d = Math.abs(C[(s * p.M + i) * p.N + j] - acc);
        worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
      }
  return worst / (1 + Math.sqrt(p.K));
}

const T = [false, true];
const SHAPES: P[] = [
  ...T.flatMap((tA) => T.map((tB) => ({ batch: 1, M: 29, N: 45, K: 31, tA, tB }))), // single edge tiles
  ...T.map((t) => ({ batch: 1, M: 203, N: 35, K: 401, tA: t, tB: t, bias: true })), // crosses MC (192) and KC (384)
  { batch: 1, M: 3, N: 3105, K: 5, tA: false, tB: true, relu: true }, // crosses NC (3072)
  { batch: 1, M: 1, N: 1, K: 1, tA: false, tB: false },
  { batch: 1, M: 7, N: 9, K: 0, tA: false, tB: false, bias: true }, // K = 0: C = bias
  { batch: 1, M: 7, N: 9, K: 0, tA: true, tB: true },
  { batch: 5, M: 13, N: 33, K: 17, tA: true, tB: false, bias: true, relu: true }, // small batch: split over the batch
  { batch: 3, M: 64, N: 96, K: 80, tA: false, tB: true, bcastB: true }, // weights broadcast over the batch
  { batch: 2, M: 48, N: 40, K: 24, tA: true, tB: false, bcastA: true },
  { batch: 2, M: 130, N: 100, K: 80, tA: false, tB: false, relu: true }, // two threads, one batch element each
  { batch: 1, M: 20, N: 300, K: 200, tA: true, tB: true, bias: true }, // two threads split N
];

const original = addon?.builtinKernel().split(' ')[0];
const kernels = addon ? ['avx512', 'avx2', 'generic'].filter((k) => addon.setBuiltinKernel(k)) : [];
if (addon && original) addon.setBuiltinKernel(original);
afterAll(() => {
  if (addon && original) addon.setBuiltinKernel(original);
});

describe(`built-in GEMM${SKIP}`, () => {
  it.skipIf(!addon)('picks the widest micro-kernel this CPU supports and refuses unknown ones', () => {
    expect(kernels).toContain('generic');
    expect(original).toBe(kernels[0]);
    expect(addon!.setBuiltinKernel('avx1024')).toBe(false);
  });

  for (const k of ['avx512', 'avx2', 'generic']) {
    for (const threads of [1, 2]) {
      it.skipIf(!kernels.includes(k))(
        `${k}, ${threads} thread(s): odd shapes, transposes, batches, broadcasts, bias, relu, K = 0 match float64`,
        () => {
          expect(addon!.setBuiltinKernel(k)).toBe(true);
          expect(addon!.setBuiltinThreads(threads)).toBe(threads);
          const bad = SHAPES.map((p, i) => [JSON.stringify(p), error(addon!, p, i * 7 + 1)] as const).filter(([, e]) => !(e < 2e-6));
          expect(bad).toEqual([]);
        },
      );
    }
  }

  it.skipIf(!addon)('growing the thread pool mid-process (2 -> 3 -> 1 -> 4 threads) keeps every product right', () => {
    addon!.setBuiltinKernel(original!);
    const big = SHAPES.filter((p) => 2 * p.batch * p.M * p.N * p.K > 2e6);
    expect(big.length).toBeGreaterThan(1);
    for (const threads of [2, 3, 1, 4]) {
      addon!.setBuiltinThreads(threads);
      for (const [i, p] of big.entries()) expect(error(addon!, p, i + 99), `${threads} threads ${JSON.stringify(p)}`).toBeLessThan(2e-6);
    }
  });

  it.skipIf(!addon)('bounds are checked like the OpenBLAS engine (too-short C is a RangeError)', () => {
    const a = new Float32Array(6),
      c = new Float32Array(3);
    expect(() => addon!.gemmBuiltin(a, 0, 0, a, 0, 0, c, 0, null, 0, 1, 2, 2, 3, false, false, 0)).toThrow(/out of bounds/);
  });
});

describe('an install without a C compiler', () => {
  it('prints one line saying what is lost and how to get it back, and records it for env.json', () => {
    const dir = mkdtempSync(join(tmpdir(), 'seqlab-nocc-'));
    try {
      const r = spawnSync(process.execPath, ['native/build.js'], {
        encoding: 'utf8',
        env: { ...process.env, PATH: '/nonexistent', CC: '', SEQLAB_NATIVE_BUILD_DIR: dir },
      });
      expect(r.status).toBe(0); // never fails the install
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^seqlab native matmul: not built: no C compiler on PATH.*pure-JS matmul kernels.*To get it back: apt-get install -y build-essential/,
      );
      const status = JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8'));
      expect(status).toMatchObject({ built: false, cblas: false });
      expect(status.line).toBe(lines[0].replace('seqlab native matmul: ', ''));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe(`an addon built without OpenBLAS${SKIP}`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'seqlab-noblas-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.skipIf(!addon)('builds with SEQLAB_CBLAS=off, has only the built-in GEMM, and auto selects it', async () => {
    const r = spawnSync(process.execPath, ['native/build.js'], {
      encoding: 'utf8',
      env: { ...process.env, SEQLAB_CBLAS: 'off', SEQLAB_NATIVE_BUILD_DIR: dir },
    });
    expect(r.stdout).toMatch(
      /built .* with the built-in GEMM \(\w+ \d+x\d+\) only \(SEQLAB_CBLAS=off\); for OpenBLAS: apt-get install -y libopenblas-dev/,
    );
    const status = JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8'));
    expect(status).toMatchObject({ built: true, cblas: false });
    const path = join(dir, 'Release', 'seqlab.node');
    const m = createRequire(import.meta.url)(path) as NativeAddon;
    expect(m.hasCblas).toBe(false);
    expect(m.gemm).toBeUndefined();
    expect(m.corename()).toBeNull();

    const old = process.env.SEQLAB_NATIVE_MATMUL_PATH;
    process.env.SEQLAB_NATIVE_MATMUL_PATH = path;
    try {
      await tf.setBackend('wasm');
      const lines: string[] = [];
      const info = await installMatmulKernels({ threads: 2, log: (l) => lines.push(l) });
      expect(info).toMatchObject({ path: 'builtin', threads: 2 });
      expect(lines[0]).toMatch(/builtin path on wasm \(built-in GEMM \w+ \d+x\d+, 2 threads/);
      const y = tf.matMul(tf.ones([3, 5, 4]), tf.ones([4, 6]));
      expect(Array.from(y.dataSync()).every((v) => v === 4)).toBe(true);
      await expect(installMatmulKernels({ mode: 'native', log: () => {} })).rejects.toThrow(
        /built without OpenBLAS; for OpenBLAS: apt-get install -y libopenblas-dev/,
      );
    } finally {
      if (old === undefined) delete process.env.SEQLAB_NATIVE_MATMUL_PATH;
      else process.env.SEQLAB_NATIVE_MATMUL_PATH = old;
      await installMatmulKernels({ mode: 'stock', log: () => {} });
    }
  });
});
