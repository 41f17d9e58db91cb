/**
 * `npm run bench:profile`: where one training step of each reference model (bench/pytorch/reference.yaml)
 * spends its kernel time: tf.profile of one full step (forward, backward, AdamW) after warm-up
 * steps, kernels grouped by name, largest first, with the step's wall time and the share of time
 * outside any kernel (dispatch, JavaScript glue).
 *
 *   npm run bench:profile -- [--families transformer,retnet,selret,mamba] [--top 15] [--threads 2] [--set k=v]... [--shapes]
 *
 * --shapes adds the costliest (kernel, input shapes) pairs.
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { loadPlan } from '../src/config/plan.ts';
import { installMatmulKernels } from '../src/native/matmul.ts';
import { selectBackend } from '../src/backend/select.ts';
import { buildModel } from '../src/models/model.ts';
import { trainStep } from '../src/train/loop.ts';
import { AdamW } from '../src/train/optimizer.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      families: { type: 'string', default: 'transformer,retnet,selret,mamba' },
      top: { type: 'string', default: '15' },
      threads: { type: 'string', default: '2' },
      backend: { type: 'string', default: 'wasm' },
      set: { type: 'string', multiple: true, default: [] },
      shapes: { type: 'boolean', default: false },
    },
  });
  await selectBackend(values.backend!);
  await installMatmulKernels({ threads: Number(values.threads), log: () => {} });
  const plan = loadPlan(path.join(here, 'pytorch/reference.yaml'), { set: values.set! });
  for (const family of values.families!.split(',')) {
    const cfg = plan.runs.find((r) => r.case === family)?.config;
    if (!cfg) throw new Error(`unknown family ${family}`);
    const model = buildModel(cfg.model, 0);
    const opt = new AdamW(model.weights, cfg.train);
    const B = cfg.train.batch_size,
      T = cfg.model.seq_len;
    const ids = new Int32Array(B * T).map((_, i) => (i * 7919) % 256);
    const batch = { inputs: ids, targets: ids, batch: B, seqLen: T };
    const params = [...model.weights];
    // the training loop's own step (forward, backward, clipping, AdamW)
    const step = () => trainStep(model, params, opt, [batch], cfg.train.clip, 1e-3, cfg.train.checkpoint_activations);
    const run = () => {
      const out = step();
      out.dataSync();
      out.dispose();
    };
    for (let i = 0; i < 2; i++) run();
    const t0 = performance.now();
    run();
    const wall = performance.now() - t0;
    const info = await tf.profile(() => {
      const y = step();
      y.dataSync();
      return y;
    });
    tf.dispose(info.result as tf.Tensor);
    const by = new Map<string, { calls: number; ms: number }>();
    for (const k of info.kernels) {
      const e = by.get(k.name) ?? { calls: 0, ms: 0 };
      e.calls++;
      e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      by.set(k.name, e);
    }
    const rows = [...by].sort((a, b) => b[1].ms - a[1].ms);
    const total = rows.reduce((s, [, e]) => s + e.ms, 0);
    console.log(
      `${family}: step ${wall.toFixed(0)} ms wall (${(((B * T) / wall) * 1000).toFixed(0)} tok/s), ${total.toFixed(0)} ms in ${info.kernels.length} kernels`,
    );
    for (const [name, e] of rows.slice(0, Number(values.top)))
      console.log(
        `  ${name.padEnd(22)} ${String(e.calls).padStart(5)} ${e.ms.toFixed(1).padStart(8)} ms ${((100 * e.ms) / total).toFixed(1).padStart(5)}%`,
      );
    if (values.shapes) {
      // the costliest (kernel, input shapes) pairs
      const byShape = new Map<string, { calls: number; ms: number }>();
      for (const k of info.kernels) {
        const key = `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join(' ')}`;
        const e = byShape.get(key) ?? { calls: 0, ms: 0 };
        e.calls++;
        e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
        byShape.set(key, e);
      }
      for (const [key, e] of [...byShape].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(values.top)))
        console.log(`    ${e.ms.toFixed(1).padStart(8)} ms ${String(e.calls).padStart(4)}x ${key}`);
    }
    opt.dispose();
    model.dispose();
  }
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
