/**
 * T22 training smoke test (wasm backend): every preset, tiny (d 16, 2 layers, T 32, B 8 = 256
 * tokens), overfits one fixed batch: loss below 0.1 x initial within 300 Adam steps. Also the
 * step-0 loss is the same for the parallel and chunkwise training paths.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { sparseCrossEntropy } from '../src/backend/compat.ts';
import { buildModel } from '../src/models/model.ts';
import { PRESETS } from '../src/models/presets.ts';
import type { ResolvedModel } from '../src/models/resolved.ts';
import { tinyModel, tokens } from './models-util.ts';

const V = 16;
const T = 32;
const B = 8;
// T22's lr 1e-3 (docs/models.md 12) needs a few hundred steps at this size (too slow for a unit test on 2 shared
// cores); 2e-2 overfits in tens of steps. Override with SEQLAB_T22_LR=1e-3 for that setting.
const LR = Number(process.env.SEQLAB_T22_LR ?? 2e-2);
const MAX_STEPS = 300;

beforeAll(async () => {
  await tf.setBackend('wasm');
});

function lossOf(m: ReturnType<typeof buildModel>, x: tf.Tensor2D, y: tf.Tensor2D): tf.Scalar {
  const { logits, auxLoss } = m.forward(x);
  const { sumLoss, count } = sparseCrossEntropy(logits.reshape([-1, V]), y.reshape([-1]));
  const loss = sumLoss.div(count);
  return (auxLoss ? loss.add(auxLoss) : loss) as tf.Scalar;
}

/** Inputs and next-token targets of one fixed batch of random sequences. */
function batch(): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const seq = tokens(B, T + 1, V, 42);
  const x = seq.slice([0, 0], [B, T]) as tf.Tensor2D;
  const y = seq.slice([0, 1], [B, T]) as tf.Tensor2D;
  seq.dispose();
  return { x, y };
}

function withForm(cfg: ResolvedModel, form: string): ResolvedModel {
  const c = JSON.parse(JSON.stringify(cfg)) as ResolvedModel;
  for (const L of c.layers) {
    const m = L.mixer as Record<string, unknown>;
    for (const x of (m.branches as Record<string, unknown>[] | undefined) ?? [m]) if ('form' in x) Object.assign(x, { form, chunk: 8 });
  }
  return c;
}

describe('T22 training smoke', () => {
  // Presets that resolve to the same tiny model (fusion-selret == selret; at 2 layers
  // fusion-hier == fusion-alt) are trained once.
  const seen = new Map<string, string>();
  for (const preset of PRESETS) {
    const key = JSON.stringify(tinyModel(preset, { vocab: V, seqLen: T, mixer: { chunk: 8 } }).layers);
    if (seen.has(key)) continue; // identical layers: the twin's test covers it
    seen.set(key, preset);
    it(`${preset} overfits a 256-token batch (loss < 0.1 x initial within ${MAX_STEPS} Adam steps, lr ${LR})`, () => {
      const cfg = tinyModel(preset, { vocab: V, seqLen: T, mixer: { chunk: 8 } }); // 2 layers (jamba 5: attention at 4)
      const m = buildModel(cfg, 7);
      const { x, y } = batch();
      const opt = tf.train.adam(LR);
      const vars = [...m.weights.values()];
      const l0 = tf.tidy(() => lossOf(m, x, y).dataSync()[0]);
      let loss = l0;
      let steps = 0;
      const t0 = Date.now();
      while (steps < MAX_STEPS && loss >= 0.1 * l0) {
        const l = opt.minimize(() => lossOf(m, x, y), true, vars)!;
        loss = l.dataSync()[0];
        l.dispose();
        steps++;
      }
      console.log(`T22 ${preset}: initial ${l0.toFixed(3)} final ${loss.toFixed(4)} after ${steps} steps, ${Date.now() - t0} ms`);
      expect(loss).toBeLessThan(0.1 * l0);
      opt.dispose();
      tf.dispose([x, y]);
      m.dispose();
    }, 60_000);
  }

  for (const preset of ['retnet', 'selret', 'fusion-par', 'fusion-route'] as const) {
    it(`${preset}: step-0 loss is the same for the parallel and chunkwise paths (1e-4 rel)`, () => {
      const cfg = tinyModel(preset, { vocab: V, seqLen: T, nLayers: 2 });
      const { x, y } = batch();
      const losses = (['parallel', 'chunk'] as const).map((form) => {
        const m = buildModel(withForm(cfg, form), 7);
        const l = tf.tidy(() => lossOf(m, x, y).dataSync()[0]);
        m.dispose();
        return l;
      });
      expect(Math.abs(losses[0] - losses[1]) / Math.abs(losses[1])).toBeLessThanOrEqual(1e-4);
      tf.dispose([x, y]);
    });
  }
});
