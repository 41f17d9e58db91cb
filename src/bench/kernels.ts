/**
 * `seqlab bench --kernels`: GFLOP/s of plain, transposed and batched matmuls and ms per
 * training step of a reference attention + FFN block, for every matmul path available on
 * the active backend (stock / fallback / native), side by side in one process.
 */
import * as tf from '@tensorflow/tfjs';
import { medianMs } from '../measure/measure.ts';
import { MATMUL_PATHS, type MatmulPath } from '../native/config.ts';
import { installMatmulKernels, matmulInfo, type MatmulInfo } from '../native/matmul.ts';

export interface Row {
  path: MatmulPath;
  /** plain | transA | transB | batched | train-step */
  case: string;
  /** Matrix size n for products; 0 for the training step. */
  size: number;
  /** Operand shapes, e.g. "[512,512]x[512,512]^T". */
  shapes: string;
  ms: number;
  /** NaN for the training step. */
  gflops: number;
  /** The engine behind the path: OpenBLAS version and core, or the built-in GEMM's micro-kernel and threads. */
  detail: string;
}

/** OpenBLAS version + core (and how it was chosen), or the built-in kernel, of an installed path. */
export function pathDetail(info: MatmulInfo): string {
  if (info.path === 'native' && info.blas) {
    const version = info.blas.config?.match(/OpenBLAS [\d.]+/)?.[0] ?? 'OpenBLAS';
    return `${version}, core ${info.blas.core} (${info.blas.core_source}), ${info.threads} thread(s)`;
  }
  if (info.path === 'builtin') return `built-in GEMM ${info.kernel}, ${info.threads} thread(s)`;
  return info.path === 'fallback' ? 'JS split/transposes over stock wasm' : 'tfjs stock kernels';
}

export interface BenchOptions {
  sizes?: number[];
  /** Reference block; default B 16, T 256, d 128 (4 heads, FFN 4d). */
  block?: { B: number; T: number; d: number; heads: number };
  /** Timed training steps per path (after one warm-up step). */
  steps?: number;
  /** Paths to measure; default every path the backend has. */
  paths?: MatmulPath[];
  threads?: number;
}

interface Product {
  case: string;
  a: number[];
  b: number[];
  tA: boolean;
  tB: boolean;
}

/** Three products of equal FLOPs (2n^3) per size, so their times compare directly. */
function products(n: number): Product[] {
  return [
    { case: 'plain', a: [n, n], b: [n, n], tA: false, tB: false },
    { case: 'transA', a: [n, n], b: [n, n], tA: true, tB: false },
    { case: 'transB', a: [n, n], b: [n, n], tA: false, tB: true },
    { case: 'batched', a: [4, n / 2, n], b: [4, n, n / 2], tA: false, tB: false },
  ];
}

const fmtShape = (s: number[], t: boolean) => `[${s.join(',')}]${t ? '^T' : ''}`;

/** One causal attention + ReLU FFN block with a squared-output loss; returns step(). */
function referenceBlock({ B, T, d, heads }: { B: number; T: number; d: number; heads: number }) {
  const dh = d / heads;
  const w = (shape: number[], seed: number) => tf.variable(tf.randomNormal(shape, 0, 1 / Math.sqrt(shape[0]), 'float32', seed));
  const params = {
    Wq: w([d, d], 1),
    Wk: w([d, d], 2),
    Wv: w([d, d], 3),
    Wo: w([d, d], 4),
    W1: w([d, 4 * d], 5),
    b1: tf.variable(tf.zeros([4 * d])),
    W2: w([4 * d, d], 6),
  };
  const x = tf.randomNormal([B * T, d], 0, 1, 'float32', 7); // rows are (b, t)
  const mask = tf.tidy(() => tf.mul(tf.sub(1, tf.linalg.bandPart(tf.ones([T, T]), -1, 0)), -1e9)); // [T, T]
  // tfjs has no gradient for [B, T, d] @ [d, n] broadcasting, so projections act on [B*T, d] rows.
  const split = (t: tf.Tensor) => t.reshape([B, T, heads, dh]).transpose([0, 2, 1, 3]); // [B, H, T, dh]
  const loss = () =>
    tf.tidy(() => {
      const q = split(tf.matMul(x, params.Wq)),
        k = split(tf.matMul(x, params.Wk)),
        v = split(tf.matMul(x, params.Wv));
      const att = tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dh)), mask)); // [B, H, T, T]
      const y = tf
        .matMul(att, v)
        .transpose([0, 2, 1, 3])
        .reshape([B * T, d]);
      const h = tf.add(x, tf.matMul(y, params.Wo)); // [B*T, d]
      const f = tf.fused.matMul({ a: h, b: params.W1, bias: params.b1, activation: 'relu' }); // [B*T, 4d]
      const out = tf.add(h, tf.matMul(f, params.W2));
      return tf.mean(tf.square(out)) as tf.Scalar;
    });
  const vars = Object.values(params);
  return {
    step: () =>
      tf.tidy(() => {
        const { value, grads } = tf.variableGrads(loss, vars);
        // One scalar that depends on every gradient, so timing waits for all of them.
        return tf.addN([value, ...Object.values(grads).map((g) => tf.sum(g))]);
      }),
    dispose: () => tf.dispose([...vars, x, mask]),
  };
}

