/** Evaluation over a split: loss (nats/token), bits per byte, perplexity, accuracy, exact match. */
import * as tf from '@tensorflow/tfjs';
import type { LanguageModel } from '../models/types.ts';
import { accuracy, accuracyCounts, addCounts, bitsPerByte, exactMatch, tokenPerplexity, type AccuracyCounts } from '../tasks/metrics.ts';
import { nllSum } from './loss.ts';
import type { TrainData } from './types.ts';

export interface SplitTotals {
  split: 'valid' | 'test';
  nllSum: number; // nats over the scored tokens
  bytes: number; // scored UTF-8 bytes (lm)
  /** Argmax hits over the scored positions (counts.scored = scored tokens) and rows. */
  counts: AccuracyCounts;
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
  const tot: SplitTotals = { split, nllSum: 0, bytes: 0, counts: { correct: 0, scored: 0, rows: 0, rowsExact: 0 }, windows: 0 };
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
    tot.counts = addCounts(tot.counts, accuracyCounts(predV, b.targets, b.batch, b.seqLen));
    tot.bytes += b.scoredBytes ?? 0;
    tot.windows += b.batch;
  }
  return tot;
}

/** The docs/tasks.md 0.1 / 5.6 metrics of a split (tasks/metrics.ts); an empty split gives NaN, not 0. */
export function splitMetrics(t: SplitTotals, kind: 'lm' | 'synthetic'): SplitMetrics {
  const tokens = t.counts.scored;
  const out: SplitMetrics = {
    loss: tokens ? t.nllSum / tokens : NaN,
    ppl: tokens ? tokenPerplexity(t.nllSum, tokens) : NaN,
    accuracy: accuracy(t.counts),
    exact_match: exactMatch(t.counts),
    tokens,
    windows: t.windows,
  };
  if (kind === 'lm' && t.bytes > 0) out.bpb = bitsPerByte(t.nllSum, t.bytes);
  return out;
}
