// Parity (Grazzi et al. 2024, adankow/unlocking_state_tracking `parity.py`; docs/tasks.md 6.2):
// n-1 random bits and their parity; trained at short lengths, tested at longer ones.
import { z } from 'zod';
import type { Rng } from '../prng.ts';
import { IGNORE, type TaskData } from '../types.ts';
import type { Example } from '../synthetic.ts';
import { dataSeed, int, posInt } from './fields.ts';
import { lengthGeneralisationTask } from './state-tracking.ts';
import { defineTask, GENERATED } from './types.ts';

/** 0 PAD, 1 = bit 0, 2 = bit 1. */
export const PARITY_VOCAB = 3;

export interface ParityParams {
  /** Example length n: n-1 bits, then the answer 1 + parity. */
  n: number;
  /** Context T >= n; right padding with PAD. */
  T: number;
  /** 'final': only the answer at the last bit is scored; 'all': the running parity at every bit. */
  targets: 'final' | 'all';
}

export function parityExample(rng: Rng, p: ParityParams): Example {
  const inputs = new Int32Array(p.T);
  const targets = new Int32Array(p.T).fill(IGNORE);
  let ones = 0;
  for (let t = 0; t < p.n - 1; t++) {
    const bit = rng.randInt(2);
    ones += bit;
    inputs[t] = 1 + bit;
    if (p.targets === 'all') targets[t] = 1 + (ones % 2);
  }
  targets[p.n - 2] = 1 + (ones % 2); // predicted at the last bit: no end marker (docs/tasks.md 6.2)
  return { inputs, targets };
}

export const parityTaskSchema = z.strictObject({
  kind: z.literal('parity').describe('parity of a bit string, trained short and tested long (Grazzi et al. 2024; docs/tasks.md 6.2)'),
  train_min_len: posInt('shortest training example n (n-1 bits and the answer)').default(3),
  train_max_len: posInt('longest training example n').default(16),
  test_min_len: posInt('shortest example n of the valid/test sets').default(17),
  test_max_len: posInt('longest example n of the valid/test sets').default(64),
  seq_len: posInt('context T: examples are right-padded to T (at least the longest length)').default(64),
  targets: z
    .enum(['final', 'all'])
    .default('final')
    .describe('final: train on the parity at the last bit only; all: the running parity at every bit (evaluation scores the final one)'),
  eval_lengths: z
    .array(posInt('example length n'))
    .default([32, 64, 128])
    .describe('lengths n of the extra extrapolation eval sets (no padding: context n)'),
  train_examples: int('fixed training pool size; 0 = a fresh stream of examples every step').nonnegative().default(0),
  eval_examples: posInt('size of each fixed valid/test set').default(1000),
  data_seed: dataSeed,
});
export type ParityTask = z.infer<typeof parityTaskSchema>;

export function loadParity(t: ParityTask, cacheDir?: string): TaskData {
  const at = (lo: number, hi: number, T: number, targets: 'final' | 'all') => (rng: Rng) =>
    parityExample(rng, { n: lo + rng.randInt(hi - lo + 1), T, targets });
  return lengthGeneralisationTask({
    name: 'parity',
    vocabSize: PARITY_VOCAB,
    chance: 0.5,
    seqLen: t.seq_len,
    train: at(t.train_min_len, t.train_max_len, t.seq_len, t.targets),
    test: at(t.test_min_len, t.test_max_len, t.seq_len, 'final'),
    exact: (n) => at(n, n, n, 'final'),
    config: { train: [t.train_min_len, t.train_max_len], test: [t.test_min_len, t.test_max_len], T: t.seq_len, targets: t.targets },
    evalLengths: t.eval_lengths,
    task: t,
    describe: {
      targets: t.targets,
      train_lengths: [t.train_min_len, t.train_max_len],
      test_lengths: [t.test_min_len, t.test_max_len],
      scored_per_example: 1,
    },
    cacheDir,
  });
}

export const parity = defineTask({
  kind: 'parity',
  schema: parityTaskSchema,
  family: 'synthetic',
  metrics: ['loss', 'ppl', 'accuracy', 'exact_match', 'eval_tokens', 'eval_windows'],
  provenance: { source: 'generator after adankow/unlocking_state_tracking `parity.py` (Grazzi et al. 2024)', licence: GENERATED },
  validate(task, fail) {
    if (task.train_min_len < 2)
      fail('train_min_len', `an example needs at least one bit and the answer (n ≥ 2; got ${task.train_min_len})`);
    if (task.train_min_len > task.train_max_len)
      fail('train_min_len', `needs train_min_len ≤ train_max_len (got ${task.train_min_len} > ${task.train_max_len})`);
    if (task.test_min_len < 2) fail('test_min_len', `an example needs at least one bit and the answer (n ≥ 2; got ${task.test_min_len})`);
    if (task.test_min_len > task.test_max_len)
      fail('test_min_len', `needs test_min_len ≤ test_max_len (got ${task.test_min_len} > ${task.test_max_len})`);
    for (const key of ['train_max_len', 'test_max_len'] as const)
      if (task[key] > task.seq_len) fail(key, `${task[key]} does not fit the context seq_len=${task.seq_len}`);
    for (const n of task.eval_lengths) if (n < 2) fail('eval_lengths', `every length must be ≥ 2 (got ${n})`);
  },
  seqLen: (task) => task.seq_len,
  extraEvalLengths: (task) => task.eval_lengths,
  vocabSize: () => PARITY_VOCAB,
  load: (task, opts) => loadParity(task, opts.cacheDir),
});