export async function benchKernels(log: (line: string) => void, opts: BenchOptions = {}): Promise<Row[]> {
  const sizes = opts.sizes ?? [256, 512, 1024];
  const block = opts.block ?? { B: 16, T: 256, d: 128, heads: 4 };
  const steps = opts.steps ?? 3;
  const before = matmulInfo();
  const backend = tf.getBackend();
  const wanted = [...new Set(opts.paths ?? MATMUL_PATHS.slice().reverse())]; // stock, fallback, builtin, native
  const rows: Row[] = [];
  const paths: MatmulPath[] = [];
  for (const mode of wanted) {
    const got = await installMatmulKernels({ mode, threads: opts.threads, log: () => {} }).catch((e: Error) => e);
    if (got instanceof Error) {
      log(`bench --kernels: ${mode} path skipped (${got.message})`);
      continue;
    }
    paths.push(mode);
    const detail = pathDetail(got);
    log(`bench --kernels: ${mode} path on ${backend} (${got.reason})`);
    if (got.blas) log(`  OpenBLAS: ${got.blas.config}; core ${got.blas.core}: ${got.blas.core_note}`);
    for (const n of sizes) {
      for (const p of products(n)) {
        const [a, b] = [tf.randomNormal(p.a, 0, 1, 'float32', 1), tf.randomNormal(p.b, 0, 1, 'float32', 2)];
        const ms = await medianMs(() => tf.matMul(a, b, p.tA, p.tB), { minReps: 2, maxReps: 20, minMs: 300 });
        tf.dispose([a, b]);
        const row: Row = {
          path: mode,
          case: p.case,
          size: n,
          shapes: `${fmtShape(p.a, p.tA)}x${fmtShape(p.b, p.tB)}`,
          ms,
          gflops: (2 * n ** 3) / ms / 1e6,
          detail,
        };
        rows.push(row);
        log(
          `  ${mode.padEnd(8)} ${p.case.padEnd(7)} n=${String(n).padEnd(4)} ${ms.toFixed(2).padStart(9)} ms ${row.gflops.toFixed(1).padStart(7)} GFLOP/s  ${row.shapes}`,
        );
      }
    }
    const blk = referenceBlock(block);
    const ms = await medianMs(blk.step, { minReps: steps });
    blk.dispose();
    rows.push({
      path: mode,
      case: 'train-step',
      size: 0,
      shapes: `B${block.B} T${block.T} d${block.d} h${block.heads}`,
      ms,
      gflops: NaN,
      detail,
    });
    log(`  ${mode.padEnd(8)} train-step (attention+FFN B${block.B} T${block.T} d${block.d}, fwd+bwd) ${ms.toFixed(1)} ms`);
  }
  summary(rows, paths, log);
  // Leave the process on the path it had before the benchmark.
  await installMatmulKernels({ mode: before?.path ?? 'auto', threads: before?.threads, log: () => {} });
  return rows;
}

export interface OpProfile {
  kernel: string;
  calls: number;
  ms: number;
}

/**
 * tf.profile of one training step of the reference block on the current path: kernel time
 * per op, largest first (kernels our matmul kernels call internally are counted in theirs).
 */
export async function profileTrainingStep(
  log: (line: string) => void,
  opts: Pick<BenchOptions, 'block'> & { top?: number } = {},
): Promise<OpProfile[]> {
  const blk = referenceBlock(opts.block ?? { B: 16, T: 256, d: 128, heads: 4 });
  tf.dispose(blk.step()); // warm-up: the first step compiles nothing but allocates
  const info = await tf.profile(() => {
    const y = blk.step();
    y.dataSync();
    return y;
  });
  blk.dispose();
  tf.dispose(info.result as tf.Tensor);
  const byOp = new Map<string, OpProfile>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const e = byOp.get(k.name) ?? { kernel: k.name, calls: 0, ms: 0 };
    e.calls += 1;
    e.ms += ms;
    byOp.set(k.name, e);
  }
  const ops = [...byOp.values()].sort((a, b) => b.ms - a.ms);
  const total = ops.reduce((t, o) => t + o.ms, 0);
  log(`profile of one training step on the ${matmulInfo()?.path ?? 'stock'} path: ${total.toFixed(1)} ms kernel time`);
  for (const o of ops.slice(0, opts.top ?? 10)) {
    log(
      `  ${o.kernel.padEnd(16)} ${String(o.calls).padStart(4)} calls ${o.ms.toFixed(1).padStart(9)} ms ${((100 * o.ms) / total).toFixed(1).padStart(5)}%`,
    );
  }
  return ops;
}

function summary(rows: Row[], paths: MatmulPath[], log: (line: string) => void): void {
  const get = (path: MatmulPath, c: string, n = 0) => rows.find((r) => r.path === path && r.case === c && r.size === n)?.ms;
  const sizes = [...new Set(rows.filter((r) => r.size > 0).map((r) => r.size))];
  log('summary (time relative to the plain product of the same size; training step speed-up vs stock):');
  for (const path of paths) {
    const ratios = sizes.map((n) => {
      const plain = get(path, 'plain', n)!;
      return `n=${n}: transA ${(get(path, 'transA', n)! / plain).toFixed(2)}x, transB ${(get(path, 'transB', n)! / plain).toFixed(2)}x, batched ${(get(path, 'batched', n)! / plain).toFixed(2)}x`;
    });
    const stockStep = get('stock', 'train-step'),
      step = get(path, 'train-step');
    const speedup = stockStep && step ? `, train-step ${(stockStep / step).toFixed(1)}x vs stock` : '';
    log(`  ${path}: ${ratios.join('; ')}${speedup}`);
  }
  const n = Math.max(...sizes);
  const [builtin, native] = [get('builtin', 'plain', n), get('native', 'plain', n)];
  if (builtin && native) log(`  builtin GEMM at n=${n}: ${Math.round((100 * native) / builtin)}% of OpenBLAS's GFLOP/s`);
}
