/** Evaluation over a split: loss (nats/token), bits per byte, perplexity, accuracy, exact match. */
import * as tf from '@tensorflow/tfjs';
import type { LanguageModel } from '../models/types.ts';
import { IGNORE, nllSum } from './loss.ts';
import type { TrainData } from './types.ts';

export interface SplitTotals {
  split: 'valid' | 'test';
  nllSum: number; // nats over the scored tokens
  tokens: number; // scored tokens
  bytes: number; // scored UTF-8 bytes (lm)
  correct: number;
  examples: number;
  exact: number; // examples whose scored positions are all right
  windows: number;
}

export interface SplitMetrics {
  loss: number;
  ppl: number;
  bpb?: number;
  accuracy: number;
  exact_match: number;
  tokens: number;
  windows: number;
}

/** Run the model over the split's non-overlapping windows (state reset per window). */
export function evaluateSplit(
  model: LanguageModel,
  data: TrainData,
  split: 'valid' | 'test',
  opts: { batchSize: number; maxBatches?: number | 'all' },
): SplitTotals {
  const tot: SplitTotals = { split, nllSum: 0, tokens: 0, bytes: 0, correct: 0, examples: 0, exact: 0, windows: 0 };
  // A number of batches caps the task's own window set (task.eval_windows / eval_examples);
  // 'all' asks for every window of the split.
  const cap = typeof opts.maxBatches === 'number' ? opts.maxBatches * opts.batchSize : opts.maxBatches;
  const maxWindows = typeof cap === 'number' && data.evalSize ? Math.min(cap, data.evalSize(split)) : cap;
  for (const b of data.evalBatches(split, opts.batchSize, maxWindows)) {
    const [sum, pred] = tf.tidy(() => {
      const x = tf.tensor2d(b.inputs, [b.batch, b.seqLen], 'int32');
      const y = tf.tensor2d(b.targets, [b.batch, b.seqLen], 'int32');
      const { logits, auxLoss } = model.forward(x);
      auxLoss?.dispose();
      return [nllSum(logits, y), tf.argMax(logits, -1)];
    });
    tot.nllSum += sum.dataSync()[0];
    const predV = pred.dataSync();
    sum.dispose();
    pred.dispose();
    for (let i = 0; i < b.batch; i++) {
      let allRight = true;
      let scored = 0;
      for (let t = 0; t < b.seqLen; t++) {
        const k = i * b.seqLen + t;
        const target = b.targets[k];
        if (target === IGNORE) continue;
        scored++;
        if (predV[k] === target) tot.correct++;
        else allRight = false;
      }
      tot.tokens += scored;
      if (scored > 0) {
        tot.examples++;
        if (allRight) tot.exact++;
      }
    }
    tot.bytes += b.scoredBytes ?? 0;
    tot.windows += b.batch;
  }
  return tot;
}

export function splitMetrics(t: SplitTotals, kind: 'lm' | 'synthetic'): SplitMetrics {
  const loss = t.nllSum / Math.max(1, t.tokens);
  const out: SplitMetrics = {
    loss,
    ppl: Math.exp(loss),
    accuracy: t.correct / Math.max(1, t.tokens),
    exact_match: t.exact / Math.max(1, t.examples),
    tokens: t.tokens,
    windows: t.windows,
  };
  // tasks.md 5.6: bpb = sum(nll) / (n_bytes ln 2).
  if (kind === 'lm' && t.bytes > 0) out.bpb = t.nllSum / (t.bytes * Math.LN2);
  return out;
}
