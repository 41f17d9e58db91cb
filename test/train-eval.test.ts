// train/eval.ts computes its metrics with tasks/metrics.ts (one implementation): checked on a stub
// model whose predictions and losses are known in closed form, and on an empty split.
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import type { LanguageModel } from '../src/models/types.ts';
import { IGNORE } from '../src/tasks/types.ts';
import { evaluateSplit, splitMetrics } from '../src/train/eval.ts';
import type { Batch, TrainData } from '../src/train/types.ts';

const V = 4;
const T = 3;
/** Always the same logits [0, 5, 0, 0]: argmax 1, nll(1) = lse - 5, nll(other) = lse. */
const stub = {
  forward: (x: tf.Tensor2D) => ({ logits: tf.tile(tf.tensor3d([[[0, 5, 0, 0]]]), [x.shape[0], x.shape[1], 1]) }),
} as unknown as LanguageModel;
const lse = Math.log(Math.exp(5) + 3);

function data(batches: Batch[]): TrainData {
  return {
    kind: 'lm',
    vocabSize: V,
    seqLen: T,
    trainBatch: () => batches[0]!,
    evalBatches: () => batches,
  };
}

describe('evaluateSplit / splitMetrics', () => {
  it('loss, ppl, bpb, accuracy and exact match of known predictions (IGNORE unscored, unscored rows not counted)', async () => {
    await tf.setBackend('cpu');
    const b: Batch = {
      // row 0: targets 1 1 IGNORE (all right); row 1: 1 2 3 (one right); row 2: all IGNORE (no row)
      inputs: new Int32Array(9),
      targets: new Int32Array([1, 1, IGNORE, 1, 2, 3, IGNORE, IGNORE, IGNORE]),
      batch: 3,
      seqLen: T,
      scoredBytes: 10,
    };
    const m = splitMetrics(evaluateSplit(stub, data([b]), 'valid', { batchSize: 3 }), 'lm');
    const nll = 3 * (lse - 5) + 2 * lse;
    expect(m.tokens).toBe(5);
    expect(m.windows).toBe(3);
    expect(m.loss).toBeCloseTo(nll / 5, 5);
    expect(m.ppl).toBeCloseTo(Math.exp(nll / 5), 4);
    expect(m.bpb).toBeCloseTo(nll / (10 * Math.LN2), 5);
    expect(m.accuracy).toBeCloseTo(3 / 5, 10);
    expect(m.exact_match).toBeCloseTo(1 / 2, 10);
  });

  it('an empty split has no metrics (NaN), not a perfect 0 loss', async () => {
    await tf.setBackend('cpu');
    const m = splitMetrics(evaluateSplit(stub, data([]), 'test', { batchSize: 2 }), 'lm');
    expect(m.tokens).toBe(0);
    for (const k of ['loss', 'ppl', 'accuracy', 'exact_match'] as const) expect(m[k], k).toBeNaN();
    expect(m.bpb).toBeUndefined();
  });
});
