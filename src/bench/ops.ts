/**
 * Micro-benchmarks of the sequence-mixing kernels, forward + backward (docs/models.md 4.4, 5.5).
 * Run: npx tsx -e "import('./src/bench/ops.ts').then(m=>m.benchOps())"
 */
import * as tf from '@tensorflow/tfjs';
import { patchWasmKernels } from '../backend/compat.ts';
import { medianMs } from '../measure/measure.ts';
import { retentionChunk, retentionParallel } from '../ops/retention.ts';
import { selectiveScan, type ScanMode } from '../ops/scan.ts';

export interface Row {
  kernel: string;
  variant: string;
  shape: string;
  ms: number;
  /** ms of the slowest variant of the same kernel divided by this row's ms */
  speedup: number;
}

export interface BenchOpts {
  backend?: 'wasm' | 'cpu';
  reps?: number;
  /** retention core: batch (8 = the d_model 128 setting; the parallel form at T 2048 needs
   * ~0.5 GB per [B, H, T, T] tensor at B 8, beyond the 4 GB wasm heap with autograd), T, chunk */
  retB?: number;
  retT?: number;
  retChunk?: number;
  /** mamba scan: T, chunk */
  scanT?: number;
  scanChunk?: number;
  /** skip the (slow) sequential scan reference */
  skipSequential?: boolean;
  print?: boolean;
  /** which benchmarks to run (default both) */
  only?: Array<'retention' | 'scan'>;
  /** batch of the parallel-vs-chunk comparison (default 1, see above) */
  parallelB?: number;
  /** retention variants to run (default both) */
  retVariants?: Array<'parallel' | 'chunk'>;
}

export async function benchOps(opts: BenchOpts = {}): Promise<Row[]> {
  const backend = opts.backend ?? 'wasm';
  if (backend === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
    patchWasmKernels(); // view-based Slice/Unpack (src/backend/compat.ts)
  }
  await tf.setBackend(backend);
  await tf.ready();
  const reps = opts.reps ?? 3;
  const rows: Row[] = [];

  const only = opts.only ?? ['retention', 'scan'];
  // (a) retention core, d_model 128: H 4, dk = dv = 32. The parallel form at B 8, T 2048 needs
  // ~0.5 GB per [B, H, T, T] tensor and aborts the 4 GB wasm heap under autograd, so it is
  // measured at B = parallelB (default 1) next to the chunk form at the same batch and at B = retB.
  if (only.includes('retention')) {
    const H = 4,
      T = opts.retT ?? 2048,
      dk = 32,
      dv = 32,
      C = opts.retChunk ?? 64;
    const rv = opts.retVariants ?? ['parallel', 'chunk'];
    const pB = opts.parallelB ?? 1;
    const cases: Array<{ name: string; B: number; f: (...x: tf.Tensor[]) => tf.Tensor }> = [];
    if (rv.includes('parallel')) cases.push({ name: 'parallel', B: pB, f: (Q, K, V, A) => retentionParallel(Q, K, V, A).o });
    if (rv.includes('chunk')) {
      const chunk = (Q: tf.Tensor, K: tf.Tensor, V: tf.Tensor, A: tf.Tensor) => retentionChunk(Q, K, V, A, { chunk: C }).o;
      cases.push({ name: `chunk C=${C}`, B: pB, f: chunk });
      if ((opts.retB ?? 8) !== pB) cases.push({ name: `chunk C=${C}`, B: opts.retB ?? 8, f: chunk });
    }
    const ms: Array<{ name: string; B: number; ms: number }> = [];
    for (const c of cases) {
      const B = c.B;
      const q = tf.randomNormal([B, H, T, dk], 0, 1, 'float32', 1);
      const k = tf.randomNormal([B, H, T, dk], 0, 1 / Math.sqrt(dk), 'float32', 2);
      const v = tf.randomNormal([B, H, T, dv], 0, 1, 'float32', 3);
      const a = tf.randomUniform([B, H, T], -0.2, -0.01, 'float32', 4);
      const w = tf.randomNormal([B, H, T, dv], 0, 1, 'float32', 5);
      const fb = () => tf.tidy(() => tf.grads((...x: tf.Tensor[]) => tf.sum(tf.mul(c.f(...x), w)))([q, k, v, a]));
      ms.push({ name: c.name, B, ms: await medianMs(fb, { minReps: c.name === 'parallel' ? 1 : reps }) });
      tf.dispose([q, k, v, a, w]);
    }
    for (const m of ms) {
      const slow = Math.max(...ms.filter((o) => o.B === m.B).map((o) => o.ms));
      rows.push({
        kernel: 'retention core',
        variant: m.name,
        shape: `B${m.B} H${H} T${T} dk${dk} dv${dv}`,
        ms: m.ms,
        speedup: slow / m.ms,
      });
    }
  }

  // (b) mamba selective scan, d_model 128 -> D = 256, N = 16, B 8
  if (only.includes('scan')) {
    const B = 8,
      T = opts.scanT ?? 1024,
      D = 256,
      N = 16,
      C = opts.scanChunk;
    const x = tf.randomNormal([B, T, D], 0, 1, 'float32', 6);
    const dt = tf.randomUniform([B, T, D], 0.001, 0.1, 'float32', 7);
    const A = tf.neg(tf.randomUniform([D, N], 1, 16, 'float32', 8));
    const Bm = tf.randomNormal([B, T, N], 0, 1, 'float32', 9);
    const Cm = tf.randomNormal([B, T, N], 0, 1, 'float32', 10);
    const w = tf.randomNormal([B, T, D], 0, 1, 'float32', 11);
    const shape = `B${B} T${T} D${D} N${N}`;
    const fb = (mode: ScanMode) => () =>
      tf.tidy(() =>
        tf.grads((...z: tf.Tensor[]) => tf.sum(tf.mul(selectiveScan(z[0], z[1], z[2], z[3], z[4], { mode, chunk: C }).y, w)))([
          x,
          dt,
          A,
          Bm,
          Cm,
        ]),
      );
    const modes: ScanMode[] = opts.skipSequential ? ['chunked'] : ['sequential', 'chunked'];
    const ms = [];
    for (const mode of modes)
      ms.push({
        name: mode === 'chunked' ? `chunked C=${C ?? 64}` : mode,
        ms: await medianMs(fb(mode), { minReps: mode === 'sequential' ? 1 : reps }),
      });
    const slow = Math.max(...ms.map((m) => m.ms));
    for (const m of ms) rows.push({ kernel: 'mamba scan', variant: m.name, shape, ms: m.ms, speedup: slow / m.ms });
    tf.dispose([x, dt, A, Bm, Cm, w]);
  }

  if (opts.print ?? true) {
    console.log(`backend ${tf.getBackend()}, forward+backward, median of ${reps}`);
    console.table(rows.map((r) => ({ ...r, ms: Math.round(r.ms), speedup: Number(r.speedup.toFixed(2)) })));
  }
  return rows;
}
