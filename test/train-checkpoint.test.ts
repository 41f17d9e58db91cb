/**
 * train.checkpoint_activations: recomputing each block in the backward pass gives the same loss
 * and the same gradient for every weight, for every family (the shared zamba block and the
 * routed layers' auxiliary loss included), and lowers the peak of live tensor bytes.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { sparseCrossEntropy } from '../src/backend/compat.ts';
import { withPeakBytes } from '../src/measure/measure.ts';
import { buildModel } from '../src/models/model.ts';
import { tinyModel, tokens } from './models-util.ts';

const V = 11;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Loss, every weight's gradient and the peak live bytes of one forward + backward. */
async function step(preset: string, checkpointActivations: boolean, B: number, T: number, nLayers?: number) {
  const tensorsBefore = tf.memory().numTensors;
  const m = buildModel(tinyModel(preset, { vocab: V, seqLen: T, nLayers }), 5);
  const ids = tokens(B, T, V, 1);
  const targets = tokens(B, T, V, 2);
  const base = tf.memory().numBytes;
  const p = await withPeakBytes(() =>
    tf.variableGrads(() => {
      const { logits, auxLoss } = m.forward(ids, { checkpointActivations });
      const { sumLoss, count } = sparseCrossEntropy(logits.reshape([-1, V]), targets.reshape([-1]));
      const lm = sumLoss.div(count) as tf.Scalar;
      return auxLoss ? (lm.add(auxLoss) as tf.Scalar) : lm;
    }, [...m.weights.values()]),
  );
  const loss = p.result.value.dataSync()[0];
  const byVar = new Map([...m.weights.entries()].map(([n, v]) => [v.name, n]));
  const grads = new Map<string, Float32Array>();
  for (const [vn, g] of Object.entries(p.result.grads)) grads.set(byVar.get(vn)!, g.dataSync() as Float32Array);
  tf.dispose([p.result.value, ...Object.values(p.result.grads), ids, targets]);
  const nWeights = m.weights.size;
  m.dispose();
  expect(tf.memory().numTensors, `${preset}: tensors leaked`).toBe(tensorsBefore);
  return { loss, grads, nWeights, peak: p.peakBytes - base };
}

describe('activation checkpointing', () => {
  for (const preset of ['transformer', 'retnet', 'mamba', 'mamba2', 'selret', 'zamba', 'fusion-par', 'fusion-route', 'jamba']) {
    it(`${preset}: same loss and gradients with and without`, async () => {
      const a = await step(preset, false, 2, 9);
      const b = await step(preset, true, 2, 9);
      expect(b.loss).toBeCloseTo(a.loss, 6);
      expect(b.grads.size).toBe(a.nWeights);
      for (const [name, g] of a.grads) {
        const h = b.grads.get(name)!;
        let mx = 0,
          dev = 0;
        for (let i = 0; i < g.length; i++) {
          mx = Math.max(mx, Math.abs(g[i]));
          dev = Math.max(dev, Math.abs(g[i] - h[i]));
        }
        expect(dev, `${preset} ${name}`).toBeLessThanOrEqual(1e-6 + 1e-5 * mx);
      }
    });
  }

  it('lowers peak tensor bytes (4 layers, every family)', async () => {
    for (const preset of ['transformer', 'retnet', 'mamba', 'selret']) {
      const a = await step(preset, false, 2, 32, 4);
      const b = await step(preset, true, 2, 32, 4);
      expect(b.peak, preset).toBeLessThan(0.75 * a.peak);
    }
  });
});
