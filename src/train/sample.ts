/**
 * Sampling from a trained model through its decode path: prefill the prompt, then one model.step
 * per token (KV cache / recurrent state), drawing with temperature and top-k from the one PRNG of
 * tasks/prng.ts (seeded, so a seed gives the same text).
 */
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../errors.ts';
import type { LanguageModel } from '../models/types.ts';
import { Rng } from '../tasks/prng.ts';

export interface SampleOptions {
  tokens: number;
  /** 0 = greedy (argmax). */
  temperature: number;
  /** Keep only the k most likely tokens (0 / undefined = all). */
  topK?: number;
  seed: number;
}

/** Draw a token from one row of logits (temperature, top-k) with uniform draw u. */
export function pickToken(logits: Float32Array, o: Pick<SampleOptions, 'temperature' | 'topK'>, u: number): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  if (!(o.temperature > 0)) return best;
  let ids = Array.from(logits.keys());
  if (o.topK && o.topK > 0 && o.topK < logits.length) ids = ids.sort((a, b) => logits[b] - logits[a]).slice(0, o.topK);
  const w = ids.map((i) => Math.exp((logits[i] - logits[best]) / o.temperature));
  const total = w.reduce((a, b) => a + b, 0);
  let acc = 0;
  for (let j = 0; j < ids.length; j++) {
    acc += w[j] / total;
    if (u < acc) return ids[j];
  }
  return ids[ids.length - 1];
}

/**
 * Prefill the prompt, then sample `tokens` ids one model.step at a time. `onLogits` sees the
 * logits each sampled token was drawn from (for tests and diagnostics).
 */
export function sampleIds(model: LanguageModel, prompt: Int32Array, o: SampleOptions, onLogits?: (l: Float32Array) => void): number[] {
  if (prompt.length === 0) throw new UserError('generate: the prompt encodes to no tokens; give a non-empty --prompt');
  const rng = new Rng(o.seed);
  const out: number[] = [];
  const x = tf.tensor2d(prompt, [1, prompt.length], 'int32');
  const pre = model.prefill(x);
  x.dispose();
  let state = pre.state;
  let logits = tf.tidy(() => pre.logits.slice([0, prompt.length - 1, 0], [1, 1, -1]).reshape([-1])).dataSync() as Float32Array;
  pre.logits.dispose();
  try {
    for (let i = 0; i < o.tokens; i++) {
      onLogits?.(logits);
      const id = pickToken(logits, o, rng.uniform());
      out.push(id);
      if (i === o.tokens - 1) break;
      const tok = tf.tensor1d([id], 'int32');
      const next = model.step(tok, state);
      tok.dispose();
      model.disposeState(state);
      state = next.state;
      logits = next.logits.dataSync() as Float32Array;
      next.logits.dispose();
    }
  } finally {
    model.disposeState(state);
  }
  return out;
}
